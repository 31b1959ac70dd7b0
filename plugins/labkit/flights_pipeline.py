"""The flights CSV -> Parquet pipeline Glue labs 2 and 3 orchestrate (the job and crawlers of lab 1).

Arguments are (templated) names, so a DAG passes its `{{ names... }}` strings and the result
renders when the task runs. Lab 2 runs the job from triggers, lab 3 from a workflow; both
stage the same data, run glue_jobs/flights_csv_to_parquet.py and crawl the raw CSV and the
Parquet output into tables raw_flights and curated_flights.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from labkit import paths

RAW_PREFIX = "raw/flights/"
CURATED_PREFIX = "curated/flights/"
BAD_RECORDS_PREFIX = "bad_records/flights/"
SCRIPT_KEY = "scripts/flights_csv_to_parquet.py"
ETL_PACKAGE_KEY = "scripts/etl.zip"
SCRIPT_FILE = paths.GLUE_JOBS_DIR / "flights_csv_to_parquet.py"
ETL_PACKAGE_DIR = paths.GLUE_JOBS_DIR / "etl"
GLUE_SERVICE_POLICY = "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"


def glue_role_policy(bucket: str) -> dict[str, Any]:
    """Inline policy of the Glue role: read and write the lab's data bucket."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def job_definition(bucket: str) -> dict[str, Any]:
    """create_job_kwargs of the CSV -> Parquet job: Glue 5.0, the etl package, a temp dir."""
    return {
        "GlueVersion": "5.0",
        "WorkerType": "G.1X",
        "NumberOfWorkers": 2,
        "Timeout": 30,
        "DefaultArguments": {
            "--extra-py-files": f"s3://{bucket}/{ETL_PACKAGE_KEY}",
            "--TempDir": f"s3://{bucket}/tmp/",
            "--job-language": "python",
        },
    }


def job_arguments(bucket: str) -> dict[str, str]:
    """The run arguments (a trigger action's Arguments): where to read, write and quarantine."""
    return {
        "--source_path": f"s3://{bucket}/{RAW_PREFIX}",
        "--target_path": f"s3://{bucket}/{CURATED_PREFIX}",
        "--bad_records_path": f"s3://{bucket}/{BAD_RECORDS_PREFIX}",
    }


def crawler_config(name: str, role_arn: str, database: str, table_prefix: str, path: str) -> dict[str, Any]:
    """A crawler of one S3 prefix that keeps the catalog in step with the data (deletes vanished tables)."""
    return {
        "Name": name,
        "Role": role_arn,
        "DatabaseName": database,
        "TablePrefix": table_prefix,
        "Targets": {"S3Targets": [{"Path": path}]},
        "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"},
    }


def job_succeeded(job_name: str) -> dict[str, Any]:
    """A conditional trigger's predicate: the job's run SUCCEEDED."""
    return {"Logical": "AND", "Conditions": [{"LogicalOperator": "EQUALS", "JobName": job_name, "State": "SUCCEEDED"}]}


def crawl_succeeded(crawler_name: str) -> dict[str, Any]:
    """A conditional trigger's predicate: the crawler's crawl SUCCEEDED."""
    return {
        "Logical": "AND",
        "Conditions": [{"LogicalOperator": "EQUALS", "CrawlerName": crawler_name, "CrawlState": "SUCCEEDED"}],
    }


@task
def stage_flights_csv(bucket: str, params: dict) -> dict:
    """Export the flights CSV (or `params.rows` flights sampled from it) and upload it as the raw data."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from labkit import datasets

    rows = params["rows"]
    if rows:
        path = datasets.generate_flights_csv(paths.DATA_DIR / f"flights_{rows}.csv", rows)
    else:
        path, rows = datasets.export_flights_csv(paths.DATA_DIR / "flights.csv"), datasets.FLIGHTS_ROWS
    key = f"{RAW_PREFIX}flights.csv"
    S3Hook().load_file(str(path), key=key, bucket_name=bucket, replace=True)
    return {"uri": f"s3://{bucket}/{key}", "rows": rows}

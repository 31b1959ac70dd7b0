"""The flights CSV -> Parquet pipeline of Glue labs 1 to 3: lab 1 runs it, lab 2 from triggers, lab 3 from a workflow.

Arguments are (templated) names, so a DAG passes its `{{ names... }}` strings and the result
renders when the task runs. All three stage the same data, run glue_jobs/flights_csv_to_parquet.py
and crawl the raw CSV and the Parquet output into tables raw_flights and curated_flights.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.sdk import Param, task

from labkit import glue_lab, paths

RAW_PREFIX = "raw/flights/"
CURATED_PREFIX = "curated/flights/"
BAD_RECORDS_PREFIX = "bad_records/flights/"
SCRIPT_FILE = paths.GLUE_JOBS_DIR / "flights_csv_to_parquet.py"


def rows_param() -> Param:
    """The `rows` param: the real flights, or a seeded sample of N for a quick run."""
    return Param(
        0,
        type="integer",
        minimum=0,
        description="0: the real nycflights13 flights; N: N flights sampled from them (seeded)",
    )


def profile(table: str, results_prefix: str) -> AthenaOperator:
    """Athena profile (rows, aggregates, partitions) of the `raw` or `curated` flights table: task profile_<table>."""
    return AthenaOperator(
        task_id=f"profile_{table}",
        query="glue_lab1/flights_profile.sql",
        params={"table": f"{table}_flights"},
        database=glue_lab.DATABASE,
        output_location=f"s3://{glue_lab.RESULTS}/{results_prefix}/",
        sleep_time=1,
    )


def job_arguments(bucket: str) -> dict[str, str]:
    """The run arguments (a trigger action's Arguments): where to read, write and quarantine."""
    return {
        "--source_path": f"s3://{bucket}/{RAW_PREFIX}",
        "--target_path": f"s3://{bucket}/{CURATED_PREFIX}",
        "--bad_records_path": f"s3://{bucket}/{BAD_RECORDS_PREFIX}",
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

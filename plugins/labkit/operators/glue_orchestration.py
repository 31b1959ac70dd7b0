"""Glue triggers and workflows: the operators and sensors the Amazon provider lacks.

Provider conventions: AwsBaseOperator/AwsBaseSensor over the provider's Glue hooks, templated
fields, aws_conn_id/region_name. Create operators are create-or-update, so reruns are idempotent;
delete operators treat a missing object as deleted.

- GlueCreateOrUpdateJobOperator / GlueCreateOrUpdateCrawlerOperator: define a job or crawler
  without running it (GlueJobOperator and GlueCrawlerOperator always run), for triggers to run.
- GlueCreateOrUpdateTriggerOperator, GlueStartTriggerOperator, GlueDeleteTriggerOperator.
- GlueCreateOrUpdateWorkflowOperator, GlueStartWorkflowRunOperator, GlueDeleteWorkflowOperator.
- GlueWorkflowRunSensor: waits for a workflow run, fails naming the failed nodes.
- GlueTriggeredJobRunSensor: finds and waits for the job run a trigger started (GetJobRuns, TriggerName).
- GlueTriggeredCrawlSensor: waits for a crawl that started after a given moment (e.g. by a trigger).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.glue import GlueJobHook
from airflow.providers.amazon.aws.hooks.glue_crawler import GlueCrawlerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException

JOB_RUNNING_STATES = ("STARTING", "RUNNING", "STOPPING", "WAITING")
WORKFLOW_RUNNING_STATES = ("RUNNING", "STOPPING")
FAILED_JOB_STATES = ("FAILED", "TIMEOUT", "STOPPED", "ERROR")
FAILED_CRAWL_STATES = ("FAILED", "CANCELLED", "ERROR")
FAILED_ACTION_COUNTS = ("FailedActions", "TimeoutActions", "StoppedActions", "ErroredActions")


def _moment(value: datetime | str | None) -> datetime | None:
    """A timezone-aware datetime from a datetime or an ISO string (what templates render)."""
    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _server_time(response: dict) -> datetime:
    """When AWS answered (the response's Date header, whole seconds), so later runs compare on AWS's clock."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    return parsedate_to_datetime(date) if date else datetime.now(UTC).replace(microsecond=0)


class _GlueOperator(AwsBaseOperator[GlueJobHook]):
    aws_hook_class = GlueJobHook
    ui_color = "#ededed"


# ---- jobs and crawlers, defined without running them ----------------------------------------


class GlueCreateOrUpdateJobOperator(_GlueOperator):
    """Create a Glue job, or update it to this definition, without running it; returns the job name.

    Same parameters as GlueJobOperator's job definition (script_location, iam_role_arn,
    create_job_kwargs with GlueVersion, WorkerType, DefaultArguments, ...).
    """

    template_fields: Sequence[str] = aws_template_fields(
        "job_name", "job_desc", "script_location", "iam_role_arn", "create_job_kwargs"
    )
    template_fields_renderers = {"create_job_kwargs": "json"}

    def __init__(self, *, job_name: str, script_location: str, iam_role_arn: str, job_desc: str = "",
                 create_job_kwargs: dict | None = None, concurrent_run_limit: int = 1, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.job_name = job_name
        self.job_desc = job_desc
        self.script_location = script_location
        self.iam_role_arn = iam_role_arn
        self.create_job_kwargs = create_job_kwargs or {}
        self.concurrent_run_limit = concurrent_run_limit

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {
            **super()._hook_parameters,
            "job_name": self.job_name,
            "desc": self.job_desc,
            "script_location": self.script_location,
            "iam_role_arn": self.iam_role_arn,
            "create_job_kwargs": dict(self.create_job_kwargs),
            "concurrent_run_limit": self.concurrent_run_limit,
        }

    def execute(self, context) -> str:
        name = self.hook.create_or_update_glue_job()
        self.log.info("Glue job %s is defined (script %s)", name, self.script_location)
        return name


class GlueCreateOrUpdateCrawlerOperator(AwsBaseOperator[GlueCrawlerHook]):
    """Create a crawler, or update it to `config`, without running it; returns the crawler name."""

    aws_hook_class = GlueCrawlerHook
    template_fields: Sequence[str] = aws_template_fields("config")
    template_fields_renderers = {"config": "json"}

    def __init__(self, *, config: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.config = config

    def execute(self, context) -> str:
        name = self.config["Name"]
        if self.hook.has_crawler(name):
            self.hook.update_crawler(**dict(self.config))
        else:
            self.hook.create_crawler(**dict(self.config))
        self.log.info("Glue crawler %s is defined", name)
        return name


# ---- triggers --------------------------------------------------------------------------------


class GlueCreateOrUpdateTriggerOperator(_GlueOperator):
    """Create a trigger, or update its actions, predicate, schedule and description; returns its name.

    :param trigger_type: ON_DEMAND, SCHEDULED (needs `schedule`, e.g. "cron(0 6 * * ? *)") or
        CONDITIONAL (needs `predicate`, e.g. {"Logical": "AND", "Conditions": [{"LogicalOperator":
        "EQUALS", "JobName": "j", "State": "SUCCEEDED"}]}).
    :param actions: [{"JobName": ..., "Arguments": {...}}, {"CrawlerName": ...}]
    :param workflow_name: make it part of this workflow.
    :param start_on_creation: activate a SCHEDULED or CONDITIONAL trigger (also when it exists).
    """

    template_fields: Sequence[str] = aws_template_fields(
        "trigger_name", "actions", "predicate", "schedule", "workflow_name", "description"
    )
    template_fields_renderers = {"actions": "json", "predicate": "json"}

    def __init__(self, *, trigger_name: str, trigger_type: str, actions: list[dict[str, Any]],
                 predicate: dict[str, Any] | None = None, schedule: str | None = None,
                 workflow_name: str | None = None, description: str | None = None,
                 start_on_creation: bool = False, tags: dict[str, str] | None = None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.trigger_name = trigger_name
        self.trigger_type = trigger_type
        self.actions = actions
        self.predicate = predicate
        self.schedule = schedule
        self.workflow_name = workflow_name
        self.description = description
        self.start_on_creation = start_on_creation
        self.tags = tags

    def _definition(self) -> dict[str, Any]:
        fields = {
            "Actions": self.actions,
            "Predicate": self.predicate,
            "Schedule": self.schedule,
            "Description": self.description,
        }
        return {key: value for key, value in fields.items() if value}

    def execute(self, context) -> str:
        glue = self.hook.conn
        try:
            current = glue.get_trigger(Name=self.trigger_name)["Trigger"]
        except glue.exceptions.EntityNotFoundException:
            current = None
        if current is None:
            extra = {"WorkflowName": self.workflow_name, "Tags": self.tags}
            glue.create_trigger(
                Name=self.trigger_name,
                Type=self.trigger_type,
                StartOnCreation=self.start_on_creation,
                **self._definition(),
                **{key: value for key, value in extra.items() if value},
            )
            self.log.info("Created %s trigger %s", self.trigger_type, self.trigger_name)
            return self.trigger_name
        if (current["Type"], current.get("WorkflowName")) != (self.trigger_type, self.workflow_name or None):
            raise AirflowFailException(
                f"Glue trigger {self.trigger_name} exists as a {current['Type']} trigger"
                f"{' of workflow ' + current['WorkflowName'] if current.get('WorkflowName') else ''}; Glue cannot "
                f"change a trigger's Type or WorkflowName: delete it (GlueDeleteTriggerOperator) or use another name"
            )
        glue.update_trigger(Name=self.trigger_name, TriggerUpdate=self._definition())
        self.log.info("Updated trigger %s", self.trigger_name)
        if self.start_on_creation and current["State"] != "ACTIVATED":
            glue.start_trigger(Name=self.trigger_name)
            self.log.info("Activated trigger %s", self.trigger_name)
        return self.trigger_name


class GlueStartTriggerOperator(_GlueOperator):
    """StartTrigger: fires an ON_DEMAND trigger, activates a SCHEDULED or CONDITIONAL one.

    Returns {"TriggerName": ..., "StartedAt": ISO time on AWS's clock}, for sensors that wait for
    what the trigger started (`started_after`).
    """

    template_fields: Sequence[str] = aws_template_fields("trigger_name")

    def __init__(self, *, trigger_name: str, **kwargs):
        super().__init__(**kwargs)
        self.trigger_name = trigger_name

    def execute(self, context) -> dict[str, str]:
        response = self.hook.conn.start_trigger(Name=self.trigger_name)
        started_at = _server_time(response)
        self.log.info("Started trigger %s at %s", self.trigger_name, started_at.isoformat())
        return {"TriggerName": self.trigger_name, "StartedAt": started_at.isoformat()}


class GlueDeleteTriggerOperator(_GlueOperator):
    """Delete a trigger; a missing trigger is not an error."""

    template_fields: Sequence[str] = aws_template_fields("trigger_name")

    def __init__(self, *, trigger_name: str, **kwargs):
        super().__init__(**kwargs)
        self.trigger_name = trigger_name

    def execute(self, context) -> None:
        glue = self.hook.conn
        try:
            glue.delete_trigger(Name=self.trigger_name)
            self.log.info("Deleted trigger %s", self.trigger_name)
        except glue.exceptions.EntityNotFoundException:
            self.log.info("Trigger %s does not exist; nothing to delete", self.trigger_name)


# ---- workflows -------------------------------------------------------------------------------


class GlueCreateOrUpdateWorkflowOperator(_GlueOperator):
    """Create a workflow, or update its description, default run properties and concurrency; returns its name.

    Its graph is made of the triggers created with `workflow_name` (GlueCreateOrUpdateTriggerOperator).
    """

    template_fields: Sequence[str] = aws_template_fields("workflow_name", "description", "default_run_properties")
    template_fields_renderers = {"default_run_properties": "json"}

    def __init__(self, *, workflow_name: str, description: str | None = None,
                 default_run_properties: dict[str, str] | None = None, max_concurrent_runs: int | None = None,
                 tags: dict[str, str] | None = None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.workflow_name = workflow_name
        self.description = description
        self.default_run_properties = default_run_properties
        self.max_concurrent_runs = max_concurrent_runs
        self.tags = tags

    def execute(self, context) -> str:
        glue = self.hook.conn
        fields = {
            "Description": self.description,
            "DefaultRunProperties": self.default_run_properties,
            "MaxConcurrentRuns": self.max_concurrent_runs,
        }
        fields = {key: value for key, value in fields.items() if value is not None}
        try:
            glue.get_workflow(Name=self.workflow_name)
        except glue.exceptions.EntityNotFoundException:
            glue.create_workflow(Name=self.workflow_name, **fields, **({"Tags": self.tags} if self.tags else {}))
            self.log.info("Created workflow %s", self.workflow_name)
            return self.workflow_name
        glue.update_workflow(Name=self.workflow_name, **fields)
        self.log.info("Updated workflow %s", self.workflow_name)
        return self.workflow_name


class GlueStartWorkflowRunOperator(_GlueOperator):
    """StartWorkflowRun; returns the run id (wait for it with GlueWorkflowRunSensor)."""

    template_fields: Sequence[str] = aws_template_fields("workflow_name", "run_properties")
    template_fields_renderers = {"run_properties": "json"}

    def __init__(self, *, workflow_name: str, run_properties: dict[str, str] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.workflow_name = workflow_name
        self.run_properties = run_properties

    def execute(self, context) -> str:
        extra = {"RunProperties": self.run_properties} if self.run_properties else {}
        run_id = self.hook.conn.start_workflow_run(Name=self.workflow_name, **extra)["RunId"]
        self.log.info("Started run %s of workflow %s", run_id, self.workflow_name)
        return run_id


class GlueDeleteWorkflowOperator(_GlueOperator):
    """Delete a workflow (its triggers, jobs and crawlers stay: delete them on their own)."""

    template_fields: Sequence[str] = aws_template_fields("workflow_name")

    def __init__(self, *, workflow_name: str, **kwargs):
        super().__init__(**kwargs)
        self.workflow_name = workflow_name

    def execute(self, context) -> None:
        glue = self.hook.conn
        try:
            glue.delete_workflow(Name=self.workflow_name)
            self.log.info("Deleted workflow %s", self.workflow_name)
        except glue.exceptions.EntityNotFoundException:
            self.log.info("Workflow %s does not exist; nothing to delete", self.workflow_name)


# ---- sensors ---------------------------------------------------------------------------------


class _GlueSensor(AwsBaseSensor[GlueJobHook]):
    aws_hook_class = GlueJobHook
    ui_color = "#ededed"


def failed_nodes(graph: dict[str, Any]) -> list[str]:
    """'job j: run jr_1 FAILED: ValueError: ...' for every job run and crawl of the graph that did not succeed."""
    found = []
    for node in graph.get("Nodes", []):
        for run in node.get("JobDetails", {}).get("JobRuns", []):
            if run["JobRunState"] in FAILED_JOB_STATES:
                found.append(f"job {node['Name']}: run {run['Id']} {run['JobRunState']}: {run.get('ErrorMessage', '')}")
        for crawl in node.get("CrawlerDetails", {}).get("Crawls", []):
            if crawl["State"] in FAILED_CRAWL_STATES:
                found.append(f"crawler {node['Name']}: crawl {crawl['State']}: {crawl.get('ErrorMessage', '')}")
    return found


class GlueWorkflowRunSensor(_GlueSensor):
    """Wait for a workflow run to end; returns its Statistics.

    Fails when the run ends ERROR or STOPPED, or (fail_on_failed_actions, the default) COMPLETED
    with failed, timed-out, stopped or errored actions; the error names those nodes and their errors.
    """

    template_fields: Sequence[str] = aws_template_fields("workflow_name", "run_id")

    def __init__(self, *, workflow_name: str, run_id: str, fail_on_failed_actions: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.workflow_name = workflow_name
        self.run_id = run_id
        self.fail_on_failed_actions = fail_on_failed_actions

    def poke(self, context) -> bool | PokeReturnValue:
        run = self.hook.conn.get_workflow_run(Name=self.workflow_name, RunId=self.run_id, IncludeGraph=True)["Run"]
        status, statistics = run["Status"], run.get("Statistics", {})
        self.log.info("Workflow %s run %s: %s, actions %s", self.workflow_name, self.run_id, status, statistics)
        if status in WORKFLOW_RUNNING_STATES:
            return False
        failures = failed_nodes(run.get("Graph", {}))
        failed_actions = any(statistics.get(count) for count in FAILED_ACTION_COUNTS)
        if status != "COMPLETED" or (self.fail_on_failed_actions and failed_actions):
            reasons = [run["ErrorMessage"]] if run.get("ErrorMessage") else []
            raise AirflowFailException(
                f"Glue workflow {self.workflow_name} run {self.run_id} ended {status} "
                f"with {statistics}: " + "; ".join(reasons + failures or ["no failed node reported"])
            )
        return PokeReturnValue(is_done=True, xcom_value=statistics)


class GlueTriggeredJobRunSensor(_GlueSensor):
    """Wait for the job run a trigger started: the newest run of `job_name` with this TriggerName
    that started at or after `started_after` (GlueStartTriggerOperator's StartedAt). Returns
    {"JobRunId", "JobRunState", "TriggerName", "ExecutionTime"}; fails if the run does not succeed.
    """

    template_fields: Sequence[str] = aws_template_fields("job_name", "trigger_name", "started_after")

    def __init__(self, *, job_name: str, trigger_name: str, started_after: datetime | str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.job_name = job_name
        self.trigger_name = trigger_name
        self.started_after = started_after

    def poke(self, context) -> bool | PokeReturnValue:
        since = _moment(self.started_after)
        runs = [
            run
            for page in self.hook.conn.get_paginator("get_job_runs").paginate(JobName=self.job_name)
            for run in page["JobRuns"]
            if run.get("TriggerName") == self.trigger_name and (since is None or run["StartedOn"] >= since)
        ]
        if not runs:
            self.log.info("No run of job %s started by trigger %s yet", self.job_name, self.trigger_name)
            return False
        run = max(runs, key=lambda r: r["StartedOn"])
        state = run["JobRunState"]
        self.log.info("Job %s run %s (trigger %s): %s", self.job_name, run["Id"], self.trigger_name, state)
        if state in JOB_RUNNING_STATES:
            return False
        if state != "SUCCEEDED":
            raise AirflowFailException(
                f"Glue job {self.job_name} run {run['Id']}, started by trigger {self.trigger_name}, ended {state}: "
                f"{run.get('ErrorMessage', 'no error message')}"
            )
        return PokeReturnValue(
            is_done=True,
            xcom_value={
                "JobRunId": run["Id"],
                "JobRunState": state,
                "TriggerName": run["TriggerName"],
                "ExecutionTime": run.get("ExecutionTime", 0),
            },
        )


class GlueTriggeredCrawlSensor(AwsBaseSensor[GlueCrawlerHook]):
    """Wait for a crawl of `crawler_name` that started at or after `started_after` (e.g. one a
    conditional trigger starts) to end; fails unless it SUCCEEDED. Returns the LastCrawl.

    The provider's GlueCrawlerSensor cannot tell a new crawl from an earlier one: it succeeds on
    a crawler that is READY after an earlier successful crawl, before the trigger started it.
    """

    aws_hook_class = GlueCrawlerHook
    template_fields: Sequence[str] = aws_template_fields("crawler_name", "started_after")

    def __init__(self, *, crawler_name: str, started_after: datetime | str, **kwargs):
        super().__init__(**kwargs)
        self.crawler_name = crawler_name
        self.started_after = started_after

    def poke(self, context) -> bool | PokeReturnValue:
        crawler = self.hook.get_crawler(self.crawler_name)
        last = crawler.get("LastCrawl")
        if crawler["State"] != "READY" or not last or last["StartTime"] < _moment(self.started_after):
            self.log.info(
                "Crawler %s is %s; waiting for a crawl after %s",
                self.crawler_name,
                crawler["State"],
                self.started_after,
            )
            return False
        if last["Status"] != "SUCCEEDED":
            raise AirflowFailException(
                f"Crawl of crawler {self.crawler_name} ended {last['Status']}: {last.get('ErrorMessage', 'no error message')}"
            )
        self.log.info("Crawler %s crawled (started %s)", self.crawler_name, last["StartTime"])
        return PokeReturnValue(
            is_done=True, xcom_value={"Status": last["Status"], "StartTime": last["StartTime"].isoformat()}
        )

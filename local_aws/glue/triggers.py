"""Glue triggers and workflows that really fire.

moto 5.2.5 stores triggers and workflows but never fires them: StartTrigger only flips State,
StartWorkflowRun records a run that stays RUNNING. `patches` changes moto so that
- ON_DEMAND: StartTrigger starts the trigger's actions (job runs with the action's Arguments,
  Timeout, ...; crawls); the trigger stays CREATED, as on AWS;
- SCHEDULED: while ACTIVATED (StartOnCreation or StartTrigger; StopTrigger deactivates) a
  scheduler thread fires it in every UTC minute its cron(...) expression matches (cron.py);
- CONDITIONAL: while ACTIVATED it fires when its Predicate is met by job runs and crawls that
  finish (events.py). As on AWS, only runs that a trigger started count, and runs inside a
  workflow run count only for that workflow run's own triggers;
- StartWorkflowRun fires the workflow's start trigger(s); the workflow's conditional triggers then
  react to that run's jobs and crawls only, each firing at most once per run. Jobs get
  --WORKFLOW_NAME and --WORKFLOW_RUN_ID. The run ends COMPLETED (ERROR when an action could not
  start, STOPPED after StopWorkflowRun) once nothing it started is still running; GetWorkflowRun
  reports Statistics and, with IncludeGraph, the Graph with each node's job runs and crawls;
- CreateTrigger/UpdateTrigger (UpdateTrigger is new) check what AWS checks and name the fix; a
  CreateTrigger of an existing name succeeds with the same definition and is refused with another;
  GetJobRun(s) report TriggerName and PredecessorRuns.
State lives on moto's objects (FakeTrigger, FakeWorkflowRun, FakeJobRun, the crawl), so
/moto-api/reset forgets it. Differences from AWS: docs/local-aws/glue-triggers-workflows.md.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.glue import models as moto_glue_models
from moto.glue import responses as moto_glue_responses
from moto.glue.exceptions import (
    ConcurrentRunsExceededException,
    EntityNotFoundException,
    GlueClientError,
    InvalidInputException,
)
from moto.glue.models import FakeJobRun, FakeTrigger, FakeWorkflow, FakeWorkflowRun, GlueBackend, glue_backends
from moto.glue.responses import GlueResponse
from moto.glue.utils import Action, Predicate

from local_aws import workers
from local_aws.clock import utcnow_naive as utcnow
from local_aws.glue import cron, events, scheduler
from local_aws.patching import Patches

log = logging.getLogger(__name__)

TRIGGER_TYPES = ("SCHEDULED", "CONDITIONAL", "ON_DEMAND", "EVENT")
# A finished action's state -> the WorkflowRunStatistics field that counts it.
STATISTICS_FIELD = {
    "SUCCEEDED": "SucceededActions",
    "FAILED": "FailedActions",
    "TIMEOUT": "TimeoutActions",
    "STOPPED": "StoppedActions",
    "CANCELLED": "StoppedActions",
    "ERROR": "ErroredActions",
}
STATISTICS = ("TotalActions", "TimeoutActions", "FailedActions", "StoppedActions", "SucceededActions",
              "RunningActions", "ErroredActions", "WaitingActions")  # fmt: skip
CRAWL_STATE = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED", "STOPPED": "CANCELLED", "RUNNING": "RUNNING"}

# Serialises firing (start actions, then tag them) with event handling, so an event is never
# handled before the run it concerns has been tagged with the trigger and workflow run.
_lock = threading.RLock()
# After jobs and crawler_requests: the registry then shuts triggers down before them, so nothing
# fires while the job runner and the crawls wind down.
patches = Patches(__name__, after=("local_aws.glue.jobs", "local_aws.glue.crawler_requests"))


@dataclass
class ActionRun:
    """One job run or crawl a trigger of a workflow run started."""

    kind: str  # JOB | CRAWLER
    name: str
    trigger: str
    run: Any  # FakeJobRun or the crawl
    final_state: str | None = None  # set when its RunFinished event has been handled


@dataclass
class WorkflowRunState:
    """What local AWS knows about a workflow run; kept on moto's FakeWorkflowRun as `.local`."""

    workflow: FakeWorkflow
    backend: GlueBackend
    actions: list[ActionRun] = field(default_factory=list)
    seen: dict[tuple[str, str], tuple[str, Any]] = field(default_factory=dict)  # latest outcome per job/crawler
    fired: set[str] = field(default_factory=set)
    error_message: str | None = None
    stop_requested: bool = False


# ---------------------------------------------------------------------------------------------
# Triggers: create, update, start, stop
# ---------------------------------------------------------------------------------------------


class _Predicate(Predicate):
    """moto's Predicate, with AWS's default: Logical may be left out when there is one condition."""

    def __init__(self, inputs: dict[str, Any]):
        if not inputs.get("Logical"):
            if len(inputs.get("Conditions") or []) > 1:
                raise InvalidInputException(
                    "CreateTrigger", "Predicate.Logical (AND or ANY) is required with several Conditions"
                )
            inputs = {**inputs, "Logical": "AND"}
        super().__init__(inputs)


# GlueResponse.create_trigger builds predicates with this name.
patches.replace(moto_glue_responses, "Predicate", _Predicate)


def _validate(backend: GlueBackend, name: str, trigger_type: str, schedule: str | None,
              predicate: Predicate | None, actions: list[Action], workflow_name: str | None) -> None:  # fmt: skip
    if trigger_type not in TRIGGER_TYPES:
        raise InvalidInputException("CreateTrigger", f"Trigger {name}: Type must be one of {', '.join(TRIGGER_TYPES)}")
    if trigger_type == "SCHEDULED":
        try:
            cron.check(schedule or "", f"Trigger {name}")
        except cron.CronError as error:
            raise InvalidInputException("CreateTrigger", str(error)) from None
    if not actions:
        raise InvalidInputException(
            "CreateTrigger", f"Trigger {name} needs at least one action (JobName or CrawlerName)"
        )
    for action in actions:
        if not (action.job_name or action.crawler_name):
            raise InvalidInputException(
                "CreateTrigger", f"An action of trigger {name} has neither JobName nor CrawlerName"
            )
    if trigger_type == "CONDITIONAL" and predicate is not None:
        watched = {c.job_name for c in predicate.conditions if c.job_name}
        both = watched & {a.job_name for a in actions if a.job_name}
        if both:
            raise InvalidInputException(
                "CreateTrigger", f"Trigger {name}: job {sorted(both)[0]} cannot be both in the Predicate and an Action"
            )
    if workflow_name and workflow_name not in backend.workflows:
        raise EntityNotFoundException(
            f"Workflow {workflow_name} of trigger {name} does not exist; create it first (CreateWorkflow)"
        )


@patches.wrap(GlueBackend, "create_trigger")
def _create_trigger(original, backend: GlueBackend, name: str, workflow_name: str, trigger_type: str, schedule: str,
                    predicate: Predicate | None, actions: list[Action], description: str,
                    start_on_creation: bool, **kwargs) -> None:  # fmt: skip
    _validate(backend, name, trigger_type, schedule, predicate, actions, workflow_name)
    if trigger_type == "ON_DEMAND" and start_on_creation:
        raise InvalidInputException(
            "CreateTrigger",
            f"Trigger {name}: StartOnCreation is not supported for ON_DEMAND triggers; fire it with StartTrigger",
        )
    original(backend, name=name, workflow_name=workflow_name, trigger_type=trigger_type, schedule=schedule,
             predicate=predicate, actions=actions, description=description, start_on_creation=start_on_creation,
             **kwargs)  # fmt: skip


# CreateTrigger fields that define a trigger (Tags and StartOnCreation do not).
DEFINITION = ("WorkflowName", "Type", "Schedule", "Predicate", "Actions", "Description", "EventBatchingCondition")


@patches.wrap(GlueResponse, "create_trigger")
def _respond_create_trigger(original, response: GlueResponse) -> ActionResult:
    fields, backend = response.parameters, response.glue_backend
    definition = {key: fields.get(key) for key in DEFINITION}
    existing = backend.triggers.get(fields.get("Name"))
    if existing is not None:
        # The same definition again is accepted; another is refused in the words AWS's Glue developer
        # guide quotes (blueprints: "Error: a trigger with the same name already exists"), with the code
        # AWS gives CreateJob's twin refusal. moto silently replaced the trigger.
        if getattr(existing, "local_definition", None) != definition:
            raise GlueClientError(
                "IdempotentParameterMismatchException",
                f"Trigger with name '{existing.name}' already submitted with different configuration",
            )
        return ActionResult({"Name": existing.name})
    result = original(response)
    backend.triggers[fields["Name"]].local_definition = definition
    return result


def _update_trigger(backend: GlueBackend, name: str, update: dict[str, Any]) -> FakeTrigger:
    trigger = backend.get_trigger(name)
    schedule = update.get("Schedule", trigger.schedule)
    predicate = _Predicate(update["Predicate"]) if update.get("Predicate") else trigger.predicate
    actions = [Action(a) for a in update["Actions"]] if "Actions" in update else trigger.actions
    _validate(backend, name, trigger.trigger_type, schedule, predicate, actions, trigger.workflow_name)
    trigger.schedule, trigger.predicate, trigger.actions = schedule, predicate, actions
    if "Description" in update:
        trigger.description = update["Description"]
    if "EventBatchingCondition" in update:
        trigger.event_batching_condition = update["EventBatchingCondition"]
    trigger.local_seen = {}
    trigger.local_definition = {**getattr(trigger, "local_definition", {}),
                                **{key: value for key, value in update.items() if key in DEFINITION}}  # fmt: skip
    return trigger


patches.add(GlueBackend, "update_trigger", _update_trigger)


def _start_trigger(trigger: FakeTrigger) -> None:
    if trigger.trigger_type != "ON_DEMAND":
        trigger.state = "ACTIVATED"
        trigger.local_seen = {}
        return
    if trigger.workflow_name:
        raise InvalidInputException(
            "StartTrigger",
            f"Trigger {trigger.name} starts workflow {trigger.workflow_name}: "
            f"run the workflow with StartWorkflowRun(Name={trigger.workflow_name})",
        )
    # ON_DEMAND triggers fire when started and stay CREATED (they are never ACTIVATED), as on AWS.
    with _lock:
        failures = _fire(trigger.backend, trigger)
    if failures:  # the first failure's code (e.g. ConcurrentRunsExceededException), every failure's reason
        raise GlueClientError(failures[0][0], "; ".join(message for _, message in failures))


def _stop_trigger(trigger: FakeTrigger) -> None:
    if trigger.trigger_type == "ON_DEMAND":
        raise InvalidInputException(
            "StopTrigger", f"Trigger {trigger.name} is ON_DEMAND: it is never ACTIVATED, so there is nothing to stop"
        )
    trigger.state = "DEACTIVATED"
    trigger.local_seen = {}


patches.replace(FakeTrigger, "start_trigger", _start_trigger)
patches.replace(FakeTrigger, "stop_trigger", _stop_trigger)


# ---------------------------------------------------------------------------------------------
# Firing
# ---------------------------------------------------------------------------------------------


def _fire(backend: GlueBackend, trigger: FakeTrigger, workflow_run: FakeWorkflowRun | None = None,
          predecessors: list[FakeJobRun] = ()) -> list[tuple[str, str]]:  # fmt: skip
    """Start every action of the trigger (callers hold _lock); returns the failures: (error code, sentence)."""
    failures = []
    for action in trigger.actions:
        kind, name = ("JOB", action.job_name) if action.job_name else ("CRAWLER", action.crawler_name)
        try:
            run = _start_job(backend, action, workflow_run) if kind == "JOB" else _start_crawl(backend, name)
        except JsonRESTError as error:
            message = f"Trigger {trigger.name} could not start {kind.lower()} {name}: {error.message}"
            log.warning("%s", message)
            failures.append((error.error_type, message))
            continue
        run.started_by = trigger.name
        run.workflow_run = workflow_run
        if kind == "JOB":
            run.predecessors = list(predecessors)
        if workflow_run is not None:
            workflow_run.local.actions.append(ActionRun(kind, name, trigger.name, run))
        log.info("Trigger %s started %s %s", trigger.name, kind.lower(), name)
    if failures and workflow_run is not None:
        state = workflow_run.local
        state.error_message = "; ".join(filter(None, [state.error_message, *(m for _, m in failures)]))
    return failures


def _start_job(backend: GlueBackend, action: Action, workflow_run: FakeWorkflowRun | None) -> FakeJobRun:
    arguments = dict(action.arguments or {})
    if workflow_run is not None:  # as on AWS, so a script can read and write the run's properties
        arguments.update({"--WORKFLOW_NAME": workflow_run.workflow_name, "--WORKFLOW_RUN_ID": workflow_run.run_id})
    run_id = backend.start_job_run(
        name=action.job_name,
        arguments=arguments,
        allocated_capacity=None,
        max_capacity=None,
        timeout=action.timeout,
        worker_type=None,
        security_configuration=action.security_configuration,
        number_of_workers=None,
        notification_property=action.notification_property,
        previous_run_id=None,
    )
    return next(run for run in backend.jobs[action.job_name].job_runs if run.job_run_id == run_id)


def _start_crawl(backend: GlueBackend, crawler_name: str) -> Any:
    backend.start_crawler(crawler_name)
    return backend.crawlers[crawler_name].crawls[-1]


def _conditions(trigger: FakeTrigger) -> list[tuple[tuple[str, str], str]]:
    """[((kind, name), wanted state), ...] of a conditional trigger's predicate."""
    found = []
    for condition in trigger.predicate.conditions if trigger.predicate else []:
        if condition.job_name:
            found.append((("JOB", condition.job_name), condition.state.value))
        else:
            found.append((("CRAWLER", condition.crawler_name), condition.crawl_state.value))
    return found


def _met(trigger: FakeTrigger, seen: dict[tuple[str, str], tuple[str, Any]]) -> bool:
    results = [key in seen and seen[key][0] == wanted for key, wanted in _conditions(trigger)]
    return bool(results) and (all(results) if trigger.predicate.logical.value == "AND" else any(results))


def _watches(trigger: FakeTrigger, event: events.RunFinished) -> bool:
    return any(key == (event.kind, event.name) for key, _ in _conditions(trigger))


def _job_runs(seen: dict[tuple[str, str], tuple[str, Any]]) -> list[FakeJobRun]:
    return [run for (kind, _), (_, run) in seen.items() if kind == "JOB"]


# ---------------------------------------------------------------------------------------------
# Reacting to finished runs
# ---------------------------------------------------------------------------------------------


def _on_run_finished(event: events.RunFinished) -> None:
    with _lock:
        if getattr(event.run, "started_by", None) is None:
            return  # AWS: only a job or crawler that a trigger started sets off dependent triggers
        workflow_run = getattr(event.run, "workflow_run", None)
        if workflow_run is not None:
            _advance_workflow_run(workflow_run, event)
        elif _is_current(event):
            _watch_outside_workflows(event)


def _is_current(event: events.RunFinished) -> bool:
    """False once the run's job or crawler was deleted, or moto was reset, since it started."""
    if event.kind == "JOB":
        job = event.backend.jobs.get(event.name)
        return job is not None and any(run is event.run for run in job.job_runs)
    crawler = event.backend.crawlers.get(event.name)
    return crawler is not None and any(crawl is event.run for crawl in crawler.crawls)


def _watch_outside_workflows(event: events.RunFinished) -> None:
    for trigger in list(event.backend.triggers.values()):
        if trigger.trigger_type != "CONDITIONAL" or trigger.workflow_name or trigger.state != "ACTIVATED":
            continue
        if not _watches(trigger, event):
            continue
        seen = trigger.__dict__.setdefault("local_seen", {})
        seen[(event.kind, event.name)] = (event.state, event.run)
        if _met(trigger, seen):
            trigger.local_seen = {}
            _fire(event.backend, trigger, predecessors=_job_runs(seen))


def _advance_workflow_run(workflow_run: FakeWorkflowRun, event: events.RunFinished) -> None:
    state: WorkflowRunState = workflow_run.local
    for action in state.actions:
        if action.run is event.run:
            action.final_state = event.state
    if workflow_run.status == "RUNNING" and _workflow_is_current(state) and _is_current(event):
        state.seen[(event.kind, event.name)] = (event.state, event.run)
        for trigger in list(state.backend.triggers.values()):
            if (
                trigger.trigger_type == "CONDITIONAL"
                and trigger.workflow_name == state.workflow.name
                and trigger.state == "ACTIVATED"
                and trigger.name not in state.fired
                and _watches(trigger, event)
                and _met(trigger, state.seen)
            ):
                state.fired.add(trigger.name)
                _fire(state.backend, trigger, workflow_run, predecessors=_job_runs(state.seen))
    _end_if_done(workflow_run)


def _workflow_is_current(state: WorkflowRunState) -> bool:
    return state.backend.workflows.get(state.workflow.name) is state.workflow


def _end_if_done(workflow_run: FakeWorkflowRun) -> None:
    state: WorkflowRunState = workflow_run.local
    if workflow_run.status not in ("RUNNING", "STOPPING") or any(a.final_state is None for a in state.actions):
        return
    workflow_run.status = "STOPPED" if state.stop_requested else "ERROR" if state.error_message else "COMPLETED"
    workflow_run.completed_on = utcnow()


# ---------------------------------------------------------------------------------------------
# Workflows: runs, statistics, graph
# ---------------------------------------------------------------------------------------------


def _workflow(backend: GlueBackend, name: str) -> FakeWorkflow:
    workflow = backend.workflows.get(name)
    if workflow is None:
        raise EntityNotFoundException(f"Workflow {name} does not exist")
    return workflow


def _start_triggers(backend: GlueBackend, workflow: FakeWorkflow) -> list[FakeTrigger]:
    return [
        t for t in backend.triggers.values() if t.workflow_name == workflow.name and t.trigger_type != "CONDITIONAL"
    ]


def _running_runs(workflow: FakeWorkflow) -> int:
    return sum(1 for run in workflow.runs.values() if run.status in ("RUNNING", "STOPPING"))


def _begin_run(backend: GlueBackend, workflow: FakeWorkflow, properties: dict | None,
               start_triggers: list[FakeTrigger]) -> FakeWorkflowRun:  # fmt: skip
    """A new run of the workflow with its start triggers fired (callers hold _lock)."""
    run = workflow.runs[workflow.start_run(properties=properties)]
    run.local = WorkflowRunState(workflow=workflow, backend=backend)
    for trigger in start_triggers:
        run.local.fired.add(trigger.name)
        _fire(backend, trigger, run)
    _end_if_done(run)
    return run


def _start_workflow_run(backend: GlueBackend, workflow_name: str, properties: dict | None) -> str:
    workflow = _workflow(backend, workflow_name)
    with _lock:
        if workflow.max_concurrent_runs and _running_runs(workflow) >= workflow.max_concurrent_runs:
            raise ConcurrentRunsExceededException(f"Concurrent runs exceeded for workflow: {workflow_name}")
        start_triggers = _start_triggers(backend, workflow)
        if not start_triggers:
            raise InvalidInputException(
                "StartWorkflowRun",
                f"Workflow {workflow_name} has no start trigger: create an ON_DEMAND or SCHEDULED trigger "
                f"with WorkflowName={workflow_name}",
            )
        return _begin_run(backend, workflow, properties, start_triggers).run_id


def _stop_workflow_run(backend: GlueBackend, workflow_name: str, run_id: str) -> None:
    workflow = _workflow(backend, workflow_name)
    run = workflow.get_run(run_id)
    with _lock:
        if run.status != "RUNNING":
            raise GlueClientError(  # moto's IllegalWorkflowStateException has another code than AWS's
                "IllegalWorkflowStateException",
                f"Workflow run {run_id} of workflow {workflow_name} is {run.status}; only a RUNNING run can be stopped",
            )
        state: WorkflowRunState = run.local
        state.stop_requested = True
        run.status = "STOPPING"
        for action in [a for a in state.actions if a.final_state is None]:
            try:
                if action.kind == "JOB":
                    backend.batch_stop_job_run(action.name, [action.run.job_run_id])
                elif (
                    backend.crawlers.get(action.name) is not None and action.run in backend.crawlers[action.name].crawls
                ):
                    backend.stop_crawler(action.name)
            except JsonRESTError:
                pass  # it ended meanwhile; its event ends the workflow run
        _end_if_done(run)


patches.replace(GlueBackend, "start_workflow_run", _start_workflow_run)
patches.replace(GlueBackend, "stop_workflow_run", _stop_workflow_run)


def _statistics(state: WorkflowRunState) -> dict[str, int]:
    counts = dict.fromkeys(STATISTICS, 0)
    for action in state.actions:
        counts["TotalActions"] += 1
        counts[STATISTICS_FIELD.get(action.final_state, "RunningActions")] += 1
    return counts


@patches.wrap(FakeWorkflowRun, "as_dict")
def _workflow_run_as_dict(original, run: FakeWorkflowRun) -> dict[str, Any]:
    data = original(run)
    state: WorkflowRunState | None = getattr(run, "local", None)
    if state is not None:
        data["Statistics"] = _statistics(state)
        if state.error_message:
            data["ErrorMessage"] = state.error_message
    return data


def _node_id(workflow: str, kind: str, name: str) -> str:
    return "wnode_" + hashlib.sha256(f"{workflow}/{kind}/{name}".encode()).hexdigest()


def _crawl_as_dict(crawl: Any) -> dict[str, Any]:
    state = CRAWL_STATE.get(crawl.status, crawl.status)
    if state == "RUNNING" and crawl.stop_requested.is_set():
        state = "CANCELLING"
    data = {"State": state, "StartedOn": crawl.start_time, "LogGroup": crawl.log_group, "LogStream": crawl.log_stream}
    if crawl.end_time:
        data["CompletedOn"] = crawl.end_time
    if getattr(crawl, "error_message", None):
        data["ErrorMessage"] = crawl.error_message
    return data


def _graph(backend: GlueBackend, workflow: FakeWorkflow, run: FakeWorkflowRun | None = None) -> dict[str, Any]:
    """Nodes (triggers, jobs, crawlers) and edges (trigger -> action, watched job/crawler -> trigger)."""
    nodes: dict[tuple[str, str], dict[str, Any]] = {}
    edges: list[dict[str, str]] = []

    def node(kind: str, name: str) -> str:
        if (kind, name) not in nodes:
            nodes[(kind, name)] = {"Type": kind, "Name": name, "UniqueId": _node_id(workflow.name, kind, name)}
        return nodes[(kind, name)]["UniqueId"]

    def edge(source: str, destination: str) -> None:
        if {"SourceId": source, "DestinationId": destination} not in edges:
            edges.append({"SourceId": source, "DestinationId": destination})

    for trigger in [t for t in backend.triggers.values() if t.workflow_name == workflow.name]:
        trigger_id = node("TRIGGER", trigger.name)
        nodes[("TRIGGER", trigger.name)]["TriggerDetails"] = {"Trigger": trigger.as_dict()}
        for (kind, name), _ in _conditions(trigger):
            edge(node(kind, name), trigger_id)
        for action in trigger.actions:
            kind, name = ("JOB", action.job_name) if action.job_name else ("CRAWLER", action.crawler_name)
            edge(trigger_id, node(kind, name))
    if run is not None and getattr(run, "local", None) is not None:
        for (kind, name), details in nodes.items():
            started = [a.run for a in run.local.actions if (a.kind, a.name) == (kind, name)]
            if kind == "JOB" and started:
                details["JobDetails"] = {"JobRuns": [job_run.as_dict() for job_run in started]}
            elif kind == "CRAWLER" and started:
                details["CrawlerDetails"] = {"Crawls": [_crawl_as_dict(crawl) for crawl in started]}
    return {"Nodes": list(nodes.values()), "Edges": edges}


# jobs.py wraps it too; its wrap is `original` here (triggers come after jobs), and sets other keys.
@patches.wrap(FakeJobRun, "as_dict")
def _job_run_as_dict(original, run: FakeJobRun) -> dict[str, Any]:
    data = original(run)
    if getattr(run, "started_by", None):
        data["TriggerName"] = run.started_by
    if getattr(run, "predecessors", None):
        data["PredecessorRuns"] = [{"JobName": p.job_name, "RunId": p.job_run_id} for p in run.predecessors]
    return data


# ---------------------------------------------------------------------------------------------
# Responses moto lacks or answers without what we add
# ---------------------------------------------------------------------------------------------


def _respond_update_trigger(response: GlueResponse) -> ActionResult:
    trigger = response.glue_backend.update_trigger(
        response._get_param("Name"), response._get_param("TriggerUpdate") or {}
    )
    return ActionResult({"Trigger": trigger.as_dict()})


def _respond_get_workflow(response: GlueResponse) -> ActionResult:
    backend, name = response.glue_backend, response._get_param("Name")
    data = backend.get_workflow(name)
    if response._get_param("IncludeGraph"):
        data["Graph"] = _graph(backend, backend.workflows[name])
    return ActionResult({"Workflow": data})


def _respond_get_workflow_run(response: GlueResponse) -> ActionResult:
    backend = response.glue_backend
    workflow = _workflow(backend, response._get_param("Name"))
    run = workflow.get_run(response._get_param("RunId"))
    data = run.as_dict()
    if response._get_param("IncludeGraph"):
        data["Graph"] = _graph(backend, workflow, run)
    return ActionResult({"Run": data})


def _respond_get_workflow_runs(response: GlueResponse) -> ActionResult:
    backend = response.glue_backend
    workflow = _workflow(backend, response._get_param("Name"))
    runs, next_token = backend.get_workflow_runs(
        workflow.name, next_token=response._get_param("NextToken"), max_results=response._get_int_param("MaxResults")
    )
    if response._get_param("IncludeGraph"):
        for data in runs:
            data["Graph"] = _graph(backend, workflow, workflow.runs[data["WorkflowRunId"]])
    return ActionResult({"Runs": runs, "NextToken": next_token})


patches.add(GlueResponse, "update_trigger", _respond_update_trigger)
patches.replace(GlueResponse, "get_workflow", _respond_get_workflow)
patches.replace(GlueResponse, "get_workflow_run", _respond_get_workflow_run)
patches.replace(GlueResponse, "get_workflow_runs", _respond_get_workflow_runs)


# ---------------------------------------------------------------------------------------------
# Scheduled triggers (run by the scheduler, scheduler.py, every minute)
# ---------------------------------------------------------------------------------------------


def fire_scheduled(minute: datetime) -> None:
    """Fire every ACTIVATED SCHEDULED trigger whose cron matches this UTC minute, once per minute."""
    for account in list(glue_backends.values()):
        for backend in list(account.values()):
            for trigger in list(backend.triggers.values()):
                if trigger.trigger_type != "SCHEDULED" or trigger.state != "ACTIVATED":
                    continue
                if getattr(trigger, "local_last_fired", None) == minute or not cron.parse(trigger.schedule).matches(
                    minute
                ):
                    continue
                trigger.local_last_fired = minute
                with _lock:
                    if backend.triggers.get(trigger.name) is not trigger:
                        continue  # deleted meanwhile
                    if trigger.workflow_name:
                        _scheduled_workflow_run(backend, trigger)
                    else:
                        _fire(backend, trigger)


def _scheduled_workflow_run(backend: GlueBackend, trigger: FakeTrigger) -> None:
    workflow = backend.workflows.get(trigger.workflow_name)
    if workflow is None:
        log.warning(
            "Scheduled trigger %s belongs to workflow %s, which does not exist", trigger.name, trigger.workflow_name
        )
        return
    if workflow.max_concurrent_runs and _running_runs(workflow) >= workflow.max_concurrent_runs:
        # As on AWS: the scheduled run is recorded, in ERROR, with the reason.
        run = workflow.runs[workflow.start_run(properties=None)]
        run.local = WorkflowRunState(workflow=workflow, backend=backend)
        run.local.error_message = f"Concurrent runs exceeded for workflow: {workflow.name}"
        run.status, run.completed_on = "ERROR", utcnow()
        return
    _begin_run(backend, workflow, None, [trigger])


# Glue's timestamps (CreatedOn, StartedOn, a crawl's StartTime, ...) are local AWS's clock, as the
# schedules are: a run fired for a minute the clock was moved to starts in that minute.
patches.replace(moto_glue_models, "utcnow", utcnow)


# ---------------------------------------------------------------------------------------------
# install / shutdown
# ---------------------------------------------------------------------------------------------


def install() -> None:
    """Have run-finished events reach the triggers and start the scheduler (it sleeps to each minute)."""
    events.subscribe(_on_run_finished)  # once: subscribe() ignores a callback it has
    scheduler.every_minute(fire_scheduled)
    scheduler.start()


def shutdown() -> None:
    """Stop the scheduler and event delivery: nothing fires while the other executors wind down."""
    workers.stop(scheduler.Scheduler, events.Delivery)

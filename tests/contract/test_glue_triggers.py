"""Glue triggers against local AWS with boto3: each trigger type starts what it should and only that."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from local_aws import clock

BUCKET = "lake"
DATABASE = "labdb"
ROLE = "arn:aws:iam::123456789012:role/glue"
CSV = b"carrier,flight,dep_delay\nUA,1545,2\nAA,1141,-4\nB6,725,13\n"

# Prints the arguments it got as JSON, then fails if asked to.
ECHO_SCRIPT = """
import json, sys
from awsglue.utils import getResolvedOptions
args = getResolvedOptions(sys.argv, ["outcome", "greeting"])
print(json.dumps({"greeting": args["greeting"], "outcome": args["outcome"]}))
if args["outcome"] == "fail":
    raise ValueError("asked to fail")
"""


@pytest.fixture
def glue(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="raw/flights.csv", Body=CSV)
    s3.put_object(Bucket=BUCKET, Key="scripts/echo.py", Body=textwrap.dedent(ECHO_SCRIPT).encode())
    client = aws_client("glue")
    client.create_database(DatabaseInput={"Name": DATABASE})
    return client


def create_job(glue, name: str, outcome: str = "succeed") -> None:
    glue.create_job(
        Name=name,
        Role=ROLE,
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/scripts/echo.py"},
        GlueVersion="5.0",
        DefaultArguments={"--outcome": outcome, "--greeting": "default"},
    )


def create_crawler(glue, name: str, path: str = f"s3://{BUCKET}/raw/") -> None:
    glue.create_crawler(Name=name, Role=ROLE, DatabaseName=DATABASE, TablePrefix=f"{name}_",
                        Targets={"S3Targets": [{"Path": path}]})  # fmt: skip


def when(condition, what: str, timeout: float = 120):
    """Poll until condition() returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def finished_runs(glue, job: str) -> list[dict]:
    runs = glue.get_job_runs(JobName=job)["JobRuns"]
    return [r for r in runs if r["JobRunState"] in ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR")]


def crawls(glue, crawler: str) -> list[dict]:
    """Finished crawls of a crawler, oldest first."""
    return [c for c in glue.list_crawls(CrawlerName=crawler)["Crawls"] if c["State"] != "RUNNING"]


def job_condition(job: str, state: str) -> dict:
    return {"LogicalOperator": "EQUALS", "JobName": job, "State": state}


def crawl_condition(crawler: str, state: str) -> dict:
    return {"LogicalOperator": "EQUALS", "CrawlerName": crawler, "CrawlState": state}


def output_lines(aws_client, run_id: str) -> list[str]:
    events = aws_client("logs").filter_log_events(logGroupName="/aws-glue/jobs/output", logStreamNames=[run_id])
    return [e["message"] for e in events["events"]]


# -- ON_DEMAND ----------------------------------------------------------------------------------


def test_on_demand_trigger_starts_its_job_with_the_action_arguments_and_its_crawler(glue, aws_client):
    create_job(glue, "echo")
    create_job(glue, "bystander")
    create_crawler(glue, "raw")
    create_crawler(glue, "other")
    glue.create_trigger(
        Name="now",
        Type="ON_DEMAND",
        Actions=[{"JobName": "echo", "Arguments": {"--greeting": "from-trigger"}}, {"CrawlerName": "raw"}],
    )
    assert glue.get_job_runs(JobName="echo")["JobRuns"] == []

    glue.start_trigger(Name="now")

    [run] = when(lambda: finished_runs(glue, "echo"), "the job run")
    assert (run["JobRunState"], run["TriggerName"]) == ("SUCCEEDED", "now")
    assert run["Arguments"]["--greeting"] == "from-trigger"
    assert output_lines(aws_client, run["Id"]) == [json.dumps({"greeting": "from-trigger", "outcome": "succeed"})]
    [crawl] = when(lambda: crawls(glue, "raw"), "the crawl")
    assert crawl["State"] == "COMPLETED"
    assert glue.get_table(DatabaseName=DATABASE, Name="raw_raw")["Table"]["StorageDescriptor"]["Location"].endswith(
        "/raw/"
    )
    # On AWS an on-demand trigger never becomes ACTIVATED: it stays CREATED.
    assert glue.get_trigger(Name="now")["Trigger"]["State"] == "CREATED"
    # Only the trigger's actions ran.
    assert glue.get_job_runs(JobName="bystander")["JobRuns"] == []
    assert glue.list_crawls(CrawlerName="other")["Crawls"] == []


def test_on_demand_trigger_that_cannot_start_its_job_says_why(glue):
    glue.create_trigger(Name="now", Type="ON_DEMAND", Actions=[{"JobName": "no-such-job"}])

    with pytest.raises(ClientError) as raised:
        glue.start_trigger(Name="now")

    assert raised.value.response["Error"]["Code"] == "EntityNotFoundException"
    assert "Trigger now could not start job no-such-job" in str(raised.value)


# -- CONDITIONAL --------------------------------------------------------------------------------


def test_conditional_triggers_fire_on_the_watched_state_only(glue):
    create_job(glue, "first")
    create_job(glue, "next")
    create_crawler(glue, "cleanup")
    glue.create_trigger(Name="start", Type="ON_DEMAND", Actions=[{"JobName": "first"}])
    glue.create_trigger(Name="on-success", Type="CONDITIONAL", StartOnCreation=True,
                        Predicate={"Conditions": [job_condition("first", "SUCCEEDED")]},
                        Actions=[{"JobName": "next"}])  # fmt: skip
    glue.create_trigger(Name="on-failure", Type="CONDITIONAL", StartOnCreation=True,
                        Predicate={"Conditions": [job_condition("first", "FAILED")]},
                        Actions=[{"CrawlerName": "cleanup"}])  # fmt: skip

    glue.start_trigger(Name="start")
    [first] = when(lambda: finished_runs(glue, "first"), "the first job run")
    [following] = when(lambda: finished_runs(glue, "next"), "the job run the success trigger starts")

    assert first["JobRunState"] == "SUCCEEDED"
    assert (following["JobRunState"], following["TriggerName"]) == ("SUCCEEDED", "on-success")
    assert following["PredecessorRuns"] == [{"JobName": "first", "RunId": first["Id"]}]
    # Both triggers saw the same event: the failure trigger did not fire on SUCCEEDED.
    assert glue.list_crawls(CrawlerName="cleanup")["Crawls"] == []

    glue.update_trigger(
        Name="start", TriggerUpdate={"Actions": [{"JobName": "first", "Arguments": {"--outcome": "fail"}}]}
    )
    glue.start_trigger(Name="start")
    [crawl] = when(lambda: crawls(glue, "cleanup"), "the crawl the failure trigger starts")

    assert crawl["State"] == "COMPLETED"
    assert [r["JobRunState"] for r in finished_runs(glue, "first")] == ["SUCCEEDED", "FAILED"]
    assert len(glue.get_job_runs(JobName="next")["JobRuns"]) == 1  # the success trigger did not fire on FAILED


def test_conditional_trigger_ignores_manual_runs_and_fires_only_while_activated(glue):
    create_job(glue, "first")
    create_crawler(glue, "after")
    create_crawler(glue, "witness")
    glue.create_trigger(Name="start", Type="ON_DEMAND", Actions=[{"JobName": "first"}])
    glue.create_trigger(Name="after-first", Type="CONDITIONAL", StartOnCreation=True,
                        Predicate={"Conditions": [job_condition("first", "SUCCEEDED")]},
                        Actions=[{"CrawlerName": "after"}])  # fmt: skip
    glue.create_trigger(Name="witness-first", Type="CONDITIONAL", StartOnCreation=True,
                        Predicate={"Conditions": [job_condition("first", "SUCCEEDED")]},
                        Actions=[{"CrawlerName": "witness"}])  # fmt: skip

    # As on AWS, a run not started by a trigger sets off no conditional trigger.
    glue.start_job_run(JobName="first")
    when(lambda: finished_runs(glue, "first"), "the manual run")
    glue.start_trigger(Name="start")
    # Both triggers fire on the same event; their crawls may finish in either order.
    when(lambda: len(crawls(glue, "witness")) == 1 and crawls(glue, "after"), "both triggered crawls")
    assert len(crawls(glue, "after")) == 1  # fired for the triggered run only, not the manual one

    glue.stop_trigger(Name="after-first")
    assert glue.get_trigger(Name="after-first")["Trigger"]["State"] == "DEACTIVATED"
    glue.start_trigger(Name="start")
    when(lambda: len(crawls(glue, "witness")) == 2, "the second witness crawl")
    assert len(glue.list_crawls(CrawlerName="after")["Crawls"]) == 1  # a deactivated trigger does not fire


def test_and_predicate_waits_for_every_condition_any_for_one(glue):
    for name in ("a", "b", "both", "either"):
        create_crawler(glue, name)
    glue.create_trigger(Name="run-a", Type="ON_DEMAND", Actions=[{"CrawlerName": "a"}])
    glue.create_trigger(Name="run-b", Type="ON_DEMAND", Actions=[{"CrawlerName": "b"}])
    conditions = [crawl_condition("a", "SUCCEEDED"), crawl_condition("b", "SUCCEEDED")]
    glue.create_trigger(Name="all", Type="CONDITIONAL", StartOnCreation=True, Actions=[{"CrawlerName": "both"}],
                        Predicate={"Logical": "AND", "Conditions": conditions})  # fmt: skip
    glue.create_trigger(Name="any", Type="CONDITIONAL", StartOnCreation=True, Actions=[{"CrawlerName": "either"}],
                        Predicate={"Logical": "ANY", "Conditions": conditions})  # fmt: skip

    glue.start_trigger(Name="run-a")
    when(lambda: len(crawls(glue, "either")) == 1, "the ANY trigger's crawl")
    assert crawls(glue, "both") == []  # b has not succeeded yet

    glue.start_trigger(Name="run-b")
    when(lambda: len(crawls(glue, "both")) == 1, "the AND trigger's crawl")
    when(lambda: len(crawls(glue, "either")) == 2, "the ANY trigger's second crawl")


def test_crawl_failure_fires_the_trigger_watching_for_it(glue):
    create_crawler(glue, "broken", path="s3://no-such-bucket/raw/")
    create_crawler(glue, "alarm")
    create_crawler(glue, "never")
    glue.create_trigger(Name="run-broken", Type="ON_DEMAND", Actions=[{"CrawlerName": "broken"}])
    glue.create_trigger(Name="on-crawl-failed", Type="CONDITIONAL", StartOnCreation=True,
                        Predicate={"Conditions": [crawl_condition("broken", "FAILED")]},
                        Actions=[{"CrawlerName": "alarm"}])  # fmt: skip
    glue.create_trigger(Name="on-crawl-succeeded", Type="CONDITIONAL", StartOnCreation=True,
                        Predicate={"Conditions": [crawl_condition("broken", "SUCCEEDED")]},
                        Actions=[{"CrawlerName": "never"}])  # fmt: skip

    glue.start_trigger(Name="run-broken")

    [alarm] = when(lambda: crawls(glue, "alarm"), "the alarm crawl")
    assert alarm["State"] == "COMPLETED"
    [broken] = crawls(glue, "broken")
    assert broken["State"] == "FAILED" and "no-such-bucket" in broken["ErrorMessage"]
    assert crawls(glue, "never") == []  # evaluated on the same event as the alarm trigger


# -- definitions --------------------------------------------------------------------------------


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_trigger_definitions_are_checked_and_errors_name_the_fix(glue):
    create_job(glue, "j")
    glue.create_trigger(Name="t", Type="ON_DEMAND", Actions=[{"JobName": "j"}])

    # The same definition again is accepted; another one is refused in AWS's words, the trigger kept.
    assert glue.create_trigger(Name="t", Type="ON_DEMAND", Actions=[{"JobName": "j"}])["Name"] == "t"
    assert error_of(glue.create_trigger, Name="t", Type="ON_DEMAND", Actions=[{"JobName": "other"}]) == (
        "IdempotentParameterMismatchException",
        "Trigger with name 't' already submitted with different configuration",
    )
    assert glue.get_trigger(Name="t")["Trigger"]["Actions"] == [{"JobName": "j"}]
    code, message = error_of(glue.create_trigger, Name="s", Type="SCHEDULED", Schedule="cron(0 12 * * *)",
                             Actions=[{"JobName": "j"}])  # fmt: skip
    assert code == "InvalidInputException"
    assert (
        "Schedule 'cron(0 12 * * *)'" in message and "6: Minutes Hours Day-of-month Month Day-of-week Year" in message
    )
    code, message = error_of(glue.create_trigger, Name="o", Type="ON_DEMAND", StartOnCreation=True,
                             Actions=[{"JobName": "j"}])  # fmt: skip
    assert code == "InvalidInputException" and "StartOnCreation is not supported for ON_DEMAND" in message
    code, message = error_of(glue.create_trigger, Name="w", Type="ON_DEMAND", WorkflowName="no-such-flow",
                             Actions=[{"JobName": "j"}])  # fmt: skip
    assert code == "EntityNotFoundException" and "CreateWorkflow" in message
    code, message = error_of(glue.create_trigger, Name="c", Type="CONDITIONAL", Actions=[{"JobName": "j"}],
                             Predicate={"Conditions": [job_condition("j", "SUCCEEDED")]})  # fmt: skip
    assert code == "InvalidInputException" and "job j cannot be both in the Predicate and an Action" in message
    code, message = error_of(glue.stop_trigger, Name="t")
    assert code == "InvalidInputException" and "ON_DEMAND" in message
    code, _ = error_of(glue.update_trigger, Name="missing", TriggerUpdate={"Description": "x"})
    assert code == "EntityNotFoundException"
    # Nothing above changed the trigger that exists.
    assert glue.get_trigger(Name="t")["Trigger"]["Actions"] == [{"JobName": "j"}]
    assert [t["Name"] for t in glue.get_triggers()["Triggers"]] == ["t"]


def test_update_trigger_changes_schedule_actions_and_description(glue):
    create_job(glue, "j")
    glue.create_trigger(Name="nightly", Type="SCHEDULED", Schedule="cron(0 6 * * ? *)", Actions=[{"JobName": "j"}])

    updated = glue.update_trigger(
        Name="nightly",
        TriggerUpdate={"Schedule": "cron(30 2 ? * MON-FRI *)", "Description": "weekdays",
                       "Actions": [{"JobName": "j", "Arguments": {"--greeting": "hi"}, "Timeout": 5}]},
    )["Trigger"]  # fmt: skip

    assert updated == glue.get_trigger(Name="nightly")["Trigger"]
    assert (updated["Schedule"], updated["Description"], updated["State"]) == (
        "cron(30 2 ? * MON-FRI *)",
        "weekdays",
        "CREATED",
    )
    assert updated["Actions"] == [{"JobName": "j", "Arguments": {"--greeting": "hi"}, "Timeout": 5}]
    code, message = error_of(glue.update_trigger, Name="nightly", TriggerUpdate={"Schedule": "every day"})
    assert code == "InvalidInputException" and "cron(" in message


# -- SCHEDULED (waits for the next minute: the schedule has minute granularity, as on AWS) -------


def test_scheduled_triggers_fire_at_the_minute_while_activated(glue):
    for name in ("scheduled", "never-started", "stopped", "workflow-crawl"):
        create_crawler(glue, name)
    # The cron names a minute at least 10 s ahead on local AWS's clock (and the next, should a slow
    # machine create the triggers after it began): nothing may fire before that minute starts.
    due = (clock.now() + timedelta(seconds=70)).replace(second=0, microsecond=0)
    schedule = f"cron({due.minute},{(due.minute + 1) % 60} * * * ? *)"
    glue.create_trigger(Name="active", Type="SCHEDULED", Schedule=schedule, StartOnCreation=True,
                        Actions=[{"CrawlerName": "scheduled"}])  # fmt: skip
    glue.create_trigger(Name="created", Type="SCHEDULED", Schedule=schedule,
                        Actions=[{"CrawlerName": "never-started"}])  # fmt: skip
    glue.create_trigger(Name="deactivated", Type="SCHEDULED", Schedule=schedule,
                        Actions=[{"CrawlerName": "stopped"}])  # fmt: skip
    glue.start_trigger(Name="deactivated")
    glue.stop_trigger(Name="deactivated")
    glue.create_workflow(Name="flow", DefaultRunProperties={"source": "schedule"})
    glue.create_trigger(Name="flow-start", WorkflowName="flow", Type="SCHEDULED", Schedule=schedule,
                        Actions=[{"CrawlerName": "workflow-crawl"}])  # fmt: skip
    glue.start_trigger(Name="flow-start")

    assert crawls(glue, "scheduled") == [] and glue.get_workflow_runs(Name="flow")["Runs"] == []
    clock.advance(seconds=(due - clock.now()).total_seconds() + 1)  # to the minute, instead of waiting for it

    # The first of them: on a stalled machine the second minute may have fired too by the first look.
    crawl = min(when(lambda: crawls(glue, "scheduled"), "the scheduled crawl"), key=lambda c: c["StartTime"])
    run = min(when(lambda: [r for r in glue.get_workflow_runs(Name="flow")["Runs"] if r["Status"] == "COMPLETED"],
                   "the scheduled workflow run", timeout=120), key=lambda r: r["StartedOn"])  # fmt: skip

    assert crawl["State"] == "COMPLETED" and crawl["StartTime"] >= due  # not before its minute
    assert run["StartedOn"] >= due
    assert run["WorkflowRunProperties"] == {"source": "schedule"} and run["Statistics"]["SucceededActions"] == 1
    # flow-start, created last, fired in the pass over that minute's triggers: the pass had gone over the others.
    assert glue.list_crawls(CrawlerName="never-started")["Crawls"] == []
    assert glue.list_crawls(CrawlerName="stopped")["Crawls"] == []
    states = {t["Name"]: t["State"] for t in glue.get_triggers()["Triggers"]}
    assert states == {
        "active": "ACTIVATED",
        "created": "CREATED",
        "deactivated": "DEACTIVATED",
        "flow-start": "ACTIVATED",
    }

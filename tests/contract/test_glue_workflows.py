"""Glue workflows against local AWS with boto3: StartWorkflowRun runs the graph; GetWorkflowRun reports it."""

from __future__ import annotations

import textwrap
import time

import pytest
from botocore.exceptions import ClientError

BUCKET = "lake"
DATABASE = "labdb"
ROLE = "arn:aws:iam::123456789012:role/glue"
FLIGHTS_CSV = b"year,month,carrier,flight,dep_delay\n2013,1,UA,1545,2\n2013,1,AA,1141,-4\n2013,2,B6,725,13\n"

# Glue's workflow pattern: read the run's properties, do the work, leave a property for later nodes.
CONVERT_SCRIPT = """
import sys
import boto3
from awsglue.utils import getResolvedOptions
from pyspark.sql import SparkSession

args = getResolvedOptions(sys.argv, ["WORKFLOW_NAME", "WORKFLOW_RUN_ID", "target_path"])
glue = boto3.client("glue")
properties = glue.get_workflow_run_properties(Name=args["WORKFLOW_NAME"], RunId=args["WORKFLOW_RUN_ID"])["RunProperties"]
flights = SparkSession.builder.getOrCreate().read.options(header="true", inferSchema="true").csv(properties["source"])
flights.write.mode("overwrite").partitionBy("year", "month").parquet(args["target_path"])
glue.put_workflow_run_properties(
    Name=args["WORKFLOW_NAME"], RunId=args["WORKFLOW_RUN_ID"], RunProperties={"rows_written": str(flights.count())}
)
"""
FAILING_SCRIPT = 'raise ValueError("bad input row 7")\n'
SLEEPING_SCRIPT = "import time\ntime.sleep(60)\n"


@pytest.fixture
def glue(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="raw/flights/flights.csv", Body=FLIGHTS_CSV)
    for name, script in (("convert", CONVERT_SCRIPT), ("failing", FAILING_SCRIPT), ("sleeping", SLEEPING_SCRIPT)):
        s3.put_object(Bucket=BUCKET, Key=f"scripts/{name}.py", Body=textwrap.dedent(script).encode())
    client = aws_client("glue")
    client.create_database(DatabaseInput={"Name": DATABASE})
    return client


def create_job(glue, name: str, script: str | None = None) -> None:
    glue.create_job(Name=name, Role=ROLE, GlueVersion="5.0",
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/scripts/{script or name}.py"})  # fmt: skip


def create_crawler(glue, name: str, prefix: str) -> None:
    glue.create_crawler(Name=name, Role=ROLE, DatabaseName=DATABASE, TablePrefix=f"{name}_",
                        Targets={"S3Targets": [{"Path": f"s3://{BUCKET}/{prefix}"}]})  # fmt: skip


def trigger_after(glue, name: str, workflow: str, watched: dict, action: dict, state: str = "SUCCEEDED") -> None:
    """A conditional trigger of the workflow: `action` once the watched job or crawler ends in `state`."""
    condition = {"LogicalOperator": "EQUALS", **watched}
    condition["CrawlState" if "CrawlerName" in watched else "State"] = state
    glue.create_trigger(Name=name, WorkflowName=workflow, Type="CONDITIONAL", StartOnCreation=True,
                        Predicate={"Conditions": [condition]}, Actions=[action])  # fmt: skip


def wait_for_run(glue, workflow: str, run_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = glue.get_workflow_run(Name=workflow, RunId=run_id, IncludeGraph=True)["Run"]
        if run["Status"] not in ("RUNNING", "STOPPING"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"workflow run {run_id} still {run['Status']} after {timeout}s: {run['Statistics']}")


def statistics(**counts: int) -> dict:
    fields = ("TotalActions", "TimeoutActions", "FailedActions", "StoppedActions", "SucceededActions",
              "RunningActions", "ErroredActions", "WaitingActions")  # fmt: skip
    return {field: counts.get(field, 0) for field in fields}


def nodes(graph: dict) -> dict[tuple[str, str], dict]:
    return {(node["Type"], node["Name"]): node for node in graph["Nodes"]}


def edges(graph: dict) -> set[tuple[str, str]]:
    names = {node["UniqueId"]: node["Name"] for node in graph["Nodes"]}
    return {(names[e["SourceId"]], names[e["DestinationId"]]) for e in graph["Edges"]}


def test_workflow_run_crawls_converts_and_crawls_and_reports_statistics_and_graph(glue):
    create_crawler(glue, "raw", "raw/flights/")
    create_job(glue, "convert")
    create_crawler(glue, "curated", "curated/flights/")
    glue.create_workflow(Name="flights", DefaultRunProperties={"source": f"s3://{BUCKET}/raw/flights/", "owner": "lab"})
    glue.create_trigger(Name="start", WorkflowName="flights", Type="ON_DEMAND", Actions=[{"CrawlerName": "raw"}])
    trigger_after(glue, "after-raw", "flights", {"CrawlerName": "raw"},
                  {"JobName": "convert", "Arguments": {"--target_path": f"s3://{BUCKET}/curated/flights/"}})  # fmt: skip
    trigger_after(glue, "after-convert", "flights", {"JobName": "convert"}, {"CrawlerName": "curated"})

    run_id = glue.start_workflow_run(Name="flights", RunProperties={"owner": "test"})["RunId"]
    run = wait_for_run(glue, "flights", run_id)

    assert run["Status"] == "COMPLETED", run
    assert run["Statistics"] == statistics(TotalActions=3, SucceededActions=3)
    assert run["StartedOn"] <= run["CompletedOn"]
    graph = nodes(run["Graph"])
    assert set(graph) == {("TRIGGER", "start"), ("CRAWLER", "raw"), ("TRIGGER", "after-raw"), ("JOB", "convert"),
                          ("TRIGGER", "after-convert"), ("CRAWLER", "curated")}  # fmt: skip
    assert edges(run["Graph"]) == {("start", "raw"), ("raw", "after-raw"), ("after-raw", "convert"),
                                   ("convert", "after-convert"), ("after-convert", "curated")}  # fmt: skip
    [job_run] = graph[("JOB", "convert")]["JobDetails"]["JobRuns"]
    assert (job_run["JobRunState"], job_run["TriggerName"]) == ("SUCCEEDED", "after-raw"), job_run.get("ErrorMessage")
    assert job_run["Arguments"]["--WORKFLOW_NAME"] == "flights"
    assert job_run["Arguments"]["--WORKFLOW_RUN_ID"] == run_id
    for crawler in ("raw", "curated"):
        [crawl] = graph[("CRAWLER", crawler)]["CrawlerDetails"]["Crawls"]
        assert crawl["State"] == "SUCCEEDED" and crawl["StartedOn"] <= crawl["CompletedOn"]
    assert (
        graph[("TRIGGER", "after-raw")]["TriggerDetails"]["Trigger"]["Predicate"]["Conditions"][0]["CrawlerName"]
        == "raw"
    )
    # The job read the run's properties (defaults merged with the run's own) and added one.
    assert glue.get_workflow_run_properties(Name="flights", RunId=run_id)["RunProperties"] == {
        "source": f"s3://{BUCKET}/raw/flights/",
        "owner": "test",
        "rows_written": "3",
    }
    # Both crawls wrote the catalog: the raw CSV and the Parquet the job wrote.
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName=DATABASE)["TableList"]}
    assert set(tables) == {"raw_flights", "curated_flights"}
    assert [k["Name"] for k in tables["curated_flights"]["PartitionKeys"]] == ["year", "month"]
    assert len(glue.get_partitions(DatabaseName=DATABASE, TableName="curated_flights")["Partitions"]) == 2

    workflow = glue.get_workflow(Name="flights", IncludeGraph=True)["Workflow"]
    assert edges(workflow["Graph"]) == edges(run["Graph"])
    assert all("JobDetails" not in n and "CrawlerDetails" not in n for n in workflow["Graph"]["Nodes"])
    assert workflow["LastRun"]["WorkflowRunId"] == run_id
    assert workflow["LastRun"]["Statistics"] == run["Statistics"]
    assert [r["WorkflowRunId"] for r in glue.get_workflow_runs(Name="flights")["Runs"]] == [run_id]


def test_failed_job_takes_the_failure_branch_and_shows_in_statistics_and_graph(glue):
    create_job(glue, "failing")
    create_crawler(glue, "curated", "curated/")
    create_crawler(glue, "alarm", "raw/")
    glue.create_workflow(Name="flow")
    glue.create_trigger(Name="start", WorkflowName="flow", Type="ON_DEMAND", Actions=[{"JobName": "failing"}])
    trigger_after(glue, "on-success", "flow", {"JobName": "failing"}, {"CrawlerName": "curated"})
    trigger_after(glue, "on-failure", "flow", {"JobName": "failing"}, {"CrawlerName": "alarm"}, state="FAILED")

    run = wait_for_run(glue, "flow", glue.start_workflow_run(Name="flow")["RunId"])

    # As on AWS the run COMPLETES; the failure is in its statistics and graph.
    assert run["Status"] == "COMPLETED"
    assert run["Statistics"] == statistics(TotalActions=2, FailedActions=1, SucceededActions=1)
    graph = nodes(run["Graph"])
    [job_run] = graph[("JOB", "failing")]["JobDetails"]["JobRuns"]
    assert (job_run["JobRunState"], job_run["ErrorMessage"]) == ("FAILED", "ValueError: bad input row 7")
    assert graph[("CRAWLER", "alarm")]["CrawlerDetails"]["Crawls"][0]["State"] == "SUCCEEDED"
    assert "CrawlerDetails" not in graph[("CRAWLER", "curated")]
    assert glue.list_crawls(CrawlerName="curated")["Crawls"] == []


def test_action_that_cannot_start_ends_the_run_in_error(glue):
    glue.create_workflow(Name="flow")
    with pytest.raises(ClientError) as raised:
        glue.start_workflow_run(Name="flow")
    assert "Workflow flow has no start trigger" in str(raised.value)
    glue.create_trigger(Name="start", WorkflowName="flow", Type="ON_DEMAND", Actions=[{"JobName": "no-such-job"}])

    run = wait_for_run(glue, "flow", glue.start_workflow_run(Name="flow")["RunId"])

    assert run["Status"] == "ERROR"
    assert run["ErrorMessage"].startswith("Trigger start could not start job no-such-job:")
    assert run["Statistics"] == statistics()
    with pytest.raises(ClientError) as raised:
        glue.start_workflow_run(Name="no-such-flow")
    assert raised.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_workflow_triggers_react_to_their_own_runs_only(glue):
    create_crawler(glue, "raw", "raw/")
    create_crawler(glue, "next", "raw/")
    create_crawler(glue, "witness", "raw/")
    glue.create_workflow(Name="flow")
    glue.create_trigger(Name="start", WorkflowName="flow", Type="ON_DEMAND", Actions=[{"CrawlerName": "raw"}])
    trigger_after(glue, "after-raw", "flow", {"CrawlerName": "raw"}, {"CrawlerName": "next"})
    # The same crawler, started by a trigger outside the workflow, watched by a trigger outside it.
    glue.create_trigger(Name="outside", Type="ON_DEMAND", Actions=[{"CrawlerName": "raw"}])
    glue.create_trigger(Name="outside-after-raw", Type="CONDITIONAL", StartOnCreation=True,
                        Predicate={"Conditions": [{"LogicalOperator": "EQUALS", "CrawlerName": "raw", "CrawlState": "SUCCEEDED"}]},
                        Actions=[{"CrawlerName": "witness"}])  # fmt: skip

    glue.start_trigger(Name="outside")
    deadline = time.monotonic() + 60
    while not [c for c in glue.list_crawls(CrawlerName="witness")["Crawls"] if c["State"] == "COMPLETED"]:
        assert time.monotonic() < deadline, "the outside trigger did not fire"
        time.sleep(0.2)
    assert glue.list_crawls(CrawlerName="next")["Crawls"] == []  # not this workflow's run

    run = wait_for_run(glue, "flow", glue.start_workflow_run(Name="flow")["RunId"])

    assert run["Statistics"] == statistics(TotalActions=2, SucceededActions=2)
    assert len(glue.list_crawls(CrawlerName="next")["Crawls"]) == 1
    assert len(glue.list_crawls(CrawlerName="witness")["Crawls"]) == 1  # the workflow's crawl is not outside's


def test_stop_workflow_run_stops_what_runs_and_max_concurrent_runs_holds(glue):
    create_job(glue, "sleeping")
    create_crawler(glue, "after", "raw/")
    glue.create_workflow(Name="flow", MaxConcurrentRuns=1)
    glue.create_trigger(Name="start", WorkflowName="flow", Type="ON_DEMAND", Actions=[{"JobName": "sleeping"}])
    trigger_after(glue, "after-sleep", "flow", {"JobName": "sleeping"}, {"CrawlerName": "after"}, state="STOPPED")
    run_id = glue.start_workflow_run(Name="flow")["RunId"]
    deadline = time.monotonic() + 120
    while glue.get_job_runs(JobName="sleeping")["JobRuns"][0]["JobRunState"] != "RUNNING":
        assert time.monotonic() < deadline, "the job run did not start"
        time.sleep(0.2)

    with pytest.raises(ClientError) as raised:
        glue.start_workflow_run(Name="flow")
    assert raised.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"

    glue.stop_workflow_run(Name="flow", RunId=run_id)
    run = wait_for_run(glue, "flow", run_id)

    assert run["Status"] == "STOPPED"
    assert run["Statistics"] == statistics(TotalActions=1, StoppedActions=1)
    [job_run] = glue.get_job_runs(JobName="sleeping")["JobRuns"]
    assert job_run["JobRunState"] == "STOPPED"
    assert glue.list_crawls(CrawlerName="after")["Crawls"] == []  # a stopped run starts nothing more
    with pytest.raises(ClientError) as raised:
        glue.stop_workflow_run(Name="flow", RunId=run_id)
    assert raised.value.response["Error"]["Code"] == "IllegalWorkflowStateException"
    assert "only a RUNNING run can be stopped" in str(raised.value)

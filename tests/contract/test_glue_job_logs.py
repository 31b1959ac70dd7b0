"""Where a Glue job run's logs land in CloudWatch Logs, per the job's Glue version, as AWS documents:
Glue 5.0 writes the script's stdout and stderr to /aws-glue/jobs/output and the driver's log to
/aws-glue/jobs/error; Glue 4.0 and earlier write stderr and the driver's log to /error and, with
continuous logging, the driver's log and a progress bar to /aws-glue/jobs/logs-v2."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from tests.contract.test_glue_jobs import log_lines, put, run_job

BUCKET = "glue-lab"
OUTPUT_LOG, ERROR_LOG, CONTINUOUS_LOG = "/aws-glue/jobs/output", "/aws-glue/jobs/error", "/aws-glue/jobs/logs-v2"
SPARK_JOB_FINISHED = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d INFO DAGScheduler: Job \d+ finished: count at ")

COUNTS_CARRIERS = """
import sys
from awsglue.context import GlueContext
from pyspark.context import SparkContext

glue_context = GlueContext(SparkContext())
carriers = glue_context.spark_session.createDataFrame([("UA",), ("AA",), ("UA",)], ["carrier"])
print(f"{carriers.distinct().count()} carriers")
print("a warning on stderr", file=sys.stderr)
glue_context.get_logger().info("carriers counted")
"""

# Keeps Spark stages running until the run's progress-bar stream has a line (bounded), so the test
# waits on the progress bar itself rather than on a guess of how long a stage must last.
WAITS_FOR_ITS_PROGRESS_BAR = """
import json, sys, threading, time
import boto3
from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "progress_group", "progress_stream_prefix"])  # holds JOB_RUN_ID too
progress_stream = args["progress_stream_prefix"] + args["JOB_RUN_ID"] + "-progress-bar"
sc = SparkContext()
glue_context = GlueContext(sc)
glue_context.get_logger().info("continuous logging on")
print("a warning on stderr", file=sys.stderr)
seen = threading.Event()

def keep_a_stage_running():
    while not seen.is_set():
        sc.parallelize(range(8), 2).foreach(lambda _: time.sleep(0.5))

worker = threading.Thread(target=keep_a_stage_running)
worker.start()
logs, deadline, lines = boto3.client("logs"), time.monotonic() + 120, []
while not lines and time.monotonic() < deadline:
    time.sleep(1)
    try:
        events = logs.get_log_events(logGroupName=args["progress_group"], logStreamName=progress_stream)
        lines = [event["message"] for event in events["events"]]
    except logs.exceptions.ResourceNotFoundException:
        pass
seen.set()
worker.join()
print(json.dumps({"progress_bar_lines": len(lines)}))
"""


@pytest.fixture
def clients(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3, aws_client("glue"), aws_client("logs")


def create_job(glue, s3, name: str, script: str, glue_version: str, **arguments: str) -> str:
    location = put(s3, f"scripts/{name}.py", textwrap.dedent(script))
    glue.create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/GlueLabRole",
        Command={"Name": "glueetl", "ScriptLocation": location, "PythonVersion": "3"},
        GlueVersion=glue_version,
        WorkerType="G.1X",
        NumberOfWorkers=2,
        DefaultArguments=arguments,
    )
    return name


def streams(logs, group: str) -> list[str]:
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        return []
    return sorted(s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"])


def test_glue_5_writes_stdout_and_stderr_to_output_and_the_driver_log_to_error(clients):
    s3, glue, logs = clients
    # Glue 5.0 has no continuous logging (a 4.0-and-earlier feature): the argument changes nothing.
    create_job(glue, s3, "carriers", COUNTS_CARRIERS, "5.0", **{"--enable-continuous-cloudwatch-log": "true"})

    run = run_job(glue, "carriers")

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert log_lines(logs, OUTPUT_LOG, run["Id"]) == ["2 carriers", "a warning on stderr"]
    driver_log = log_lines(logs, ERROR_LOG, run["Id"])
    assert any(SPARK_JOB_FINISHED.match(line) for line in driver_log), driver_log
    assert any(line.endswith(" INFO GlueLogger: carriers counted") for line in driver_log)
    assert "a warning on stderr" not in driver_log
    assert streams(logs, CONTINUOUS_LOG) == []


def test_error_log_stream_exists_for_a_script_that_logs_nothing(clients):
    s3, glue, logs = clients
    create_job(glue, s3, "quiet", "x = 1\n", "5.0")

    run = run_job(glue, "quiet")

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["Id"] in streams(logs, ERROR_LOG)  # a task that reads or prunes it finds it, as on AWS


def test_glue_4_continuous_logging_writes_the_driver_log_and_a_progress_bar(clients):
    s3, glue, logs = clients
    arguments = {
        "--enable-continuous-cloudwatch-log": "true",
        "--continuous-log-logGroup": "/glue-lab/continuous",
        "--continuous-log-logStreamPrefix": "flights-",
        "--progress_group": "/glue-lab/continuous",
        "--progress_stream_prefix": "flights-",
    }
    create_job(glue, s3, "continuous", WAITS_FOR_ITS_PROGRESS_BAR, "4.0", **arguments)

    run = run_job(glue, "continuous")

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert json.loads(log_lines(logs, OUTPUT_LOG, run["Id"])[-1])["progress_bar_lines"] >= 1
    driver_stream = f"flights-{run['Id']}"  # the prefix before the run id
    assert streams(logs, "/glue-lab/continuous") == [driver_stream, f"{driver_stream}-progress-bar"]
    continuous = log_lines(logs, "/glue-lab/continuous", driver_stream)
    assert any(line.endswith(" INFO GlueLogger: continuous logging on") for line in continuous)
    assert any(re.match(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d INFO DAGScheduler: Job \d+ finished: ", x) for x in continuous)
    progress_bar = log_lines(logs, "/glue-lab/continuous", f"{driver_stream}-progress-bar")
    assert all(re.fullmatch(r"Stage \d+ \(.+\): > \(\d+ \+ \d+\) / 2\]", line) for line in progress_bar), progress_bar
    # Glue 4.0 keeps stderr and the driver's log in the error log too.
    errors = log_lines(logs, ERROR_LOG, run["Id"])
    assert "a warning on stderr" in errors
    assert any(line.endswith(" INFO GlueLogger: continuous logging on") for line in errors)


def test_glue_4_continuous_logging_defaults_and_no_filter(clients):
    s3, glue, logs = clients
    arguments = {"--enable-continuous-cloudwatch-log": "true", "--enable-continuous-log-filter": "false"}
    create_job(glue, s3, "unfiltered", COUNTS_CARRIERS, "4.0", **arguments)
    create_job(glue, s3, "no-continuous", COUNTS_CARRIERS, "4.0")

    run = run_job(glue, "unfiltered")
    plain = run_job(glue, "no-continuous")

    assert (run["JobRunState"], plain["JobRunState"]) == ("SUCCEEDED", "SUCCEEDED")
    # The default group, no prefix (the stream is the run id); no progress bar without the standard filter.
    assert streams(logs, CONTINUOUS_LOG) == [run["Id"]]
    assert any(
        line.endswith(" INFO GlueLogger: carriers counted") for line in log_lines(logs, CONTINUOUS_LOG, run["Id"])
    )
    assert log_lines(logs, OUTPUT_LOG, plain["Id"]) == ["2 carriers"]
    assert "a warning on stderr" in log_lines(logs, ERROR_LOG, plain["Id"])


def test_provider_hook_prints_both_log_groups_of_a_run(clients, local_aws, capfd):
    from airflow.providers.amazon.aws.hooks.glue import GlueJobHook

    s3, glue, _ = clients
    create_job(glue, s3, "carriers", COUNTS_CARRIERS, "5.0")
    run = run_job(glue, "carriers")
    hook = GlueJobHook(aws_conn_id="aws_default", region_name="us-east-1")
    capfd.readouterr()

    hook.print_job_logs("carriers", run["Id"], GlueJobHook.LogContinuationTokens())

    printed = capfd.readouterr().out
    assert "Glue Job Run /aws-glue/jobs/output Logs:\n\t2 carriers\n\ta warning on stderr" in printed
    error_part = printed[printed.index("Glue Job Run /aws-glue/jobs/error Logs:") :]
    assert "INFO GlueLogger: carriers counted" in error_part
    assert re.search(r"INFO DAGScheduler: Job \d+ finished: count at ", error_part)

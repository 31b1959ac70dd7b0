"""labkit's S3 versioning, lifecycle, restore and teardown operators, executed against local AWS through aws_default."""

from __future__ import annotations

from datetime import UTC, timedelta
from types import SimpleNamespace

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.s3 import S3DeleteBucketOperator
from botocore.exceptions import ClientError

from labkit.core import environment
from labkit.operators.s3_config import (
    S3DeleteBucketLifecycleOperator,
    S3DeleteVersionedBucketOperator,
    S3LifecycleProgressOperator,
    S3PutBucketLifecycleOperator,
    S3PutBucketVersioningOperator,
    S3RestoreObjectOperator,
)
from local_aws import clock

BUCKET = "config-ops"
BIG = b"x" * (200 * 1024)
TIERING = {
    "ID": "tiering",
    "Filter": {"Prefix": "logs/"},
    "Status": "Enabled",
    "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 60, "StorageClass": "GLACIER"}],
    "Expiration": {"Days": 365},
}


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def test_versioning_is_enabled_idempotently_and_can_only_be_suspended(s3):
    assert S3PutBucketVersioningOperator(task_id="v", bucket_name=BUCKET).execute({}) == "Enabled"
    assert S3PutBucketVersioningOperator(task_id="again", bucket_name=BUCKET).execute({}) == "Enabled"
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert S3PutBucketVersioningOperator(task_id="s", bucket_name=BUCKET, status="Suspended").execute({}) == "Suspended"
    with pytest.raises(ValueError, match="cannot go back to unversioned"):
        S3PutBucketVersioningOperator(task_id="off", bucket_name=BUCKET, status="Disabled")


def test_lifecycle_rules_are_put_read_back_replaced_and_deleted(s3):
    stored = S3PutBucketLifecycleOperator(task_id="put", bucket_name=BUCKET, rules=[TIERING]).execute({})
    assert stored["Rules"] == [TIERING]
    assert stored["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"

    other = {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}}
    stored = S3PutBucketLifecycleOperator(
        task_id="replace",
        bucket_name=BUCKET,
        rules=[other],
        transition_default_minimum_object_size="varies_by_storage_class",
    ).execute({})
    assert [rule["ID"] for rule in stored["Rules"]] == ["tmp"]
    assert stored["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"

    bad = {**TIERING, "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]}
    with pytest.raises(ClientError, match="greater than or equal to 30"):
        S3PutBucketLifecycleOperator(task_id="bad", bucket_name=BUCKET, rules=[bad]).execute({})

    S3DeleteBucketLifecycleOperator(task_id="delete", bucket_name=BUCKET).execute({})
    with pytest.raises(ClientError, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)
    S3DeleteBucketLifecycleOperator(task_id="delete_again", bucket_name=BUCKET).execute({})  # no error


def test_restore_makes_an_archived_object_readable_and_a_rerun_is_harmless(s3):
    s3.put_object(Bucket=BUCKET, Key="archive.csv", Body=b"a,b", StorageClass="GLACIER")
    with pytest.raises(ClientError, match="InvalidObjectState"):
        s3.get_object(Bucket=BUCKET, Key="archive.csv")
    restore = S3RestoreObjectOperator(task_id="restore", bucket_name=BUCKET, key="archive.csv", days=2)
    assert restore.execute({}).startswith('ongoing-request="false", expiry-date=')
    assert s3.get_object(Bucket=BUCKET, Key="archive.csv")["Body"].read() == b"a,b"
    assert restore.execute({}).startswith('ongoing-request="false"')


def test_the_providers_force_delete_cannot_delete_a_versioned_bucket_and_ours_can(s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2"):
        s3.put_object(Bucket=BUCKET, Key="k", Body=body)
    s3.put_object(Bucket=BUCKET, Key="gone", Body=b"x")
    s3.delete_object(Bucket=BUCKET, Key="gone")
    s3.create_multipart_upload(Bucket=BUCKET, Key="half")

    with pytest.raises(ClientError, match="BucketNotEmpty"):
        S3DeleteBucketOperator(task_id="provider", bucket_name=BUCKET, force_delete=True).execute({})

    deleted = S3DeleteVersionedBucketOperator(task_id="ours", bucket_name=BUCKET).execute({})
    assert deleted == 5  # versions 1, 2 of k, gone, and the two delete markers the provider and we left
    assert BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert S3DeleteVersionedBucketOperator(task_id="missing", bucket_name=BUCKET).execute({}) == 0


def test_lifecycle_progress_on_local_aws_moves_the_clock_and_checks_the_classes(s3):
    S3PutBucketLifecycleOperator(task_id="put", bucket_name=BUCKET, rules=[TIERING]).execute({})
    s3.put_object(Bucket=BUCKET, Key="logs/big.log", Body=BIG)
    s3.put_object(Bucket=BUCKET, Key="logs/small.log", Body=b"tiny")

    first = S3LifecycleProgressOperator(
        task_id="d31", bucket_name=BUCKET, prefix="logs/", days_after_upload=31
    ).execute({})
    assert (first["environment"], first["applied"]) == ("local AWS", True)
    # The clock moved to 31 days after the upload (seconds ago).
    assert abs(clock.offset() - timedelta(days=31)) < timedelta(minutes=1)
    assert first["objects"]["logs/big.log"]["expected"] == first["objects"]["logs/big.log"]["observed"] == "STANDARD_IA"
    assert first["objects"]["logs/small.log"]["observed"] == "STANDARD"  # under 128 KB
    assert [e["action"] for e in first["objects"]["logs/big.log"]["schedule"]] == ["STANDARD_IA", "GLACIER", "expired"]

    second = S3LifecycleProgressOperator(
        task_id="d61", bucket_name=BUCKET, prefix="logs/", days_after_upload=61
    ).execute({})
    assert second["objects"]["logs/big.log"]["observed"] == "GLACIER"


def test_lifecycle_progress_on_aws_reports_the_schedule_without_waiting(s3, monkeypatch):
    monkeypatch.setattr(environment, "local_aws_clock_url", lambda hook: None)
    S3PutBucketLifecycleOperator(task_id="put", bucket_name=BUCKET, rules=[TIERING]).execute({})
    s3.put_object(Bucket=BUCKET, Key="logs/big.log", Body=BIG)
    written = s3.head_object(Bucket=BUCKET, Key="logs/big.log")["LastModified"]

    report = S3LifecycleProgressOperator(
        task_id="d31", bucket_name=BUCKET, prefix="logs/", days_after_upload=31
    ).execute({})
    assert (report["environment"], report["applied"]) == ("AWS", False)
    assert clock.offset().total_seconds() == 0
    entry = report["objects"]["logs/big.log"]
    assert (entry["expected"], entry["observed"]) == ("STANDARD_IA", "STANDARD")
    # Written today + 30 days, rounded up to the next midnight UTC.
    assert entry["schedule"][0] == {
        "date": (written.astimezone(UTC).date() + timedelta(days=31)).isoformat(),
        "action": "STANDARD_IA",
        "rule": "tiering",
    }


def test_lifecycle_progress_needs_rules_and_objects(s3):
    with pytest.raises(Exception, match="has no lifecycle configuration; put its rules first"):
        S3LifecycleProgressOperator(task_id="none", bucket_name=BUCKET, days_after_upload=1).execute({})
    S3PutBucketLifecycleOperator(task_id="put", bucket_name=BUCKET, rules=[TIERING]).execute({})
    with pytest.raises(Exception, match="no objects under"):
        S3LifecycleProgressOperator(task_id="empty", bucket_name=BUCKET, prefix="logs/", days_after_upload=1).execute(
            {}
        )


def test_local_aws_is_told_apart_from_aws_by_its_clock_endpoint(local_aws):
    assert environment.local_aws_clock_url(S3Hook()) == f"{local_aws.endpoint_url}/_local_aws/clock"
    # No connection: boto3 follows AWS_ENDPOINT_URL, and so does the detection.
    assert environment.local_aws_clock_url(S3Hook(aws_conn_id=None)) == f"{local_aws.endpoint_url}/_local_aws/clock"


@pytest.mark.parametrize("endpoint", ["https://s3.us-east-1.amazonaws.com", "http://127.0.0.1:9"])
def test_aws_and_endpoints_without_the_local_clock_count_as_aws(endpoint):
    hook = SimpleNamespace(conn=SimpleNamespace(meta=SimpleNamespace(endpoint_url=endpoint)))
    assert environment.local_aws_clock_url(hook) is None

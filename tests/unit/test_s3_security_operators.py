"""labkit's S3 encryption/logging, KMS key and client-side encryption operators, run against local AWS through aws_default."""

from __future__ import annotations

import hashlib
import json

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout

from labkit.operators.s3_security import (
    KmsCreateKeyOperator,
    KmsScheduleKeyDeletionOperator,
    S3AccessLogRecordsSensor,
    S3ClientSideEncryptedDownloadOperator,
    S3ClientSideEncryptedUploadOperator,
    S3DeleteBucketEncryptionOperator,
    S3PutBucketEncryptionOperator,
    S3PutBucketLoggingOperator,
)

DATA = b"origin,dest,flights\nJFK,LAX,11262\n"


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket="data")
    client.create_bucket(Bucket="logs")
    return client


def test_key_is_created_once_per_alias_and_comes_back_after_scheduled_deletion(aws_client):
    kms = aws_client("kms")
    arn = KmsCreateKeyOperator(task_id="create", alias="lab-key", description="lab").execute({})
    assert KmsCreateKeyOperator(task_id="again", alias="alias/lab-key").execute({}) == arn
    assert kms.describe_key(KeyId="alias/lab-key")["KeyMetadata"]["Arn"] == arn

    assert KmsScheduleKeyDeletionOperator(task_id="delete", key_id="alias/lab-key").execute({})
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    KmsScheduleKeyDeletionOperator(task_id="delete_again", key_id="alias/lab-key").execute({})  # no error

    # A rerun within the waiting period reuses the key: deletion cancelled, key enabled.
    assert KmsCreateKeyOperator(task_id="rerun", alias="lab-key").execute({}) == arn
    assert kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Enabled"
    assert KmsScheduleKeyDeletionOperator(task_id="missing", key_id="alias/never-made").execute({}) is None
    with pytest.raises(ValueError, match="7 to 30"):
        KmsScheduleKeyDeletionOperator(task_id="too_soon", key_id="alias/lab-key", pending_window_days=1)


def test_bucket_default_encryption_sse_kms_with_bucket_key_and_back_to_sse_s3(s3):
    arn = KmsCreateKeyOperator(task_id="key", alias="lab-key").execute({})
    rule = S3PutBucketEncryptionOperator(
        task_id="sse_kms",
        bucket_name="data",
        sse_algorithm="aws:kms",
        kms_key_id="alias/lab-key",
        bucket_key_enabled=True,
    ).execute({})
    assert rule == {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/lab-key"},
        "BucketKeyEnabled": True,
    }
    put = s3.put_object(Bucket="data", Key="k", Body=b"x")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"], put["BucketKeyEnabled"]) == ("aws:kms", arn, True)

    rule = S3DeleteBucketEncryptionOperator(task_id="delete", bucket_name="data").execute({})
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    with pytest.raises(ValueError, match="kms_key_id goes with"):
        S3PutBucketEncryptionOperator(task_id="bad", bucket_name="data", kms_key_id="alias/lab-key").execute({})


def test_logging_grants_delivery_in_the_target_policy_and_reruns_cleanly(s3):
    other = {
        "Sid": "KeepMe",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteBucket",
        "Resource": "arn:aws:s3:::logs",
    }
    s3.put_bucket_policy(Bucket="logs", Policy=json.dumps({"Version": "2012-10-17", "Statement": [other]}))
    for attempt in ("first", "rerun"):
        status = S3PutBucketLoggingOperator(
            task_id=attempt, bucket_name="data", target_bucket="logs", target_prefix="access/"
        ).execute({})
        assert status == {"TargetBucket": "logs", "TargetPrefix": "access/"}
    statements = json.loads(s3.get_bucket_policy(Bucket="logs")["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["KeepMe", "S3ServerAccessLogs-data"]
    grant = statements[1]
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert grant["Resource"] == "arn:aws:s3:::logs/access/*"
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}

    status = S3PutBucketLoggingOperator(
        task_id="partitioned",
        bucket_name="data",
        target_bucket="logs",
        target_prefix="p/",
        partition_date_source="EventTime",
    ).execute({})
    assert status["TargetObjectKeyFormat"] == {"PartitionedPrefix": {"PartitionDateSource": "EventTime"}}


def test_client_side_encrypted_upload_stores_ciphertext_and_download_restores_it(s3, tmp_path):
    KmsCreateKeyOperator(task_id="key", alias="cse").execute({})
    context = {"lab": "s3-lab3"}
    uploaded = S3ClientSideEncryptedUploadOperator(
        task_id="up",
        bucket_name="data",
        key="secret.csv",
        data=DATA.decode(),
        kms_key_id="alias/cse",
        encryption_context=context,
    ).execute({})
    assert uploaded["plaintext_bytes"] == len(DATA) and uploaded["stored_bytes"] == len(DATA) + 16
    stored = s3.get_object(Bucket="data", Key="secret.csv")["Body"].read()
    assert b"JFK" not in stored

    target = tmp_path / "secret.csv"
    downloaded = S3ClientSideEncryptedDownloadOperator(
        task_id="down", bucket_name="data", key="secret.csv", filename=str(target), expected_context=context
    ).execute({})
    assert downloaded["plaintext_sha256"] == uploaded["plaintext_sha256"] == hashlib.sha256(DATA).hexdigest()
    assert target.read_bytes() == DATA
    with pytest.raises(ValueError, match="exactly one"):
        S3ClientSideEncryptedUploadOperator(task_id="none", bucket_name="data", key="k", kms_key_id="alias/cse")


def test_sensor_waits_for_the_records_and_times_out_after_the_rendered_timeout(s3):
    S3PutBucketLoggingOperator(
        task_id="log", bucket_name="data", target_bucket="logs", target_prefix="access/"
    ).execute({})
    s3.put_object(Bucket="data", Key="a.csv", Body=b"x")
    s3.get_object(Bucket="data", Key="a.csv")
    sensor = S3AccessLogRecordsSensor(
        task_id="wait",
        bucket_name="logs",
        prefix="access/",
        source_bucket="data",
        expected=[["REST.PUT.OBJECT", "a.csv"], ["REST.GET.OBJECT", "a.csv"]],
        wait_timeout_seconds="30",
        poke_interval=1,
    )
    counts = sensor.execute({})  # local AWS delivers every few seconds by itself
    assert counts["REST.PUT.OBJECT"] == 1 and counts["REST.GET.OBJECT"] == 1

    never = S3AccessLogRecordsSensor(
        task_id="never",
        bucket_name="logs",
        prefix="access/",
        source_bucket="data",
        expected=[["REST.DELETE.OBJECT", "a.csv"]],
        wait_timeout_seconds="2",
        poke_interval=1,
    )
    with pytest.raises(AirflowSensorTimeout):
        never.execute({})

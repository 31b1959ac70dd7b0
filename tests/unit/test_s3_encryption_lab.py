"""S3 lab 3's work and checks (labkit.labs.s3_encryption), run against local AWS with boto3 S3 and KMS clients."""

from __future__ import annotations

import hashlib

import pytest

from labkit.core.validation import ValidationError
from labkit.labs import s3_encryption as lab
from labkit.operators import client_side_encryption

BUCKET = "encryption-lab"
ALIAS = "alias/encryption-lab"


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def kms(aws_client):
    client = aws_client("kms")
    key_id = client.create_key(Description="lab key")["KeyMetadata"]["KeyId"]
    client.create_alias(AliasName=ALIAS, TargetKeyId=key_id)
    return client


@pytest.fixture(scope="module")
def airlines() -> str:
    return lab.airlines_csv()


def test_uploads_report_sse_s3_by_default_then_the_customer_key_with_a_bucket_key(s3, kms):
    s3.put_object(Bucket=BUCKET, Key=lab.SSE_S3_KEY, Body=b"a")
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": ALIAS},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_object(Bucket=BUCKET, Key=lab.SSE_KMS_KEY, Body=b"b")

    described = lab.describe_encryption(s3, kms, BUCKET, ALIAS)

    arn = kms.describe_key(KeyId=ALIAS)["KeyMetadata"]["Arn"]
    assert described == {
        lab.SSE_S3_KEY: {"sse": "AES256", "kms_key": None, "bucket_key": False},
        lab.SSE_KMS_KEY: {"sse": "aws:kms", "kms_key": arn, "bucket_key": True},
        "key_arn": arn,
    }


def test_a_disabled_key_refuses_reads_and_is_enabled_again(s3, kms):
    assert lab.show_the_key_matters(s3, kms, BUCKET, ALIAS, wait_seconds=5, poll_seconds=0.1) == {
        "disabled": "KMS.DisabledException",
        "enabled": "read",
    }
    assert kms.describe_key(KeyId=ALIAS)["KeyMetadata"]["KeyState"] == "Enabled"
    head = s3.head_object(Bucket=BUCKET, Key=lab.NO_BUCKET_KEY)
    assert (head["ServerSideEncryption"], head.get("BucketKeyEnabled", False)) == ("aws:kms", False)


def test_s3_stores_ciphertext_for_the_client_side_object(s3, kms, airlines):
    encrypted = client_side_encryption.encrypt(kms, ALIAS, airlines.encode(), lab.CONTEXT)
    s3.put_object(Bucket=BUCKET, Key=lab.CLIENT_SIDE_KEY, Body=encrypted.body, Metadata=encrypted.metadata)

    stored = lab.stored_bytes(s3, BUCKET, airlines)

    # the 386-byte CSV and the 16-byte GCM tag, with the S3 Encryption Client v2 metadata
    assert stored == {"bytes": 402, "plaintext_visible": False, "metadata": sorted(encrypted.metadata)}
    assert len(stored["metadata"]) == 7
    s3.put_object(Bucket=BUCKET, Key=lab.CLIENT_SIDE_KEY, Body=airlines.encode())  # uploaded as it is
    assert lab.stored_bytes(s3, BUCKET, airlines) == {"bytes": 386, "plaintext_visible": True, "metadata": []}


def results(csv: str) -> dict:
    """What the lab's tasks return on a good run, for validate."""
    digest = hashlib.sha256(csv.encode()).hexdigest()
    return {
        "csv": csv,
        "encryption": {
            lab.SSE_S3_KEY: {"sse": "AES256", "kms_key": None, "bucket_key": False},
            lab.SSE_KMS_KEY: {"sse": "aws:kms", "kms_key": "arn:key", "bucket_key": True},
            "key_arn": "arn:key",
        },
        "key_matters": {"disabled": "KMS.DisabledException", "enabled": "read"},
        "uploaded": {"plaintext_sha256": digest, "stored_bytes": 402},
        "downloaded": {"plaintext_sha256": digest, "plaintext_bytes": len(csv.encode())},
        "stored": {"bytes": 402, "plaintext_visible": False, "metadata": ["x-amz-iv"]},
        "logged": {"REST.PUT.OBJECT": 3, "REST.HEAD.OBJECT": 1, "REST.GET.OBJECT": 2, "REST.GET.BUCKET": 1},
    }


def test_validate_reports_the_lab_figures(airlines):
    figures = lab.validate(**results(airlines))

    # what each object reports, what S3 holds for the client-side one, the logged operations in order
    assert [figures[k] for k in ("sse_s3_object", "sse_kms_object", "sse_kms_bucket_key")] == [
        "AES256",
        "aws:kms",
        True,
    ]
    assert (figures["client_side_plaintext_bytes"], figures["client_side_stored_bytes"]) == (386, 402)
    assert figures["log_operations"] == ["REST.GET.BUCKET", "REST.GET.OBJECT", "REST.HEAD.OBJECT", "REST.PUT.OBJECT"]
    assert (figures["log_records"], figures["read_with_key_disabled"]) == (7, "KMS.DisabledException")


def test_validate_names_every_difference(airlines):
    run = results(airlines)
    run["encryption"][lab.SSE_S3_KEY]["sse"] = "aws:kms"
    run["key_matters"] = {"disabled": None, "enabled": "read"}
    run["downloaded"]["plaintext_sha256"] = "0" * 64
    run["stored"]["plaintext_visible"] = True
    del run["logged"]["REST.HEAD.OBJECT"], run["logged"]["REST.GET.BUCKET"]

    with pytest.raises(ValidationError) as raised:
        lab.validate(**run)

    assert str(raised.value) == (
        "S3 lab 3: sse-s3/airlines.csv reports aws:kms, expected SSE-S3 (AES256) by default; "
        "reading with the key disabled/enabled gave {'disabled': None, 'enabled': 'read'}; "
        "the client-side encrypted object did not decrypt to the uploaded bytes; "
        "S3 holds plaintext or an unexpected size for client-side/airlines.csv: "
        "{'bytes': 402, 'plaintext_visible': True, 'metadata': ['x-amz-iv']}; "
        "access logs lack ['REST.GET.BUCKET', 'REST.HEAD.OBJECT']"
    )

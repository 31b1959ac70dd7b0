"""Client-side envelope encryption against local KMS and S3: S3 holds ciphertext, only KMS and the context open it."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

from labkit.operators.client_side_encryption import (
    ClientSideDecryptionError,
    decrypt,
    encrypt,
    get_decrypted_object,
    put_encrypted_object,
)

PLAINTEXT = b"carrier,flights\nUA,58665\n" * 10
CONTEXT = {"purpose": "lab", "dataset": "flights"}


@pytest.fixture
def clients(aws_client):
    kms = aws_client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/cse", TargetKeyId=key["KeyId"])
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="cse")
    return s3, kms, key


def test_s3_stores_ciphertext_and_the_round_trip_restores_the_bytes(clients):
    s3, kms, _ = clients
    put_encrypted_object(s3, kms, "cse", "flights.csv", PLAINTEXT, "alias/cse", CONTEXT)

    stored = s3.get_object(Bucket="cse", Key="flights.csv")
    body, metadata = stored["Body"].read(), stored["Metadata"]
    assert len(body) == len(PLAINTEXT) + 16 and b"UA,58665" not in body  # ciphertext plus the GCM tag
    assert metadata["x-amz-cek-alg"] == "AES/GCM/NoPadding" and metadata["x-amz-wrap-alg"] == "kms+context"
    assert metadata["x-amz-tag-len"] == "128" and metadata["x-amz-unencrypted-content-length"] == str(len(PLAINTEXT))
    assert len(base64.b64decode(metadata["x-amz-iv"])) == 12
    assert json.loads(metadata["x-amz-matdesc"]) == {**CONTEXT, "aws:x-amz-cek-alg": "AES/GCM/NoPadding"}

    assert get_decrypted_object(s3, kms, "cse", "flights.csv", expected_context=CONTEXT) == PLAINTEXT


def test_each_encryption_uses_a_fresh_data_key_and_nonce(clients):
    _, kms, _ = clients
    first, second = encrypt(kms, "alias/cse", PLAINTEXT), encrypt(kms, "alias/cse", PLAINTEXT)
    assert first.body != second.body
    assert first.metadata["x-amz-key-v2"] != second.metadata["x-amz-key-v2"]
    assert decrypt(kms, second.body, second.metadata) == PLAINTEXT


def test_a_changed_body_fails_authentication(clients):
    _, kms, _ = clients
    encrypted = encrypt(kms, "alias/cse", PLAINTEXT, CONTEXT)
    tampered = bytes([encrypted.body[0] ^ 1]) + encrypted.body[1:]
    with pytest.raises(ClientSideDecryptionError, match="failed authentication"):
        decrypt(kms, tampered, encrypted.metadata)


def test_another_context_fails(clients):
    _, kms, _ = clients
    encrypted = encrypt(kms, "alias/cse", PLAINTEXT, CONTEXT)
    with pytest.raises(ClientSideDecryptionError, match="does not match the expected"):
        decrypt(kms, encrypted.body, encrypted.metadata, expected_context={"purpose": "other"})
    # Rewriting the stored context does not help: KMS binds the data key to the original context.
    forged = {**encrypted.metadata, "x-amz-matdesc": json.dumps({**CONTEXT, "purpose": "other"})}
    with pytest.raises(ClientSideDecryptionError, match="KMS refused"):
        decrypt(kms, encrypted.body, forged)


def test_a_disabled_key_keeps_the_object_closed(clients):
    _, kms, key = clients
    encrypted = encrypt(kms, "alias/cse", PLAINTEXT)
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError, match="DisabledException"):
        decrypt(kms, encrypted.body, encrypted.metadata)


def test_a_plain_object_is_reported_as_not_encrypted(clients):
    s3, kms, _ = clients
    s3.put_object(Bucket="cse", Key="plain.csv", Body=PLAINTEXT)
    with pytest.raises(ClientSideDecryptionError, match="not client-side encrypted"):
        get_decrypted_object(s3, kms, "cse", "plain.csv")

"""Client-side envelope encryption for S3 objects with a KMS key, in the S3 Encryption Client v2 layout.

The object is encrypted before it leaves the client: KMS GenerateDataKey (with an encryption context)
returns a fresh 256-bit data key in plaintext and encrypted under the KMS key; the plaintext key
encrypts the body with AES-256-GCM and is then forgotten; the encrypted key travels with the object as
user metadata, with the names the AWS S3 Encryption Client v2 uses:

    x-amz-key-v2      base64 of the encrypted data key (KMS CiphertextBlob)
    x-amz-iv          base64 of the 12-byte GCM nonce
    x-amz-cek-alg     AES/GCM/NoPadding (the body is ciphertext followed by the 16-byte tag)
    x-amz-tag-len     128
    x-amz-wrap-alg    kms+context
    x-amz-matdesc     the encryption context as JSON (it includes aws:x-amz-cek-alg, as the v2 client does)
    x-amz-unencrypted-content-length

Decrypting asks KMS to Decrypt the data key with the stored context (KMS refuses a changed context), then
AES-GCM authenticates the body (a changed byte fails). S3 only ever stores ciphertext; reading needs
kms:Decrypt on the key. Functions take boto3 clients (from the provider's hooks inside Airflow).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CEK_ALG = "AES/GCM/NoPadding"
WRAP_ALG = "kms+context"
TAG_BITS = 128
# The v2 client binds the content algorithm into the KMS encryption context under this reserved key.
CEK_ALG_CONTEXT_KEY = "aws:x-amz-cek-alg"


class ClientSideDecryptionError(ValueError):
    """The object cannot be decrypted: not client-side encrypted, tampered with, or another context."""


@dataclass(frozen=True)
class EncryptedObject:
    body: bytes
    metadata: dict[str, str]


def encrypt(kms: Any, key_id: str, plaintext: bytes, context: dict[str, str] | None = None) -> EncryptedObject:
    """Envelope-encrypt plaintext under the KMS key key_id (ID, ARN or alias)."""
    context = {**(context or {}), CEK_ALG_CONTEXT_KEY: CEK_ALG}
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    nonce = os.urandom(12)
    body = AESGCM(data_key["Plaintext"]).encrypt(nonce, plaintext, None)
    metadata = {
        "x-amz-key-v2": base64.b64encode(data_key["CiphertextBlob"]).decode(),
        "x-amz-iv": base64.b64encode(nonce).decode(),
        "x-amz-cek-alg": CEK_ALG,
        "x-amz-tag-len": str(TAG_BITS),
        "x-amz-wrap-alg": WRAP_ALG,
        "x-amz-matdesc": json.dumps(context, sort_keys=True, separators=(",", ":")),
        "x-amz-unencrypted-content-length": str(len(plaintext)),
    }
    return EncryptedObject(body, metadata)


def decrypt(kms: Any, body: bytes, metadata: dict[str, str], expected_context: dict[str, str] | None = None) -> bytes:
    """The plaintext of an object encrypt() made; expected_context must be part of the stored context."""
    missing = [name for name in ("x-amz-key-v2", "x-amz-iv", "x-amz-matdesc") if name not in metadata]
    if missing:
        raise ClientSideDecryptionError(f"object is not client-side encrypted (metadata lacks {', '.join(missing)})")
    if metadata.get("x-amz-cek-alg") != CEK_ALG or metadata.get("x-amz-wrap-alg") != WRAP_ALG:
        raise ClientSideDecryptionError(
            f"unsupported algorithms cek={metadata.get('x-amz-cek-alg')} wrap={metadata.get('x-amz-wrap-alg')}; "
            f"this helper reads {CEK_ALG} with {WRAP_ALG}"
        )
    context = json.loads(metadata["x-amz-matdesc"])
    differing = {k: v for k, v in (expected_context or {}).items() if context.get(k) != v}
    if differing:
        raise ClientSideDecryptionError(
            f"encryption context {context} does not match the expected {expected_context} (differs in {sorted(differing)})"
        )
    try:
        data_key = kms.decrypt(CiphertextBlob=base64.b64decode(metadata["x-amz-key-v2"]), EncryptionContext=context)
    except kms.exceptions.InvalidCiphertextException as error:
        raise ClientSideDecryptionError(f"KMS refused the data key (key or context changed): {error}") from error
    try:
        return AESGCM(data_key["Plaintext"]).decrypt(base64.b64decode(metadata["x-amz-iv"]), body, None)
    except InvalidTag:
        raise ClientSideDecryptionError(
            "the object body failed authentication: it was changed after encryption"
        ) from None


def put_encrypted_object(
    s3: Any, kms: Any, bucket: str, key: str, plaintext: bytes, key_id: str, context: dict[str, str] | None = None
) -> dict[str, Any]:
    """Encrypt and upload; returns the PutObject response."""
    encrypted = encrypt(kms, key_id, plaintext, context)
    return s3.put_object(Bucket=bucket, Key=key, Body=encrypted.body, Metadata=encrypted.metadata)


def get_decrypted_object(
    s3: Any, kms: Any, bucket: str, key: str, expected_context: dict[str, str] | None = None
) -> bytes:
    """Download and decrypt an object put_encrypted_object (or the S3 Encryption Client v2 with KMS) wrote."""
    response = s3.get_object(Bucket=bucket, Key=key)
    return decrypt(kms, response["Body"].read(), response["Metadata"], expected_context)

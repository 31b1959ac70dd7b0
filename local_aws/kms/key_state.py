"""Key states that matter, as on AWS: moto 5.2.5 encrypts and decrypts with a disabled key or one pending deletion.

On AWS every cryptographic operation (Encrypt, Decrypt, GenerateDataKey*, ReEncrypt) with a key that is not
Enabled fails: DisabledException for a disabled key, KMSInvalidStateException for one pending deletion (or
import). `usable_key` is the same check for other services: S3 calls it for SSE-KMS (local_aws/s3/encryption.py).
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.kms.exceptions import NotFoundException
from moto.kms.models import Key, KmsBackend, kms_backends

from local_aws.arns import Arn
from local_aws.patching import Patches

# GenerateDataKey(WithoutPlaintext) and ReEncrypt go through encrypt/decrypt, so they are covered too.
patches = Patches(__name__)


class DisabledException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("DisabledException", message)


class KMSInvalidStateException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("KMSInvalidStateException", message)


class InvalidKeyUsageException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("InvalidKeyUsageException", message)


def check_enabled(key: Key) -> Key:
    """Raise what AWS raises when key cannot encrypt or decrypt now."""
    if key.key_state == "Disabled":
        raise DisabledException(f"{key.arn} is disabled.")
    if key.key_state == "PendingDeletion":
        raise KMSInvalidStateException(f"{key.arn} is pending deletion.")
    if key.key_state != "Enabled":
        raise KMSInvalidStateException(f"{key.arn} is in state {key.key_state}; it must be Enabled.")
    return key


def usable_key(account_id: str, region: str, key_id: str) -> Key:
    """The symmetric encryption key key_id names (key ID, key ARN, alias name or alias ARN), enabled.

    An ARN names its own account and region; a bare ID or alias is looked up in account_id/region.
    The AWS managed alias aws/s3 is created on first use, as AWS does.
    """
    if key_id.startswith("arn:"):
        try:
            arn = Arn.parse(key_id)
        except ValueError:
            arn = None
        if arn is None or arn.service != "kms" or not arn.resource.startswith(("key/", "alias/")):
            raise NotFoundException(f"Invalid arn {key_id}")
        region, account_id = arn.region, arn.account
    backend: KmsBackend = kms_backends[account_id][region]
    alias = backend.get_alias_name(key_id)
    if alias.startswith("alias/"):
        raw_id = backend.get_key_id_from_alias(alias)
        if raw_id is None:
            raise NotFoundException(f"Alias arn:aws:kms:{region}:{account_id}:{alias} is not found.")
    elif key_id.startswith("arn:") or _looks_like_key_id(key_id):
        raw_id = backend.get_key_id(key_id)
    else:
        raise NotFoundException(f"Invalid keyId {key_id}")
    key = backend.keys.get(raw_id)
    if key is None:
        raise NotFoundException(f"Key 'arn:aws:kms:{region}:{account_id}:key/{raw_id}' does not exist")
    # moto leaves key_usage None when CreateKey omits it; AWS defaults it to ENCRYPT_DECRYPT.
    if (key.key_usage or "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT" or key.key_spec != "SYMMETRIC_DEFAULT":
        raise InvalidKeyUsageException(
            f"{key.arn} is a {key.key_spec} {key.key_usage} key; encryption needs a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key."
        )
    return check_enabled(key)


def _looks_like_key_id(key_id: str) -> bool:
    body = key_id.removeprefix("mrk-")
    return len(body.split("-")) == 5 and all(c in "0123456789abcdefABCDEF-" for c in body)


@patches.wrap(KmsBackend, "encrypt")
def _encrypt(original, self: KmsBackend, key_id: str, *args: Any, **kwargs: Any) -> tuple[bytes, str]:
    raw_id = self.any_id_to_key_id(key_id)
    if raw_id in self.keys:  # a missing key keeps moto's NotFoundException
        check_enabled(self.keys[raw_id])
    return original(self, key_id, *args, **kwargs)


@patches.wrap(KmsBackend, "decrypt")
def _decrypt(original, self: KmsBackend, *args: Any, **kwargs: Any) -> tuple[bytes, str]:
    plaintext, arn = original(self, *args, **kwargs)
    check_enabled(self.keys[self.get_key_id(arn)])
    return plaintext, arn

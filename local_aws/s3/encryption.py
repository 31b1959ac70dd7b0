"""Server-side encryption as S3 reports it, with SSE-KMS depending on a real (moto) KMS key.

What moto 5.2.5 lacks and this adds:
- Every bucket has default encryption SSE-S3 (AES256), as on AWS since January 2023: GetBucketEncryption
  returns it, objects stored without SSE headers report `ServerSideEncryption: AES256`, and
  DeleteBucketEncryption falls back to it.
- SSE-KMS (request headers or bucket default) resolves the key: a key ID, alias or ARN is reported back as
  the key ARN, `aws:kms` without a key uses the AWS managed key `aws/s3`, and a missing, disabled or
  pending-deletion key fails PutObject, CopyObject, CreateMultipartUpload and UploadPart with S3's
  `KMS.NotFoundException` / `KMS.DisabledException` / `KMS.KMSInvalidStateException` (400).
- GetObject of an SSE-KMS object needs its key usable (AWS decrypts the data key with it); HeadObject does not.

Differs from AWS: the bytes are not encrypted at rest (moto keeps them in memory or temporary files as
given); the KMS dependency, the headers and the errors are what a user can observe, and they are real.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.s3.exceptions import S3ClientError
from moto.s3.models import FakeBucket, S3Backend
from moto.s3.responses import S3Response

from local_aws.kms.key_state import usable_key
from local_aws.patching import Patches

SSE_S3 = "AES256"
SSE_KMS = ("aws:kms", "aws:kms:dsse")
AWS_MANAGED_S3_KEY = "alias/aws/s3"
DEFAULT_ENCRYPTION = {
    "Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE_S3}, "BucketKeyEnabled": False}
}

# After versioning: put_object wraps suspended versioning's, so a suspended bucket's writes are encrypted too.
patches = Patches(__name__, after=("local_aws.s3.versioning",))


class KMSError(S3ClientError):
    """A KMS failure as S3 reports it: code KMS.<KMS error code>, status 400."""

    code = 400

    def __init__(self, error: JsonRESTError):
        super().__init__(f"KMS.{error.error_type}", error.message)


def _as_bool(value: Any) -> bool | None:
    if value is None:
        return None
    return str(value).lower() == "true"


def kms_key_arn(account_id: str, region: str, key_id: str) -> str:
    try:
        return usable_key(account_id, region, key_id).arn
    except JsonRESTError as error:
        raise KMSError(error) from None


def resolve(
    bucket: FakeBucket, encryption: str | None, kms_key_id: str | None, bucket_key_enabled: Any
) -> tuple[str, str | None, bool | None]:
    """(algorithm, key ARN, bucket key) for an object written to bucket with these request headers."""
    rule = (bucket.encryption or DEFAULT_ENCRYPTION)["Rule"]
    default = rule["ApplyServerSideEncryptionByDefault"]
    if encryption is None:
        if kms_key_id:
            raise S3ClientError(
                "InvalidArgument",
                "Server Side Encryption with AWS KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms",
            )
        encryption = default["SSEAlgorithm"]
        kms_key_id = default.get("KMSMasterKeyID") if encryption in SSE_KMS else None
    if encryption == SSE_S3:
        return SSE_S3, None, None
    if encryption not in SSE_KMS:
        raise S3ClientError("InvalidArgument", f"The encryption method {encryption} is not supported")
    if bucket_key_enabled is None and default["SSEAlgorithm"] in SSE_KMS:
        bucket_key_enabled = rule.get("BucketKeyEnabled")
    # No key named: S3 uses the account's AWS managed key aws/s3 (created on first use).
    arn = kms_key_arn(bucket.account_id, bucket.region_name, kms_key_id or AWS_MANAGED_S3_KEY)
    return encryption, arn, bool(_as_bool(bucket_key_enabled))


@patches.wrap(S3Backend, "get_bucket_encryption")
def _get_bucket_encryption(original, self: S3Backend, bucket_name: str) -> dict[str, Any]:
    return original(self, bucket_name) or DEFAULT_ENCRYPTION


@patches.wrap(S3Backend, "put_object")
def _put_object(
    original,
    self: S3Backend,
    bucket_name: str,
    key_name: str,
    value: bytes,
    *args: Any,
    encryption: str | None = None,
    kms_key_id: str | None = None,
    bucket_key_enabled: Any = None,
    **kwargs: Any,
):
    # Resolve (and fail) before moto stores anything: a failed PutObject leaves no object behind.
    sse = resolve(self.get_bucket(bucket_name), encryption, kms_key_id, bucket_key_enabled)
    key = original(
        self,
        bucket_name,
        key_name,
        value,
        *args,
        encryption=sse[0],
        kms_key_id=sse[1],
        bucket_key_enabled=sse[2],
        **kwargs,
    )
    # moto merges the bucket default into unset fields; the resolved values are the whole answer.
    key.encryption, key.kms_key_id, key.bucket_key_enabled = sse
    return key


@patches.wrap(S3Backend, "copy_object")
def _copy_object(original, self: S3Backend, src_key: Any, *args: Any, **kwargs: Any) -> Any:
    # Copying reads the source: its SSE-KMS key must be usable, as for GetObject.
    if src_key.encryption in SSE_KMS and src_key.kms_key_id:
        kms_key_arn(src_key.account_id, src_key.region_name, src_key.kms_key_id)
    return original(self, src_key, *args, **kwargs)


@patches.wrap(S3Backend, "create_multipart_upload")
def _create_multipart_upload(
    original, self: S3Backend, bucket_name, key_name, metadata, storage_type, tags, acl, sse_encryption, kms_key_id
):
    # AWS asks KMS for the upload's data key when the upload starts, so a bad key fails here.
    encryption, arn, _ = resolve(self.get_bucket(bucket_name), sse_encryption, kms_key_id, None)
    return original(self, bucket_name, key_name, metadata, storage_type, tags, acl, encryption, arn)


@patches.wrap(S3Backend, "upload_part")
def _upload_part(original, self: S3Backend, bucket_name: str, multipart_id: str, *args: Any, **kwargs: Any) -> Any:
    # Each part of an SSE-KMS upload is encrypted under the upload's data key: the key must still be usable.
    multipart = self.get_bucket(bucket_name).multiparts.get(multipart_id)
    if multipart is not None and multipart.sse_encryption in SSE_KMS and multipart.kms_key_id:
        kms_key_arn(self.account_id, self.region_name, multipart.kms_key_id)
    return original(self, bucket_name, multipart_id, *args, **kwargs)


@patches.wrap(S3Response, "get_object")
def _get_object(original, self: S3Response):
    status, headers, body = original(self)
    if status in (200, 206) and headers.get("x-amz-server-side-encryption") in SSE_KMS:
        key_arn = headers["x-amz-server-side-encryption-aws-kms-key-id"]
        kms_key_arn(self.current_account, self.region, key_arn)
    return status, headers, body

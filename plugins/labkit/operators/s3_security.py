"""S3 encryption, server access logging and KMS keys: the provider has no operators for them.

- S3PutBucketEncryptionOperator / S3DeleteBucketEncryptionOperator: default encryption (SSE-S3, SSE-KMS
  with an optional S3 Bucket Key).
- S3PutBucketLoggingOperator: server access logging, granting the logging service write access to the
  target through the target's bucket policy (AWS's recommended way; the legacy ACL grant is not used).
- KmsCreateKeyOperator / KmsScheduleKeyDeletionOperator: a customer managed key found by its alias
  (idempotent, a rerun after teardown cancels the pending deletion), and its teardown.
- S3ClientSideEncryptedUploadOperator / ...DownloadOperator: envelope encryption in the task
  (labkit.operators.client_side_encryption), so S3 only ever receives ciphertext.
- S3AccessLogRecordsSensor: waits until the target bucket holds log records for the requests named.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError

from labkit.operators import client_side_encryption
from labkit.operators.s3_access_logs import parse_log_object

LOGGING_SERVICE = "logging.s3.amazonaws.com"
SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")


def _kms_client(operator: AwsBaseOperator) -> Any:
    """A KMS client on the operator's connection and region."""
    return AwsBaseHook(
        aws_conn_id=operator.aws_conn_id,
        region_name=operator.region_name,
        verify=operator.verify,
        config=operator.botocore_config,
        client_type="kms",
    ).conn


class S3PutBucketEncryptionOperator(AwsBaseOperator[S3Hook]):
    """Set a bucket's default encryption; returns the rule S3 then reports.

    sse_algorithm AES256 (SSE-S3) or aws:kms (SSE-KMS, with kms_key_id: key ID, ARN or alias; none means
    the AWS managed key aws/s3). bucket_key_enabled: an S3 Bucket Key cuts S3's calls to KMS (SSE-KMS only).
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name", "sse_algorithm", "kms_key_id")

    def __init__(
        self,
        *,
        bucket_name: str,
        sse_algorithm: str = "AES256",
        kms_key_id: str | None = None,
        bucket_key_enabled: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.sse_algorithm = sse_algorithm
        self.kms_key_id = kms_key_id
        self.bucket_key_enabled = bucket_key_enabled

    def execute(self, context) -> dict[str, Any]:
        if self.sse_algorithm not in SSE_ALGORITHMS:
            raise ValueError(f"sse_algorithm must be one of {SSE_ALGORITHMS}, got {self.sse_algorithm!r}")
        if self.kms_key_id and self.sse_algorithm == "AES256":
            raise ValueError("kms_key_id goes with sse_algorithm='aws:kms'; SSE-S3 (AES256) uses S3's own keys")
        default: dict[str, str] = {"SSEAlgorithm": self.sse_algorithm}
        if self.kms_key_id:
            default["KMSMasterKeyID"] = self.kms_key_id
        conn = self.hook.conn
        conn.put_bucket_encryption(
            Bucket=self.bucket_name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": self.bucket_key_enabled}]
            },
        )
        rule = conn.get_bucket_encryption(Bucket=self.bucket_name)["ServerSideEncryptionConfiguration"]["Rules"][0]
        self.log.info("Default encryption of bucket %s: %s", self.bucket_name, rule)
        return rule


class S3DeleteBucketEncryptionOperator(AwsBaseOperator[S3Hook]):
    """Remove a bucket's default encryption configuration (S3 falls back to SSE-S3); returns the rule then in force."""

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name")

    def __init__(self, *, bucket_name: str, **kwargs):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name

    def execute(self, context) -> dict[str, Any]:
        conn = self.hook.conn
        conn.delete_bucket_encryption(Bucket=self.bucket_name)
        rule = conn.get_bucket_encryption(Bucket=self.bucket_name)["ServerSideEncryptionConfiguration"]["Rules"][0]
        self.log.info("Bucket %s default encryption removed; now %s", self.bucket_name, rule)
        return rule


def log_delivery_statement(target_bucket: str, target_prefix: str, source_bucket: str, account_id: str) -> dict:
    """The bucket-policy statement AWS documents for server access log delivery from one source bucket."""
    return {
        "Sid": f"S3ServerAccessLogs-{source_bucket}",
        "Effect": "Allow",
        "Principal": {"Service": LOGGING_SERVICE},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{target_bucket}/{target_prefix}*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{source_bucket}"},
            "StringEquals": {"aws:SourceAccount": account_id},
        },
    }


class S3PutBucketLoggingOperator(AwsBaseOperator[S3Hook]):
    """Turn on server access logging of bucket_name into target_bucket under target_prefix.

    First grants the logging service s3:PutObject on target_bucket/target_prefix* for this source bucket
    and account in the target's bucket policy (its statement is added or replaced, others are kept),
    since PutBucketLogging fails without it. partition_date_source "EventTime" or "DeliveryTime" selects
    the partitioned key layout (account/region/bucket/YYYY/MM/DD/...); None the simple one.
    Returns the LoggingEnabled configuration S3 then reports.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name", "target_bucket", "target_prefix")

    def __init__(
        self,
        *,
        bucket_name: str,
        target_bucket: str,
        target_prefix: str = "",
        partition_date_source: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.target_bucket = target_bucket
        self.target_prefix = target_prefix
        self.partition_date_source = partition_date_source

    def execute(self, context) -> dict[str, Any]:
        if self.target_bucket == self.bucket_name:
            self.log.warning("Bucket %s logs into itself: reading its logs makes more logs", self.bucket_name)
        conn = self.hook.conn
        self._grant_log_delivery(conn)
        enabled: dict[str, Any] = {"TargetBucket": self.target_bucket, "TargetPrefix": self.target_prefix}
        if self.partition_date_source:
            enabled["TargetObjectKeyFormat"] = {
                "PartitionedPrefix": {"PartitionDateSource": self.partition_date_source}
            }
        conn.put_bucket_logging(Bucket=self.bucket_name, BucketLoggingStatus={"LoggingEnabled": enabled})
        status = conn.get_bucket_logging(Bucket=self.bucket_name)["LoggingEnabled"]
        self.log.info("Server access logging of %s: %s", self.bucket_name, status)
        return status

    def _grant_log_delivery(self, conn: Any) -> None:
        try:
            policy = json.loads(conn.get_bucket_policy(Bucket=self.target_bucket)["Policy"])
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
                raise
            policy = {"Version": "2012-10-17", "Statement": []}
        statement = log_delivery_statement(
            self.target_bucket, self.target_prefix, self.bucket_name, self.hook.account_id
        )
        others = [s for s in policy.get("Statement", []) if s.get("Sid") != statement["Sid"]]
        policy["Statement"] = [*others, statement]
        conn.put_bucket_policy(Bucket=self.target_bucket, Policy=json.dumps(policy))
        self.log.info("Bucket policy of %s lets %s write %s*", self.target_bucket, LOGGING_SERVICE, self.target_prefix)


class KmsCreateKeyOperator(AwsBaseOperator[AwsBaseHook]):
    """A symmetric customer managed key named by alias (alias/... or the bare name); returns its ARN.

    Idempotent on the alias: an existing key is reused; one disabled or pending deletion (a rerun after
    teardown, within the waiting period) is brought back: deletion cancelled, key enabled.
    """

    aws_hook_class = AwsBaseHook
    template_fields: Sequence[str] = aws_template_fields("alias", "description")

    def __init__(self, *, alias: str, description: str = "", enable_rotation: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.alias = alias
        self.description = description
        self.enable_rotation = enable_rotation

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "client_type": "kms"}

    def execute(self, context) -> str:
        kms = self.hook.conn
        alias = self.alias if self.alias.startswith("alias/") else f"alias/{self.alias}"
        try:
            key = kms.describe_key(KeyId=alias)["KeyMetadata"]
        except kms.exceptions.NotFoundException:
            key = kms.create_key(Description=self.description, KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT")[
                "KeyMetadata"
            ]
            kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
            self.log.info("Created KMS key %s as %s", key["Arn"], alias)
        else:
            if key["KeyState"] == "PendingDeletion":
                kms.cancel_key_deletion(KeyId=key["KeyId"])
                self.log.info("Key %s (%s) was pending deletion; deletion cancelled", key["Arn"], alias)
            if key["KeyState"] in ("PendingDeletion", "Disabled"):
                kms.enable_key(KeyId=key["KeyId"])
            self.log.info("Using existing KMS key %s (%s)", key["Arn"], alias)
        if self.enable_rotation:
            kms.enable_key_rotation(KeyId=key["KeyId"])
        return key["Arn"]


class KmsScheduleKeyDeletionOperator(AwsBaseOperator[AwsBaseHook]):
    """Schedule deletion of a key (ID, ARN or alias) after pending_window_days (AWS: 7 to 30).

    A missing key or one already pending deletion is not an error. The alias is kept, so a rerun of the
    lab within the window finds the key and cancels the deletion (AWS removes the alias with the key).
    """

    aws_hook_class = AwsBaseHook
    template_fields: Sequence[str] = aws_template_fields("key_id")

    def __init__(self, *, key_id: str, pending_window_days: int = 7, **kwargs):
        super().__init__(**kwargs)
        if not 7 <= pending_window_days <= 30:
            raise ValueError(f"pending_window_days must be 7 to 30 (AWS's limits), got {pending_window_days}")
        self.key_id = key_id
        self.pending_window_days = pending_window_days

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "client_type": "kms"}

    def execute(self, context) -> str | None:
        kms = self.hook.conn
        try:
            key = kms.describe_key(KeyId=self.key_id)["KeyMetadata"]
        except kms.exceptions.NotFoundException:
            self.log.info("KMS key %s does not exist; nothing to delete", self.key_id)
            return None
        if key["KeyState"] != "PendingDeletion":
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=self.pending_window_days)
        deletion = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"].get("DeletionDate")
        self.log.info("KMS key %s is pending deletion (deleted on %s)", key["Arn"], deletion)
        return str(deletion)


class S3ClientSideEncryptedUploadOperator(AwsBaseOperator[S3Hook]):
    """Encrypt data (str/bytes) or filename in the task with a KMS data key and upload the ciphertext.

    Returns {"key", "plaintext_bytes", "stored_bytes", "plaintext_sha256"}.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields(
        "bucket_name", "key", "data", "filename", "kms_key_id", "encryption_context"
    )

    def __init__(
        self,
        *,
        bucket_name: str,
        key: str,
        kms_key_id: str,
        data: str | bytes | None = None,
        filename: str | None = None,
        encryption_context: dict[str, str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (data is None) == (filename is None):
            raise ValueError("give exactly one of data and filename")
        self.bucket_name = bucket_name
        self.key = key
        self.kms_key_id = kms_key_id
        self.data = data
        self.filename = filename
        self.encryption_context = encryption_context

    def execute(self, context) -> dict[str, Any]:
        if self.filename is not None:
            plaintext = Path(self.filename).read_bytes()
        else:
            plaintext = self.data.encode() if isinstance(self.data, str) else self.data
        encrypted = client_side_encryption.encrypt(
            _kms_client(self), self.kms_key_id, plaintext, self.encryption_context
        )
        self.hook.conn.put_object(
            Bucket=self.bucket_name, Key=self.key, Body=encrypted.body, Metadata=encrypted.metadata
        )
        self.log.info(
            "Uploaded s3://%s/%s encrypted client-side (%d bytes)", self.bucket_name, self.key, len(encrypted.body)
        )
        return {
            "key": self.key,
            "plaintext_bytes": len(plaintext),
            "stored_bytes": len(encrypted.body),
            "plaintext_sha256": hashlib.sha256(plaintext).hexdigest(),
        }


class S3ClientSideEncryptedDownloadOperator(AwsBaseOperator[S3Hook]):
    """Download and decrypt an object encrypted client-side; writes it to filename when given.

    expected_context must be part of the object's encryption context. Returns {"key", "plaintext_bytes",
    "plaintext_sha256", "filename"}.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name", "key", "filename", "expected_context")

    def __init__(
        self,
        *,
        bucket_name: str,
        key: str,
        filename: str | None = None,
        expected_context: dict[str, str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.key = key
        self.filename = filename
        self.expected_context = expected_context

    def execute(self, context) -> dict[str, Any]:
        plaintext = client_side_encryption.get_decrypted_object(
            self.hook.conn, _kms_client(self), self.bucket_name, self.key, self.expected_context
        )
        if self.filename:
            Path(self.filename).parent.mkdir(parents=True, exist_ok=True)
            Path(self.filename).write_bytes(plaintext)
        self.log.info("Decrypted s3://%s/%s (%d bytes)", self.bucket_name, self.key, len(plaintext))
        return {
            "key": self.key,
            "plaintext_bytes": len(plaintext),
            "plaintext_sha256": hashlib.sha256(plaintext).hexdigest(),
            "filename": self.filename,
        }


class S3AccessLogRecordsSensor(AwsBaseSensor[S3Hook]):
    """Wait until server access log records of source_bucket in bucket_name/prefix cover `expected`.

    expected: [operation, key] pairs (key "-" for bucket requests), e.g. [["REST.PUT.OBJECT", "a.csv"]].
    AWS delivers logs best effort, most within a few hours, and only for requests made once logging has
    taken effect (up to an hour after PutBucketLogging), so the wait is bounded by wait_timeout_seconds
    (templated, e.g. from a param). Records of earlier requests in the same bucket and prefix count too.
    Returns {operation: count} over every record found.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields(
        "bucket_name", "prefix", "source_bucket", "expected", "wait_timeout_seconds"
    )

    def __init__(
        self,
        *,
        bucket_name: str,
        source_bucket: str,
        expected: Sequence[Sequence[str]],
        prefix: str = "",
        wait_timeout_seconds: float | str = 900,
        **kwargs,
    ):
        kwargs.setdefault("mode", "poke")  # parsed log objects are kept between pokes
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.prefix = prefix
        self.source_bucket = source_bucket
        self.expected = expected
        self.wait_timeout_seconds = wait_timeout_seconds
        self._records: dict[str, list[dict[str, str]]] = {}

    def execute(self, context) -> dict[str, int]:
        self.timeout = float(self.wait_timeout_seconds)  # rendered now, so a param can set it
        super().execute(context)
        counts: dict[str, int] = {}
        for record in self._all_records():
            counts[record["operation"]] = counts.get(record["operation"], 0) + 1
        return dict(sorted(counts.items()))

    def _all_records(self) -> list[dict[str, str]]:
        return [r for records in self._records.values() for r in records if r["bucket"] == self.source_bucket]

    def poke(self, context) -> bool:
        conn = self.hook.conn
        for page in conn.get_paginator("list_objects_v2").paginate(Bucket=self.bucket_name, Prefix=self.prefix):
            for item in page.get("Contents", []):
                if item["Key"] not in self._records:
                    text = conn.get_object(Bucket=self.bucket_name, Key=item["Key"])["Body"].read().decode()
                    self._records[item["Key"]] = parse_log_object(text)
        seen = {(r["operation"], r["key"]) for r in self._all_records()}
        missing = [tuple(pair) for pair in self.expected if tuple(pair) not in seen]
        self.log.info(
            "%d log objects, %d records of %s; still waiting for %s",
            len(self._records),
            len(self._all_records()),
            self.source_bucket,
            missing or "nothing",
        )
        return not missing

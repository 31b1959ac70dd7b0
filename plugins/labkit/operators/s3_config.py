"""Bucket versioning, lifecycle rules, restores and versioned-bucket teardown: the provider has no operators for them.

`S3LifecycleProgressOperator` shows lifecycle rules taking effect. On AWS that takes 30+ days, so
there it reports the stored rules' dated schedule for each object and the storage class each will
have `days` from now. On local AWS (`labkit.core.environment` tells which) it also moves local AWS's
clock `days` forward, so the rules really run, and fails when an object's storage class is not the
one the rules predict.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.operators.s3 import S3CopyObjectOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError

from labkit.core import environment
from labkit.operators import s3_lifecycle


class S3PutBucketVersioningOperator(AwsBaseOperator[S3Hook]):
    """Enable (or suspend) versioning of a bucket; returns the status S3 then reports."""

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name", "status")

    def __init__(self, *, bucket_name: str, status: str = "Enabled", **kwargs):
        super().__init__(**kwargs)
        if status not in ("Enabled", "Suspended"):
            raise ValueError(
                f"versioning status must be Enabled or Suspended (a bucket cannot go back to unversioned), got {status!r}"
            )
        self.bucket_name = bucket_name
        self.status = status

    def execute(self, context) -> str:
        conn = self.hook.conn
        conn.put_bucket_versioning(Bucket=self.bucket_name, VersioningConfiguration={"Status": self.status})
        status = conn.get_bucket_versioning(Bucket=self.bucket_name).get("Status", "Disabled")
        self.log.info("Versioning of bucket %s: %s", self.bucket_name, status)
        return status


class S3CopyObjectVersionOperator(S3CopyObjectOperator):
    """The provider's S3CopyObjectOperator with a templated source_version_id (the provider leaves it out),
    so a version ID from an upstream task can be copied, e.g. over the current version to restore it."""

    template_fields: Sequence[str] = (*S3CopyObjectOperator.template_fields, "source_version_id")


class S3PutBucketLifecycleOperator(AwsBaseOperator[S3Hook]):
    """Set a bucket's lifecycle rules (PutBucketLifecycleConfiguration replaces the whole set).

    rules: as boto3 takes them, e.g. [{"ID": "tiering", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
    "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}], "Expiration": {"Days": 365}}].
    transition_default_minimum_object_size: S3's all_storage_classes_128K (default) keeps objects under
    128 KB where they are; varies_by_storage_class lets them go to GLACIER and DEEP_ARCHIVE.
    Returns the configuration as S3 stored it.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name", "rules")
    template_fields_renderers = {"rules": "json"}

    def __init__(
        self,
        *,
        bucket_name: str,
        rules: list[dict[str, Any]],
        transition_default_minimum_object_size: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.rules = rules
        self.transition_default_minimum_object_size = transition_default_minimum_object_size

    def execute(self, context) -> dict[str, Any]:
        conn = self.hook.conn
        extra = {}
        if self.transition_default_minimum_object_size:
            extra["TransitionDefaultMinimumObjectSize"] = self.transition_default_minimum_object_size
        conn.put_bucket_lifecycle_configuration(
            Bucket=self.bucket_name, LifecycleConfiguration={"Rules": list(self.rules)}, **extra
        )
        stored = conn.get_bucket_lifecycle_configuration(Bucket=self.bucket_name)
        stored.pop("ResponseMetadata", None)
        self.log.info("Lifecycle rules of bucket %s: %s", self.bucket_name, [rule["ID"] for rule in stored["Rules"]])
        return stored


class S3DeleteBucketLifecycleOperator(AwsBaseOperator[S3Hook]):
    """Remove a bucket's lifecycle rules; a bucket without rules is not an error."""

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name")

    def __init__(self, *, bucket_name: str, **kwargs):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name

    def execute(self, context) -> None:
        self.hook.conn.delete_bucket_lifecycle(Bucket=self.bucket_name)
        self.log.info("Lifecycle rules of bucket %s deleted", self.bucket_name)


class S3RestoreObjectOperator(AwsBaseOperator[S3Hook]):
    """Request a temporary copy of an archived (GLACIER, DEEP_ARCHIVE) object for `days` days.

    Does not wait: on AWS a Standard restore takes hours (Expedited minutes, Bulk up to 48 h).
    Requesting again while a copy exists extends it; while one is in progress is not an error.
    Returns the object's restore status (S3's x-amz-restore, e.g. 'ongoing-request="true"').
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name", "key", "version_id")

    def __init__(
        self,
        *,
        bucket_name: str,
        key: str,
        days: int = 1,
        tier: str = "Standard",
        version_id: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.key = key
        self.days = days
        self.tier = tier
        self.version_id = version_id

    def execute(self, context) -> str:
        conn = self.hook.conn
        version = {"VersionId": self.version_id} if self.version_id else {}
        request = {"Days": self.days, "GlacierJobParameters": {"Tier": self.tier}}
        try:
            conn.restore_object(Bucket=self.bucket_name, Key=self.key, RestoreRequest=request, **version)
        except ClientError as error:
            if error.response["Error"]["Code"] != "RestoreAlreadyInProgress":
                raise
        status = conn.head_object(Bucket=self.bucket_name, Key=self.key, **version).get("Restore", "")
        self.log.info(
            "Restore of s3://%s/%s for %s days (%s): %s", self.bucket_name, self.key, self.days, self.tier, status
        )
        return status


class S3DeleteVersionedBucketOperator(AwsBaseOperator[S3Hook]):
    """Delete a bucket with every object version and delete marker in it; a missing bucket is not an error.

    The provider's S3DeleteBucketOperator(force_delete=True) deletes current objects only, which on a
    versioned bucket just adds delete markers, so S3 refuses the bucket (BucketNotEmpty).
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name")

    def __init__(self, *, bucket_name: str, **kwargs):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name

    def execute(self, context) -> int:
        if not self.hook.check_for_bucket(self.bucket_name):
            self.log.info("Bucket %s does not exist; nothing to delete", self.bucket_name)
            return 0
        conn = self.hook.conn
        deleted = 0
        for page in conn.get_paginator("list_object_versions").paginate(Bucket=self.bucket_name):
            entries = [
                {"Key": entry["Key"], "VersionId": entry["VersionId"]}
                for entry in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            if not entries:
                continue
            response = conn.delete_objects(Bucket=self.bucket_name, Delete={"Objects": entries, "Quiet": True})
            if response.get("Errors"):
                raise AirflowException(f"could not delete from bucket {self.bucket_name}: {response['Errors'][:5]}")
            deleted += len(entries)
        for upload in conn.list_multipart_uploads(Bucket=self.bucket_name).get("Uploads", []):
            conn.abort_multipart_upload(Bucket=self.bucket_name, Key=upload["Key"], UploadId=upload["UploadId"])
        conn.delete_bucket(Bucket=self.bucket_name)
        self.log.info("Deleted bucket %s and its %d object versions and delete markers", self.bucket_name, deleted)
        return deleted


class S3LifecycleProgressOperator(AwsBaseOperator[S3Hook]):
    """Report what a bucket's lifecycle rules do to the objects under `prefix` by `days_after_upload` days
    after the newest of them was written ("as of").

    Everywhere: checks the bucket has its lifecycle configuration stored, lists the current objects and
    computes, per object, the dated schedule of its rules' actions and its expected state (a storage
    class, or "expired") as of then.
    On local AWS only: moves local AWS's clock forward to that moment (if it is not past already), so
    S3's daily lifecycle runs happen, and fails unless every object is then in its expected state.
    Returns {"environment", "applied", "as_of", "objects": {key: {"expected", "observed", "schedule"}}};
    "observed" is the state as of then on local AWS (applied=True), today's class on AWS.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name", "prefix")

    def __init__(self, *, bucket_name: str, prefix: str = "", days_after_upload: int, **kwargs):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.prefix = prefix
        self.days_after_upload = days_after_upload

    def _objects(self, with_tags: bool) -> dict[str, dict[str, Any]]:
        conn = self.hook.conn
        objects = {}
        for page in conn.get_paginator("list_objects_v2").paginate(Bucket=self.bucket_name, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                if with_tags:
                    tagging = conn.get_object_tagging(Bucket=self.bucket_name, Key=obj["Key"])["TagSet"]
                    obj["Tags"] = {tag["Key"]: tag["Value"] for tag in tagging}
                objects[obj["Key"]] = obj
        return objects

    def execute(self, context) -> dict[str, Any]:
        conn = self.hook.conn
        try:
            configuration = conn.get_bucket_lifecycle_configuration(Bucket=self.bucket_name)
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchLifecycleConfiguration":
                raise AirflowException(
                    f"bucket {self.bucket_name} has no lifecycle configuration; put its rules first"
                ) from error
            raise
        clock_url = environment.local_aws_clock_url(self.hook)
        with_tags = any(s3_lifecycle.has_tag_filter(rule) for rule in configuration["Rules"])
        objects = self._objects(with_tags)
        if not objects:
            raise AirflowException(
                f"no objects under s3://{self.bucket_name}/{self.prefix}: nothing for the rules to act on"
            )
        as_of = max(obj["LastModified"] for obj in objects.values()) + timedelta(days=self.days_after_upload)
        report = {
            key: {
                "expected": s3_lifecycle.expected_state(configuration, obj, as_of),
                "observed": obj.get("StorageClass", "STANDARD"),
                "schedule": [
                    {"date": event["date"].date().isoformat(), "action": event["action"], "rule": event["rule"]}
                    for event in s3_lifecycle.schedule(configuration, obj)
                ],
            }
            for key, obj in objects.items()
        }
        for key, entry in report.items():
            self.log.info(
                "s3://%s/%s: %s by %s; schedule %s",
                self.bucket_name,
                key,
                entry["expected"],
                as_of.date(),
                entry["schedule"],
            )
        if clock_url:
            ahead = as_of - datetime.fromisoformat(environment.clock_state(clock_url)["now"])
            if ahead > timedelta(0):
                done = environment.advance_clock(clock_url, ahead.total_seconds() / 86400)
                self.log.info("Local AWS clock moved %s to %s; lifecycle runs: %s", ahead, done["now"], done["done"])
            after = self._objects(with_tags=False)
            for key, entry in report.items():
                entry["observed"] = after[key].get("StorageClass", "STANDARD") if key in after else s3_lifecycle.EXPIRED
            wrong = {k: e for k, e in report.items() if e["observed"] != e["expected"]}
            if wrong:
                raise AirflowException(
                    "lifecycle rules did not take effect as configured: "
                    + "; ".join(f"{k} is {e['observed']}, expected {e['expected']}" for k, e in wrong.items())
                )
        else:
            self.log.info("On AWS the rules run daily on their own: nothing to wait for here, the dates above are when")
        return {
            "environment": "local AWS" if clock_url else "AWS",
            "applied": bool(clock_url),
            "as_of": as_of.date().isoformat(),
            "objects": report,
        }

"""Bucket policies: the provider has no operators for them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from time import monotonic, sleep
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError


class S3PutBucketPolicyOperator(AwsBaseOperator[S3Hook]):
    """Set a bucket's policy (PutBucketPolicy replaces the whole document; reruns converge).

    policy: the policy document as a dict (templated, so bucket names and ARNs can come from macros).
    wait_for_principals_seconds: on AWS a user or role created moments ago is not yet known to S3,
    which refuses the policy ("Invalid principal in policy"); the put is retried that long.
    Returns the policy as S3 then reports it.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name", "policy")
    template_fields_renderers = {"policy": "json"}

    def __init__(
        self, *, bucket_name: str, policy: dict[str, Any], wait_for_principals_seconds: float = 60.0, **kwargs
    ):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.policy = policy
        self.wait_for_principals_seconds = wait_for_principals_seconds

    def execute(self, context) -> dict[str, Any]:
        document = self.policy if isinstance(self.policy, str) else json.dumps(self.policy)
        conn = self.hook.conn
        deadline = monotonic() + self.wait_for_principals_seconds
        while True:
            try:
                conn.put_bucket_policy(Bucket=self.bucket_name, Policy=document)
                break
            except ClientError as error:
                new_principal = (
                    error.response["Error"]["Code"] == "MalformedPolicy" and "principal" in str(error).lower()
                )
                if not new_principal or monotonic() + 5 > deadline:
                    raise
                self.log.info("S3 does not know a principal of the policy yet (IAM propagation); retrying in 5 s")
                sleep(5)
        stored = json.loads(conn.get_bucket_policy(Bucket=self.bucket_name)["Policy"])
        sids = [s.get("Sid", "") for s in stored.get("Statement", [])]
        self.log.info("Bucket %s policy set: %d statements %s", self.bucket_name, len(sids), sids)
        return stored


class S3DeleteBucketPolicyOperator(AwsBaseOperator[S3Hook]):
    """Remove a bucket's policy; a bucket without one (or no bucket at all) is not an error."""

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name")

    def __init__(self, *, bucket_name: str, **kwargs):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name

    def execute(self, context) -> None:
        try:
            self.hook.conn.delete_bucket_policy(Bucket=self.bucket_name)
            self.log.info("Bucket %s policy deleted", self.bucket_name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchBucket":
                raise
            self.log.info("Bucket %s does not exist; no policy to delete", self.bucket_name)

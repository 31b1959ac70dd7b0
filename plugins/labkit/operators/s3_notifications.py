"""S3 event notifications (bucket → Lambda, SNS, SQS): the provider has no operator for them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields


class S3PutBucketNotificationOperator(AwsBaseOperator[S3Hook]):
    """Set a bucket's whole notification configuration (PutBucketNotificationConfiguration replaces it).

    e.g. {"LambdaFunctionConfigurations": [{"Id": "move", "LambdaFunctionArn": arn,
    "Events": ["s3:ObjectCreated:*"]}]}. On AWS, S3 checks that it may invoke the function, so
    the function's AddPermission for s3.amazonaws.com must come first.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket_name", "notification_configuration")
    template_fields_renderers = {"notification_configuration": "json"}

    def __init__(self, *, bucket_name: str, notification_configuration: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.notification_configuration = notification_configuration

    def execute(self, context) -> dict[str, Any]:
        configuration = dict(self.notification_configuration)
        self.hook.conn.put_bucket_notification_configuration(
            Bucket=self.bucket_name, NotificationConfiguration=configuration
        )
        self.log.info("Notifications of bucket %s: %s", self.bucket_name, configuration)
        return configuration

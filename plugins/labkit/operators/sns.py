"""SNS topics and subscriptions: the provider can publish (SnsPublishOperator) but not create them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.sns import SnsHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields


class SnsCreateTopicOperator(AwsBaseOperator[SnsHook]):
    """Create a topic (CreateTopic is idempotent for the same name and attributes); returns its ARN."""

    aws_hook_class = SnsHook
    template_fields: Sequence[str] = aws_template_fields("topic_name", "attributes")

    def __init__(self, *, topic_name: str, attributes: dict[str, str] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.topic_name = topic_name
        self.attributes = attributes

    def execute(self, context) -> str:
        arn = self.hook.conn.create_topic(Name=self.topic_name, Attributes=dict(self.attributes or {}))["TopicArn"]
        self.log.info("Topic %s", arn)
        return arn


class SnsSubscribeOperator(AwsBaseOperator[SnsHook]):
    """Subscribe an endpoint (a function ARN for protocol lambda) to a topic; returns the subscription ARN.

    Subscribe is idempotent on AWS: the same topic, protocol and endpoint give the same subscription.
    """

    aws_hook_class = SnsHook
    template_fields: Sequence[str] = aws_template_fields("topic_arn", "protocol", "endpoint", "attributes")

    def __init__(self, *, topic_arn: str, protocol: str, endpoint: str, attributes: dict[str, str] | None = None,
                 **kwargs: Any):  # fmt: skip
        super().__init__(**kwargs)
        self.topic_arn = topic_arn
        self.protocol = protocol
        self.endpoint = endpoint
        self.attributes = attributes

    def execute(self, context) -> str:
        arn = self.hook.conn.subscribe(
            TopicArn=self.topic_arn,
            Protocol=self.protocol,
            Endpoint=self.endpoint,
            Attributes=dict(self.attributes or {}),
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.log.info("%s %s subscribed to %s: %s", self.protocol, self.endpoint, self.topic_arn, arn)
        return arn


class SnsDeleteTopicOperator(AwsBaseOperator[SnsHook]):
    """Delete a topic, found by name, and its subscriptions; a missing topic is not an error."""

    aws_hook_class = SnsHook
    template_fields: Sequence[str] = aws_template_fields("topic_name")

    def __init__(self, *, topic_name: str, **kwargs):
        super().__init__(**kwargs)
        self.topic_name = topic_name

    def execute(self, context) -> None:
        conn = self.hook.conn
        for page in conn.get_paginator("list_topics").paginate():
            for topic in page["Topics"]:
                if topic["TopicArn"].rsplit(":", 1)[-1] == self.topic_name:
                    conn.delete_topic(TopicArn=topic["TopicArn"])
                    self.log.info("Deleted topic %s", topic["TopicArn"])
                    return
        self.log.info("Topic %s does not exist; nothing to delete", self.topic_name)

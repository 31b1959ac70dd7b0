"""SNS subscriptions with protocol lambda: an Event invocation per delivery, with AWS's record.

moto 5.2.5 invokes the function synchronously inside Publish with a fixed example record (its
MessageId, TopicArn, Timestamp, Signature and MessageAttributes are placeholders). This module
wraps moto's Subscription.publish so that a lambda subscription
- applies the subscription's filter policy (moto's matcher, on attributes or on the message body
  per FilterPolicyScope) and MessageStructure json (the "lambda" key, else "default");
- queues an Event invocation (invoke_async) with the record AWS sends: EventSource aws:sns,
  EventVersion 1.0, EventSubscriptionArn, and Sns{Type, MessageId, TopicArn, Subject, Message,
  Timestamp, SignatureVersion, Signature, SigningCertUrl, UnsubscribeUrl, MessageAttributes},
  signed like moto's HTTP/SQS deliveries (SignatureVersion 2, SHA256 over AWS's string to sign).
Publish returns before the handler runs; the runtime's retries, destinations and DLQ apply.
A delivery the function's resource-based policy does not allow (AddPermission for sns.amazonaws.com
with the topic as SourceArn; local_aws/lambda_/permissions.py), or to a function that is gone, fails
as on AWS: SNS does not retry such client-side errors, the message is not delivered, a warning is
logged and the topic's CloudWatch metric AWS/SNS NumberOfNotificationsFailed counts it.
Differences from AWS: docs/local-aws/lambda-event-sources.md.
"""

from __future__ import annotations

import logging
from typing import Any

from moto.sns.models import Subscription

from local_aws.arns import Arn
from local_aws.lambda_.event_sources import delivery
from local_aws.lambda_.permissions import Source
from local_aws.patching import Patches
from local_aws.sns.messages import delivered_message

log = logging.getLogger(__name__)

# After the Lambda runtime, like the other event sources: shut down before it.
patches = Patches(__name__, after=("local_aws.lambda_.service",))
SNS_PRINCIPAL = "sns.amazonaws.com"


def _attributes(message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """{name: {Type, Value}} with every Value as text, as the Lambda record carries them."""
    return {
        name: {
            "Type": value.get("Type"),
            "Value": value.get("Value") if isinstance(value.get("Value"), str) else str(value.get("Value")),
        }  # fmt: skip
        for name, value in (message_attributes or {}).items()
    }


def event_record(subscription: Subscription, message: str, message_id: str, subject: str | None,
                 message_attributes: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    signed = subscription.get_post_data(message, message_id, subject)
    region = Arn.parse(subscription.topic.arn).region
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription.arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": subscription.topic.arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": signed["Timestamp"],
            "SignatureVersion": signed["SignatureVersion"],
            "Signature": signed["Signature"],
            "SigningCertUrl": signed["SigningCertURL"],
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
            "MessageAttributes": _attributes(message_attributes),
        },
    }


@patches.wrap(Subscription, "publish")
def _publish(original, subscription: Subscription, message: str, message_id: str, subject: str | None = None,
             message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
             deduplication_id: str | None = None, message_structure: str | None = None) -> None:  # fmt: skip
    if subscription.protocol != "lambda":
        return original(subscription, message, message_id, subject=subject, message_attributes=message_attributes,
                        group_id=group_id, deduplication_id=deduplication_id,
                        message_structure=message_structure)  # fmt: skip
    message = delivered_message(subscription, message, message_attributes, message_structure)
    if message is None:
        return None
    event = {"Records": [event_record(subscription, message, message_id, subject, message_attributes)]}
    topic_arn = subscription.topic.arn
    source = Source(SNS_PRINCIPAL, topic_arn, Arn.parse(topic_arn).account)
    region = Arn.parse(subscription.endpoint).region
    if delivery.invoke_async(subscription.account_id, region, subscription.endpoint, event, source=source) is None:
        _count_failed_notification(topic_arn)
    return None


def _count_failed_notification(topic_arn: str) -> None:
    """AWS/SNS NumberOfNotificationsFailed for the topic, the metric AWS shows failed deliveries in."""
    from moto.cloudwatch.models import cloudwatch_backends

    topic = Arn.parse(topic_arn)
    datum = {"MetricName": "NumberOfNotificationsFailed", "Value": 1.0, "Unit": "Count",
             "Dimensions": [{"Name": "TopicName", "Value": topic.resource}]}  # fmt: skip
    cloudwatch_backends[topic.account][topic.region].put_metric_data("AWS/SNS", [datum])

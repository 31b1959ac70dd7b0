"""Email subscriptions that wait for confirmation, and mails kept in local AWS's mailbox: what of moto's SNS is intercepted.

moto 5.2.5 confirms an email / email-json subscription at once, mails nothing (it only records each publish
on the topic), and answers ConfirmSubscription with a made-up ARN. `patches` changes it so that, as on AWS,
- Subscribe with protocol email or email-json checks the address (`Invalid parameter: Email address`),
  leaves the subscription PendingConfirmation and "mails" a confirmation request with its token (a
  repeated Subscribe mails it again); Subscribe answers `pending confirmation` unless
  ReturnSubscriptionArn is true; ListSubscriptions(ByTopic) show `PendingConfirmation` as its ARN;
  GetTopicAttributes counts SubscriptionsPending and SubscriptionsConfirmed;
- ConfirmSubscription(TopicArn, Token) confirms it and answers its ARN (`Invalid parameter: Token` for a
  token that is not the subscription's); so does following the mailed link locally
  (`/_local_aws/sns/email/confirm`, local_aws/sns/mailbox.py);
- Publish mails every confirmed email subscription the message, as SNS writes it (the text and SNS's
  footer for email, the JSON notification for email-json; the subscription's filter policy and
  MessageStructure json apply), into the mailbox; what is published while a subscription is pending is
  kept as undelivered (AWS drops it);
- the notifications SNS sends to SQS, HTTP and email-json endpoints carry their own subscription in
  UnsubscribeURL (moto's named a fixed, made-up subscription).
`GET /_local_aws/sns/email?address=...` serves the mailbox. Differences from AWS: docs/local-aws/sns.md.
"""

from __future__ import annotations

import re
from typing import Any

from moto.core.responses import ActionResult
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.sns.exceptions import SNSInvalidParameter
from moto.sns.models import SNSBackend, Subscription, Topic
from moto.sns.responses import SNSResponse

from local_aws.patching import Patches
from local_aws.sns import mailbox
from local_aws.sns.messages import delivered_message

# After the clock: its /_local_aws/ dispatch is wrapped by ours, which answers /_local_aws/sns/* first.
patches = Patches(__name__, after=("local_aws.clock",))

# SNS's check of an email endpoint is loose: something@domain.
ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@patches.wrap(SNSBackend, "subscribe")
def _subscribe(original, self: SNSBackend, topic_arn: str, endpoint: str, protocol: str) -> Subscription:
    if protocol not in mailbox.EMAIL_PROTOCOLS:
        return original(self, topic_arn, endpoint, protocol)
    if not ADDRESS.fullmatch(endpoint or ""):
        raise SNSInvalidParameter("Invalid parameter: Email address")
    existing = self._find_subscription(topic_arn, endpoint, protocol)
    subscription = original(self, topic_arn, endpoint, protocol)
    if existing is None:
        mailbox.make_pending(subscription)
    if mailbox.is_pending(subscription):  # a new subscription, or Subscribe again while it waits: (re)mailed
        mailbox.send_confirmation(self, subscription)
    return subscription


@patches.wrap(SNSResponse, "subscribe")
def _subscribe_response(original, self: SNSResponse):
    answer = original(self)
    subscription = self.backend.subscriptions.get(answer.result["SubscriptionArn"])
    if subscription is not None and mailbox.is_pending(subscription):
        if not self._get_bool_param("ReturnSubscriptionArn", False):
            return ActionResult({"SubscriptionArn": "pending confirmation"})
    return answer


def _listed(subscription: Subscription) -> dict[str, Any]:
    return {
        "SubscriptionArn": "PendingConfirmation" if mailbox.is_pending(subscription) else subscription.arn,
        "Owner": subscription.owner,
        "Protocol": subscription.protocol,
        "Endpoint": subscription.endpoint,
        "TopicArn": subscription.topic.arn,
    }


@patches.wrap(SNSResponse, "list_subscriptions")
def _list_subscriptions(original, self: SNSResponse):
    result = original(self).result
    return ActionResult({**result, "Subscriptions": [_listed(s) for s in result["Subscriptions"]]})


@patches.wrap(SNSResponse, "list_subscriptions_by_topic")
def _list_subscriptions_by_topic(original, self: SNSResponse):
    result = original(self).result
    return ActionResult({**result, "Subscriptions": [_listed(s) for s in result["Subscriptions"]]})


def _confirm_subscription_response(self: SNSResponse):
    topic = self.backend.get_topic(self._get_param("TopicArn"))  # NotFound: Topic does not exist
    subscription = mailbox.find_by_token(topic.arn, self._get_param("Token") or "")
    if subscription is None:
        raise SNSInvalidParameter("Invalid parameter: Token")
    if mailbox.is_pending(subscription):
        mailbox.confirm(subscription, authenticated=str(self._get_param("AuthenticateOnUnsubscribe")).lower() == "true")
    return ActionResult({"SubscriptionArn": subscription.arn})


patches.replace(SNSResponse, "confirm_subscription", _confirm_subscription_response)


@patches.wrap(Subscription, "publish")
def _publish(original, subscription: Subscription, message: str, message_id: str, subject: str | None = None,
             message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
             deduplication_id: str | None = None, message_structure: str | None = None) -> None:  # fmt: skip
    if not mailbox.is_email(subscription):
        return original(subscription, message, message_id, subject=subject, message_attributes=message_attributes,
                        group_id=group_id, deduplication_id=deduplication_id,
                        message_structure=message_structure)  # fmt: skip
    message = delivered_message(subscription, message, message_attributes, message_structure)
    if message is None:
        return None
    mailbox.send_notification(subscription.topic.sns_backend, subscription, message, message_id, subject)
    return None


@patches.wrap(Subscription, "get_post_data")
def _post_data(original, subscription: Subscription, message: str, message_id: str, subject: str | None,
               message_attributes: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    data = original(subscription, message, message_id, subject, message_attributes=message_attributes)
    data["UnsubscribeURL"] = mailbox.unsubscribe_url(subscription)
    return data


def _count(topic: Topic, pending: bool) -> int:
    subscriptions = getattr(topic.sns_backend, "subscriptions", {}).values()
    return sum(1 for s in list(subscriptions) if s.topic is topic and mailbox.is_pending(s) == pending)


def _counter(name: str, pending: bool) -> property:
    def store(topic: Topic, value: int) -> None:  # kept for moto, which reads it again once we are uninstalled
        topic.__dict__[name] = value

    return property(lambda topic: _count(topic, pending), store)


# moto's Topic keeps these as counters it never changes (0); as properties they count. (Its __init__ sets them.)
patches.add(Topic, "subscriptions_pending", _counter("subscriptions_pending", True))
patches.add(Topic, "subscriptions_confimed", _counter("subscriptions_confimed", False))


@patches.wrap(DomainDispatcherApplication, "__call__")
def _dispatch(original, self, environ: dict[str, Any], start_response):
    """Answer /_local_aws/sns/* (the mailbox) ahead of the clock's admin app and moto."""
    if mailbox.handles(environ.get("PATH_INFO", "")):
        return mailbox.admin_app(environ, start_response)
    return original(self, environ, start_response)

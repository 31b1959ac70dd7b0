"""What a subscription receives of a published message, as moto's Subscription.publish decides it.

Shared by the executors that deliver to protocols moto does not (Lambda event sources, email).
"""

from __future__ import annotations

from typing import Any

from moto.sns.models import Subscription


def delivered_message(subscription: Subscription, message: str, message_attributes: dict[str, Any] | None,
                      message_structure: str | None) -> str | None:  # fmt: skip
    """The message text for this subscription, or None when its filter policy drops the message."""
    matcher = subscription._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return None
    if message_structure == "json":  # a JSON object of per-protocol texts
        return subscription._parse_message_structure(message, subscription.protocol)
    return message

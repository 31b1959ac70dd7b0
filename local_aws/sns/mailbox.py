"""What SNS mails to email and email-json subscriptions, kept where it can be read: local AWS's mailbox.

On AWS, Subscribe with protocol email or email-json mails a confirmation request to the address; the
subscription is PendingConfirmation until the recipient follows its link (or someone calls
ConfirmSubscription with its token); then every message published to the topic is mailed. Local AWS sends
no mail: it keeps each mail here, per SNS backend (moto's reset forgets them), and serves them:

    GET  /_local_aws/sns/email?address=ops@example.com    -> {"messages": [...], "undelivered": [...]}
    POST /_local_aws/sns/email/confirm  {"address": "ops@example.com"}   (or {"topic_arn": ..., "token": ...})
    GET  /_local_aws/sns/email/confirm?TopicArn=...&Token=...             (the confirmation link, "clicked")
    python -m local_aws.sns.mailbox show --address ops@example.com
    python -m local_aws.sns.mailbox confirm --address ops@example.com

`messages` are the mails SNS sent (confirmation requests and notifications: subject, body as AWS writes
it, sender, time); `undelivered` are messages published while the subscription was still pending, which
AWS drops (kept to show why nothing arrived). The subscription state helpers (pending, token, confirm) are
here too; local_aws/sns/email_subscriptions.py wires them into moto.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from moto.sns.models import SNSBackend, Subscription, sns_backends
from werkzeug.wrappers import Request, Response

from local_aws import clock, config
from local_aws.arns import Arn

EMAIL_PROTOCOLS = ("email", "email-json")
SENDER = "no-reply@sns.amazonaws.com"
EMAIL_PATH = "/_local_aws/sns/email"
CONFIRM_PATH = "/_local_aws/sns/email/confirm"
PREFIX = "/_local_aws/sns/"
CONFIRMATION_SUBJECT = "AWS Notification - Subscription Confirmation"
DEFAULT_SUBJECT = "AWS Notification Message"
NOT_DELIVERED = "the subscription is pending confirmation: SNS does not deliver to it until it is confirmed"


@dataclass
class Email:
    """One mail SNS sent (or, `delivered` False, would have sent had the subscription been confirmed)."""

    address: str
    time: str
    sender: str
    subject: str
    body: str
    type: str  # "SubscriptionConfirmation" or "Notification"
    protocol: str
    topic_arn: str
    subscription_arn: str
    message_id: str
    delivered: bool = True
    reason: str | None = None
    token: str | None = None
    confirm_url: str | None = None

    def as_json(self) -> dict[str, Any]:
        answer = asdict(self)
        answer["from"] = answer.pop("sender")
        return {key: value for key, value in answer.items() if value is not None}


_lock = threading.Lock()


def _mails(backend: SNSBackend) -> list[Email]:
    """The backend's mails (on the backend object, so moto's reset forgets them)."""
    with _lock:
        if not hasattr(backend, "local_mailbox"):
            backend.local_mailbox = []
        return backend.local_mailbox


def _now() -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _region(subscription: Subscription) -> str:
    return Arn.parse(subscription.topic.arn).region


def _sender(subscription: Subscription) -> str:
    return f"{subscription.topic.display_name or 'AWS Notifications'} <{SENDER}>"


# --- a subscription's state ----------------------------------------------------------------------------------


def is_email(subscription: Subscription) -> bool:
    return subscription.protocol in EMAIL_PROTOCOLS


def is_pending(subscription: Subscription) -> bool:
    return is_email(subscription) and subscription.attributes.get("PendingConfirmation") is True


def make_pending(subscription: Subscription) -> None:
    """A new email subscription: PendingConfirmation, with the token its confirmation request carries."""
    subscription.attributes["PendingConfirmation"] = True
    subscription.attributes["ConfirmationWasAuthenticated"] = False
    subscription.confirmed = False
    subscription.local_token = secrets.token_hex(64)


def confirm(subscription: Subscription, authenticated: bool = False) -> None:
    subscription.attributes["PendingConfirmation"] = False
    subscription.attributes["ConfirmationWasAuthenticated"] = authenticated
    subscription.confirmed = True


def backends() -> Iterator[SNSBackend]:
    """Every SNS backend moto holds, in every account and region."""
    for regions in list(dict.values(sns_backends)):
        yield from list(dict.values(regions))


def find_by_token(topic_arn: str, token: str) -> Subscription | None:
    for backend in backends():
        for subscription in list(getattr(backend, "subscriptions", {}).values()):
            if subscription.topic.arn == topic_arn and getattr(subscription, "local_token", None) == token:
                return subscription
    return None


# --- the mails -----------------------------------------------------------------------------------------------


def _link(base: str, **query: str) -> str:
    """A URL as SNS writes them: ARNs and addresses as they are (colons and @ not escaped)."""
    return base + "?" + "&".join(f"{name}={urllib.parse.quote(value, safe=':@')}" for name, value in query.items())


def send_confirmation(backend: SNSBackend, subscription: Subscription) -> Email:
    """The confirmation request SNS mails when an email subscription is made (again, for a repeated Subscribe)."""
    topic_arn, token, address = subscription.topic.arn, subscription.local_token, subscription.endpoint
    region = _region(subscription)
    if subscription.protocol == "email":
        link = _link(f"https://sns.{region}.amazonaws.com/confirmation.html", TopicArn=topic_arn, Token=token,
                     Endpoint=address)  # fmt: skip
        body = (
            f"You have chosen to subscribe to the topic: \n{topic_arn}\n\n"
            "To confirm this subscription, click or visit the link below (If this was in error no action is "
            f"necessary): \nConfirm subscription: {link}\n\n"
            "Please do not reply directly to this email. If you wish to remove yourself from receiving all future "
            "SNS subscription confirmation requests please send an email to sns-opt-out"
        )
    else:
        body = json.dumps({
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic_arn,
            "Message": f"You have chosen to subscribe to the topic {topic_arn}.\n"
                       "To confirm the subscription, visit the SubscribeURL included in this message.",
            "SubscribeURL": _link(f"https://sns.{region}.amazonaws.com/", Action="ConfirmSubscription",
                                  TopicArn=topic_arn, Token=token),
            "Timestamp": _now(),
        }, indent=2)  # fmt: skip
    mail = Email(
        address=address, time=_now(), sender=_sender(subscription), subject=CONFIRMATION_SUBJECT, body=body,
        type="SubscriptionConfirmation", protocol=subscription.protocol, topic_arn=topic_arn,
        subscription_arn=subscription.arn, message_id=str(uuid.uuid4()), token=token,
        confirm_url=_link(f"{config.settings.endpoint_url}{CONFIRM_PATH}", TopicArn=topic_arn, Token=token),
    )  # fmt: skip
    _mails(backend).append(mail)
    return mail


def unsubscribe_url(subscription: Subscription) -> str:
    """The UnsubscribeURL of a notification to this subscription."""
    return _link(f"https://sns.{_region(subscription)}.amazonaws.com/", Action="Unsubscribe",
                 SubscriptionArn=subscription.arn)  # fmt: skip


def send_notification(backend: SNSBackend, subscription: Subscription, message: str, message_id: str,
                      subject: str | None) -> Email:  # fmt: skip
    """A message published to the topic, as SNS mails it to this subscription (kept undelivered while pending)."""
    if subscription.protocol == "email":
        unsubscribe = _link(f"https://sns.{_region(subscription)}.amazonaws.com/unsubscribe.html",
                            SubscriptionArn=subscription.arn, Endpoint=subscription.endpoint)  # fmt: skip
        body = (
            f"{message}\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit "
            f"the link below to unsubscribe:\n{unsubscribe}\n\n"
            "Please do not reply directly to this email. If you have any questions or comments regarding this "
            "email, please contact us at https://aws.amazon.com/support"
        )
    else:
        body = json.dumps(subscription.get_post_data(message, message_id, subject), indent=2)
    pending = is_pending(subscription)
    mail = Email(
        address=subscription.endpoint, time=_now(), sender=_sender(subscription), subject=subject or DEFAULT_SUBJECT,
        body=body, type="Notification", protocol=subscription.protocol, topic_arn=subscription.topic.arn,
        subscription_arn=subscription.arn, message_id=message_id, delivered=not pending,
        reason=NOT_DELIVERED if pending else None,
    )  # fmt: skip
    _mails(backend).append(mail)
    return mail


def mails(address: str | None = None, topic_arn: str | None = None) -> list[Email]:
    """Every mail of every SNS backend, oldest first, for an address (case-insensitive) and topic if given."""
    found = [
        mail
        for backend in backends()
        for mail in list(_mails(backend))
        if (address is None or mail.address.lower() == address.lower()) and topic_arn in (None, mail.topic_arn)
    ]
    return sorted(found, key=lambda mail: mail.time)


def confirm_pending(address: str | None = None, topic_arn: str | None = None, token: str | None = None) -> list[str]:
    """Confirm the pending subscriptions of an address (or the one a token names), as following the link does."""
    if token:
        subscription = find_by_token(topic_arn or "", token)
        chosen = [subscription] if subscription is not None else []
    else:
        chosen = [
            subscription
            for backend in backends()
            for subscription in list(getattr(backend, "subscriptions", {}).values())
            if is_pending(subscription) and subscription.endpoint.lower() == (address or "").lower()
            and topic_arn in (None, subscription.topic.arn)
        ]  # fmt: skip
    for subscription in chosen:
        confirm(subscription)
    return [subscription.arn for subscription in chosen]


# --- the endpoint ----------------------------------------------------------------------------------------------


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, indent=2), status=status, mimetype="application/json")


def _mailbox_endpoint(request: Request) -> Response:
    if request.method != "GET":
        return _json(405, {"error": f"{request.method} {EMAIL_PATH}: use GET (?address=...&topic_arn=...)"})
    address, topic_arn = request.args.get("address"), request.args.get("topic_arn")
    found = mails(address, topic_arn)
    return _json(200, {
        "messages": [mail.as_json() for mail in found if mail.delivered],
        "undelivered": [mail.as_json() for mail in found if not mail.delivered],
    })  # fmt: skip


def _confirm_endpoint(request: Request) -> Response:
    if request.method not in ("GET", "POST"):
        return _json(405, {"error": f"{request.method} {CONFIRM_PATH}: use POST (or GET, as the mailed link does)"})
    try:
        body = json.loads(request.get_data() or b"{}") if request.method == "POST" else {}
    except ValueError:
        return _json(400, {"error": f"{CONFIRM_PATH}: the body must be JSON"})
    args = {**request.args, **body}
    address = args.get("address")
    topic_arn = args.get("topic_arn") or args.get("TopicArn")
    token = args.get("token") or args.get("Token")
    if not (address or token):
        return _json(400, {"error": f'{CONFIRM_PATH}: give "address" (and optionally "topic_arn"), or "topic_arn" '
                                  'and "token" from the confirmation mail'})  # fmt: skip
    # Confirming again is harmless, as following the link twice is: an empty list, not an error.
    return _json(200, {"confirmed": confirm_pending(address, topic_arn, token)})


def handles(path: str) -> bool:
    return path.startswith(PREFIX)


def admin_app(environ: dict[str, Any], start_response: Callable) -> Any:
    """WSGI app for /_local_aws/sns/*."""
    request = Request(environ)
    path = request.path.rstrip("/")
    if path == EMAIL_PATH:
        response = _mailbox_endpoint(request)
    elif path == CONFIRM_PATH:
        response = _confirm_endpoint(request)
    else:
        response = _json(404, {"error": f"no local AWS endpoint {request.path}; try {EMAIL_PATH} or {CONFIRM_PATH}"})
    return response(environ, start_response)


# --- over HTTP, from code or a shell: python -m local_aws.sns.mailbox ------------------------------------------


def read(endpoint_url: str, address: str | None = None, topic_arn: str | None = None,
         timeout: float = 30) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """The mailbox of the local AWS at endpoint_url: {"messages": [...], "undelivered": [...]}."""
    query = urllib.parse.urlencode({k: v for k, v in (("address", address), ("topic_arn", topic_arn)) if v})
    url = endpoint_url.rstrip("/") + EMAIL_PATH + (f"?{query}" if query else "")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def confirm_address(endpoint_url: str, address: str, topic_arn: str | None = None, timeout: float = 30) -> list[str]:
    """Confirm the address's pending subscriptions on the local AWS at endpoint_url; their ARNs."""
    body = json.dumps({k: v for k, v in (("address", address), ("topic_arn", topic_arn)) if v}).encode()
    request = urllib.request.Request(endpoint_url.rstrip("/") + CONFIRM_PATH, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())["confirmed"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.sns.mailbox",
        description="Read what local AWS's SNS mailed to email subscriptions, or confirm them.",
    )
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
                        help="local AWS endpoint (default: $AWS_ENDPOINT_URL or %(default)s)")  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("show", help="print the mails (and undelivered messages) as JSON")
    show.add_argument("--address")
    show.add_argument("--topic-arn")
    confirm_parser = commands.add_parser("confirm", help="confirm an address's pending subscriptions")
    confirm_parser.add_argument("--address", required=True)
    confirm_parser.add_argument("--topic-arn")
    args = parser.parse_args(argv)
    if args.command == "show":
        print(json.dumps(read(args.endpoint_url, args.address, args.topic_arn), indent=2))
    else:
        print(json.dumps({"confirmed": confirm_address(args.endpoint_url, args.address, args.topic_arn)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

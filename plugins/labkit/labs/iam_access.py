"""Acting as an IAM user inside one task, the way a security review wants it.

An access key's secret never leaves the task that uses it: `temporary_access_key` creates a key,
yields a `UserSession` that builds clients signed with it, and deletes the key when the block ends
(whatever happens). Nothing secret goes to XCom, logs or connections. A task killed before its
cleanup leaves its key behind; since IAM allows two keys per user, the next `temporary_access_key`
for that user deletes such leftovers first (the lab users' keys are only ever made here, one task
at a time per user), and the user's teardown (IamDeleteUserOperator) deletes any that remain.

IAM is eventually consistent on AWS: a new key is refused for a few seconds (InvalidAccessKeyId),
and a new or changed policy takes a moment to apply. `probe` retries a call for a bounded time until
its outcome is the expected one, code and reason, and then reports the outcome it saw, so a lab
proves the same thing on AWS as locally (where the first answer is already final).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from time import monotonic, sleep
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

ALLOWED = "allowed"


class UserSession:
    """Clients signed with one IAM user's key, on the endpoint and TLS trust of the Airflow connection."""

    def __init__(self, hook, access_key_id: str, secret_access_key: str):
        import boto3

        self._hook = hook
        self.access_key_id = access_key_id
        self._session = boto3.session.Session(
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key, region_name=hook.region_name
        )

    def __repr__(self) -> str:  # never the secret
        return f"UserSession(access_key_id={self.access_key_id!r})"

    def client(self, service: str, scheme: str | None = None):
        """A client for `service`; scheme 'https' or 'http' switches the endpoint's transport (same host and port)."""
        from botocore.config import Config

        # One attempt per call: probe() does the retrying, until the outcome is the expected one.
        single = Config(retries={"max_attempts": 1})
        config = self._hook.config.merge(single) if self._hook.config else single
        endpoint = self._hook.conn_config.get_service_endpoint_url(service_name=service)
        kwargs: dict[str, Any] = {"config": config}
        if self._hook.verify is not None:
            kwargs["verify"] = self._hook.verify
        client = self._session.client(service, endpoint_url=endpoint, **kwargs)
        if scheme is None or urlsplit(client.meta.endpoint_url).scheme == scheme:
            return client
        switched = urlunsplit(urlsplit(client.meta.endpoint_url)._replace(scheme=scheme))
        return self._session.client(service, endpoint_url=switched, **kwargs)


@contextmanager
def temporary_access_key(user_name: str, aws_conn_id: str | None = "aws_default") -> Iterator[UserSession]:
    """A new access key of `user_name` for the duration of the block, then deleted.

    Keys the user already has are leftovers of a task killed before its cleanup: they are deleted
    first, or the user's two-key limit would make CreateAccessKey fail (LimitExceeded).
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="iam")
    iam = hook.conn
    for leftover in iam.list_access_keys(UserName=user_name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user_name, AccessKeyId=leftover["AccessKeyId"])
        log.info("Deleted leftover access key %s of %s", leftover["AccessKeyId"], user_name)
    # botocore logs response bodies at DEBUG: keep the secret out of a debug-level task log.
    previous = logging.root.manager.disable
    logging.disable(logging.DEBUG)
    try:
        key = iam.create_access_key(UserName=user_name)["AccessKey"]
    finally:
        logging.disable(previous)
    try:
        yield UserSession(hook, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        iam.delete_access_key(UserName=user_name, AccessKeyId=key["AccessKeyId"])


@dataclass
class Outcome:
    """What one call as a user came back with: 'allowed' or the error code, and AWS's reason when denied."""

    result: str
    reason: str = ""
    attempts: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {"result": self.result, "reason": self.reason, "attempts": self.attempts}


def _denial_reason(message: str) -> str:
    """'... on resource: "arn" with an explicit deny in a resource-based policy' -> the part after the resource."""
    _, sep, rest = message.rpartition('" ')
    return rest if sep else message


def attempt(call: Callable[[], Any]) -> Outcome:
    from botocore.exceptions import ClientError, SSLError

    try:
        call()
    except ClientError as error:
        info = error.response.get("Error", {})
        return Outcome(info.get("Code", "Error"), _denial_reason(info.get("Message", "")))
    except SSLError as error:
        raise RuntimeError(
            f"TLS to the S3 endpoint failed ({error}); if the endpoint uses its own CA, "
            "put the CA file in the connection extra 'verify'"
        ) from error
    return Outcome(ALLOWED)


def probe(call: Callable[[], Any], expected: str = ALLOWED, reason: str = "", wait_seconds: float = 60.0) -> Outcome:
    """Call until the outcome is `expected` ('allowed' or an error code) and, when `reason` is given, AWS's
    reason is that one too (a changed policy may still deny for the old reason), or wait_seconds pass;
    return the last outcome, which is what the caller reports."""
    deadline = monotonic() + wait_seconds
    delay, attempts = 1.0, 0
    while True:
        outcome = attempt(call)
        attempts += 1
        settled = outcome.result == expected and (not reason or outcome.reason == reason)
        if settled or monotonic() + delay > deadline:
            outcome.attempts = attempts
            return outcome
        sleep(delay)
        delay = min(delay * 2, 8.0)

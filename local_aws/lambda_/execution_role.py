"""The execution role's credentials: what a function's handler (and its destinations) act as.

Taken with STS AssumeRole of the function's role (which must exist and trust lambda.amazonaws.com),
cached per function, dropped by /moto-api/reset.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from moto.awslambda.models import LambdaFunction

from local_aws import clients
from local_aws.iam.trust import trusts_service
from local_aws.lambda_.invoke import InvokeError

CREDENTIALS_SECONDS = 3600  # the role session of an environment; environments retire before it ends


@dataclass
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires: float  # time.monotonic()


_credentials: dict[tuple, Credentials] = {}
_credentials_lock = threading.Lock()


def trusts_lambda(document) -> bool:
    """Whether a role's trust policy lets the Lambda service assume it."""
    return trusts_service(document, "lambda.amazonaws.com")


def role_credentials(function: LambdaFunction) -> Credentials:
    """Temporary credentials of the function's execution role (session name = function name), as AWS gives it.

    Taken with STS AssumeRole against local AWS, so whatever IAM enforcement local AWS applies
    to the role applies to the handler; cached until 10 minutes before they expire.
    """
    key = (function.account_id, function.region, function.role, function.function_name)
    with _credentials_lock:
        cached = _credentials.get(key)
        if cached is not None and cached.expires - time.monotonic() > 600:
            return cached

    def cannot_assume(reason: str) -> InvokeError:
        return InvokeError(
            "InvalidParameterValueException",
            f"The role defined for the function cannot be assumed by Lambda: function {function.function_name}, "
            f"role {function.role}: {reason}",
            400,
        )

    # moto's AssumeRole assumes any ARN; AWS's fails unless the role exists and trusts the caller (here Lambda).
    role_name = function.role.split(":role/", 1)[-1].rsplit("/", 1)[-1]
    try:
        role = clients.client("iam", function.region).get_role(RoleName=role_name)["Role"]
    except ClientError as error:
        raise cannot_assume(
            f"{error.response['Error']['Message']}; create the role, or update the function's Role"
        ) from None
    except BotoCoreError as error:
        raise cannot_assume(str(error)) from None
    if not trusts_lambda(role.get("AssumeRolePolicyDocument")):
        raise cannot_assume(
            "its trust policy does not allow lambda.amazonaws.com to sts:AssumeRole; add a statement "
            '{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}'
        )
    try:
        response = clients.client("sts", function.region).assume_role(
            RoleArn=function.role,
            RoleSessionName=function.function_name[:64].ljust(2, "_"),
            DurationSeconds=CREDENTIALS_SECONDS,
        )
    except (ClientError, BotoCoreError) as error:
        raise cannot_assume(f"AssumeRole failed: {error}") from None
    issued = response["Credentials"]
    credentials = Credentials(
        issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"], time.monotonic() + CREDENTIALS_SECONDS
    )
    with _credentials_lock:
        _credentials[key] = credentials
    return credentials


def forget_backend(account_id: str, region: str) -> None:
    """/moto-api/reset of one backend: drop the credentials cached for its functions."""
    with _credentials_lock:
        for key in [key for key in _credentials if key[:2] == (account_id, region)]:
            del _credentials[key]


def forget_all() -> None:
    with _credentials_lock:
        _credentials.clear()

"""Who signed a request: the principal behind its access key, and that principal's identity policies.

Keys IAM issued (CreateAccessKey) act as their user, STS AssumeRole credentials as the
assumed-role session, STS GetSessionToken credentials as whoever asked for them (as on AWS).
GetFederationToken credentials are refused: local AWS does not model federated users, and
granting them anything would be a guess. Any other key - the dummy `testing` credentials every local tool
uses - acts as the account's root, so local AWS keeps working for everything that never
asked for IAM. A key IAM issued and then deleted, or deactivated, is rejected as on AWS.
STS GetCallerIdentity answers with the same principal (moto alone names other keys' caller `user/moto`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.iam.models import IAMBackend, iam_backends
from moto.iam.responses import IamResponse
from moto.iam.utils import random_access_key, random_alphanumeric
from moto.sts.models import sts_backends
from moto.sts.responses import TokenResponse
from moto.sts.utils import random_session_token

from local_aws.iam import simulate
from local_aws.iam.policy import ANONYMOUS, Principal
from local_aws.patching import Patches

PARTITION = "aws"

patches = Patches(__name__)

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_SIGV2 = re.compile(r"^AWS ([^:\s]+):")

# Keys IAM issued and then deleted: they must not fall back to root.
_retired_keys: set[str] = set()
_retired_lock = threading.Lock()

FEDERATION_REFUSED = (
    "Credentials from STS GetFederationToken are not supported by local AWS (it does not model federated "
    "users and their policy intersection); use an IAM user's keys, GetSessionToken or AssumeRole instead."
)


@dataclass(frozen=True)
class _TemporaryKey:
    """A key STS GetSessionToken / GetFederationToken issued; principal None: a federated user (refused)."""

    principal: Principal | None
    session_token: str
    expiration: datetime  # naive UTC, as moto keeps it


_temporary_keys: dict[str, _TemporaryKey] = {}


class CredentialError(Exception):
    """The request's credentials are invalid: code is InvalidAccessKeyId, InvalidToken or ExpiredToken."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def access_key_of(headers: Mapping[str, str], args: Mapping[str, Any], form: Mapping[str, Any]) -> str | None:
    """The access key id of a signed request (header, presigned URL or POST form); None when unsigned."""
    authorization = headers.get("Authorization", "")
    if match := _CREDENTIAL.search(authorization) or _SIGV2.match(authorization):
        return match.group(1)
    for source in (args, form):
        for name in ("X-Amz-Credential", "x-amz-credential"):
            if source.get(name):
                return str(source[name]).split("/")[0]
        for name in ("AWSAccessKeyId", "awsaccesskeyid"):
            if source.get(name):
                return str(source[name])
    return None


def iam_backend(account: str) -> IAMBackend:
    return iam_backends[account][PARTITION]


def retire_key(access_key_id: str) -> None:
    with _retired_lock:
        _retired_keys.add(access_key_id)


def resolve(access_key_id: str | None, account: str, session_token: str | None) -> Principal:
    if access_key_id is None:
        return Principal(ANONYMOUS, account="", arn=ANONYMOUS)
    if (temporary := _temporary_keys.get(access_key_id)) is not None:
        if session_token != temporary.session_token:
            raise CredentialError("InvalidToken", "The provided token is malformed or otherwise invalid.")
        if temporary.expiration < utcnow():
            raise CredentialError("ExpiredToken", "The provided token has expired.")
        if temporary.principal is None:
            raise CredentialError("InvalidToken", FEDERATION_REFUSED)
        return temporary.principal
    iam = iam_backend(account)
    key = iam.access_keys.get(access_key_id)
    if key is None:
        if access_key_id in _retired_keys:
            raise CredentialError(
                "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
            )
        return Principal("root", account=account, arn=f"arn:aws:iam::{account}:root", user_id=account)
    if key.status != "Active":
        raise CredentialError("InvalidAccessKeyId", "The AWS Access Key Id you provided is not active.")
    if key.user_name is not None:
        user = iam.users.get(key.user_name)
        if user is None:
            raise CredentialError(
                "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
            )
        return Principal("user", account=account, arn=user.arn, name=user.name, user_id=user.id)
    session = sts_backends[account][PARTITION].get_assumed_role_from_access_key(access_key_id)
    if session is None:  # a temporary key moto issued for something other than AssumeRole
        return Principal("root", account=account, arn=f"arn:aws:iam::{account}:root", user_id=account)
    if session_token != session.session_token:
        raise CredentialError("InvalidToken", "The provided token is malformed or otherwise invalid.")
    if session.expiration < utcnow():
        raise CredentialError("ExpiredToken", "The provided token has expired.")
    role_name = session.role_arn.split("/")[-1]
    return Principal(
        "assumed-role",
        account=account,
        arn=session.arn,
        name=role_name,
        user_id=session.user_id,
        role_arn=session.role_arn,
        session_name=session.session_name,
    )


def identity_policies(principal: Principal) -> list[Mapping[str, Any]]:
    """Inline and attached policies of a user (and its groups) or of an assumed role (local_aws.iam.simulate)."""
    iam = iam_backend(principal.account) if principal.account else None
    if principal.kind == "user":
        entity, kind = iam.users.get(principal.name), "user"
    elif principal.kind == "assumed-role":
        entity, kind = next((r for r in iam.roles.values() if r.arn == principal.role_arn), None), "role"
    else:
        return []
    return [policy.document for policy in simulate.entity_policies(iam, entity, kind)] if entity else []


def _issue(response: TokenResponse, original: Any, federated: bool) -> Any:
    """moto hands every caller the same fixed key, which would act as root: issue a key of our own,
    remembered with the principal it acts as (the caller; None for a federated user)."""
    result = original(response)
    principal = None
    if not federated:
        try:
            principal = resolve(
                response.get_access_key(), response.current_account, response.headers.get("X-Amz-Security-Token")
            )
        except CredentialError:
            principal = None  # invalid credentials get nothing usable
    credentials = result.result["Credentials"]
    credentials.update(
        AccessKeyId="ASIA" + random_access_key(),
        SecretAccessKey=random_alphanumeric(40),
        SessionToken=random_session_token(),
    )
    _temporary_keys[credentials["AccessKeyId"]] = _TemporaryKey(
        principal, credentials["SessionToken"], credentials["Expiration"]
    )
    return result


# STS GetSessionToken / GetFederationToken issue keys of their own (see _issue).
@patches.wrap(TokenResponse, "get_session_token")
def _get_session_token(original, self: TokenResponse) -> Any:
    return _issue(self, original, federated=False)


@patches.wrap(TokenResponse, "get_caller_identity")
def _get_caller_identity(original, self: TokenResponse) -> Any:
    """Who the keys act as, as S3 sees them: the root for keys IAM did not issue (moto answers `user/moto`),
    the caller of GetSessionToken for its keys; users' keys and role sessions as moto answers them."""
    try:
        principal = resolve(self.get_access_key(), self.current_account, self.headers.get("X-Amz-Security-Token"))
    except CredentialError:
        return original(self)
    if principal.kind == "root":
        return ActionResult({"UserId": principal.account, "Account": principal.account, "Arn": principal.root_arn})
    if principal.kind == "user":
        return ActionResult({"UserId": principal.user_id, "Account": principal.account, "Arn": principal.arn})
    return original(self)


@patches.wrap(TokenResponse, "get_federation_token")
def _get_federation_token(original, self: TokenResponse) -> Any:
    return _issue(self, original, federated=True)


# IAM SimulatePrincipalPolicy / SimulateCustomPolicy (moto has neither) answer with the evaluator S3 enforcement uses.
patches.add(IamResponse, "simulate_principal_policy", simulate.simulate_principal_policy)
patches.add(IamResponse, "simulate_custom_policy", simulate.simulate_custom_policy)


@patches.wrap(IAMBackend, "delete_access_key_by_name")
def _delete_access_key_by_name(original, self: IAMBackend, name: str) -> None:
    """Remember keys IAM deletes, so a deleted key is rejected rather than taken for root."""
    original(self, name)
    retire_key(name)

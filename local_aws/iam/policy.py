"""IAM policy evaluation as AWS documents it: statements, wildcards, policy variables, conditions.

A policy is the parsed JSON document. `matching_effects()` tells which effects ("Allow",
"Deny") of a policy apply to one request; `decide()` combines identity and resource
policies into a decision with the reason AWS gives in its AccessDenied messages.
What is left out (permission boundaries, session policies, SCPs) is listed in docs/local-aws/iam.md.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
SERVICE = "service"  # an AWS service acting on its own, e.g. S3 invoking a function for a notification


@dataclass(frozen=True)
class Principal:
    """Who makes a request: the account root, an IAM user, an assumed-role session, anonymous or a service."""

    kind: str  # "root" | "user" | "assumed-role" | "anonymous" | "service"
    account: str
    arn: str  # what AWS names in error messages (for a session: the assumed-role ARN; a service: s3.amazonaws.com)
    name: str = ""  # user name or role name
    user_id: str = ""
    role_arn: str = ""  # assumed-role sessions only
    session_name: str = ""

    @property
    def principal_arn(self) -> str:
        """aws:PrincipalArn: a session's role ARN, otherwise the principal's own ARN."""
        return self.role_arn or self.arn

    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:root"


@dataclass
class Request:
    """One authorization question: may `principal` perform `action` on `resource` in `context`?"""

    principal: Principal
    action: str  # "s3:GetObject"
    resource: str  # "arn:aws:s3:::bucket/key"
    # Condition keys, lower-cased; a value is a string or a list of strings (multivalued keys).
    context: dict[str, str | list[str]] = field(default_factory=dict)

    def value(self, key: str) -> list[str] | None:
        value = self.context.get(key.lower())
        if value is None:
            return None
        return list(value) if isinstance(value, list) else [value]


def parse(document: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    """A policy document as a mapping; stored documents are parsed once (the result must not be modified)."""
    if isinstance(document, Mapping):
        return document
    return _parse_text(document)


@lru_cache(maxsize=1024)
def _parse_text(document: str | bytes) -> Mapping[str, Any]:
    return json.loads(document)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


# --- wildcards and policy variables

_VARIABLE = re.compile(r"(\$\{[^}]*\})")
_SPECIAL_VARIABLES = {"${*}": "*", "${?}": "?", "${$}": "$"}


def _resolve_variable(token: str, request: Request) -> str | None:
    if token in _SPECIAL_VARIABLES:
        return _SPECIAL_VARIABLES[token]
    inner = token[2:-1]
    key, _, default = inner.partition(",")
    values = request.value(key.strip())
    if values and len(values) == 1:
        return values[0]
    default = default.strip()
    if len(default) >= 2 and default[0] == default[-1] == "'":
        return default[1:-1]
    return None


def _glob(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(_glob(pattern), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """'*' matches any run of characters, '?' one character."""
    return _glob_regex(pattern, ignore_case).fullmatch(value) is not None


def substitute(text: str, request: Request) -> str | None:
    """Replace ${...} policy variables; None when one cannot be resolved (the element then matches nothing)."""
    if "${" not in text:
        return text
    parts = []
    for token in _VARIABLE.split(text):
        if _VARIABLE.fullmatch(token):
            token = _resolve_variable(token, request)
            if token is None:
                return None
        parts.append(token)
    return "".join(parts)


def _match_with_variables(pattern: str, value: str, request: Request, *, ignore_case: bool = False) -> bool:
    """Wildcard match after substituting variables; substituted values match literally (a '*' in a name is no wildcard)."""
    if "${" not in pattern:
        return wildcard_match(pattern, value, ignore_case=ignore_case)
    regex = []
    for token in _VARIABLE.split(pattern):
        if _VARIABLE.fullmatch(token):
            resolved = _resolve_variable(token, request)
            if resolved is None:
                return False
            regex.append(re.escape(resolved))
        else:
            regex.append(_glob(token))
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.fullmatch("".join(regex), value, flags) is not None


# --- conditions

_SET_PREFIXES = ("ForAnyValue:", "ForAllValues:")


def _to_number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _to_date(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError):
        pass
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ip_in(value: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _compare(kind: str, actual: str, expected: str, request: Request) -> bool:
    """One positive comparison of a request value with a policy value."""
    if kind in ("StringEquals", "StringLike", "StringEqualsIgnoreCase", "ArnEquals", "ArnLike"):
        if kind in ("StringLike", "ArnEquals", "ArnLike"):  # ARN operators take wildcards too
            return _match_with_variables(expected, actual, request)
        resolved = substitute(expected, request)
        if resolved is None:
            return False
        if kind == "StringEqualsIgnoreCase":
            return actual.lower() == resolved.lower()
        return actual == resolved
    if kind.startswith("Numeric"):
        a, e = _to_number(actual), _to_number(expected)
        if a is None or e is None:
            return False
        return _ORDER[kind.removeprefix("Numeric")](a, e)
    if kind.startswith("Date"):
        a, e = _to_date(actual), _to_date(expected)
        if a is None or e is None:
            return False
        return _ORDER[kind.removeprefix("Date")](a, e)
    if kind == "Bool":
        return str(actual).lower() == str(expected).lower()
    if kind == "BinaryEquals":
        return actual == expected
    if kind == "IpAddress":
        return _ip_in(actual, expected)
    raise ValueError(f"unsupported condition operator {kind!r}")


_ORDER = {
    "Equals": lambda a, e: a == e,
    "LessThan": lambda a, e: a < e,
    "LessThanEquals": lambda a, e: a <= e,
    "GreaterThan": lambda a, e: a > e,
    "GreaterThanEquals": lambda a, e: a >= e,
}
# Negated operator -> its positive form; a negated operator holds when no policy value matches.
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
_POSITIVE = {
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    *(f"Numeric{o}" for o in _ORDER),
    *(f"Date{o}" for o in _ORDER),
}


def _condition_holds(operator: str, key: str, expected: Sequence[Any], request: Request) -> bool:
    set_op = next((p[:-1] for p in _SET_PREFIXES if operator.startswith(p)), None)
    if set_op:
        operator = operator[len(set_op) + 1 :]
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    if if_exists:
        operator = operator.removesuffix("IfExists")
    expected = [str(v).lower() if isinstance(v, bool) else str(v) for v in expected]
    actual = request.value(key)

    if operator == "Null":
        # "true": the key must be absent; "false": present.
        return any((value.lower() == "true") == (actual is None) for value in expected)
    negated = operator in _NEGATED
    kind = _NEGATED.get(operator, operator)
    if kind not in _POSITIVE:
        raise ValueError(f"unsupported condition operator {operator!r}")
    if actual is None:
        # A missing key matches nothing: positive operators fail, negated ones hold (AWS's known gotcha);
        # ForAllValues holds and ForAnyValue fails whatever the operator (AWS: "a null data set").
        if if_exists or set_op == "ForAllValues":
            return True
        if set_op == "ForAnyValue":
            return False
        return negated

    def matches(value: str) -> bool:
        return any(_compare(kind, value, e, request) for e in expected)

    if set_op == "ForAllValues":
        return all((not matches(v)) if negated else matches(v) for v in actual)
    if set_op == "ForAnyValue":
        return any((not matches(v)) if negated else matches(v) for v in actual)
    # Single-valued use: any request value against any policy value.
    hit = any(matches(v) for v in actual)
    return not hit if negated else hit


def conditions_hold(condition: Mapping[str, Mapping[str, Any]] | None, request: Request) -> bool:
    for operator, block in (condition or {}).items():
        for key, expected in block.items():
            if not _condition_holds(operator, key, _as_list(expected), request):
                return False
    return True


# --- statements


def _matches_any(patterns: Iterable[str], value: str, request: Request, *, ignore_case: bool) -> bool:
    return any(_match_with_variables(str(p), value, request, ignore_case=ignore_case) for p in patterns)


def _aws_principals(spec: Any) -> tuple[bool, list[str]]:
    """(everyone?, AWS principal ARNs) of a Principal/NotPrincipal element; account ids become root ARNs."""
    if spec == "*":
        return True, []
    if not isinstance(spec, Mapping):
        return False, []
    arns = []
    for value in _as_list(spec.get("AWS")):
        value = str(value)
        if value == "*":
            return True, []
        arns.append(f"arn:aws:iam::{value}:root" if re.fullmatch(r"\d{12}", value) else value)
    # Federated and CanonicalUser principals never sign our requests: they match nobody.
    return False, arns


def principal_matches(spec: Any, principal: Principal, effect: str) -> bool:
    everyone, arns = _aws_principals(spec)
    if everyone:
        return True
    if principal.kind == SERVICE:  # {"Service": "s3.amazonaws.com"} (or a list of them) names a service
        return isinstance(spec, Mapping) and principal.arn in {str(s) for s in _as_list(spec.get("Service"))}
    if principal.kind == ANONYMOUS:
        return False
    for arn in arns:
        if arn in (principal.arn, principal.role_arn):
            return True
        if arn == principal.root_arn:
            # Within its account an account principal means the root; a Deny on it covers everyone in it.
            if principal.kind == "root" or effect == "Deny":
                return True
    return False


def statement_applies(statement: Mapping[str, Any], request: Request, *, resource_policy: bool) -> bool:
    if resource_policy:
        if "Principal" in statement:
            if not principal_matches(statement["Principal"], request.principal, statement.get("Effect")):
                return False
        elif "NotPrincipal" in statement:
            if principal_matches(statement["NotPrincipal"], request.principal, "Allow"):
                return False
        else:
            return False
    if "Action" in statement:
        if not _matches_any(_as_list(statement["Action"]), request.action, request, ignore_case=True):
            return False
    elif "NotAction" in statement:
        if _matches_any(_as_list(statement["NotAction"]), request.action, request, ignore_case=True):
            return False
    else:
        return False
    if "Resource" in statement:
        if not _matches_any(_as_list(statement["Resource"]), request.resource, request, ignore_case=False):
            return False
    elif "NotResource" in statement:
        if _matches_any(_as_list(statement["NotResource"]), request.resource, request, ignore_case=False):
            return False
    try:
        return conditions_hold(statement.get("Condition"), request)
    except ValueError as error:
        log.warning("policy statement %s ignored: %s", statement.get("Sid", ""), error)
        return False


def matching_effects(policy: Mapping[str, Any], request: Request, *, resource_policy: bool = False) -> set[str]:
    """The effects ('Allow', 'Deny') of the policy's statements that apply to the request."""
    effects = set()
    for statement in _as_list(policy.get("Statement")):
        if statement_applies(statement, request, resource_policy=resource_policy):
            effects.add(statement.get("Effect", ""))
    return effects


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""  # completes AWS's AccessDenied message when denied

    def message(self, request: Request) -> str:
        if request.principal.kind == ANONYMOUS:
            return "Access Denied"
        return (
            f"User: {request.principal.arn} is not authorized to perform: {request.action} "
            f'on resource: "{request.resource}" {self.reason}'
        )


def decide(
    request: Request,
    identity_policies: Iterable[Mapping[str, Any]],
    resource_policy: Mapping[str, Any] | None,
    resource_account: str,
) -> Decision:
    """AWS's evaluation logic for one account (and the cross-account rule when the resource is elsewhere).

    An explicit Deny anywhere wins. Otherwise the root of the resource's account is allowed; other
    principals of the same account need an Allow in an identity OR the resource policy; principals
    of another account need both.
    """
    identity = set()
    for policy in identity_policies:
        identity |= matching_effects(policy, request)
    resource = matching_effects(resource_policy, request, resource_policy=True) if resource_policy else set()
    action = request.action
    if "Deny" in identity:
        return Decision(False, "with an explicit deny in an identity-based policy")
    if "Deny" in resource:
        return Decision(False, "with an explicit deny in a resource-based policy")
    if request.principal.kind == ANONYMOUS:
        return Decision(True) if "Allow" in resource else Decision(False, "")
    if request.principal.kind == SERVICE:  # a service has no identity policies: only a resource policy grants it
        if "Allow" in resource:
            return Decision(True)
        return Decision(False, f"because no resource-based policy allows the {action} action")
    same_account = request.principal.account == resource_account
    identity_allows = request.principal.kind == "root" or "Allow" in identity
    if same_account and (identity_allows or "Allow" in resource):
        return Decision(True)
    if not same_account and identity_allows and "Allow" in resource:
        return Decision(True)
    if not identity_allows:
        return Decision(False, f"because no identity-based policy allows the {action} action")
    return Decision(False, f"because no resource-based policy allows the {action} action")

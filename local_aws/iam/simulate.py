"""IAM SimulatePrincipalPolicy and SimulateCustomPolicy, answered by local AWS's own policy evaluator.

moto has neither operation. The simulation asks local_aws.iam.policy - the evaluator that decides every
S3 request - about each action and resource: the principal's inline and attached policies (a user's
groups' too), extra policies from PolicyInputList, an optional resource policy and a permissions
boundary, with condition values from ContextEntries only. `entity_policies()` is also where S3
enforcement gets a principal's identity policies (local_aws.iam.principals), so the simulator and the
enforcement always see the same documents. What differs from AWS: docs/local-aws/iam.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.iam.exceptions import InvalidInput, NoSuchEntity
from moto.iam.models import AWSManagedPolicy, IAMBackend, iam_backends
from moto.iam.responses import IamResponse

from local_aws.iam.policy import Principal, Request, decide, parse, statement_applies

PARTITION = "aws"
_ENTITY_ARN = re.compile(r"arn:aws:iam::(\d{12}):(user|role|group)/(?:.*/)?([^/]+)")
_VARIABLE = re.compile(r"\$\{([^},]+)")
_CONTEXT_TYPES = {
    "string", "stringList", "numeric", "numericList", "boolean", "booleanList",
    "ip", "ipList", "binary", "binaryList", "date", "dateList",
}  # fmt: skip
# Parameters of the API that local AWS does not simulate: refused rather than silently ignored.
_UNSUPPORTED = ("ResourceHandlingOption", "PolicyExclusionList", "OrderedOrganizationPolicyInputList")


@dataclass(frozen=True)
class SourcePolicy:
    """One policy in a simulation: what AWS names it in MatchedStatements, and its parsed document."""

    policy_id: str  # SourcePolicyId: the policy's name, or e.g. "PolicyInputList.1"
    policy_type: str  # SourcePolicyType: user | group | role | aws-managed | user-managed | resource | none
    document: Mapping[str, Any]


def _managed(policy: Any) -> SourcePolicy:
    version = next(v for v in policy.versions if v.is_default)
    kind = "aws-managed" if isinstance(policy, AWSManagedPolicy) else "user-managed"
    return SourcePolicy(policy.name, kind, parse(version.document))


def entity_policies(iam: IAMBackend, entity: Any, kind: str) -> list[SourcePolicy]:
    """Inline and attached policies of a user (with its groups'), a group or a role; kind names which."""
    policies = [SourcePolicy(name, kind, parse(doc)) for name, doc in entity.policies.items()]
    policies += [_managed(policy) for policy in entity.managed_policies.values()]
    if kind == "user":
        for group in iam.get_groups_for_user(entity.name):
            policies += entity_policies(iam, group, "group")
    return policies


def _entity(arn: str) -> tuple[str, Any, Principal]:
    """(kind, moto's user/role/group, the principal it acts as) for an IAM entity's ARN."""
    match = _ENTITY_ARN.fullmatch(arn or "")
    if not match:
        raise InvalidInput(
            f"Invalid ARN {arn!r}: specify an IAM user, group or role ARN (arn:aws:iam::ACCOUNT:user/NAME); "
            "an assumed-role session is simulated through its role's ARN"
        )
    account, kind, name = match.groups()
    iam = iam_backends[account][PARTITION]
    found = {"user": iam.users.values(), "role": iam.roles.values(), "group": iam.groups.values()}[kind]
    entity = next((e for e in found if e.arn == arn), None)
    if entity is None:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    user_id = getattr(entity, "id", "")
    return kind, entity, Principal(kind, account=account, arn=arn, name=name, user_id=user_id)


def _policy_inputs(documents: list[str] | None, parameter: str, policy_type: str = "none") -> list[SourcePolicy]:
    policies = []
    for number, text in enumerate(documents or [], start=1):
        try:
            document = parse(text)
        except ValueError as error:
            raise InvalidInput(f"{parameter}.{number} is not a valid JSON policy document: {error}") from None
        statements = document.get("Statement") if isinstance(document, Mapping) else None
        statements = statements if isinstance(statements, list) else [statements]
        if not all(isinstance(st, Mapping) and st.get("Effect") in ("Allow", "Deny") for st in statements):
            raise InvalidInput(f"{parameter}.{number} is not a policy document: each Statement needs an Effect")
        name = parameter if policy_type == "resource" else f"{parameter}.{number}"
        policies.append(SourcePolicy(name, policy_type, document))
    return policies


def _context(entries: list[Mapping[str, Any]] | None) -> dict[str, str | list[str]]:
    """ContextEntries as the evaluator's condition values (lower-cased keys; list types stay lists)."""
    context: dict[str, str | list[str]] = {}
    for entry in entries or []:
        name, kind, values = entry.get("ContextKeyName"), entry.get("ContextKeyType"), entry.get("ContextKeyValues")
        if not name or kind not in _CONTEXT_TYPES:
            raise InvalidInput(
                f"ContextEntries need a ContextKeyName and a ContextKeyType among {sorted(_CONTEXT_TYPES)}: {entry}"
            )
        values = [str(v) for v in values or []]
        context[name.lower()] = values if kind.endswith("List") or len(values) != 1 else values[0]
    return context


def _statements(policy: SourcePolicy) -> list[Mapping[str, Any]]:
    statements = policy.document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _missing_keys(statement: Mapping[str, Any], request: Request) -> set[str]:
    """Condition keys and policy variables of a statement about this action that the simulation has no value for."""
    about_action = {k: v for k, v in statement.items() if k in ("Action", "NotAction")}
    if not statement_applies({**about_action, "Resource": "*"}, request, resource_policy=False):
        return set()
    keys = {key for block in (statement.get("Condition") or {}).values() for key in block}
    keys |= {name.strip() for name in _VARIABLE.findall(json.dumps(statement.get("Resource", "")))}
    return {key for key in keys if key not in ("*", "?", "$") and request.value(key) is None}


@dataclass
class Simulation:
    """Everything one Simulate*Policy call evaluates, fixed before any action is."""

    principal: Principal
    identity: list[SourcePolicy]
    resource_policy: SourcePolicy | None
    resource_owner: str | None
    boundary: list[SourcePolicy]
    context: dict[str, str | list[str]]

    def _resource_account(self, resource: str) -> str:
        parts = resource.split(":")
        account = parts[4] if len(parts) > 5 and parts[4] else None
        return self.resource_owner or account or self.principal.account

    def evaluate(self, action: str, resource: str) -> dict[str, Any]:
        """One action on one resource: the decision, the statements that made it and the missing context keys."""
        request = Request(self.principal, action, resource, self.context)
        matched = [
            (policy, statement)
            for policy in self.identity
            for statement in _statements(policy)
            if statement_applies(statement, request, resource_policy=False)
        ]
        if self.resource_policy:
            matched += [
                (self.resource_policy, statement)
                for statement in _statements(self.resource_policy)
                if statement_applies(statement, request, resource_policy=True)
            ]
        boundary = {
            statement.get("Effect")
            for policy in self.boundary
            for statement in _statements(policy)
            if statement_applies(statement, request, resource_policy=False)
        }
        decision = decide(
            request,
            [policy.document for policy in self.identity],
            self.resource_policy.document if self.resource_policy else None,
            self._resource_account(resource),
        )
        denies = [pair for pair in matched if pair[1].get("Effect") == "Deny"]
        within_boundary = not self.boundary or boundary == {"Allow"}
        if denies or "Deny" in boundary:
            outcome, deciding = "explicitDeny", denies
        elif decision.allowed and within_boundary:
            outcome, deciding = "allowed", [pair for pair in matched if pair[1].get("Effect") == "Allow"]
        else:
            outcome, deciding = "implicitDeny", []
        missing = set()
        for policy in [*self.identity, *self.boundary, *([self.resource_policy] if self.resource_policy else [])]:
            for statement in _statements(policy):
                missing |= _missing_keys(statement, request)
        result = {
            "decision": outcome,
            "MatchedStatements": _unique(
                {"SourcePolicyId": policy.policy_id, "SourcePolicyType": policy.policy_type} for policy, _ in deciding
            ),
            "MissingContextValues": sorted(missing),
        }
        if self.boundary:
            result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": within_boundary}
        return result


def _unique(statements: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """MatchedStatements without repeats (AWS names each statement once; local AWS names its policy)."""
    unique: list[dict[str, str]] = []
    for statement in statements:
        if statement not in unique:
            unique.append(statement)
    return unique


_ORDER = {"allowed": 0, "implicitDeny": 1, "explicitDeny": 2}


def _evaluation_result(simulation: Simulation, action: str, resources: list[str] | None) -> dict[str, Any]:
    """One EvaluationResult per action, as AWS answers now: the most restrictive decision over the resources,
    each resource's own in ResourceSpecificResults (only when ResourceArns were given)."""
    if not re.fullmatch(r"[^:\s]+:[^:\s]+", action):
        raise InvalidInput(f"Invalid action name {action!r}: an action is SERVICE:ACTION, e.g. s3:GetObject")
    per_resource = {resource: simulation.evaluate(action, resource) for resource in resources or ["*"]}
    decision = max((r["decision"] for r in per_resource.values()), key=_ORDER.__getitem__)
    result = {
        "EvalActionName": action,
        "EvalResourceName": resources[0] if resources and len(resources) == 1 else "*",
        "EvalDecision": decision,
        "MatchedStatements": _unique(
            statement
            for r in per_resource.values()
            if r["decision"] == decision
            for statement in r["MatchedStatements"]
        ),
        "MissingContextValues": [] if resources else per_resource["*"]["MissingContextValues"],
    }
    boundary = [
        r["PermissionsBoundaryDecisionDetail"]
        for r in per_resource.values()
        if "PermissionsBoundaryDecisionDetail" in r
    ]
    if boundary:
        allowed = all(detail["AllowedByPermissionsBoundary"] for detail in boundary)
        result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": allowed}
    if resources:
        result["ResourceSpecificResults"] = [
            {"EvalResourceName": resource, "EvalResourceDecision": r.pop("decision"), **r}
            for resource, r in per_resource.items()
        ]
    return result


def _page(response: IamResponse, results: list[dict[str, Any]]) -> ActionResult:
    max_items = response._get_int_param("MaxItems", 100)
    marker = response._get_param("Marker")
    if not 1 <= max_items <= 1000:
        raise InvalidInput(f"MaxItems must be between 1 and 1000, not {max_items}")
    start = 0
    if marker is not None:
        if not marker.isdigit() or int(marker) > len(results):
            raise InvalidInput(f"Invalid Marker {marker!r}: pass the Marker of the previous page")
        start = int(marker)
    end = start + max_items
    page = {"EvaluationResults": results[start:end], "IsTruncated": end < len(results)}
    if end < len(results):
        page["Marker"] = str(end)
    return ActionResult(page)


def _simulate(response: IamResponse, principal: Principal, identity: list[SourcePolicy], boundary) -> ActionResult:
    """Evaluate every action of the request on every resource, one page of results at a time."""
    unsupported = [name for name in _UNSUPPORTED if response._get_param(name)]
    if unsupported:
        raise InvalidInput(
            f"local AWS's policy simulator does not support {', '.join(unsupported)} (docs/local-aws/iam.md)"
        )
    boundary_inputs = response._get_param("PermissionsBoundaryPolicyInputList")
    resource_policy = response._get_param("ResourcePolicy")
    simulation = Simulation(
        principal=principal,
        identity=identity,
        resource_policy=_policy_inputs([resource_policy], "ResourcePolicy", "resource")[0] if resource_policy else None,
        resource_owner=response._get_param("ResourceOwner"),
        boundary=_policy_inputs(boundary_inputs, "PermissionsBoundaryPolicyInputList") if boundary_inputs else boundary,
        context=_context(response._get_param("ContextEntries")),
    )
    resources = response._get_param("ResourceArns") or None
    results = [_evaluation_result(simulation, action, resources) for action in response._get_param("ActionNames")]
    return _page(response, results)


def _caller(response: IamResponse, source: Principal | None) -> Principal:
    """Whom resource policies see: CallerArn, else the simulated user; required with a ResourcePolicy otherwise."""
    if caller_arn := response._get_param("CallerArn"):
        return _entity(caller_arn)[2]
    if response._get_param("ResourcePolicy") and (source is None or source.kind != "user"):
        raise InvalidInput("CallerArn is required when a ResourcePolicy is included and PolicySourceArn is not a user")
    return source or Principal("user", account=response.current_account, arn="")


def simulate_principal_policy(self: IamResponse) -> ActionResult:
    kind, entity, principal = _entity(self._get_param("PolicySourceArn"))
    iam = iam_backends[principal.account][PARTITION]
    identity = entity_policies(iam, entity, kind) + _policy_inputs(
        self._get_param("PolicyInputList"), "PolicyInputList"
    )
    boundary_arn = getattr(entity, "permissions_boundary_arn", None)  # roles only in moto
    boundary = [_managed(iam.get_policy(boundary_arn))] if boundary_arn else []
    return _simulate(self, _caller(self, principal), identity, boundary)


def simulate_custom_policy(self: IamResponse) -> ActionResult:
    identity = _policy_inputs(self._get_param("PolicyInputList"), "PolicyInputList")
    return _simulate(self, _caller(self, None), identity, [])

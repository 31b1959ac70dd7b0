"""The aws_preflight DAG's work: what each DAG needs of IAM and of the region, checked before anything is created.

Each DAG's least-privilege policy is `iam_policies/<dag_id>.json` (resources scoped by the default name
prefix `ade`, any region and account). For a principal, every action of every Allow statement is asked of
IAM's policy simulator (`SimulatePrincipalPolicy`) on the statement's resources, pinned to the run's
prefix, region and account. The region check asks SSM's public parameters which services the region
offers (by API) and compares the Glue version and Lambda runtimes the DAGs use with AWS's published
support dates (a list kept here). Everything becomes rows of one table: DAG, action, resource, decision,
why. docs/aws-preflight.md says what this sees and what it cannot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from labkit.core import naming, paths

POLICIES_DIR = paths.PROJECT_ROOT / "iam_policies"
REPORT_PATH = paths.PROJECT_ROOT / "artifacts" / "aws_preflight" / "report.md"
ALLOWED, AVAILABLE = "allowed", "available"
UNAVAILABLE = "unavailable"

# What the DAGs run on beyond plain API calls (tests/unit/test_iam_policies.py keeps this in step with them).
GLUE_VERSION_DAGS = {
    "glue_lab1_csv_to_parquet": "5.0",
    "glue_lab2_triggers": "5.0",
    "glue_lab3_workflow": "5.0",
    "glue_lab4_s3_to_s3_etl": "5.0",
    "glue_lab5_joins": "5.0",
    "cdc_project": "5.0",
    "nightly_pipeline": "5.0",
}
LAMBDA_RUNTIME_DAGS = {
    "lambda_lab1_basics": "python3.11",
    "lambda_lab2_sns_cloudwatch": "python3.11",
    "lambda_lab3_s3_move": "python3.11",
    "lambda_lab4_s3_delete": "python3.11",
    "cdc_project": "python3.11",
    "clickstream_project": "python3.12",
}


@dataclass(frozen=True)
class Support:
    """A runtime's published end of support: from `blocked` on, AWS refuses to create what uses it."""

    deprecated: date | None
    blocked: date | None
    source: str


# Kept by hand from AWS's pages: no API lists Glue versions or Lambda runtimes with their dates.
GLUE_VERSIONS = {
    "5.0": Support(None, None, "https://docs.aws.amazon.com/glue/latest/dg/glue-version-support-policy.html"),
}
LAMBDA_RUNTIMES = {  # blocked: "Block function create"
    "python3.11": Support(date(2027, 6, 30), date(2027, 7, 31), "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html"),
    "python3.12": Support(date(2028, 10, 31), date(2028, 11, 30), "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html"),
}  # fmt: skip
PREFIX_IN_NAME = re.compile(r"(?<=[:/])" + naming.DEFAULT_PREFIX + r"(?=[-_])")


class PreflightError(ValueError):
    """Bad input to the preflight: an unknown DAG, a principal IAM cannot simulate, a policy that is not one."""


@dataclass(frozen=True)
class Row:
    """One line of the report: may `action` be done on `resource` for `dag_id` (or is it available), and why."""

    dag_id: str
    action: str
    resource: str
    decision: str  # allowed | implicitDeny | explicitDeny (IAM), available | unavailable (region)
    why: str

    @property
    def fails(self) -> bool:
        return self.decision not in (ALLOWED, AVAILABLE)


# --- the policies in the repo


def dag_ids() -> list[str]:
    """Every DAG that has a policy document."""
    return sorted(path.stem for path in POLICIES_DIR.glob("*.json"))


def selected(requested: Sequence[str] | None) -> list[str]:
    """The DAGs to check: all when none are named; an unknown one is an error naming those there are."""
    known = dag_ids()
    unknown = sorted(set(requested or []) - set(known))
    if unknown:
        raise PreflightError(f"no policy in {POLICIES_DIR} for {', '.join(unknown)}; DAGs with one: {', '.join(known)}")
    return sorted(set(requested)) if requested else known


def load_policy(dag_id: str) -> dict[str, Any]:
    path = POLICIES_DIR / f"{dag_id}.json"
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise PreflightError(f"{path} is not a readable JSON policy document: {error}") from None
    problems = policy_problems(document)
    if problems:
        raise PreflightError(f"{path}: " + "; ".join(problems))
    return document


def policy_problems(document: Any) -> list[str]:
    """What keeps a document from being a least-privilege identity policy the preflight can check (empty: none)."""
    if not isinstance(document, dict) or set(document) - {"Version", "Id", "Statement"}:
        return ["a policy is an object with Version, Statement and optionally Id"]
    problems = [] if document.get("Version") == "2012-10-17" else ['Version must be "2012-10-17"']
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        return [*problems, "Statement must be a non-empty list"]
    known = {"Sid", "Effect", "Action", "Resource", "Condition"}
    for number, statement in enumerate(statements, start=1):
        where = f"statement {number}"
        if not isinstance(statement, dict) or set(statement) - known:
            problems.append(f"{where}: only {sorted(known)} (no NotAction, NotResource or Principal)")
            continue
        if statement.get("Effect") != "Allow":
            problems.append(f"{where}: Effect must be Allow (a DAG's policy grants what it needs)")
        actions, resources = statement.get("Action"), statement.get("Resource")
        for element, values in (("Action", actions), ("Resource", resources)):
            if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
                problems.append(f"{where}: {element} must be a non-empty list of strings")
        for action in actions if isinstance(actions, list) else []:
            if not re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", str(action)):
                problems.append(f"{where}: {action!r} is not one action (SERVICE:Action, no wildcards)")
        for resource in resources if isinstance(resources, list) else []:
            if resource != "*" and not str(resource).startswith("arn:aws:"):
                problems.append(f"{where}: resource {resource!r} is neither '*' nor an ARN")
    return problems


def pin(resource: str, *, prefix: str, region: str, account: str) -> str:
    """A policy's resource for one run: '*' region and account filled in, the name prefix `ade` replaced by the
    run's as labkit.core.naming spells it (buckets lowercase, databases with '_', other names as given)."""
    if resource == "*":
        return resource
    parts = resource.split(":", 5)
    if len(parts) == 6:
        parts[3] = region if parts[3] == "*" else parts[3]
        parts[4] = account if parts[4] == "*" else parts[4]
    pinned = ":".join(parts)
    spelled = {
        "_": re.sub(r"[^a-z0-9_]+", "_", prefix.lower()),
        "-": re.sub(r"[^a-z0-9-]+", "-", prefix.lower())
        if parts[2] == "s3"
        else re.sub(r"[^A-Za-z0-9-]+", "-", prefix),
    }
    return PREFIX_IN_NAME.sub(lambda match: spelled[pinned[match.end()]], pinned)


@dataclass(frozen=True)
class Check:
    """One Allow statement of a DAG's policy, pinned: its actions on its resources, with its condition's values."""

    dag_id: str
    actions: list[str]
    resources: list[str]
    context: list[dict[str, Any]]


def checks(dag_id: str, document: Mapping[str, Any], *, prefix: str, region: str, account: str) -> list[Check]:
    found = []
    for statement in document["Statement"]:
        resources = [pin(r, prefix=prefix, region=region, account=account) for r in statement["Resource"]]
        context = _context(statement.get("Condition"), lambda v: pin(v, prefix=prefix, region=region, account=account))
        found.append(Check(dag_id, list(statement["Action"]), resources, context))
    return found


def _context(condition: Mapping[str, Mapping[str, Any]] | None, pinned) -> list[dict[str, Any]]:
    """ContextEntries with the values a statement's condition expects (ARNs pinned): the DAG's calls carry those."""
    entries = []
    for operator, block in (condition or {}).items():
        if operator not in ("StringEquals", "StringLike", "ArnEquals", "ArnLike"):
            raise PreflightError(f"a DAG policy's condition may use String/Arn Equals/Like only, not {operator}")
        for key, values in block.items():
            values = [
                pinned(str(v)) if str(v).startswith("arn:") else str(v)
                for v in (values if isinstance(values, list) else [values])
            ]
            kind = "stringList" if len(values) > 1 else "string"
            entries.append({"ContextKeyName": key, "ContextKeyValues": values, "ContextKeyType": kind})
    return entries


# --- who is checked

ROOT_WHY = (
    "the account's root user: IAM policies do not limit it (a service control policy could, "
    "and IAM cannot simulate the root; run the DAGs as an IAM user or role instead)"
)


def is_root(arn: str) -> bool:
    return bool(re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:root", arn))


def principal_of(arn: str, role_arn_of) -> str:
    """The principal to check for a caller or a given ARN: a user, role or the root as they are, an assumed-role
    session as its role (role_arn_of(name) looks its ARN up, path included); anything else is an error."""
    if is_root(arn) or re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:(user|role)/.+", arn):
        return arn
    if session := re.fullmatch(r"arn:aws[\w-]*:sts::\d{12}:assumed-role/([^/]+)/.+", arn):
        return role_arn_of(session.group(1))
    raise PreflightError(
        f"{arn!r} is neither an IAM user, a role, a role session nor the root, so IAM cannot simulate it; "
        "set the param principal to the ARN of the IAM user or role that will run the DAGs"
    )


# --- IAM's answers as rows


def simulate(iam_client: Any, principal: str, check: Check) -> list[Row]:
    """Ask IAM's policy simulator about every action of the check on each of its resources (all pages)."""
    kwargs: dict[str, Any] = {"PolicySourceArn": principal, "ActionNames": check.actions}
    if check.resources != ["*"]:
        kwargs["ResourceArns"] = check.resources
    if check.context:
        kwargs["ContextEntries"] = check.context
    pages = iam_client.get_paginator("simulate_principal_policy").paginate(**kwargs)
    return [row for page in pages for row in rows_of(check.dag_id, page["EvaluationResults"])]


def rows_of(dag_id: str, results: Iterable[Mapping[str, Any]]) -> list[Row]:
    """EvaluationResults as rows, one per action and resource (ResourceSpecificResults when there are some)."""
    rows: dict[tuple[str, str], Row] = {}
    for result in results:
        per_resource = result.get("ResourceSpecificResults") or [
            {**result, "EvalResourceName": result["EvalResourceName"], "EvalResourceDecision": result["EvalDecision"]}
        ]
        for item in per_resource:
            decision = item["EvalResourceDecision"]
            detail = {**result, **{k: v for k, v in item.items() if v}}
            row = Row(dag_id, result["EvalActionName"], item["EvalResourceName"], decision, why(decision, detail))
            rows.setdefault((row.action, row.resource), row)
    return list(rows.values())


def _sources(statements: Iterable[Mapping[str, Any]]) -> str:
    return ", ".join(
        f"{s.get('SourcePolicyId', '?')} ({s['SourcePolicyType']})"
        if s.get("SourcePolicyType")
        else s.get("SourcePolicyId", "?")
        for s in statements
    )


def why(decision: str, result: Mapping[str, Any]) -> str:
    """The reason for a decision, in words: which policies allow or deny, or what is missing."""
    statements = result.get("MatchedStatements") or []
    if decision == ALLOWED:
        return f"allowed by {_sources(statements)}" if statements else "allowed"
    if decision == "explicitDeny":
        return f"explicitly denied by {_sources(statements)}" if statements else "explicitly denied"
    reasons = []
    if (result.get("OrganizationsDecisionDetail") or {}).get("AllowedByOrganizations") is False:
        reasons.append("an organization's service control policy does not allow it")
    if (result.get("PermissionsBoundaryDecisionDetail") or {}).get("AllowedByPermissionsBoundary") is False:
        reasons.append("the permissions boundary does not allow it")
    if not reasons:
        reasons.append("no policy of the principal allows it")
    if result.get("MissingContextValues"):
        reasons.append("condition keys without a value: " + ", ".join(result["MissingContextValues"]))
    return "; ".join(reasons)


# --- the region


def services_needed(document: Mapping[str, Any]) -> list[str]:
    """The services a policy's actions call: their action prefixes, which SSM's parameters name them by."""
    return sorted({action.split(":")[0] for statement in document["Statement"] for action in statement["Action"]})


def offered_services(ssm_client: Any, region: str) -> set[str]:
    """The services SSM's public parameters list for a region; an unknown region is an error."""
    path = f"/aws/service/global-infrastructure/regions/{region}/services"
    pages = ssm_client.get_paginator("get_parameters_by_path").paginate(Path=path)
    services = {parameter["Value"] for page in pages for parameter in page["Parameters"]}
    if not services:
        raise PreflightError(f"{region!r} is not an AWS region: SSM lists no services under {path}")
    return services


def availability(dag_id: str, document: Mapping[str, Any], offered: set[str], region: str, today: date) -> list[Row]:
    """Is every service of the DAG offered in the region, and are its Glue version and Lambda runtime still supported?"""
    rows = [
        Row(
            dag_id,
            f"service {service}",
            region,
            AVAILABLE if service in offered else UNAVAILABLE,
            "offered in the region (SSM public parameters)"
            if service in offered
            else f"{service} is not offered in {region}",
        )
        for service in services_needed(document)
    ]
    for kind, service, versions, wanted in (
        ("Glue version", "glue", GLUE_VERSIONS, GLUE_VERSION_DAGS.get(dag_id)),
        ("Lambda runtime", "lambda", LAMBDA_RUNTIMES, LAMBDA_RUNTIME_DAGS.get(dag_id)),
    ):
        if wanted:
            rows.append(_supported(dag_id, f"{kind} {wanted}", versions.get(wanted), service in offered, region, today))
    return rows


def _supported(dag_id: str, what: str, support: Support | None, offered: bool, region: str, today: date) -> Row:
    if support is None:
        return Row(dag_id, what, region, UNAVAILABLE, f"{what} is not in the preflight's list of supported versions")
    if not offered:
        return Row(dag_id, what, region, UNAVAILABLE, f"its service is not offered in {region}")
    if support.blocked and today >= support.blocked:
        return Row(
            dag_id, what, region, UNAVAILABLE, f"AWS blocks creating with it since {support.blocked} ({support.source})"
        )
    if support.deprecated and today >= support.deprecated:
        note = f"deprecated since {support.deprecated}; creating with it is blocked from {support.blocked}"
        return Row(dag_id, what, region, AVAILABLE, f"{note} ({support.source})")
    until = f"supported until {support.deprecated}" if support.deprecated else "supported, no end of support announced"
    return Row(dag_id, what, region, AVAILABLE, f"{until} ({support.source})")


# --- the report


def table(rows: Sequence[Row]) -> str:
    """A Markdown table of the rows, what would fail first."""
    ordered = sorted(rows, key=lambda r: (not r.fails, r.dag_id, r.action, r.resource))
    lines = ["| DAG | action | resource | decision | why |", "| --- | --- | --- | --- | --- |"]
    lines += [
        "| "
        + " | ".join(str(value).replace("|", "\\|") for value in (r.dag_id, r.action, r.resource, r.decision, r.why))
        + " |"
        for r in ordered
    ]
    return "\n".join(lines)


def report(rows: Sequence[Row], *, principal: str, region: str, prefix: str) -> str:
    failing = [row for row in rows if row.fails]
    dags = sorted({row.dag_id for row in rows})
    verdict = (
        f"**{len(failing)} of {len(rows)} checks would fail** in {len({r.dag_id for r in failing})} of {len(dags)} DAGs."
        if failing
        else f"All {len(rows)} checks pass for {len(dags)} DAGs."
    )
    return (
        f"# AWS preflight\n\nPrincipal `{principal}`, region `{region}`, name prefix `{prefix}`.\n\n"
        f"{verdict}\n\n{table(rows)}\n"
    )


def failure_message(rows: Sequence[Row]) -> str | None:
    """What would fail, one line per DAG, action and resource; None when nothing would."""
    failing = sorted((r for r in rows if r.fails), key=lambda r: (r.dag_id, r.action, r.resource))
    if not failing:
        return None
    lines = [f"{r.dag_id}: {r.action} on {r.resource}: {r.decision} ({r.why})" for r in failing]
    return f"{len(failing)} check(s) would fail:\n" + "\n".join(lines)


def write_report(text: str, path: Path = REPORT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def as_dicts(rows: Iterable[Row]) -> list[dict[str, str]]:
    return [asdict(row) for row in rows]


def from_dicts(items: Iterable[Mapping[str, str]]) -> list[Row]:
    return [Row(**item) for item in items]


# --- the DAG's tasks, through the Amazon provider's hooks (connection aws_conn_id)


def identify(principal: str, region: str, requested_dags: Sequence[str], aws_conn_id: str) -> dict[str, Any]:
    """Who is checked (the param, else the caller from sts:GetCallerIdentity), where, with which prefix and DAGs."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.sts import StsHook

    sts = StsHook(aws_conn_id=aws_conn_id)
    caller = sts.conn.get_caller_identity()
    iam = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="iam").conn

    def role_arn_of(name: str) -> str:
        return iam.get_role(RoleName=name)["Role"]["Arn"]

    checked = principal_of(principal.strip() or caller["Arn"], role_arn_of)
    return {
        "caller": caller["Arn"],
        "principal": checked,
        "account": checked.split(":")[4],
        "region": region.strip() or sts.region_name,
        "prefix": naming.current_prefix(),
        "dags": selected(requested_dags),
    }


def check_permissions(identity: Mapping[str, Any], aws_conn_id: str) -> list[dict[str, str]]:
    """Every DAG's policy simulated for the principal: one row per action and resource."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    iam = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="iam").conn
    principal = identity["principal"]
    rows: list[Row] = []
    for dag_id in identity["dags"]:
        pinning = {key: identity[key] for key in ("prefix", "region", "account")}
        for check in checks(dag_id, load_policy(dag_id), **pinning):
            if is_root(principal):
                rows += [Row(dag_id, a, r, ALLOWED, ROOT_WHY) for a in check.actions for r in check.resources]
                continue
            try:
                rows += simulate(iam, principal, check)
            except iam.exceptions.NoSuchEntityException as error:
                raise PreflightError(f"IAM has no principal {principal}: {error}") from None
    return as_dicts(rows)


def check_region(identity: Mapping[str, Any], aws_conn_id: str, today: date | None = None) -> list[dict[str, str]]:
    """Every DAG's services offered in the region (SSM public parameters), its Glue version and Lambda runtime supported."""
    from airflow.providers.amazon.aws.hooks.ssm import SsmHook

    region = identity["region"]
    offered = offered_services(SsmHook(aws_conn_id=aws_conn_id).conn, region)
    today = today or date.today()
    rows = [
        row for dag_id in identity["dags"] for row in availability(dag_id, load_policy(dag_id), offered, region, today)
    ]
    return as_dicts(rows)


def conclude(identity: Mapping[str, Any], *row_lists: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """Write the report (the log and REPORT_PATH); fail naming every DAG, action and resource that would fail."""
    import logging

    from airflow.sdk.exceptions import AirflowFailException

    rows = [row for items in row_lists for row in from_dicts(items)]
    text = report(rows, principal=identity["principal"], region=identity["region"], prefix=identity["prefix"])
    path = write_report(text)
    logging.getLogger(__name__).info("AWS preflight (also in %s):\n%s", path, text)
    message = failure_message(rows)
    if message:
        raise AirflowFailException(f"{message}\n(report: {path})")
    return {"principal": identity["principal"], "region": identity["region"], "checks": len(rows), "failing": 0}

"""Each DAG's policy in iam_policies/ covers the AWS calls the DAG really makes.

The DAG runs on local AWS while every boto3 call signed with the DAG's connection key is recorded (the
executors' and the labs' own users' calls are not the DAG's). Each call becomes the IAM action(s) AWS
authorizes it with and, where the call names it, the resource; local AWS's SimulateCustomPolicy then
decides it against the DAG's policy, pinned as the preflight pins it. Only DAGs that run in seconds are
run here; the others' policies were derived from the same recording (docs/aws-preflight.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest

from local_aws.iam import s3 as s3_actions

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
ACCOUNT = "123456789012"
DAG_KEY = "testing"  # the access key of aws_default in the tests (tests/conftest.py)
POLICIES = Path(__file__).resolve().parents[2] / "iam_policies"
DAGS = {
    "s3_lab1_versioning": {"teardown": True},
    "s3_lab2_policies": {"teardown": True},
    "lambda_lab3_s3_move": {"teardown": True},
    "athena_lab1_basics": {"teardown": True},
}


def record_calls(monkeypatch) -> list[tuple[str, str, dict[str, Any]]]:
    """(endpoint prefix, operation, params) of every call the DAG's own key makes from now on."""
    calls = []
    original = botocore.client.BaseClient._make_api_call

    def recording(client, operation, params):
        credentials = client._request_signer._credentials
        if credentials is not None and credentials.access_key == DAG_KEY:
            calls.append((client.meta.service_model.endpoint_prefix, operation, dict(params)))
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return calls


def s3_checks(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(action, resource) AWS authorizes an S3 call with (local_aws.iam.s3.ACTIONS, the enforcement's own map)."""
    action, kind, versioned = s3_actions.ACTIONS[operation]
    bucket = params.get("Bucket", "")
    keys = [params["Key"]] if "Key" in params else [o["Key"] for o in params.get("Delete", {}).get("Objects", [])]
    with_version = bool(params.get("VersionId")) or any(
        o.get("VersionId") for o in params.get("Delete", {}).get("Objects", [])
    )
    action = versioned if with_version and versioned else action
    if kind == s3_actions.ANY:
        return [(action, "*")]
    checks = [(action, f"arn:aws:s3:::{bucket}")] if kind == s3_actions.BUCKET else []
    checks += [(action, f"arn:aws:s3:::{bucket}/{key}") for key in keys] if kind == s3_actions.OBJECT else []
    source = params.get("CopySource")
    if isinstance(source, dict):
        read = "s3:GetObjectVersion" if source.get("VersionId") else "s3:GetObject"
        checks.append((read, f"arn:aws:s3:::{source['Bucket']}/{source['Key']}"))
    return checks


def resource_of(prefix: str, operation: str, params: dict[str, Any]) -> str | None:
    """The resource a non-S3 call names, as an ARN; None when it names none the test knows."""
    region = f"{REGION}:{ACCOUNT}"
    name = params.get("Name") or (params.get("DatabaseInput") or params.get("TableInput") or {}).get("Name")
    if prefix == "lambda" and "FunctionName" in params:
        return f"arn:aws:lambda:{region}:function:{params['FunctionName'].split(':')[-1]}"
    if prefix == "iam":
        for key, kind in (("RoleName", "role"), ("UserName", "user")):
            if key in params:
                return f"arn:aws:iam::{ACCOUNT}:{kind}/{params[key]}"
    if prefix == "logs" and "logGroupName" in params:
        return f"arn:aws:logs:{region}:log-group:{params['logGroupName']}"
    if prefix == "sns":
        return params.get("TopicArn") or (f"arn:aws:sns:{region}:{name}" if operation == "CreateTopic" else None)
    if prefix == "athena" and (params.get("WorkGroup") or operation == "CreateWorkGroup"):
        return f"arn:aws:athena:{region}:workgroup/{params.get('WorkGroup') or name}"
    if prefix == "glue":
        database = params.get("DatabaseName")
        if "Table" in operation or "Partition" in operation:
            return f"arn:aws:glue:{region}:table/{database}/{params.get('TableName') or name}"
        if operation.endswith("Database"):
            return f"arn:aws:glue:{region}:database/{name or database}"
        for kind in ("Crawler", "Job", "Trigger", "Workflow"):
            if operation.endswith(kind) or operation.endswith(f"{kind}Run") or operation.endswith(f"{kind}Runs"):
                return f"arn:aws:glue:{region}:{kind.lower()}/{params.get(f'{kind}Name') or name}"
    return None


def checks_of(prefix: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str | None]]:
    if prefix == "s3":
        return s3_checks(operation, params)
    if (prefix, operation) == ("sts", "GetCallerIdentity"):
        return []  # needs no permission
    action = {("lambda", "Invoke"): "lambda:InvokeFunction"}.get((prefix, operation), f"{prefix}:{operation}")
    return [(action, resource_of(prefix, operation, params))]


def pinned_policy(dag_id: str) -> dict[str, Any]:
    from labkit.labs import aws_preflight

    document = json.loads((POLICIES / f"{dag_id}.json").read_text())
    for statement in document["Statement"]:
        statement["Resource"] = [
            aws_preflight.pin(r, prefix="ade", region=REGION, account=ACCOUNT) for r in statement["Resource"]
        ]
    return document


@pytest.mark.parametrize("dag_id", sorted(DAGS))
def test_the_dags_policy_allows_every_call_it_makes(dag_id, trusting_connection, monkeypatch):
    local_aws = trusting_connection  # the labs that prove HTTPS-only policies call over TLS
    from labkit.local import runner

    calls = record_calls(monkeypatch)
    report = runner.run_dag(dag_id, DAGS[dag_id])
    monkeypatch.undo()
    assert report.state == "success", f"failed tasks: {report.failed_tasks}"
    assert len(calls) > 10, calls

    document = pinned_policy(dag_id)
    granted = {action for statement in document["Statement"] for action in statement["Action"]}
    iam = boto3.client("iam", endpoint_url=local_aws.endpoint_url, region_name=REGION)
    denied, asked = set(), set()
    for prefix, operation, params in calls:
        for action, resource in checks_of(prefix, operation, params):
            context = []
            if "PolicyArn" in params:  # AttachRolePolicy's iam:PolicyARN condition key
                context = [
                    {
                        "ContextKeyName": "iam:PolicyARN",
                        "ContextKeyValues": [params["PolicyArn"]],
                        "ContextKeyType": "string",
                    }
                ]
            if (action, resource) in asked:
                continue
            asked.add((action, resource))
            if resource is None:  # a call naming no resource the test knows: the action must be granted at all
                if action not in granted:
                    denied.add((action, f"({operation} names no resource)"))
                continue
            result = iam.simulate_custom_policy(
                PolicyInputList=[json.dumps(document)],
                ActionNames=[action],
                ResourceArns=[resource],
                ContextEntries=context,
            )["EvaluationResults"][0]
            if result["EvalDecision"] != "allowed":
                denied.add((action, resource))
    assert sorted(denied) == [], f"iam_policies/{dag_id}.json does not allow these calls the DAG made"

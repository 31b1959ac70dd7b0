"""The aws_preflight DAG on local AWS: a principal with every DAG's policy passes; one lacking one action fails,
and the report names exactly that DAG, action and resource."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from tests.lab_runs import assert_recorded_only_in_the_tests_airflow_home

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
ACCOUNT = "123456789012"
POLICIES = Path(__file__).resolve().parents[2] / "iam_policies"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
    }
)


def policy_arns(iam, without: tuple[str, str] | None = None) -> list[str]:
    """Every DAG's policy as a managed policy; `without` (dag_id, action) leaves that one action out of it."""
    arns = []
    for path in sorted(POLICIES.glob("*.json")):
        document = json.loads(path.read_text())
        if without and path.stem == without[0]:
            for statement in document["Statement"]:
                statement["Action"] = [action for action in statement["Action"] if action != without[1]]
            document["Statement"] = [statement for statement in document["Statement"] if statement["Action"]]
        name = f"dag-{path.stem}".replace("_", "-")
        arns.append(iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"])
    return arns


def use_credentials(monkeypatch, endpoint: str, credentials: dict) -> None:
    """aws_default signs with these keys (an IAM user's, or a role session's with its token)."""
    extra = {"endpoint_url": endpoint, "region_name": REGION}
    if credentials.get("SessionToken"):
        extra["aws_session_token"] = credentials["SessionToken"]
    connection = {
        "conn_type": "aws",
        "login": credentials["AccessKeyId"],
        "password": credentials["SecretAccessKey"],
        "extra": extra,
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))


def run_preflight(conf: dict | None = None):
    from labkit.local import runner

    return runner.run_dag("aws_preflight", conf or {})


def report_text() -> str:
    from labkit.labs import aws_preflight

    return aws_preflight.REPORT_PATH.read_text()


def failing_rows(text: str) -> list[list[str]]:
    rows = [line.strip("| ").split(" | ") for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    return [row for row in rows[1:] if row[3] not in ("allowed", "available")]


def test_a_user_with_every_dags_policy_passes(local_aws, monkeypatch):
    iam = boto3.client("iam", endpoint_url=local_aws.endpoint_url, region_name=REGION)
    iam.create_user(UserName="deployer")
    for arn in policy_arns(iam):
        iam.attach_user_policy(UserName="deployer", PolicyArn=arn)
    use_credentials(monkeypatch, local_aws.endpoint_url, iam.create_access_key(UserName="deployer")["AccessKey"])

    report = run_preflight()

    assert report.state == "success", f"failed tasks: {report.failed_tasks}\n{report_text()}"
    assert report.task_states.pop("watcher") == "skipped"
    assert set(report.task_states.values()) == {"success"}, report.task_states
    assert_recorded_only_in_the_tests_airflow_home(report)
    principal = f"arn:aws:iam::{ACCOUNT}:user/deployer"
    assert report.figures["principal"] == principal and report.figures["failing"] == 0
    text = report_text()
    assert f"Principal `{principal}`, region `{REGION}`, name prefix `ade`." in text
    assert f"All {report.figures['checks']} checks pass for {len(list(POLICIES.glob('*.json')))} DAGs." in text
    assert failing_rows(text) == []
    # The rows name each DAG's actions on its pinned resources, and why they pass.
    assert (
        f"| glue_lab1_csv_to_parquet | glue:StartJobRun | arn:aws:glue:{REGION}:{ACCOUNT}:job/ade-glue-lab1-* "
        "| allowed | allowed by dag-glue-lab1-csv-to-parquet (user-managed) |"
    ) in text
    assert "| lambda_lab1_basics | Lambda runtime python3.11 | us-east-1 | available | supported until" in text


def test_a_role_session_lacking_one_action_fails_naming_exactly_it(local_aws, monkeypatch):
    iam = boto3.client("iam", endpoint_url=local_aws.endpoint_url, region_name=REGION)
    iam.create_role(RoleName="deployer", Path="/pipelines/", AssumeRolePolicyDocument=TRUST)
    for arn in policy_arns(iam, without=("glue_lab1_csv_to_parquet", "glue:StartJobRun")):
        iam.attach_role_policy(RoleName="deployer", PolicyArn=arn)
    sts = boto3.client("sts", endpoint_url=local_aws.endpoint_url, region_name=REGION)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/pipelines/deployer"
    session = sts.assume_role(RoleArn=role_arn, RoleSessionName="preflight")["Credentials"]
    use_credentials(monkeypatch, local_aws.endpoint_url, session)

    report = run_preflight({"dags": ["glue_lab1_csv_to_parquet", "glue_lab2_triggers", "lambda_lab1_basics"]})

    assert report.state == "failed"
    assert sorted(report.failed_tasks) == ["validate", "watcher"]
    assert report.task_states["simulate_policies"] == "success"
    text = report_text()
    # The session is checked as its role, path included (looked up with GetRole).
    assert f"Principal `{role_arn}`" in text
    assert "**1 of " in text and " checks would fail** in 1 of 3 DAGs." in text
    assert failing_rows(text) == [
        [
            "glue_lab1_csv_to_parquet",
            "glue:StartJobRun",
            f"arn:aws:glue:{REGION}:{ACCOUNT}:job/ade-glue-lab1-*",
            "implicitDeny",
            "no policy of the principal allows it",
        ]
    ]


def test_an_unknown_principal_or_region_fails_before_any_check(local_aws):
    report = run_preflight({"principal": f"arn:aws:iam::{ACCOUNT}:user/nobody", "dags": ["s3_lab1_versioning"]})
    assert report.state == "failed"
    assert report.task_states["caller_identity"] == "success"
    assert report.task_states["simulate_policies"] == "failed"

    report = run_preflight({"region": "xx-nowhere-1", "dags": ["s3_lab1_versioning"]})
    assert report.task_states["region_availability"] == "failed"

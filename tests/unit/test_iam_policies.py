"""iam_policies/: one least-privilege policy per DAG, valid, scoped to the DAG's names, in step with what it runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from moto.iam.policy_validation import IAMPolicyDocumentValidator

from labkit.labs import aws_preflight as preflight

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO_ROOT / "dags").glob("*.py"))
POLICY_FILES = sorted((REPO_ROOT / "iam_policies").glob("*.json"))
MANAGED_POLICY_MAX_CHARS = 6144  # IAM's quota for a managed policy, whitespace not counted
# Actions AWS grants on "*" only (no resource-level permissions), or on what does not exist yet.
WILDCARD_ONLY = {
    "athena:ListWorkGroups",
    "dms:DescribeConnections",
    "dms:DescribeEndpoints",
    "dms:DescribeReplicationInstances",
    "dms:DescribeReplicationTasks",
    "glue:GetCrawlerMetrics",
    "glue:GetJobs",
    "kms:CreateKey",
    "lambda:CreateEventSourceMapping",  # scoped by its condition on lambda:FunctionArn
    "sns:GetSubscriptionAttributes",
    "sns:ListTopics",
}
# Names a DAG gives beyond its lab's: the clickstream stack names its resources <prefix>-clickstream-*.
OWN_NAMES = {"clickstream_project": ("ade-clickstream",)}
# Resources outside a DAG's own names that a DAG really uses.
SHARED = re.compile(
    r"arn:aws:glue:\*:\*:(catalog|database/default)"
    r"|arn:aws:athena:\*:\*:workgroup/primary"
    r"|arn:aws:iam::aws:policy/.+"
    r"|arn:aws:logs:\*:\*:log-group:/aws-glue/jobs/\*"
    # Named by AWS with random ids, so not scopable by name: KMS keys, DMS resources, Lambda event source
    # mappings, the secret RDS keeps a managed master password in.
    r"|arn:aws:kms:\*:\*:key/\*"
    r"|arn:aws:dms:\*:\*:(rep|endpoint|task):\*"
    r"|arn:aws:lambda:\*:\*:event-source-mapping:\*"
    r"|arn:aws:secretsmanager:\*:\*:secret:rds!db-\*"
    r"|arn:aws:rds:\*:\*:(og:default:\*|subgrp:default)"  # CreateDBInstance with the default option and subnet groups
    r"|arn:aws:iam::\*:role/dms-vpc-role"  # the one role DMS itself requires by that name
    r"|arn:aws:glue:\*:\*:job/ade-\*"  # pipeline_report reads every lab's job runs
    r"|arn:aws:ssm:\*::parameter/aws/service/global-infrastructure/\*"
    r"|arn:aws:iam::\*:(user|role|group)/\*"
)


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags


def test_every_dag_has_a_policy_and_every_policy_a_dag():
    assert sorted(path.stem for path in POLICY_FILES) == sorted(path.stem for path in DAG_FILES)


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda path: path.stem)
def test_policy_is_a_valid_least_privilege_document(path):
    text = path.read_text()
    IAMPolicyDocumentValidator(text).validate()  # what IAM's CreatePolicy checks (moto's validator)
    document = json.loads(text)
    assert preflight.policy_problems(document) == []
    assert len(json.dumps(document, separators=(",", ":"))) <= MANAGED_POLICY_MAX_CHARS
    sids = [statement["Sid"] for statement in document["Statement"]]
    assert len(sids) == len(set(sids)), f"Sids repeat: {sids}"


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda path: path.stem)
def test_resources_are_scoped_to_the_dags_names(dags, path):
    dag = dags[path.stem]
    lab = dag.user_defined_macros["names"].lab
    own = (f"ade-{lab}-", f"ade_{lab.replace('-', '_')}", *OWN_NAMES.get(path.stem, ()))
    unscoped = []
    for statement in json.loads(path.read_text())["Statement"]:
        for resource in statement["Resource"]:
            if resource == "*":
                unscoped += [action for action in statement["Action"] if action not in WILDCARD_ONLY]
            elif not any(name in resource for name in own) and not SHARED.fullmatch(resource):
                unscoped.append(resource)
    assert unscoped == [], f"{path.name}: grant these on the DAG's own names ({own}) only"


def test_glue_versions_and_lambda_runtimes_are_those_the_dags_use(dags):
    glue_versions, runtimes = {}, {}
    for dag_id, dag in dags.items():
        for task in dag.tasks:
            if version := (getattr(task, "create_job_kwargs", None) or {}).get("GlueVersion"):
                glue_versions[dag_id] = version
            if isinstance(getattr(task, "runtime", None), str):
                runtimes[dag_id] = task.runtime
            if task.task_type == "CloudFormationCreateStackOperator":
                from labkit.labs import clickstream_project

                template = (REPO_ROOT / clickstream_project.TEMPLATE).read_text()
                (runtimes[dag_id],) = set(re.findall(r"^\s*Runtime:\s*(\S+)", template, re.MULTILINE))
    assert glue_versions == preflight.GLUE_VERSION_DAGS
    assert runtimes == preflight.LAMBDA_RUNTIME_DAGS
    assert set(glue_versions.values()) <= set(preflight.GLUE_VERSIONS)
    assert set(runtimes.values()) <= set(preflight.LAMBDA_RUNTIMES)


def test_every_action_prefix_is_a_service_name_ssm_lists():
    """The region check looks services up by their action prefix: each must be a name SSM's parameters use
    (moto's copy of AWS's /aws/service/global-infrastructure tree, us-east-1: every service is there)."""
    import gzip

    import moto.ssm

    tree = json.loads(gzip.open(Path(moto.ssm.__file__).parent / "resources" / "regions.json.gz").read())
    offered = set(tree["aws"]["service"]["global-infrastructure"]["regions"]["us-east-1"]["services"])
    needed = {service for path in POLICY_FILES for service in preflight.services_needed(json.loads(path.read_text()))}
    assert sorted(needed - offered) == []

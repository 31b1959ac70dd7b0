"""The preflight's table logic: policies checked, resources pinned, IAM's answers and the region's as rows, the verdict."""

from __future__ import annotations

from datetime import date

import pytest

from labkit.labs import aws_preflight as preflight
from labkit.labs.aws_preflight import PreflightError, Row

ACCOUNT = "210987654321"
USER = f"arn:aws:iam::{ACCOUNT}:user/deployer"


def statement(**fields) -> dict:
    return {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::ade-x-*/*"], **fields}


def document(*statements) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_a_least_privilege_policy_has_no_problems():
    assert preflight.policy_problems(document(statement())) == []


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (statement(Action=["s3:*"]), "'s3:*' is not one action"),
        (statement(Action=["GetObject"]), "'GetObject' is not one action"),
        (statement(Effect="Deny"), "Effect must be Allow"),
        ({**statement(), "NotAction": ["s3:PutObject"]}, "no NotAction"),
        (statement(Resource="arn:aws:s3:::ade-x-*"), "Resource must be a non-empty list of strings"),
        (statement(Resource=["ade-x-data"]), "resource 'ade-x-data' is neither '*' nor an ARN"),
    ],
)
def test_policy_problems_name_the_statement_and_what_is_wrong(bad, problem):
    problems = preflight.policy_problems(document(statement(), bad))
    assert len(problems) == 1 and problems[0].startswith("statement 2: ") and problem in problems[0], problems


def test_a_document_that_is_no_policy_is_refused():
    assert preflight.policy_problems({"Version": "2012-10-17", "Statement": []}) == [
        "Statement must be a non-empty list"
    ]
    assert preflight.policy_problems([statement()]) == [
        "a policy is an object with Version, Statement and optionally Id"
    ]


@pytest.mark.parametrize(
    ("resource", "prefix", "pinned"),
    [
        ("arn:aws:s3:::ade-glue-lab1-*/*", "Team-X", "arn:aws:s3:::team-x-glue-lab1-*/*"),  # buckets: lowercase
        (
            "arn:aws:glue:*:*:table/ade_glue_lab1/*",
            "Team-X",
            f"arn:aws:glue:eu-west-1:{ACCOUNT}:table/team_x_glue_lab1/*",
        ),  # databases: '_'
        ("arn:aws:iam::*:role/ade-glue-lab1-*", "Team-X", f"arn:aws:iam::{ACCOUNT}:role/Team-X-glue-lab1-*"),
        (
            "arn:aws:logs:*:*:log-group:/aws/lambda/ade-lambda-lab1-*",
            "lab",
            f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/lab-lambda-lab1-*",
        ),
        (
            "arn:aws:glue:us-east-1:*:catalog",
            "lab",
            f"arn:aws:glue:us-east-1:{ACCOUNT}:catalog",
        ),  # a region given stays
        (
            "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole",
            "lab",
            "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole",
        ),
        ("arn:aws:s3:::made-up-bucket", "lab", "arn:aws:s3:::made-up-bucket"),  # 'ade' inside a name is no prefix
        ("*", "lab", "*"),
    ],
)
def test_pin_fills_region_account_and_the_run_prefix(resource, prefix, pinned):
    assert preflight.pin(resource, prefix=prefix, region="eu-west-1", account=ACCOUNT) == pinned


def test_checks_carry_a_conditions_values_as_context_entries():
    passing = statement(
        Action=["iam:PassRole"],
        Resource=["arn:aws:iam::*:role/ade-x-*"],
        Condition={"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
    )
    (check,) = preflight.checks("x", document(passing), prefix="ade", region="us-east-1", account=ACCOUNT)
    assert check.resources == [f"arn:aws:iam::{ACCOUNT}:role/ade-x-*"]
    assert check.context == [
        {
            "ContextKeyName": "iam:PassedToService",
            "ContextKeyValues": ["glue.amazonaws.com"],
            "ContextKeyType": "string",
        }
    ]
    odd = statement(Condition={"NumericLessThan": {"s3:max-keys": "10"}})
    with pytest.raises(PreflightError, match="String/Arn Equals/Like only, not NumericLessThan"):
        preflight.checks("x", document(odd), prefix="ade", region="us-east-1", account=ACCOUNT)


def test_principal_of_a_caller():
    def role_arn_of(name):
        return f"arn:aws:iam::{ACCOUNT}:role/service-role/{name}"

    assert preflight.principal_of(USER, role_arn_of) == USER
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/botocore-session-1"
    assert preflight.principal_of(session, role_arn_of) == f"arn:aws:iam::{ACCOUNT}:role/service-role/deploy"
    assert preflight.principal_of(f"arn:aws:iam::{ACCOUNT}:root", role_arn_of) == f"arn:aws:iam::{ACCOUNT}:root"
    with pytest.raises(PreflightError, match="federated-user/bob' is neither an IAM user, a role"):
        preflight.principal_of(f"arn:aws:sts::{ACCOUNT}:federated-user/bob", role_arn_of)


def test_selected_dags_all_by_default_and_unknown_ones_named():
    assert preflight.selected([]) == preflight.dag_ids()
    assert preflight.selected(["s3_lab1_versioning"]) == ["s3_lab1_versioning"]
    with pytest.raises(PreflightError, match=r"no policy in .*iam_policies for no_such_dag; DAGs with one: .*s3_lab1"):
        preflight.selected(["s3_lab1_versioning", "no_such_dag"])


def test_rows_of_aws_per_resource_answers():
    """AWS answers one result per action; each resource's decision is in ResourceSpecificResults."""
    results = [
        {
            "EvalActionName": "s3:GetObject",
            "EvalResourceName": "arn:${Partition}:s3:::${BucketName}/${KeyName}",
            "EvalDecision": "implicitDeny",
            "MatchedStatements": [],
            "ResourceSpecificResults": [
                {
                    "EvalResourceName": "arn:aws:s3:::ade-a-*/*",
                    "EvalResourceDecision": "allowed",
                    "MatchedStatements": [{"SourcePolicyId": "labs", "SourcePolicyType": "user-managed"}],
                },
                {
                    "EvalResourceName": "arn:aws:s3:::ade-b-*/*",
                    "EvalResourceDecision": "implicitDeny",
                    "MatchedStatements": [],
                    "MissingContextValues": ["aws:SourceIp"],
                },
            ],
        },
        {
            "EvalActionName": "s3:DeleteBucket",
            "EvalResourceName": "*",
            "EvalDecision": "explicitDeny",
            "MatchedStatements": [{"SourcePolicyId": "no-deletes", "SourcePolicyType": "user"}],
        },
    ]
    assert preflight.rows_of("lab", results) == [
        Row("lab", "s3:GetObject", "arn:aws:s3:::ade-a-*/*", "allowed", "allowed by labs (user-managed)"),
        Row(
            "lab",
            "s3:GetObject",
            "arn:aws:s3:::ade-b-*/*",
            "implicitDeny",
            "no policy of the principal allows it; condition keys without a value: aws:SourceIp",
        ),
        Row("lab", "s3:DeleteBucket", "*", "explicitDeny", "explicitly denied by no-deletes (user)"),
    ]


def test_why_names_boundaries_and_service_control_policies():
    assert preflight.why(
        "implicitDeny", {"PermissionsBoundaryDecisionDetail": {"AllowedByPermissionsBoundary": False}}
    ) == ("the permissions boundary does not allow it")
    assert preflight.why("implicitDeny", {"OrganizationsDecisionDetail": {"AllowedByOrganizations": False}}) == (
        "an organization's service control policy does not allow it"
    )


POLICY = document(
    statement(Action=["glue:CreateJob", "s3:GetObject"]), statement(Action=["lambda:CreateFunction", "iam:PassRole"])
)


def availability(dag_id: str, offered: set[str], today: date) -> dict[str, Row]:
    return {row.action: row for row in preflight.availability(dag_id, POLICY, offered, "eu-south-2", today)}


def test_services_glue_version_and_runtimes_of_a_dag_in_a_region():
    rows = availability("cdc_project", {"glue", "s3", "lambda", "iam"}, date(2026, 12, 5))
    assert {action: row.decision for action, row in rows.items()} == {
        "service glue": "available",
        "service iam": "available",
        "service lambda": "available",
        "service s3": "available",
        "Glue version 5.0": "available",
        "Lambda runtime python3.11": "available",
    }
    assert rows["Lambda runtime python3.11"].why.startswith(
        "supported until 2027-06-30 (https://docs.aws.amazon.com/lambda/"
    )
    assert rows["Glue version 5.0"].why.startswith(
        "supported, no end of support announced (https://docs.aws.amazon.com/glue/"
    )


def test_a_service_the_region_lacks_fails_with_its_runtime():
    rows = availability("cdc_project", {"glue", "s3", "iam"}, date(2026, 12, 5))
    assert (rows["service lambda"].decision, rows["service lambda"].why) == (
        "unavailable",
        "lambda is not offered in eu-south-2",
    )
    assert rows["Lambda runtime python3.11"].decision == "unavailable"
    assert rows["Glue version 5.0"].decision == "available"


def test_runtime_dates_decide_between_deprecated_and_blocked():
    offered = {"glue", "s3", "lambda", "iam"}
    deprecated = availability("lambda_lab1_basics", offered, date(2027, 7, 1))["Lambda runtime python3.11"]
    assert deprecated.decision == "available"
    assert deprecated.why.startswith("deprecated since 2027-06-30; creating with it is blocked from 2027-07-31")
    blocked = availability("lambda_lab1_basics", offered, date(2027, 7, 31))["Lambda runtime python3.11"]
    assert blocked.decision == "unavailable" and blocked.why.startswith("AWS blocks creating with it since 2027-07-31")


def test_an_unknown_runtime_is_not_assumed_available(monkeypatch):
    monkeypatch.setitem(preflight.LAMBDA_RUNTIME_DAGS, "lambda_lab1_basics", "python3.99")
    row = availability("lambda_lab1_basics", {"lambda"}, date(2026, 12, 5))["Lambda runtime python3.99"]
    assert (row.decision, row.why) == (
        "unavailable",
        "Lambda runtime python3.99 is not in the preflight's list of supported versions",
    )


ROWS = [
    Row("b_dag", "s3:GetObject", "arn:aws:s3:::ade-b-*/*", "allowed", "allowed by labs (user-managed)"),
    Row("a_dag", "service glue", "eu-south-2", "available", "offered in the region (SSM public parameters)"),
    Row("b_dag", "iam:PassRole", "arn:aws:iam::1:role/ade-b-*", "implicitDeny", "no policy of the principal allows it"),
    Row("a_dag", "s3:Put|Object", "*", "explicitDeny", "explicitly denied by x (user)"),
]


def test_the_table_lists_what_would_fail_first_and_escapes_pipes():
    lines = preflight.table(ROWS).splitlines()
    assert lines[:2] == ["| DAG | action | resource | decision | why |", "| --- | --- | --- | --- | --- |"]
    assert lines[2] == "| a_dag | s3:Put\\|Object | * | explicitDeny | explicitly denied by x (user) |"
    assert lines[3].startswith("| b_dag | iam:PassRole | arn:aws:iam::1:role/ade-b-* | implicitDeny |")
    assert [line.split(" | ")[3] for line in lines[4:]] == ["available", "allowed"]


def test_the_failure_message_names_exactly_the_failing_dag_action_and_resource():
    assert preflight.failure_message(ROWS) == (
        "2 check(s) would fail:\n"
        "a_dag: s3:Put|Object on *: explicitDeny (explicitly denied by x (user))\n"
        "b_dag: iam:PassRole on arn:aws:iam::1:role/ade-b-*: implicitDeny (no policy of the principal allows it)"
    )
    assert preflight.failure_message([row for row in ROWS if not row.fails]) is None


def test_the_report_states_the_verdict():
    text = preflight.report(ROWS, principal=USER, region="eu-south-2", prefix="ade")
    assert f"Principal `{USER}`, region `eu-south-2`, name prefix `ade`." in text
    assert "**2 of 4 checks would fail** in 2 of 2 DAGs." in text
    passing = preflight.report(ROWS[:2], principal=USER, region="eu-south-2", prefix="ade")
    assert "All 2 checks pass for 2 DAGs." in passing


def test_rows_survive_xcom():
    assert preflight.from_dicts(preflight.as_dicts(ROWS)) == ROWS

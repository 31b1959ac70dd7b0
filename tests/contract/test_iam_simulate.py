"""IAM SimulatePrincipalPolicy and SimulateCustomPolicy, answered by local AWS's own policy evaluator."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
BUCKET = "simulate-data"
READ_REPORTS = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/reports/*"}


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{name}"


def decisions(response: dict) -> dict[str, str]:
    return {result["EvalActionName"]: result["EvalDecision"] for result in response["EvaluationResults"]}


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as error:
        call(**kwargs)
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


@pytest.fixture
def iam(aws_client):
    return aws_client("iam")


@pytest.fixture
def analyst(iam):
    """A user with an inline policy, an attached customer-managed policy and a group with a policy of its own."""
    iam.create_user(UserName="analyst")
    iam.put_user_policy(UserName="analyst", PolicyName="read-reports", PolicyDocument=policy(READ_REPORTS))
    listing = iam.create_policy(
        PolicyName="list-data",
        PolicyDocument=policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}),
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="analyst", PolicyArn=listing)
    iam.create_group(GroupName="athena-users")
    iam.put_group_policy(
        GroupName="athena-users",
        PolicyName="queries",
        PolicyDocument=policy({"Effect": "Allow", "Action": "athena:*", "Resource": "*"}),
    )
    iam.add_user_to_group(GroupName="athena-users", UserName="analyst")
    return arn("user", "analyst")


def test_user_policies_inline_attached_and_from_groups_decide_each_action(iam, analyst):
    response = iam.simulate_principal_policy(
        PolicySourceArn=analyst,
        ActionNames=["s3:GetObject", "s3:ListBucket", "athena:StartQueryExecution", "s3:PutObject"],
        ResourceArns=[f"arn:aws:s3:::{BUCKET}/reports/2025.csv"],
    )
    assert decisions(response) == {
        "s3:GetObject": "allowed",
        "s3:ListBucket": "implicitDeny",  # granted on the bucket, not on an object
        "athena:StartQueryExecution": "allowed",
        "s3:PutObject": "implicitDeny",
    }
    get, _, athena, put = response["EvaluationResults"]
    assert get["EvalResourceName"] == f"arn:aws:s3:::{BUCKET}/reports/2025.csv"
    assert [(s["SourcePolicyId"], s["SourcePolicyType"]) for s in get["MatchedStatements"]] == [
        ("read-reports", "user")
    ]
    assert [(s["SourcePolicyId"], s["SourcePolicyType"]) for s in athena["MatchedStatements"]] == [("queries", "group")]
    assert put["MatchedStatements"] == []
    assert response["IsTruncated"] is False

    listing = iam.simulate_principal_policy(
        PolicySourceArn=analyst, ActionNames=["s3:ListBucket"], ResourceArns=[f"arn:aws:s3:::{BUCKET}"]
    )["EvaluationResults"][0]
    assert listing["EvalDecision"] == "allowed"
    assert [(s["SourcePolicyId"], s["SourcePolicyType"]) for s in listing["MatchedStatements"]] == [
        ("list-data", "user-managed")
    ]


def test_explicit_deny_wins_and_is_the_only_matched_statement(iam, analyst):
    iam.put_user_policy(
        UserName="analyst",
        PolicyName="no-restricted",
        PolicyDocument=policy(
            {"Effect": "Deny", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/reports/restricted/*"}
        ),
    )
    result = iam.simulate_principal_policy(
        PolicySourceArn=analyst,
        ActionNames=["s3:GetObject"],
        ResourceArns=[f"arn:aws:s3:::{BUCKET}/reports/restricted/salaries.csv"],
    )["EvaluationResults"][0]
    assert result["EvalDecision"] == "explicitDeny"
    assert [s["SourcePolicyId"] for s in result["MatchedStatements"]] == ["no-restricted"]


def test_each_resource_has_its_own_result_and_the_action_the_most_restrictive(iam, analyst):
    allowed, denied = f"arn:aws:s3:::{BUCKET}/reports/a.csv", f"arn:aws:s3:::{BUCKET}/raw/a.json"
    result = iam.simulate_principal_policy(
        PolicySourceArn=analyst, ActionNames=["s3:GetObject"], ResourceArns=[allowed, denied]
    )["EvaluationResults"]
    assert len(result) == 1  # one result per action, as AWS answers since it aggregates resources
    assert result[0]["EvalDecision"] == "implicitDeny"
    assert result[0]["EvalResourceName"] == "*"
    assert [(r["EvalResourceName"], r["EvalResourceDecision"]) for r in result[0]["ResourceSpecificResults"]] == [
        (allowed, "allowed"),
        (denied, "implicitDeny"),
    ]
    # A wildcard in a resource ARN is matched as written: the policy covers reports/*, not the whole bucket.
    patterns = iam.simulate_principal_policy(
        PolicySourceArn=analyst,
        ActionNames=["s3:GetObject"],
        ResourceArns=[f"arn:aws:s3:::{BUCKET}/reports/*", f"arn:aws:s3:::{BUCKET}/*"],
    )["EvaluationResults"][0]["ResourceSpecificResults"]
    assert [r["EvalResourceDecision"] for r in patterns] == ["allowed", "implicitDeny"]


def test_role_with_an_aws_managed_policy(iam):
    trust = policy({"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName="crawler", AssumeRolePolicyDocument=trust)
    iam.attach_role_policy(RoleName="crawler", PolicyArn="arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole")
    response = iam.simulate_principal_policy(
        PolicySourceArn=arn("role", "crawler"), ActionNames=["glue:GetTable", "dynamodb:DeleteTable"]
    )
    assert decisions(response) == {"glue:GetTable": "allowed", "dynamodb:DeleteTable": "implicitDeny"}
    glue = response["EvaluationResults"][0]
    assert glue["EvalResourceName"] == "*"
    assert [(s["SourcePolicyId"], s["SourcePolicyType"]) for s in glue["MatchedStatements"]] == [
        ("AWSGlueServiceRole", "aws-managed")
    ]
    assert "ResourceSpecificResults" not in glue  # no ResourceArns: the resource is "*"


def test_a_group_is_simulated_with_its_own_policies(iam, analyst):
    response = iam.simulate_principal_policy(
        PolicySourceArn=arn("group", "athena-users"), ActionNames=["athena:GetQueryResults", "s3:GetObject"]
    )
    assert decisions(response) == {"athena:GetQueryResults": "allowed", "s3:GetObject": "implicitDeny"}


def test_conditions_take_context_entries_and_name_the_missing_ones(iam):
    iam.create_user(UserName="office")
    iam.put_user_policy(
        UserName="office",
        PolicyName="from-the-office",
        PolicyDocument=policy(
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "Bool": {"aws:SecureTransport": True}},
            }
        ),
    )

    def simulate(ip: str | None, **kwargs) -> dict:
        entries = [{"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["true"], "ContextKeyType": "boolean"}]
        if ip:
            entries.append({"ContextKeyName": "aws:SourceIp", "ContextKeyValues": [ip], "ContextKeyType": "ip"})
        return iam.simulate_principal_policy(
            PolicySourceArn=arn("user", "office"), ActionNames=["s3:GetObject"], ContextEntries=entries, **kwargs
        )["EvaluationResults"][0]

    assert simulate("203.0.113.7")["EvalDecision"] == "allowed"
    assert simulate("198.51.100.7")["EvalDecision"] == "implicitDeny"
    missing = simulate(None)
    assert (missing["EvalDecision"], missing["MissingContextValues"]) == ("implicitDeny", ["aws:SourceIp"])
    # With ResourceArns the missing keys are reported per resource, as on AWS.
    per_resource = simulate(None, ResourceArns=[f"arn:aws:s3:::{BUCKET}/a"])
    assert per_resource["MissingContextValues"] == []
    assert per_resource["ResourceSpecificResults"][0]["MissingContextValues"] == ["aws:SourceIp"]


def test_results_are_paginated_with_max_items_and_marker(iam, analyst):
    actions = [f"s3:{name}" for name in ("GetObject", "PutObject", "DeleteObject", "ListBucket", "GetBucketPolicy")]
    first = iam.simulate_principal_policy(PolicySourceArn=analyst, ActionNames=actions, MaxItems=2)
    assert (first["IsTruncated"], list(decisions(first))) == (True, actions[:2])
    pages = iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=analyst, ActionNames=actions, PaginationConfig={"PageSize": 2}
    )
    assert [list(decisions(page)) for page in pages] == [actions[:2], actions[2:4], actions[4:]]
    code, message = error_of(
        iam.simulate_principal_policy, PolicySourceArn=analyst, ActionNames=actions, Marker="not-a-marker"
    )
    assert code == "InvalidInput" and "Marker" in message


def test_aws_errors_for_unknown_principals_and_invalid_input(iam, analyst):
    simulate = iam.simulate_principal_policy
    assert error_of(simulate, PolicySourceArn=arn("user", "nobody"), ActionNames=["s3:GetObject"]) == (
        "NoSuchEntity",
        "The user with name nobody cannot be found.",
    )
    assert error_of(simulate, PolicySourceArn=arn("role", "nothing"), ActionNames=["s3:GetObject"])[0] == "NoSuchEntity"
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/etl/run-1"
    code, message = error_of(simulate, PolicySourceArn=session, ActionNames=["s3:GetObject"])
    assert code == "InvalidInput" and "through its role's ARN" in message
    code, message = error_of(simulate, PolicySourceArn=analyst, ActionNames=["GetObject"])
    assert (code, message) == (
        "InvalidInput",
        "Invalid action name 'GetObject': an action is SERVICE:ACTION, e.g. s3:GetObject",
    )
    code, message = error_of(
        simulate, PolicySourceArn=analyst, ActionNames=["s3:GetObject"], PolicyInputList=["{not json"]
    )
    assert code == "InvalidInput" and message.startswith("PolicyInputList.1 is not a valid JSON policy document")
    code, message = error_of(
        simulate, PolicySourceArn=analyst, ActionNames=["ec2:RunInstances"], ResourceHandlingOption="EC2-VPC-Instance"
    )
    assert code == "InvalidInput" and "does not support ResourceHandlingOption" in message


def test_policy_input_list_adds_policies_to_the_principals_own(iam, analyst):
    extra = policy({"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"})
    result = iam.simulate_principal_policy(
        PolicySourceArn=analyst,
        ActionNames=["s3:PutObject"],
        ResourceArns=[f"arn:aws:s3:::{BUCKET}/raw/b.json"],
        PolicyInputList=[extra],
    )["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"] == [{"SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "none"}]


def test_custom_policy_with_a_resource_policy_for_a_caller(iam, analyst):
    bucket_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": analyst},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/shared/*",
        }
    )
    nothing = policy({"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"})
    result = iam.simulate_custom_policy(
        PolicyInputList=[nothing],
        ActionNames=["s3:GetObject"],
        ResourceArns=[f"arn:aws:s3:::{BUCKET}/shared/readme.txt", f"arn:aws:s3:::{BUCKET}/raw/a.json"],
        ResourcePolicy=bucket_policy,
        CallerArn=analyst,
    )["EvaluationResults"][0]
    assert [r["EvalResourceDecision"] for r in result["ResourceSpecificResults"]] == ["allowed", "implicitDeny"]
    assert result["ResourceSpecificResults"][0]["MatchedStatements"] == [
        {"SourcePolicyId": "ResourcePolicy", "SourcePolicyType": "resource"}
    ]
    code, message = error_of(
        iam.simulate_custom_policy,
        PolicyInputList=[nothing],
        ActionNames=["s3:GetObject"],
        ResourcePolicy=bucket_policy,
    )
    assert code == "InvalidInput" and "CallerArn is required" in message


def test_a_permissions_boundary_caps_what_policies_allow(iam):
    trust = policy({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})
    boundary = iam.create_policy(
        PolicyName="s3-only", PolicyDocument=policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    )["Policy"]["Arn"]
    iam.create_role(RoleName="bounded", AssumeRolePolicyDocument=trust, PermissionsBoundary=boundary)
    iam.put_role_policy(
        RoleName="bounded",
        PolicyName="wide",
        PolicyDocument=policy({"Effect": "Allow", "Action": ["s3:GetObject", "sns:Publish"], "Resource": "*"}),
    )
    response = iam.simulate_principal_policy(
        PolicySourceArn=arn("role", "bounded"), ActionNames=["s3:GetObject", "sns:Publish"]
    )
    assert decisions(response) == {"s3:GetObject": "allowed", "sns:Publish": "implicitDeny"}
    assert [r["PermissionsBoundaryDecisionDetail"] for r in response["EvaluationResults"]] == [
        {"AllowedByPermissionsBoundary": True},
        {"AllowedByPermissionsBoundary": False},
    ]


def test_simulation_agrees_with_s3_enforcement(iam, analyst, aws_client, local_aws):
    """The simulator and S3's enforcement are one evaluator: what it allows S3 serves, what it denies S3 refuses."""
    import boto3

    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key in ("reports/2025.csv", "raw/events.json"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    key = iam.create_access_key(UserName="analyst")["AccessKey"]
    as_analyst = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    for object_key in ("reports/2025.csv", "raw/events.json"):
        simulated = iam.simulate_principal_policy(
            PolicySourceArn=analyst, ActionNames=["s3:GetObject"], ResourceArns=[f"arn:aws:s3:::{BUCKET}/{object_key}"]
        )["EvaluationResults"][0]["EvalDecision"]
        try:
            as_analyst.get_object(Bucket=BUCKET, Key=object_key)
            served = "allowed"
        except ClientError as error:
            served = error.response["Error"]["Code"]
        assert (simulated, served) in {("allowed", "allowed"), ("implicitDeny", "AccessDenied")}, object_key

"""labkit's IAM user and bucket-policy operators and the temporary-key helper, against local AWS through aws_default."""

from __future__ import annotations

import json
import logging

import pytest
from botocore.exceptions import ClientError

from labkit.labs.iam_access import ALLOWED, UserSession, attempt, probe, temporary_access_key
from labkit.operators.iam import IamCreateRoleOperator, IamCreateUserOperator, IamDeleteUserOperator
from labkit.operators.s3_policy import S3DeleteBucketPolicyOperator, S3PutBucketPolicyOperator

BUCKET = "policy-ops"
USER = "ops-reader"
ACCOUNT = "123456789012"


def read_policy(prefix: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/{prefix}*"}],
    }


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="a/one.txt", Body=b"1")
    client.put_object(Bucket=BUCKET, Key="b/two.txt", Body=b"2")
    return client


def test_create_user_is_idempotent_and_converges_on_the_given_policies(aws_client):
    iam = aws_client("iam")
    arn = IamCreateUserOperator(
        task_id="create", user_name=USER, inline_policies={"read-a": read_policy("a/"), "read-b": read_policy("b/")}
    ).execute({})
    assert arn == f"arn:aws:iam::{ACCOUNT}:user/{USER}"
    assert sorted(iam.list_user_policies(UserName=USER)["PolicyNames"]) == ["read-a", "read-b"]

    managed = iam.create_policy(PolicyName="extra", PolicyDocument=json.dumps(read_policy("c/")))["Policy"]["Arn"]
    again = IamCreateUserOperator(
        task_id="again", user_name=USER, inline_policies={"read-a": read_policy("x/")}, managed_policy_arns=[managed]
    ).execute({})
    assert again == arn
    assert iam.list_user_policies(UserName=USER)["PolicyNames"] == ["read-a"]
    stored = iam.get_user_policy(UserName=USER, PolicyName="read-a")["PolicyDocument"]
    assert stored["Statement"][0]["Resource"] == f"arn:aws:s3:::{BUCKET}/x/*"
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=USER)["AttachedPolicies"]] == [managed]


def test_create_role_rerun_converges_on_the_given_policies(aws_client):
    iam = aws_client("iam")
    managed = [
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(read_policy(f"{name}/")))["Policy"]["Arn"]
        for name in ("wide", "narrow")
    ]
    arn = IamCreateRoleOperator(
        task_id="create",
        role_name="lab-role",
        service="glue.amazonaws.com",
        inline_policy=read_policy(""),
        managed_policy_arns=managed,
    ).execute({})
    iam.put_role_policy(RoleName="lab-role", PolicyName="added-by-hand", PolicyDocument=json.dumps(read_policy("")))

    narrower = IamCreateRoleOperator(
        task_id="again",
        role_name="lab-role",
        service="lambda.amazonaws.com",
        inline_policy=read_policy("a/"),
        managed_policy_arns=managed[1:],
    ).execute({})
    assert narrower == arn
    assert iam.list_role_policies(RoleName="lab-role")["PolicyNames"] == ["lab-access"]
    stored = iam.get_role_policy(RoleName="lab-role", PolicyName="lab-access")["PolicyDocument"]
    assert stored["Statement"][0]["Resource"] == f"arn:aws:s3:::{BUCKET}/a/*"
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="lab-role")["AttachedPolicies"]] == [
        managed[1]
    ]
    trust = iam.get_role(RoleName="lab-role")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}

    IamCreateRoleOperator(task_id="bare", role_name="lab-role", service="lambda.amazonaws.com").execute({})
    assert iam.list_role_policies(RoleName="lab-role")["PolicyNames"] == []
    assert iam.list_attached_role_policies(RoleName="lab-role")["AttachedPolicies"] == []


def test_delete_user_removes_keys_policies_groups_and_tolerates_a_missing_user(aws_client):
    iam = aws_client("iam")
    IamCreateUserOperator(task_id="create", user_name=USER, inline_policies={"read": read_policy("a/")}).execute({})
    iam.create_access_key(UserName=USER)
    iam.create_group(GroupName="readers")
    iam.add_user_to_group(GroupName="readers", UserName=USER)
    IamDeleteUserOperator(task_id="delete", user_name=USER).execute({})
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.get_user(UserName=USER)
    assert iam.get_group(GroupName="readers")["Users"] == []
    IamDeleteUserOperator(task_id="delete_again", user_name=USER).execute({})  # no error


def test_bucket_policy_is_put_read_back_and_deleted(s3):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NoPlainHttp",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    assert S3PutBucketPolicyOperator(task_id="put", bucket_name=BUCKET, policy=policy).execute({}) == policy
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.get_object(Bucket=BUCKET, Key="a/one.txt")  # plain HTTP: the policy applies
    S3DeleteBucketPolicyOperator(task_id="delete", bucket_name=BUCKET).execute({})
    assert s3.get_object(Bucket=BUCKET, Key="a/one.txt")["Body"].read() == b"1"
    S3DeleteBucketPolicyOperator(task_id="again", bucket_name=BUCKET).execute({})  # no policy: no error
    S3DeleteBucketPolicyOperator(task_id="no_bucket", bucket_name="no-such-bucket-here").execute({})


def test_put_bucket_policy_waits_for_a_principal_iam_has_not_propagated_yet(monkeypatch):
    from botocore.stub import Stubber

    operator = S3PutBucketPolicyOperator(
        task_id="put", bucket_name=BUCKET, policy={"Statement": []}, wait_for_principals_seconds=30
    )
    monkeypatch.setattr("labkit.operators.s3_policy.sleep", lambda seconds: None)
    with Stubber(operator.hook.conn) as stub:
        stub.add_client_error(
            "put_bucket_policy", service_error_code="MalformedPolicy", service_message="Invalid principal in policy"
        )
        stub.add_response("put_bucket_policy", {})
        stub.add_response("get_bucket_policy", {"Policy": '{"Statement": []}'})
        assert operator.execute({}) == {"Statement": []}
        stub.assert_no_pending_responses()
    other = S3PutBucketPolicyOperator(task_id="bad", bucket_name=BUCKET, policy={"Statement": []})
    with Stubber(other.hook.conn) as stub, pytest.raises(ClientError, match="Policies must be valid JSON"):
        stub.add_client_error(
            "put_bucket_policy", service_error_code="MalformedPolicy", service_message="Policies must be valid JSON"
        )
        other.execute({})


def test_temporary_key_acts_as_the_user_and_is_deleted_afterwards(s3, aws_client, caplog):
    iam = aws_client("iam")
    IamCreateUserOperator(task_id="create", user_name=USER, inline_policies={"read": read_policy("a/")}).execute({})
    caplog.set_level(logging.DEBUG)
    with temporary_access_key(USER) as session:
        assert isinstance(session, UserSession)
        [key] = iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]
        assert key["AccessKeyId"] == session.access_key_id and "Secret" not in repr(session)
        client = session.client("s3")
        assert probe(lambda: client.get_object(Bucket=BUCKET, Key="a/one.txt"), wait_seconds=0).result == ALLOWED
        denied = attempt(lambda: client.get_object(Bucket=BUCKET, Key="b/two.txt"))
        assert denied.result == "AccessDenied"
        assert denied.reason == "because no identity-based policy allows the s3:GetObject action"
        assert session.client("s3", scheme="https").meta.endpoint_url.startswith("https://")
        secret = session._session.get_credentials().secret_key
    assert secret not in caplog.text
    assert iam.list_access_keys(UserName=USER)["AccessKeyMetadata"] == []


def test_temporary_key_deletes_keys_a_killed_task_left_behind(aws_client, caplog):
    iam = aws_client("iam")
    IamCreateUserOperator(task_id="create", user_name=USER).execute({})
    leftovers = {iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"] for _ in range(2)}  # IAM's limit
    caplog.set_level(logging.INFO, logger="labkit.labs.iam_access")
    with temporary_access_key(USER) as session:
        [key] = iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]
        assert key["AccessKeyId"] == session.access_key_id not in leftovers
    assert iam.list_access_keys(UserName=USER)["AccessKeyMetadata"] == []
    assert {r.args[0] for r in caplog.records if r.getMessage().startswith("Deleted leftover access key")} == leftovers


def answers(*outcomes):
    """A call that fails with each (code, message) in turn, None meaning it succeeds."""
    pending = iter(outcomes)

    def call():
        outcome = next(pending)
        if outcome:
            raise ClientError({"Error": {"Code": outcome[0], "Message": outcome[1]}}, "GetObject")

    return call


def test_probe_waits_for_the_expected_outcome_then_reports_what_it_saw(monkeypatch):
    monkeypatch.setattr("labkit.labs.iam_access.sleep", lambda seconds: None)
    outcome = probe(answers(("InvalidAccessKeyId", "new key"), None), wait_seconds=5)
    assert (outcome.result, outcome.attempts) == (ALLOWED, 2)

    denied = 'x on resource: "arn" with an explicit deny'
    outcome = probe(answers(("AccessDenied", denied)), wait_seconds=0)
    assert (outcome.result, outcome.reason, outcome.attempts) == ("AccessDenied", "with an explicit deny", 1)


def test_probe_waits_for_the_expected_reason_not_only_the_code(monkeypatch):
    monkeypatch.setattr("labkit.labs.iam_access.sleep", lambda seconds: None)
    not_yet = 'x on resource: "arn" because no identity-based policy allows the s3:GetObject action'
    denied = 'x on resource: "arn" with an explicit deny in a resource-based policy'
    call = answers(("AccessDenied", not_yet), ("AccessDenied", not_yet), ("AccessDenied", denied))
    outcome = probe(call, "AccessDenied", "with an explicit deny in a resource-based policy", wait_seconds=60)
    assert (outcome.result, outcome.reason, outcome.attempts) == (
        "AccessDenied", "with an explicit deny in a resource-based policy", 3,
    )  # fmt: skip
    # Bounded: past wait_seconds the last outcome is reported as S3 gave it, for validate to judge.
    outcome = probe(answers(("AccessDenied", not_yet)), "AccessDenied", "with an explicit deny", wait_seconds=0)
    assert outcome.reason == "because no identity-based policy allows the s3:GetObject action"


def test_a_shared_role_is_created_if_missing_and_otherwise_kept_as_it_is(aws_client):
    iam = aws_client("iam")
    vpc_policy = "arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"

    def create():
        return IamCreateRoleOperator(
            task_id="vpc", role_name="dms-vpc-role", service="dms.amazonaws.com",
            managed_policy_arns=[vpc_policy], keep_existing=True,
        ).execute({})  # fmt: skip

    arn = create()
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="dms-vpc-role")["AttachedPolicies"]] == [
        vpc_policy
    ]
    iam.put_role_policy(RoleName="dms-vpc-role", PolicyName="the-accounts-own", PolicyDocument=json.dumps(read_policy("")))
    assert create() == arn
    assert iam.list_role_policies(RoleName="dms-vpc-role")["PolicyNames"] == ["the-accounts-own"]

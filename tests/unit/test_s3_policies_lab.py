"""S3 lab 2's policies, proof and check (labkit.labs.s3_policies): each user's calls against local AWS,
which enforces IAM user policies and bucket policies, over HTTPS (the connection trusts local AWS's CA)."""

from __future__ import annotations

import pytest

from labkit.core.validation import ValidationError
from labkit.labs import s3_policies as lab
from labkit.operators.iam import IamCreateUserOperator
from labkit.operators.s3_policy import S3PutBucketPolicyOperator

BUCKET = "policies-lab"


def user_name(role: str) -> str:
    return f"lab-{role}"


@pytest.fixture
def users(trusting_connection, aws_client):
    """The bucket with the lab's objects and the three users with their inline policies; role -> ARN."""
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    assert lab.upload_objects(s3, BUCKET) == 4
    policies = lab.inline_policies(BUCKET)
    return {
        role: IamCreateUserOperator(
            task_id=f"create_{role}", user_name=user_name(role), inline_policies=policies[role]
        ).execute({})
        for role in lab.USERS
    }


@pytest.fixture
def bucket_policy(users):
    policy = lab.bucket_policy(BUCKET, outsider_arn=users["outsider"], analyst_arn=users["analyst"])
    S3PutBucketPolicyOperator(task_id="policy", bucket_name=BUCKET, policy=policy).execute({})
    return policy


def prove(role: str) -> list[dict]:
    return lab.prove_access(role, user_name(role), BUCKET, wait_seconds=0)


def test_every_call_comes_out_as_the_policies_decide(bucket_policy, aws_client):
    outcomes = {role: prove(role) for role in lab.USERS}

    figures = lab.validate(4, outcomes["analyst"], outcomes["uploader"], outcomes["outsider"])
    # 14 calls by 3 users: 4 allowed, 10 denied, of which 3 by the bucket policy's explicit denies
    assert [figures[k] for k in ("users", "calls", "allowed", "denied", "denied_by_bucket_policy")] == [3, 14, 4, 10, 3]
    restricted = next(o for o in outcomes["analyst"] if o["check"] == "read restricted report")
    assert restricted == {
        "check": "read restricted report",
        "result": "AccessDenied",
        "reason": "with an explicit deny in a resource-based policy",  # the bucket policy beats the user's allow
        "attempts": 1,
    }
    # The uploader's HTTPS upload landed, the plain-HTTP one did not; the short-lived keys are gone.
    listed = aws_client("s3").list_objects_v2(Bucket=BUCKET, Prefix="incoming/")["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("incoming/upload.csv", 8)]
    iam = aws_client("iam")
    assert [iam.list_access_keys(UserName=user_name(role))["AccessKeyMetadata"] for role in lab.USERS] == [[], [], []]


def test_without_the_bucket_policy_the_check_names_each_call_that_came_out_otherwise(users):
    outcomes = {role: prove(role) for role in lab.USERS}
    with pytest.raises(ValidationError) as raised:
        lab.validate(4, outcomes["analyst"], outcomes["uploader"], outcomes["outsider"])
    assert str(raised.value) == (
        "S3 lab 2: "
        "analyst 'read restricted report': expected AccessDenied with an explicit deny in a resource-based policy, "
        "got allowed; "
        "analyst 'read reports over http': expected AccessDenied with an explicit deny in a resource-based policy, "
        "got allowed; "
        "uploader 'upload incoming over http': expected AccessDenied with an explicit deny in a resource-based policy, "
        "got allowed; "
        "outsider 'read shared': expected allowed, "
        "got AccessDenied because no identity-based policy allows the s3:GetObject action"
    )


def test_policies_name_the_bucket_and_the_principals():
    policy = lab.bucket_policy("b", outsider_arn="arn:outsider", analyst_arn="arn:analyst")
    assert [(s["Sid"], s["Effect"], s["Principal"], s["Resource"]) for s in policy["Statement"]] == [
        ("SharedReadForOutsider", "Allow", {"AWS": "arn:outsider"}, "arn:aws:s3:::b/shared/*"),
        ("DenyAnalystRestricted", "Deny", {"AWS": "arn:analyst"}, "arn:aws:s3:::b/reports/restricted/*"),
        ("DenyInsecureTransport", "Deny", "*", "arn:aws:s3:::b/*"),
    ]
    policies = lab.inline_policies("b")
    assert {role: sorted(named) for role, named in policies.items()} == {
        "analyst": ["read-reports"],
        "uploader": ["upload-incoming"],
        "outsider": [],
    }

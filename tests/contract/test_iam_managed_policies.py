"""AWS-managed IAM policies: all of them in every account, each backend's own state, reset by a reset."""

from __future__ import annotations

import json

import boto3
from moto.iam.aws_managed_policies import aws_managed_policies_data

GLUE_SERVICE_ROLE = "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"
TRUST = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
                                             "Action": "sts:AssumeRole"}]}  # fmt: skip
)


def attachments(iam) -> int:
    return iam.get_policy(PolicyArn=GLUE_SERVICE_ROLE)["Policy"]["AttachmentCount"]


def test_managed_policies_are_all_there_with_their_documents_and_a_reset_forgets_attachments(local_aws, aws_client):
    iam = aws_client("iam")
    published = json.loads(aws_managed_policies_data)

    listed = iam.get_paginator("list_policies").paginate(Scope="AWS").build_full_result()["Policies"]
    assert len(listed) == len(published)
    policy = iam.get_policy(PolicyArn=GLUE_SERVICE_ROLE)["Policy"]
    version = iam.get_policy_version(PolicyArn=GLUE_SERVICE_ROLE, VersionId=policy["DefaultVersionId"])
    assert version["PolicyVersion"]["Document"] == published["AWSGlueServiceRole"]["Document"]

    iam.create_role(RoleName="glue", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="glue", PolicyArn=GLUE_SERVICE_ROLE)
    assert attachments(iam) == 1

    local_aws.reset()

    assert attachments(iam) == 0
    iam.create_role(RoleName="glue", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="glue", PolicyArn=GLUE_SERVICE_ROLE)
    assert attachments(iam) == 1  # counted from zero again, not from the forgotten attachment


def test_each_account_keeps_its_own_attachment_counts(local_aws, aws_client):
    iam = aws_client("iam")
    sts = aws_client("sts")
    iam.create_role(RoleName="glue", AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName="glue", PolicyArn=GLUE_SERVICE_ROLE)

    other = sts.assume_role(RoleArn="arn:aws:iam::210987654321:role/admin", RoleSessionName="other-account")["Credentials"]
    other_iam = boto3.client(
        "iam", endpoint_url=local_aws.endpoint_url, region_name="us-east-1",
        aws_access_key_id=other["AccessKeyId"], aws_secret_access_key=other["SecretAccessKey"],
        aws_session_token=other["SessionToken"],
    )  # fmt: skip
    assert attachments(other_iam) == 0
    assert attachments(iam) == 1

"""STS GetCallerIdentity names the principal local AWS takes the keys for (as S3 enforcement does)."""

from __future__ import annotations

import boto3

ACCOUNT = "123456789012"


def sts_as(endpoint: str, credentials: dict):
    return boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
    )


def test_keys_iam_did_not_issue_are_the_account_root(aws_client):
    identity = aws_client("sts").get_caller_identity()
    assert (identity["Arn"], identity["UserId"], identity["Account"]) == (
        f"arn:aws:iam::{ACCOUNT}:root",
        ACCOUNT,
        ACCOUNT,
    )


def test_a_users_keys_and_its_session_tokens_are_the_user(aws_client, local_aws):
    iam = aws_client("iam")
    user = iam.create_user(UserName="deployer")["User"]
    key = iam.create_access_key(UserName="deployer")["AccessKey"]
    as_user = sts_as(local_aws.endpoint_url, key)
    assert as_user.get_caller_identity()["Arn"] == user["Arn"]
    session = as_user.get_session_token()["Credentials"]
    identity = sts_as(local_aws.endpoint_url, session).get_caller_identity()
    assert (identity["Arn"], identity["UserId"]) == (user["Arn"], user["UserId"])


def test_a_role_session_is_the_assumed_role(aws_client, local_aws):
    trust = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}]}'
    aws_client("iam").create_role(RoleName="etl", AssumeRolePolicyDocument=trust)
    credentials = aws_client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/etl", RoleSessionName="run-1")
    identity = sts_as(local_aws.endpoint_url, credentials["Credentials"]).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/etl/run-1"

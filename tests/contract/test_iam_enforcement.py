"""IAM and bucket policies enforced on S3: who may do what, as AWS decides it within one account."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_aws import clock, config

REGION = "us-east-1"
BUCKET = "iam-contract-data"
ACCOUNT = "123456789012"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def s3_as(endpoint_url: str, credentials: dict, **kwargs):
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials.get("SessionToken"),
        config=Config(retries={"max_attempts": 1}),
        **kwargs,
    )


def denied(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as error:
        call(*args, **kwargs)
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.value.response["Error"]["Code"] == "AccessDenied", error.value.response["Error"]
    return error.value.response["Error"]["Message"]


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=BUCKET)
    for key in ("reports/2024.csv", "reports/2025.csv", "raw/events.json", "shared/readme.txt"):
        client.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    return client


@pytest.fixture
def user(aws_client, local_aws):
    """user(name, inline_policy=None) -> an S3 client signed with a new access key of that IAM user."""
    iam = aws_client("iam")

    def make(name: str, inline_policy: str | None = None, **client_kwargs):
        iam.create_user(UserName=name)
        if inline_policy:
            iam.put_user_policy(UserName=name, PolicyName="lab", PolicyDocument=inline_policy)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return s3_as(local_aws.endpoint_url, key, **client_kwargs)

    return make


def put_bucket_policy(s3, *statements: dict) -> None:
    s3.put_bucket_policy(Bucket=BUCKET, Policy=policy(*statements))


def test_default_dummy_keys_act_as_root_and_may_do_anything(s3):
    assert s3.get_object(Bucket=BUCKET, Key="raw/events.json")["Body"].read() == b"raw/events.json"
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 4


def test_user_without_policy_is_denied_with_aws_message(s3, user):
    nobody = user("nobody")
    message = denied(nobody.get_object, Bucket=BUCKET, Key="reports/2024.csv")
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/nobody is not authorized to perform: s3:GetObject "
        f'on resource: "arn:aws:s3:::{BUCKET}/reports/2024.csv" '
        "because no identity-based policy allows the s3:GetObject action"
    )
    message = denied(nobody.list_objects_v2, Bucket=BUCKET)
    assert f's3:ListBucket on resource: "arn:aws:s3:::{BUCKET}"' in message
    denied(nobody.list_buckets)


def test_inline_policy_allows_reads_under_one_prefix_only(s3, user):
    analyst = user(
        "analyst",
        policy(
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{BUCKET}/reports/*"},
        ),
    )
    assert analyst.get_object(Bucket=BUCKET, Key="reports/2025.csv")["Body"].read() == b"reports/2025.csv"
    assert analyst.head_object(Bucket=BUCKET, Key="reports/2025.csv")["ContentLength"] == 16
    denied(analyst.get_object, Bucket=BUCKET, Key="raw/events.json")
    denied(analyst.put_object, Bucket=BUCKET, Key="reports/2026.csv", Body=b"x")
    denied(analyst.delete_object, Bucket=BUCKET, Key="reports/2024.csv")
    assert s3.get_object(Bucket=BUCKET, Key="reports/2024.csv")["Body"].read() == b"reports/2024.csv"


def test_versioned_read_needs_get_object_version(s3, user):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=BUCKET, Key="reports/2024.csv", Body=b"v2")["VersionId"]
    reader = user(
        "reader", policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"})
    )
    assert reader.get_object(Bucket=BUCKET, Key="reports/2024.csv")["Body"].read() == b"v2"
    message = denied(reader.get_object, Bucket=BUCKET, Key="reports/2024.csv", VersionId=version)
    assert "s3:GetObjectVersion" in message


def test_explicit_deny_wins_over_allow(s3, user):
    clerk = user(
        "clerk",
        policy(
            {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{BUCKET}/reports/*"},
        ),
    )
    clerk.delete_object(Bucket=BUCKET, Key="raw/events.json")
    message = denied(clerk.delete_object, Bucket=BUCKET, Key="reports/2024.csv")
    assert message.endswith("with an explicit deny in an identity-based policy")
    # NotAction: everything but reads denied on shared/
    put_bucket_policy(
        s3,
        {
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/clerk"},
            "NotAction": ["s3:GetObject", "s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{BUCKET}/shared/*",
        },
    )
    assert clerk.get_object(Bucket=BUCKET, Key="shared/readme.txt")["Body"].read() == b"shared/readme.txt"
    message = denied(clerk.put_object, Bucket=BUCKET, Key="shared/new.txt", Body=b"x")
    assert message.endswith("with an explicit deny in a resource-based policy")


def test_bucket_policy_grants_a_user_without_identity_policy(s3, user):
    partner = user("partner")
    put_bucket_policy(
        s3,
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/partner"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/shared/*",
        },
    )
    assert partner.get_object(Bucket=BUCKET, Key="shared/readme.txt")["Body"].read() == b"shared/readme.txt"
    denied(partner.get_object, Bucket=BUCKET, Key="reports/2024.csv")


def test_account_principal_in_bucket_policy_does_not_grant_users_by_itself(s3, user):
    intern = user("intern")
    put_bucket_policy(
        s3,
        {
            "Effect": "Allow",
            "Principal": {"AWS": ACCOUNT},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        },
    )
    denied(intern.get_object, Bucket=BUCKET, Key="shared/readme.txt")


def test_bucket_policy_deny_for_one_principal_even_with_identity_allow_and_for_root(s3, user):
    everything = policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    blocked, other = user("blocked", everything), user("other", everything)
    put_bucket_policy(
        s3,
        {
            "Effect": "Deny",
            "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:user/blocked"]},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/frozen/*",
        },
    )
    message = denied(blocked.get_object, Bucket=BUCKET, Key="raw/events.json")
    assert message == (
        f"User: arn:aws:iam::{ACCOUNT}:user/blocked is not authorized to perform: s3:GetObject "
        f'on resource: "arn:aws:s3:::{BUCKET}/raw/events.json" with an explicit deny in a resource-based policy'
    )
    assert other.get_object(Bucket=BUCKET, Key="raw/events.json")["Body"].read() == b"raw/events.json"
    message = denied(s3.put_object, Bucket=BUCKET, Key="frozen/x", Body=b"x")
    assert message.startswith(f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: s3:PutObject")


def test_s3_prefix_condition_on_list_bucket(s3, user):
    lister = user(
        "lister",
        policy(
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:aws:s3:::{BUCKET}",
                "Condition": {"StringLike": {"s3:prefix": ["reports/*", "reports/"]}},
            }
        ),
    )
    listed = lister.list_objects_v2(Bucket=BUCKET, Prefix="reports/")
    assert [o["Key"] for o in listed["Contents"]] == ["reports/2024.csv", "reports/2025.csv"]
    denied(lister.list_objects_v2, Bucket=BUCKET, Prefix="raw/")
    denied(lister.list_objects_v2, Bucket=BUCKET)  # no prefix: s3:prefix missing, StringLike fails


def test_username_policy_variable_gives_each_user_a_home_prefix(s3, user):
    home = policy(
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/*",
        }
    )
    alice, bob = user("alice", home), user("bob", home)
    alice.put_object(Bucket=BUCKET, Key="home/alice/notes.txt", Body=b"a")
    bob.put_object(Bucket=BUCKET, Key="home/bob/notes.txt", Body=b"b")
    message = denied(alice.get_object, Bucket=BUCKET, Key="home/bob/notes.txt")
    assert "user/alice" in message and "home/bob/notes.txt" in message
    assert alice.get_object(Bucket=BUCKET, Key="home/alice/notes.txt")["Body"].read() == b"a"


def test_secure_transport_condition_follows_the_real_transport(s3, user, local_aws):
    reader = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"})
    http_client = user("tls-reader", reader)
    put_bucket_policy(
        s3,
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    message = denied(http_client.get_object, Bucket=BUCKET, Key="reports/2024.csv")
    assert message.endswith("with an explicit deny in a resource-based policy")
    denied(s3.get_object, Bucket=BUCKET, Key="reports/2024.csv")  # root too: the policy says Principal "*"

    # local AWS's executors (Glue, Athena) stand for AWS services, which use TLS: the policy does not stop them.
    from local_aws import clients

    assert clients.client("s3").get_object(Bucket=BUCKET, Key="reports/2024.csv")["Body"].read() == b"reports/2024.csv"

    https_endpoint = local_aws.endpoint_url.replace("http://", "https://")
    secure_root = boto3.client(
        "s3", region_name=REGION, endpoint_url=https_endpoint, verify=str(local_aws.settings.ca_bundle)
    )
    assert secure_root.get_object(Bucket=BUCKET, Key="reports/2024.csv")["Body"].read() == b"reports/2024.csv"
    iam = boto3.client("iam", region_name=REGION, endpoint_url=local_aws.endpoint_url)
    key = iam.create_access_key(UserName="tls-reader")["AccessKey"]
    secure_reader = s3_as(https_endpoint, key, verify=str(local_aws.settings.ca_bundle))
    assert secure_reader.get_object(Bucket=BUCKET, Key="reports/2024.csv")["Body"].read() == b"reports/2024.csv"


def test_source_ip_conditions(s3, user):
    office_only = policy(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.20.0.0/16"}},
        }
    )
    local_only = policy(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
            "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}},
        }
    )
    remote, here = user("remote", office_only), user("here", local_only)
    denied(remote.get_object, Bucket=BUCKET, Key="shared/readme.txt")
    assert here.get_object(Bucket=BUCKET, Key="shared/readme.txt")["Body"].read() == b"shared/readme.txt"
    put_bucket_policy(
        s3,
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": "10.20.0.0/16"}},
        },
    )
    denied(here.get_object, Bucket=BUCKET, Key="shared/readme.txt")


def test_condition_operators_on_request_headers_and_existing_tags(s3, user):
    s3.put_object_tagging(
        Bucket=BUCKET, Key="reports/2025.csv", Tagging={"TagSet": [{"Key": "classification", "Value": "public"}]}
    )
    writer = user(
        "writer",
        policy(
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:PutObjectAcl"],
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
            },
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringEquals": {"s3:ExistingObjectTag/classification": "public"}},
            },
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}},
            },
            {
                "Effect": "Deny",
                "Action": "s3:PutObject",
                "Resource": "*",
                # Deny a canned ACL other than private, but only when one is given (Null false: present).
                "Condition": {"StringNotEquals": {"s3:x-amz-acl": "private"}, "Null": {"s3:x-amz-acl": "false"}},
            },
        ),
    )
    writer.put_object(Bucket=BUCKET, Key="in/a.csv", Body=b"a", ServerSideEncryption="AES256")
    writer.put_object(Bucket=BUCKET, Key="in/p.csv", Body=b"p", ServerSideEncryption="AES256", ACL="private")
    denied(writer.put_object, Bucket=BUCKET, Key="in/b.csv", Body=b"b")
    denied(
        writer.put_object, Bucket=BUCKET, Key="in/c.csv", Body=b"c", ServerSideEncryption="AES256", ACL="public-read"
    )
    assert writer.get_object(Bucket=BUCKET, Key="reports/2025.csv")["Body"].read() == b"reports/2025.csv"
    denied(writer.get_object, Bucket=BUCKET, Key="reports/2024.csv")


def test_assumed_role_credentials_act_as_the_role(s3, aws_client, local_aws):
    iam, sts = aws_client("iam"), aws_client("sts")
    trust = policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    )
    role_arn = iam.create_role(RoleName="report-reader", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="report-reader",
        PolicyName="read-reports",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/reports/*"}
        ),
    )
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="nightly")["Credentials"]
    role = s3_as(local_aws.endpoint_url, credentials)
    assert role.get_object(Bucket=BUCKET, Key="reports/2024.csv")["Body"].read() == b"reports/2024.csv"
    message = denied(role.get_object, Bucket=BUCKET, Key="raw/events.json")
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/report-reader/nightly is not authorized")
    # A bucket policy naming the role applies to its sessions.
    put_bucket_policy(
        s3,
        {
            "Effect": "Allow",
            "Principal": {"AWS": role_arn},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/raw/*",
        },
    )
    assert role.get_object(Bucket=BUCKET, Key="raw/events.json")["Body"].read() == b"raw/events.json"
    # A wrong session token is rejected.
    forged = s3_as(local_aws.endpoint_url, {**credentials, "SessionToken": "forged"})
    with pytest.raises(ClientError) as error:
        forged.get_object(Bucket=BUCKET, Key="reports/2024.csv")
    assert error.value.response["Error"]["Code"] == "InvalidToken"


def test_deleted_and_inactive_keys_are_rejected_not_taken_for_root(s3, aws_client, local_aws):
    iam = aws_client("iam")
    iam.create_user(UserName="leaver")
    key = iam.create_access_key(UserName="leaver")["AccessKey"]
    client = s3_as(local_aws.endpoint_url, key)
    iam.update_access_key(UserName="leaver", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as error:
        client.list_objects_v2(Bucket=BUCKET)
    assert error.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    iam.delete_access_key(UserName="leaver", AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as error:
        client.list_objects_v2(Bucket=BUCKET)
    assert error.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_anonymous_requests_need_a_public_bucket_policy(s3, local_aws):
    from botocore import UNSIGNED

    anonymous = boto3.client(
        "s3", region_name=REGION, endpoint_url=local_aws.endpoint_url, config=Config(signature_version=UNSIGNED)
    )
    assert denied(anonymous.get_object, Bucket=BUCKET, Key="shared/readme.txt") == "Access Denied"
    put_bucket_policy(
        s3,
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/shared/*"},
    )
    assert anonymous.get_object(Bucket=BUCKET, Key="shared/readme.txt")["Body"].read() == b"shared/readme.txt"
    denied(anonymous.get_object, Bucket=BUCKET, Key="reports/2024.csv")


def test_root_of_another_account_needs_an_allow_in_the_bucket_policy(s3, local_aws):
    other_account = "210987654321"
    other = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=local_aws.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )

    def as_other_account(request, **_):
        request.headers["x-moto-account-id"] = other_account  # moto's way to act in another account

    other.meta.events.register("before-sign.s3", as_other_account)
    message = denied(other.get_object, Bucket=BUCKET, Key="shared/readme.txt")
    assert message.startswith(f"User: arn:aws:iam::{other_account}:root is not authorized to perform: s3:GetObject")
    assert "because no resource-based policy allows the s3:GetObject action" in message
    put_bucket_policy(
        s3,
        {
            "Effect": "Allow",
            "Principal": {"AWS": other_account},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/shared/*",
        },
    )
    assert other.get_object(Bucket=BUCKET, Key="shared/readme.txt")["Body"].read() == b"shared/readme.txt"
    denied(other.get_object, Bucket=BUCKET, Key="reports/2024.csv")


def test_copy_needs_read_on_the_source_and_delete_objects_checks_every_key(s3, user):
    copier = user(
        "copier",
        policy(
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/copies/*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/shared/*"},
            {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{BUCKET}/copies/*"},
        ),
    )
    copier.copy_object(
        Bucket=BUCKET, Key="copies/readme.txt", CopySource={"Bucket": BUCKET, "Key": "shared/readme.txt"}
    )
    message = denied(
        copier.copy_object, Bucket=BUCKET, Key="copies/r.csv", CopySource={"Bucket": BUCKET, "Key": "reports/2024.csv"}
    )
    assert f'"arn:aws:s3:::{BUCKET}/reports/2024.csv"' in message
    denied(
        copier.delete_objects,
        Bucket=BUCKET,
        Delete={"Objects": [{"Key": "copies/readme.txt"}, {"Key": "reports/2024.csv"}]},
    )
    copier.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "copies/readme.txt"}]})


def test_group_and_managed_policies_count(s3, aws_client, local_aws):
    iam = aws_client("iam")
    iam.create_user(UserName="member")
    iam.create_group(GroupName="readers")
    iam.add_user_to_group(GroupName="readers", UserName="member")
    arn = iam.create_policy(
        PolicyName="read-shared",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/shared/*"}
        ),
    )["Policy"]["Arn"]
    key = iam.create_access_key(UserName="member")["AccessKey"]
    member = s3_as(local_aws.endpoint_url, key)
    denied(member.get_object, Bucket=BUCKET, Key="shared/readme.txt")
    iam.attach_group_policy(GroupName="readers", PolicyArn=arn)
    assert member.get_object(Bucket=BUCKET, Key="shared/readme.txt")["Body"].read() == b"shared/readme.txt"


def test_enforcement_off_lets_everything_through(s3, user, monkeypatch):
    nobody = user("nobody")
    denied(nobody.get_object, Bucket=BUCKET, Key="reports/2024.csv")
    put_bucket_policy(
        s3,
        {
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/nobody"},
            "Action": "s3:*",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        },
    )
    monkeypatch.setattr(config.settings, "iam_enforcement", False)
    assert nobody.get_object(Bucket=BUCKET, Key="reports/2024.csv")["Body"].read() == b"reports/2024.csv"
    nobody.put_object(Bucket=BUCKET, Key="reports/2026.csv", Body=b"x")


def test_current_time_conditions_follow_the_local_aws_clock(s3, user, local_aws):
    until = (clock.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    temporary = user(
        "temporary",
        policy(
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"DateLessThan": {"aws:CurrentTime": until}},
            }
        ),
    )
    assert temporary.get_object(Bucket=BUCKET, Key="shared/readme.txt")["Body"].read() == b"shared/readme.txt"
    clock.advance(days=3)
    try:
        assert "s3:GetObject" in denied(temporary.get_object, Bucket=BUCKET, Key="shared/readme.txt")
    finally:
        clock.reset()


def sts_as(endpoint_url: str, credentials: dict):
    return boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
    )


def test_session_token_credentials_act_as_the_user_and_federation_tokens_are_refused(s3, aws_client, local_aws):
    iam = aws_client("iam")
    iam.create_user(UserName="analyst")
    iam.put_user_policy(
        UserName="analyst",
        PolicyName="read-reports",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/reports/*"}
        ),
    )
    key = iam.create_access_key(UserName="analyst")["AccessKey"]
    sts = sts_as(local_aws.endpoint_url, key)

    # GetSessionToken gives the user's own permissions, never more (it used to act as root).
    session = s3_as(local_aws.endpoint_url, sts.get_session_token()["Credentials"])
    assert session.get_object(Bucket=BUCKET, Key="reports/2024.csv")["Body"].read() == b"reports/2024.csv"
    message = denied(session.get_object, Bucket=BUCKET, Key="raw/events.json")
    assert message.startswith(f"User: arn:aws:iam::{ACCOUNT}:user/analyst is not authorized to perform: s3:GetObject")
    denied(session.put_object, Bucket=BUCKET, Key="reports/2026.csv", Body=b"x")
    forged = s3_as(local_aws.endpoint_url, {**sts.get_session_token()["Credentials"], "SessionToken": "forged"})
    with pytest.raises(ClientError) as error:
        forged.get_object(Bucket=BUCKET, Key="reports/2024.csv")
    assert error.value.response["Error"]["Code"] == "InvalidToken"

    # GetFederationToken: local AWS does not model federated users, so S3 refuses their keys, saying so.
    federated = s3_as(local_aws.endpoint_url, sts.get_federation_token(Name="guest")["Credentials"])
    with pytest.raises(ClientError) as error:
        federated.get_object(Bucket=BUCKET, Key="reports/2024.csv")
    assert error.value.response["Error"]["Code"] == "InvalidToken"
    assert "GetFederationToken are not supported by local AWS" in error.value.response["Error"]["Message"]

"""S3 lab 2 end to end on local AWS: users, inline policies, a bucket policy, each user's calls, teardown."""

from __future__ import annotations

import json

import boto3
import pytest

pytestmark = pytest.mark.e2e

DAG_ID = "s3_lab2_policies"
BUCKET = "ade-s3-lab2-data"
USERS = ("ade-s3-lab2-analyst", "ade-s3-lab2-uploader", "ade-s3-lab2-outsider")


def test_s3_lab2_proves_every_grant_and_deny_and_cleans_up(trusting_connection):
    from labkit.local import runner

    local_aws = trusting_connection
    first = runner.run_dag(DAG_ID, {"teardown": False})

    assert first.state == "success", f"failed tasks: {first.failed_tasks}"
    assert first.task_states.pop("watcher") == "skipped"
    assert first.figures == {
        "objects": 4,
        "users": 3,
        "calls": 14,
        "allowed": 4,
        "denied": 10,
        "denied_by_bucket_policy": 3,
        "matrix": {
            "analyst": {
                "read reports": "allowed",
                "list reports/": "allowed",
                "list whole bucket": "AccessDenied",
                "read raw": "AccessDenied",
                "read restricted report": "AccessDenied",
                "read reports over http": "AccessDenied",
                "write reports": "AccessDenied",
            },
            "uploader": {
                "upload incoming": "allowed",
                "upload incoming over http": "AccessDenied",
                "read own upload": "AccessDenied",
                "upload to reports": "AccessDenied",
            },
            "outsider": {
                "read shared": "allowed",
                "read reports": "AccessDenied",
                "list bucket": "AccessDenied",
            },
        },
    }
    iam = boto3.client("iam", endpoint_url=local_aws.endpoint_url)
    for user in USERS:
        # The proof's short-lived keys are gone; only the users and their policies stay.
        assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"] == []
    assert iam.list_user_policies(UserName="ade-s3-lab2-analyst")["PolicyNames"] == ["read-reports"]
    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url)
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == [
        "SharedReadForOutsider",
        "DenyAnalystRestricted",
        "DenyInsecureTransport",
    ]
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:user/ade-s3-lab2-outsider"}

    # A rerun over what the first left (users, policy) converges and tears everything down.
    second = runner.run_dag(DAG_ID, {"teardown": True})
    assert second.state == "success", f"failed tasks: {second.failed_tasks}"
    assert second.figures == first.figures
    assert [u["UserName"] for u in iam.list_users()["Users"] if u["UserName"] in USERS] == []
    assert BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

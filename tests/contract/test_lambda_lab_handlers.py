"""The lab handlers of lambdas/ deployed on local AWS under least-privilege roles: what a missing grant does.

The lab DAGs prove the handlers work with the grants they need; these prove the grants are
really checked (the function acts as its execution role) and that a refusal loses nothing.
"""

from __future__ import annotations

import json

import pytest

from labkit.core import paths
from labkit.labs import aws_lambda
from labkit.operators.packaging import zip_module
from tests.lambda_support import create_role, wait_until_active


@pytest.fixture
def deploy(aws_client):
    """deploy(module, role name, inline policy, environment) -> function name, its role granted only that policy."""
    iam, lam = aws_client("iam"), aws_client("lambda")

    def make(module: str, policy: dict, environment: dict[str, str] | None = None) -> str:
        role = create_role(iam, f"{module}-role", policy, policy_name="lab-access")
        iam.attach_role_policy(RoleName=f"{module}-role", PolicyArn=aws_lambda.BASIC_EXECUTION_POLICY)
        lam.create_function(
            FunctionName=module,
            Runtime=aws_lambda.RUNTIME,
            Role=role,
            Handler=f"{module}.handler",
            Code={"ZipFile": zip_module(paths.LAMBDAS_DIR / f"{module}.py")},
            Timeout=30,
            Environment={"Variables": environment or {}},
        )
        wait_until_active(lam, module)
        return module

    return make


def invoke(aws_client, function: str, event: dict) -> tuple[str | None, dict]:
    response = aws_client("lambda").invoke(FunctionName=function, Payload=json.dumps(event))
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_s3_delete_without_delete_permission_reports_each_key_and_deletes_nothing(aws_client, deploy):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="data")
    for key in ("tmp/a.log", "tmp/b.log"):
        s3.put_object(Bucket="data", Key=key, Body=b"x")
    function = deploy("s3_delete", aws_lambda.s3_policy(("data", ["s3:ListBucket"])))

    error, result = invoke(aws_client, function, {"bucket": "data", "prefix": "tmp/"})

    assert error is None  # refused keys are reported, not raised
    assert (result["matched"], result["deleted"]) == (2, 0)
    assert [(e["key"], e["code"]) for e in result["errors"]] == [
        ("tmp/a.log", "AccessDenied"),
        ("tmp/b.log", "AccessDenied"),
    ]
    assert "assumed-role/s3_delete-role/s3_delete" in result["errors"][0]["message"]
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket="data")["Contents"]) == ["tmp/a.log", "tmp/b.log"]


def test_s3_move_without_write_access_to_the_target_fails_and_keeps_the_source(aws_client, deploy):
    s3 = aws_client("s3")
    for bucket in ("source", "target"):
        s3.create_bucket(Bucket=bucket)
    etag = s3.put_object(Bucket="source", Key="in/flights 2013.csv", Body=b"carrier\nUA\n")["ETag"].strip('"')
    read_and_delete = ["s3:GetObject", "s3:DeleteObject", "s3:ListBucket"]
    function = deploy("s3_move", aws_lambda.s3_policy(("source", read_and_delete)), {"TARGET_BUCKET": "target"})
    event = json.loads(aws_lambda.s3_put_event("source", "in/flights 2013.csv", 11, etag, "us-east-1"))

    error, result = invoke(aws_client, function, event)

    assert error == "Unhandled"  # so Lambda retries an asynchronous invocation
    assert result["errorType"] == "RuntimeError"
    assert result["errorMessage"].startswith("could not move 1 object(s): ['in/flights 2013.csv']")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="source")["Contents"]] == ["in/flights 2013.csv"]
    assert s3.list_objects_v2(Bucket="target")["KeyCount"] == 0

"""What the Lambda tests share: an execution role, a deployment package, waits, and the fixtures
`lam` (a Lambda client), `role_arn` (an execution role) and `provisioning` (held open until released).

`from tests.lambda_support import TRUST, create_role, wait_for, wait_until_active, zip_of`
"""

from __future__ import annotations

import io
import json
import textwrap
import threading
import time
import zipfile
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
"""The trust policy of a Lambda execution role: lambda.amazonaws.com may assume it."""

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
"""An identity policy that allows every action on every resource."""


def create_role(iam, name: str, policy: dict | None = ALLOW_ALL, policy_name: str = "lab") -> str:
    """Creates the execution role `name` (trusting Lambda, see TRUST) and returns its ARN.

    `policy` becomes its inline policy `policy_name` (allow-all unless told); None creates the role
    without any policy.
    """
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
    return arn


def zip_of(files: dict[str, str]) -> bytes:
    """A deployment package (zip bytes) of {file name: source}, each source dedented."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, textwrap.dedent(body))
    return buffer.getvalue()


def wait_for(check: Callable[[], T], limit: float = 20.0, every: float = 0.05) -> T:
    """Calls `check` every `every` seconds until it returns something truthy, and returns that.

    Raises AssertionError when `limit` seconds pass first.
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {limit} s: {getattr(check, '__qualname__', check)}")


def wait_until_active(lam, name: str, qualifier: str | None = None) -> None:
    """Waits until a new function (or a published version) is Active, as callers must on AWS before invoking it.

    boto3's own waiters (function_active_v2, published_version_active), polling every 0.1 s for up to 30 s.
    """
    fast = {"Delay": 0.1, "MaxAttempts": 300}
    if qualifier is None:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=fast)
    else:
        lam.get_waiter("published_version_active").wait(FunctionName=name, Qualifier=qualifier, WaiterConfig=fast)


def wait_until_updated(lam, name: str) -> None:
    """Waits until an UpdateFunctionCode/UpdateFunctionConfiguration is Successful (function_updated_v2, 0.1 s polls);
    until then invocations still run the previous code and configuration, as on AWS."""
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})


# ---- fixtures (tests/conftest.py registers this module as a pytest plugin) ----


@pytest.fixture
def lam(aws_client):
    """A boto3 Lambda client of local AWS."""
    return aws_client("lambda")


@pytest.fixture
def role_arn(aws_client) -> str:
    """An execution role for the test's functions (allow-all inline policy, see create_role)."""
    return create_role(aws_client("iam"), "lambda-role")


@pytest.fixture
def provisioning(monkeypatch):
    """Holds local AWS's provisioning of new functions, versions and updates open until the test calls .set(),
    so a test sees what happens while a function is Pending (or its update InProgress) on a machine of any speed.

    Released at teardown at the latest, so the held (daemon) threads wait without a time limit.
    """
    from local_aws.lambda_ import lifecycle

    release = threading.Event()
    prepare = lifecycle._prepare

    def held(function) -> None:
        release.wait()
        prepare(function)

    monkeypatch.setattr(lifecycle, "_prepare", held)
    yield release
    release.set()

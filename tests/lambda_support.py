"""What the Lambda tests share: an execution role, a deployment package and a wait.

`from tests.lambda_support import TRUST, create_role, wait_for, zip_of`
"""

from __future__ import annotations

import io
import json
import textwrap
import time
import zipfile
from collections.abc import Callable
from typing import TypeVar

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

"""May an AWS service invoke a function? Its resource-based policy (AddPermission) decides, as on AWS.

S3 and SNS invoke a function as their service principals (`s3.amazonaws.com`,
`sns.amazonaws.com`); Lambda lets them only when a statement of the function's policy allows
`lambda:InvokeFunction` to that principal on the ARN they invoke, with the request's
`aws:SourceArn` (the bucket, the topic) and `aws:SourceAccount` (its owner) meeting the
statement's conditions (AddPermission's `SourceArn` becomes `ArnLike`, `SourceAccount`
`StringEquals`). The statements are moto's (AddPermission, RemovePermission); local_aws/iam/policy.py
evaluates them. The event sources ask (local_aws/lambda_/event_sources/s3.py, sns.py); with
Settings.iam_enforcement off (`python -m local_aws --no-iam-enforcement`) every service may invoke.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend

from local_aws import config
from local_aws.arns import Arn, split_function_arn
from local_aws.iam.policy import SERVICE, Principal, Request, decide

ACTION = "lambda:InvokeFunction"


@dataclass(frozen=True)
class Source:
    """The service invoking a function and what it invokes for: ("s3.amazonaws.com", bucket ARN, owner account)."""

    service: str
    arn: str
    account: str

    def add_permission_hint(self, function_arn: str) -> str:
        """The call that would let this source invoke the function."""
        return (
            f"aws lambda add-permission --function-name {function_arn} --statement-id <id> "
            f"--action {ACTION} --principal {self.service} --source-arn {self.arn} --source-account {self.account}"
        )


def _policy(function: LambdaFunction, function_arn: str) -> Mapping[str, Any]:
    """The function's statements; versions and aliases may hold a policy object of their own in moto."""
    arn = Arn.parse(function_arn)
    unqualified, qualifier = split_function_arn(function_arn)
    policies = {id(function.policy): function.policy}
    if qualifier is not None:  # qualified: the unqualified function's statements name their own Resource
        latest = get_backend(arn.account, arn.region).get_function(unqualified)
        policies.setdefault(id(latest.policy), latest.policy)
    return {"Statement": [statement for policy in policies.values() for statement in policy.statements]}


def refusal(function: LambdaFunction, function_arn: str, source: Source) -> str | None:
    """None when `source` may invoke the function by this ARN; otherwise Lambda's AccessDenied message."""
    if not config.settings.iam_enforcement:
        return None
    resource = function_arn.removesuffix(":$LATEST")  # $LATEST is invoked under the unqualified ARN's policy
    request = Request(
        principal=Principal(SERVICE, account="", arn=source.service),
        action=ACTION,
        resource=resource,
        context={
            "aws:sourcearn": source.arn,
            "aws:sourceaccount": source.account,
            "aws:principalservicename": source.service,
        },
    )
    decision = decide(request, (), _policy(function, function_arn), resource_account=Arn.parse(resource).account)
    if decision.allowed:
        return None
    return f"User: {source.service} is not authorized to perform: {ACTION} on resource: {resource} {decision.reason}"

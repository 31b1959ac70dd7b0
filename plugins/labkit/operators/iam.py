"""IAM service roles for the labs: the provider has no IAM operators."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields


def trust_policy(service: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


class IamCreateRoleOperator(AwsBaseOperator[AwsBaseHook]):
    """Create (or bring up to date) a role a service assumes, with one inline policy and managed policies.

    Idempotent: an existing role gets the given trust policy, inline policy and attachments.
    Returns the role ARN.
    """

    aws_hook_class = AwsBaseHook
    template_fields: Sequence[str] = aws_template_fields("role_name", "inline_policy", "managed_policy_arns")
    template_fields_renderers = {"inline_policy": "json"}

    def __init__(
        self,
        *,
        role_name: str,
        service: str,
        inline_policy: dict[str, Any] | None = None,
        inline_policy_name: str = "lab-access",
        managed_policy_arns: Sequence[str] = (),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.role_name = role_name
        self.service = service
        self.inline_policy = inline_policy
        self.inline_policy_name = inline_policy_name
        self.managed_policy_arns = managed_policy_arns

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "client_type": "iam"}

    def execute(self, context) -> str:
        iam = self.hook.conn
        trust = json.dumps(trust_policy(self.service))
        try:
            arn = iam.create_role(RoleName=self.role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            self.log.info("Created role %s", arn)
        except iam.exceptions.EntityAlreadyExistsException:
            iam.update_assume_role_policy(RoleName=self.role_name, PolicyDocument=trust)
            arn = iam.get_role(RoleName=self.role_name)["Role"]["Arn"]
            self.log.info("Role %s exists; trust policy updated", arn)
        if self.inline_policy:
            iam.put_role_policy(
                RoleName=self.role_name,
                PolicyName=self.inline_policy_name,
                PolicyDocument=json.dumps(self.inline_policy),
            )
        for policy_arn in self.managed_policy_arns:
            iam.attach_role_policy(RoleName=self.role_name, PolicyArn=policy_arn)
        return arn


class IamDeleteRoleOperator(AwsBaseOperator[AwsBaseHook]):
    """Delete a role with its inline and attached policies; a missing role is not an error."""

    aws_hook_class = AwsBaseHook
    template_fields: Sequence[str] = aws_template_fields("role_name")

    def __init__(self, *, role_name: str, **kwargs):
        super().__init__(**kwargs)
        self.role_name = role_name

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "client_type": "iam"}

    def execute(self, context) -> None:
        iam = self.hook.conn
        try:
            for name in iam.list_role_policies(RoleName=self.role_name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=self.role_name, PolicyName=name)
            for policy in iam.list_attached_role_policies(RoleName=self.role_name)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=self.role_name, PolicyArn=policy["PolicyArn"])
            iam.delete_role(RoleName=self.role_name)
            self.log.info("Deleted role %s", self.role_name)
        except iam.exceptions.NoSuchEntityException:
            self.log.info("Role %s does not exist; nothing to delete", self.role_name)

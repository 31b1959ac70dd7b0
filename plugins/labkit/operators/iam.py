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


class IamBaseOperator(AwsBaseOperator[AwsBaseHook]):
    """An operator whose `self.hook.conn` is an IAM client of the Airflow connection."""

    aws_hook_class = AwsBaseHook

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "client_type": "iam"}

    def converge_policies(
        self, kind: str, name: str, inline: dict[str, dict[str, Any] | str], managed: Sequence[str]
    ) -> None:
        """Give the user or role (`kind` 'user' or 'role') exactly these inline and managed policies:
        others are deleted or detached, so a rerun with narrower permissions really narrows them."""
        iam = self.hook.conn
        who = {f"{kind.capitalize()}Name": name}
        for policy_name in getattr(iam, f"list_{kind}_policies")(**who)["PolicyNames"]:
            if policy_name not in inline:
                getattr(iam, f"delete_{kind}_policy")(**who, PolicyName=policy_name)
                self.log.info("Deleted inline policy %s no longer asked for", policy_name)
        for policy_name, document in inline.items():
            text = document if isinstance(document, str) else json.dumps(document)
            getattr(iam, f"put_{kind}_policy")(**who, PolicyName=policy_name, PolicyDocument=text)
        attached = {p["PolicyArn"] for p in getattr(iam, f"list_attached_{kind}_policies")(**who)["AttachedPolicies"]}
        for policy_arn in attached - set(managed):
            getattr(iam, f"detach_{kind}_policy")(**who, PolicyArn=policy_arn)
            self.log.info("Detached managed policy %s no longer asked for", policy_arn)
        for policy_arn in set(managed) - attached:
            getattr(iam, f"attach_{kind}_policy")(**who, PolicyArn=policy_arn)
        self.log.info("%s %s: inline policies %s, managed %s", kind.capitalize(), name, sorted(inline), list(managed))


class IamCreateRoleOperator(IamBaseOperator):
    """Create (or bring up to date) a role a service assumes, with one inline policy and managed policies.

    keep_existing: an existing role is used as it is (for roles the account shares, such as DMS's
    dms-vpc-role, whose other policies are not this DAG's to remove).

    Idempotent: an existing role gets exactly the given trust policy, inline policy and managed
    policies (other inline policies are deleted and other managed policies detached, so a rerun with
    narrower permissions really narrows them). Returns the role ARN.
    """

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
        keep_existing: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.role_name = role_name
        self.service = service
        self.inline_policy = inline_policy
        self.inline_policy_name = inline_policy_name
        self.managed_policy_arns = managed_policy_arns
        self.keep_existing = keep_existing

    def execute(self, context) -> str:
        iam = self.hook.conn
        trust = json.dumps(trust_policy(self.service))
        try:
            arn = iam.create_role(RoleName=self.role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            self.log.info("Created role %s", arn)
        except iam.exceptions.EntityAlreadyExistsException:
            if self.keep_existing:  # a role shared by the account (e.g. dms-vpc-role): used as it is
                arn = iam.get_role(RoleName=self.role_name)["Role"]["Arn"]
                self.log.info("Role %s exists and is kept as it is", arn)
                return arn
            iam.update_assume_role_policy(RoleName=self.role_name, PolicyDocument=trust)
            arn = iam.get_role(RoleName=self.role_name)["Role"]["Arn"]
            self.log.info("Role %s exists; trust policy updated, bringing its policies up to date", arn)
        inline = {self.inline_policy_name: self.inline_policy} if self.inline_policy else {}
        self.converge_policies("role", self.role_name, inline, self.managed_policy_arns)
        return arn


class IamDeleteRoleOperator(IamBaseOperator):
    """Delete a role with its inline and attached policies; a missing role is not an error."""

    template_fields: Sequence[str] = aws_template_fields("role_name")

    def __init__(self, *, role_name: str, **kwargs):
        super().__init__(**kwargs)
        self.role_name = role_name

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


class IamCreateUserOperator(IamBaseOperator):
    """Create (or bring up to date) an IAM user with inline policies and attached managed policies.

    Idempotent: an existing user gets exactly the given inline policies (others it has are deleted,
    so a rerun with a narrower policy really narrows it) and the given managed policies attached.
    No access key is created here: a key's secret must not pass through XCom or logs, so the task
    that acts as the user creates a short-lived one with `labkit.labs.iam_access.temporary_access_key`.
    Returns the user ARN.
    """

    template_fields: Sequence[str] = aws_template_fields("user_name", "inline_policies", "managed_policy_arns")
    template_fields_renderers = {"inline_policies": "json"}

    def __init__(
        self,
        *,
        user_name: str,
        inline_policies: dict[str, dict[str, Any]] | None = None,
        managed_policy_arns: Sequence[str] = (),
        path: str = "/",
        tags: dict[str, str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.user_name = user_name
        self.inline_policies = inline_policies or {}
        self.managed_policy_arns = managed_policy_arns
        self.path = path
        self.tags = tags or {}

    def execute(self, context) -> str:
        iam = self.hook.conn
        tags = [{"Key": k, "Value": v} for k, v in self.tags.items()]
        try:
            arn = iam.create_user(UserName=self.user_name, Path=self.path, Tags=tags)["User"]["Arn"]
            self.log.info("Created user %s", arn)
        except iam.exceptions.EntityAlreadyExistsException:
            arn = iam.get_user(UserName=self.user_name)["User"]["Arn"]
            if tags:
                iam.tag_user(UserName=self.user_name, Tags=tags)
            self.log.info("User %s exists; bringing its policies up to date", arn)
        self.converge_policies("user", self.user_name, self.inline_policies, self.managed_policy_arns)
        return arn


class IamDeleteUserOperator(IamBaseOperator):
    """Delete a user with everything IAM requires gone first: access keys, inline and attached
    policies, group memberships, login profile. A missing user is not an error."""

    template_fields: Sequence[str] = aws_template_fields("user_name")

    def __init__(self, *, user_name: str, **kwargs):
        super().__init__(**kwargs)
        self.user_name = user_name

    def execute(self, context) -> None:
        iam = self.hook.conn
        user = self.user_name
        try:
            for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
                iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
            for name in iam.list_user_policies(UserName=user)["PolicyNames"]:
                iam.delete_user_policy(UserName=user, PolicyName=name)
            for policy in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]:
                iam.detach_user_policy(UserName=user, PolicyArn=policy["PolicyArn"])
            for group in iam.list_groups_for_user(UserName=user)["Groups"]:
                iam.remove_user_from_group(GroupName=group["GroupName"], UserName=user)
            try:
                iam.delete_login_profile(UserName=user)
            except iam.exceptions.NoSuchEntityException:
                pass
            iam.delete_user(UserName=user)
            self.log.info("Deleted user %s", user)
        except iam.exceptions.NoSuchEntityException:
            self.log.info("User %s does not exist; nothing to delete", user)

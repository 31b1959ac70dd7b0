"""Lambda calls the provider lacks, and a create operator that tolerates reruns.

- LambdaCreateOrUpdateFunctionOperator: the provider's LambdaCreateFunctionOperator, which fails
  when the function exists; this one brings an existing function to the given code and
  configuration instead, retries while a just-created role is not yet assumable, and returns
  only once the function can be invoked (Active, its update Successful).
- LambdaAddPermissionOperator: a resource-policy statement letting a service (S3, SNS) invoke it.
- LambdaDeleteFunctionOperator: a missing function is not an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from time import monotonic, sleep
from typing import Any

from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.operators.lambda_function import LambdaCreateFunctionOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

# LambdaHook.create_lambda's keyword arguments (the provider's `config`) -> UpdateFunctionConfiguration's.
_CONFIG_KEYS = {
    "memory_size": "MemorySize",
    "environment": "Environment",
    "ephemeral_storage": "EphemeralStorage",
    "vpc_config": "VpcConfig",
    "dead_letter_config": "DeadLetterConfig",
    "kms_key_arn": "KMSKeyArn",
    "tracing_config": "TracingConfig",
    "layers": "Layers",
    "file_system_configs": "FileSystemConfigs",
    "image_config": "ImageConfig",
    "snap_start": "SnapStart",
    "logging_config": "LoggingConfig",
}
# What an update sets when the definition leaves it out, so a removed setting goes back to AWS's default.
_CONFIG_DEFAULTS = {
    "Description": "",
    "Timeout": 3,
    "MemorySize": 128,
    "EphemeralStorage": {"Size": 512},
    "Environment": {"Variables": {}},
}
# Settings only CreateFunction takes; changing them means recreating the function.
_CREATE_ONLY = ("publish", "package_type", "tags", "code_signing_config_arn")
ROLE_NOT_READY = "cannot be assumed by Lambda"


class LambdaCreateOrUpdateFunctionOperator(LambdaCreateFunctionOperator):
    """Create a function, or update an existing one to this code and configuration; returns its ARN.

    Same parameters as LambdaCreateFunctionOperator (`config` holds LambdaHook.create_lambda's
    keyword arguments: memory_size, environment, ephemeral_storage, ...). A new function is Pending
    until Lambda has provisioned it and cannot be invoked before: with `wait_for_completion`
    (default True here) the provider's `function_active_v2` waiter waits until it is Active. An
    update sets the code (UpdateFunctionCode), waits for it, then sets the configuration
    (UpdateFunctionConfiguration) and waits again, since AWS refuses a second update while one is
    in progress and invocations run the previous code until it is done.

    IAM is eventually consistent: CreateFunction right after CreateRole can fail on AWS with "The
    role defined for the function cannot be assumed by Lambda"; that is retried for up to
    `role_propagation_timeout` seconds.
    """

    def __init__(
        self,
        *,
        role_propagation_timeout: float = 120,
        update_poll_seconds: float = 2,
        wait_for_completion: bool = True,
        **kwargs,
    ):
        super().__init__(wait_for_completion=wait_for_completion, **kwargs)
        self.role_propagation_timeout = role_propagation_timeout
        self.update_poll_seconds = update_poll_seconds

    def execute(self, context) -> str:
        conn = self.hook.conn
        try:
            conn.get_function(FunctionName=self.function_name)
        except conn.exceptions.ResourceNotFoundException:
            return self._create(context)
        return self._update()

    def _create(self, context) -> str:
        create = super().execute
        return self._while_role_propagates(lambda: create(context))

    def _while_role_propagates(self, call: Callable[[], Any]) -> Any:
        """call(), again every 5 s while Lambda says the role cannot be assumed, for role_propagation_timeout."""
        deadline = monotonic() + self.role_propagation_timeout
        while True:
            try:
                return call()
            except self.hook.conn.exceptions.InvalidParameterValueException as error:
                if ROLE_NOT_READY not in str(error) or monotonic() > deadline:
                    raise
                self.log.info("Role %s is not assumable by Lambda yet (IAM propagation); retrying", self.role)
                sleep(5)

    def _wait_for_update(self) -> None:
        self.hook.conn.get_waiter("function_updated_v2").wait(
            FunctionName=self.function_name,
            WaiterConfig={"Delay": self.update_poll_seconds, "MaxAttempts": int(300 / self.update_poll_seconds)},
        )

    def _update(self) -> str:
        conn = self.hook.conn
        ignored = sorted(key for key in self.config if key in _CREATE_ONLY)
        if ignored:
            self.log.warning("Function %s exists; %s only apply when it is created", self.function_name, ignored)
        unknown = sorted(set(self.config) - set(_CONFIG_KEYS) - set(_CREATE_ONLY) - {"architectures"})
        if unknown:
            raise ValueError(f"config keys {unknown} are not LambdaHook.create_lambda arguments this operator updates")
        self._wait_for_update()  # an earlier update may still be in progress
        code = {**self.code}
        if "architectures" in self.config:
            code["Architectures"] = self.config["architectures"]
        conn.update_function_code(FunctionName=self.function_name, **code)
        self._wait_for_update()
        settings = {
            **_CONFIG_DEFAULTS,
            **{_CONFIG_KEYS[key]: value for key, value in self.config.items() if key in _CONFIG_KEYS},
            "Role": self.role,
            **({"Runtime": self.runtime} if self.runtime else {}),
            **({"Handler": self.handler} if self.handler else {}),
            **({"Description": self.description} if self.description is not None else {}),
            **({"Timeout": self.timeout} if self.timeout is not None else {}),
        }
        arn = self._while_role_propagates(
            lambda: conn.update_function_configuration(FunctionName=self.function_name, **settings)["FunctionArn"]
        )
        self._wait_for_update()
        self.log.info("Function %s existed; updated its code and configuration", self.function_name)
        return arn


class LambdaAddPermissionOperator(AwsBaseOperator[LambdaHook]):
    """Let a service principal invoke a function (AddPermission); returns the statement.

    A statement with the same id is replaced, so reruns leave exactly one. Give `source_arn`
    (the bucket or topic) and, for S3, `source_account`: bucket ARNs name no account, and
    without it any account's bucket of that name could invoke the function.
    """

    aws_hook_class = LambdaHook
    template_fields: Sequence[str] = aws_template_fields(
        "function_name", "statement_id", "principal", "source_arn", "source_account"
    )

    def __init__(self, *, function_name: str, statement_id: str, principal: str, source_arn: str | None = None,
                 source_account: str | None = None, action: str = "lambda:InvokeFunction", **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.function_name = function_name
        self.statement_id = statement_id
        self.principal = principal
        self.source_arn = source_arn
        self.source_account = source_account
        self.action = action

    def execute(self, context) -> dict[str, Any]:
        conn = self.hook.conn
        try:
            statements = json.loads(conn.get_policy(FunctionName=self.function_name)["Policy"])["Statement"]
        except conn.exceptions.ResourceNotFoundException:  # no resource policy yet
            statements = []
        if any(statement.get("Sid") == self.statement_id for statement in statements):
            conn.remove_permission(FunctionName=self.function_name, StatementId=self.statement_id)
        optional = {"SourceArn": self.source_arn, "SourceAccount": self.source_account}
        statement = conn.add_permission(
            FunctionName=self.function_name,
            StatementId=self.statement_id,
            Action=self.action,
            Principal=self.principal,
            **{key: value for key, value in optional.items() if value},
        )["Statement"]
        self.log.info("%s may now invoke %s: %s", self.principal, self.function_name, statement)
        return json.loads(statement)


class LambdaDeleteFunctionOperator(AwsBaseOperator[LambdaHook]):
    """Delete a function (all versions); a missing function is not an error."""

    aws_hook_class = LambdaHook
    template_fields: Sequence[str] = aws_template_fields("function_name")

    def __init__(self, *, function_name: str, **kwargs):
        super().__init__(**kwargs)
        self.function_name = function_name

    def execute(self, context) -> None:
        conn = self.hook.conn
        try:
            conn.delete_function(FunctionName=self.function_name)
            self.log.info("Deleted function %s", self.function_name)
        except conn.exceptions.ResourceNotFoundException:
            self.log.info("Function %s does not exist; nothing to delete", self.function_name)

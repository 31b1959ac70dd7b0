"""RDS DB parameter groups, which the Amazon provider has no operators for (through its RdsHook).

Creating is idempotent: an existing group of the same name is used and the given parameters are
set again, so a rerun brings it up to date; deleting a missing group is not an error.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow.providers.amazon.aws.hooks.rds import RdsHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields


class RdsCreateDbParameterGroupOperator(AwsBaseOperator[RdsHook]):
    """Create a DB parameter group (or use the existing one) and set its parameters; returns its name.

    parameters: name -> value; static parameters (binlog_format is dynamic on RDS, so is most of
    what CDC needs) apply at the next reboot, as on RDS (`pending-reboot`).
    """

    aws_hook_class = RdsHook
    template_fields: Sequence[str] = aws_template_fields("group_name", "family", "parameters")

    def __init__(self, *, group_name: str, family: str, description: str, parameters: dict[str, str], **kwargs):
        super().__init__(**kwargs)
        self.group_name = group_name
        self.family = family
        self.description = description
        self.parameters = parameters

    def execute(self, context) -> str:
        rds = self.hook.conn
        try:
            rds.create_db_parameter_group(
                DBParameterGroupName=self.group_name, DBParameterGroupFamily=self.family, Description=self.description
            )
            self.log.info("Created DB parameter group %s (%s)", self.group_name, self.family)
        except rds.exceptions.DBParameterGroupAlreadyExistsFault:
            self.log.info("DB parameter group %s exists; setting its parameters again", self.group_name)
        rds.modify_db_parameter_group(
            DBParameterGroupName=self.group_name,
            Parameters=[
                {"ParameterName": name, "ParameterValue": str(value), "ApplyMethod": "immediate"}
                for name, value in self.parameters.items()
            ],
        )
        return self.group_name


class RdsDeleteDbParameterGroupOperator(AwsBaseOperator[RdsHook]):
    """Delete a DB parameter group; a missing one is not an error (run it after the instances using it are gone)."""

    aws_hook_class = RdsHook
    template_fields: Sequence[str] = aws_template_fields("group_name")

    def __init__(self, *, group_name: str, **kwargs):
        super().__init__(**kwargs)
        self.group_name = group_name

    def execute(self, context) -> None:
        rds = self.hook.conn
        try:
            rds.delete_db_parameter_group(DBParameterGroupName=self.group_name)
            self.log.info("Deleted DB parameter group %s", self.group_name)
        except rds.exceptions.DBParameterGroupNotFoundFault:
            self.log.info("DB parameter group %s does not exist", self.group_name)

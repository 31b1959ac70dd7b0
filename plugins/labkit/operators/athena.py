"""Athena workgroups: the provider runs queries in a workgroup but has no operator to make one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.athena import AthenaHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields


class AthenaCreateWorkGroupOperator(AwsBaseOperator[AthenaHook]):
    """Create a workgroup whose queries write their results under output_location (enforced, so every
    query of the workgroup lands there); an existing workgroup is updated to that location."""

    aws_hook_class = AthenaHook
    template_fields: Sequence[str] = aws_template_fields("workgroup", "output_location", "description")

    def __init__(self, *, workgroup: str, output_location: str, description: str = "", **kwargs):
        super().__init__(**kwargs)
        self.workgroup = workgroup
        self.output_location = output_location
        self.description = description

    def execute(self, context) -> str:
        configuration: dict[str, Any] = {
            "ResultConfiguration": {"OutputLocation": self.output_location},
            "EnforceWorkGroupConfiguration": True,
            "PublishCloudWatchMetricsEnabled": False,
        }
        conn = self.hook.conn
        try:
            conn.create_work_group(Name=self.workgroup, Configuration=configuration, Description=self.description)
            self.log.info("Created Athena workgroup %s, results in %s", self.workgroup, self.output_location)
        except conn.exceptions.InvalidRequestException as error:
            if "already" not in str(error).lower():
                raise
            conn.update_work_group(
                WorkGroup=self.workgroup,
                ConfigurationUpdates={
                    "ResultConfigurationUpdates": {"OutputLocation": self.output_location},
                    "EnforceWorkGroupConfiguration": True,
                },
            )
            self.log.info("Workgroup %s exists; results now in %s", self.workgroup, self.output_location)
        return self.workgroup


class AthenaDeleteWorkGroupOperator(AwsBaseOperator[AthenaHook]):
    """Delete a workgroup with its saved queries and history; a missing workgroup is not an error."""

    aws_hook_class = AthenaHook
    template_fields: Sequence[str] = aws_template_fields("workgroup")

    def __init__(self, *, workgroup: str, **kwargs):
        super().__init__(**kwargs)
        self.workgroup = workgroup

    def execute(self, context) -> None:
        conn = self.hook.conn
        names, request = [], {}
        while True:  # ListWorkGroups has NextToken but no boto3 paginator
            page = conn.list_work_groups(**request)
            names += [workgroup["Name"] for workgroup in page["WorkGroups"]]
            if not page.get("NextToken"):
                break
            request = {"NextToken": page["NextToken"]}
        if self.workgroup not in names:
            self.log.info("Workgroup %s does not exist; nothing to delete", self.workgroup)
            return
        conn.delete_work_group(WorkGroup=self.workgroup, RecursiveDeleteOption=True)
        self.log.info("Deleted Athena workgroup %s", self.workgroup)

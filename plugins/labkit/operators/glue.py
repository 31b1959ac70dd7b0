"""Glue calls the provider has no operator for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.glue import GlueJobHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields


class GlueDeleteJobOperator(AwsBaseOperator[GlueJobHook]):
    """Delete a Glue job definition (its runs' history goes with it); a missing job is not an error."""

    aws_hook_class = GlueJobHook
    template_fields: Sequence[str] = aws_template_fields("job_name")

    def __init__(self, *, job_name: str, **kwargs):
        super().__init__(**kwargs)
        self.job_name = job_name

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "job_name": self.job_name}

    def execute(self, context) -> None:
        # DeleteJob succeeds for a job that does not exist, as on AWS.
        self.hook.conn.delete_job(JobName=self.job_name)
        self.log.info("Deleted Glue job %s", self.job_name)

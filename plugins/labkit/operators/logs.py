"""CloudWatch Logs: wait for lines a function (or job) logged, delete a log group. The provider has a hook only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import PokeReturnValue


class CloudWatchLogsTextSensor(AwsBaseSensor[AwsLogsHook]):
    """Wait until every one of `texts` appears in some event of a log group (any stream).

    Log delivery is asynchronous on AWS (seconds after the function logged), and the group
    itself appears with the first line. Returns {text: [the messages that contain it]}.
    Pick texts unique to the run (a request or message id), since the group keeps old runs' lines; where
    a text repeats across runs, `start_time` (templated, ISO 8601, e.g. "{{ dag_run.start_date }}") leaves
    out events logged before it.
    """

    aws_hook_class = AwsLogsHook
    template_fields: Sequence[str] = aws_template_fields("log_group", "texts", "start_time")

    def __init__(self, *, log_group: str, texts: Sequence[str], start_time: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.log_group = log_group
        self.texts = texts
        self.start_time = start_time

    def poke(self, context) -> PokeReturnValue:
        conn = self.hook.conn
        found: dict[str, list[str]] = {text: [] for text in self.texts}
        since = {}
        if self.start_time:
            since["startTime"] = int(datetime.fromisoformat(str(self.start_time)).timestamp() * 1000)
        try:
            for page in conn.get_paginator("filter_log_events").paginate(logGroupName=self.log_group, **since):
                for event in page["events"]:
                    for text in found:
                        if text in event["message"]:
                            found[text].append(event["message"].rstrip("\n"))
        except conn.exceptions.ResourceNotFoundException:
            self.log.info("Log group %s does not exist yet", self.log_group)
            return PokeReturnValue(is_done=False)
        missing = [text for text, messages in found.items() if not messages]
        if missing:
            self.log.info("Not in %s yet: %s", self.log_group, missing)
            return PokeReturnValue(is_done=False)
        for messages in found.values():
            for message in messages:
                self.log.info("%s: %s", self.log_group, message)
        return PokeReturnValue(is_done=True, xcom_value=found)


class CloudWatchLogsDeleteLogGroupOperator(AwsBaseOperator[AwsLogsHook]):
    """Delete a log group (Lambda keeps /aws/lambda/<name> after the function is gone); missing is fine."""

    aws_hook_class = AwsLogsHook
    template_fields: Sequence[str] = aws_template_fields("log_group")

    def __init__(self, *, log_group: str, **kwargs):
        super().__init__(**kwargs)
        self.log_group = log_group

    def execute(self, context) -> None:
        conn = self.hook.conn
        try:
            conn.delete_log_group(logGroupName=self.log_group)
            self.log.info("Deleted log group %s", self.log_group)
        except conn.exceptions.ResourceNotFoundException:
            self.log.info("Log group %s does not exist; nothing to delete", self.log_group)

"""DMS replication instances and endpoints, which the Amazon provider has no operators for.

The provider covers replication tasks (DmsCreateTaskOperator, DmsStartTaskOperator, ...); these
fill in what a task needs first, through the provider's DmsHook. Creating is idempotent (an
existing instance or endpoint of the same identifier is used, and an endpoint's settings are
brought up to date), deleting a missing one is not an error, so reruns and teardowns are safe.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.dms import DmsHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowException


class DmsCreateReplicationInstanceOperator(AwsBaseOperator[DmsHook]):
    """Create a replication instance (or use the existing one) and wait until it is available; returns its ARN."""

    aws_hook_class = DmsHook
    template_fields: Sequence[str] = aws_template_fields("identifier", "instance_kwargs")

    def __init__(self, *, identifier: str, instance_class: str = "dms.t3.micro", instance_kwargs: dict | None = None,
                 waiter_delay: int = 15, waiter_max_attempts: int = 80, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.identifier = identifier
        self.instance_class = instance_class
        self.instance_kwargs = instance_kwargs or {}
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context) -> str:
        dms = self.hook.conn
        instance = _replication_instance(dms, self.identifier)
        if instance is None:
            instance = dms.create_replication_instance(
                ReplicationInstanceIdentifier=self.identifier,
                ReplicationInstanceClass=self.instance_class,
                **self.instance_kwargs,
            )["ReplicationInstance"]
            self.log.info("Creating replication instance %s", instance["ReplicationInstanceArn"])
        else:
            self.log.info("Replication instance %s exists (%s)", self.identifier, instance["ReplicationInstanceStatus"])
        arn = instance["ReplicationInstanceArn"]
        dms.get_waiter("replication_instance_available").wait(
            Filters=[{"Name": "replication-instance-arn", "Values": [arn]}],
            WaiterConfig={"Delay": self.waiter_delay, "MaxAttempts": self.waiter_max_attempts},
        )
        return arn


class DmsDeleteReplicationInstanceOperator(AwsBaseOperator[DmsHook]):
    """Delete a replication instance by identifier and wait until it is gone; a missing one is not an error."""

    aws_hook_class = DmsHook
    template_fields: Sequence[str] = aws_template_fields("identifier")

    def __init__(self, *, identifier: str, **kwargs):
        super().__init__(**kwargs)
        self.identifier = identifier

    def execute(self, context) -> None:
        dms = self.hook.conn
        instance = _replication_instance(dms, self.identifier)
        if instance is None:
            self.log.info("Replication instance %s does not exist", self.identifier)
            return
        arn = instance["ReplicationInstanceArn"]
        dms.delete_replication_instance(ReplicationInstanceArn=arn)
        dms.get_waiter("replication_instance_deleted").wait(
            Filters=[{"Name": "replication-instance-arn", "Values": [arn]}], WaiterConfig={"Delay": 5}
        )
        self.log.info("Deleted replication instance %s", arn)


class DmsCreateEndpointOperator(AwsBaseOperator[DmsHook]):
    """Create an endpoint, or bring an existing one of the same identifier up to date; returns its ARN.

    endpoint_kwargs: CreateEndpoint's other arguments (EngineName, MySQLSettings, S3Settings, ...). An existing
    endpoint is modified only when it lacks one of them (its settings then become exactly these: ExactSettings),
    which DMS refuses while a task using it runs. A setting only removed from endpoint_kwargs is not noticed.
    """

    aws_hook_class = DmsHook
    template_fields: Sequence[str] = aws_template_fields("identifier", "endpoint_type", "endpoint_kwargs")
    template_fields_renderers = {"endpoint_kwargs": "json"}

    def __init__(self, *, identifier: str, endpoint_type: str, endpoint_kwargs: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.identifier = identifier
        self.endpoint_type = endpoint_type
        self.endpoint_kwargs = endpoint_kwargs

    def execute(self, context) -> str:
        dms = self.hook.conn
        existing = _endpoint(dms, self.identifier)
        if existing is None:
            arn = dms.create_endpoint(
                EndpointIdentifier=self.identifier, EndpointType=self.endpoint_type, **self.endpoint_kwargs
            )["Endpoint"]["EndpointArn"]
            self.log.info("Created %s endpoint %s", self.endpoint_type, arn)
            return arn
        arn = existing["EndpointArn"]
        if not _differs(existing, {"EndpointType": self.endpoint_type, **self.endpoint_kwargs}):
            self.log.info("Endpoint %s exists with these settings", arn)
            return arn
        dms.modify_endpoint(EndpointArn=arn, EndpointType=self.endpoint_type, ExactSettings=True, **self.endpoint_kwargs)
        self.log.info("Endpoint %s exists; its settings are brought up to date", arn)
        return arn


class DmsTestConnectionOperator(AwsBaseOperator[DmsHook]):
    """Test that a replication instance reaches an endpoint (DMS TestConnection); fails with DMS's reason."""

    aws_hook_class = DmsHook
    template_fields: Sequence[str] = aws_template_fields("replication_instance_arn", "endpoint_arn")

    def __init__(self, *, replication_instance_arn: str, endpoint_arn: str, waiter_delay: int = 5,
                 waiter_max_attempts: int = 60, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.replication_instance_arn = replication_instance_arn
        self.endpoint_arn = endpoint_arn
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context) -> str:
        dms = self.hook.conn
        dms.test_connection(ReplicationInstanceArn=self.replication_instance_arn, EndpointArn=self.endpoint_arn)
        filters = [
            {"Name": "endpoint-arn", "Values": [self.endpoint_arn]},
            {"Name": "replication-instance-arn", "Values": [self.replication_instance_arn]},
        ]
        for _ in range(self.waiter_max_attempts):
            connection = next(
                c for c in dms.describe_connections(Filters=filters)["Connections"]
                if c["EndpointArn"] == self.endpoint_arn and c["ReplicationInstanceArn"] == self.replication_instance_arn
            )  # fmt: skip
            if connection["Status"] == "successful":
                self.log.info("%s reaches %s", self.replication_instance_arn, self.endpoint_arn)
                return connection["Status"]
            if connection["Status"] == "failed":
                raise AirflowException(
                    f"DMS cannot connect to {connection.get('EndpointIdentifier', self.endpoint_arn)}: "
                    f"{connection.get('LastFailureMessage', 'no reason given')}"
                )
            time.sleep(self.waiter_delay)
        raise AirflowException(f"DMS connection test of {self.endpoint_arn} did not finish")


class DmsDeleteEndpointOperator(AwsBaseOperator[DmsHook]):
    """Delete an endpoint by identifier; a missing one is not an error."""

    aws_hook_class = DmsHook
    template_fields: Sequence[str] = aws_template_fields("identifier")

    def __init__(self, *, identifier: str, **kwargs):
        super().__init__(**kwargs)
        self.identifier = identifier

    def execute(self, context) -> None:
        dms = self.hook.conn
        existing = _endpoint(dms, self.identifier)
        if existing is None:
            self.log.info("Endpoint %s does not exist", self.identifier)
            return
        dms.delete_endpoint(EndpointArn=existing["EndpointArn"])
        self.log.info("Deleted endpoint %s", existing["EndpointArn"])


def _described(dms, describe: str, key: str, filter_name: str, identifier: str) -> dict | None:
    """The one DMS resource of that identifier, or None (AWS raises ResourceNotFoundFault when no filter matches)."""
    try:
        found = getattr(dms, describe)(Filters=[{"Name": filter_name, "Values": [identifier]}])[key]
    except dms.exceptions.ResourceNotFoundFault:
        return None
    return found[0] if found else None


def _replication_instance(dms, identifier: str) -> dict | None:
    return _described(
        dms, "describe_replication_instances", "ReplicationInstances", "replication-instance-id", identifier
    )


def _endpoint(dms, identifier: str) -> dict | None:
    return _described(dms, "describe_endpoints", "Endpoints", "endpoint-id", identifier)


def _differs(described: dict, wanted: dict[str, Any]) -> bool:
    """Whether an endpoint as DescribeEndpoints shows it lacks any of wanted (settings documents key by key;
    DMS adds defaults to them and never shows a password, so one given always differs)."""
    for name, value in wanted.items():
        have = described.get(name)
        if isinstance(value, dict):
            if any((have or {}).get(key) != item for key, item in value.items()):
                return True
        elif name in ("EndpointType", "EngineName"):  # DMS answers SOURCE for source
            if str(have).lower() != str(value).lower():
                return True
        elif have != value:
            return True
    return False

"""Resource types moto 5.2.5 has no CloudFormation model for, created through the services' own backends.

- AWS::KinesisFirehose::DeliveryStream: CreateDeliveryStream with the resource's properties (they are the
  API's), so local Firehose checks, buffers and delivers it as it does any delivery stream
  (local_aws/firehose/); Ref: its name, Fn::GetAtt Arn; deleting it delivers what it buffered.
- AWS::SNS::Subscription: Subscribe, then its attributes (RawMessageDelivery, FilterPolicy and
  FilterPolicyScope, RedrivePolicy, DeliveryPolicy, SubscriptionRoleArn); Ref: its ARN (also while an
  email subscription awaits confirmation, as CloudFormation asks SNS for it).
- AWS::SQS::QueuePolicy: the PolicyDocument becomes each queue's Policy attribute; deleting the resource
  removes it.

The classes are duck-typed like moto's CloudFormationModel (they do not subclass it: moto lists its models
by subclass, and nothing in moto changes until the `resources` executor installs). An update replaces the
resource (delete, then create).
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.firehose.models import firehose_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from local_aws.arns import Arn


class _AddedType:
    TYPE = ""
    NAME_PROPERTY: str | None = None
    ATTRIBUTES: tuple[str, ...] = ()

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str | None:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return attribute in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute: str) -> Any:
        """Fn::GetAtt: each attribute in ATTRIBUTES is the instance's attribute of that name in lowercase (Arn: .arn)."""
        if attribute in self.ATTRIBUTES:
            return getattr(self, attribute.lower())
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Any:  # fmt: skip
        """Replacement: the new resource, then the old one goes."""
        created = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        original_resource.delete(account_id, region_name)
        return created

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:  # fmt: skip
        raise NotImplementedError

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError


class DeliveryStream(_AddedType):
    """AWS::KinesisFirehose::DeliveryStream."""

    TYPE = "AWS::KinesisFirehose::DeliveryStream"
    NAME_PROPERTY = "DeliveryStreamName"
    ATTRIBUTES = ("Arn",)
    # CreateDeliveryStream's destinations, by the property that holds each (the API's own names).
    DESTINATIONS = {
        "s3_destination_configuration": "S3DestinationConfiguration",
        "extended_s3_destination_configuration": "ExtendedS3DestinationConfiguration",
        "redshift_destination_configuration": "RedshiftDestinationConfiguration",
        "elasticsearch_destination_configuration": "ElasticsearchDestinationConfiguration",
        "splunk_destination_configuration": "SplunkDestinationConfiguration",
        "http_endpoint_destination_configuration": "HttpEndpointDestinationConfiguration",
        "snowflake_destination_configuration": "SnowflakeDestinationConfiguration",
        "iceberg_destination_configuration": "IcebergDestinationConfiguration",
    }

    def __init__(self, name: str, arn: str, region: str):
        self.name, self.arn, self.region = name, arn, region

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> DeliveryStream:  # fmt: skip
        properties = cloudformation_json.get("Properties") or {}
        name = properties.get("DeliveryStreamName") or resource_name
        arn = firehose_backends[account_id][region_name].create_delivery_stream(
            region=region_name,
            delivery_stream_name=name,
            delivery_stream_type=properties.get("DeliveryStreamType") or "DirectPut",
            kinesis_stream_source_configuration=properties.get("KinesisStreamSourceConfiguration"),
            delivery_stream_encryption_configuration_input=properties.get("DeliveryStreamEncryptionConfigurationInput"),
            tags=properties.get("Tags") or [],
            **{argument: properties.get(prop) for argument, prop in cls.DESTINATIONS.items()},
        )
        return cls(name, arn, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = firehose_backends[account_id][region_name]
        if self.name in backend.delivery_streams:
            backend.delete_delivery_stream(self.name)  # local Firehose delivers what it buffered first


class Subscription(_AddedType):
    """AWS::SNS::Subscription."""

    TYPE = "AWS::SNS::Subscription"
    ATTRIBUTES = ("Arn",)
    # Subscription attributes the resource sets, in the order SNS needs them (the scope before the policy).
    SETTINGS = ("RawMessageDelivery", "FilterPolicyScope", "FilterPolicy", "RedrivePolicy", "DeliveryPolicy",
                "SubscriptionRoleArn", "ReplayPolicy")  # fmt: skip

    def __init__(self, arn: str, account_id: str, region: str):
        self.arn, self.account_id, self.region = arn, account_id, region

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Subscription:  # fmt: skip
        properties = cloudformation_json["Properties"]
        topic_arn = properties["TopicArn"]
        region = properties.get("Region") or Arn.parse(topic_arn).region
        backend = sns_backends[account_id][region]
        subscription = backend.subscribe(topic_arn, properties.get("Endpoint"), properties["Protocol"])
        try:
            for name in cls.SETTINGS:
                if name in properties:
                    backend.set_subscription_attributes(subscription.arn, name, _attribute(properties[name]))
        except Exception:
            backend.unsubscribe(subscription.arn)  # not left half-configured
            raise
        return cls(subscription.arn, account_id, region)

    def delete(self, account_id: str, region_name: str) -> None:
        sns_backends[self.account_id][self.region].unsubscribe(self.arn)


def _attribute(value: Any) -> str:
    """A subscription attribute as the API takes it: JSON objects as text, booleans as true / false."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class QueuePolicy(_AddedType):
    """AWS::SQS::QueuePolicy."""

    TYPE = "AWS::SQS::QueuePolicy"

    def __init__(self, policy_id: str, queue_names: list[str], account_id: str, region: str):
        self.policy_id, self.queue_names, self.account_id, self.region = policy_id, queue_names, account_id, region

    @property
    def physical_resource_id(self) -> str:
        return self.policy_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> QueuePolicy:  # fmt: skip
        properties = cloudformation_json["Properties"]
        document = properties["PolicyDocument"]
        text = document if isinstance(document, str) else json.dumps(document)
        backend = sqs_backends[account_id][region_name]
        names = [_queue_name(url) for url in properties["Queues"]]
        for name in names:
            backend.get_queue(name)  # QueueDoesNotExist before any queue changes
        for name in names:
            backend.set_queue_attributes(name, {"Policy": text})
        return cls(resource_name, names, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = sqs_backends[self.account_id][self.region]
        for name in self.queue_names:
            if name in backend.queues:
                backend.set_queue_attributes(name, {"Policy": ""})


def _queue_name(url: str) -> str:
    """A queue's name from its URL (https://sqs.us-east-1.amazonaws.com/123456789012/name)."""
    return str(url).rstrip("/").rsplit("/", 1)[-1]


ADDED_TYPES: dict[str, type[_AddedType]] = {cls.TYPE: cls for cls in (DeliveryStream, Subscription, QueuePolicy)}

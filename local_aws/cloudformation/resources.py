"""The resource types a stack creates: what moto 5.2.5 lacks or stubs, completed (see docs/local-aws/cloudformation.md).

moto creates each resource type through its model's create_from_cloudformation_json. `patches` changes it so that
- AWS::KinesisFirehose::DeliveryStream, AWS::SNS::Subscription and AWS::SQS::QueuePolicy exist
  (added_types.py; moto has no model for them and quietly left them out of the stack);
- property values are converted to the type the resource's schema says, as CloudFormation does
  (`"100"` -> 100 for an event source mapping's BatchSize, a Number parameter -> `"10"` for a Lambda
  environment variable), and a value that does not convert fails the resource
  (`Properties validation failed ... expected type: Integer, found: String`);
- AWS::IAM::Role attaches its ManagedPolicyArns (moto ignored them) and stores its inline Policies as
  PutRolePolicy does (moto stored the template's objects, unchecked); deleting it detaches them first
  (moto's delete failed on an attached policy);
- AWS::Lambda::Function passes every property CreateFunction takes (moto dropped Layers, Architectures,
  EphemeralStorage, DeadLetterConfig, LoggingConfig, TracingConfig, Tags, ...); the stack waits until the
  function is Active;
- AWS::Lambda::Permission adds the statement as AddPermission does, with the resource's id as statement
  id, Ref-able, and removes it when deleted (moto's had no id, Ref gave an object's repr, and it stayed);
- AWS::Lambda::EventSourceMapping: the stack waits until the mapping's poller has fixed its starting
  position (the mapping leaves Creating), so records put once the stack is complete are delivered;
- AWS::Kinesis::Stream applies StreamModeDetails (ON_DEMAND) and StreamEncryption (moto ignored them);
- AWS::SNS::Topic answers Fn::GetAtt TopicArn; AWS::S3::Bucket applies VersioningConfiguration and
  PublicAccessBlockConfiguration, refuses the properties it would ignore, and its deletion fails while the
  bucket holds objects (moto reported it deleted and kept it).
`stabilize()` is what the stack engine waits for after creating a resource.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from contextlib import suppress
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException, UnknownPolicyException
from moto.awslambda.models import LambdaFunction, Permission
from moto.awslambda.utils import get_backend
from moto.cloudformation import parsing
from moto.iam.models import Role, iam_backends
from moto.kinesis.exceptions import InvalidArgumentError
from moto.kinesis.models import Stream as KinesisStream
from moto.kinesis.models import kinesis_backends
from moto.s3.exceptions import BucketNotEmpty, MissingBucket
from moto.s3.models import FakeBucket, s3_backends
from moto.sns.models import Topic
from moto.utilities.utils import get_partition

from local_aws.arns import function_name_and_qualifier
from local_aws.cloudformation.added_types import ADDED_TYPES
from local_aws.cloudformation.engine import NotSupportedLocally, PropertyError, wait_until
from local_aws.patching import Patches

patches = Patches(__name__)

FUNCTION_ACTIVE_SECONDS = 60.0  # CloudFormation waits for a new function to leave Pending
MAPPING_ENABLED_SECONDS = 30.0  # ... and here for an event source mapping's poller to start
CUSTOM_RESOURCE_SECONDS = 60.0  # ... and for a custom resource's answer (AWS: up to an hour)


# --- the types moto lacks ---------------------------------------------------------------------------------


@patches.wrap(parsing, "resource_class_from_type")
def _resource_class_from_type(original, resource_type: str):
    return ADDED_TYPES.get(resource_type) or original(resource_type)


# --- property types, converted as CloudFormation converts them --------------------------------------------

INTEGER, BOOLEAN, STRING = "Integer", "Boolean", "String"
# Per resource type: property path -> type. "*" is any key at that level, "**" any depth.
SCHEMAS: dict[str, dict[str, str]] = {
    "AWS::Kinesis::Stream": {"ShardCount": INTEGER, "RetentionPeriodHours": INTEGER},
    "AWS::KinesisFirehose::DeliveryStream": {
        "**/IntervalInSeconds": INTEGER, "**/SizeInMBs": INTEGER, "**/DurationInSeconds": INTEGER,
        "**/BlockSizeBytes": INTEGER, "**/PageSizeBytes": INTEGER, "**/MaxPaddingBytes": INTEGER,
        "**/StripeSizeBytes": INTEGER, "**/RowIndexStride": INTEGER, "**/Enabled": BOOLEAN,
        "**/EnableDictionaryCompression": BOOLEAN, "**/CaseInsensitive": BOOLEAN,
        "**/ConvertDotsInJsonKeysToUnderscores": BOOLEAN, "**/EnablePadding": BOOLEAN,
    },
    "AWS::Lambda::Function": {
        "Timeout": INTEGER, "MemorySize": INTEGER, "ReservedConcurrentExecutions": INTEGER,
        "EphemeralStorage/Size": INTEGER, "Environment/Variables/*": STRING,
    },
    "AWS::Lambda::EventSourceMapping": {
        "BatchSize": INTEGER, "MaximumBatchingWindowInSeconds": INTEGER, "MaximumRecordAgeInSeconds": INTEGER,
        "MaximumRetryAttempts": INTEGER, "ParallelizationFactor": INTEGER, "TumblingWindowInSeconds": INTEGER,
        "Enabled": BOOLEAN, "BisectBatchOnFunctionError": BOOLEAN,
    },
    "AWS::IAM::Role": {"MaxSessionDuration": INTEGER},
    "AWS::SNS::Subscription": {"RawMessageDelivery": BOOLEAN},
}  # fmt: skip


def _found(value: Any) -> str:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return "Number"
    if isinstance(value, dict):
        return "JSONObject"
    if isinstance(value, list):
        return "JSONArray"
    return STRING


def _convert(value: Any, kind: str, path: str) -> Any:
    if kind == INTEGER:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
    elif kind == BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
    elif kind == STRING:
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (int, float)):
            return str(value)
    raise PropertyError(path, kind, _found(value))


def coerce(properties: dict[str, Any], schema: dict[str, str]) -> None:
    """Convert the properties named by `schema` in place; PropertyError for a value that does not convert."""
    for pattern, kind in schema.items():
        _coerce(properties, pattern.split("/"), kind, [])


def _coerce(node: Any, parts: list[str], kind: str, path: list[str]) -> None:
    if isinstance(node, list):
        for at, item in enumerate(node):
            _coerce(item, parts, kind, [*path, str(at)])
        return
    if not isinstance(node, dict):
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        _coerce(node, rest, kind, path)
        for key, child in node.items():
            _coerce(child, parts, kind, [*path, key])
        return
    for key in list(node) if head == "*" else [head] if head in node else []:
        if rest:
            _coerce(node[key], rest, kind, [*path, key])
        elif node[key] is not None:
            node[key] = _convert(node[key], kind, "/".join([*path, key]))


@patches.wrap(parsing, "parse_resource")
def _parse_resource(original, resource_json: dict[str, Any], resources_map: Any):
    parsed = original(resource_json, resources_map)
    if parsed:
        _, cleaned, resource_type = parsed
        schema = SCHEMAS.get(resource_type)
        if schema:
            coerce(cleaned.setdefault("Properties", {}) or {}, schema)
    return parsed


# --- AWS::IAM::Role ---------------------------------------------------------------------------------------

_MOTO_ROLE_CREATE = Role.__dict__["create_from_cloudformation_json"].__func__
_MOTO_ROLE_DELETE = Role.__dict__["delete_from_cloudformation_json"].__func__


def _role_create(cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
                 **kwargs: Any) -> Role:  # fmt: skip
    properties = cloudformation_json.get("Properties") or {}
    moto_json = {**cloudformation_json, "Properties": {key: value for key, value in properties.items()
                                                       if key not in ("Policies", "ManagedPolicyArns")}}  # fmt: skip
    role = _MOTO_ROLE_CREATE(cls, resource_name, moto_json, account_id, region_name, **kwargs)
    backend = iam_backends[account_id][get_partition(region_name)]
    try:
        for policy in properties.get("Policies") or []:
            document = policy["PolicyDocument"]
            backend.put_role_policy(role.name, policy["PolicyName"],
                                    document if isinstance(document, str) else json.dumps(document))  # fmt: skip
        for arn in properties.get("ManagedPolicyArns") or []:
            backend.attach_role_policy(arn, role.name)
    except Exception:
        _role_delete(cls, role.name, cloudformation_json, account_id, region_name)  # no half-made role stays
        raise
    return role


def _role_delete(cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                 region_name: str) -> None:  # fmt: skip
    backend = iam_backends[account_id][get_partition(region_name)]
    for role in list(backend.roles.values()):
        if role.name == resource_name:
            for arn in list(role.managed_policies):
                backend.detach_role_policy(arn, role.name)
    _MOTO_ROLE_DELETE(cls, resource_name, cloudformation_json, account_id, region_name)


patches.replace(Role, "create_from_cloudformation_json", classmethod(_role_create))
patches.replace(Role, "delete_from_cloudformation_json", classmethod(_role_delete))


# --- AWS::Lambda::Function, Permission ------------------------------------------------------------------

# CreateFunction's parameters that are AWS::Lambda::Function properties of the same name.
FUNCTION_PROPERTIES = (
    "Code", "Handler", "Role", "Runtime", "Description", "Timeout", "MemorySize", "Environment", "Layers",
    "Architectures", "EphemeralStorage", "DeadLetterConfig", "TracingConfig", "KmsKeyArn", "PackageType",
    "ImageConfig", "VpcConfig", "LoggingConfig", "ReservedConcurrentExecutions", "SnapStart",
    "FileSystemConfigs", "RuntimeManagementConfig", "CodeSigningConfigArn",
)  # fmt: skip


def _function_create(cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                     region_name: str, **kwargs: Any) -> LambdaFunction:  # fmt: skip
    properties = cloudformation_json["Properties"]
    spec = {key: copy.deepcopy(properties[key]) for key in FUNCTION_PROPERTIES if key in properties}
    spec["FunctionName"] = resource_name
    code = spec.get("Code") or {}
    if "ZipFile" in code:  # inline source: index.py (and cfnresponse), as CloudFormation packages it
        spec["Code"] = {**code, "ZipFile": base64.b64encode(cls._create_zipfile_from_plaintext_code(code["ZipFile"]))}
    if properties.get("Tags"):
        spec["Tags"] = {tag["Key"]: tag["Value"] for tag in properties["Tags"]}
    return get_backend(account_id, region_name).create_function(spec)


patches.replace(LambdaFunction, "create_from_cloudformation_json", classmethod(_function_create))

PERMISSION_PROPERTIES = ("Action", "Principal", "SourceArn", "SourceAccount", "EventSourceToken", "PrincipalOrgID",
                         "FunctionUrlAuthType")  # fmt: skip


class LambdaPermission:
    """An AWS::Lambda::Permission: one statement of the function's resource-based policy; Ref is its statement id."""

    def __init__(self, statement_id: str, function_name: str, qualifier: str | None, account_id: str, region: str):
        self.statement_id, self.function_name, self.qualifier = statement_id, function_name, qualifier
        self.account_id, self.region = account_id, region

    @property
    def physical_resource_id(self) -> str:
        return self.statement_id

    def delete(self, account_id: str, region_name: str) -> None:
        try:
            function = get_backend(self.account_id, self.region).get_function(self.function_name, self.qualifier)
        except Exception:  # noqa: BLE001 (the function went first: so did its policy)
            return
        with suppress(UnknownPolicyException):
            function.policy.del_statement(self.statement_id)
            _new_revision(function)


def _new_revision(function: LambdaFunction) -> None:
    from local_aws.lambda_ import lifecycle

    lifecycle.new_revision(function)


def _permission_create(cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                       region_name: str, **kwargs: Any) -> LambdaPermission:  # fmt: skip
    properties = cloudformation_json["Properties"]
    try:
        name, qualifier = function_name_and_qualifier(properties["FunctionName"])
    except ValueError as error:
        raise InvalidParameterValueException(str(error)) from None
    function = get_backend(account_id, region_name).get_function(name, qualifier)
    statement_id = resource_name[:100]
    request = {"StatementId": statement_id, **{k: properties[k] for k in PERMISSION_PROPERTIES if k in properties}}
    function.policy.add_statement(json.dumps(request), qualifier)
    _new_revision(function)
    return LambdaPermission(statement_id, name, qualifier, account_id, region_name)


patches.replace(Permission, "create_from_cloudformation_json", classmethod(_permission_create))


# --- AWS::Kinesis::Stream ---------------------------------------------------------------------------------------


def _stream_create(cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
                   **kwargs: Any) -> KinesisStream:  # fmt: skip
    """moto's, plus StreamModeDetails (ON_DEMAND: no ShardCount) and StreamEncryption, which it ignored."""
    properties = cloudformation_json.get("Properties") or {}
    mode = properties.get("StreamModeDetails") or {"StreamMode": "PROVISIONED"}
    on_demand = mode.get("StreamMode") == "ON_DEMAND"
    if on_demand and "ShardCount" in properties:
        raise InvalidArgumentError("ShardCount is not allowed for a stream in ON_DEMAND mode")
    backend = kinesis_backends[account_id][region_name]
    stream = backend.create_stream(resource_name, None if on_demand else properties.get("ShardCount", 1),
                                   stream_mode=mode, retention_period_hours=properties.get("RetentionPeriodHours"))  # fmt: skip
    try:
        if properties.get("Tags"):
            backend.add_tags_to_stream(stream_arn=None, stream_name=stream.stream_name,
                                       tags={tag["Key"]: tag["Value"] for tag in properties["Tags"]})  # fmt: skip
        encryption = properties.get("StreamEncryption")
        if encryption:
            backend.start_stream_encryption(stream_arn=None, stream_name=stream.stream_name,
                                            encryption_type=encryption["EncryptionType"], key_id=encryption["KeyId"])  # fmt: skip
    except Exception:
        backend.delete_stream(stream_arn=None, stream_name=stream.stream_name)
        raise
    return stream


patches.replace(KinesisStream, "create_from_cloudformation_json", classmethod(_stream_create))


# --- AWS::SNS::Topic ----------------------------------------------------------------------------------------


def _topic_has_attribute(cls, attribute: str) -> bool:
    return attribute in ("TopicArn", "TopicName")


patches.replace(Topic, "has_cfn_attr", classmethod(_topic_has_attribute))


@patches.wrap(Topic, "get_cfn_attribute")
def _topic_attribute(original, self: Topic, attribute: str) -> str:
    return self.arn if attribute == "TopicArn" else original(self, attribute)


# --- AWS::S3::Bucket ------------------------------------------------------------------------------------------

_MOTO_BUCKET_CREATE = FakeBucket.__dict__["create_from_cloudformation_json"].__func__
BUCKET_PROPERTIES = {"BucketName", "BucketEncryption", "Tags", "VersioningConfiguration",
                     "PublicAccessBlockConfiguration"}  # fmt: skip


class UnsupportedProperties(NotSupportedLocally):
    def __init__(self, resource_type: str, names: list[str]):
        super().__init__(
            f"local AWS does not apply the {resource_type} properties [{', '.join(names)}] (moto would ignore "
            f"them); leave them out and apply them through the service's API once the stack is complete"
        )


def _bucket_create(cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                   region_name: str, **kwargs: Any) -> FakeBucket:  # fmt: skip
    properties = cloudformation_json.get("Properties") or {}
    unsupported = sorted(set(properties) - BUCKET_PROPERTIES)
    if unsupported:
        raise UnsupportedProperties("AWS::S3::Bucket", unsupported)
    bucket = _MOTO_BUCKET_CREATE(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    backend = s3_backends[account_id][get_partition(region_name)]
    try:
        versioning = (properties.get("VersioningConfiguration") or {}).get("Status")
        if versioning:
            backend.put_bucket_versioning(bucket.name, versioning)
        if properties.get("PublicAccessBlockConfiguration"):
            backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
    except Exception:
        backend.delete_bucket(bucket.name)
        raise
    return bucket


def _bucket_delete(cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                   region_name: str) -> None:  # fmt: skip
    backend = s3_backends[account_id][get_partition(region_name)]
    try:
        bucket = backend.get_bucket(resource_name)
    except MissingBucket:
        return
    if bucket.keys:  # (versions and delete markers count: they must go too)
        raise BucketNotEmpty(resource_name)
    backend.delete_bucket(resource_name)


patches.replace(FakeBucket, "create_from_cloudformation_json", classmethod(_bucket_create))
patches.replace(FakeBucket, "delete_from_cloudformation_json", classmethod(_bucket_delete))


# --- what the stack waits for -------------------------------------------------------------------------------


def stabilize(model: Any, resource_type: str) -> None:
    """Wait until the new resource is usable, as CloudFormation does before it reports CREATE_COMPLETE."""
    if resource_type == "AWS::Lambda::Function":
        wait_until(lambda: getattr(model, "state", "Active") != "Pending", FUNCTION_ACTIVE_SECONDS,
                   f"function {model.function_name} is still Pending")  # fmt: skip
        if model.state == "Failed":
            raise InvalidParameterValueException((model.state_reason or {}).get("StateReason", "Function failed"))
    elif resource_type == "AWS::Lambda::EventSourceMapping":
        local = getattr(model, "local", None)
        if local is not None:
            model.get_configuration()  # CreateEventSourceMapping's answer (Creating), which CloudFormation reads
            wait_until(lambda: local.state != "Creating", MAPPING_ENABLED_SECONDS,
                       f"event source mapping {model.uuid} is still Creating")  # fmt: skip
    elif hasattr(model, "is_created"):
        wait_until(model.is_created, CUSTOM_RESOURCE_SECONDS, f"{resource_type} did not report its creation")

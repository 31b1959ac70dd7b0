"""How CloudFormation runs a stack: resources one at a time in dependency order, each with its events; a
failed resource rolls the stack back; DeleteStack deletes the resources in the reverse order.

moto 5.2.5 creates a stack's resources inside the CreateStack request, lazily (a resource is made when
something first refers to it), with no event per resource; a resource that fails makes the request fail
and leaves the stack CREATE_IN_PROGRESS with what was made; DescribeStacks' outputs and
DescribeStackResources create resources again when they are read after a deletion; a bucket that is not
empty stays behind while its stack reports DELETE_COMPLETE. Here (stacks.py wires it in):

- `validate()` refuses at CreateStack, as CloudFormation does, templates whose references cannot resolve
  (`Unresolved resource dependencies [X] in the Resources block of the template`) or go round in a
  circle (`Circular dependency between resources: [A, B]`).
- `create()` runs on the `cloudformation-stacks` worker (`StackOperations`): every resource after those
  it refers to (Ref, Fn::GetAtt, Fn::Sub, DependsOn), with CloudFormation's events (CREATE_IN_PROGRESS,
  CREATE_IN_PROGRESS "Resource creation Initiated", CREATE_COMPLETE), waiting for the resource to be
  usable (resources.stabilize: a Lambda function Active, an event source mapping polling). The first
  resource that fails is CREATE_FAILED with the service's message in CloudFormation's words; then the
  stack rolls back (ROLLBACK_IN_PROGRESS, every created resource deleted, ROLLBACK_COMPLETE), or with
  OnFailure DO_NOTHING stays CREATE_FAILED, or with OnFailure DELETE is deleted.
- `delete()`: DELETE_IN_PROGRESS, each resource in the reverse order of creation (DeletionPolicy Retain:
  DELETE_SKIPPED), DELETE_COMPLETE; a resource that fails to delete is DELETE_FAILED with the reason, what
  it depends on is kept, and the stack is DELETE_FAILED until DeleteStack succeeds.
- Outputs and exports are evaluated once, when the stack is complete.

Each stack's state (`StackState`: its resources' records, the cached outputs) lives on moto's Stack, so
moto's reset forgets it; an operation whose stack vanished (reset) stops before its next resource.
Differences from AWS: docs/local-aws/cloudformation.md.
"""

from __future__ import annotations

import functools
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import botocore.session
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import CloudFormationError, ValidationError
from moto.cloudformation.models import CloudFormationBackend, Event, Export, Stack
from moto.core.utils import utcnow

from local_aws import workers

log = logging.getLogger(__name__)

# DescribeStacks reports a stack's Outputs in these statuses (not while it is created, rolled back or deleted).
OUTPUT_STATUSES = frozenset({
    "CREATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED",
})  # fmt: skip
DELETED = frozenset({"DELETE_COMPLETE", "DELETE_SKIPPED"})
ON_FAILURE = ("ROLLBACK", "DO_NOTHING", "DELETE")

# How the AWS::<Service>::... namespaces name their service in a handler's message.
SERVICES = {"IAM": "Iam", "SNS": "Sns", "SQS": "Sqs", "KinesisFirehose": "Firehose", "Logs": "CloudWatchLogs"}


class NotSupportedLocally(Exception):
    """What local AWS does not do; its message, which says so and what to do instead, is the resource's reason."""


class UnsupportedType(NotSupportedLocally):
    """A resource type local AWS cannot create (moto has no CloudFormation model for it)."""

    def __init__(self, resource_type: str):
        super().__init__(
            f"local AWS cannot create resources of type {resource_type} (moto {_moto_version()} has no "
            f"CloudFormation model for it, and local AWS adds none); create it with its service's API instead"
        )


class PropertyError(Exception):
    """A property whose value is not of the type the resource's schema requires (and does not convert to it)."""

    def __init__(self, path: str, expected: str, found: str):
        super().__init__(f"#/{path}: expected type: {expected}, found: {found}")
        self.path, self.expected, self.found = path, expected, found


class ResourceTimeout(Exception):
    def __init__(self, what: str):
        super().__init__(f"Resource timed out waiting for completion: {what}")


def _moto_version() -> str:
    import moto

    return moto.__version__


# ---------------------------------------------------------------------------------------------------------
# State kept on moto's Stack
# ---------------------------------------------------------------------------------------------------------


@dataclass
class ResourceRecord:
    """One resource of a stack as DescribeStackResources reports it, with the model moto made for it."""

    logical_id: str
    resource_type: str
    depends_on: frozenset[str]
    status: str = "CREATE_IN_PROGRESS"
    reason: str | None = None
    physical_id: str | None = None
    model: Any = None
    timestamp: datetime = field(default_factory=utcnow)

    def summary(self) -> dict[str, Any]:
        """ListStackResources' StackResourceSummary."""
        found = {
            "LogicalResourceId": self.logical_id,
            "PhysicalResourceId": self.physical_id,
            "ResourceType": self.resource_type,
            "LastUpdatedTimestamp": self.timestamp,
            "ResourceStatus": self.status,
            "ResourceStatusReason": self.reason,
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        }
        return {key: value for key, value in found.items() if value is not None}

    def description(self, stack: Stack, detail: bool = False) -> dict[str, Any]:
        """DescribeStackResources' StackResource (detail: DescribeStackResource's StackResourceDetail)."""
        found = {"StackName": stack.name, "StackId": stack.stack_id, **self.summary()}
        if not detail:
            found["Timestamp"] = found.pop("LastUpdatedTimestamp")
        return found


@dataclass
class StackState:
    """What local AWS keeps on a moto Stack it runs (`stack.local_state`)."""

    on_failure: str = "ROLLBACK"
    records: dict[str, ResourceRecord] = field(default_factory=dict)  # in the order of creation
    lock: threading.RLock = field(default_factory=threading.RLock)
    delete_requested: bool = False
    outputs: list[dict[str, Any]] | None = None
    exports: list[Export] = field(default_factory=list)


def state_of(stack: Stack | None) -> StackState | None:
    return getattr(stack, "local_state", None)


def live_models(stack: Stack) -> list[Any]:
    """The models of the stack's resources that exist (created and not deleted)."""
    state = state_of(stack)
    return [r.model for r in state.records.values() if r.model is not None and r.status not in DELETED]


# ---------------------------------------------------------------------------------------------------------
# The template's references
# ---------------------------------------------------------------------------------------------------------

_SUB_NAME = re.compile(r"\$\{([^!}][^}]*)\}")


def references(node: Any) -> set[str]:
    """The names a template fragment refers to: Ref targets, Fn::GetAtt resources, Fn::Sub's ${Name} and ${Name.Attr}."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
            return
        if not isinstance(value, dict):
            return
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str):
                found.add(argument)
                return
            if key == "Fn::GetAtt":
                if isinstance(argument, list) and argument:
                    found.add(str(argument[0]))
                    walk(argument[1:])
                elif isinstance(argument, str):
                    found.add(argument.split(".", 1)[0])
                return
            if key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
                for name in _SUB_NAME.findall(text if isinstance(text, str) else ""):
                    name = name.strip().split(".", 1)[0]
                    if name not in variables:
                        found.add(name)
                walk(variables)
                return
        for item in value.values():
            walk(item)

    walk(node)
    return found


def _depends_on(body: dict[str, Any]) -> list[str]:
    value = body.get("DependsOn") or []
    return [value] if isinstance(value, str) else list(value)


def dependency_graph(template: dict[str, Any]) -> dict[str, list[str]]:
    """Each resource -> the resources it refers to or DependsOn, in template order."""
    resources = template.get("Resources") or {}
    position = {name: at for at, name in enumerate(resources)}
    graph = {}
    for name, body in resources.items():
        body = body or {}
        named = (references({k: v for k, v in body.items() if k != "DependsOn"}) | set(_depends_on(body))) - {name}
        graph[name] = sorted((n for n in named if n in resources), key=position.__getitem__)
    return graph


def validate(template: dict[str, Any]) -> None:
    """What CreateStack refuses at once, in CloudFormation's words: references that resolve to nothing, cycles."""
    resources = template.get("Resources") or {}
    known = set(resources) | set(template.get("Parameters") or {})
    for block, section in (("Resources", resources), ("Outputs", template.get("Outputs") or {})):
        unresolved = set()
        for body in section.values():
            body = body or {}
            named = references(body) | (set(_depends_on(body)) if block == "Resources" else set())
            unresolved |= {name for name in named if name not in known and not name.startswith("AWS::")}
        if unresolved:
            raise ValidationError(
                message=f"Template format error: Unresolved resource dependencies [{', '.join(sorted(unresolved))}] "
                f"in the {block} block of the template"
            )
    creation_order(dependency_graph(template))


# IAM resource types, and the property that gives one a custom name (CAPABILITY_NAMED_IAM).
IAM_TYPES = {
    "AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::Policy": None, "AWS::IAM::AccessKey": None, "AWS::IAM::UserToGroupAddition": None,
}  # fmt: skip


class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"


def check_capabilities(template: dict[str, Any], capabilities: list[str]) -> None:
    """A template with IAM resources needs CAPABILITY_IAM, with named ones CAPABILITY_NAMED_IAM, as on AWS."""
    bodies = [body or {} for body in (template.get("Resources") or {}).values()]
    iam = [body for body in bodies if body.get("Type") in IAM_TYPES]
    if not iam:
        return
    named = any(IAM_TYPES[body["Type"]] in (body.get("Properties") or {}) for body in iam if IAM_TYPES[body["Type"]])
    needed = "CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"
    if "CAPABILITY_NAMED_IAM" not in capabilities and needed not in capabilities:
        raise InsufficientCapabilities(f"Requires capabilities : [{needed}]")


def check_parameters(template: dict[str, Any], given: dict[str, Any]) -> None:
    """What CreateStack refuses in the parameters (moto checks none of it): unknown or missing ones, values
    outside the declared constraints (Number, AllowedValues, AllowedPattern, Min/MaxValue, Min/MaxLength)."""
    declared = template.get("Parameters") or {}
    unknown = [name for name in given if name not in declared]
    if unknown:
        raise ValidationError(message=f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    missing = [name for name, spec in declared.items() if name not in given and "Default" not in (spec or {})]
    if missing:
        raise ValidationError(message=f"Parameters: [{', '.join(missing)}] must have values")
    for name, spec in declared.items():
        spec = spec or {}
        value = given.get(name, spec.get("Default"))
        if value is None or str(spec.get("Type", "String")).startswith("AWS::"):
            continue  # SSM parameter types and AWS-specific types are resolved by moto
        problem = _parameter_problem(spec, str(value))
        if problem:
            description = spec.get("ConstraintDescription")
            raise ValidationError(message=f"Parameter '{name}' {description or problem}")


def _parameter_problem(spec: dict[str, Any], value: str) -> str | None:
    kind = spec.get("Type", "String")
    values = (
        [v.strip() for v in value.split(",")] if kind.startswith("List<") or kind == "CommaDelimitedList" else [value]
    )
    for item in values:
        if "Number" in kind:
            try:
                number = float(item)
            except ValueError:
                return "must be a number"
            if "MinValue" in spec and number < float(spec["MinValue"]):
                return f"must be a number not less than {spec['MinValue']}"
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                return f"must be a number not greater than {spec['MaxValue']}"
        allowed = spec.get("AllowedValues")
        if allowed is not None and item not in [str(v) for v in allowed]:
            return "must be one of AllowedValues"
        if "AllowedPattern" in spec and not re.fullmatch(str(spec["AllowedPattern"]), item):
            return f"must match pattern {spec['AllowedPattern']}"
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            return f"must contain at least {spec['MinLength']} characters"
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            return f"must contain at most {spec['MaxLength']} characters"
    return None


def creation_order(graph: dict[str, list[str]]) -> list[str]:
    """The resources, each after those it depends on (else in template order); ValidationError on a cycle."""
    order: list[str] = []
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            cycle = visiting[visiting.index(name) :]
            raise ValidationError(message=f"Circular dependency between resources: [{', '.join(sorted(cycle))}]")
        visiting.append(name)
        for dependency in graph[name]:
            visit(dependency)
        visiting.pop()
        done.add(name)
        order.append(name)

    for name in graph:
        visit(name)
    return order


# ---------------------------------------------------------------------------------------------------------
# Failure reasons, in CloudFormation's words
# ---------------------------------------------------------------------------------------------------------


# HTTP statuses of errors the services' models leave out (S3 models few of its errors).
UNMODELLED_STATUS = {"BucketNotEmpty": 409, "BucketAlreadyOwnedByYou": 409, "BucketAlreadyExists": 409}
# botocore's service names, by the AWS::<Service>:: namespace where they differ from its lowercase.
BOTOCORE_NAMES = {"KinesisFirehose": "firehose", "Lambda": "lambda", "Logs": "logs"}


@functools.lru_cache(maxsize=256)
def _model_status(service: str, code: str) -> int:
    """The HTTP status the service's model gives an error code (400 when it has none, as moto answers)."""
    if code in UNMODELLED_STATUS:
        return UNMODELLED_STATUS[code]
    try:
        model = botocore.session.get_session().get_service_model(BOTOCORE_NAMES.get(service, service.lower()))
        for shape in model.error_shapes:
            if code in (shape.name, shape.error_code):
                return shape.metadata.get("error", {}).get("httpStatusCode", 400)
    except Exception:  # noqa: BLE001 (no model: the default)
        pass
    return 404 if "NotFound" in code else 400


def _error_parts(error: BaseException, service: str = "") -> tuple[str, str, int]:
    """(code, message, HTTP status) of what a service (its AWS::<Service>:: namespace) raised."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:  # botocore's ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return response["Error"].get("Code", ""), response["Error"].get("Message", ""), status
    code = getattr(error, "error_type", None)
    if code is not None:  # moto's RESTError and its kind
        status = getattr(error, "code", 400)
        return code, getattr(error, "message", None) or str(error), status if isinstance(status, int) else 400
    code = getattr(error, "code", None)
    if isinstance(code, str) and code:  # moto's ServiceException: its status is the service model's
        return code, getattr(error, "message", None) or str(error), _model_status(service, code)
    args = getattr(error, "args", ())
    if len(args) == 2 and all(isinstance(a, str) for a in args) and args[0][:1].isupper() and " " not in args[0]:
        return args[0], args[1], 400  # moto raises ValueError("InvalidParameterValueException", message) here and there
    return "InternalFailure", str(error) or type(error).__name__, 500


def _handler_error_code(code: str, status: int) -> str:
    if "AlreadyExists" in code or code in (
        "ResourceConflictException",
        "ResourceInUseException",
        "BucketAlreadyOwnedByYou",
    ):
        return "AlreadyExists"
    if "NotFound" in code or code.startswith("NoSuch") or status == 404:
        return "NotFound"
    if code.startswith("AccessDenied"):
        return "AccessDenied"
    return "InvalidRequest" if status < 500 else "GeneralServiceException"


def failure_reason(logical_id: str, resource_type: str, error: BaseException) -> str:
    """A resource's ResourceStatusReason for an error its creation or deletion raised."""
    if isinstance(error, (NotSupportedLocally, ResourceTimeout)):
        return str(error)
    if isinstance(error, PropertyError):
        return f"Properties validation failed for resource {logical_id} with message: {error}"
    if isinstance(error, KeyError) and str(error.args[0] if error.args else "")[:1].isupper():
        return f"Properties validation failed for resource {logical_id} with message: #: required key [{error.args[0]}] not found"  # fmt: skip
    namespace = resource_type.split("::")[1] if resource_type.count("::") == 2 else resource_type
    code, message, status = _error_parts(error, namespace)
    service = SERVICES.get(namespace, namespace)
    return (
        f'Resource handler returned message: "{message} (Service: {service}, Status Code: {status}, '
        f'Request ID: {uuid.uuid4()})" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: {_handler_error_code(code, status)})'
    )


# ---------------------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------------------


def _transition(stack: Stack, record: ResourceRecord, status: str, reason: str | None = None) -> None:
    """The resource is now `status`; DescribeStackEvents gets the event (and the stack's notification topics)."""
    record.status, record.reason, record.timestamp = status, reason, utcnow()
    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=record.logical_id,
        physical_resource_id=record.physical_id or "",
        resource_type=record.resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )
    try:
        event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    except Exception as error:  # noqa: BLE001 (a notification topic that is gone does not stop the stack)
        log.warning("Stack %s: could not notify %s: %s", stack.name, stack.notification_arns, error)
    stack.events.append(event)


def stack_event(stack: Stack, status: str, reason: str | None = None) -> None:
    stack.status, stack.status_reason = status, reason
    stack._add_stack_event(status, resource_status_reason=reason)


def _gone(backend: CloudFormationBackend, stack: Stack) -> bool:
    """True once moto's reset (or another deletion) took the stack away: its operation stops."""
    return getattr(backend, "stacks", {}).get(stack.stack_id) is not stack


# ---------------------------------------------------------------------------------------------------------
# Creation, rollback, deletion
# ---------------------------------------------------------------------------------------------------------


def create(backend: CloudFormationBackend, stack: Stack) -> None:
    """Create every resource of the stack, then complete it; or fail and roll back."""
    state = state_of(stack)
    template = stack.template_dict
    resources = template.get("Resources") or {}
    graph = dependency_graph(template)
    for logical_id in creation_order(graph):
        if _gone(backend, stack) or state.delete_requested:
            return  # reset, or DeleteStack: the deletion queued behind us deletes what was made
        body = resources[logical_id] or {}
        condition = body.get("Condition")
        if condition and not stack.resource_map.lazy_condition_map[condition]:
            continue
        resource_type = body.get("Type", "")
        record = state.records[logical_id] = ResourceRecord(logical_id, resource_type, frozenset(graph[logical_id]))
        _transition(stack, record, "CREATE_IN_PROGRESS")
        try:
            _create_resource(stack, record)
        except Exception as error:  # noqa: BLE001 (every failure is the resource's, reported on it)
            log.info("Stack %s: %s (%s) failed: %s", stack.name, logical_id, resource_type, error)
            _transition(stack, record, "CREATE_FAILED", failure_reason(logical_id, resource_type, error))
            _fail(backend, stack, f"The following resource(s) failed to create: [{logical_id}]. ")
            return
        _transition(stack, record, "CREATE_COMPLETE")
    try:
        outputs, exports = _outputs(backend, stack)
    except Exception as error:  # noqa: BLE001 (an export another stack has, an output that does not evaluate)
        _fail(backend, stack, f"{getattr(error, 'message', None) or error}. ")
        return
    with state.lock:
        if _gone(backend, stack) or state.delete_requested:
            return
        state.outputs, state.exports = outputs, exports
        for export in exports:
            backend.exports[export.name] = export
        stack_event(stack, "CREATE_COMPLETE")


def _create_resource(stack: Stack, record: ResourceRecord) -> None:
    from local_aws.cloudformation import resources

    if parsing.resource_class_from_type(record.resource_type) is None:
        if record.resource_type not in parsing.NULL_MODELS:
            raise UnsupportedType(record.resource_type)
    model = stack.resource_map[record.logical_id]  # moto's parse_and_create_resource, through the resource type
    record.model = model
    physical_id = getattr(model, "physical_resource_id", None)
    record.physical_id = physical_id if isinstance(physical_id, str) else None
    _transition(stack, record, "CREATE_IN_PROGRESS", "Resource creation Initiated")
    if model is not None:
        resources.stabilize(model, record.resource_type)


def _outputs(backend: CloudFormationBackend, stack: Stack) -> tuple[list[dict[str, Any]], list[Export]]:
    """The stack's outputs, evaluated now that every resource exists, and its exports (unique in the region)."""
    output_map = stack.output_map
    exports = output_map.exports
    for export in exports:
        other = backend.exports.get(export.name)
        if other is not None and other.exporting_stack_id != stack.stack_id:
            owner = backend.stacks.get(other.exporting_stack_id)
            raise ValidationError(
                message=f"Export with name {export.name} is already exported by stack "
                f"{owner.name if owner else other.exporting_stack_id}"
            )
    export_names = {_text(export.value): export.name for export in exports}
    outputs = []
    for key in output_map.outputs:
        output = output_map[key]
        if output is None:
            continue
        described = {"OutputKey": output.key, "OutputValue": _text(output.value)}
        if output.description:
            described["Description"] = output.description
        body = (stack.template_dict.get("Outputs") or {}).get(key) or {}
        if body.get("Export") and _text(output.value) in export_names:
            described["ExportName"] = export_names[_text(output.value)]
        outputs.append(described)
    return outputs, exports


def _text(value: Any) -> str:
    """An output's value as CloudFormation reports it: a string."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    return value if isinstance(value, str) else str(value)


def _fail(backend: CloudFormationBackend, stack: Stack, reason: str) -> None:
    """The creation failed: roll back (OnFailure ROLLBACK), stay CREATE_FAILED (DO_NOTHING) or delete (DELETE)."""
    state = state_of(stack)
    with state.lock:
        if _gone(backend, stack) or state.delete_requested:
            return
        if state.on_failure == "DO_NOTHING":
            stack_event(stack, "CREATE_FAILED", reason)
            return
        if state.on_failure == "DELETE":
            state.delete_requested = True
            stack_event(stack, "DELETE_IN_PROGRESS", reason + "Delete requested by user.")
        else:
            stack_event(stack, "ROLLBACK_IN_PROGRESS", reason + "Rollback requested by user.")
    if state.on_failure == "DELETE":
        delete(backend, stack, rolling_back=True)
        return
    failed = _delete_resources(backend, stack, rolling_back=True)
    with state.lock:
        if _gone(backend, stack) or state.delete_requested:
            return
        if failed:
            stack_event(
                stack, "ROLLBACK_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}]. "
            )
        else:
            stack_event(stack, "ROLLBACK_COMPLETE")


def delete(backend: CloudFormationBackend, stack: Stack, rolling_back: bool = False) -> None:
    """Delete every resource (reverse order of creation); then the stack is DELETE_COMPLETE (or DELETE_FAILED)."""
    state = state_of(stack)
    if _gone(backend, stack):
        return
    failed = _delete_resources(backend, stack, rolling_back=rolling_back)
    with state.lock:
        if _gone(backend, stack):
            return
        state.delete_requested = False
        if failed:
            stack_event(stack, "DELETE_FAILED", f"The following resource(s) failed to delete: [{', '.join(failed)}]. ")
            return
        backend.stacks.pop(stack.stack_id, None)
        for export in state.exports:
            if getattr(backend.exports.get(export.name), "exporting_stack_id", None) == stack.stack_id:
                backend.exports.pop(export.name)
        backend.deleted_stacks[stack.stack_id] = stack
        stack_event(stack, "DELETE_COMPLETE")


def _delete_resources(backend: CloudFormationBackend, stack: Stack, rolling_back: bool) -> list[str]:
    """Delete the stack's resources, last created first; returns those that failed to delete."""
    state = state_of(stack)
    bodies = stack.template_dict.get("Resources") or {}
    failed: list[str] = []
    kept: set[str] = set()  # what a resource that failed to delete depends on stays, as on AWS
    for record in reversed(list(state.records.values())):
        if _gone(backend, stack):
            break
        if record.status in DELETED or record.logical_id in kept:
            continue
        body = bodies.get(record.logical_id) or {"Type": record.resource_type}
        policy = body.get("DeletionPolicy", "Delete")
        if record.model is not None and (policy == "Retain" or (policy == "RetainExceptOnCreate" and not rolling_back)):
            _transition(stack, record, "DELETE_SKIPPED")
            continue
        _transition(stack, record, "DELETE_IN_PROGRESS")
        if record.model is not None:
            try:
                stack.resource_map._delete_resource(record.model, body)
            except Exception as error:  # noqa: BLE001 (reported on the resource, as AWS does)
                _transition(
                    stack, record, "DELETE_FAILED", failure_reason(record.logical_id, record.resource_type, error)
                )
                failed.append(record.logical_id)
                kept |= _dependencies(state, record.logical_id)
                continue
            stack.resource_map._parsed_resources.pop(record.logical_id, None)
        _transition(stack, record, "DELETE_COMPLETE")
    return sorted(failed, key=list(state.records).index)


def _dependencies(state: StackState, logical_id: str) -> set[str]:
    """Every resource `logical_id` depends on, directly or not."""
    found: set[str] = set()
    pending = [logical_id]
    while pending:
        record = state.records.get(pending.pop())
        for name in record.depends_on if record else ():
            if name not in found:
                found.add(name)
                pending.append(name)
    return found


def after_update(stack: Stack) -> None:
    """moto's UpdateStack changed the resources itself: the records and outputs follow what it did."""
    state = state_of(stack)
    if state is None:
        return
    bodies = stack.template_dict.get("Resources") or {}
    graph = dependency_graph(stack.template_dict)
    parsed = stack.resource_map._parsed_resources
    for logical_id, body in bodies.items():
        model = parsed.get(logical_id)
        record = state.records.get(logical_id)
        if model is None or (record is not None and record.model is model and record.status not in DELETED):
            continue
        added = record is None or record.status in DELETED
        if added:
            record = state.records[logical_id] = ResourceRecord(logical_id, body.get("Type", ""), frozenset())
        record.model, record.depends_on = model, frozenset(graph.get(logical_id, ()))
        physical_id = getattr(model, "physical_resource_id", None)
        record.physical_id = physical_id if isinstance(physical_id, str) else None
        _transition(stack, record, "CREATE_COMPLETE" if added else "UPDATE_COMPLETE")
    for record in state.records.values():
        if record.logical_id not in bodies and record.status not in DELETED:
            record.model = None
            _transition(stack, record, "DELETE_COMPLETE")
    backend = _backend_of(stack)
    state.outputs, state.exports = _outputs(backend, stack)


def _backend_of(stack: Stack) -> CloudFormationBackend:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[stack.account_id][stack.region_name]


# ---------------------------------------------------------------------------------------------------------
# Waiting for a resource to be usable
# ---------------------------------------------------------------------------------------------------------


def wait_until(ready: Callable[[], bool], timeout: float, what: str, every: float = 0.02) -> None:
    """Poll `ready` until it is true; ResourceTimeout after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() >= deadline:
            raise ResourceTimeout(what)
        time.sleep(every)


# ---------------------------------------------------------------------------------------------------------
# The worker
# ---------------------------------------------------------------------------------------------------------


class StackOperations:
    """Runs stack creations and deletions one at a time, in the order requested; a worker (local_aws.workers).

    CloudFormation answers CreateStack and DeleteStack at once and does the work afterwards; so does this
    worker's thread. stop() lets it finish what was requested before it, then waits for it.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="cloudformation-stacks", daemon=True)
        self._thread.start()

    def submit(self, operation: Callable[[], None]) -> None:
        self._queue.put(operation)

    def running_here(self) -> bool:
        return threading.current_thread() is self._thread

    def _run(self) -> None:
        while (operation := self._queue.get()) is not None:
            try:
                operation()
            except Exception:  # noqa: BLE001 (one stack's failure never stops the others')
                log.exception("CloudFormation stack operation failed")

    def stop(self, timeout: float = 120.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)


def run(operation: Callable[[], None]) -> bool:
    """Run a stack operation on the worker; at once when already on it (a nested stack). True when it ran now."""
    operations = workers.find(StackOperations)
    if operations is not None and operations.running_here():
        operation()
        return True
    workers.get(StackOperations).submit(operation)
    return False

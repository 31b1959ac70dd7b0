"""CloudFormation stacks run as CloudFormation runs them: what of moto's CloudFormation is intercepted.

moto 5.2.5 creates and deletes a stack's resources inside the CreateStack / DeleteStack request, with no
event per resource and no rollback (a failed resource fails the request and leaves the stack
CREATE_IN_PROGRESS), and it evaluates outputs and resource lists lazily, so reading them after a
deletion creates resources again. `patches` changes it so that
- CreateStack checks the template's references, the parameters' constraints and the IAM capabilities
  (engine.validate, check_parameters, check_capabilities), registers the stack
  CREATE_IN_PROGRESS and answers; the `cloudformation-stacks` worker then creates the resources with
  their events, completes the stack or rolls it back (OnFailure ROLLBACK, DO_NOTHING, DELETE;
  DisableRollback) (engine.create);
- DeleteStack answers DELETE_IN_PROGRESS; the worker deletes the resources in the reverse order and the
  stack turns DELETE_COMPLETE, or DELETE_FAILED with the resources that could not be deleted
  (engine.delete); a DeleteStack during the creation stops it after the resource being created;
- DescribeStackResources / DescribeStackResource / ListStackResources report each resource's own status,
  reason and physical id, also after a rollback or a deletion; DescribeStacks reports Outputs (evaluated
  once, at completion) only when the stack is complete, and StackStatusReason;
- UpdateStack stays moto's (resources updated inside the request), its results recorded afterwards;
- YAML's `!GetAtt [Resource, Attribute]` gives names (moto gave YAML nodes, which resolve to nothing).
Stacks made through change sets keep moto's behaviour. Differences from AWS: docs/local-aws/cloudformation.md.
"""

from __future__ import annotations

import contextvars
from typing import Any

from moto.cloudformation import models as cloudformation_models
from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
from moto.cloudformation.models import CloudFormationBackend, Stack
from moto.cloudformation.responses import CloudFormationResponse
from moto.cloudformation.utils import generate_stack_id
from moto.core.responses import ActionResult

from local_aws import workers
from local_aws.cloudformation import engine
from local_aws.patching import Patches

# Shut down before what stack operations use: the Lambda runtime and event source pollers, Firehose's
# delivery (a deletion flushes a delivery stream), SNS email; after the resource types they create.
patches = Patches(
    __name__,
    after=(
        "local_aws.cloudformation.resources",
        "local_aws.firehose.delivery_streams",
        "local_aws.lambda_.event_sources.mappings",
        "local_aws.sns.email_subscriptions",
    ),
)


@patches.wrap(cloudformation_models, "yaml_tag_constructor")
def _yaml_tag(original, loader: Any, tag: str, node: Any) -> Any:
    """YAML short forms; `!GetAtt [Resource, Attribute]` gives the two names (moto gave YAML nodes)."""
    value = original(loader, tag, node)
    if tag == "!GetAtt" and isinstance(value.get("Fn::GetAtt"), list):
        value["Fn::GetAtt"] = [getattr(item, "value", item) for item in value["Fn::GetAtt"]]
    return value


# OnFailure of the CreateStack request being answered (ROLLBACK, DO_NOTHING or DELETE).
_on_failure: contextvars.ContextVar[str] = contextvars.ContextVar("cloudformation_on_failure", default="ROLLBACK")
# Its Capabilities (None: not a CreateStack request, e.g. a nested stack, whose parent was checked).
_capabilities: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("cloudformation_capabilities",
                                                                                  default=None)  # fmt: skip


@patches.wrap(CloudFormationResponse, "create_stack")
def _create_stack_response(original, self: CloudFormationResponse):
    on_failure = self._get_param("OnFailure")
    disable_rollback = self._get_param("DisableRollback")
    if on_failure and disable_rollback is not None:
        raise ValidationError(message="You may specify OnFailure or DisableRollback, but not both.")
    if on_failure and on_failure not in engine.ON_FAILURE:
        raise ValidationError(
            message=f"1 validation error detected: Value '{on_failure}' at 'onFailure' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(sorted(engine.ON_FAILURE))}]"
        )
    if str(disable_rollback).lower() == "true":
        on_failure = "DO_NOTHING"
    token = _on_failure.set(on_failure or "ROLLBACK")
    capabilities = _capabilities.set(list(self._get_param("Capabilities") or []))
    try:
        return original(self)
    finally:
        _capabilities.reset(capabilities)
        _on_failure.reset(token)


def _create_stack(
    self: CloudFormationBackend,
    name: str,
    template: str,
    parameters: dict[str, Any],
    notification_arns: list[str] | None = None,
    tags: dict[str, str] | None = None,
    role_arn: str | None = None,
    enable_termination_protection: bool | None = False,
    timeout_in_mins: int | None = None,
    stack_policy_body: str | None = None,
) -> Stack:
    """moto's create_stack, except that the resources are created by the stack worker, with events and rollback."""
    if any(stack.name == name for stack in self.stacks.values()):
        raise AlreadyExistsException(f"Stack [{name}] already exists")
    try:
        parsed = Stack.parse_template(template)
    except Exception:  # noqa: BLE001 (moto's Stack reports a template that does not parse)
        parsed = None
    if isinstance(parsed, dict):  # before moto's own checks, which trip over what these report
        engine.validate(parsed)
        engine.check_parameters(parsed, parameters)
        if _capabilities.get() is not None:
            engine.check_capabilities(parsed, _capabilities.get())
    stack_id = generate_stack_id(name, self.region_name, self.account_id)
    stack = Stack(  # parses the template and resolves the parameters: their errors are CreateStack's
        stack_id=stack_id,
        name=name,
        template=template,
        parameters=parameters,
        account_id=self.account_id,
        region_name=self.region_name,
        notification_arns=notification_arns,
        tags=tags,
        role_arn=role_arn,
        cross_stack_resources=self.exports,
        enable_termination_protection=enable_termination_protection,
        timeout_in_mins=timeout_in_mins,
        stack_policy_body=stack_policy_body,
    )
    stack.local_state = engine.StackState(on_failure=_on_failure.get())
    stack.status_reason = None
    self.stacks[stack_id] = stack
    engine.stack_event(stack, "CREATE_IN_PROGRESS", "User Initiated")
    if engine.run(lambda: engine.create(self, stack)) and stack.status != "CREATE_COMPLETE":
        # Run at once: a nested stack (AWS::CloudFormation::Stack), whose parent resource fails with it.
        raise ValidationError(
            message=f"Embedded stack {stack_id} was not successfully created: {stack.status_reason or stack.status}"
        )
    return stack


patches.replace(CloudFormationBackend, "create_stack", _create_stack)


@patches.wrap(CloudFormationBackend, "delete_stack")
def _delete_stack(original, self: CloudFormationBackend, name_or_stack_id: str) -> None:
    stack = self.stacks.get(name_or_stack_id) or next(
        (stack for stack in self.stacks.values() if stack.name == name_or_stack_id), None
    )
    state = engine.state_of(stack)
    if state is None:  # no such stack (DeleteStack succeeds), or one moto made (a change set's)
        return original(self, name_or_stack_id)
    with state.lock:
        if stack.status == "DELETE_IN_PROGRESS":
            return None
        state.delete_requested = True
        engine.stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated")
    engine.run(lambda: engine.delete(self, stack))
    return None


# --- what moto evaluates lazily: only what exists, only once complete -------------------------------------


@patches.wrap(Stack, "outputs")
def _outputs(original, stack: Stack):
    state = engine.state_of(stack)
    if state is None:
        return original(stack)
    return (state.outputs or None) if stack.status in engine.OUTPUT_STATUSES else None


@patches.wrap(Stack, "exports")
def _exports(original, stack: Stack):
    state = engine.state_of(stack)
    return original(stack) if state is None else list(state.exports)


@patches.wrap(Stack, "stack_resources")
def _stack_resources(original, stack: Stack):
    return original(stack) if engine.state_of(stack) is None else engine.live_models(stack)


@patches.wrap(Stack, "verify_readiness")
def _verify_readiness(original, stack: Stack) -> None:
    """A custom resource answered: the stack worker, which waits for it, completes the stack (not this request)."""
    if engine.state_of(stack) is None:
        original(stack)


@patches.wrap(Stack, "update")
def _update(original, stack: Stack, *args, **kwargs) -> None:
    original(stack, *args, **kwargs)
    engine.after_update(stack)


# --- DescribeStackResources, DescribeStackResource, ListStackResources ------------------------------------


def _stack_for(self: CloudFormationResponse) -> Stack | None:
    name = self._get_param("StackName")
    if name:
        return self.cloudformation_backend.get_stack(name)
    physical_id = self._get_param("PhysicalResourceId")
    backend = self.cloudformation_backend
    for stack in [*backend.stacks.values(), *backend.deleted_stacks.values()]:
        state = engine.state_of(stack)
        if state and any(record.physical_id == physical_id for record in state.records.values()):
            return stack
    if physical_id:
        raise ValidationError(message=f"Stack for {physical_id} does not exist")
    raise ValidationError(message="Either StackName or PhysicalResourceId must be specified")


@patches.wrap(CloudFormationResponse, "describe_stack_resources")
def _describe_stack_resources(original, self: CloudFormationResponse):
    stack = _stack_for(self)
    state = engine.state_of(stack)
    if state is None:
        return original(self)
    logical_id, physical_id = self._get_param("LogicalResourceId"), self._get_param("PhysicalResourceId")
    records = [r for r in state.records.values() if logical_id in (None, r.logical_id)
               and physical_id in (None, r.physical_id)]  # fmt: skip
    return ActionResult({"StackResources": [record.description(stack) for record in records]})


@patches.wrap(CloudFormationResponse, "describe_stack_resource")
def _describe_stack_resource(original, self: CloudFormationResponse):
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    state = engine.state_of(stack)
    if state is None:
        return original(self)
    logical_id = self._get_param("LogicalResourceId")
    record = state.records.get(logical_id)
    if record is None:
        raise ValidationError(stack.name, f"Resource {logical_id} does not exist for stack {stack.name}")
    return ActionResult({"StackResourceDetail": record.description(stack, detail=True)})


@patches.wrap(CloudFormationResponse, "list_stack_resources")
def _list_stack_resources(original, self: CloudFormationResponse):
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    state = engine.state_of(stack)
    if state is None:
        return original(self)
    return ActionResult({"StackResourceSummaries": [record.summary() for record in state.records.values()]})


def shutdown() -> None:
    """Finish the stack operations requested so far, before the services they use stop."""
    workers.stop(engine.StackOperations)

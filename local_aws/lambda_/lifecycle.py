"""A function version's lifecycle as Lambda reports it: State, LastUpdateStatus and RevisionId.

As on AWS (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html):
- CreateFunction and PublishVersion answer `State: Pending` (StateReasonCode `Creating`) while
  Lambda provisions the version, which then turns `Active`. Meanwhile Invoke fails, and so do
  UpdateFunctionCode, UpdateFunctionConfiguration and PublishVersion (ResourceConflictException):
  clients wait, e.g. with boto3's `function_active_v2` waiter.
- UpdateFunctionCode / UpdateFunctionConfiguration set `LastUpdateStatus: InProgress` until the
  update is `Successful`; invocations meanwhile run the previous code and configuration, and a
  second update or PublishVersion fails (the `function_updated_v2` waiter waits for it).
- RevisionId changes whenever the version changes (created, updated, its state or its policy);
  a request naming a RevisionId that is no longer current fails with PreconditionFailedException.

Provisioning here is real work: the deployment package and layers are extracted to disk (code.py),
so the first invocation only starts the runtime. It lasts at least PENDING_SECONDS, so a client
that invokes without waiting for Active is refused here as it would be on AWS.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid

from moto.awslambda.exceptions import LambdaClientError, PreconditionFailedException
from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend
from moto.core.utils import iso_8601_datetime_with_nanoseconds

log = logging.getLogger(__name__)

PENDING_SECONDS = 0.5  # the least time a new version stays Pending, and an update InProgress (AWS: a few seconds)
CREATING = {"StateReason": "The function is being created.", "StateReasonCode": "Creating"}
# AWS's words for an update in progress (it reuses the creation reason).
UPDATING = {"LastUpdateStatusReason": "The function is being created.", "LastUpdateStatusReasonCode": "Creating"}

_lock = threading.Lock()


class ResourceConflictException(LambdaClientError):
    code = 409

    def __init__(self, message: str):
        super().__init__("ResourceConflictException", message)


def new_revision(resource) -> str:
    """A fresh RevisionId for a function version or an alias; the function's policy (GetPolicy) reports it."""
    resource.revision_id = str(uuid.uuid4())
    if isinstance(resource, LambdaFunction) and resource.policy.parent is resource:  # (moto's versions share it)
        resource.policy.revision = resource.revision_id
    return resource.revision_id


def check_revision(resource, revision_id: str | None, where: str = "GetFunction/GetAlias") -> None:
    """PreconditionFailedException when the request names a RevisionId that is no longer the resource's."""
    if revision_id and revision_id != resource.revision_id:
        raise PreconditionFailedException(
            f"The Revision Id provided does not match the latest Revision Id. Call the {where} API to retrieve "
            "the latest Revision Id"
        )


def check_modifiable(function: LambdaFunction) -> None:
    """UpdateFunctionCode, UpdateFunctionConfiguration and PublishVersion wait for Active and for the last update."""
    arn = function.function_arn
    if function.state == "Pending":
        raise ResourceConflictException(
            f"The operation cannot be performed at this time. The resource {arn} is currently in the following "
            f"state: 'Pending'. StateReasonCode: '{function.state_reason['StateReasonCode']}'"
        )
    if function.last_update_status == "InProgress":
        raise ResourceConflictException(
            f"The operation cannot be performed at this time. An update is in progress for resource: {arn}"
        )


def check_invocable(version: LambdaFunction) -> None:
    """Invoke runs Active versions only."""
    if version.state != "Active":
        raise ResourceConflictException(
            "The operation cannot be performed at this time. The function is currently in the following state: "
            f"{version.state}"
        )


def serving(version: LambdaFunction) -> LambdaFunction:
    """What an invocation of `version` runs: during an update, the code and configuration before it."""
    return getattr(version, "previous", None) or version


def describe(function: LambdaFunction, configuration: dict) -> dict:
    """The lifecycle fields of a FunctionConfiguration (GetFunction, CreateFunction, Update*, ...)."""
    configuration.pop("LastUpdateStatus", None)  # moto's fixed "Successful"
    configuration["State"] = function.state
    configuration.update(function.state_reason)
    if function.last_update_status:
        configuration["LastUpdateStatus"] = function.last_update_status
        configuration.update(function.update_reason)
    configuration["RevisionId"] = function.revision_id
    return configuration


def creating(function: LambdaFunction) -> None:
    """A new function or published version: Pending until provisioned, then Active."""
    function.state, function.state_reason = "Pending", dict(CREATING)
    function.last_update_status, function.update_reason, function.previous = None, {}, None
    new_revision(function)
    _in_background(function, _activate)


def updating(function: LambdaFunction, before: LambdaFunction) -> None:
    """An update of $LATEST just applied; `before` is a copy of it from before the update."""
    function.last_update_status, function.update_reason = "InProgress", dict(UPDATING)
    function.previous = before
    function.last_modified = iso_8601_datetime_with_nanoseconds()  # moto leaves it at creation time
    new_revision(function)
    _in_background(function, _finish_update)


def snapshot(function: LambdaFunction) -> LambdaFunction:
    """A copy of the function as it is now, to serve invocations while an update is applied to it."""
    before = copy.copy(function)
    before.previous = None
    return before


def _activate(function: LambdaFunction) -> None:
    function.state, function.state_reason = "Active", {}
    function.last_update_status = "Successful"
    new_revision(function)


def _finish_update(function: LambdaFunction) -> None:
    from local_aws.lambda_ import runtime

    function.last_update_status, function.update_reason, function.previous = "Successful", {}, None
    new_revision(function)
    runtime.retire_function(function)  # environments of the previous code finish what they run, then stop


def _in_background(function: LambdaFunction, done) -> None:
    def provision() -> None:
        started = time.monotonic()
        _prepare(function)
        time.sleep(max(0.0, PENDING_SECONDS - (time.monotonic() - started)))
        with _lock:
            if _is_current(function):
                try:
                    done(function)
                except Exception:
                    log.exception("Lambda function %s could not finish provisioning", function.function_arn)

    threading.Thread(target=provision, name=f"lambda-provision-{function.function_name}", daemon=True).start()


def _prepare(function: LambdaFunction) -> None:
    """Extract the code and layers now, as Lambda provisions them; a failure surfaces again at Invoke."""
    from local_aws.lambda_ import code

    if function.package_type != "Zip" or not (function.run_time or "").startswith("python3"):
        return
    try:
        code.task_root(function)
        code.layer_paths(function)
    except Exception as error:  # reported to the caller by the invocation that needs the code
        log.info("Lambda function %s: code not prepared: %s", function.function_arn, error)


def _is_current(function: LambdaFunction) -> bool:
    """False once the function or version was deleted (or /moto-api/reset forgot it)."""
    try:
        found = get_backend(function.account_id, function.region).get_function(
            function.function_name, str(function.version)
        )
    except Exception:
        return False
    return found is function

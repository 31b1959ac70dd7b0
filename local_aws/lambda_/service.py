"""Wires the local Lambda runtime into moto 5.2.5 (`patches`, install(), shutdown() for local_aws/registry.py).

moto's Lambda runs handlers only in Docker; these patches route every invocation to runtime.py:
- Invoke (LambdaResponse.invoke): InvocationType RequestResponse runs the handler and answers
  with its payload, X-Amz-Function-Error, X-Amz-Executed-Version, X-Amz-Log-Result (LogType=Tail)
  and the invocation's request id as x-amzn-RequestId; Event queues it (202); DryRun checks the
  function could run (204). Errors Lambda itself raises (throttling, payload not JSON, runtime
  not Python) are the Invoke API's errors.
- InvokeAsync (the deprecated API) queues an Event invocation.
- LambdaFunction.invoke, which moto's S3 notifications, SNS, SQS, Kinesis, DynamoDB streams and
  CloudWatch Logs subscriptions call, runs the handler too (synchronously, as moto calls it;
  local_aws/lambda_/event_sources/ gives those sources AWS's semantics on top of invoke.py).
- CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration and PublishVersion check the
  request as Lambda does (configuration.py) and set the version's lifecycle (lifecycle.py: Pending
  until provisioned, InProgress until an update is done, RevisionId preconditions); Invoke runs
  only Active versions. DeadLetterConfig and LoggingConfig, which moto drops, are kept.
- AddPermission / RemovePermission / CreateAlias / UpdateAlias / DeleteFunction / ListFunctions
  answer with Lambda's codes and words (statement ids, RevisionId, paging).
- DeleteFunction and a finished update retire the function's environments; /moto-api/reset stops
  every environment and forgets queued events.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any
from urllib.parse import unquote

from moto.awslambda.exceptions import (
    ConflictException,
    InvalidParameterValueException,
    LambdaClientError,
    UnknownPolicyException,
)
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.moto_api._internal.models import MotoAPIBackend

from local_aws.arns import function_name_and_qualifier
from local_aws.lambda_ import async_invoke, code, configuration, lifecycle, runtime
from local_aws.lambda_.invoke import invoke, invoke_async
from local_aws.patching import Patches

patches = Patches(__name__)


def _header(headers: Any, name: str) -> str | None:
    """A request header, case-insensitively (moto passes werkzeug headers or plain dicts)."""
    if not headers:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, dict):
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _as_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else bytes(body)


def _split_name(name: str) -> tuple[str, str | None]:
    """A FunctionName as Invoke accepts it (name, name:qualifier, partial or full ARN) -> (name, qualifier)."""
    try:
        return function_name_and_qualifier(name)
    except ValueError as error:
        raise InvalidParameterValueException(str(error)) from None


# ---- Invoke / InvokeAsync ----


def _qualifier(name_or_arn: str, given: str | None) -> tuple[str, str | None]:
    """(name, qualifier) from a FunctionName and a Qualifier parameter, which must agree when both name one."""
    name, derived = _split_name(name_or_arn)
    if derived and given and derived != given:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return name, given or derived


def _invoke_response(self: LambdaResponse):
    name, qualifier = _qualifier(unquote(self.path.rsplit("/", 2)[-2]), self._get_param("Qualifier"))
    function = self.backend.get_function(name, None)  # $LATEST; raises ResourceNotFoundException
    lifecycle.check_invocable(self.backend.get_function(name, qualifier))  # the version or alias exists, Active
    kind = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    payload = _as_bytes(self.body)
    headers: dict[str, Any] = {"content-type": "application/json"}  # moto takes the status from "status"
    if kind == "Event":
        headers["x-amzn-requestid"] = invoke_async(function, payload, qualifier=qualifier)
        headers["status"] = 202
        return 202, headers, b""
    if kind == "DryRun":
        target, _ = runtime.resolve(function, qualifier)
        code.check_runtime(target)
        headers["status"] = 204
        return 204, headers, b""
    result = invoke(function, payload, qualifier=qualifier, client_context=self.headers.get("X-Amz-Client-Context"))
    headers["x-amzn-requestid"] = result.request_id
    headers["status"] = result.status_code
    headers["x-amz-executed-version"] = result.executed_version
    if result.function_error:
        headers["x-amz-function-error"] = result.function_error
    if self.headers.get("X-Amz-Log-Type") == "Tail":
        headers["x-amz-log-result"] = base64.b64encode(result.log_tail.encode()).decode()
    return result.status_code, headers, result.payload


patches.replace(LambdaResponse, "invoke", _invoke_response)


def _invoke_async_response(self: LambdaResponse):
    index = -3 if self.path.endswith("/") else -2
    name, qualifier = _split_name(unquote(self.path.rsplit("/", 3)[index]))
    function = self.backend.get_function(name, None)
    lifecycle.check_invocable(self.backend.get_function(name, qualifier))
    runtime.check_payload(_as_bytes(self.body), limit=async_invoke.INVOKE_ASYNC_PAYLOAD)
    request_id = invoke_async(function, _as_bytes(self.body), qualifier=qualifier)
    headers = {"x-amzn-requestid": request_id, "content-type": "application/json", "status": 202}
    return 202, headers, json.dumps({"Status": 202})


patches.replace(LambdaResponse, "invoke_async", _invoke_async_response)


@patches.wrap(LambdaResponse, "_enrich_response")  # a staticmethod LambdaResponse inherits from BaseResponse
def _enrich_response(original, headers: dict, body: Any):
    """moto stamps a random x-amzn-RequestId on every response; an invocation's must be its own."""
    request_id = headers.get("x-amzn-requestid")
    headers, body = original(headers, body)
    if request_id:
        headers["x-amzn-requestid"] = request_id
    return headers, body


def _function_invoke(self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    """moto's internal callers (S3, SNS, SQS, Kinesis, ...) invoke the function object directly."""
    payload = _as_bytes(body)
    kind = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    if kind == "Event":
        response_headers["x-amzn-requestid"] = invoke_async(self, payload)
        return b""
    if kind == "DryRun":
        code.check_runtime(self)
        return b""
    result = invoke(self, payload, client_context=_header(request_headers, "X-Amz-Client-Context"))
    response_headers["x-amzn-requestid"] = result.request_id
    response_headers["x-amz-executed-version"] = result.executed_version
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-log-result"] = base64.b64encode(result.log_tail.encode()).decode()
    return result.payload


patches.replace(LambdaFunction, "invoke", _function_invoke)


# ---- what CreateFunction and the updates accept and keep; the lifecycle (lifecycle.py) ----


@patches.wrap(LambdaFunction, "__init__")
def _function_init(original, self: LambdaFunction, account_id: str, spec: dict, *args, **kwargs) -> None:
    configuration.check_create(spec)
    spec = {**spec, "FunctionName": configuration.function_name(spec.get("FunctionName", ""))}
    original(self, account_id, spec, *args, **kwargs)
    if self.package_type == "Zip" and not self.code_bytes and (spec.get("Code") or {}).get("S3Key"):
        configuration.new_package(self, spec["Code"])  # moto found no S3 object and went on: Lambda's NoSuchKey
    if self.package_type == "Zip" and self.code_bytes:
        configuration.check_package(self.code_bytes)
    configuration.keep_on_create(self, spec)
    self.state, self.state_reason, self.last_update_status, self.update_reason = "Active", {}, "Successful", {}
    self.previous = None
    lifecycle.new_revision(self)


@patches.wrap(LambdaFunction, "get_configuration")
def _get_configuration(original, self: LambdaFunction, on_create: bool = False) -> dict:
    described = original(self, on_create)
    return lifecycle.describe(self, configuration.describe(self, described))


@patches.wrap(LambdaFunction, "update_configuration")
def _update_configuration(original, self: LambdaFunction, updates: dict) -> dict:
    configuration.apply_update(self, updates)
    return original(self, updates)


@patches.wrap(LambdaBackend, "create_function")
def _create_function(original, self: LambdaBackend, spec: dict) -> LambdaFunction:
    """Pending until provisioned; Publish publishes version 1 of it, Pending too."""
    configuration.check_layers(self, spec.get("Layers"))
    function = original(self, {**spec, "Publish": False})
    lifecycle.creating(function)
    if not spec.get("Publish"):
        return function
    version = self._lambdas.publish_version(function.function_name)
    lifecycle.creating(version)
    answered = copy.copy(version)  # CreateFunction answers version 1's configuration under the unqualified ARN
    answered.function_arn = function.function_arn
    return answered


def _update_latest(backend: LambdaBackend, function_name: str, qualifier: str | None, body: dict, check, apply):
    """What UpdateFunctionCode and UpdateFunctionConfiguration share: the RevisionId precondition, the request's
    own checks (check(function)), no update while Pending or InProgress; then apply(function), unless the request
    is a DryRun (UpdateFunctionCode's: nothing changes), and the update is InProgress until provisioned."""
    function = backend.get_function(function_name, qualifier)
    lifecycle.check_revision(function, body.get("RevisionId"))
    check(function)
    lifecycle.check_modifiable(function)
    if not body.get("DryRun"):
        before = lifecycle.snapshot(function)  # invocations run this until the update is done
        apply(function)
        lifecycle.updating(function, before)
    return function


def _update_function_code(self: LambdaBackend, function_name: str, qualifier: str | None, body: dict) -> dict:
    def check(function: LambdaFunction) -> None:
        package = configuration.new_package(function, body)
        if package is not None:
            configuration.check_package(package)
        if body.get("Architectures"):
            copy.copy(function).architectures = body["Architectures"]  # moto's setter checks it; on a copy

    def apply(function: LambdaFunction) -> None:
        function.update_function_code(body)
        if body.get("Architectures"):
            function.architectures = body["Architectures"]

    function = _update_latest(self, function_name, qualifier, body, check, apply)
    if body.get("DryRun") or not body.get("Publish"):
        return function.get_configuration()
    version = self._lambdas.publish_version(function.function_name)
    lifecycle.creating(version)
    return version.get_configuration()


patches.replace(LambdaBackend, "update_function_code", _update_function_code)


def _update_function_configuration(self: LambdaBackend, function_name: str, qualifier: str | None, body: dict):
    def check(function: LambdaFunction) -> None:
        configuration.check_limits(body)
        configuration.check_layers(self, body.get("Layers"))
        if "Role" in body:
            configuration.check_role(function, body["Role"])

    function = _update_latest(self, function_name, qualifier, body, check, lambda f: f.update_configuration(body))
    return function.get_configuration()


patches.replace(LambdaBackend, "update_function_configuration", _update_function_configuration)


def _publish_version_response(self: LambdaResponse):
    name = unquote(self.path.split("/")[-2])
    latest = self.backend.get_function(name)
    lifecycle.check_revision(latest, self._get_param("RevisionId"))
    code_sha = self._get_param("CodeSha256")
    if code_sha and code_sha != latest.code_sha_256:
        raise InvalidParameterValueException(
            f"CodeSHA256 ({code_sha}) is different from current CodeSHA256 in $LATEST ({latest.code_sha_256}). "
            "Please try again with the CodeSHA256 in $LATEST."
        )
    lifecycle.check_modifiable(latest)
    published = {id(version) for version in self.backend.list_versions_by_function(latest.function_name)}
    version = self.backend.publish_version(name, self._get_param("Description"))
    if id(version) not in published:  # (nothing changed since the last version: that one is returned)
        lifecycle.creating(version)
    return 201, {"status": 201}, json.dumps(version.get_configuration())


patches.replace(LambdaResponse, "publish_version", _publish_version_response)


# ---- ListFunctions, ListVersionsByFunction ----

LIST_PAGE = 50  # a list call answers at most 50 functions or versions, however large MaxItems is
# GetFunction reports the state; the list calls leave it out.
LIST_OMITS = {
    "State",
    "StateReason",
    "StateReasonCode",
    "LastUpdateStatus",
    "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode",
}


def _order(name: str, version: str | None) -> tuple[str, int]:
    return name, -1 if version in (None, "$LATEST") else int(version)


def _listed_page(self: LambdaResponse, functions, field: str) -> str:
    """Pages of at most MaxItems (and 50) by name, then version; NextMarker is the ARN the next page starts at."""
    functions = sorted(functions, key=lambda function: _order(function.function_name, str(function.version)))
    marker, size = self._get_param("Marker"), min(int(self._get_param("MaxItems") or LIST_PAGE), LIST_PAGE)
    first = _order(*_split_name(marker)) if marker else ("", -1)
    start = next((at for at, item in enumerate(functions) if _order(item.function_name, str(item.version)) >= first),
                 len(functions))  # fmt: skip
    listed = [
        {key: value for key, value in function.get_configuration().items() if key not in LIST_OMITS}
        for function in functions[start : start + size]
    ]
    answer: dict[str, Any] = {field: listed}
    if start + size < len(functions):
        answer["NextMarker"] = functions[start + size].function_arn
    return json.dumps(answer)


def _list_functions_response(self: LambdaResponse) -> str:
    return _listed_page(self, self.backend.list_functions(self._get_param("FunctionVersion")), "Functions")


def _list_versions_by_function_response(self: LambdaResponse) -> str:
    name = unquote(self.path.split("/")[-2])
    self.backend.get_function(name)  # ResourceNotFoundException for an unknown function, as Lambda answers
    return _listed_page(self, self.backend.list_versions_by_function(name), "Versions")


patches.replace(LambdaResponse, "list_functions", _list_functions_response)
patches.replace(LambdaResponse, "list_versions_by_function", _list_versions_by_function_response)


# ---- permissions and aliases: RevisionId, statement ids ----


class StatementNotFound(LambdaClientError):
    code = 404

    def __init__(self, sid: str):
        super().__init__("ResourceNotFoundException", f"Statement {sid} is not found in resource policy.")


def _policy_holder(self: LambdaResponse, name: str, qualifier: str | None):
    """(the function object holding the policy, the version or alias whose RevisionId guards it)."""
    function = self.backend.get_function(name, qualifier)
    if qualifier and not qualifier.isdigit() and qualifier != "$LATEST":
        return function, self.backend.get_alias(qualifier, function.function_name)
    return function, function


def _add_permission_response(self: LambdaResponse) -> str:
    name, qualifier = unquote(self.path.split("/")[-2]), self._get_param("Qualifier")
    request = json.loads(self.body)
    if qualifier == "$LATEST":
        raise InvalidParameterValueException("We currently do not support adding policies for $LATEST.")
    function, guard = _policy_holder(self, name, qualifier)
    lifecycle.check_revision(guard, request.pop("RevisionId", None), "GetPolicy")
    sid = request.get("StatementId")
    if any(statement.get("Sid") == sid for statement in function.policy.statements):
        raise lifecycle.ResourceConflictException(
            f"The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the "
            "existing statement."
        )
    statement, _ = function.policy.add_statement(json.dumps(request), qualifier)
    lifecycle.new_revision(guard)
    return json.dumps({"Statement": json.dumps(statement)})


patches.replace(LambdaResponse, "add_permission", _add_permission_response)


def _remove_permission_response(self: LambdaResponse):
    name, sid = unquote(self.path.split("/")[-3]), unquote(self.path.split("/")[-1].split("?")[0])
    function, guard = _policy_holder(self, name, self._get_param("Qualifier"))
    lifecycle.check_revision(guard, self._get_param("RevisionId"))
    if not function.policy.statements:
        raise UnknownPolicyException()
    if all(statement.get("Sid") != sid for statement in function.policy.statements):
        raise StatementNotFound(sid)
    function.policy.del_statement(sid)
    lifecycle.new_revision(guard)
    return 204, {"status": 204}, ""


patches.replace(LambdaResponse, "remove_permission", _remove_permission_response)


@patches.wrap(LambdaResponse, "_set_configuration_qualifier")  # a staticmethod
def _set_configuration_qualifier(original, configuration: dict, function_name: str, qualifier: str | None) -> dict:
    """GetFunction(Configuration) by an alias answers the alias's ARN (moto: its version's)."""
    configuration = original(configuration, function_name, qualifier)
    _, qualifier = _qualifier(function_name, qualifier)
    if qualifier and qualifier != "$LATEST" and not qualifier.isdigit():
        unqualified = configuration["FunctionArn"].rsplit(":", 1)[0]
        configuration["FunctionArn"] = f"{unqualified}:{qualifier}"
    return configuration


@patches.wrap(LambdaResponse, "create_alias")
def _create_alias_response(original, self: LambdaResponse):
    try:
        return original(self)
    except ConflictException as error:  # moto's code; Lambda answers ResourceConflictException
        raise lifecycle.ResourceConflictException(error.message) from None


@patches.wrap(LambdaResponse, "update_alias")
def _update_alias_response(original, self: LambdaResponse):
    name, alias_name = unquote(self.path.rsplit("/")[-3]), unquote(self.path.rsplit("/", 2)[-1])
    alias = self.backend.get_alias(alias_name, name)
    lifecycle.check_revision(alias, json.loads(self.body or "{}").get("RevisionId"))
    original(self)
    lifecycle.new_revision(alias)
    return 200, {}, json.dumps(alias.to_json())


@patches.wrap(LambdaBackend, "delete_function")
def _delete_function(original, self: LambdaBackend, function_name: str, qualifier: str | None = None) -> None:
    _, qualifier = _qualifier(function_name, qualifier)
    if qualifier == "$LATEST":
        raise InvalidParameterValueException("$LATEST version cannot be deleted without deleting the function.")
    if qualifier and not qualifier.isdigit():
        raise InvalidParameterValueException("Deletion of aliases is not currently supported.")
    function = self.get_function(function_name, qualifier)
    original(self, function_name, qualifier)
    runtime.retire_function(function)


# local_aws.lambda_.event_sources.mappings wraps this too, on top (it installs after this module):
# a backend's pollers are told to stop before its environments and queued events go.
@patches.wrap(LambdaBackend, "reset")
def _backend_reset(original, self: LambdaBackend) -> None:
    runtime.reset_backend(self.account_id, self.region_name)
    async_invoke.reset_backend(self.account_id, self.region_name)
    original(self)


@patches.wrap(MotoAPIBackend, "reset")
def _moto_reset(original, self) -> None:
    """/moto-api/reset: quiet Lambda before any backend is reset (its threads call the API)."""
    async_invoke.reset_all()
    runtime.quiesce()
    original(self)


def shutdown() -> None:
    """Stop queued events first (they would start environments), then every environment."""
    async_invoke.shutdown()
    runtime.shutdown()

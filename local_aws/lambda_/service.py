"""Wires the local Lambda runtime into moto 5.2.5 (install() / shutdown() for local_aws/registry.py).

moto's Lambda runs handlers only in Docker; install() routes every invocation to runtime.py:
- Invoke (LambdaResponse.invoke): InvocationType RequestResponse runs the handler and answers
  with its payload, X-Amz-Function-Error, X-Amz-Executed-Version, X-Amz-Log-Result (LogType=Tail)
  and the invocation's request id as x-amzn-RequestId; Event queues it (202); DryRun checks the
  function could run (204). Errors Lambda itself raises (throttling, payload not JSON, runtime
  not Python) are the Invoke API's errors.
- InvokeAsync (the deprecated API) queues an Event invocation.
- LambdaFunction.invoke, which moto's S3 notifications, SNS, SQS, Kinesis, DynamoDB streams and
  CloudWatch Logs subscriptions call, runs the handler too (synchronously, as moto calls it;
  local_aws/lambda_/event_sources/ gives those sources AWS's semantics on top of invoke.py).
- DeadLetterConfig, which moto drops, is kept on the function and returned by Get*.
- UpdateFunctionCode / UpdateFunctionConfiguration / DeleteFunction retire the function's
  environments; /moto-api/reset stops every environment and forgets queued events.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import unquote

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.core.responses import BaseResponse
from moto.moto_api._internal.models import MotoAPIBackend

from local_aws.arns import function_name_and_qualifier
from local_aws.lambda_ import async_invoke, code, runtime
from local_aws.lambda_.invoke import invoke, invoke_async

_originals: dict[str, Any] = {}


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


def _invoke_response(self: LambdaResponse):
    name, qualifier = _split_name(unquote(self.path.rsplit("/", 2)[-2]))
    qualifier = self._get_param("Qualifier") or qualifier
    function = self.backend.get_function(name, None)  # $LATEST; raises ResourceNotFoundException
    self.backend.get_function(name, qualifier)  # the version or alias exists
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


def _invoke_async_response(self: LambdaResponse):
    index = -3 if self.path.endswith("/") else -2
    name, qualifier = _split_name(unquote(self.path.rsplit("/", 3)[index]))
    function = self.backend.get_function(name, None)
    request_id = invoke_async(function, _as_bytes(self.body), qualifier=qualifier)
    headers = {"x-amzn-requestid": request_id, "content-type": "application/json", "status": 202}
    return 202, headers, json.dumps({"Status": 202})


def _enrich_response(headers: dict, body: Any):
    """moto stamps a random x-amzn-RequestId on every response; an invocation's must be its own."""
    request_id = headers.get("x-amzn-requestid")
    headers, body = _originals["enrich_response"](headers, body)
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


# ---- configuration moto does not keep, and environments to retire ----


def _function_init(self: LambdaFunction, account_id: str, spec: dict, *args, **kwargs) -> None:
    _originals["function_init"](self, account_id, spec, *args, **kwargs)
    self.dead_letter_config = spec.get("DeadLetterConfig") or None


def _get_configuration(self: LambdaFunction, on_create: bool = False) -> dict:
    described = _originals["get_configuration"](self, on_create)
    dead_letter = getattr(self, "dead_letter_config", None)
    if dead_letter and dead_letter.get("TargetArn"):
        described["DeadLetterConfig"] = dead_letter
    return described


def _update_configuration(self: LambdaFunction, updates: dict) -> dict:
    if "DeadLetterConfig" in updates:
        self.dead_letter_config = updates["DeadLetterConfig"] or None
    described = _originals["update_configuration"](self, updates)
    runtime.retire_function(self)
    return described  # moto's get_configuration, patched above, includes DeadLetterConfig


def _update_function_code(self: LambdaFunction, spec: dict) -> dict:
    described = _originals["update_function_code"](self, spec)
    runtime.retire_function(self)
    return described


def _delete_function(self: LambdaBackend, function_name: str, qualifier: str | None = None) -> None:
    function = self.get_function(function_name, qualifier)
    _originals["delete_function"](self, function_name, qualifier)
    runtime.retire_function(function)


def _backend_reset(self: LambdaBackend) -> None:
    runtime.reset_backend(self.account_id, self.region_name)
    async_invoke.reset_backend(self.account_id, self.region_name)
    _originals["backend_reset"](self)


def _moto_reset(self) -> None:
    """/moto-api/reset: quiet Lambda before any backend is reset (its threads call the API)."""
    async_invoke.reset_all()
    runtime.quiesce()
    _originals["moto_reset"](self)


def install() -> None:
    """Patch moto's Lambda so invocations run locally (idempotent)."""
    runtime.reopen()
    if _originals:
        return
    _originals.update(
        enrich_response=BaseResponse._enrich_response,
        function_init=LambdaFunction.__init__,
        get_configuration=LambdaFunction.get_configuration,
        update_configuration=LambdaFunction.update_configuration,
        update_function_code=LambdaFunction.update_function_code,
        delete_function=LambdaBackend.delete_function,
        backend_reset=LambdaBackend.reset,
        moto_reset=MotoAPIBackend.reset,
    )
    LambdaResponse.invoke = _invoke_response
    LambdaResponse.invoke_async = _invoke_async_response
    LambdaResponse._enrich_response = staticmethod(_enrich_response)
    LambdaFunction.invoke = _function_invoke
    LambdaFunction.__init__ = _function_init
    LambdaFunction.get_configuration = _get_configuration
    LambdaFunction.update_configuration = _update_configuration
    LambdaFunction.update_function_code = _update_function_code
    LambdaBackend.delete_function = _delete_function
    LambdaBackend.reset = _backend_reset
    MotoAPIBackend.reset = _moto_reset


def shutdown() -> None:
    """Stop queued events first (they would start environments), then every environment."""
    async_invoke.shutdown()
    runtime.shutdown()

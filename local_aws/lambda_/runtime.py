"""Invoke (RequestResponse) on the local runtime, and the runtime's lifecycle (reset, shutdown).

An invocation takes an execution environment (environments.py) from the pool (pool.py), runs the
handler there, and ships its log (START, the handler's output, END, REPORT) with log_shipping.py;
the environment acts as the function's execution role (execution_role.py). Invoke's checks
(resolve, check_payload) are used by Event invocations too (async_invoke.py).
"""

from __future__ import annotations

import json
import math

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend, make_function_arn

from local_aws import workers
from local_aws.lambda_ import code, execution_role, lifecycle, log_shipping
from local_aws.lambda_.environments import Outcome
from local_aws.lambda_.invoke import InvokeError, InvokeResult, running_worker
from local_aws.lambda_.log_shipping import now_ms
from local_aws.lambda_.platform_log import Report
from local_aws.lambda_.pool import Pool

TAIL_BYTES = 4096  # LogType=Tail returns the last 4 KB of the log
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # Invoke's request and response payload limit (RequestResponse)


# ---- invocations ----

def pool() -> Pool:
    """The running server's pool of environments (a worker, local_aws.workers)."""
    return running_worker(Pool)


def resolve(function: LambdaFunction, qualifier: str | None) -> tuple[LambdaFunction, str]:
    """(the function version that runs, the ARN it was invoked by); during an update, the version before it."""
    if not qualifier:
        return lifecycle.serving(function), function.function_arn
    target = get_backend(function.account_id, function.region).get_function(function.function_name, qualifier)
    invoked = f"{make_function_arn(function.region, function.account_id, function.function_name)}:{qualifier}"
    return lifecycle.serving(target), invoked


def check_payload(payload: bytes, limit: int = MAX_SYNC_PAYLOAD) -> str:
    """The payload as JSON text ('{}' when empty); InvokeError when AWS would reject it."""
    if len(payload) > limit:
        raise InvokeError(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            413,
        )
    text = payload.decode("utf-8", "replace") if payload else "{}"
    if not text.strip():
        return "{}"
    try:
        json.loads(text)
    except ValueError as error:
        raise InvokeError(
            "InvalidRequestContentException", f"Could not parse request body into json: {error}", 400
        ) from None
    return text


def _decode_client_context(client_context: str | None) -> dict | None:
    if not client_context:
        return None
    import base64

    try:
        return json.loads(base64.b64decode(client_context))
    except ValueError:
        raise InvokeError(
            "InvalidRequestContentException", "Client context must be a base64-encoded JSON object", 400
        ) from None


def invoke(
    function: LambdaFunction, payload: bytes, *, qualifier: str | None, client_context: str | None, request_id: str
) -> InvokeResult:
    """See local_aws.lambda_.invoke.invoke."""
    target, invoked_arn = resolve(function, qualifier)
    code.check_runtime(target)
    event = check_payload(payload)
    context = _decode_client_context(client_context)
    # The same pool gets the environment back: if the server stopped meanwhile, that pool is closed and
    # stops it, and the invocation's logs are dropped (no shipper runs any more).
    environments = pool()
    env, cold, init_lines = environments.acquire(target)
    version = str(target.version)
    started_ms = now_ms()
    timeout = float(target.timeout)
    keep = False
    try:
        if env.init_error is not None:
            # AWS reports a failed Init on the invocation that needed it; the next one tries Init again.
            outcome = Outcome("error", env.init_error, 0.0, 0)
        else:
            request = {
                "requestId": request_id,
                "payload": event,
                "invokedFunctionArn": invoked_arn,
                "deadlineMs": started_ms + int(timeout * 1000),
                "clientContext": context,
            }
            outcome = env.invoke(request, timeout)
            # A timeout or crash loses the environment; a handler's exception does not (AWS's runtime survives it).
            keep = outcome.kind in ("result", "error")
    finally:
        environments.release(env, keep=keep)

    end_ms = now_ms()
    if env.init_error is not None:
        body, status, error_type = env.init_error, "error", env.init_error["errorType"]
    elif outcome.kind == "timeout":
        body = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
        }
        status, error_type = "timeout", "Sandbox.Timedout"
    elif outcome.kind == "crash":
        body, status, error_type = outcome.body, "failure", "Runtime.ExitError"
    elif outcome.kind == "error":
        body, status, error_type = outcome.body, "error", outcome.body["errorType"]
    else:
        body, status, error_type = outcome.body, "success", None
    # Since August 2025 AWS bills the Init phase of on-demand functions too.
    billed = math.ceil(outcome.duration_ms + ((env.init_ms or 0) if cold else 0))
    report = Report(
        request_id=request_id,
        duration_ms=outcome.duration_ms,
        billed_ms=billed,
        memory_mb=target.memory_size,
        max_memory_mb=math.ceil(outcome.max_rss_kb / 1024),
        init_ms=env.init_ms if cold else None,
        status=status,
        error_type=error_type,
        init_failed=env.init_error is not None,
    )
    platform = env.platform
    events = list(init_lines)
    if env.init_error is not None:
        events += platform.init_failed(started_ms, env.init_ms, error_type)
    events += platform.start(started_ms, request_id, version)
    events += outcome.lines
    if outcome.kind == "timeout":
        events += platform.timed_out(end_ms, request_id, timeout)
    events += platform.end(end_ms, report) + platform.report(end_ms, report)
    if (shipper := log_shipping.existing()) is not None:
        shipper.ship(env.generation, target.region, env.log_group, env.log_stream, events)

    if outcome.kind == "result":
        response, function_error = outcome.body.encode(), None
        if len(response) > MAX_SYNC_PAYLOAD:
            response = json.dumps(
                {
                    "errorMessage": f"Response payload size ({len(response)} bytes) exceeded maximum allowed payload "
                    f"size ({MAX_SYNC_PAYLOAD} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge",
                }
            ).encode()
            function_error = "Unhandled"
    else:
        response, function_error = json.dumps(body).encode(), "Unhandled"
    first = 0 if env.init_error is not None else len(init_lines)  # a failed Init is part of the invocation
    tail = "".join(message + "\n" for _, message in events[first:]).encode()[-TAIL_BYTES:]
    return InvokeResult(
        request_id=request_id,
        status_code=200,
        payload=response,
        function_error=function_error,
        log_tail=tail.decode("utf-8", "ignore"),
        executed_version=version,
    )


def retire_function(function: LambdaFunction) -> None:
    """Code or configuration changed: the function's environments finish what they run, then stop."""
    name = (function.account_id, function.region, function.function_name)
    if (environments := workers.find(Pool)) is not None:
        environments.retire(lambda env: env.key[:3] == name)


def reset_backend(account_id: str, region: str) -> None:
    """/moto-api/reset: stop every environment of that backend now, drop its pending logs and credentials."""
    if (environments := workers.find(Pool)) is not None:
        environments.retire(lambda env: env.key[:2] == (account_id, region), kill_busy=True)
    if (shipper := log_shipping.existing()) is not None:
        shipper.reset()
    execution_role.forget_backend(account_id, region)


def quiesce() -> None:
    """Before /moto-api/reset: kill every environment and let the log writer finish what it is writing,
    so nothing of the old world (an environment, a late log batch) reaches the new one."""
    shipper = log_shipping.existing()
    if shipper is not None:
        shipper.reset()
    if (environments := workers.find(Pool)) is not None:
        environments.retire(lambda env: True, kill_busy=True)
    if shipper is not None:
        shipper.flush()
    execution_role.forget_all()


def shutdown() -> None:
    """Stop every environment, then the log shipper (which writes what it holds first)."""
    workers.stop(Pool, log_shipping.LogShipper)

"""How anything in local AWS runs a Lambda function: synchronously or as an Event.

This is the API the Invoke operation, event sources (local_aws/lambda_/event_sources/) and
destinations use; nothing else should start execution environments directly.

- invoke(function, payload) runs the handler now (InvocationType RequestResponse) in a warm
  execution environment of that function version, or a new one (cold start), and returns what
  AWS's Invoke returns: status, payload, FunctionError, the log tail and the executed version.
  A handler's exception, a timeout or a crash is a *function error* (function_error set, the
  payload is the runtime's error document); only when Lambda itself cannot invoke the function
  (throttled, not a Python runtime, the role cannot be assumed, payload not JSON) does it raise
  InvokeError, carrying the Invoke API's error code and HTTP status.
- invoke_async(function, payload) queues the event (InvocationType Event) and returns its
  request id at once. A background worker runs it; on a function error it retries twice (AWS
  waits about 1 then 2 minutes; settings.lambda_retry_delay_seconds and twice that here),
  honours PutFunctionEventInvokeConfig's MaximumRetryAttempts and MaximumEventAgeInSeconds, then
  sends a destination record to the OnSuccess / OnFailure destination (SQS, SNS, Lambda,
  EventBridge) or, on failure without an OnFailure destination, the event to the function's
  DeadLetterConfig target (SQS or SNS). Retries keep the request id, as on AWS.

`function` is moto's LambdaFunction (`get_backend(account, region).get_function(name)`); with a
qualifier (version number or alias) the invocation runs that version, as Invoke's Qualifier does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError

from local_aws import workers

W = TypeVar("W")


@dataclass(frozen=True)
class InvokeResult:
    """What one synchronous invocation returned, in the Invoke API's terms."""

    request_id: str
    status_code: int  # 200 for a RequestResponse invocation that ran (function errors included)
    payload: bytes  # the handler's JSON result, or the runtime's error document on a function error
    function_error: str | None  # "Unhandled" when the handler raised, timed out or crashed; else None
    log_tail: str  # the last 4 KB of this invocation's log (START ... REPORT), as LogType=Tail returns
    executed_version: str  # "$LATEST" or the version number that ran

    @property
    def ok(self) -> bool:
        return self.function_error is None

    def json(self):
        """The payload parsed (None when empty)."""
        return json.loads(self.payload) if self.payload else None


class InvokeError(JsonRESTError):
    """Lambda could not invoke the function at all (no function error: the handler never ran).

    `error_type` and `code` are the Invoke API's error and HTTP status, so raising this inside a
    moto response returns exactly that error to the caller.
    """

    def __init__(self, error_type: str, message: str, status: int = 400):
        self.code = status
        self.error_type = error_type
        super().__init__(error_type, message)


def running_worker(kind: Callable[[], W]) -> W:
    """The server's worker of this kind (local_aws.workers); InvokeError while the server stops."""
    try:
        return workers.get(kind)
    except workers.NotRunning:
        raise InvokeError("ServiceException", "local AWS is shutting down", 503) from None


def new_request_id() -> str:
    return str(uuid.uuid4())


def invoke(
    function: LambdaFunction,
    payload: bytes,
    *,
    qualifier: str | None = None,
    client_context: str | None = None,
    request_id: str | None = None,
) -> InvokeResult:
    """Run the function's handler with `payload` (a JSON document) and wait for its result.

    qualifier: a version number or alias to run instead of `function` itself ($LATEST).
    client_context: the base64 JSON of X-Amz-Client-Context (context.client_context).
    request_id: keep a given request id (async retries do); a new one otherwise.
    Raises InvokeError when Lambda cannot invoke the function (see the module docstring).
    """
    from local_aws.lambda_ import runtime

    return runtime.invoke(
        function,
        payload,
        qualifier=qualifier,
        client_context=client_context,
        request_id=request_id or new_request_id(),
    )


def invoke_async(function: LambdaFunction, payload: bytes, *, qualifier: str | None = None) -> str:
    """Queue an Event invocation and return its request id; retries and destinations as on AWS.

    Raises InvokeError right away for what AWS rejects at Invoke time (payload not JSON or larger
    than 1 MB, a runtime local AWS cannot run); everything else is reported through
    destinations, the DLQ and the function's log group, as on AWS.
    """
    from local_aws.lambda_ import async_invoke

    return async_invoke.submit(function, payload, qualifier=qualifier)

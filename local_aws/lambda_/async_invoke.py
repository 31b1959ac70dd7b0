"""Event invocations (InvocationType Event): queue, retries, destinations and dead-letter queues.

As on AWS (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html):
- the event is queued and Invoke returns 202 with its request id at once;
- a function error (the handler raised, timed out or crashed) is retried twice, the first retry
  after settings.lambda_retry_delay_seconds (AWS: about a minute), the second after twice that;
  retries keep the request id; a throttled invocation waits and tries again without counting;
- PutFunctionEventInvokeConfig's MaximumRetryAttempts (0-2) and MaximumEventAgeInSeconds bound
  that (an event older than the age is discarded with condition EventAgeExceeded);
- the outcome goes to the OnSuccess / OnFailure destination (SQS queue, SNS topic, Lambda
  function, EventBridge bus) as AWS's invocation record, sent with the function's execution role
  credentials, as AWS does; on failure with no OnFailure destination, the event goes to the
  function's DeadLetterConfig target (SQS or SNS) with RequestID/ErrorCode/ErrorMessage attributes.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend, make_function_arn

from local_aws import clients, config, workers
from local_aws.arns import Arn
from local_aws.lambda_ import code, execution_role, runtime
from local_aws.lambda_.invoke import InvokeError, InvokeResult, new_request_id, running_worker

log = logging.getLogger(__name__)

MAX_ASYNC_PAYLOAD = 1024 * 1024  # Invoke's payload limit for InvocationType Event (1 MB since October 2025)
INVOKE_ASYNC_PAYLOAD = 256 * 1024  # the deprecated InvokeAsync's
DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE = 6 * 3600


@dataclass
class Event:
    request_id: str
    function: LambdaFunction  # as given to submit (usually $LATEST); the qualifier picks the version
    qualifier: str | None
    payload: str  # JSON text
    enqueued: float  # time.time()
    attempts: int = 0
    last: InvokeResult | None = None
    last_error: InvokeError | None = None


def _is_current(event: Event) -> bool:
    """False once /moto-api/reset or DeleteFunction has dropped the function."""
    function = event.function
    try:
        latest = get_backend(function.account_id, function.region).get_function(function.function_name)
    except Exception:
        return False
    return latest is function or str(function.version) != "$LATEST"


def _event_invoke_config(function: LambdaFunction) -> dict:
    """PutFunctionEventInvokeConfig's settings (moto keeps them on the unqualified function)."""
    try:
        latest = get_backend(function.account_id, function.region).get_function(function.function_name)
    except Exception:
        return {}
    configs = getattr(latest, "event_invoke_config", None) or []
    return dict(configs[0].config) if configs else {}


class AsyncInvoker:
    """A queue of due events (a heap by due time) and a small thread pool that runs them."""

    def __init__(self):
        self._heap: list[tuple[float, int, Event]] = []
        self._sequence = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._workers = ThreadPoolExecutor(
            max_workers=max(1, config.settings.lambda_max_environments), thread_name_prefix="lambda-event"
        )
        self._thread = threading.Thread(target=self._dispatch, name="lambda-event-queue", daemon=True)
        self._thread.start()

    def put(self, event: Event, delay: float = 0.0) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._sequence), event))
            self._cond.notify()

    def drop(self, predicate) -> None:
        with self._cond:
            self._heap = [item for item in self._heap if not predicate(item[2])]
            heapq.heapify(self._heap)

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            self._heap = []
            self._cond.notify()
        self._thread.join(timeout=5)
        self._workers.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, event = heapq.heappop(self._heap)
            try:
                self._workers.submit(self._run, event)
            except RuntimeError:  # shutting down
                return

    def _run(self, event: Event) -> None:
        try:
            self._attempt(event)
        except Exception:
            log.exception("Lambda event %s of %s failed in local AWS", event.request_id, event.function.function_name)

    def _attempt(self, event: Event) -> None:
        if not _is_current(event):
            return
        settings = _event_invoke_config(event.function)
        max_retries = settings.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS)
        max_age = settings.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE)
        if time.time() - event.enqueued > max_age:
            _finish(event, "EventAgeExceeded")
            return
        try:
            result = runtime.invoke(
                event.function,
                event.payload.encode(),
                qualifier=event.qualifier,
                client_context=None,
                request_id=event.request_id,
            )
        except InvokeError as error:
            if error.error_type == "TooManyRequestsException":  # throttled: AWS retries without counting
                self.put(event, delay=config.settings.lambda_retry_delay_seconds)
                return
            event.attempts += 1
            event.last_error = error
            _finish(event, "RetriesExhausted")
            return
        event.attempts += 1
        event.last = result
        if result.ok:
            _finish(event, "Success")
        elif event.attempts <= max_retries:
            self.put(event, delay=config.settings.lambda_retry_delay_seconds * event.attempts)
        else:
            _finish(event, "RetriesExhausted")


# ---- outcomes ----


def _iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse(payload: bytes | str):
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload


def destination_record(event: Event, condition: str) -> dict:
    """AWS's invocation record (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""
    function = event.function
    result = event.last
    version = result.executed_version if result else (event.qualifier or str(function.version))
    record = {
        "version": "1.0",
        "timestamp": _iso_now(),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": f"{make_function_arn(function.region, function.account_id, function.function_name)}:{version}",
            "condition": condition,
            "approximateInvokeCount": event.attempts,
        },
        "requestPayload": _parse(event.payload),
    }
    if result is not None:
        response_context = {"statusCode": result.status_code, "executedVersion": result.executed_version}
        if result.function_error:
            response_context["functionError"] = result.function_error
        record["responseContext"] = response_context
        record["responsePayload"] = _parse(result.payload)
    elif event.last_error is not None:
        error = event.last_error
        record["responseContext"] = {
            "statusCode": error.code,
            "executedVersion": version,
            "functionError": error.error_type,
        }
        record["responsePayload"] = {"errorMessage": error.message, "errorType": error.error_type}
    return record


def _role_client(function: LambdaFunction, service: str, region: str):
    """A client acting as the function's execution role: AWS delivers destinations with its permissions."""
    credentials = execution_role.role_credentials(function)
    return clients.client(
        service,
        region,
        access_key=credentials.access_key_id,
        secret_key=credentials.secret_access_key,
        session_token=credentials.session_token,
    )


def _send(function: LambdaFunction, target_arn: str, body: str, attributes: dict | None = None, detail_type: str = ""):
    """Deliver one message to an SQS queue, SNS topic, Lambda function or EventBridge bus by ARN."""
    arn = Arn.parse(target_arn)
    service = arn.service
    client = _role_client(function, service, arn.region)
    if service == "sqs":
        url = client.get_queue_url(QueueName=arn.resource, QueueOwnerAWSAccountId=arn.account)["QueueUrl"]
        client.send_message(QueueUrl=url, MessageBody=body, **({"MessageAttributes": attributes} if attributes else {}))
    elif service == "sns":
        client.publish(TopicArn=target_arn, Message=body, **({"MessageAttributes": attributes} if attributes else {}))
    elif service == "lambda":
        client.invoke(FunctionName=target_arn, InvocationType="Event", Payload=body.encode())
    elif service == "events":
        client.put_events(
            Entries=[
                {
                    "Source": "lambda",
                    "DetailType": detail_type,
                    "Detail": body,
                    "EventBusName": target_arn,
                    "Resources": [function.function_arn],
                }
            ]
        )
    else:
        raise ValueError(f"local AWS cannot deliver to {target_arn}: destinations are SQS, SNS, Lambda or EventBridge")


def _finish(event: Event, condition: str) -> None:
    """Send the outcome where the function's configuration says."""
    function = event.function
    destinations = _event_invoke_config(function).get("DestinationConfig") or {}
    which = "OnSuccess" if condition == "Success" else "OnFailure"
    target = (destinations.get(which) or {}).get("Destination")
    try:
        if target:
            detail_type = f"Lambda Function Invocation Result - {'Success' if which == 'OnSuccess' else 'Failure'}"
            _send(function, target, json.dumps(destination_record(event, condition)), detail_type=detail_type)
        elif which == "OnFailure" and (dead_letter := getattr(function, "dead_letter_config", None)):
            target = dead_letter.get("TargetArn")
            if target:
                _send(function, target, event.payload, _dead_letter_attributes(event))
    except Exception as error:
        # AWS records a failed delivery in the function's DestinationDeliveryFailures / DeadLetterErrors metrics.
        log.warning(
            "Lambda %s: could not deliver the %s record of request %s to %s: %s",
            function.function_name,
            condition,
            event.request_id,
            target,
            error,
        )


def _dead_letter_attributes(event: Event) -> dict:
    result = event.last
    if result is not None:
        error = _parse(result.payload)
        message = error.get("errorMessage", "") if isinstance(error, dict) else str(error)
        code_ = str(result.status_code)
    else:
        message = event.last_error.message if event.last_error else "Event age exceeded"
        code_ = str(event.last_error.code if event.last_error else 200)
    return {
        "RequestID": {"DataType": "String", "StringValue": event.request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": code_},
        "ErrorMessage": {"DataType": "String", "StringValue": (message or "Unhandled")[:1024]},
    }


# ---- module API ----

def submit(function: LambdaFunction, payload: bytes, *, qualifier: str | None = None) -> str:
    """See local_aws.lambda_.invoke.invoke_async."""
    target, _ = runtime.resolve(function, qualifier)
    code.check_runtime(target)
    text = runtime.check_payload(payload, limit=MAX_ASYNC_PAYLOAD)
    event = Event(new_request_id(), function, qualifier, text, time.time())
    running_worker(AsyncInvoker).put(event)
    return event.request_id


def reset_backend(account_id: str, region: str) -> None:
    """/moto-api/reset: forget the queued events of that backend."""
    if (invoker := workers.find(AsyncInvoker)) is not None:
        invoker.drop(lambda event: (event.function.account_id, event.function.region) == (account_id, region))


def reset_all() -> None:
    """/moto-api/reset: forget every queued event."""
    if (invoker := workers.find(AsyncInvoker)) is not None:
        invoker.drop(lambda event: True)


def shutdown() -> None:
    """Drop queued events and stop dispatching (before the runtime stops: they would start environments)."""
    workers.stop(AsyncInvoker)

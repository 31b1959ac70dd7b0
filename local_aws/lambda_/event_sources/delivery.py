"""What every event source needs from Lambda: find the function, invoke it, record failures.

Invocations go through the local Lambda runtime (local_aws/lambda_/invoke.py): event source
mappings invoke synchronously and read the handler's response, as AWS's pollers do; S3 and SNS
invoke asynchronously (InvocationType Event), so the runtime's queue, retries, destinations and
DLQ apply to them exactly as to any other Event invocation, and only when the function's
resource-based policy lets them (local_aws/lambda_/permissions.py).
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend

from local_aws.arns import Arn, split_function_arn
from local_aws.lambda_.permissions import Source, refusal

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """One synchronous invocation as an event source sees it."""

    error: str | None  # None: the handler returned; else "Unhandled", "Handled" or why Lambda could not invoke it
    response: Any  # the handler's return value, parsed from JSON (None when absent or not JSON)
    status_code: int = 200
    executed_version: str = "$LATEST"

    @property
    def invoked(self) -> bool:
        """False when the function never ran (missing, throttled, runtime failure): retried, not counted."""
        return self.status_code < 300

    @property
    def processing_result(self) -> str:
        """The mapping's LastProcessingResult after this invocation."""
        if self.error is None:
            return "OK"
        return "PROBLEM: Function call failed" if self.invoked else f"PROBLEM: {self.error}"


def find_function(account_id: str, region: str, function_arn: str) -> tuple[LambdaFunction, str | None]:
    """The function (version or alias target) an ARN names and its qualifier; raises moto's UnknownFunction."""
    unqualified, qualifier = split_function_arn(function_arn)
    function = get_backend(account_id, region).get_function(unqualified, qualifier)
    return function, qualifier


def _runtime():
    """local_aws/lambda_/invoke.py (the package re-exports its functions under the module's name)."""
    return importlib.import_module("local_aws.lambda_.invoke")


def invoke(account_id: str, region: str, function_arn: str, event: dict[str, Any]) -> Outcome:
    """Invoke synchronously (RequestResponse), as event source mappings do; never raises."""
    try:
        function, qualifier = find_function(account_id, region, function_arn)
    except Exception as error:  # noqa: BLE001 (the mapping reports any failure as its processing result)
        return Outcome(error=f"function {function_arn} cannot be found: {error}", response=None, status_code=404)
    try:
        result = _runtime().invoke(function, json.dumps(event).encode(), qualifier=qualifier)
    except Exception as error:  # noqa: BLE001 (InvokeError: throttled, role, runtime; AWS retries those too)
        log.warning("Invoking %s failed before the handler ran: %s", function_arn, error)
        error_type = getattr(error, "error_type", None) or type(error).__name__
        status = getattr(error, "code", 500)
        return Outcome(
            error=f"{error_type}: {error}", response=None, status_code=status if isinstance(status, int) else 500
        )
    return Outcome(
        error=result.function_error,
        response=_parse(result.payload),
        status_code=result.status_code,
        executed_version=result.executed_version or "$LATEST",
    )


def invoke_async(account_id: str, region: str, function_arn: str, event: dict[str, Any],
                 source: Source | None = None) -> str | None:  # fmt: skip
    """Queue an Event invocation for `source` (a service); returns its request id, or None (logged) when
    the function is gone or its resource-based policy does not let the source invoke it."""
    try:
        function, qualifier = find_function(account_id, region, function_arn)
    except Exception as error:  # noqa: BLE001 (AWS drops events for missing functions, the source's call succeeds)
        log.warning("Event for %s dropped: %s", function_arn, error)
        return None
    if source is not None and (denied := refusal(function, function_arn, source)):
        # AWS's Lambda answers AccessDeniedException; S3 and SNS drop the event (SNS: a failed delivery).
        log.warning("Event from %s for %s dropped: %s; allow it with: %s", source.arn, function_arn, denied,
                    source.add_permission_hint(function_arn))  # fmt: skip
        return None
    try:
        return _runtime().invoke_async(function, json.dumps(event).encode(), qualifier=qualifier)
    except Exception as error:  # noqa: BLE001 (refused at Invoke time, e.g. over 1 MB: the source's call still succeeds)
        log.warning("Event for %s refused: %s", function_arn, error)
        return None


def _parse(payload: bytes | str | None) -> Any:
    if not payload:
        return None
    try:
        return json.loads(payload)
    except (TypeError, ValueError):
        return None


def send_to_destination(account_id: str, destination_arn: str, document: dict[str, Any], s3_key: str = "") -> None:
    """Deliver an OnFailure record to an SQS queue, SNS topic or S3 bucket (s3_key) by ARN; logs when it cannot."""
    body = json.dumps(document)
    try:
        arn = Arn.parse(destination_arn)
        service, region = arn.service, arn.region
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            sqs_backends[arn.account or account_id][region].send_message(arn.resource, body)
        elif service == "sns":
            from moto.sns.models import sns_backends

            sns_backends[arn.account or account_id][region].publish(body, arn=destination_arn)
        elif service == "s3":
            from moto.s3.models import s3_backends

            s3_backends[account_id]["aws"].put_object(arn.resource, s3_key, body.encode())
        else:
            raise ValueError(f"unsupported destination service {service}")
    except Exception as error:  # noqa: BLE001 (a lost failure record is logged, never fatal to the poller)
        log.warning("Could not send the failure record to %s: %s", destination_arn, error)

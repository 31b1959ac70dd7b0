"""Event source mappings that really poll: one poller thread per mapping (Kinesis, SQS).

moto 5.2.5 records mappings but invokes the function synchronously from inside PutRecord and
SendMessage (and never for records or messages that were there before). This module patches
moto's Lambda backend so that
- CreateEventSourceMapping checks what AWS checks (StartingPosition, ranges, destinations,
  FunctionResponseTypes, ...), detaches moto's in-request invocation and starts a poller
  (kinesis.KinesisPoller, sqs.SqsPoller). The mapping reports State Creating until its poller has
  fixed its starting position, then Enabled (or Disabled);
- UpdateEventSourceMapping applies at the poller's next poll: Enabled false -> Disabling ->
  Disabled (a Kinesis mapping keeps its checkpoints and resumes from them when enabled again);
- DeleteEventSourceMapping and /moto-api/reset stop the poller;
- Get/ListEventSourceMappings report State, LastProcessingResult and AWS's defaults;
- FilterCriteria drop records that match none of the patterns (record_filter()).
State lives on moto's EventSourceMapping (`.local`), so a reset forgets it.
Differences from AWS: docs/local-aws/lambda-event-sources.md.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import EventSourceMapping, LambdaBackend
from moto.events.models import EventPattern

from local_aws import config, workers
from local_aws.arns import Arn
from local_aws.patching import Patches

log = logging.getLogger(__name__)

# After the Lambda runtime: shut down first, so pollers stop before the execution environments do.
# Both wrap LambdaBackend.reset; this module's wrap is the outer one (a backend's pollers are told to
# stop, then the runtime retires its environments and queued events, then moto resets it).
patches = Patches(__name__, after=("local_aws.lambda_.service",))

STREAM_SOURCES = ("kinesis", "dynamodb")
# Reported when a mapping was created without them, as AWS does.
STREAM_DEFAULTS = {
    "MaximumBatchingWindowInSeconds": 0,
    "ParallelizationFactor": 1,
    "BisectBatchOnFunctionError": False,
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "TumblingWindowInSeconds": 0,
    "DestinationConfig": {"OnFailure": {}},
    "FunctionResponseTypes": [],
}
QUEUE_DEFAULTS = {"MaximumBatchingWindowInSeconds": 0, "FunctionResponseTypes": []}


@dataclass
class MappingState:
    """What local AWS adds to a moto EventSourceMapping; kept on it as `.local`."""

    state: str = "Creating"
    # CreateEventSourceMapping answers Creating even when the poller has started already, as AWS does.
    answer_creating: bool = True
    last_processing_result: str = "No records processed"
    poller: Poller | None = None
    # Kinesis: shard id -> checkpoint (sequence number of the last record done) and window state.
    shards: dict[str, Any] = field(default_factory=dict)


class Poller(threading.Thread):
    """Polls one mapping's source until the mapping is deleted, moto is reset or the server stops."""

    def __init__(self, backend: LambdaBackend, esm: EventSourceMapping):
        super().__init__(daemon=True, name=f"esm-{esm.uuid[:8]}")
        self.backend = backend
        self.esm = esm
        self.account_id = esm.account_id
        self.region = esm.region
        self._stop_event = threading.Event()

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop_event.set()

    @property
    def stopped(self) -> bool:
        if self._stop_event.is_set():
            return True
        mappings = getattr(self.backend, "_event_source_mappings", None)  # absent while moto resets the backend
        return mappings is None or mappings.get(self.esm.uuid) is not self.esm

    def sleep(self, seconds: float | None = None) -> None:
        self._stop_event.wait(config.settings.lambda_poll_seconds if seconds is None else seconds)

    def run(self) -> None:
        local: MappingState = self.esm.local
        try:
            self.prepare()
        except Exception as error:  # noqa: BLE001 (reported on the mapping, as AWS does)
            log.warning("Event source mapping %s could not start: %s", self.esm.uuid, error)
            local.last_processing_result = f"PROBLEM: {error}"
        while not self.stopped:
            if not self.esm.enabled:
                local.state = "Disabled"
                self.sleep()
                continue
            local.state = "Enabled"
            try:
                busy = self.poll()
            except Exception as error:  # noqa: BLE001 (a failing poll is retried, never kills the poller)
                if self.stopped:
                    break  # moto reset: the source went first
                result = f"PROBLEM: {error}"
                if result != local.last_processing_result:  # once per problem, not on every poll
                    unexpected = not isinstance(error, LookupError)  # LookupError: the stream or queue is gone
                    log.warning("Event source mapping %s: %s", self.esm.uuid, error, exc_info=unexpected)
                local.last_processing_result = result
                busy = False
            if not busy:
                self.sleep()
        self.finish()
        if (pollers := workers.find(Pollers)) is not None:
            pollers.discard(self)

    # -- for subclasses ---------------------------------------------------------------------

    def prepare(self) -> None:
        """Fix starting positions before the mapping turns Enabled."""

    def poll(self) -> bool:
        """One round of reading and invoking; True when there may be more to do right away."""
        raise NotImplementedError

    def finish(self) -> None:
        """Release what the poller holds once it has stopped."""


def record_filter(esm: EventSourceMapping) -> Callable[[dict[str, Any]], bool] | None:
    """FilterCriteria as a predicate on a record's filter document (None: no filters, every record passes).

    As on AWS, a record passes when any of the patterns matches (EventBridge pattern syntax, with
    moto's matcher); the poller drops the others without invoking (SQS deletes them).
    """
    filters = (esm.filter_criteria or {}).get("Filters") or []
    if not filters:
        return None
    patterns = [EventPattern.load(f.get("Pattern")) for f in filters]
    return lambda document: any(p.matches_event(document) for p in patterns)


def parse_json(text: str) -> Any:
    """A record's data or body as the filter sees it: parsed when it is JSON, else the text itself."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _source(arn: str) -> str:
    try:
        service = Arn.parse(arn).service.lower()
    except ValueError:
        service = ""
    return "sqs-fifo" if service == "sqs" and arn.endswith(".fifo") else service


def _poller_class(source: str) -> type[Poller] | None:
    if source == "kinesis":
        from local_aws.lambda_.event_sources.kinesis import KinesisPoller

        return KinesisPoller
    if source in ("sqs", "sqs-fifo"):
        from local_aws.lambda_.event_sources.sqs import SqsPoller

        return SqsPoller
    return None  # DynamoDB streams: moto's own in-request invocation stays


# ---------------------------------------------------------------------------------------------
# Validation (what AWS refuses, with the fix in the message)
# ---------------------------------------------------------------------------------------------


def _check_range(spec: dict[str, Any], name: str, low: int, high: int, also: tuple[int, ...] = ()) -> None:
    value = spec.get(name)
    if value is None:
        return
    if not isinstance(value, int) or not (low <= value <= high or value in also):
        allowed = f"between {low} and {high}" + "".join(f" or {v}" for v in also)
        raise InvalidParameterValueException(f"{name} must be {allowed}, got {value!r}")


def _validate(spec: dict[str, Any], source: str, creating: bool) -> None:
    stream = source in STREAM_SOURCES
    if creating and stream and not spec.get("StartingPosition"):
        raise InvalidParameterValueException(
            "StartingPosition is required for Kinesis and DynamoDB Streams event sources: "
            "TRIM_HORIZON, LATEST or AT_TIMESTAMP (with StartingPositionTimestamp)"
        )
    position = spec.get("StartingPosition")
    if position is not None:
        if not stream:
            raise InvalidParameterValueException(
                f"StartingPosition is not valid for {source.upper()} event sources; leave it out"
            )
        if position not in ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"):
            raise InvalidParameterValueException(
                f"StartingPosition must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got {position!r}"
            )
        if position == "AT_TIMESTAMP" and spec.get("StartingPositionTimestamp") is None:
            raise InvalidParameterValueException("StartingPosition AT_TIMESTAMP needs StartingPositionTimestamp")
    if not stream:
        for name in ("BisectBatchOnFunctionError", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                     "TumblingWindowInSeconds", "ParallelizationFactor", "DestinationConfig"):  # fmt: skip
            if spec.get(name) not in (None, {}, {"OnFailure": {}}):
                raise InvalidParameterValueException(
                    f"{name} is only supported for Kinesis and DynamoDB Streams event sources; "
                    f"for SQS use the queue's redrive policy (dead-letter queue)"
                    if name == "DestinationConfig"
                    else f"{name} is only supported for Kinesis and DynamoDB Streams event sources"
                )
    batch = spec.get("BatchSize")
    maximum = {"kinesis": 10000, "dynamodb": 10000, "sqs": 10000, "sqs-fifo": 10}.get(source, 10000)
    if batch is not None and not (isinstance(batch, int) and 1 <= batch <= maximum):
        raise InvalidParameterValueException(f"BatchSize must be between 1 and {maximum}, got {batch!r}")
    _check_range(spec, "MaximumBatchingWindowInSeconds", 0, 300)
    if source == "sqs" and (batch or 10) > 10 and not spec.get("MaximumBatchingWindowInSeconds"):
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
        )
    _check_range(spec, "MaximumRetryAttempts", -1, 10000)
    _check_range(spec, "MaximumRecordAgeInSeconds", 60, 604800, also=(-1,))
    _check_range(spec, "TumblingWindowInSeconds", 0, 900)
    _check_range(spec, "ParallelizationFactor", 1, 10)
    filters = (spec.get("FilterCriteria") or {}).get("Filters") or []
    if len(filters) > 5:
        raise InvalidParameterValueException(f"FilterCriteria may have at most 5 filters, got {len(filters)}")
    for item in filters:
        try:
            EventPattern.load(item.get("Pattern"))
        except Exception as error:  # noqa: BLE001 (moto's parser raises its own exception types)
            raise InvalidParameterValueException(
                f"Invalid filter pattern definition {item.get('Pattern')!r}: {getattr(error, 'message', error)}"
            ) from None
    types = spec.get("FunctionResponseTypes") or []
    if any(t != "ReportBatchItemFailures" for t in types):
        raise InvalidParameterValueException(
            f"FunctionResponseTypes may only contain ReportBatchItemFailures, got {types!r}"
        )
    on_failure = ((spec.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if on_failure and _source(on_failure) not in ("sqs", "sns", "s3"):
        raise InvalidParameterValueException(
            f"DestinationConfig.OnFailure.Destination {on_failure!r} must be the ARN of an SQS queue, "
            f"an SNS topic or an S3 bucket"
        )


# ---------------------------------------------------------------------------------------------
# Patched backend methods
# ---------------------------------------------------------------------------------------------


@patches.wrap(LambdaBackend, "create_event_source_mapping")
def _create(original, backend: LambdaBackend, spec: dict[str, Any]) -> EventSourceMapping:
    source = _source(spec.get("EventSourceArn") or "")
    poller_class = _poller_class(source)
    if poller_class is not None:
        _validate(spec, source, creating=True)
        function = backend.get_function(spec["FunctionName"]) if spec.get("FunctionName") else None
        for other in backend._event_source_mappings.values():
            if (
                other.event_source_arn == spec["EventSourceArn"]
                and function is not None
                and (other.function_arn == function.function_arn)
            ):
                raise LambdaClientError(
                    "ResourceConflictException",
                    f'An event source mapping with {source.split("-")[0].upper()} arn (" {spec["EventSourceArn"]} ") '
                    f'and function (" {function.function_name} ") already exists. Please update or delete the '
                    f"existing mapping with UUID {other.uuid}",
                )
    if source in ("sqs", "sqs-fifo"):
        _check_visibility_timeout(backend, spec)
    esm = original(backend, spec)
    if poller_class is None:
        return esm
    _detach_from_moto(backend, esm, source)
    esm.local = MappingState()
    poller = poller_class(backend, esm)
    esm.local.poller = poller
    workers.get(Pollers).start(poller)
    return esm


def _check_visibility_timeout(backend: LambdaBackend, spec: dict[str, Any]) -> None:
    """AWS refuses a queue whose messages would reappear while the function still runs."""
    from moto.sqs.models import sqs_backends

    function = backend.get_function(spec["FunctionName"])
    for queue in sqs_backends[backend.account_id][backend.region_name].queues.values():
        if queue.queue_arn == spec["EventSourceArn"] and int(queue.visibility_timeout) < int(function.timeout):
            raise InvalidParameterValueException(
                f"Queue visibility timeout: {int(queue.visibility_timeout)} seconds is less than Function timeout: "
                f"{int(function.timeout)} seconds; raise the queue's VisibilityTimeout (AWS advises 6 times the "
                f"function timeout) or lower the function's Timeout"
            )


def _detach_from_moto(backend: LambdaBackend, esm: EventSourceMapping, source: str) -> None:
    """moto invokes mapped functions from inside PutRecord/SendMessage; the poller does it instead."""
    if source == "kinesis":
        from moto.kinesis.models import kinesis_backends

        for stream in kinesis_backends[backend.account_id][backend.region_name].streams.values():
            if stream.lambda_event_source_mappings.get(esm.event_source_arn) is esm:
                del stream.lambda_event_source_mappings[esm.event_source_arn]
    else:
        from moto.sqs.models import sqs_backends

        for queue in sqs_backends[backend.account_id][backend.region_name].queues.values():
            if queue.lambda_event_source_mappings.get(esm.function_arn) is esm:
                del queue.lambda_event_source_mappings[esm.function_arn]


@patches.wrap(LambdaBackend, "update_event_source_mapping")
def _update(original, backend: LambdaBackend, uuid: str, spec: dict[str, Any]) -> EventSourceMapping | None:
    esm = backend.get_event_source_mapping(uuid)
    local: MappingState | None = getattr(esm, "local", None) if esm else None
    if local is None:
        return original(backend, uuid, spec)
    source = _source(esm.event_source_arn)
    merged = {**esm.get_configuration(), **spec}
    merged.pop("StartingPosition", None)  # fixed at creation; UpdateEventSourceMapping has no such parameter
    _validate(merged, source, creating=False)
    was_enabled = esm.enabled
    result = original(backend, uuid, spec)
    if "Enabled" in spec and bool(spec["Enabled"]) != was_enabled:
        local.state = "Enabling" if spec["Enabled"] else "Disabling"
    elif local.state in ("Enabled", "Disabled"):
        local.state = "Updating"
    return result


@patches.wrap(LambdaBackend, "delete_event_source_mapping")
def _delete(original, backend: LambdaBackend, uuid: str) -> EventSourceMapping | None:
    esm = original(backend, uuid)
    _stop(esm)
    return esm


def _stop(esm: EventSourceMapping | None) -> None:
    local: MappingState | None = getattr(esm, "local", None)
    if local is not None and local.poller is not None:
        local.state = "Deleting"
        local.poller.stop()


@patches.wrap(LambdaBackend, "reset")  # on top of local_aws.lambda_.service's (see `patches`)
def _reset(original, backend: LambdaBackend) -> None:
    for esm in list(getattr(backend, "_event_source_mappings", {}).values()):
        _stop(esm)
    original(backend)


@patches.wrap(EventSourceMapping, "get_configuration")
def _configuration(original, esm: EventSourceMapping) -> dict[str, Any]:
    result = original(esm)
    local: MappingState | None = getattr(esm, "local", None)
    if local is None:
        return result
    defaults = STREAM_DEFAULTS if _source(esm.event_source_arn) in STREAM_SOURCES else QUEUE_DEFAULTS
    result = {**defaults, **result}
    if local.answer_creating:
        local.answer_creating = False
        state, last_result = "Creating", "No records processed"
    else:
        state, last_result = local.state, local.last_processing_result
    result.update(State=state, StateTransitionReason="User action", LastProcessingResult=last_result)
    return result


class Pollers:
    """The running pollers, by mapping UUID, so the server's stop finds every one; a worker (local_aws.workers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, Poller] = {}

    def start(self, poller: Poller) -> None:
        with self._lock:
            self._running[poller.esm.uuid] = poller
        poller.start()

    def discard(self, poller: Poller) -> None:
        with self._lock:
            if self._running.get(poller.esm.uuid) is poller:
                del self._running[poller.esm.uuid]

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every poller and wait (at most `timeout` seconds in all) for those in an invocation to finish it."""
        with self._lock:
            pollers = list(self._running.values())
        for poller in pollers:
            poller.stop()
        deadline = time.monotonic() + timeout
        for poller in pollers:
            poller.join(max(0.0, deadline - time.monotonic()))


def shutdown() -> None:
    """Pollers stop before the Lambda runtime does (this executor installs after it, so it stops first)."""
    workers.stop(Pollers)

"""Kinesis event source mappings: a poller reads every shard of the stream in order and invokes.

The poller reads one batch from every shard per round and invokes for several shards at once
(each shard strictly in order). Per shard it keeps a checkpoint (the sequence number of the last record it is done with)
on the mapping, so records are delivered in order, at least once, and never again after success;
disabling and enabling a mapping resumes from the checkpoints. What AWS does, done here too:
- StartingPosition TRIM_HORIZON / LATEST / AT_TIMESTAMP (fixed before the mapping turns Enabled);
  shards created by resharding are read from their start once their parents are read to the end;
- BatchSize, MaximumBatchingWindowInSeconds (wait for a full batch until the first record is that
  old), and the 6 MB invocation payload limit;
- when Lambda cannot invoke the function (throttled, missing) the batch waits and is retried without
  counting against MaximumRetryAttempts, until its records are too old, as on AWS;
- on a function error the batch is retried (MaximumRetryAttempts, -1 = until the record is too old
  or expires); BisectBatchOnFunctionError halves a failing batch, the halves not counting as
  retries; MaximumRecordAgeInSeconds skips records that are too old; a skipped batch is described in
  an invocation record sent to DestinationConfig.OnFailure (SQS queue, SNS topic or S3 bucket);
- FunctionResponseTypes ReportBatchItemFailures: `batchItemFailures[].itemIdentifier` (a sequence
  number) checkpoints before the lowest failed record and retries from it; an identifier that is
  not in the batch fails the whole batch;
- FilterCriteria: records matching none of the patterns (on partitionKey, data parsed as JSON, ...)
  are passed over without an invocation;
- TumblingWindowInSeconds: windows aligned to multiples of the window on the records' arrival time,
  a batch never spans two windows, the handler's returned {"state": ...} is passed to the next
  invocation of the window (a response without "state" is a failed invocation), and a final
  invocation (no records, isFinalInvokeForWindow true) follows the window's end, retried until it
  succeeds; state over 1 MB ends the window early (isWindowTerminatedEarly, then fresh state).
Differences from AWS: docs/local-aws/lambda-event-sources.md.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.kinesis.models import Shard, Stream, kinesis_backends

from local_aws import config
from local_aws.lambda_.event_sources import delivery
from local_aws.lambda_.event_sources.mappings import Poller, parse_json, record_filter
from local_aws.patching import Patches

log = logging.getLogger(__name__)

# After the Lambda runtime, like every event source: shut down before it (mappings.py stops the pollers).
patches = Patches(__name__, after=("local_aws.lambda_.service",))

PAYLOAD_LIMIT = 6 * 1024 * 1024
MAX_CONCURRENT_SHARDS = 16  # batches of different shards invoked at once by one mapping
WINDOW_STATE_LIMIT = 1024 * 1024  # bytes of tumbling-window state per shard
RECORD_OVERHEAD = 400  # bytes of JSON around a record's data in the event


@dataclass
class ShardState:
    """One shard's progress; kept in the mapping's MappingState.shards (so a reset forgets it)."""

    checkpoint: int  # sequence number of the last record done; later records are pending
    retries: int = 0  # failed invocations of the current batch (bisected halves not counted)
    batch_sizes: list[int] = field(
        default_factory=list
    )  # sizes of batches still to come from bisection/partial failures
    next_attempt: float = 0.0  # monotonic time before which a failed batch is not retried
    window_start: float | None = None  # tumbling window open on this shard (epoch seconds)
    window_state: Any = field(default_factory=dict)
    terminated_early: bool = False  # the state outgrew WINDOW_STATE_LIMIT: the window ends early


def _iso(epoch: float, milliseconds: bool = True) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if milliseconds:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(value: Any) -> float:
    """StartingPositionTimestamp as sent: epoch seconds (boto3) or an ISO 8601 string."""
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class KinesisPoller(Poller):
    _pool: ThreadPoolExecutor | None = None

    # -- reading ----------------------------------------------------------------------------

    def _stream(self) -> Stream:
        backend = kinesis_backends[self.account_id][self.region]
        for stream in list(backend.streams.values()):
            if stream.arn == self.esm.event_source_arn:
                return stream
        raise LookupError(f"Kinesis stream {self.esm.event_source_arn} does not exist")

    @property
    def _shards(self) -> dict[str, ShardState]:
        return self.esm.local.shards

    def prepare(self) -> None:
        stream = self._stream()
        position = self.esm.starting_position
        for shard in list(stream.shards.values()):
            if position == "LATEST":
                checkpoint = _last_sequence(shard)
            elif position == "AT_TIMESTAMP":
                checkpoint = shard.get_sequence_number_at(_epoch(self.esm.starting_position_timestamp))
            else:
                checkpoint = 0
            self._shards[shard.shard_id] = ShardState(checkpoint)

    def _ready(self, stream: Stream, shard: Shard) -> bool:
        """Children of a split or merge wait until their parents are read to the end, as on AWS."""
        for parent_id in (shard.parent, shard.adjacent_parent):
            parent = stream.shards.get(parent_id) if parent_id else None
            if parent is None:
                continue
            state = self._shards.get(parent_id)
            if parent.is_open or state is None or state.checkpoint < _last_sequence(parent):
                return False
        return True

    # -- polling ----------------------------------------------------------------------------

    def poll(self) -> bool:
        """One batch from every shard that has one; several shards' batches are invoked concurrently."""
        stream = self._stream()
        due = []
        for shard in list(stream.shards.values()):
            state = self._shards.setdefault(shard.shard_id, ShardState(0))  # new shards: from their start
            if time.monotonic() >= state.next_attempt and self._ready(stream, shard):
                due.append((shard, state))
        if self.stopped or not self.esm.enabled or not due:
            return False
        if len(due) == 1:
            return self._poll_shard(stream, *due[0])
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_SHARDS, thread_name_prefix=f"{self.name}-shard")
        futures = [self._pool.submit(self._poll_shard, stream, shard, state) for shard, state in due]
        return any([future.result() for future in futures])  # a list: wait for every shard's batch

    def finish(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _poll_shard(self, stream: Stream, shard: Shard, state: ShardState) -> bool:
        esm = self.esm
        window = esm.tumbling_window or 0
        limit = state.batch_sizes[0] if state.batch_sizes else esm.batch_size
        records = _read(shard, state.checkpoint, limit)
        if window:
            if state.window_start is not None and state.terminated_early:
                return self._final_invoke(stream, shard, state, early=True)
            if state.window_start is not None:
                ended = state.window_start + window
                if (records and records[0].created_at >= ended) or (not records and time.time() >= ended):
                    return self._final_invoke(stream, shard, state)
            if records:
                start = math.floor(records[0].created_at / window) * window
                records = [r for r in records if r.created_at < start + window]
                state.window_start = start
        records = self._skip_expired(stream, shard, state, records)
        records = _within_payload_limit(records)
        if not records:
            return False
        matches = record_filter(esm)
        if matches is not None:
            kept = [r for r in records if matches(_filter_document(r))]
            if not kept:  # nothing for the function: move past them without invoking
                state.checkpoint = records[-1].sequence_number
                return True
            records = kept
        fresh = not state.retries and not state.batch_sizes
        waiting = esm.max_batch_window or 0
        if fresh and waiting and len(records) < limit and time.time() - records[0].created_at < waiting:
            return False  # batching window: gather more before invoking
        return self._invoke(stream, shard, state, records)

    def _skip_expired(self, stream: Stream, shard: Shard, state: ShardState, records: list) -> list:
        max_age = self.esm.max_record_age
        if max_age is None or max_age < 0 or not records:
            return records
        now = time.time()
        expired = [r for r in records if now - r.created_at > max_age]  # arrival order: a prefix of the batch
        if expired:
            self._discard(stream, shard, state, expired, "MaximumRecordAgeExceeded", invokes=state.retries)
            records = records[len(expired) :]
        return records

    # -- invoking ---------------------------------------------------------------------------

    def _event(self, stream: Stream, shard: Shard, records: list, state: ShardState) -> dict[str, Any]:
        function, _ = delivery.find_function(self.account_id, self.region, self.esm.function_arn)
        event: dict[str, Any] = {
            "Records": [
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": r.partition_key,
                        "sequenceNumber": str(r.sequence_number),
                        "data": r.data,  # moto keeps the base64 text PutRecord received
                        "approximateArrivalTimestamp": round(r.created_at, 3),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{shard.shard_id}:{r.sequence_number}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": function.role,
                    "awsRegion": self.region,
                    "eventSourceARN": stream.arn,
                }
                for r in records
            ]
        }
        if self.esm.tumbling_window:
            start = state.window_start
            event.update(
                window={"start": _iso(start, False), "end": _iso(start + self.esm.tumbling_window, False)},
                state=state.window_state,
                shardId=shard.shard_id,
                eventSourceARN=stream.arn,
                isFinalInvokeForWindow=False,
                isWindowTerminatedEarly=False,
            )
        return event

    def _call(self, event: dict[str, Any]) -> delivery.Outcome:
        outcome = delivery.invoke(self.account_id, self.region, self.esm.function_arn, event)
        self.esm.local.last_processing_result = outcome.processing_result
        return outcome

    def _invoke(self, stream: Stream, shard: Shard, state: ShardState, records: list) -> bool:
        try:
            event = self._event(stream, shard, records, state)
        except Exception as error:  # noqa: BLE001 (the function is gone: AWS retries until records expire)
            self.esm.local.last_processing_result = f"PROBLEM: {error}"
            state.next_attempt = time.monotonic() + config.settings.lambda_poll_seconds
            return False
        outcome = self._call(event)
        if self.stopped:
            return False  # deleted or reset while the handler ran: nothing to checkpoint any more
        if not outcome.invoked:  # throttled, function missing...: AWS retries without counting, until records expire
            if not state.batch_sizes:
                state.batch_sizes = [len(records)]
            state.next_attempt = time.monotonic() + config.settings.lambda_poll_seconds
            return False
        failed_from = self._failed_from(outcome, records)
        if failed_from is None:
            self._done(state, records, outcome)
            return True
        if failed_from > 0:  # partial failure: records before the lowest failed one are done
            self._done(state, records[:failed_from], outcome, keep_remaining=len(records) - failed_from)
            records = records[failed_from:]
            state.retries += 1
        elif self.esm.bisect_on_error and len(records) > 1 and outcome.error is not None:
            half = (len(records) + 1) // 2
            state.batch_sizes[:1] = [half, len(records) - half]
            state.next_attempt = time.monotonic() + config.settings.lambda_poll_seconds
            return True
        else:
            state.retries += 1
            if not state.batch_sizes:
                state.batch_sizes = [len(records)]  # retry exactly this batch, not one grown by new records
        maximum = self.esm.max_retry_attempts
        if maximum is not None and maximum >= 0 and state.retries > maximum:
            self._discard(stream, shard, state, records, "RetryAttemptsExhausted", state.retries, outcome)
            return True
        state.next_attempt = time.monotonic() + config.settings.lambda_poll_seconds
        return True

    def _failed_from(self, outcome: delivery.Outcome, records: list) -> int | None:
        """None when the batch succeeded; else the index of the first record to retry (0: all)."""
        if outcome.error is not None:
            return 0
        if self.esm.tumbling_window and not (isinstance(outcome.response, dict) and "state" in outcome.response):
            return 0  # AWS: with tumbling windows, a response without "state" is a failed invocation
        if "ReportBatchItemFailures" not in (self.esm.function_response_types or []):
            return None
        failures = outcome.response.get("batchItemFailures") if isinstance(outcome.response, dict) else None
        if not failures:
            return None
        index = {str(r.sequence_number): i for i, r in enumerate(records)}
        try:
            return min(index[str(item["itemIdentifier"])] for item in failures)
        except (KeyError, TypeError):
            return 0  # an identifier that is not one of the batch's fails the whole batch, as on AWS

    def _done(self, state: ShardState, records: list, outcome: delivery.Outcome | None,
              keep_remaining: int = 0) -> None:  # fmt: skip
        state.checkpoint = records[-1].sequence_number
        if self.esm.tumbling_window and outcome is not None:
            state.window_state = outcome.response["state"]
            # AWS keeps at most 1 MB of state per shard; more ends the window early.
            state.terminated_early = len(json.dumps(state.window_state)) > WINDOW_STATE_LIMIT
        if state.batch_sizes:
            state.batch_sizes.pop(0)
        if keep_remaining:
            state.batch_sizes.insert(0, keep_remaining)
        else:
            state.retries = 0
        state.next_attempt = 0.0

    def _final_invoke(self, stream: Stream, shard: Shard, state: ShardState, early: bool = False) -> bool:
        """The window's last invocation (no records, its state); retried until it succeeds, as on AWS.

        early: the state outgrew 1 MB: isWindowTerminatedEarly, and the window goes on with fresh state.
        """
        try:
            event = self._event(stream, shard, [], state)
        except Exception as error:  # noqa: BLE001 (the function is gone: retried like any invocation)
            self.esm.local.last_processing_result = f"PROBLEM: {error}"
            state.next_attempt = time.monotonic() + config.settings.lambda_poll_seconds
            return False
        event.update(isFinalInvokeForWindow=True, isWindowTerminatedEarly=early)
        outcome = self._call(event)
        if self.stopped:
            return False
        if outcome.error is not None or not (isinstance(outcome.response, dict) and "state" in outcome.response):
            state.next_attempt = time.monotonic() + config.settings.lambda_poll_seconds
            return False  # the shard waits for this window's final invocation to succeed
        if not early:
            state.window_start = None
        state.window_state, state.terminated_early = {}, False
        return True

    def _discard(self, stream: Stream, shard: Shard, state: ShardState, records: list, condition: str,
                 invokes: int, outcome: delivery.Outcome | None = None) -> None:  # fmt: skip
        """Skip records (too old, retries exhausted) and describe them to the OnFailure destination."""
        log.warning("Mapping %s skips %d record(s) of %s: %s", self.esm.uuid, len(records), shard.shard_id, condition)
        destination = ((self.esm.destination_config or {}).get("OnFailure") or {}).get("Destination")
        if destination:
            request_id = str(uuid.uuid4())
            now = time.time()
            document: dict[str, Any] = {
                "requestContext": {
                    "requestId": request_id,
                    "functionArn": self.esm.function_arn,
                    "condition": condition,
                    "approximateInvokeCount": invokes,
                },
                "version": "1.0",
                "timestamp": _iso(now),
                "KinesisBatchInfo": {
                    "shardId": shard.shard_id,
                    "startSequenceNumber": str(records[0].sequence_number),
                    "endSequenceNumber": str(records[-1].sequence_number),
                    "approximateArrivalOfFirstRecord": _iso(records[0].created_at),
                    "approximateArrivalOfLastRecord": _iso(records[-1].created_at),
                    "batchSize": len(records),
                    "streamArn": stream.arn,
                },
            }
            if outcome is not None:
                document["responseContext"] = {
                    "statusCode": outcome.status_code,
                    "executedVersion": outcome.executed_version,
                    "functionError": outcome.error,
                }
            stamp = datetime.fromtimestamp(now, UTC)
            key = (f"aws/lambda/{self.esm.uuid}/{shard.shard_id}/{stamp:%Y/%m/%d}/"
                   f"{stamp:%Y-%m-%dT%H.%M.%S}-{request_id}")  # fmt: skip
            delivery.send_to_destination(self.account_id, destination, document, s3_key=key)
        state.checkpoint = records[-1].sequence_number
        state.retries = 0
        if state.batch_sizes:
            state.batch_sizes.pop(0)
        state.next_attempt = 0.0


def _filter_document(record: Any) -> dict[str, Any]:
    """What FilterCriteria patterns see of a Kinesis record: its metadata and its data, parsed when JSON."""
    try:
        data = parse_json(base64.b64decode(record.data).decode())
    except (ValueError, UnicodeDecodeError):
        data = record.data
    return {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": record.partition_key,
        "sequenceNumber": str(record.sequence_number),
        "approximateArrivalTimestamp": round(record.created_at, 3),
        "data": data,
    }


def _last_sequence(shard: Shard) -> int:
    records = shard.records
    return next(reversed(records), 0) if records else 0


def _read(shard: Shard, after: int, limit: int) -> list:
    """Up to `limit` records after sequence number `after`, in order."""
    records = shard.records
    found = []
    sequence = after + 1
    while len(found) < limit and (record := records.get(sequence)) is not None:  # moto numbers each shard 1, 2, ...
        found.append(record)
        sequence += 1
    if len(found) < limit and _last_sequence(shard) >= sequence:  # a gap: scan instead
        found = [r for s, r in list(records.items()) if s > after][:limit]
    return found


def _within_payload_limit(records: list) -> list:
    total = 0
    for i, record in enumerate(records):
        total += len(record.data) + len(record.partition_key) + RECORD_OVERHEAD
        if total > PAYLOAD_LIMIT and i > 0:
            return records[:i]
    return records


def _max_sequence_number(shard: Shard) -> int:
    return _last_sequence(shard)


def _min_sequence_number(shard: Shard) -> int:
    return next(iter(shard.records), 0) if shard.records else 0


# moto finds a shard's last sequence number by listing every key, on every PutRecord: 20,000
# records took 7 s to put. Streams that feed mappings grow long, so make it O(1).
patches.replace(Shard, "get_max_sequence_number", _max_sequence_number)
patches.replace(Shard, "get_min_sequence_number", _min_sequence_number)

"""Firehose delivery streams that buffer and deliver like AWS: what of moto's Firehose is intercepted.

moto 5.2.5 writes one S3 object per PutRecord / PutRecordBatch call, at once, named with the time of the
call, ignoring BufferingHints, CompressionFormat, ErrorOutputPrefix, prefix expressions, format conversion,
the destination's role and KinesisStreamAsSource. `patches` changes it so that
- CreateDeliveryStream / UpdateDestination check an S3 or ExtendedS3 destination as AWS does
  (configuration.py) and refuse, saying so, what local AWS does not run; a KinesisStreamAsSource stream
  needs its Kinesis stream and a role Firehose can assume, and starts reading at LATEST (kinesis_source.py);
- PutRecord / PutRecordBatch enforce AWS's limits: 500 records and 4 MiB per call, 1,000 KiB per record
  (ValidationException / InvalidArgumentException with AWS's messages), the Direct PUT throughput quotas
  (records over them fail with ServiceUnavailableException "Slow down.", FailedPutCount counting them;
  Settings.firehose_throughput_limits turns this off), and refuse a KinesisStreamAsSource stream;
- accepted records (and CloudWatch Logs subscription deliveries, which moto sends through the same
  method) join the stream's buffer (buffering.py) and are delivered by the Deliverer worker when the
  size or interval hint is reached (delivery.py), as the destination's role;
- DeleteDeliveryStream first delivers what the stream still buffers (AWS makes no promise here);
  moto's reset drops it; the server's stop delivers every buffer (shutdown()).
Differences from AWS: docs/local-aws/firehose.md.
"""

from __future__ import annotations

import base64
import contextvars
import inspect
import logging
import os
from typing import Any

from moto.firehose.exceptions import FirehoseException, InvalidArgumentException, ResourceNotFoundException
from moto.firehose.models import FirehoseBackend
from moto.firehose.responses import FirehoseResponse

from local_aws import clock, config, workers
from local_aws.firehose import delivery, kinesis_source, monitoring
from local_aws.firehose.buffering import Record, find_state, state_of
from local_aws.firehose.configuration import (
    BATCH_MAX_BYTES,
    BATCH_MAX_RECORDS,
    RECORD_MAX_BYTES,
    ConfigError,
    S3Destination,
)
from local_aws.patching import Patches, json_answer

log = logging.getLogger(__name__)

# After S3 access logging: the final flush at the server's stop writes S3 objects, whose access-log records
# are delivered by access logging's own final flush, which runs after this executor's (dependants stop first).
patches = Patches(__name__, after=("local_aws.s3.access_logging",))

KINESIS_SOURCE = kinesis_source.KINESIS_SOURCE

# Set while PutRecord's own checks have admitted its record: moto's put_record calls put_record_batch.
_admitted: contextvars.ContextVar[bool] = contextvars.ContextVar("firehose_admitted", default=False)


class FirehoseError(FirehoseException):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


def _error(error: ConfigError) -> FirehoseError:
    return FirehoseError(error.code, error.message)


def _stream(backend: FirehoseBackend, name: str):
    stream = backend.delivery_streams.get(name)
    if stream is None:
        raise ResourceNotFoundException(f"Firehose {name} under account {backend.account_id} not found.")
    return stream


# --- CreateDeliveryStream / UpdateDestination -----------------------------------------------------------

_CREATE = inspect.signature(FirehoseBackend.create_delivery_stream)


@patches.wrap(FirehoseBackend, "create_delivery_stream")
def _create_delivery_stream(original, self: FirehoseBackend, *args, **kwargs) -> str:
    request = _CREATE.bind(self, *args, **kwargs).arguments
    for field, kind in (
        ("extended_s3_destination_configuration", "ExtendedS3"),
        ("s3_destination_configuration", "S3"),
    ):
        if request.get(field):
            try:
                S3Destination.parse(request[field], kind)
            except ConfigError as error:
                raise _error(error) from None
    stream_type = request.get("delivery_stream_type") or "DirectPut"
    source = request.get("kinesis_stream_source_configuration")
    kinesis = None
    if stream_type == KINESIS_SOURCE:
        if not source or not source.get("KinesisStreamARN") or not source.get("RoleARN"):
            raise InvalidArgumentException(
                "KinesisStreamSourceConfiguration with KinesisStreamARN and RoleARN is required for a "
                "KinesisStreamAsSource delivery stream"
            )
        try:
            kinesis = kinesis_source.kinesis_stream(source["KinesisStreamARN"])
            kinesis_source.check_role(source["RoleARN"], request.get("region") or self.region_name)
        except kinesis_source.SourceError as error:
            raise InvalidArgumentException(str(error)) from None
    arn = original(self, *args, **kwargs)
    stream = self.delivery_streams[request["delivery_stream_name"]]
    state = state_of(stream)
    if kinesis is not None:
        kinesis_source.start_at_latest(state, kinesis)
        kinesis_source.start()
    return arn


_UPDATE = inspect.signature(FirehoseBackend.update_destination)


@patches.wrap(FirehoseBackend, "update_destination")
def _update_destination(original, self: FirehoseBackend, *args, **kwargs) -> None:
    request = _UPDATE.bind(self, *args, **kwargs).arguments
    stream = self.delivery_streams.get(request.get("delivery_stream_name"))
    updated = []
    for field, kind in (("extended_s3_destination_update", "ExtendedS3"), ("s3_destination_update", "S3")):
        if stream is not None and request.get(field):
            entry = stream.destinations[0]
            current = dict(entry.get(kind) or entry.get("ExtendedS3") or entry.get("S3") or {})
            try:
                S3Destination.parse({**current, **request[field]}, kind)
            except ConfigError as error:
                raise _error(error) from None
            updated.append((kind, current))
    original(self, *args, **kwargs)
    for kind, current in updated:
        # An update changes the fields it names (moto starts afresh when S3 becomes ExtendedS3).
        config_now = stream.destinations[0].get(kind)
        if config_now is not None:
            config_now.update({key: value for key, value in current.items() if key not in config_now})
    delivery.wake()  # new hints apply to what is buffered


# --- PutRecord / PutRecordBatch -------------------------------------------------------------------------


def _refuse_kinesis_source(stream) -> None:
    if stream.delivery_stream_type == KINESIS_SOURCE:
        raise InvalidArgumentException("This operation is not permitted on KinesisStreamAsSource delivery stream type.")


def _too_long(path: str, size: int) -> str:
    return (f"Value 'java.nio.HeapByteBuffer[pos=0 lim={size} cap={size}]' at '{path}' failed to satisfy "
            f"constraint: Member must have length less than or equal to {RECORD_MAX_BYTES}")  # fmt: skip


def _validation(problems: list[str]) -> FirehoseError:
    count = len(problems)
    return FirehoseError("ValidationException",
                         f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems))  # fmt: skip


def _data(record: dict[str, Any]) -> bytes:
    data = record.get("Data", b"")
    return data if isinstance(data, bytes) else base64.b64decode(data)


@patches.wrap(FirehoseBackend, "put_record")
def _put_record(original, self: FirehoseBackend, delivery_stream_name: str, record: dict[str, Any]) -> dict:
    stream = _stream(self, delivery_stream_name)
    _refuse_kinesis_source(stream)
    size = len(_data(record))
    if size > RECORD_MAX_BYTES:
        raise _validation([_too_long("record.data", size)])
    state = state_of(stream)
    if config.settings.firehose_throughput_limits and not state.throughput.admit(state.region, [size])[0]:
        raise FirehoseError("ServiceUnavailableException", "Slow down.")
    token = _admitted.set(True)
    try:
        result = original(self, delivery_stream_name, record)
    finally:
        _admitted.reset(token)
    monitoring.publish(state, {"PutRecord.Bytes": size, "PutRecord.Requests": 1, "IncomingPutRequests": 1})
    result["Encrypted"] = _encrypted(stream)
    return result


@patches.wrap(FirehoseBackend, "put_record_batch")
def _put_record_batch(original, self: FirehoseBackend, delivery_stream_name: str, records: list[dict]) -> dict:
    if _admitted.get():  # PutRecord's record, checked there
        return original(self, delivery_stream_name, records)
    stream = _stream(self, delivery_stream_name)
    _refuse_kinesis_source(stream)
    records = records or []
    sizes = [len(_data(record)) for record in records]
    problems = []
    if len(records) > BATCH_MAX_RECORDS:
        problems.append(f"Value '{records!r:.200}' at 'records' failed to satisfy constraint: Member must have "
                        f"length less than or equal to {BATCH_MAX_RECORDS}")  # fmt: skip
    problems += [
        _too_long(f"records.{i}.member.data", size) for i, size in enumerate(sizes, 1) if size > RECORD_MAX_BYTES
    ]
    if problems:
        raise _validation(problems)
    if sum(sizes) > BATCH_MAX_BYTES:
        raise InvalidArgumentException("Records size exceeds 4 MB limit")
    state = state_of(stream)
    admitted = [True] * len(records)
    if config.settings.firehose_throughput_limits:
        admitted = state.throughput.admit(state.region, sizes)
    accepted = [record for record, ok in zip(records, admitted, strict=True) if ok]
    result = original(self, delivery_stream_name, accepted) if accepted else {"RequestResponses": []}
    answers = iter(result.get("RequestResponses") or [])
    responses = [next(answers, {"RecordId": _record_id()}) if ok else
                 {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."} for ok in admitted]  # fmt: skip
    accepted_bytes = sum(size for size, ok in zip(sizes, admitted, strict=True) if ok)
    monitoring.publish(state, {"PutRecordBatch.Records": len(accepted), "PutRecordBatch.Bytes": accepted_bytes,
                               "PutRecordBatch.Requests": 1, "IncomingPutRequests": 1})  # fmt: skip
    return {"FailedPutCount": len(records) - len(accepted), "Encrypted": _encrypted(stream),
            "RequestResponses": responses}  # fmt: skip


@patches.wrap(FirehoseResponse, "put_record_batch")
def _put_record_batch_answer(original, self: FirehoseResponse) -> Any:
    return json_answer(original(self))


def _encrypted(stream) -> bool:
    encryption = stream.delivery_stream_encryption_configuration or {}
    return bool(encryption) and encryption.get("Status", "ENABLED") == "ENABLED"


def _record_id() -> str:
    """A RecordId shaped like AWS's (a long opaque base64 string)."""
    return base64.b64encode(os.urandom(84)).decode()


def _record_ids(count: int) -> list[str]:
    """count RecordIds from one read of the random source (a read per record cost 2 ms a full batch)."""
    random = os.urandom(84 * count)
    return [base64.b64encode(random[i : i + 84]).decode() for i in range(0, 84 * count, 84)]


def _put_s3_records(self: FirehoseBackend, delivery_stream_name: str, version_id: str,
                    s3_destination: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, str]]:  # fmt: skip
    """Where moto wrote one object per call: the records join the stream's buffer instead."""
    stream = _stream(self, delivery_stream_name)
    now = clock.now()
    buffered = [Record(_data(record), now) for record in records]
    delivery.buffer(stream, buffered)
    if buffered:
        monitoring.publish(state_of(stream), {"IncomingRecords": len(buffered),
                                              "IncomingBytes": sum(len(r.data) for r in buffered)})  # fmt: skip
    return [{"RecordId": record_id} for record_id in _record_ids(len(records))]


patches.replace(FirehoseBackend, "put_s3_records", _put_s3_records)


# --- DeleteDeliveryStream, reset ------------------------------------------------------------------------


@patches.wrap(FirehoseBackend, "delete_delivery_stream")
def _delete_delivery_stream(original, self: FirehoseBackend, delivery_stream_name: str, *args, **kwargs) -> None:
    stream = self.delivery_streams.get(delivery_stream_name)
    if stream is not None:
        delivery.final_flush(stream)  # what the stream buffered is delivered before it goes
        state_of(stream).deleted = True
    original(self, delivery_stream_name, *args, **kwargs)


@patches.wrap(FirehoseBackend, "reset")
def _reset(original, self: FirehoseBackend) -> None:
    for stream in list(getattr(self, "delivery_streams", {}).values()):
        state = find_state(stream)
        if state is not None:
            state.deleted = True  # a delivery in flight stops before its next write
            state.discard()
    delivery.forget_roles()
    original(self)


# --- the server's start and stop ------------------------------------------------------------------------


def install() -> None:
    """Streams left by a server stopped in this process go on (their buffers were delivered at its stop)."""
    clock.on_advance("firehose", _clock_moved)  # keyed by name: once
    if any(stream.delivery_stream_type == KINESIS_SOURCE for _, stream in delivery.streams()):
        kinesis_source.start()


def _clock_moved(previous, current) -> None:
    """Buffer intervals and retries follow local AWS's clock: moving it forward delivers what fell due."""
    deliverer = workers.find(delivery.Deliverer)
    if deliverer is not None:
        deliverer.wake()


def shutdown() -> None:
    """Stop reading Kinesis sources, then the delivery worker, then deliver every buffer once."""
    workers.stop(kinesis_source.KinesisReader, delivery.Deliverer)
    for _, stream in delivery.streams():
        delivery.final_flush(stream)

"""KinesisStreamAsSource: a delivery stream that reads a Kinesis data stream, as Firehose does.

Firehose "starts reading data from the LATEST position of your Kinesis stream" when the delivery stream
is created and calls GetRecords about once a second per shard. Here the KinesisReader worker reads every
such delivery stream's shards from moto's Kinesis backend every `Settings.firehose_kinesis_poll_seconds`
(default 1 s), at most 10,000 records per shard and round (GetRecords' limit), from the checkpoints set
at creation (each shard's last sequence number then). Shards created by resharding are read from their
start once their parents are read to the end. The records go into the delivery stream's buffer
(delivery.buffer) like PutRecordBatch's, with their sequence numbers.

The source's RoleARN must exist and trust firehose.amazonaws.com (checked at creation and while reading);
the Kinesis API is not IAM-enforced locally, so its permissions (kinesis:GetRecords, ...) are not checked.
"""

from __future__ import annotations

import base64
import logging
import threading

from moto.kinesis.models import Shard, Stream, kinesis_backends

from local_aws import clock, config, workers
from local_aws.firehose import delivery, monitoring
from local_aws.firehose.buffering import Record, StreamState, find_state

log = logging.getLogger(__name__)

KINESIS_SOURCE = "KinesisStreamAsSource"
MAX_RECORDS_PER_READ = 10_000


class SourceError(LookupError):
    """The source stream or its role cannot be used; reported on the stream once, retried every round."""


def kinesis_stream(arn: str) -> Stream:
    """The moto Kinesis stream with this ARN; SourceError if there is none."""
    try:
        _, partition, _, region, account_id, resource = arn.split(":", 5)
    except ValueError:
        raise SourceError(f"{arn} is not a Kinesis stream ARN") from None
    name = resource.split("/", 1)[-1]
    stream = kinesis_backends[account_id][region].streams.get(name)
    if stream is None or stream.arn != arn:
        raise SourceError(f"Kinesis stream {name} under account {account_id} not found.")
    return stream


def check_role(role_arn: str, region: str) -> None:
    """The source role must exist and trust firehose.amazonaws.com."""
    try:
        delivery.role_credentials(role_arn, region, code="Kinesis.AccessDenied")
    except delivery.DeliveryError:
        raise SourceError(f"Firehose is unable to assume role {role_arn}. Please check the role provided.") from None


def start_at_latest(state: StreamState, stream: Stream) -> None:
    """Checkpoints at each shard's end: what the Kinesis stream holds now is not read (LATEST)."""
    for shard in list(stream.shards.values()):
        state.kinesis_checkpoints[shard.shard_id] = _last_sequence(shard)


def _last_sequence(shard: Shard) -> int:
    records = shard.records
    try:
        return next(reversed(records)) if records else 0
    except (StopIteration, RuntimeError):
        return max(list(records), default=0)


def _read(shard: Shard, after: int, limit: int) -> list:
    """Up to `limit` records of the shard after sequence number `after`, in order."""
    records = shard.records
    found = []
    sequence = after + 1
    while len(found) < limit and (record := records.get(sequence)) is not None:  # moto numbers 1, 2, 3, ...
        found.append(record)
        sequence += 1
    if len(found) < limit and _last_sequence(shard) >= sequence:  # a gap in the numbers: scan
        found = [r for s, r in sorted(list(records.items())) if s > after][:limit]
    return found


def _ready(stream: Stream, shard: Shard, state: StreamState) -> bool:
    """A child of a split or merge waits until its parents are read to the end, as on AWS."""
    for parent_id in (shard.parent, shard.adjacent_parent):
        parent = stream.shards.get(parent_id) if parent_id else None
        if parent is None:
            continue
        if parent.is_open or state.kinesis_checkpoints.get(parent_id, 0) < _last_sequence(parent):
            return False
    return True


def read_once(delivery_stream) -> int:
    """Read what the source has for a KinesisStreamAsSource delivery stream; returns the records read."""
    state = find_state(delivery_stream)
    if state is None or state.deleted:
        return 0
    source = delivery_stream.source or {}
    try:
        check_role(source.get("RoleARN") or "", state.region)
        kinesis = kinesis_stream(source.get("KinesisStreamARN") or "")
    except SourceError as error:
        if state.source_problem != str(error):  # once per problem, not every second
            log.warning("Firehose %s cannot read its source: %s", state.name, error)
            state.source_problem = str(error)
        return 0
    state.source_problem = None
    total, size = 0, 0
    for shard in list(kinesis.shards.values()):
        checkpoint = state.kinesis_checkpoints.setdefault(shard.shard_id, 0)  # a new shard: from its start
        if not _ready(kinesis, shard, state):
            continue
        found = _read(shard, checkpoint, MAX_RECORDS_PER_READ)
        if not found:
            continue
        now = clock.now()
        records = [Record(base64.b64decode(r.data), now, str(r.sequence_number)) for r in found]
        delivery.buffer(delivery_stream, records)
        state.kinesis_checkpoints[shard.shard_id] = found[-1].sequence_number
        total += len(records)
        size += sum(len(r.data) for r in records)
    if total:
        monitoring.publish(state, {"DataReadFromKinesisStream.Records": total, "DataReadFromKinesisStream.Bytes": size})
    return total


class KinesisReader:
    """Reads every KinesisStreamAsSource delivery stream's source each poll interval; a worker."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="firehose-kinesis-source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _serve(self) -> None:
        while not self._stop.wait(config.settings.firehose_kinesis_poll_seconds):
            for _, stream in delivery.streams():
                if self._stop.is_set():
                    return
                if stream.delivery_stream_type != KINESIS_SOURCE:
                    continue
                try:
                    read_once(stream)
                except Exception:  # noqa: BLE001 (a failing read is retried next round, never stops the reader)
                    log.exception("Firehose %s: reading its Kinesis source failed", stream.delivery_stream_name)


def start() -> None:
    try:
        workers.get(KinesisReader)
    except workers.NotRunning:
        pass

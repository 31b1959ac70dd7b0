"""A shard's write limits on PutRecord and PutRecords, as AWS enforces them; moto 5.2.5 accepts any rate.

Over the limit (meter.py: 1,000 records and 1 MiB per second per shard, rolling):
- PutRecord fails with ProvisionedThroughputExceededException (HTTP 400), worded as AWS words it:
  "Rate exceeded for shard shardId-000000000000 in stream clicks under account 123456789012.";
- PutRecords succeeds partially: each refused record's entry has ErrorCode
  ProvisionedThroughputExceededException and that ErrorMessage (no SequenceNumber or ShardId),
  FailedRecordCount counts them, the others are written in order and counted in the metrics.
A request is validated whole (500 records, 5 MiB, 1 MiB a record, partition keys) before any
record is metered or written. `--no-kinesis-limits` (Settings.kinesis_limits) accepts everything.
On-demand streams get the same per-shard limits on moto's 4 shards: docs/local-aws/kinesis.md.
"""

from __future__ import annotations

import threading
from base64 import b64decode
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.kinesis.exceptions import RecordSizeExceedsLimit, TooManyRecords, TotalRecordsSizeExceedsLimit
from moto.kinesis.models import KinesisBackend, Shard, Stream
from moto.kinesis.responses import KinesisResponse

from local_aws import config
from local_aws.kinesis.meter import ShardMeter
from local_aws.patching import Patches, json_answer

patches = Patches(__name__)

THROTTLED = "ProvisionedThroughputExceededException"
MAX_RECORDS = 500  # PutRecords, as moto checks them
MAX_REQUEST_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024

_meters_lock = threading.Lock()


class ProvisionedThroughputExceeded(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__(THROTTLED, message)


def rate_exceeded(stream: Stream, shard: Shard) -> str:
    return f"Rate exceeded for shard {shard.shard_id} in stream {stream.stream_name} under account {stream.account_id}."


def meter(shard: Shard) -> ShardMeter:
    """The shard's meter, kept on moto's Shard so a reset or a deleted stream forgets it."""
    found = getattr(shard, "write_meter", None)
    if found is None:
        with _meters_lock:
            found = getattr(shard, "write_meter", None)
            if found is None:
                found = shard.write_meter = ShardMeter()
    return found


def record_size(data_base64: str, partition_key: str) -> int:
    """Bytes a record uses of a shard's throughput: its data plus its partition key (UTF-8)."""
    return len(b64decode(data_base64 or "")) + len((partition_key or "").encode())


def _enforced() -> bool:
    return config.settings.kinesis_limits


@patches.wrap(KinesisBackend, "put_record")
def _put_record(
    original,
    self: KinesisBackend,
    stream_arn: str,
    stream_name: str,
    partition_key: str,
    explicit_hash_key: str,
    data: str,
) -> tuple[str, str]:
    if _enforced():
        stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
        shard = stream.get_shard_for_key(partition_key, explicit_hash_key)
        if shard is not None and not meter(shard).admit([record_size(data, partition_key)])[0]:
            raise ProvisionedThroughputExceeded(rate_exceeded(stream, shard))
    return original(self, stream_arn, stream_name, partition_key, explicit_hash_key, data)


@patches.wrap(KinesisBackend, "put_records")
def _put_records(
    original, self: KinesisBackend, stream_arn: str, stream_name: str, records: list[dict[str, Any]]
) -> dict[str, Any]:
    if not _enforced():
        return original(self, stream_arn, stream_name, records)
    stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    sizes = _validated_sizes(records)
    # Every record's shard first: an invalid partition key fails the request before anything is written.
    shards = [stream.get_shard_for_key(r.get("PartitionKey"), r.get("ExplicitHashKey")) for r in records]
    by_shard: dict[int, list[int]] = {}
    for index, shard in enumerate(shards):
        if shard is not None:  # moto's hash ranges miss the top key; moto answers that one as it does
            by_shard.setdefault(id(shard), []).append(index)
    accepted = [True] * len(records)
    for indexes in by_shard.values():
        verdicts = meter(shards[indexes[0]]).admit([sizes[i] for i in indexes])
        for index, verdict in zip(indexes, verdicts, strict=True):
            accepted[index] = verdict
    written = iter(
        original(self, stream_arn, stream_name, [r for r, ok in zip(records, accepted, strict=True) if ok])["Records"]
    )
    entries = [
        next(written) if ok else {"ErrorCode": THROTTLED, "ErrorMessage": rate_exceeded(stream, shards[index])}
        for index, ok in enumerate(accepted)
    ]
    return {"FailedRecordCount": accepted.count(False), "Records": entries}


@patches.wrap(KinesisResponse, "put_records")
def _put_records_answer(original, self: KinesisResponse) -> Any:
    """PutRecords' answer dumped as is (patching.json_answer): moto's serializer took 100 ms for 500 entries."""
    return json_answer(original(self))


def _validated_sizes(records: list[dict[str, Any]]) -> list[int]:
    """Each record's size, after moto's checks of the whole request (so a refused request meters nothing)."""
    if len(records) > MAX_RECORDS:
        raise TooManyRecords
    sizes = [record_size(r.get("Data", ""), r.get("PartitionKey", "")) for r in records]
    if sum(sizes) > MAX_REQUEST_BYTES:
        raise TotalRecordsSizeExceedsLimit
    for position, size in enumerate(sizes, start=1):
        if size > MAX_RECORD_BYTES:
            raise RecordSizeExceedsLimit(position=position)
    return sizes

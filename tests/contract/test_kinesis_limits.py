"""A Kinesis shard's write limits through boto3 against local AWS: 1,000 records and 1 MiB per second per shard.

Over the limit PutRecords fails only the records that do not fit, each with AWS's ErrorCode and
message, and PutRecord fails whole; a second later the shard takes writes again. The clickstream
generator's retries deliver every event exactly once despite the throttling, read back with
GetRecords. `--no-kinesis-limits` (Settings.kinesis_limits) lets everything through.
"""

from __future__ import annotations

import io
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from labkit.clickstream import Retry, generate, parse_phases, send
from local_aws import config
from local_aws.kinesis.meter import ShardMeter
from tests.conftest import REGION

ACCOUNT = "123456789012"
THROTTLED = "ProvisionedThroughputExceededException"


def rate_exceeded(stream: str, shard: int = 0) -> str:
    return f"Rate exceeded for shard shardId-{shard:012d} in stream {stream} under account {ACCOUNT}."


@pytest.fixture
def kinesis(aws_client, local_aws):
    # One attempt: botocore retries ProvisionedThroughputExceededException on its own, which would hide it.
    client = boto3.client(
        "kinesis",
        region_name=REGION,
        endpoint_url=local_aws.endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    # The first writes of a process are slow (lazy imports, up to ~1.5 s): pay for them before a test counts seconds.
    client.create_stream(StreamName="warm-up", ShardCount=1)
    client.put_record(StreamName="warm-up", Data=b"x", PartitionKey="k")
    client.put_records(StreamName="warm-up", Records=[{"Data": b"x", "PartitionKey": "k"}])
    return client


@pytest.fixture
def stream(kinesis):
    """make(shards=1, on_demand=False) -> name of a new ACTIVE stream."""

    def make(shards: int = 1, on_demand: bool = False) -> str:
        name = f"clicks-{uuid.uuid4().hex[:8]}"
        if on_demand:
            kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        else:
            kinesis.create_stream(StreamName=name, ShardCount=shards)
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
        return name

    return make


def records(count: int, size: int = 10, key: str = "user-1", hash_key: str | None = None) -> list[dict]:
    extra = {"ExplicitHashKey": hash_key} if hash_key is not None else {}
    return [{"Data": f"{i:0{size}d}".encode()[:size], "PartitionKey": key, **extra} for i in range(count)]


def read_all(kinesis, name: str) -> list[bytes]:
    """Every record's data in the stream, shard by shard, in order."""
    found = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while True:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10000)
            found += [record["Data"] for record in page["Records"]]
            if not page["Records"] and page["MillisBehindLatest"] == 0:
                break
            iterator = page["NextShardIterator"]
    return found


def within_one_second(burst: Callable[[], tuple[float, Any]]) -> Any:
    """burst() -> (seconds its calls after the first took, result): the result of a burst whose calls landed
    within one second of the limit's window. On a loaded machine one may not, so up to three tries."""
    for _ in range(3):
        elapsed, result = burst()
        if elapsed < 1.0:
            return result
    pytest.fail(f"the calls took {elapsed:.2f} s three times; the test needs them within a second")


def test_a_burst_over_1000_records_a_second_fails_only_the_records_over_it(kinesis, stream):
    def burst():
        name = stream()
        responses = [kinesis.put_records(StreamName=name, Records=records(500))]
        began = time.monotonic()  # the first call's records were accepted before it returned
        responses += [kinesis.put_records(StreamName=name, Records=records(500)) for _ in range(2)]
        return time.monotonic() - began, (name, responses)

    name, responses = within_one_second(burst)

    assert [response["FailedRecordCount"] for response in responses] == [0, 0, 500]
    assert all("SequenceNumber" in entry and "ErrorCode" not in entry for entry in responses[0]["Records"])
    refused = responses[2]["Records"]
    assert {entry["ErrorCode"] for entry in refused} == {THROTTLED}
    assert {entry["ErrorMessage"] for entry in refused} == {rate_exceeded(name)}
    assert not any("SequenceNumber" in entry or "ShardId" in entry for entry in refused)
    assert len(read_all(kinesis, name)) == 1000  # refused records are not in the stream


def test_a_burst_over_1_mib_a_second_fails_the_records_that_do_not_fit(kinesis, stream):
    name = stream()
    big, small = 200_000, 40_000  # 5 big records (+ 1-byte keys) use 1,000,005 of 1,048,576 bytes
    batch = records(6, size=big, key="k") + records(1, size=small, key="k")
    response = kinesis.put_records(StreamName=name, Records=batch)

    assert response["FailedRecordCount"] == 1
    codes = [entry.get("ErrorCode") for entry in response["Records"]]
    assert codes == [None] * 5 + [THROTTLED, None]  # the 6th does not fit; the smaller 7th still does
    assert response["Records"][5]["ErrorMessage"] == rate_exceeded(name)
    assert sorted(len(data) for data in read_all(kinesis, name)) == [small] + [big] * 5


def test_put_record_over_the_limit_is_throttled_and_a_second_later_the_shard_takes_writes_again(kinesis, stream):
    def burst():
        name = stream()
        assert kinesis.put_records(StreamName=name, Records=records(500))["FailedRecordCount"] == 0
        began = time.monotonic()  # the first call's records were accepted before it returned
        assert kinesis.put_records(StreamName=name, Records=records(500))["FailedRecordCount"] == 0
        try:
            kinesis.put_record(StreamName=name, Data=b"one more", PartitionKey="user-1")
            refused = None
        except ClientError as error:
            refused = error.response
        return time.monotonic() - began, (name, refused)

    name, refused = within_one_second(burst)
    assert refused is not None, "PutRecord over the limit was accepted"
    assert refused["Error"]["Code"] == THROTTLED
    assert refused["Error"]["Message"] == rate_exceeded(name)
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400

    time.sleep(1.05)
    assert kinesis.put_record(StreamName=name, Data=b"one more", PartitionKey="user-1")["ShardId"]
    assert kinesis.put_records(StreamName=name, Records=records(500))["FailedRecordCount"] == 0
    assert len(read_all(kinesis, name)) == 1501


def test_each_shard_has_its_own_limit(kinesis, stream):
    name = stream(shards=2)
    second = kinesis.list_shards(StreamName=name)["Shards"][1]
    for _ in range(2):
        assert kinesis.put_records(StreamName=name, Records=records(500, hash_key="0"))["FailedRecordCount"] == 0
    to_first = kinesis.put_records(StreamName=name, Records=records(10, hash_key="0"))
    to_second = kinesis.put_records(
        StreamName=name, Records=records(10, hash_key=second["HashKeyRange"]["StartingHashKey"])
    )
    assert (to_first["FailedRecordCount"], to_second["FailedRecordCount"]) == (10, 0)
    assert {entry["ShardId"] for entry in to_second["Records"]} == {second["ShardId"]}
    assert to_first["Records"][0]["ErrorMessage"] == rate_exceeded(name, 0)


def test_an_on_demand_stream_takes_1000_records_a_second_on_each_of_its_4_shards(kinesis, stream):
    """4,000 records/s and 4 MiB/s: AWS's write capacity of a new on-demand stream (no scaling beyond it here)."""
    name = stream(on_demand=True)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    assert len(shards) == 4
    for index, shard in enumerate(shards):
        start = shard["HashKeyRange"]["StartingHashKey"]
        for _ in range(2):
            assert kinesis.put_records(StreamName=name, Records=records(500, hash_key=start))["FailedRecordCount"] == 0
        over = kinesis.put_records(StreamName=name, Records=records(1, hash_key=start))
        assert over["Records"][0]["ErrorMessage"] == rate_exceeded(name, index)


def test_the_generator_retries_until_every_event_is_in_the_stream_exactly_once(kinesis, stream):
    name = stream()  # one shard: 3,000 events at 2,500 a second are throttled to 1,000 a second
    phases = parse_phases("normal:0.8:10,burst:0.4:40")
    start = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    progress = io.StringIO()

    summary = send(
        kinesis, name, phases, rate=2500, seed=11, start=start, progress=progress,
        retry=Retry(attempts=40, base_seconds=0.05, max_seconds=0.5),
    )  # fmt: skip

    expected = list(generate(phases, 2500, 11, start))
    assert len(expected) == 3000
    assert summary.failures.get(THROTTLED, 0) > 0 and summary.retried > 0  # the limit was hit and retried
    assert (summary.sent, summary.lost) == (3000, 0)
    assert [(p.impressions, p.clicks) for p in summary.phases] == [
        (sum(not e.click for e in expected if e.phase == i), sum(e.click for e in expected if e.phase == i))
        for i in range(2)
    ]
    assert Counter(read_all(kinesis, name)) == Counter(event.data for event in expected)
    assert "sent" in progress.getvalue()


def test_with_limits_off_a_shard_takes_everything(kinesis, stream, monkeypatch):
    monkeypatch.setattr(config.settings, "kinesis_limits", False)
    name = stream()
    for _ in range(5):
        assert kinesis.put_records(StreamName=name, Records=records(500))["FailedRecordCount"] == 0
    assert kinesis.put_record(StreamName=name, Data=b"x" * 1_000_000, PartitionKey="k")["ShardId"]
    assert len(read_all(kinesis, name)) == 2501


# -- the meter alone (local_aws/kinesis/meter.py): the rolling window on a clock the test moves ------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_window_rolls_a_record_leaves_it_one_second_after_it_was_accepted():
    clock = Clock()
    meter = ShardMeter(clock=clock)
    assert meter.admit([1] * 600) == [True] * 600
    clock.now += 0.5
    assert meter.admit([1] * 600) == [True] * 400 + [False] * 200  # 1,000 in the last second
    clock.now += 0.5  # the first 600 leave the window; the 400 are half a second old
    assert meter.admit([1] * 601) == [True] * 600 + [False]
    assert meter.usage() == (1000, 1000)
    clock.now += 1.0
    assert meter.usage() == (0, 0)


def test_an_idle_shard_takes_one_record_of_any_valid_size_then_bytes_count():
    clock = Clock()
    meter = ShardMeter(clock=clock)
    assert meter.admit([1024 * 1024 + 256, 1]) == [True, False]  # a full 1 MiB record plus its key
    clock.now += 1.0
    assert meter.admit([600_000, 600_000, 448_576]) == [True, False, True]

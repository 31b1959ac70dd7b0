"""Event source pollers against local AWS, with a scripted handler in place of the Lambda runtime.

The handler here is a Python function called with the event the poller built (delivery._runtime
is swapped for a fake), so retries, bisecting, windows and deletes are checked exactly and fast.
tests/contract/test_lambda_event_sources.py runs the same sources through the real runtime.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import threading
import time
import uuid
from types import SimpleNamespace

import pytest

from local_aws import config
from local_aws.lambda_.event_sources import delivery
from local_aws.lambda_.invoke import InvokeError
from tests import lambda_support
from tests.event_source_support import count_poller_rounds, tumbling_windows, windows_closed
from tests.lambda_support import create_role, zip_of

# The scripted handler answers at once: poll often, give up sooner.
wait_for = functools.partial(lambda_support.wait_for, limit=10.0, every=0.02)


class ScriptedRuntime:
    """Stands in for local_aws/lambda_/invoke.py: runs `handler(event)` in the caller's thread."""

    def __init__(self):
        self.handler = lambda event: None
        self.throttles = 0  # invocations to refuse first, as a throttled Invoke is refused
        self.events: list[dict] = []
        self.async_events: list[dict] = []
        self.lock = threading.Lock()

    def invoke(self, function, payload, *, qualifier=None, client_context=None):
        event = json.loads(payload)
        with self.lock:
            if self.throttles:
                self.throttles -= 1
                raise InvokeError("TooManyRequestsException", "Rate Exceeded.", 429)
            self.events.append(event)
        try:
            result, error = self.handler(event), None
        except Exception as exc:  # noqa: BLE001 (a handler's exception is a function error)
            result, error = {"errorMessage": str(exc), "errorType": type(exc).__name__}, "Unhandled"
        return SimpleNamespace(
            status_code=200, payload=json.dumps(result).encode(), function_error=error,
            log_tail="", executed_version="$LATEST",
        )  # fmt: skip

    def invoke_async(self, function, payload, *, qualifier=None):
        with self.lock:
            self.async_events.append(json.loads(payload))
        return "request-id"


@pytest.fixture(scope="module")
def aws_client(local_aws_server):
    """Clients of the session's server. These tests share it without a reset (resets take seconds):
    each makes its own streams and queues, and every mapping is deleted after each test."""
    import boto3

    def make(service: str):
        return boto3.client(service, region_name="us-east-1", endpoint_url=local_aws_server.endpoint_url)

    return make


@pytest.fixture(scope="module")
def function_arn(aws_client):
    role = create_role(aws_client("iam"), f"esm-role-{unique()}", policy=None)
    name = f"consumer-{unique()}"
    return aws_client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Timeout=1,  # no more than the test queues' visibility timeout, as AWS requires
        Code={"ZipFile": zip_of({"handler.py": "def handler(event, context):\n    return None\n"})},
    )["FunctionArn"]


@pytest.fixture
def runtime(monkeypatch, aws_client, function_arn):
    fake = ScriptedRuntime()
    monkeypatch.setattr(delivery, "_runtime", lambda: fake)
    monkeypatch.setattr(config.settings, "lambda_poll_seconds", 0.05)
    yield fake
    lam = aws_client("lambda")
    mappings = [m["UUID"] for m in lam.list_event_source_mappings(FunctionName=function_arn)["EventSourceMappings"]]
    for mapping in mappings:
        lam.delete_event_source_mapping(UUID=mapping)
    wait_for(lambda: not pollers_of(mappings))


def unique() -> str:
    return uuid.uuid4().hex[:8]


def pollers_of(mappings: list[str]) -> list[threading.Thread]:
    """The poller threads (and their shard workers) of these mappings still alive."""
    prefixes = tuple(f"esm-{mapping[:8]}" for mapping in mappings)
    return [t for t in threading.enumerate() if prefixes and t.name.startswith(prefixes)]


def wait_enabled(lam, uuid, state="Enabled"):
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == state)


def datas(event):
    return [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]


@pytest.fixture
def stream(aws_client):
    kinesis = aws_client("kinesis")
    name = f"clicks-{unique()}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    return SimpleNamespace(name=name, arn=arn, put=lambda data: kinesis.put_record(StreamName=name, Data=data.encode(),
                                                                                     PartitionKey="k"))  # fmt: skip


def queue_of(aws_client, name, **attributes):
    sqs = aws_client("sqs")
    stem, dot, fifo = name.partition(".")
    unique_name = f"{stem}-{unique()}{dot}{fifo}"
    url = sqs.create_queue(QueueName=unique_name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def drain(sqs, url):
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    return bodies


# ---------------------------------------------------------------------------------------------
# Kinesis
# ---------------------------------------------------------------------------------------------


def test_kinesis_batches_in_order_from_trim_horizon_and_checkpoints(runtime, aws_client, function_arn, stream):
    lam = aws_client("lambda")
    for i in range(5):
        stream.put(f"r{i}")
    created = lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", BatchSize=2
    )
    assert created["State"] == "Creating"
    assert created["LastProcessingResult"] == "No records processed"
    assert created["MaximumRetryAttempts"] == -1 and created["BisectBatchOnFunctionError"] is False
    wait_for(lambda: len(runtime.events) == 3)
    assert [datas(e) for e in runtime.events] == [["r0", "r1"], ["r2", "r3"], ["r4"]]
    stream.put("r5")  # the shard is read in order: anything delivered twice would come before r5
    wait_for(lambda: len(runtime.events) >= 4)
    assert [datas(e) for e in runtime.events] == [["r0", "r1"], ["r2", "r3"], ["r4"], ["r5"]]
    record = runtime.events[0]["Records"][0]
    assert record["eventID"] == f"shardId-000000000000:{record['kinesis']['sequenceNumber']}"
    assert record["eventSourceARN"] == stream.arn
    assert record["invokeIdentityArn"].startswith("arn:aws:iam::123456789012:role/esm-role-")
    mapping = lam.get_event_source_mapping(UUID=created["UUID"])
    assert mapping["State"] == "Enabled" and mapping["LastProcessingResult"] == "OK"


def test_kinesis_latest_skips_earlier_records_and_disable_keeps_the_checkpoint(runtime, aws_client, function_arn,
                                                                               stream, monkeypatch):  # fmt: skip
    lam = aws_client("lambda")
    rounds = count_poller_rounds(monkeypatch)
    stream.put("old")
    uuid = lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="LATEST"
    )["UUID"]
    wait_enabled(lam, uuid)
    stream.put("new")
    wait_for(lambda: runtime.events)
    assert [datas(e) for e in runtime.events] == [["new"]]

    assert lam.update_event_source_mapping(UUID=uuid, Enabled=False)["State"] == "Disabling"
    wait_enabled(lam, uuid, "Disabled")
    stream.put("while-disabled")
    since = rounds(uuid)
    wait_for(lambda: rounds(uuid) >= since + 2)  # two rounds of the disabled poller
    assert len(runtime.events) == 1
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    wait_for(lambda: len(runtime.events) == 2)
    assert datas(runtime.events[1]) == ["while-disabled"]


def test_kinesis_reads_every_shard_in_order_once(runtime, aws_client, function_arn):
    kinesis, lam = aws_client("kinesis"), aws_client("lambda")
    name = f"two-shards-{unique()}"
    kinesis.create_stream(StreamName=name, ShardCount=2)
    arn = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    put = {}

    def put_records(numbers):
        for i in numbers:
            key = f"user-{i % 4}"
            shard = kinesis.put_record(StreamName=name, Data=f"{key}:{i}".encode(), PartitionKey=key)["ShardId"]
            put.setdefault(key, []).append(f"{key}:{i}")
            put.setdefault(f"shard:{shard}", []).append(key)

    put_records(range(40))
    assert len([k for k in put if k.startswith("shard:")]) == 2  # the keys spread over both shards
    lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
                                    BatchSize=7)  # fmt: skip
    wait_for(lambda: sum(len(e["Records"]) for e in runtime.events) == 40)
    put_records(range(40, 44))  # one more per key: each shard is read in order, so a repeat would come first
    wait_for(lambda: {v for e in runtime.events for v in datas(e)} >= {f"user-{i % 4}:{i}" for i in range(40, 44)})
    got = {}
    for event in runtime.events:
        assert len({r["eventID"].split(":")[0] for r in event["Records"]}) == 1  # a batch comes from one shard
        for value in datas(event):
            got.setdefault(value.split(":")[0], []).append(value)
    assert got == {k: v for k, v in put.items() if not k.startswith("shard:")}  # per key: in order, once


def test_kinesis_invokes_for_several_shards_at_once(runtime, aws_client, function_arn):
    kinesis, lam = aws_client("kinesis"), aws_client("lambda")
    name = f"parallel-{unique()}"
    kinesis.create_stream(StreamName=name, ShardCount=2)
    arn = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]
    shards = {kinesis.put_record(StreamName=name, Data=b"x", PartitionKey=f"k{i}")["ShardId"] for i in range(8)}
    assert len(shards) == 2
    both_running = threading.Barrier(2, timeout=60)  # each shard's handler waits for the other's
    met = []

    def handler(event):
        try:
            both_running.wait()
            met.append(True)
        except threading.BrokenBarrierError:  # one shard after the other: never inside at the same time
            met.append(False)

    runtime.handler = handler
    lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON")
    wait_for(lambda: len(met) >= 2, limit=120)
    assert met[:2] == [True, True]  # the two shards' batches ran at the same time


def test_kinesis_at_timestamp_starts_at_the_first_record_since(runtime, aws_client, function_arn, stream):
    lam = aws_client("lambda")
    stream.put("before")
    time.sleep(0.1)
    since = time.time()
    time.sleep(0.1)
    stream.put("after")
    lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=stream.arn,
                                    StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=since)  # fmt: skip
    wait_for(lambda: runtime.events)
    stream.put("later")  # read in order after anything the mapping was going to deliver
    wait_for(lambda: ["later"] in [datas(e) for e in runtime.events])
    assert [datas(e) for e in runtime.events] == [["after"], ["later"]]


def test_kinesis_bisects_a_failing_batch_and_sends_the_bad_record_to_on_failure(runtime, aws_client, function_arn,
                                                                                stream):  # fmt: skip
    lam, sqs = aws_client("lambda"), aws_client("sqs")
    failures_url, failures_arn = queue_of(aws_client, "kinesis-failures")
    for data in ("a", "b", "bad", "c"):
        stream.put(data)

    def handler(event):
        if "bad" in datas(event):
            raise ValueError("bad record")

    runtime.handler = handler
    lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", BatchSize=4,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )  # fmt: skip
    wait_for(lambda: any(datas(e) == ["c"] for e in runtime.events))
    # [a b bad c] fails -> halves [a b] ok, [bad c] fails -> [bad] fails twice (1 retry) and is skipped, [c] ok
    assert [datas(e) for e in runtime.events] == [["a", "b", "bad", "c"], ["a", "b"], ["bad", "c"], ["bad"], ["bad"],
                                                  ["c"]]  # fmt: skip
    (record,) = wait_for(lambda: drain(sqs, failures_url))
    bad_sequence = runtime.events[3]["Records"][0]["kinesis"]["sequenceNumber"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["KinesisBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        "shardId-000000000000", bad_sequence, bad_sequence, 1)  # fmt: skip
    assert info["streamArn"] == stream.arn


def test_kinesis_on_failure_destination_can_be_an_s3_bucket(runtime, aws_client, function_arn, stream):
    lam, s3 = aws_client("lambda"), aws_client("s3")
    bucket = f"failures-{unique()}"
    s3.create_bucket(Bucket=bucket)

    def handler(event):
        raise ValueError("always")

    runtime.handler = handler
    stream.put("doomed")
    uuid = lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}},
    )["UUID"]  # fmt: skip
    (item,) = wait_for(lambda: s3.list_objects_v2(Bucket=bucket).get("Contents"))
    assert item["Key"].startswith(f"aws/lambda/{uuid}/shardId-000000000000/")
    record = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["KinesisBatchInfo"]["batchSize"] == 1


def test_sqs_fifo_record_has_the_group_and_deduplication_ids(runtime, aws_client, function_arn):
    lam, sqs = aws_client("lambda"), aws_client("sqs")
    url, arn = queue_of(aws_client, "orders.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    for body in ("first", "second"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="customer-1")
    lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=arn, BatchSize=10)
    wait_for(lambda: sum(len(e["Records"]) for e in runtime.events) == 2)
    records = [r for e in runtime.events for r in e["Records"]]
    assert [r["body"] for r in records] == ["first", "second"]  # a group's order is kept
    attributes = records[0]["attributes"]
    assert attributes["MessageGroupId"] == "customer-1"
    assert attributes["MessageDeduplicationId"] and attributes["SequenceNumber"]


def test_kinesis_throttled_invocations_are_retried_without_counting(runtime, aws_client, function_arn, stream):
    lam = aws_client("lambda")
    runtime.throttles = 3
    stream.put("patient")
    uuid = lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", MaximumRetryAttempts=0
    )["UUID"]
    wait_for(lambda: runtime.events)
    assert [datas(e) for e in runtime.events] == [["patient"]]  # not given up after 0 retries: never invoked
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK"


def test_kinesis_report_batch_item_failures_retries_from_the_lowest_failed_record(runtime, aws_client, function_arn,
                                                                                  stream):  # fmt: skip
    lam = aws_client("lambda")
    for i in range(5):
        stream.put(f"r{i}")
    seen = set()

    def handler(event):
        records = event["Records"]
        failed = [
            r for r in records if r["kinesis"]["sequenceNumber"] not in seen and datas({"Records": [r]}) == ["r2"]
        ]
        seen.update(r["kinesis"]["sequenceNumber"] for r in records)
        return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in failed]}

    runtime.handler = handler
    lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", BatchSize=5,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )  # fmt: skip
    wait_for(lambda: len(runtime.events) == 2)
    stream.put("r5")  # the shard goes on after the retried batch: nothing before r5 comes again
    wait_for(lambda: len(runtime.events) >= 3)
    assert [datas(e) for e in runtime.events] == [["r0", "r1", "r2", "r3", "r4"], ["r2", "r3", "r4"], ["r5"]]


def test_kinesis_unknown_item_identifier_fails_the_whole_batch(runtime, aws_client, function_arn, stream):
    lam = aws_client("lambda")
    stream.put("only")
    calls = []

    def handler(event):
        calls.append(1)
        return {"batchItemFailures": [{"itemIdentifier": "no-such-sequence"}]} if len(calls) == 1 else None

    runtime.handler = handler
    lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )  # fmt: skip
    wait_for(lambda: len(runtime.events) == 2)
    assert datas(runtime.events[1]) == ["only"]


def test_kinesis_tumbling_window_carries_state_and_ends_with_a_final_invoke(runtime, aws_client, function_arn,
                                                                            stream):  # fmt: skip
    lam = aws_client("lambda")

    def handler(event):
        total = event["state"].get("total", 0) + sum(int(d) for d in datas(event))
        return {"state": {"total": total}}

    runtime.handler = handler
    window = 2
    lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", BatchSize=2,
        TumblingWindowInSeconds=window,
    )  # fmt: skip
    for value in (1, 2, 3):  # usually in one window; a slow machine may spread them over two
        stream.put(str(value))
    wait_for(lambda: windows_closed(runtime.events, records=3), limit=2 * window + 30)
    batches = tumbling_windows(
        runtime.events, window, datas, lambda seen: {"total": sum(map(int, seen))} if seen else {}
    )
    assert [v for window_batches in batches for batch in window_batches for v in batch] == ["1", "2", "3"]
    assert {(e["shardId"], e["eventSourceARN"]) for e in runtime.events} == {("shardId-000000000000", stream.arn)}


def test_kinesis_tumbling_window_response_without_state_is_a_failure(runtime, aws_client, function_arn, stream):
    lam = aws_client("lambda")
    calls = []

    def handler(event):
        calls.append(event)
        return {"state": {"seen": 1}} if len(calls) > 1 else {"no": "state"}

    runtime.handler = handler
    stream.put("x")
    lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=stream.arn,
                                    StartingPosition="TRIM_HORIZON", TumblingWindowInSeconds=60)  # fmt: skip
    wait_for(lambda: len(runtime.events) >= 2)
    assert [datas(e) for e in runtime.events[:2]] == [["x"], ["x"]]  # retried
    assert runtime.events[1]["state"] == {}


def test_kinesis_tumbling_window_state_over_1_mb_ends_the_window_early(runtime, aws_client, function_arn, stream):
    lam = aws_client("lambda")

    def handler(event):
        if event["isFinalInvokeForWindow"]:
            return {"state": {}}
        return {"state": {"big": "x" * (1024 * 1024)} if datas(event) == ["first"] else {"small": 1}}

    runtime.handler = handler
    window = 900  # AWS's longest: both records in one window unless it ends within the next 20 s (~4 s needed)
    if window - time.time() % window < 20:
        time.sleep(window - time.time() % window + 0.1)
    stream.put("first")
    lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=stream.arn,
                                    StartingPosition="TRIM_HORIZON", TumblingWindowInSeconds=window)  # fmt: skip
    wait_for(lambda: runtime.events and runtime.events[-1]["isWindowTerminatedEarly"])
    stream.put("second")
    wait_for(lambda: len(runtime.events) == 3)
    first, early, second = runtime.events
    assert early["isFinalInvokeForWindow"] and early["Records"] == [] and len(early["state"]["big"]) == 1024 * 1024
    assert datas(second) == ["second"] and second["state"] == {}  # the same window goes on with fresh state
    assert second["window"] == first["window"] == early["window"]


def test_kinesis_records_older_than_maximum_record_age_are_skipped(runtime, aws_client, function_arn, stream):
    from moto.kinesis.models import kinesis_backends

    lam, sqs = aws_client("lambda"), aws_client("sqs")
    failures_url, failures_arn = queue_of(aws_client, "age-failures")
    stream.put("ancient")
    stream.put("fresh")
    shard = next(iter(kinesis_backends["123456789012"]["us-east-1"].streams[stream.name].shards.values()))
    shard.records[1].created_at -= 3600  # arrived an hour ago
    lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON",
        MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )  # fmt: skip
    wait_for(lambda: runtime.events)
    assert [datas(e) for e in runtime.events] == [["fresh"]]
    (record,) = wait_for(lambda: drain(sqs, failures_url))
    assert record["requestContext"]["condition"] == "MaximumRecordAgeExceeded"
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == "1"


# ---------------------------------------------------------------------------------------------
# SQS
# ---------------------------------------------------------------------------------------------


def test_sqs_deletes_a_processed_batch(runtime, aws_client, function_arn):
    lam, sqs = aws_client("lambda"), aws_client("sqs")
    url, arn = queue_of(aws_client, "orders")
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=arn, BatchSize=10)
    wait_for(lambda: runtime.events)
    assert sorted(r["body"] for e in runtime.events for r in e["Records"]) == ["m0", "m1", "m2"]
    wait_for(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
             ["ApproximateNumberOfMessagesNotVisible"] == "0")  # fmt: skip
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_sqs_failed_batch_returns_after_the_visibility_timeout_then_goes_to_the_dlq(runtime, aws_client,
                                                                                   function_arn):  # fmt: skip
    lam, sqs = aws_client("lambda"), aws_client("sqs")
    dlq_url, dlq_arn = queue_of(aws_client, "orders-dlq")
    url, arn = queue_of(aws_client, "orders", VisibilityTimeout=1,
                        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))  # fmt: skip
    sqs.send_message(QueueUrl=url, MessageBody="poison")

    def handler(event):
        raise RuntimeError("cannot process")

    runtime.handler = handler
    lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=arn)
    wait_for(lambda: len(runtime.events) == 2, limit=5)
    counts = [e["Records"][0]["attributes"]["ApproximateReceiveCount"] for e in runtime.events]
    assert counts == ["1", "2"]
    assert runtime.events[0]["Records"][0]["messageId"] == runtime.events[1]["Records"][0]["messageId"]
    dead = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url).get("Messages"), limit=5)
    assert [m["Body"] for m in dead] == ["poison"]
    assert len(runtime.events) == 2


def test_sqs_partial_batch_failure_keeps_only_the_failed_messages(runtime, aws_client, function_arn):
    lam, sqs = aws_client("lambda"), aws_client("sqs")
    url, arn = queue_of(aws_client, "orders", VisibilityTimeout=1)
    for body in ("ok-1", "fail", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    attempts = []

    def handler(event):
        attempts.append(sorted(r["body"] for r in event["Records"]))
        failed = [r for r in event["Records"] if r["body"] == "fail" and len(attempts) == 1]
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in failed]}

    runtime.handler = handler
    lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=arn, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    wait_for(lambda: len(attempts) == 2, limit=5)
    assert attempts == [["fail", "ok-1", "ok-2"], ["fail"]]
    counts = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    wait_for(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(counts))["Attributes"]
             == dict.fromkeys(counts, "0"))  # fmt: skip
    assert len(attempts) == 2  # every message deleted: nothing left to deliver


def test_sqs_batching_window_gathers_more_than_ten_messages(runtime, aws_client, function_arn):
    lam, sqs = aws_client("lambda"), aws_client("sqs")
    url, arn = queue_of(aws_client, "bulk")
    for start in (0, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(start + i)} for i in range(10)])
    lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=arn, BatchSize=25,
                                    MaximumBatchingWindowInSeconds=1)  # fmt: skip
    wait_for(lambda: runtime.events)
    assert len(runtime.events[0]["Records"]) == 20


# ---------------------------------------------------------------------------------------------
# Mapping API: validation, states, reset
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "extra", "message"),
    [
        ("kinesis", {}, "StartingPosition is required"),
        ("sqs", {"StartingPosition": "LATEST"}, "StartingPosition is not valid for SQS"),
        ("sqs", {"BatchSize": 20}, "Maximum batch window in seconds must be greater than 0"),
        ("sqs", {"BisectBatchOnFunctionError": True}, "only supported for Kinesis"),
        ("kinesis", {"StartingPosition": "LATEST", "FunctionResponseTypes": ["Everything"]},
         "may only contain ReportBatchItemFailures"),
        ("kinesis", {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 10}, "between 60 and 604800"),
        ("kinesis", {"StartingPosition": "LATEST",
                     "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:lambda:us-east-1:123456789012:function:x"}}},
         "must be the ARN of an SQS queue"),
    ],
)  # fmt: skip
def test_create_mapping_refuses_what_aws_refuses(runtime, aws_client, function_arn, stream, source, extra, message):
    arn = stream.arn if source == "kinesis" else queue_of(aws_client, "q")[1]
    lam = aws_client("lambda")
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match=message):
        lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=arn, **extra)


def test_a_queue_whose_visibility_timeout_is_below_the_function_timeout_is_refused(runtime, aws_client,
                                                                                   function_arn):  # fmt: skip
    lam = aws_client("lambda")
    _, arn = queue_of(aws_client, "impatient", VisibilityTimeout=0)
    with pytest.raises(
        lam.exceptions.InvalidParameterValueException, match="Queue visibility timeout: 0 seconds is less"
    ):
        lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=arn)


def test_a_second_mapping_of_the_same_function_and_source_conflicts(runtime, aws_client, function_arn):
    lam = aws_client("lambda")
    arn = queue_of(aws_client, "q")[1]
    lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=arn)
    with pytest.raises(lam.exceptions.ResourceConflictException, match="already exists"):
        lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=arn)


def test_filter_criteria_pass_over_kinesis_records_and_delete_sqs_messages(runtime, aws_client, function_arn,
                                                                           stream):  # fmt: skip
    lam, sqs = aws_client("lambda"), aws_client("sqs")
    only_big = {"Filters": [{"Pattern": json.dumps({"data": {"amount": [{"numeric": [">", 100]}]}})}]}
    for amount in (5, 500, 7, 900):
        stream.put(json.dumps({"amount": amount}))
    stream.put("not json")
    lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", FilterCriteria=only_big
    )
    wait_for(lambda: runtime.events)
    stream.put(json.dumps({"amount": 1000}))  # read after whatever the filter let through before it
    wait_for(lambda: len(runtime.events) >= 2)
    assert [[json.loads(d)["amount"] for d in datas(e)] for e in runtime.events] == [[500, 900], [1000]]

    runtime.events.clear()
    url, arn = queue_of(aws_client, "filtered")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"type": "order"}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"type": "ping"}))
    lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=arn,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"type": ["order"]}})}]},
    )  # fmt: skip
    wait_for(lambda: runtime.events)
    assert [json.loads(r["body"]) for e in runtime.events for r in e["Records"]] == [{"type": "order"}]
    wait_for(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
             ["ApproximateNumberOfMessagesNotVisible"] == "0")  # fmt: skip
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
        "ApproximateNumberOfMessages"] == "0"  # fmt: skip


def test_invalid_filter_pattern_is_refused(runtime, aws_client, function_arn, stream):
    lam = aws_client("lambda")
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="Invalid filter pattern"):
        lam.create_event_source_mapping(
            FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="LATEST",
            FilterCriteria={"Filters": [{"Pattern": "{not json"}]},
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# S3 notifications and SNS subscriptions (asynchronous: invoke_async, never invoke)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def bucket(aws_client, function_arn):
    """A bucket whose notifications may invoke the function (AddPermission, as AWS requires)."""
    name = f"uploads-{unique()}"
    aws_client("s3").create_bucket(Bucket=name)
    allow(aws_client, function_arn, "s3.amazonaws.com", f"arn:aws:s3:::{name}")
    return name


def allow(aws_client, function_arn, principal, source_arn):
    aws_client("lambda").add_permission(
        FunctionName=function_arn, StatementId=f"allow-{unique()}", Action="lambda:InvokeFunction",
        Principal=principal, SourceArn=source_arn,
    )  # fmt: skip


def notify(s3, bucket, function_arn, events, **rules):
    configuration = {"Id": "to-lambda", "LambdaFunctionArn": function_arn, "Events": events}
    if rules:
        configuration["Filter"] = {"Key": {"FilterRules": [{"Name": k, "Value": v} for k, v in rules.items()]}}
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [configuration]}
    )


def s3_events(runtime):
    return [(e["Records"][0]["eventName"], e["Records"][0]["s3"]["object"]) for e in runtime.async_events]


def test_s3_notifications_match_event_names_and_filters(runtime, aws_client, function_arn, bucket):
    s3 = aws_client("s3")
    notify(s3, bucket, function_arn, ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"], prefix="incoming/",
           suffix=".csv")  # fmt: skip
    s3.put_object(Bucket=bucket, Key="incoming/day 1=a.csv", Body=b"1,2")
    s3.put_object(Bucket=bucket, Key="incoming/day1.json", Body=b"{}")  # suffix does not match
    s3.put_object(Bucket=bucket, Key="archive/day1.csv", Body=b"1,2")  # prefix does not match
    s3.copy_object(Bucket=bucket, Key="incoming/copy.csv", CopySource={"Bucket": bucket, "Key": "incoming/day 1=a.csv"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="incoming/big.csv")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="incoming/big.csv", UploadId=upload, PartNumber=1, Body=b"9,9")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="incoming/big.csv", UploadId=upload,
                                 MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})  # fmt: skip
    s3.delete_object(Bucket=bucket, Key="incoming/day 1=a.csv")
    assert [(name, obj["key"]) for name, obj in s3_events(runtime)] == [
        ("ObjectCreated:Put", "incoming/day+1%3Da.csv"),
        ("ObjectCreated:Copy", "incoming/copy.csv"),
        ("ObjectCreated:CompleteMultipartUpload", "incoming/big.csv"),
        ("ObjectRemoved:Delete", "incoming/day+1%3Da.csv"),
    ]
    assert runtime.events == []  # S3 invokes with InvocationType Event only
    created, *_, removed = s3_events(runtime)
    assert created[1]["size"] == 3 and created[1]["eTag"] == hashlib.md5(b"1,2").hexdigest()
    assert "size" not in removed[1] and "versionId" not in removed[1]
    sequencers = [obj["sequencer"] for _, obj in s3_events(runtime)]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 4


def test_s3_versioned_deletes_send_delete_marker_and_version_events(runtime, aws_client, function_arn, bucket):
    s3 = aws_client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    notify(s3, bucket, function_arn, ["s3:ObjectRemoved:*", "s3:ObjectCreated:Put"])
    version = s3.put_object(Bucket=bucket, Key="data.csv", Body=b"v1")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="data.csv")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="data.csv", VersionId=version)
    assert [(name, obj.get("versionId")) for name, obj in s3_events(runtime)] == [
        ("ObjectCreated:Put", version),
        ("ObjectRemoved:DeleteMarkerCreated", marker),
        ("ObjectRemoved:Delete", version),
    ]


def test_s3_delete_on_a_suspended_bucket_sends_a_null_delete_marker_event(runtime, aws_client, function_arn, bucket):
    s3 = aws_client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="data.csv", Body=b"v1")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    notify(s3, bucket, function_arn, ["s3:ObjectRemoved:*"])
    s3.delete_object(Bucket=bucket, Key="data.csv")
    assert [(name, obj.get("versionId")) for name, obj in s3_events(runtime)] == [
        ("ObjectRemoved:DeleteMarkerCreated", "null")
    ]


def test_s3_lifecycle_expiration_sends_lifecycle_events_not_object_removed(runtime, aws_client, function_arn,
                                                                           bucket):  # fmt: skip
    from datetime import UTC, datetime, timedelta

    from local_aws.s3 import lifecycle_runs

    s3 = aws_client("s3")
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [{"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}]
        },
    )
    notify(s3, bucket, function_arn, ["s3:ObjectRemoved:*", "s3:LifecycleExpiration:*"])
    s3.put_object(Bucket=bucket, Key="tmp/scratch.csv", Body=b"x")
    lifecycle_runs.evaluate(datetime.now(UTC) + timedelta(days=3))  # the daily run three days on
    assert [(name, obj["key"]) for name, obj in s3_events(runtime)] == [
        ("LifecycleExpiration:Delete", "tmp/scratch.csv")
    ]


def test_s3_queue_notifications_get_the_same_complete_record(runtime, aws_client, bucket):
    s3, sqs = aws_client("s3"), aws_client("sqs")
    url, arn = queue_of(aws_client, "s3-events")
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"Id": "to-sqs", "QueueArn": arn,
                                                            "Events": ["s3:ObjectCreated:*"]}]},
    )  # fmt: skip
    s3.put_object(Bucket=bucket, Key="a b.csv", Body=b"x")
    bodies = drain(sqs, url)
    assert bodies[0]["Event"] == "s3:TestEvent"  # sent when the configuration is put, as S3 does
    (record,) = bodies[1]["Records"]
    assert record["eventName"] == "ObjectCreated:Put" and record["s3"]["configurationId"] == "to-sqs"
    assert record["s3"]["object"]["key"] == "a+b.csv" and record["s3"]["object"]["sequencer"]
    assert record["userIdentity"]["principalId"] and record["requestParameters"]["sourceIPAddress"]


def test_s3_refuses_missing_functions_and_overlapping_configurations(runtime, aws_client, function_arn, bucket):
    s3 = aws_client("s3")
    missing = function_arn.rsplit(":", 1)[0] + ":no-such-function"
    with pytest.raises(s3.exceptions.ClientError, match="Unable to validate the following destination"):
        notify(s3, bucket, missing, ["s3:ObjectCreated:*"])
    overlapping = [
        {"Id": "all", "LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}},
        {"Id": "puts", "LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:Put"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/csv/"}]}}},
    ]  # fmt: skip
    with pytest.raises(s3.exceptions.ClientError, match="Configurations overlap"):
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": overlapping}
        )
    overlapping[1]["Filter"]["Key"]["FilterRules"][0]["Value"] = "out/"  # disjoint prefixes are fine
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": overlapping}
    )
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert sorted(c["Id"] for c in got) == ["all", "puts"]


def test_sns_lambda_subscription_applies_the_filter_policy_and_sends_aws_record(runtime, aws_client, function_arn):
    sns = aws_client("sns")
    topic = sns.create_topic(Name=f"orders-{unique()}")["TopicArn"]
    allow(aws_client, function_arn, "sns.amazonaws.com", topic)
    subscription = sns.subscribe(
        TopicArn=topic, Protocol="lambda", Endpoint=function_arn,
        Attributes={"FilterPolicy": json.dumps({"kind": ["order"]})}, ReturnSubscriptionArn=True,
    )["SubscriptionArn"]  # fmt: skip
    attributes = {
        "kind": {"DataType": "String", "StringValue": "order"},
        "n": {"DataType": "Number", "StringValue": "7"},
    }
    message_id = sns.publish(TopicArn=topic, Message="one", Subject="new", MessageAttributes=attributes)["MessageId"]
    sns.publish(
        TopicArn=topic, Message="two", MessageAttributes={"kind": {"DataType": "String", "StringValue": "refund"}}
    )
    assert runtime.events == []
    (event,) = runtime.async_events
    (record,) = event["Records"]
    assert (record["EventSource"], record["EventVersion"], record["EventSubscriptionArn"]) == (
        "aws:sns", "1.0", subscription)  # fmt: skip
    body = record["Sns"]
    assert (body["Type"], body["MessageId"], body["TopicArn"], body["Subject"], body["Message"]) == (
        "Notification", message_id, topic, "new", "one")  # fmt: skip
    assert body["MessageAttributes"] == {"kind": {"Type": "String", "Value": "order"},
                                         "n": {"Type": "Number", "Value": "7"}}  # fmt: skip
    assert body["Signature"] and body["SigningCertUrl"].endswith(".pem")
    assert subscription in body["UnsubscribeUrl"]


def test_delete_and_reset_stop_the_pollers(runtime, aws_client, function_arn, stream, local_aws_server):
    """Last in this module: the reset forgets the module's function too."""
    lam = aws_client("lambda")
    deleted = lam.create_event_source_mapping(
        FunctionName=function_arn, EventSourceArn=stream.arn, StartingPosition="LATEST"
    )["UUID"]
    wait_enabled(lam, deleted)
    assert lam.delete_event_source_mapping(UUID=deleted)["State"] == "Deleting"
    stream.put("after-delete")
    kept = lam.create_event_source_mapping(FunctionName=function_arn, EventSourceArn=queue_of(aws_client, "q")[1])
    wait_for(lambda: not pollers_of([deleted]) and pollers_of([kept["UUID"]]))
    local_aws_server.reset()
    wait_for(lambda: not pollers_of([kept["UUID"]]))
    assert runtime.events == []

"""The clickstream generator (labkit.clickstream) without a server: events, phases, batches, pacing, retries.

Sending goes through a botocore Stubber or a small fake Kinesis client, on a fake clock whose
sleep() moves time, so nothing waits.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from labkit.clickstream import SITES, RecordsLost, Retry, batches, generate, parse_phases, send
from labkit.clickstream.__main__ import parse_args
from labkit.clickstream.events import Event

START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
THROTTLED = "ProvisionedThroughputExceededException"
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class FakeTime:
    """clock() and sleep() for send(): sleeping moves the clock; `step` is added on every read (a slow machine)."""

    def __init__(self, step: float = 0.0):
        self.now, self.step, self.slept = 0.0, step, []

    def clock(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeKinesis:
    """put_records that fails the records `fail(call, index)` names with `code`, recording every call."""

    def __init__(self, time: FakeTime | None = None, fail=lambda call, index: False, code: str = THROTTLED):
        self.time, self.fail, self.code = time, fail, code
        self.calls: list[tuple[float, list[dict]]] = []
        self.stored: list[bytes] = []

    def put_records(self, StreamName: str, Records: list[dict]) -> dict:  # noqa: N803 (boto3's parameter names)
        call = len(self.calls)
        self.calls.append((self.time.now if self.time else 0.0, Records))
        entries = []
        for index, record in enumerate(Records):
            if self.fail(call, index):
                entries.append({"ErrorCode": self.code, "ErrorMessage": "Rate exceeded for shard shardId-000000000000"})
            else:
                self.stored.append(record["Data"])
                entries.append({"SequenceNumber": str(len(self.stored)), "ShardId": "shardId-000000000000"})
        return {"FailedRecordCount": sum("ErrorCode" in e for e in entries), "Records": entries}


def event(size: int, key: str = "k") -> Event:
    return Event(offset=0.0, phase=0, click=False, partition_key=key, data=b"x" * (size - len(key)))


# -- events -------------------------------------------------------------------------------------


def test_an_event_has_the_course_shape_and_is_due_at_its_moment():
    events = list(generate(parse_phases("normal:2:10"), rate=50, seed=1, start=START))
    assert len(events) == 100
    for position, one in enumerate(events):
        assert one.data.endswith(b"\n") and one.data.count(b"\n") == 1  # JSON Lines once Firehose concatenates
        body = json.loads(one.data)
        assert list(body) == ["browseraction", "site", "event_time", "session_id"]
        assert body["browseraction"] == ("Click" if one.click else "Impression")
        assert body["site"] in SITES
        assert ISO_MILLIS.match(body["event_time"])
        assert (
            body["event_time"] == (START + timedelta(seconds=position / 50)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        )
        assert str(uuid.UUID(body["session_id"])) == body["session_id"] == one.partition_key
        assert one.offset == position / 50 and one.phase == 0


def test_a_seed_and_a_start_give_the_same_events_byte_for_byte():
    phases = parse_phases("normal:3:10,burst:1:40")
    first = list(generate(phases, 200, 7, START))
    assert first == list(generate(phases, 200, 7, START))
    assert [e.data for e in first] != [e.data for e in generate(phases, 200, 8, START)]


def test_each_phase_has_its_events_and_click_through_rate():
    phases = parse_phases("normal:20:10,burst:20:40,normal:20:10,drop:20:1")
    events = list(generate(phases, 1000, 3, START))
    per_phase = Counter(e.phase for e in events)
    assert per_phase == {0: 20_000, 1: 20_000, 2: 20_000, 3: 20_000}
    assert [e.offset for e in events] == sorted(e.offset for e in events)
    assert events[20_000].offset == 20.0  # the second phase starts where the first ends
    for index, phase in enumerate(phases):
        clicks = sum(e.click for e in events if e.phase == index)
        ctr = 100 * clicks / (20_000 - clicks)  # clicks per 100 impressions, as the detector computes it
        assert abs(ctr - phase.ctr_percent) < 0.05 * phase.ctr_percent + 0.5, (phase, clicks)  # > 4 standard deviations


def test_partition_keys_are_session_ids_spread_wide():
    keys = Counter(e.partition_key for e in generate(parse_phases("normal:10:10"), 1000, 5, START))
    assert len(keys) > 400 and max(keys.values()) < 100  # no key takes a shard's share alone


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("normal:60", "not name:seconds:ctr_percent"),
        ("burst:0:40", "seconds > 0"),
        ("drop:10:140", "between 0 and 100"),
    ],
)
def test_phases_that_make_no_sense_are_refused_by_name(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_phases(text)


# -- batches ------------------------------------------------------------------------------------


def test_batches_hold_at_most_500_records_in_order():
    events = list(generate(parse_phases("normal:12:10"), 100, 1, START))
    cut = list(batches(events))
    assert [len(batch) for batch in cut] == [500, 500, 200]
    assert [e for batch in cut for e in batch] == events


def test_batches_hold_at_most_5_mib_of_data_and_partition_keys():
    records = [event(400_000) for _ in range(30)]  # 13 fit in 5,242,880 bytes, 14 do not
    cut = list(batches(records))
    assert [len(batch) for batch in cut] == [13, 13, 4]
    assert all(sum(e.size for e in batch) <= 5 * 1024 * 1024 for batch in cut)
    exact = [event(1024 * 1024)] * 5 + [event(1)]  # exactly 5 MiB, then one byte more
    assert [len(batch) for batch in batches(exact)] == [5, 1]


def test_a_record_over_1_mib_with_its_key_is_refused_before_sending():
    with pytest.raises(ValueError, match=r"1,048,577 bytes .* over Kinesis's 1,048,576 bytes per record"):
        list(batches([event(1024 * 1024 + 1)]))


# -- sending ------------------------------------------------------------------------------------


def test_partial_failures_are_sent_again_alone_after_a_backoff_stubbed_as_botocore_answers():
    client = boto3.client("kinesis", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    phases = parse_phases("normal:0.1:20")
    events = list(generate(phases, 50, 9, START))  # 5 events, all due at once on a slow clock
    sent = [{"Data": e.data, "PartitionKey": e.partition_key} for e in events]
    ok = {"SequenceNumber": "1", "ShardId": "shardId-000000000000"}
    stubber = Stubber(client)
    stubber.add_response(
        "put_records",
        {
            "FailedRecordCount": 2,
            "Records": [
                ok,
                {"ErrorCode": THROTTLED, "ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream s"},
                ok,
                {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal Service Failure"},
                ok,
            ],
        },
        {"StreamName": "clicks", "Records": sent},
    )
    stubber.add_response("put_records", {"Records": [ok, ok]}, {"StreamName": "clicks", "Records": [sent[1], sent[3]]})  # fmt: skip
    time = FakeTime(step=1.0)
    with stubber:
        summary = send(client, "clicks", phases, 50, 9, start=START, progress=None, retry=Retry(base_seconds=0.1), clock=time.clock, sleep=time.sleep)  # fmt: skip
    stubber.assert_no_pending_responses()
    assert (summary.sent, summary.retried, summary.calls, summary.lost) == (5, 2, 2, 0)
    assert summary.failures == {THROTTLED: 1, "InternalFailure": 1}
    assert 0 <= time.slept[0] <= 0.1  # the first backoff: full jitter under the base
    phase = summary.to_dict()["phases"][0]
    assert phase["impressions"] + phase["clicks"] == phase["events"] == 5
    assert phase["clicks"] == sum(e.click for e in events)


def test_backoff_doubles_up_to_its_cap_with_full_jitter():
    import random

    retry, rng = Retry(base_seconds=0.1, max_seconds=1.0), random.Random(0)
    for attempt, cap in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        delays = [retry.delay(attempt, rng) for _ in range(200)]
        assert 0 <= min(delays) and max(delays) <= cap and max(delays) > cap * 0.8


def test_records_refused_on_every_attempt_end_in_an_error_naming_how_many_were_lost():
    time = FakeTime(step=1.0)
    client = FakeKinesis(time, fail=lambda call, index: call > 0 or index >= 3)  # the 4th and 5th, every time
    with pytest.raises(RecordsLost) as lost:
        send(client, "clicks", parse_phases("normal:0.1:10"), 50, 1, start=START, progress=None,
             retry=Retry(attempts=4), clock=time.clock, sleep=time.sleep)  # fmt: skip
    assert lost.value.lost == 2 and lost.value.summary.sent == 3 and lost.value.summary.lost == 2
    # the first call delivered 3, then 4 calls in a row delivered nothing
    assert [len(records) for _, records in client.calls] == [5, 2, 2, 2, 2]
    assert str(lost.value).startswith(
        "2 of 5 records were not delivered to Kinesis stream clicks: 4 PutRecords calls in a row delivered none of them"
    )
    assert lost.value.summary.failures == {THROTTLED: 10}


def test_a_whole_call_refused_with_a_retryable_error_is_retried_and_any_other_error_raised():
    class Throttled(FakeKinesis):
        def put_records(self, StreamName, Records):  # noqa: N803
            if not self.calls:
                self.calls.append((0.0, Records))
                raise ClientError({"Error": {"Code": THROTTLED, "Message": "Rate exceeded"}}, "PutRecords")
            return super().put_records(StreamName, Records)

    time = FakeTime(step=1.0)
    client = Throttled(time)
    summary = send(client, "clicks", parse_phases("normal:0.1:10"), 50, 1, start=START, progress=None, clock=time.clock, sleep=time.sleep)  # fmt: skip
    assert (summary.sent, summary.failures, len(client.stored)) == (5, {THROTTLED: 5}, 5)

    class Missing(FakeKinesis):
        def put_records(self, StreamName, Records):  # noqa: N803
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "Stream clicks not found"}}, "PutRecords")  # fmt: skip

    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        send(Missing(), "clicks", parse_phases("normal:0.1:10"), 50, 1, start=START, progress=None, clock=time.clock, sleep=time.sleep)  # fmt: skip


def test_events_go_out_when_due_about_ten_batches_a_second_each_once():
    time = FakeTime()
    client = FakeKinesis(time)
    phases = parse_phases("normal:3:10,burst:2:40")
    summary = send(client, "clicks", phases, 200, 4, start=START, progress=None, clock=time.clock, sleep=time.sleep)
    expected = list(generate(phases, 200, 4, START))
    assert client.stored == [e.data for e in expected]  # in order, each once
    by_data = {e.data: e for e in expected}
    assert all(
        by_data[record["Data"]].offset <= moment + 1e-9 for moment, records in client.calls for record in records
    )
    assert 45 <= len(client.calls) <= 55 and 4.8 <= time.now <= 5.0
    assert [(p.name, p.impressions + p.clicks) for p in summary.phases] == [("normal", 600), ("burst", 400)]
    assert [p.start for p in summary.phases] == ["2026-01-05T10:00:00.000Z", "2026-01-05T10:00:03.000Z"]
    assert summary.phases[1].end == "2026-01-05T10:00:05.000Z"


def test_a_stream_arn_is_sent_as_streamarn():
    client = boto3.client("kinesis", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
    events = list(generate(parse_phases("normal:0.02:10"), 50, 2, START))
    stubber = Stubber(client)
    stubber.add_response(  # no FailedRecordCount: botocore's model wants it >= 1, so a stubbed success omits it
        "put_records",
        {"Records": [{"SequenceNumber": "1", "ShardId": "shardId-000000000000"}]},
        {"StreamARN": arn, "Records": [{"Data": events[0].data, "PartitionKey": events[0].partition_key}]},
    )
    time = FakeTime(step=1.0)
    with stubber:
        assert send(client, arn, parse_phases("normal:0.02:10"), 50, 2, start=START, progress=None, clock=time.clock, sleep=time.sleep).sent == 1  # fmt: skip


def test_a_progress_line_every_second_with_sent_rate_retries_and_phase():
    time = FakeTime()
    out = io.StringIO()
    send(FakeKinesis(time, fail=lambda call, index: call == 3 and index == 0), "clicks", parse_phases("normal:2:10,drop:2:1"),
         100, 1, start=START, progress=out, clock=time.clock, sleep=time.sleep)  # fmt: skip
    *lines, last = out.getvalue().splitlines()
    assert 3 <= len(lines) <= 5
    assert re.match(
        r"clickstream -> clicks: [\d,]+ sent, [\d,]+/s, 1 retried, phase 1/2 normal \(CTR 10 %\)$", lines[0]
    )
    assert "phase 2/2 drop (CTR 1 %)" in lines[-1]
    assert re.match(
        r"clickstream -> clicks: done, 400 sent in 4\.0 s \(10\d/s\), 1 retried, \d+ PutRecords calls$", last
    )


def test_the_cli_takes_the_stream_rate_phases_seed_endpoint_and_region():
    args = parse_args(["--stream", "clicks", "--rate", "250", "--phases", "normal:5:10,burst:5:40", "--seed", "3",
                       "--endpoint-url", "http://127.0.0.1:4566", "--region", "eu-west-1"])  # fmt: skip
    assert (args.stream, args.rate, args.seed, args.endpoint_url, args.region) == ("clicks", 250, 3, "http://127.0.0.1:4566", "eu-west-1")  # fmt: skip
    assert [p.name for p in args.phases] == ["normal", "burst"]
    with pytest.raises(SystemExit) as refused:
        parse_args(["--stream", "clicks", "--phases", "burst:5"])
    assert refused.value.code == 2

"""The clickstream detector (lambdas/ctr_anomaly_detector.py) on synthetic CTR series, S3 and SNS by moto.

Each window is invoked as a Kinesis event source mapping with TumblingWindowInSeconds invokes it:
batches of base64 JSON records carrying the window's state, then a final invocation without
records. Alerts are read back from an SQS queue subscribed to the topic. Series follow the
generator (labkit.clickstream): each event is a click with the phase's probability, else an
impression, 1,000 events per window. The threshold and those numbers come from the measurement in
docs/clickstream-detector.md (200 seeds: 200 steady windows after warm-up never scored above 2.64,
a 40% burst scored at least 3.55 and a 1% drop at least 3.02 in their first window), so the seeds
here are not lucky ones.
"""

from __future__ import annotations

import base64
import functools
import importlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import krcf
import numpy as np
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas import ctr_anomaly_detector as detector

REGION = "us-east-1"
BUCKET = "clickstream-state"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
SHARD = "shardId-000000000000"
START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=10)
EVENTS = 1000  # per window: the generator's default 100 events a second, 10-second windows
NORMAL, BURST, DROP = 0.10, 0.40, 0.01  # the generator's phases: the share of events that are clicks
SEPARATING_THRESHOLD = "2.8"  # above every steady score measured at 1,000 events a window, below every anomaly's
COURSE_FOREST = {"num_trees": 100, "sample_size": 12, "lambda": 1e-5, "shingle_size": 1}


@dataclass
class FakeContext:
    function_name: str = "ade-clickstream-detector"
    aws_request_id: str = "0b9d7a52-3c55-4b8e-9a0e-5d2f1c6e7a10"


@dataclass
class Env:
    s3: object
    sqs: object
    queue_url: str
    topic_arn: str


@pytest.fixture
def aws(monkeypatch):
    """moto in-process: the state bucket, the alert topic with an SQS subscription, fresh handler caches."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "STATE_BUCKET": BUCKET,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("STATE_PREFIX", "THRESHOLD", "MODEL_VERSION", "OUTPUT_AFTER", "RANDOM_SEED", "SAMPLE_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        _s3.cache_clear()
        _fresh_environment()
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="clickstream-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="clickstream-alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("TOPIC_ARN", topic_arn)
        yield Env(s3, sqs, queue_url, topic_arn)
    _fresh_environment()


@functools.cache
def _s3():
    return boto3.client("s3", region_name=REGION)


def _fresh_environment():
    """What a new execution environment starts with: no clients, no cached model."""
    detector._s3.cache_clear()
    detector._sns.cache_clear()
    detector._models.clear()


# ---- events as the event source mapping sends them ------------------------------------------


def _bounds(index: int) -> tuple[str, str]:
    start = START + index * WINDOW
    return f"{start:%Y-%m-%dT%H:%M:%SZ}", f"{start + WINDOW:%Y-%m-%dT%H:%M:%SZ}"


def kinesis_record(payload: bytes, sequence: int, arrival: float) -> dict:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": f"session-{sequence % 50}",
            "sequenceNumber": str(sequence),
            "data": base64.b64encode(payload).decode(),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{SHARD}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/clickstream-detector",
        "awsRegion": REGION,
        "eventSourceARN": STREAM_ARN,
    }


def click_events(index: int, clicks: int, impressions: int) -> list[bytes]:
    """The window's events in the generator's shape, impressions and clicks interleaved."""
    start, _ = _bounds(index)
    actions = ["Impression"] * impressions + ["Click"] * clicks
    actions[::2], actions[1::2] = actions[: (len(actions) + 1) // 2], actions[(len(actions) + 1) // 2 :]
    return [  # a JSON object and a newline per record, as the generator writes them for Firehose
        (
            json.dumps({"browseraction": action, "site": "abc.com", "event_time": start, "session_id": f"s-{i % 97}"})
            + "\n"
        ).encode()
        for i, action in enumerate(actions)
    ]


def window_event(index: int, records: list[dict], state: dict, final: bool = False) -> dict:
    start, end = _bounds(index)
    return {
        "Records": records,
        "window": {"start": start, "end": end},
        "state": state,
        "shardId": SHARD,
        "eventSourceARN": STREAM_ARN,
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }


def run_window(
    index: int,
    clicks: int,
    impressions: int,
    *,
    payloads: list[bytes] | None = None,
    batches: int = 1,
    prefix: str = "",
):
    """Every invocation of one window; returns (the final invocation's event, the window's record in S3)."""
    if payloads is None:
        records = _pooled_records(clicks, impressions)
    else:
        arrival = (START + index * WINDOW).timestamp()
        records = [kinesis_record(p, index * 10_000 + i, arrival) for i, p in enumerate(payloads)]
    state: dict = {}
    size = -(-len(records) // batches) if records else 1
    for first in range(0, len(records), size):
        state = detector.handler(window_event(index, records[first : first + size], state), FakeContext())["state"]
    final = window_event(index, [], state, final=True)
    response = detector.handler(final, FakeContext())
    assert response == {"state": state}  # the final invocation returns state too, or Lambda counts it failed
    return final, processed_record(index, prefix)


@functools.cache
def _record_pool(action: str) -> tuple[dict, ...]:
    """Encoded events that windows draw from (the handler reads only browseraction): long series would
    otherwise spend their time base64-encoding."""
    payloads = click_events(0, 0, 2000) if action == "Impression" else click_events(0, 2000, 0)
    return tuple(kinesis_record(p, i, START.timestamp()) for i, p in enumerate(payloads))


def _pooled_records(clicks: int, impressions: int) -> list[dict]:
    return [*_record_pool("Impression")[:impressions], *_record_pool("Click")[:clicks]]


def processed_record(index: int, prefix: str = "") -> dict:
    start = START + index * WINDOW
    key = f"{prefix}processed/dt={start:%Y-%m-%d}/{start:%Y%m%dT%H%M%SZ}_clicks_{SHARD}.json"
    body = _s3().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body.endswith(b"\n") and body.count(b"\n") == 1  # one JSON line
    return json.loads(body)


def alerts(env: Env) -> list[dict]:
    """SNS notifications delivered to the queue so far (and consumed)."""
    found = []
    while messages := env.sqs.receive_message(QueueUrl=env.queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            found.append(json.loads(message["Body"]))
            env.sqs.delete_message(QueueUrl=env.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def model(env: Env, prefix: str = "") -> tuple[dict, krcf.RandomCutForest]:
    response = env.s3.get_object(Bucket=BUCKET, Key=f"{prefix}model/rcf-v1/clicks/{SHARD}.msgpack")
    return response, krcf.RandomCutForest.from_msgpack(response["Body"].read())


def series(seed: int, shares: list[float], events: int = EVENTS) -> list[tuple[int, int]]:
    """(clicks, impressions) per window, as the generator sends them: clicks ~ Binomial(events, share)."""
    rng = np.random.default_rng(seed)
    return [(clicks, events - clicks) for clicks in (int(rng.binomial(events, share)) for share in shares)]


def reference_forest(**overrides) -> krcf.RandomCutForest:
    """The forest the handler builds with the default environment, built here directly."""
    options = {"dimensions": 1, **COURSE_FOREST, "output_after": 24, "random_seed": 42, **overrides}
    return krcf.RandomCutForest(options)


# ---- aggregation -------------------------------------------------------------------------------


def test_batches_of_a_window_add_up_in_the_state_and_bad_records_are_counted(aws, caplog):
    payloads = click_events(0, clicks=7, impressions=60) + [
        b"not json",
        json.dumps({"browseraction": "Purchase", "site": "abc.com"}).encode(),
        json.dumps(["Click"]).encode(),
        json.dumps({"browseraction": "click", "site": "abc.com"}).encode(),  # case as some generators send it
    ]
    with caplog.at_level(logging.INFO):
        final, record = run_window(0, 0, 0, payloads=payloads, batches=4)

    assert final["state"] == {"impressions": 60, "clicks": 8, "ignored": 3}
    assert (record["clicks"], record["impressions"], record["ignored_records"]) == (8, 60, 3)
    assert record["ctr"] == pytest.approx(8 / 60 * 100)
    assert sum(m.startswith("Ignoring record shardId-000000000000:") for m in caplog.messages) == 3
    assert any("'Purchase' is neither Impression nor Click" in m for m in caplog.messages)


def test_a_window_record_names_everything_athena_needs(aws, monkeypatch):
    monkeypatch.setenv("STATE_PREFIX", "clickstream")  # a missing '/' is added
    _, record = run_window(0, 12, 100, prefix="clickstream/")
    assert record.pop("processed_at").endswith("Z")
    assert record == {
        "window_start": "2026-01-05T10:00:00Z",
        "window_end": "2026-01-05T10:00:10Z",
        "stream": "clicks",
        "shard_id": SHARD,
        "clicks": 12,
        "impressions": 100,
        "ignored_records": 0,
        "ctr": 12.0,
        "score": 0.0,
        "threshold": 2.0,
        "alert": False,
        "warming_up": True,
        "model_version": "rcf-v1",
        "model_points_seen": 0,
        "terminated_early": False,
    }
    head, forest = model(aws, prefix="clickstream/")
    assert head["Metadata"] == {"last-window-start": "2026-01-05T10:00:00Z", "points-seen": "1"}
    assert forest.entries_seen() == 1


# ---- the model: the course's parameters, warm-up, persistence -----------------------------------


def test_the_forest_has_the_courses_parameters_with_time_decay_as_lambda(aws):
    run_window(0, 10, 100)
    options = model(aws)[1].options()
    assert {name: options[name] for name in COURSE_FOREST} == COURSE_FOREST
    assert (options["dimensions"], options["output_after"], options["random_seed"]) == (1, 24, 42)
    assert detector.Settings.from_environment().forest_options()["lambda"] == 1 / 100_000


def test_warm_up_windows_score_zero_and_never_alert(aws, monkeypatch):
    monkeypatch.setenv("OUTPUT_AFTER", "5")
    counts = series(1, [NORMAL] * 3) + [(400, 600)] + series(2, [NORMAL] * 3)
    records = [run_window(i, clicks, impressions)[1] for i, (clicks, impressions) in enumerate(counts)]

    assert [r["warming_up"] for r in records] == [True] * 5 + [False] * 2
    assert [r["score"] for r in records[:5]] == [0.0] * 5  # the 40% window (index 3) included
    assert all(r["score"] > 0 for r in records[5:])
    assert alerts(aws) == []


def test_a_cold_start_goes_on_with_the_model_from_s3_and_scores_as_if_uninterrupted(aws, monkeypatch):
    counts = series(7, [NORMAL] * 40 + [BURST] + [NORMAL] * 9)
    loads = []
    real_from_msgpack = krcf.RandomCutForest.from_msgpack

    class CountingForest:  # the module's RandomCutForest, counting downloads of the model
        def __new__(cls, options):
            return krcf.RandomCutForest(options)

        @staticmethod
        def from_msgpack(data):
            loads.append(len(data))
            return real_from_msgpack(data)

    monkeypatch.setattr(detector, "RandomCutForest", CountingForest)
    scores = [run_window(i, *counts[i])[1]["score"] for i in range(30)]
    assert loads == []  # one warm environment: the model stays in memory, S3 answers 304 Not Modified

    # A new execution environment: the module imported again, nothing cached.
    importlib.reload(detector)
    _fresh_environment()
    monkeypatch.setattr(detector, "RandomCutForest", CountingForest)
    scores += [run_window(i, *counts[i])[1]["score"] for i in range(30, 50)]
    assert len(loads) == 1  # read from S3 once, then warm again

    reference, expected = reference_forest(), []
    for clicks, impressions in counts:
        ctr = clicks / impressions * 100
        expected.append(reference.score([ctr]))
        reference.update([ctr])
    assert scores == expected  # exactly: the serialized forest carries its samples and random state
    assert model(aws)[1].entries_seen() == 50


def test_a_model_with_other_parameters_is_kept_with_a_warning(aws, monkeypatch, caplog):
    run_window(0, 10, 100)
    monkeypatch.setenv("SAMPLE_SIZE", "256")
    _fresh_environment()
    with caplog.at_level(logging.WARNING):
        run_window(1, 10, 100)
    assert model(aws)[1].options()["sample_size"] == 12
    assert any("sample_size: 12 kept, 256 asked" in m and "set MODEL_VERSION" in m for m in caplog.messages)


# ---- detection on synthetic series -------------------------------------------------------------


@pytest.mark.parametrize("seed", [11, 12])
def test_steady_ctr_never_alerts_after_warm_up(aws, monkeypatch, seed):
    monkeypatch.setenv("THRESHOLD", SEPARATING_THRESHOLD)
    records = [run_window(i, *counts)[1] for i, counts in enumerate(series(seed, [NORMAL] * 224))]

    assert [r["warming_up"] for r in records] == [True] * 24 + [False] * 200
    assert [r["score"] for r in records[:24]] == [0.0] * 24
    scored = [r["score"] for r in records[24:]]
    assert max(scored) < float(SEPARATING_THRESHOLD) and not any(r["alert"] for r in records)
    assert 0.7 < float(np.median(scored)) < 1.0  # a typical window scores about 0.85
    assert alerts(aws) == []


@pytest.mark.parametrize("seed", [21, 22])
@pytest.mark.parametrize(("anomaly", "share"), [("burst", BURST), ("drop", DROP)])
def test_a_burst_and_a_drop_alert_within_two_windows_of_onset(aws, monkeypatch, anomaly, share, seed):
    monkeypatch.setenv("THRESHOLD", SEPARATING_THRESHOLD)
    counts = series(seed, [NORMAL] * 100 + [share] * 2)
    records = [run_window(i, *c)[1] for i, c in enumerate(counts)]

    assert not any(r["alert"] for r in records[:100])
    onset = records[100:]
    assert any(r["alert"] for r in onset), f"the {anomaly} scored {[r['score'] for r in onset]}"
    sent = alerts(aws)
    assert len(sent) == sum(r["alert"] for r in onset)
    first = next(r for r in onset if r["alert"])
    assert sent[0]["Message"] == detector.alert_message(first["ctr"], first["score"])
    assert sent[0]["MessageAttributes"]["window_start"]["Value"] == first["window_start"]


# ---- the alert -----------------------------------------------------------------------------------


def test_the_alert_is_the_courses_message_with_the_window_in_subject_and_attributes(aws, monkeypatch):
    monkeypatch.setenv("OUTPUT_AFTER", "8")
    counts = [(10, 100), (9, 100), (11, 100), (10, 100), (12, 100), (8, 100), (10, 100), (11, 100), (9, 100)]
    for i, c in enumerate(counts):
        run_window(i, *c)
    _, record = run_window(len(counts), 40, 100)

    reference = reference_forest(output_after=8)
    for clicks, impressions in counts:
        reference.update([clicks / impressions * 100])
    score = reference.score([40.0])
    assert score > 2 and record["score"] == score and record["alert"] is True
    [sent] = alerts(aws)
    assert (
        sent["Message"] == f"Anomaly detected with a click through rate of 40.00% and an anomaly score of {score:.3f}"
    )
    assert sent["Subject"] == "Clickstream anomaly: CTR 40.00% in the window from 2026-01-05T10:01:30Z"
    assert sent["TopicArn"] == aws.topic_arn
    attributes = {name: value["Value"] for name, value in sent["MessageAttributes"].items()}
    assert attributes == {
        "window_start": "2026-01-05T10:01:30Z",
        "window_end": "2026-01-05T10:01:40Z",
        "stream": "clicks",
        "shard_id": SHARD,
        "ctr": "40.000000",
        "score": f"{score:.6f}",
    }


def test_message_formatting():
    assert (
        detector.alert_message(500 / 13, 2.00049)
        == "Anomaly detected with a click through rate of 38.46% and an anomaly score of 2.000"
    )
    assert (
        detector.alert_message(0.0, 3.14159)
        == "Anomaly detected with a click through rate of 0.00% and an anomaly score of 3.142"
    )


def _burst_after_normal(monkeypatch) -> int:
    """Nine normal windows, warm-up 8: the next window is the first scored; returns its index."""
    monkeypatch.setenv("OUTPUT_AFTER", "8")
    for i, c in enumerate([(10, 100), (9, 100), (11, 100), (10, 100), (12, 100), (8, 100), (10, 100), (11, 100)]):
        run_window(i, *c)
    run_window(8, 9, 100)
    return 9


def test_a_retried_final_invocation_does_not_alert_again_or_teach_the_model_twice(aws, monkeypatch):
    index = _burst_after_normal(monkeypatch)
    final, record = run_window(index, 40, 100)
    assert record["alert"] is True and len(alerts(aws)) == 1
    etag = model(aws)[0]["ETag"]

    assert detector.handler(final, FakeContext()) == {"state": final["state"]}  # warm environment
    _fresh_environment()
    assert detector.handler(final, FakeContext()) == {"state": final["state"]}  # another environment

    assert alerts(aws) == []
    assert model(aws)[0]["ETag"] == etag and model(aws)[1].entries_seen() == index + 1
    assert processed_record(index) == record


def test_a_retry_after_a_failure_past_the_alert_sends_nothing_and_completes_the_model(aws, monkeypatch):
    index = _burst_after_normal(monkeypatch)
    real_save = detector.save_model

    def crash(*args, **kwargs):
        raise TimeoutError("the invocation timed out before the model was saved")

    monkeypatch.setattr(detector, "save_model", crash)
    with pytest.raises(TimeoutError):
        run_window(index, 40, 100)
    assert len(alerts(aws)) == 1 and model(aws)[1].entries_seen() == index  # alerted, model not saved

    monkeypatch.setattr(detector, "save_model", real_save)
    _fresh_environment()
    final = window_event(index, [], {"impressions": 100, "clicks": 40, "ignored": 0}, final=True)
    detector.handler(final, FakeContext())

    assert alerts(aws) == []
    head, forest = model(aws)
    assert forest.entries_seen() == index + 1 and head["Metadata"]["last-window-start"] == "2026-01-05T10:01:30Z"
    assert processed_record(index)["alert"] is True


def test_an_alert_sns_refused_is_sent_by_the_retry(aws, monkeypatch):
    index = _burst_after_normal(monkeypatch)
    sns = detector._sns()
    real_publish, calls = sns.publish, []

    def throttled(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "Throttled", "Message": "Rate exceeded"}}, "Publish")
        return real_publish(**kwargs)

    monkeypatch.setattr(sns, "publish", throttled)
    with pytest.raises(ClientError, match="Throttled"):
        run_window(index, 40, 100)
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="processed/dt=2026-01-05/20260105T100130Z")
    assert model(aws)[1].entries_seen() == index  # the window is not learned until it is reported

    final = window_event(index, [], {"impressions": 100, "clicks": 40, "ignored": 0}, final=True)
    detector.handler(final, FakeContext())
    assert len(calls) == 2 and len(alerts(aws)) == 1
    assert processed_record(index)["alert"] is True and model(aws)[1].entries_seen() == index + 1


def test_two_environments_never_overwrite_each_others_model(aws, monkeypatch):
    index = _burst_after_normal(monkeypatch)
    real_load = detector.load_model

    def load_then_another_environment_writes(settings, key):
        loaded = real_load(settings, key)
        other = krcf.RandomCutForest.from_msgpack(loaded[1].to_msgpack())
        other.update([10.0])  # another environment learned a window in between
        aws.s3.put_object(
            Bucket=BUCKET, Key=key, Body=other.to_msgpack(), Metadata={"last-window-start": "2026-01-05T10:01:25Z"}
        )
        return loaded

    monkeypatch.setattr(detector, "load_model", load_then_another_environment_writes)
    with pytest.raises(detector.ModelConflict, match="another execution environment updated the model"):
        run_window(index, 40, 100)
    assert model(aws)[1].entries_seen() == index + 1  # the other environment's model, not overwritten
    assert len(alerts(aws)) == 1

    monkeypatch.setattr(detector, "load_model", real_load)
    final = window_event(index, [], {"impressions": 100, "clicks": 40, "ignored": 0}, final=True)
    detector.handler(final, FakeContext())  # Lambda's retry: builds on the other environment's model
    assert model(aws)[1].entries_seen() == index + 2 and alerts(aws) == []


# ---- windows without impressions ---------------------------------------------------------------


def test_a_window_without_impressions_is_reported_without_ctr_or_score(aws, monkeypatch):
    monkeypatch.setenv("OUTPUT_AFTER", "2")
    for i in range(3):
        run_window(i, 10, 100)
    etag = model(aws)[0]["ETag"]

    _, record = run_window(3, 4, 0)

    assert (record["clicks"], record["impressions"], record["ctr"], record["score"], record["alert"]) == (
        4, 0, None, None, False,
    )  # fmt: skip
    assert model(aws)[0]["ETag"] == etag and model(aws)[1].entries_seen() == 3  # not learned
    assert run_window(4, 11, 100)[1]["model_points_seen"] == 3
    assert alerts(aws) == []


def test_a_first_window_without_impressions_creates_no_model(aws):
    _, record = run_window(0, 0, 0, payloads=[b"{}"])
    assert (record["ctr"], record["score"], record["ignored_records"]) == (None, None, 1)
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="model/")


# ---- configuration -------------------------------------------------------------------------------


def test_missing_settings_and_events_without_a_window_are_refused(aws, monkeypatch):
    with pytest.raises(ValueError, match="TumblingWindowInSeconds"):
        detector.handler({"Records": []}, FakeContext())
    monkeypatch.setenv("THRESHOLD", "high")
    with pytest.raises(ValueError, match="THRESHOLD must be a float, not 'high'"):
        detector.handler(window_event(0, [], {}), FakeContext())
    monkeypatch.delenv("STATE_BUCKET")
    monkeypatch.delenv("TOPIC_ARN")
    with pytest.raises(ValueError, match="STATE_BUCKET, TOPIC_ARN not set"):
        detector.handler(window_event(0, [], {}), FakeContext())

"""Clickstream project: score each tumbling window's click-through rate with a random cut forest.

The course's Kinesis Data Analytics SQL application, as a Lambda function behind a Kinesis event
source mapping with TumblingWindowInSeconds (10 in the course). Events on the stream are JSON,
`{"browseraction": "Impression" | "Click", "site": ..., "event_time": ..., "session_id": ...}`.

- Every invocation of a window adds its records' impressions and clicks to the window's state and
  returns it (`{"state": ...}`: a response without state is a failed invocation). Records that are
  not such JSON are counted as ignored and logged, never retried (they would block the shard).
- The final invocation (`isFinalInvokeForWindow`) computes CTR = clicks / impressions × 100,
  scores it with AWS's random cut forest (`krcf`: 100 trees, sample size 12, lambda = 1 / time
  decay 100000, shingle size 1, as the course's RANDOM_CUT_FOREST) and then updates the forest.
  The first OUTPUT_AFTER windows are warm-up: score 0, no alert. A window without impressions has
  no CTR and no score and does not update the forest.
- The window's record (one JSON line) goes to `<STATE_PREFIX>processed/dt=YYYY-MM-DD/` for Athena,
  written only if absent (If-None-Match: *): that write claims the window, and only the attempt
  that wins it publishes the alert when the score is above THRESHOLD (SNS to TOPIC_ARN, the
  course's message). A retried final invocation finds the record and sends nothing.
- The forest lives in S3, `<STATE_PREFIX>model/<MODEL_VERSION>/<stream>/<shard>.msgpack`, one per
  shard (a tumbling window is per shard), so cold starts and new execution environments go on with
  the same model. It is written with If-Match on the ETag it was read with (If-None-Match: * for
  the first), so two environments never overwrite each other's update; its metadata names the last
  window it learned, so a retry never teaches it the same window twice.

Environment: STATE_BUCKET and TOPIC_ARN (required), STATE_PREFIX (""), THRESHOLD (2),
MODEL_VERSION (rcf-v1), and the forest's parameters for a new model: NUM_TREES (100),
SAMPLE_SIZE (12), TIME_DECAY (100000), SHINGLE_SIZE (1), OUTPUT_AFTER (24), RANDOM_SEED (42).
Unlike the other handlers this one needs a package besides boto3: krcf (a manylinux_2_28 wheel,
so on AWS the python3.12 runtime, deployed with the wheel); see docs/clickstream-detector.md.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import boto3
from botocore.exceptions import ClientError
from krcf import RandomCutForest

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

MESSAGE = "Anomaly detected with a click through rate of {ctr:.2f}% and an anomaly score of {score:.3f}"
SUBJECT = "Clickstream anomaly: CTR {ctr:.2f}% in the window from {start}"
LAST_WINDOW = "last-window-start"  # S3 user metadata on the model: the last window it learned
CONFLICT = ("PreconditionFailed", "ConditionalRequestConflict")  # a conditional write lost
LOGGED_BAD_RECORDS = 5  # per invocation; the rest are only counted

# Forests read from S3, per model key: (ETag, forest, last window start). A warm environment asks
# S3 for the model only if it changed (If-None-Match), so it downloads it again only when another
# environment has written it since.
_models: dict[str, tuple[str, RandomCutForest, str | None]] = {}


@functools.cache
def _s3():
    # One client per warm execution environment (AWS_ENDPOINT_URL, when set, points it elsewhere).
    return boto3.client("s3")


@functools.cache
def _sns():
    return boto3.client("sns")


class ModelConflict(RuntimeError):
    """Another environment wrote the model between this one's read and write."""


@dataclass(frozen=True)
class Settings:
    bucket: str
    prefix: str
    topic_arn: str
    threshold: float
    model_version: str
    num_trees: int
    sample_size: int
    time_decay: float
    shingle_size: int
    output_after: int
    random_seed: int

    @classmethod
    def from_environment(cls) -> Settings:
        missing = [name for name in ("STATE_BUCKET", "TOPIC_ARN") if not os.environ.get(name)]
        if missing:
            raise ValueError(
                f"environment variable(s) {', '.join(missing)} not set: STATE_BUCKET is the bucket for the model "
                "and processed/ records, TOPIC_ARN the SNS topic alerts go to"
            )

        def number(name: str, default: str, kind=float, positive: bool = True):
            raw = os.environ.get(name) or default
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"environment variable {name} must be a {kind.__name__}, not {raw!r}") from None
            if positive and value <= 0:
                raise ValueError(f"environment variable {name} must be positive, not {raw!r}")
            return value

        prefix = os.environ.get("STATE_PREFIX", "")
        return cls(
            bucket=os.environ["STATE_BUCKET"],
            prefix=prefix if not prefix or prefix.endswith("/") else prefix + "/",
            topic_arn=os.environ["TOPIC_ARN"],
            threshold=number("THRESHOLD", "2", positive=False),
            model_version=os.environ.get("MODEL_VERSION") or "rcf-v1",
            num_trees=number("NUM_TREES", "100", int),
            sample_size=number("SAMPLE_SIZE", "12", int),
            time_decay=number("TIME_DECAY", "100000"),
            shingle_size=number("SHINGLE_SIZE", "1", int),
            output_after=number("OUTPUT_AFTER", "24", int),
            random_seed=number("RANDOM_SEED", "42", int, positive=False),
        )

    def forest_options(self) -> dict:
        """krcf options for a new forest: KDA's RANDOM_CUT_FOREST parameters, time decay as lambda = 1 / decay."""
        return {
            "dimensions": 1,  # one number per window: the CTR
            "shingle_size": self.shingle_size,
            "num_trees": self.num_trees,
            "sample_size": self.sample_size,
            "lambda": 1.0 / self.time_decay,
            "output_after": self.output_after,
            "random_seed": self.random_seed,
        }

    def model_key(self, stream: str, shard: str) -> str:
        return f"{self.prefix}model/{self.model_version}/{stream}/{shard}.msgpack"

    def processed_key(self, stream: str, shard: str, start: datetime) -> str:
        return f"{self.prefix}processed/dt={start:%Y-%m-%d}/{start:%Y%m%dT%H%M%SZ}_{stream}_{shard}.json"


# ---- aggregating a window ----------------------------------------------------------------------


def count_records(records: list[dict], state: dict) -> dict:
    """The window's state with these Kinesis records' impressions and clicks added."""
    state = state or {}  # {} at the start of a window
    counts = {name: int(state.get(name, 0)) for name in ("impressions", "clicks", "ignored")}
    for index, record in enumerate(records):
        try:
            action = json.loads(base64.b64decode(record["kinesis"]["data"], validate=True))["browseraction"]
        except (KeyError, TypeError, ValueError, binascii.Error) as error:
            action, reason = None, f"not an event ({type(error).__name__}: {error})"
        else:
            reason = f"browseraction {action!r} is neither Impression nor Click"
        kind = {"impression": "impressions", "click": "clicks"}.get(str(action).lower())
        if kind is None:
            if counts["ignored"] < LOGGED_BAD_RECORDS:
                logger.warning("Ignoring record %s: %s", record.get("eventID", index), reason)
            counts["ignored"] += 1
        else:
            counts[kind] += 1
    return counts


def click_through_rate(clicks: int, impressions: int) -> float | None:
    """CTR in percent, as the course's SQL computed it; None for a window without impressions."""
    return clicks / impressions * 100 if impressions else None


def alert_message(ctr: float, score: float) -> str:
    return MESSAGE.format(ctr=ctr, score=score)


# ---- the model in S3 ---------------------------------------------------------------------------


def _conflict(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in CONFLICT or error.response.get("ResponseMetadata", {}).get(
        "HTTPStatusCode"
    ) in (409, 412)


def load_model(settings: Settings, key: str) -> tuple[str | None, RandomCutForest, str | None]:
    """(ETag or None if there is no model yet, forest, start of the last window it learned)."""
    cached = _models.pop(key, None)  # put back only once a save succeeds: a failed update must not linger
    try:
        extra = {"IfNoneMatch": cached[0]} if cached else {}
        response = _s3().get_object(Bucket=settings.bucket, Key=key, **extra)
    except ClientError as error:
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if cached and (status == 304 or error.response["Error"]["Code"] in ("304", "NotModified")):
            return cached
        if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
            logger.info(
                "No model at s3://%s/%s yet: starting one with %s", settings.bucket, key, settings.forest_options()
            )
            return None, RandomCutForest(settings.forest_options()), None
        raise
    forest = RandomCutForest.from_msgpack(response["Body"].read())
    _warn_if_parameters_differ(settings, key, forest)
    return response["ETag"], forest, response.get("Metadata", {}).get(LAST_WINDOW)


def _warn_if_parameters_differ(settings: Settings, key: str, forest: RandomCutForest) -> None:
    stored, wanted = forest.options(), settings.forest_options()
    differ = {name: (stored.get(name), value) for name, value in wanted.items() if stored.get(name) != value}
    if differ:
        logger.warning(
            "The model s3://%s/%s keeps the parameters it was created with, not the environment's (%s); "
            "set MODEL_VERSION to a new value to start a model with the new ones",
            settings.bucket,
            key,
            ", ".join(f"{name}: {old} kept, {new} asked" for name, (old, new) in differ.items()),
        )


def save_model(settings: Settings, key: str, forest: RandomCutForest, etag: str | None, window_start: str) -> str:
    """Write the forest if nobody else did since it was read (etag), else raise ModelConflict; the new ETag."""
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        response = _s3().put_object(
            Bucket=settings.bucket,
            Key=key,
            Body=forest.to_msgpack(),
            ContentType="application/msgpack",
            Metadata={LAST_WINDOW: window_start, "points-seen": str(forest.entries_seen())},
            **condition,
        )
    except ClientError as error:
        if _conflict(error) or (etag and error.response["Error"]["Code"] == "NoSuchKey"):
            raise ModelConflict(
                f"s3://{settings.bucket}/{key} changed since it was read ({error.response['Error']['Code']}): "
                "another execution environment updated the model; the retry reads its version"
            ) from error
        raise
    _models[key] = (response["ETag"], forest, window_start)
    return response["ETag"]


# ---- the window's record and alert -------------------------------------------------------------


def claim_window(settings: Settings, key: str, record: dict) -> bool:
    """Write the window's record unless it exists; True when this attempt wrote it (and owns the alert)."""
    try:
        _s3().put_object(
            Bucket=settings.bucket,
            Key=key,
            Body=(json.dumps(record) + "\n").encode(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except ClientError as error:
        if _conflict(error):
            return False
        raise
    return True


def publish_alert(settings: Settings, record: dict) -> str:
    response = _sns().publish(
        TopicArn=settings.topic_arn,
        Subject=SUBJECT.format(ctr=record["ctr"], start=record["window_start"]),
        Message=alert_message(record["ctr"], record["score"]),
        # For subscribers that read more than the text (SQS, Lambda): which window, which numbers.
        MessageAttributes={
            "window_start": {"DataType": "String", "StringValue": record["window_start"]},
            "window_end": {"DataType": "String", "StringValue": record["window_end"]},
            "stream": {"DataType": "String", "StringValue": record["stream"]},
            "shard_id": {"DataType": "String", "StringValue": record["shard_id"]},
            "ctr": {"DataType": "Number", "StringValue": f"{record['ctr']:.6f}"},
            "score": {"DataType": "Number", "StringValue": f"{record['score']:.6f}"},
        },
    )
    return response["MessageId"]


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _source(event: dict) -> tuple[str, str]:
    """(stream name, shard id) of a tumbling-window invocation; a final one has no records to ask."""
    records = event.get("Records") or [{}]
    arn = event.get("eventSourceARN") or records[0].get("eventSourceARN")
    shard = event.get("shardId") or (records[0].get("eventID") or "").split(":")[0]
    if not arn or not shard:
        raise ValueError("the event names no eventSourceARN or shardId: is it from a Kinesis event source mapping?")
    return arn.rsplit("/", 1)[-1], shard


def finish_window(settings: Settings, event: dict, counts: dict) -> dict:
    """Score the ended window, report it, alert once, teach the forest; returns the window's record."""
    stream, shard = _source(event)
    window_start, window_end = event["window"]["start"], event["window"]["end"]
    start = _parse_time(window_start)
    model_key = settings.model_key(stream, shard)
    record_key = settings.processed_key(stream, shard, start)

    etag, forest, last_window = load_model(settings, model_key)
    if last_window is not None and _parse_time(last_window) >= start:
        # The model learned this window already: a retry after the whole window was done.
        logger.info(
            "Window %s of %s/%s is done already (the model learned up to %s)", window_start, stream, shard, last_window
        )
        _models[model_key] = (etag, forest, last_window)
        return {"window_start": window_start, "stream": stream, "shard_id": shard, "already_done": True}

    clicks, impressions = counts["clicks"], counts["impressions"]
    ctr = click_through_rate(clicks, impressions)
    points_seen = forest.entries_seen()
    # krcf scores 0 until the forest has seen output_after points (is_output_ready turns true one later).
    warming_up = points_seen < (forest.options().get("output_after") or 0)
    score = None if ctr is None else forest.score([ctr])
    record = {
        "window_start": window_start,
        "window_end": window_end,
        "stream": stream,
        "shard_id": shard,
        "clicks": clicks,
        "impressions": impressions,
        "ignored_records": counts.get("ignored", 0),
        "ctr": ctr,
        "score": score,
        "threshold": settings.threshold,
        "alert": score is not None and not warming_up and score > settings.threshold,
        "warming_up": warming_up,
        "model_version": settings.model_version,
        "model_points_seen": points_seen,
        "terminated_early": bool(event.get("isWindowTerminatedEarly")),
        "processed_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }

    if claim_window(settings, record_key, record):
        if record["alert"]:
            try:
                message_id = publish_alert(settings, record)
            except Exception:
                # Not sent: give the claim back, so Lambda's retry of this invocation reports and alerts.
                _s3().delete_object(Bucket=settings.bucket, Key=record_key)
                raise
            logger.info("Alert %s sent to %s: %s", message_id, settings.topic_arn, alert_message(ctr, score))
    else:
        # An earlier attempt reported the window (and sent its alert, if any); it may have failed
        # before the model learned the window, so that part is done below.
        logger.info(
            "s3://%s/%s exists: an earlier attempt reported this window; no alert now", settings.bucket, record_key
        )
        record = json.loads(_s3().get_object(Bucket=settings.bucket, Key=record_key)["Body"].read())

    if ctr is not None:
        forest.update([ctr])
        save_model(settings, model_key, forest, etag, window_start)
    elif etag is not None:
        _models[model_key] = (etag, forest, last_window)  # unchanged: keep it for the next window
    logger.info("Window %s", json.dumps(record))
    return record


def handler(event, context):
    settings = Settings.from_environment()
    if "window" not in event:
        raise ValueError(
            "the event has no tumbling window: set TumblingWindowInSeconds (10 in the course) on the "
            "function's Kinesis event source mapping"
        )
    counts = count_records(event.get("Records") or [], event.get("state") or {})
    if event.get("isFinalInvokeForWindow"):
        if event.get("isWindowTerminatedEarly"):
            # The state is three counters, far below Lambda's 1 MB, so this should not happen.
            logger.warning("Window %s was terminated early; scoring what it had", event["window"]["start"])
        finish_window(settings, event, counts)
    return {"state": counts}

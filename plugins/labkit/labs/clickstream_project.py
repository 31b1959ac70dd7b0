"""The clickstream project's pieces: the run's phases, the stack's parameters, the checks and the chart.

Phases are given in windows (`name:windows:ctr`), so the same run works with the course's
10-second windows and with the short ones tests use: `plan()` turns them into the generator's
phases in seconds and a rate that gives `events_per_window` events per window.
The checks read what the pipeline produced (the archive and the windows through Athena, the
alerts from the SQS subscription) and compare it with what the generator says it sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from labkit.clickstream.events import Phase, parse_phases
from labkit.core.validation import ValidationError

TEMPLATE = "cloudformation/clickstream.yaml"
NORMAL = "normal"  # phases named so are expected to raise no alert (after warm-up); any other name is an anomaly
WARMUP = "warmup"  # a normal phase the model learns from; its windows never alert (the detector's OUTPUT_AFTER)
TRANSITION_WINDOWS = 2  # windows after an anomaly's start (or end) in which an alert is (or may still be) due
# The drop comes before the burst: a forest whose sample holds burst windows (40%) counts a drop to 1% as
# less unusual (its sample's range is wider), and with 12 points and time decay 1e-5 they stay for long.
DEFAULT_PHASES = "warmup:30:10,normal:10:10,drop:3:1,normal:10:10,burst:3:40,normal:5:10"


@dataclass(frozen=True)
class Plan:
    phases: list[Phase]  # the generator's, in seconds
    rate: float  # events per second
    window_seconds: int


def plan(phases_in_windows: str, window_seconds: int, events_per_window: int) -> Plan:
    """`warmup:30:10,burst:3:40` (name:windows:ctr%) -> the generator's phases in seconds and its rate."""
    if window_seconds < 1 or events_per_window < 1:
        raise ValueError(
            f"window_seconds and events_per_window must be >= 1, got {window_seconds}, {events_per_window}"
        )
    phases = parse_phases(phases_in_windows, unit="windows", unit_seconds=window_seconds)
    if not phases or phases[0].name != WARMUP:
        raise ValueError(f"the first phase must be {WARMUP!r}: the forest learns normal traffic before it scores")
    return Plan(phases, events_per_window / window_seconds, window_seconds)


def next_window_start(window_seconds: int) -> datetime:
    """The next clock-aligned window boundary (UTC), after sleeping until it."""
    import time
    from datetime import UTC

    now = time.time()
    boundary = (now // window_seconds + 1) * window_seconds
    time.sleep(boundary - now)
    return datetime.fromtimestamp(boundary, UTC)


def stack_parameters(prefix: str, code_bucket: str, code_key: str, window_seconds: int, threshold: float,
                     alert_email: str, archive_buffer_seconds: int) -> list[dict[str, str]]:  # fmt: skip
    values = {
        "NamePrefix": prefix, "CodeBucket": code_bucket, "CodeKey": code_key, "WindowSeconds": window_seconds,
        "Threshold": threshold, "AlertEmail": alert_email, "ArchiveBufferSeconds": archive_buffer_seconds,
    }  # fmt: skip
    return [{"ParameterKey": key, "ParameterValue": str(value)} for key, value in values.items()]


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    clicks: int
    impressions: int
    ctr: float | None
    score: float | None
    alert: bool
    warming_up: bool

    @classmethod
    def from_athena(cls, row: dict[str, str | None]) -> Window:
        return cls(
            start=_moment(row["window_start"]), end=_moment(row["window_end"]), clicks=int(row["clicks"]),
            impressions=int(row["impressions"]), ctr=None if row["ctr"] is None else float(row["ctr"]),
            score=None if row["score"] is None else float(row["score"]), alert=row["alert"] == "true",
            warming_up=row["warming_up"] == "true",
        )  # fmt: skip


def phase_of(window: Window, phases: list[dict]) -> dict | None:
    """The phase (of the generator's summary) holding most of the window, by event time."""
    best, overlap = None, timedelta(0)
    for phase in phases:
        start, end = _moment(phase["start"]), _moment(phase["end"])
        shared = min(end, window.end) - max(start, window.start)
        if shared > overlap:
            best, overlap = phase, shared
    return best


def alert_windows(messages: list[dict]) -> list[datetime]:
    """The window starts of the alerts read from the SQS subscription (SNS envelopes)."""
    starts = []
    for message in messages:
        envelope = json.loads(message["Body"])
        attributes = envelope.get("MessageAttributes", {})
        if "window_start" not in attributes:
            raise ValidationError(f"an alert without its window: {envelope.get('Message')!r}")
        starts.append(_moment(attributes["window_start"]["Value"]))
    return sorted(starts)


def check_run(summary: dict, windows: list[Window], alerts: list[datetime], archive: dict[str, int],
              window_seconds: int) -> dict[str, Any]:  # fmt: skip
    """Everything sent was archived and scored, every window was reported, alerts came exactly in the anomalies."""
    problems = []
    sent = {
        "Impression": sum(p["impressions"] for p in summary["phases"]),
        "Click": sum(p["clicks"] for p in summary["phases"]),
    }
    if archive != sent:
        problems.append(f"the Firehose archive holds {archive}, the generator sent {sent}")
    scored = {"Impression": sum(w.impressions for w in windows), "Click": sum(w.clicks for w in windows)}
    if scored != sent:
        problems.append(f"the windows count {scored}, the generator sent {sent}")
    step = timedelta(seconds=window_seconds)
    gaps = [
        f"{a.start:%H:%M:%S}->{b.start:%H:%M:%S}"
        for a, b in zip(windows, windows[1:], strict=False)
        if b.start - a.start != step
    ]
    if gaps:
        problems.append(f"windows missing or repeated between {gaps[:5]}")
    reported = sorted(w.start for w in windows if w.alert)
    if reported != alerts:
        problems.append(f"the windows flagged {len(reported)} alerts, the SQS subscription got {len(alerts)}")

    phases = summary["phases"]
    by_start = {w.start: w for w in windows}
    anomalies = []
    for index, phase in enumerate(phases):
        if phase["name"] in (NORMAL, WARMUP):
            continue
        onset = _moment(phase["start"])
        due = [a for a in alerts if onset - step <= a <= onset + TRANSITION_WINDOWS * step]
        anomalies.append({"phase": f"{index}:{phase['name']}", "ctr": phase["ctr_percent"], "alerts": len(due),
                          "first_alert_after_s": (due[0] - onset).total_seconds() if due else None})  # fmt: skip
        if not due:
            near = [w for w in windows if onset - step <= w.start <= _moment(phase["end"]) + step]
            seen = ", ".join(
                f"{w.start:%H:%M:%S} CTR {w.ctr if w.ctr is None else round(w.ctr, 2)} "
                f"score {w.score if w.score is None else round(w.score, 2)}"
                for w in near
            )
            problems.append(
                f"no alert within {TRANSITION_WINDOWS} windows of the {phase['name']} phase starting "
                f"{onset:%H:%M:%S} (its windows: {seen})"
            )
    false_alerts = []
    for start in alerts:
        window = by_start.get(start)
        phase = phase_of(window, phases) if window else None
        if phase is None or phase["name"] not in (NORMAL, WARMUP):
            continue
        near_anomaly = any(
            p["name"] not in (NORMAL, WARMUP) and _moment(p["start"]) - step <= start <= _moment(p["end"]) + TRANSITION_WINDOWS * step
            for p in phases
        )  # fmt: skip
        if not near_anomaly:
            false_alerts.append(f"{start:%H:%M:%S} ({phase['name']})")
    if false_alerts:
        problems.append(f"alerts in normal traffic: {false_alerts}")
    if problems:
        raise ValidationError("the clickstream run does not check out: " + "; ".join(problems))
    scores = [w.score for w in windows if w.score is not None and not w.warming_up]
    return {
        "events_sent": sum(sent.values()),
        "clicks_sent": sent["Click"],
        "windows": len(windows),
        "alerts": len(alerts),
        "anomalies": anomalies,
        "false_alerts": 0,
        "max_normal_score": round(max((w.score or 0) for w in windows if not w.alert and not w.warming_up), 3)
        if scores
        else None,
    }


def draw_chart(windows: list[Window], phases: list[dict], threshold: float, path: Path, title: str) -> Path:
    """CTR and anomaly score per window, phases shaded, alerts marked: a PNG at path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ctr_axis = plt.subplots(figsize=(12, 5), dpi=100)
    score_axis = ctr_axis.twinx()
    colours = {NORMAL: "#e8f4e8", WARMUP: "#eeeeee"}
    for phase in phases:
        ctr_axis.axvspan(
            _moment(phase["start"]), _moment(phase["end"]), color=colours.get(phase["name"], "#fde2e2"), lw=0
        )
        ctr_axis.text(
            _moment(phase["start"]), 1.01, phase["name"], transform=ctr_axis.get_xaxis_transform(), fontsize=8
        )
    starts = [w.start for w in windows]
    ctr_axis.plot(starts, [w.ctr for w in windows], color="#1f77b4", marker=".", label="CTR %")
    score_axis.plot(starts, [w.score for w in windows], color="#ff7f0e", marker=".", label="anomaly score")
    score_axis.axhline(threshold, color="#ff7f0e", linestyle="--", linewidth=1, label=f"threshold {threshold}")
    alerted = [w for w in windows if w.alert]
    score_axis.scatter(
        [w.start for w in alerted], [w.score for w in alerted], color="red", zorder=5, s=60, label="alert"
    )
    ctr_axis.set_ylabel("click-through rate (%)")
    score_axis.set_ylabel("anomaly score (random cut forest)")
    ctr_axis.set_xlabel("window start (UTC)")
    ctr_axis.set_title(title, pad=16)  # above the phase names
    handles = ctr_axis.get_legend_handles_labels()[0] + score_axis.get_legend_handles_labels()[0]
    ctr_axis.legend(handles=handles, loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)
    return path


# ---- the DAG's tasks (through the provider's hooks) ------------------------------------------


def _s3():
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook().conn


def windows_done(bucket: str, summary: dict, window_seconds: int) -> bool:
    """The detector's window records count every event sent; or, a while after the last event's window has
    been reported, they never will (the checks then say what is missing).

    Windows follow the records' arrival, so on a busy machine the last events can arrive in a window after
    the one their event time falls in: the last event's window being reported is not enough.
    """
    import json
    import time

    s3 = _s3()
    last_event = _moment(summary["phases"][-1]["end"])
    last_window = datetime.fromtimestamp(last_event.timestamp() // window_seconds * window_seconds, last_event.tzinfo)
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="processed/")
            for o in page.get("Contents", [])]  # fmt: skip
    counted = 0
    for key in keys:
        record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        counted += record["clicks"] + record["impressions"] + record["ignored_records"]
    latest = max((key.rsplit("/", 1)[-1].split("_", 1)[0] for key in keys), default=None)
    print(
        f"{len(keys)} windows reported, the latest starting {latest}, counting {counted:,} of {summary['sent']:,} events"
    )
    if counted >= summary["sent"]:
        return True
    given_up = time.time() > last_event.timestamp() + 3 * window_seconds + 60
    return given_up and latest is not None and latest >= f"{last_window:%Y%m%dT%H%M%SZ}"


def archive_done(bucket: str, summary: dict) -> bool:
    """Firehose has delivered as many events to raw/ as were sent (gzip'd JSON lines)."""
    import gzip

    s3 = _s3()
    lines = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="raw/"):
        for listed in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
            lines += gzip.decompress(body).count(b"\n")
    print(f"archived {lines} of {summary['sent']} events")
    return lines >= summary["sent"]


def read_alerts(queue_url: str, since: datetime, expected: int, patience: float = 60.0) -> list[datetime]:
    """The window starts of this run's alerts on the queue (from `since`), waiting up to `patience`
    seconds for `expected` of them (SNS delivers to SQS asynchronously). Messages are left on the
    queue (they become visible again), so a retried check reads them again."""
    import time

    from airflow.providers.amazon.aws.hooks.sqs import SqsHook

    sqs = SqsHook().conn
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + patience
    while True:
        # Read, not taken: visible again after 5 s, for a retry of the check (and the next run's reads).
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=5
        ).get("Messages", [])
        seen.update((message["MessageId"], message) for message in batch)
        starts = [start for start in alert_windows(list(seen.values())) if start >= since]
        if (not batch or len(starts) >= expected) and (len(starts) >= expected or time.monotonic() > deadline):
            print(f"alerts on the queue: {len(seen)} read, {len(starts)} of this run, {expected} flagged")
            return starts


def _windows(query_id: str) -> list[Window]:
    from labkit.labs.athena import fetch_rows

    return [Window.from_athena(row) for row in fetch_rows(query_id)]


def validate(outputs: dict, summary: dict, archive_query: str, windows_query: str, params: dict) -> dict[str, Any]:
    from labkit.labs.athena import fetch_rows

    archive = {row["browseraction"]: int(row["events"]) for row in fetch_rows(archive_query)}
    windows = _windows(windows_query)
    since = _moment(summary["phases"][0]["start"]) - timedelta(seconds=params["window_seconds"])
    alerts = read_alerts(outputs["AlertQueueUrl"], since, sum(w.alert for w in windows))
    return check_run(summary, windows, alerts, archive, params["window_seconds"])


def chart_path(run_id: str) -> Path:
    """artifacts/clickstream_project/<run id>.png (characters a file name should not hold become _)."""
    from labkit.core import paths

    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in run_id)
    return paths.PROJECT_ROOT / "artifacts" / "clickstream_project" / f"{safe}.png"


def chart(summary: dict, windows_query: str, params: dict, run_id: str) -> str:
    path = chart_path(run_id)
    title = (f"Clickstream: CTR per {params['window_seconds']} s window, random cut forest score "
             f"(threshold {params['threshold']})")  # fmt: skip
    draw_chart(_windows(windows_query), summary["phases"], params["threshold"], path, title)
    print(f"chart: {path}")
    return str(path)

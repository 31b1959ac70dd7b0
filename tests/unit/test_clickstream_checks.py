"""The clickstream project's plan, checks and chart (labkit.labs.clickstream_project), without AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from labkit.core.validation import ValidationError
from labkit.labs import clickstream_project as project

START = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
W = 2  # window seconds


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def summary(*phases: tuple[str, int, float]) -> dict:
    """A generator summary of 100 events per window, phases given in windows."""
    out, at = [], START
    for name, windows, ctr in phases:
        end = at + timedelta(seconds=windows * W)
        clicks = round(100 * windows * ctr / (100 + ctr))
        out.append({"name": name, "seconds": windows * W, "ctr_percent": ctr, "start": iso(at), "end": iso(end),
                    "impressions": 100 * windows - clicks, "clicks": clicks})  # fmt: skip
        at = end
    return {"phases": out, "sent": sum(p["impressions"] + p["clicks"] for p in out)}


def windows_for(run: dict, alerts_at: set[int]) -> list[project.Window]:
    """Windows splitting each phase's events evenly; alerts at the given window numbers."""
    windows, number = [], 0
    for phase in run["phases"]:
        count = phase["seconds"] // W
        for i in range(count):
            start = datetime.fromisoformat(phase["start"].replace("Z", "+00:00")) + timedelta(seconds=i * W)
            clicks = phase["clicks"] // count + (1 if i < phase["clicks"] % count else 0)
            impressions = phase["impressions"] // count + (1 if i < phase["impressions"] % count else 0)
            alert = number in alerts_at
            windows.append(project.Window(start, start + timedelta(seconds=W), clicks, impressions,
                                          100 * clicks / impressions, 3.5 if alert else 1.0, alert,
                                          phase["name"] == project.WARMUP))  # fmt: skip
            number += 1
    return windows


RUN = summary(
    ("warmup", 24, 10), ("normal", 5, 10), ("burst", 3, 40), ("normal", 5, 10), ("drop", 3, 1), ("normal", 3, 10)
)
ARCHIVE = {"Impression": sum(p["impressions"] for p in RUN["phases"]), "Click": sum(p["clicks"] for p in RUN["phases"])}
BURST, DROP = 24 + 5, 24 + 5 + 3 + 5  # window numbers where the anomalies start


def alert_starts(windows, numbers):
    return [windows[n].start for n in sorted(numbers)]


def test_plan_turns_windows_into_seconds_and_a_rate():
    run = project.plan("warmup:30:10,burst:3:40", window_seconds=2, events_per_window=1000)
    assert [(p.name, p.seconds, p.ctr_percent) for p in run.phases] == [("warmup", 60, 10), ("burst", 6, 40)]
    assert run.rate == 500
    with pytest.raises(ValueError, match="first phase must be 'warmup'"):
        project.plan("normal:10:10", 2, 100)
    with pytest.raises(ValueError, match="not name:windows:ctr_percent"):
        project.plan("warmup:10", 2, 100)


def test_a_run_with_alerts_at_both_onsets_checks_out():
    windows = windows_for(RUN, {BURST, DROP + 1})
    figures = project.check_run(RUN, windows, alert_starts(windows, {BURST, DROP + 1}), ARCHIVE, W)
    assert figures["alerts"] == 2 and figures["windows"] == len(windows) == 43
    assert [a["alerts"] for a in figures["anomalies"]] == [1, 1]
    assert [a["first_alert_after_s"] for a in figures["anomalies"]] == [0.0, 2.0]


def test_a_missed_anomaly_a_false_alert_a_lost_event_and_a_gap_are_each_named():
    windows = windows_for(RUN, {BURST, 26})  # no drop alert; an alert in normal traffic (window 26)
    with pytest.raises(ValidationError) as error:
        project.check_run(RUN, windows, alert_starts(windows, {BURST, 26}), ARCHIVE, W)
    assert "no alert within 2 windows of the drop phase starting 12:01:14 (its windows: 12:01:12 CTR" in str(error.value)
    assert "alerts in normal traffic: ['12:00:52 (normal)']" in str(error.value)
    lost = dict(ARCHIVE, Click=ARCHIVE["Click"] - 1)
    gap = [w for i, w in enumerate(windows_for(RUN, {BURST, DROP})) if i != 10]
    with pytest.raises(ValidationError) as error:
        project.check_run(RUN, gap, alert_starts(gap, {BURST - 1, DROP - 1}), lost, W)
    message = str(error.value)
    assert (
        "the Firehose archive holds" in message
        and "windows missing or repeated between ['12:00:18->12:00:22']" in message
    )
    assert "the windows count" in message


def test_alerts_read_from_the_queue_must_match_the_flagged_windows():
    windows = windows_for(RUN, {BURST, DROP})
    with pytest.raises(ValidationError, match="the windows flagged 2 alerts, the SQS subscription got 1"):
        project.check_run(RUN, windows, alert_starts(windows, {BURST}), ARCHIVE, W)


def test_alert_windows_come_from_the_sns_envelope():
    body = {"Type": "Notification", "Message": "Anomaly detected with ...",
            "MessageAttributes": {"window_start": {"Type": "String", "Value": "2026-12-05T12:00:58Z"}}}  # fmt: skip
    assert project.alert_windows([{"Body": json.dumps(body)}]) == [START + timedelta(seconds=58)]
    with pytest.raises(ValidationError, match="an alert without its window"):
        project.alert_windows([{"Body": json.dumps({"Message": "x"})}])


def test_the_chart_is_a_png(tmp_path):
    windows = windows_for(RUN, {BURST, DROP})
    path = project.draw_chart(windows, RUN["phases"], 2.8, tmp_path / "run.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000

"""The clickstream project end to end on local AWS: CloudFormation stack, generator, Firehose archive,
the detector's windows and alerts, Athena, the chart, then teardown."""

from __future__ import annotations

import boto3
import pytest

from tests.lab_runs import assert_every_task_succeeded

pytestmark = pytest.mark.e2e

DAG_ID = "clickstream_project"
# 2-second windows: 30 warm-up windows the forest learns from, then normal / burst / normal / drop / normal.
CONF = {
    "teardown": True,
    "window_seconds": 2,
    "events_per_window": 1000,
    "phases": "warmup:30:10,normal:8:10,drop:3:1,normal:8:10,burst:3:40,normal:4:10",
    "archive_buffer_seconds": 5,
}


def test_clickstream_project_alerts_in_the_anomalies_only_and_cleans_up(local_aws):
    from labkit.labs import clickstream_project as project
    from labkit.local import runner

    report = runner.run_dag(DAG_ID, CONF)

    assert_every_task_succeeded(report)
    figures = report.figures
    # validate() compared the archive (Athena) with what was sent, checked every window and the alerts.
    assert figures["events_sent"] == 56 * 1000
    assert [(a["phase"], a["alerts"] >= 1) for a in figures["anomalies"]] == [("2:drop", True), ("4:burst", True)]
    assert figures["false_alerts"] == 0
    assert 56 <= figures["windows"] <= 58  # the first and last windows may straddle the clock's boundaries
    assert project.chart_path(report.run_id).read_bytes()[:4] == b"\x89PNG"

    def client(service):
        return boto3.client(service, endpoint_url=local_aws.endpoint_url, region_name="us-east-1")

    assert client("cloudformation").describe_stacks()["Stacks"] == [] or all(
        s["StackStatus"] == "DELETE_COMPLETE" for s in client("cloudformation").describe_stacks()["Stacks"]
    )
    assert client("kinesis").list_streams()["StreamNames"] == []
    assert [b["Name"] for b in client("s3").list_buckets()["Buckets"] if "clickstream" in b["Name"]] == []

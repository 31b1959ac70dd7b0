"""Glue lab 1 end to end on local AWS: crawler -> Athena -> Glue job -> crawler -> Athena -> teardown."""

from __future__ import annotations

import boto3
import pytest

from tests.lab_runs import FLIGHTS_FIGURES, assert_every_task_succeeded

pytestmark = pytest.mark.e2e

DAG_ID = "glue_lab1_csv_to_parquet"


def test_glue_lab1_converts_every_flight_and_cleans_up(local_aws):
    """A first run on 5,000 sampled flights keeps its resources; the rerun on all of them reuses them."""
    from labkit.local import runner

    sampled = runner.run_dag(DAG_ID, {"teardown": False, "rows": 5_000})
    assert sampled.state == "success", f"failed tasks: {sampled.failed_tasks}"
    assert sampled.figures["raw_rows"] == sampled.figures["parquet_rows"] == 5_000
    assert sampled.task_states["delete_data_bucket"] == "skipped"

    report = runner.run_dag(DAG_ID, {"teardown": True})

    assert_every_task_succeeded(report)
    assert report.figures == FLIGHTS_FIGURES

    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "glue-lab1" in b["Name"]] == []
    glue = boto3.client("glue", endpoint_url=local_aws.endpoint_url)
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == []
    assert glue.get_crawlers()["Crawlers"] == []
    iam = boto3.client("iam", endpoint_url=local_aws.endpoint_url)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if "glue-lab1" in r["RoleName"]] == []

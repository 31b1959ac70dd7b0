"""Athena lab 1 end to end on local AWS: workgroup, CSV tables, queries, the result CSV as artifact, teardown."""

from __future__ import annotations

import csv

import boto3
import pytest

from tests.lab_runs import assert_every_task_succeeded

pytestmark = pytest.mark.e2e

DAG_ID = "athena_lab1_basics"


def test_athena_lab1_queries_flights_and_cleans_up(local_aws):
    from labkit.core import paths
    from labkit.local import runner

    report = runner.run_dag(DAG_ID, {"teardown": True})

    assert_every_task_succeeded(report)
    artifact = paths.PROJECT_ROOT / "artifacts" / DAG_ID / "flights_by_airline.csv"
    # nycflights13, computed independently with pandas: UA flew 58,665 flights, 8,255 never departed,
    # July had the most departures 15+ minutes late (30.3 %), JFK-LAX is the busiest route.
    assert report.figures == {
        "flights": 336_776,
        "airlines": 16,
        "top_airline": "United Air Lines Inc.",
        "top_airline_flights": 58_665,
        "cancelled": 8_255,
        "worst_month": 7,
        "worst_month_pct_delayed_15": 30.3,
        "busiest_route": "JFK-LAX",
        "busiest_route_flights": 11_262,
        "artifact": str(artifact),
    }
    with open(artifact, newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["airline", "flights", "avg_dep_delay", "avg_arr_delay", "distance"]
    assert rows[1][:2] == ["United Air Lines Inc.", "58665"] and len(rows) == 17

    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "athena-lab1" in b["Name"]] == []
    glue = boto3.client("glue", endpoint_url=local_aws.endpoint_url)
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"] if "athena_lab1" in d["Name"]] == []
    athena = boto3.client("athena", endpoint_url=local_aws.endpoint_url)
    assert [w["Name"] for w in athena.list_work_groups()["WorkGroups"] if "athena-lab1" in w["Name"]] == []

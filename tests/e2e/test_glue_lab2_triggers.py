"""Glue lab 2 end to end on local AWS: triggers run the job and the crawler, Athena validates, teardown."""

from __future__ import annotations

import boto3
import pytest

from tests.lab_runs import FLIGHTS_FIGURES, assert_every_task_succeeded

pytestmark = pytest.mark.e2e

DAG_ID = "glue_lab2_triggers"


def test_glue_lab2_triggers_run_the_job_and_the_crawl_and_clean_up(local_aws):
    from labkit.local import runner

    report = runner.run_dag(DAG_ID, {"teardown": True})

    assert_every_task_succeeded(report)
    # The Parquet written by the run the on-demand trigger started, and crawled by the crawl the
    # conditional trigger started, holds every flight with the raw CSV's aggregates.
    assert report.figures == {
        **FLIGHTS_FIGURES,
        "job_run_trigger": "ade-glue-lab2-on-demand",
        "scheduled_trigger": "ACTIVATED cron(0 6 * * ? *)",
    }

    endpoint = local_aws.endpoint_url
    glue = boto3.client("glue", endpoint_url=endpoint)
    assert glue.get_triggers()["Triggers"] == []
    assert glue.get_crawlers()["Crawlers"] == []
    assert glue.get_jobs()["Jobs"] == []
    assert glue.get_databases()["DatabaseList"] == []
    s3 = boto3.client("s3", endpoint_url=endpoint)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "glue-lab2" in b["Name"]] == []
    iam = boto3.client("iam", endpoint_url=endpoint)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if "glue-lab2" in r["RoleName"]] == []

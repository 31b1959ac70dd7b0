"""Glue lab 3 end to end on local AWS: a Glue workflow crawls, converts and crawls; Athena validates; teardown."""

from __future__ import annotations

import boto3
import pytest

from tests.lab_runs import FLIGHTS_FIGURES, assert_every_task_succeeded

pytestmark = pytest.mark.e2e

DAG_ID = "glue_lab3_workflow"


def test_glue_lab3_workflow_runs_its_graph_and_cleans_up(local_aws):
    from labkit.local import runner

    report = runner.run_dag(DAG_ID, {"teardown": True})

    assert_every_task_succeeded(report)
    # The workflow crawled the raw CSV, converted it and crawled the Parquet: 3 actions, all
    # successful; both tables agree with the staged flights.
    assert report.figures == {
        **FLIGHTS_FIGURES,
        "workflow_actions": 3,
        "workflow_actions_succeeded": 3,
    }

    endpoint = local_aws.endpoint_url
    glue = boto3.client("glue", endpoint_url=endpoint)
    assert glue.list_workflows()["Workflows"] == []
    assert glue.get_triggers()["Triggers"] == []
    assert glue.get_crawlers()["Crawlers"] == []
    assert glue.get_jobs()["Jobs"] == []
    assert glue.get_databases()["DatabaseList"] == []
    s3 = boto3.client("s3", endpoint_url=endpoint)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "glue-lab3" in b["Name"]] == []
    iam = boto3.client("iam", endpoint_url=endpoint)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if "glue-lab3" in r["RoleName"]] == []

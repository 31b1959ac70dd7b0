"""The CDC project end to end on local AWS: RDS MySQL -> DMS -> S3 -> Lambda -> Glue merge -> Athena, then teardown."""

from __future__ import annotations

import boto3
import pytest

pytestmark = pytest.mark.e2e

DAG_ID = "cdc_project"
# The branches a first run does not take: the instance and the task are new.
NOT_TAKEN = {"resume_replication_task", "task_is_running", "watcher"}


def test_cdc_project_merges_full_load_and_changes_to_the_current_state_and_cleans_up(local_aws):
    from labkit.local import runner

    report = runner.run_dag(DAG_ID, {"teardown": True, "workload_size": 400, "workload_seconds": 8, "seed": 7})

    assert report.state == "success", f"failed tasks: {report.failed_tasks}"
    assert {task for task, state in report.task_states.items() if state == "skipped"} == NOT_TAKEN
    assert {state for task, state in report.task_states.items() if task not in NOT_TAKEN} == {"success"}
    figures = report.figures
    # validate() compared each table with MySQL row for row (count + checksum) and DMS's counts with
    # the workload's; what is left to check here is that the seed and the workload were what they say.
    assert figures["seed_rows"] == {"movielens.movies": 9_066, "movielens.ratings": 100_004, "shop.customers": 300}
    changes = {table: figures[f"{table}_changes"] for table in ("movies", "ratings", "customers")}
    assert sum(sum(counts.values()) for counts in changes.values()) >= 400  # a key change is 2 changes
    assert figures["ratings_rows"] == 100_004 + changes["ratings"]["inserts"] - changes["ratings"]["deletes"]
    assert figures["customers_rows"] == 300 + changes["customers"]["inserts"] - changes["customers"]["deletes"]
    assert figures["movies_rows"] == 9_066 and changes["movies"]["updates"] > 0

    def client(service):
        return boto3.client(service, endpoint_url=local_aws.endpoint_url, region_name="us-east-1")

    assert client("rds").describe_db_instances()["DBInstances"] == []
    assert client("dms").describe_replication_tasks()["ReplicationTasks"] == []
    assert client("dms").describe_endpoints()["Endpoints"] == []
    assert [b["Name"] for b in client("s3").list_buckets()["Buckets"] if "cdc-project" in b["Name"]] == []
    assert client("glue").get_jobs()["Jobs"] == []

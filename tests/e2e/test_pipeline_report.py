"""The pipeline_report DAG end to end: a lab runs, then the report reads it through a real API server's REST API.

The API server serves the tests' Airflow home (its metadata DB is the one dag.test() writes), with the simple
auth manager's generated admin password; the report DAG reaches it through the `airflow_api` connection.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.airflow_support import free_ports
from tests.lab_runs import assert_every_task_succeeded

pytestmark = pytest.mark.e2e

BUCKET = "ade-pipeline-report-artifacts"


@pytest.fixture
def api_server(tmp_path):
    """`airflow api-server` on a free port of 127.0.0.1; yields (url, admin password)."""
    [port] = free_ports(1)
    log = tmp_path / "api-server.log"
    env = {**os.environ, "AIRFLOW__API__WORKERS": "1"}
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/version", timeout=5):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(1)
        passwords = Path(os.environ["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        yield url, json.loads(passwords.read_text())["admin"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def test_the_report_names_the_latest_runs_with_their_figures_and_lands_in_s3(
    trusting_connection, api_server, aws_client, monkeypatch, tmp_path
):
    from labkit.local import runner
    from labkit.report import sources

    lab = runner.run_dag("s3_lab2_policies", {"teardown": True})
    assert_every_task_succeeded(lab)

    url, password = api_server
    connection = {"conn_type": "http", "host": url, "login": "admin", "password": password}
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps(connection))
    monkeypatch.setattr(sources, "REPORT_PATH", tmp_path / "report.html")  # not the repo's artifacts/
    report = runner.run_dag("pipeline_report", {"teardown": False})

    assert report.state == "success", f"failed tasks: {report.failed_tasks}"
    assert {task: state for task, state in report.task_states.items() if state != "success"} == {
        "watcher": "skipped", "delete_reports_bucket": "skipped"  # teardown off: the report stays in S3
    }  # fmt: skip
    assert report.figures["dags"] >= 1 and report.figures["images"] >= 1
    assert report.figures["s3"].startswith(f"s3://{BUCKET}/reports/")
    html = aws_client("s3").get_object(Bucket=BUCKET, Key="reports/latest.html")["Body"].read().decode()
    assert html == (tmp_path / "report.html").read_text()
    assert f">{lab.run_id}<" in html  # the lab's run, read through the REST API
    for task_id in lab.task_states:
        assert f"<td>{task_id}</td>" in html
    assert f"<th>denied_by_bucket_policy</th><td>{lab.figures['denied_by_bucket_policy']}</td>" in html
    assert "pipeline_report</a>" not in html  # the report leaves its own runs out

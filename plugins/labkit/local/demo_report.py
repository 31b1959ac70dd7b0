"""`make demo`'s report: artifacts/report.html from the demo's own metadata DB, Glue and artifacts/.

The demo runs the DAGs in this process (dag.test()), so it reads their runs' task instances straight
from the metadata DB; the pipeline_report DAG gets the same through Airflow's REST API.
"""

from __future__ import annotations

from pathlib import Path

from labkit.local.runner import RunReport
from labkit.report import render, sources


def dag_run_timing(report: RunReport) -> render.DagRunTiming:
    """The run's start and end and each task instance's, from the metadata DB."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == report.dag_id, DagRun.run_id == report.run_id))
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state, TaskInstance.start_date, TaskInstance.end_date).where(
                TaskInstance.dag_id == report.dag_id, TaskInstance.run_id == report.run_id
            )
        ).all()
        start, end = (run.start_date, run.end_date) if run else (None, None)
    return render.DagRunTiming(
        dag_id=report.dag_id,
        run_id=report.run_id,
        state=report.state,
        start=start,
        end=end,
        tasks=[render.TaskTiming(task_id, getattr(state, "value", state), s, e) for task_id, state, s, e in rows],
        figures=report.figures,
    )


def write(reports: list[RunReport], glue_runs: list[render.GlueJobRun], path: Path = sources.REPORT_PATH) -> Path:
    """The report of the demo's runs (a DAG that could not start has no run: it is left out of the timeline)."""
    timings = [dag_run_timing(report) for report in reports if report.run_id]
    cdc = next((sources.cdc_latency(run) for run in timings if run.dag_id == "cdc_project"), None)
    report = render.Report(
        source="make demo (scripts/demo.py)",
        dag_runs=timings,
        quality=sources.quality_results(),
        charts=sources.clickstream_charts(),
        cdc=cdc,
        glue_runs=sorted(glue_runs, key=lambda run: run.started_on.timestamp() if run.started_on else 0),
    )
    return render.write(report, path)

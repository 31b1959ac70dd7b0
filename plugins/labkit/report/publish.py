"""The pipeline_report DAG's work: gather the inputs, render the page, put it in artifacts/ and S3, check it."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from labkit.core.dag import FIGURES_TASK_ID
from labkit.core.validation import ValidationError
from labkit.report import render, sources

REPORTS_PREFIX = "reports"
# (dag_id, run_id, task_id) -> that task instance's return value; a task's ti.xcom_pull with those.
Pull = Callable[[str, str, str], Any]


def quality_from_events(events: Any, pull: Pull) -> list[dict] | None:
    """The checks the runs that published the triggering asset events returned; None without such an event."""
    found = None
    for asset_events in (events or {}).values():
        for event in asset_events:
            if event.source_dag_id and event.source_run_id and event.source_task_id:
                checks = pull(event.source_dag_id, event.source_run_id, event.source_task_id)
                found = checks if isinstance(checks, list) else found
    return found


def publish(runs: list[dict[str, Any]], bucket: str, run_id: str, pull: Pull, events: Any = None) -> dict[str, Any]:
    """Render the report of `runs` (sources.latest_runs), write artifacts/report.html, upload it to S3."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from labkit.core import naming

    timings = [
        sources.timing_from_api(
            found["run"], found["task_instances"], pull(found["run"]["dag_id"], found["run"]["dag_run_id"], FIGURES_TASK_ID)
        )
        for found in runs
    ]  # fmt: skip
    starts = [timing.start for timing in timings if timing.start]
    glue = AwsBaseHook(client_type="glue").conn
    report = render.Report(
        source=f"the pipeline_report DAG (run {run_id})",
        dag_runs=timings,
        quality=quality_from_events(events, pull) or sources.quality_results(),
        charts=sources.clickstream_charts(),
        cdc=next((sources.cdc_latency(t) for t in timings if t.dag_id == "cdc_project"), None),
        glue_runs=sources.glue_job_runs(glue, naming.current_prefix(), min(starts, default=None)),
    )
    html = render.render(report)
    sources.REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    sources.REPORT_PATH.write_text(html, encoding="utf-8")
    s3 = S3Hook(extra_args={"ContentType": "text/html; charset=utf-8"})
    keys = [f"{REPORTS_PREFIX}/{re.sub(r'[^A-Za-z0-9_.-]', '_', run_id)}.html", f"{REPORTS_PREFIX}/latest.html"]
    for key in keys:
        s3.load_string(html, key=key, bucket_name=bucket, replace=True)
    print(f"report: {sources.REPORT_PATH} and s3://{bucket}/{keys[0]} ({len(html):,} characters)")
    return {
        "local": str(sources.REPORT_PATH),
        "s3": f"s3://{bucket}/{keys[0]}",
        "dags": [timing.dag_id for timing in timings],
        "task_instances": sum(len(timing.tasks) for timing in timings),
        "quality_checks": None if report.quality is None else len(report.quality),
        "glue_job_runs": len(report.glue_runs),
        "charts": len(report.charts),
    }


def check(published: dict[str, Any]) -> dict[str, Any]:
    """The report in S3 names every DAG it was given and each of its images is a PNG; its key figures."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket, key = published["s3"].removeprefix("s3://").split("/", 1)
    html = S3Hook().read_key(key, bucket)
    problems = [f"{dag_id} is not in the report" for dag_id in published["dags"] if f">{dag_id}<" not in html]
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    problems += [f"image {n} is no PNG" for n, data in enumerate(images) if not _is_png(data)]
    expected_images = bool(published["dags"]) + (published["glue_job_runs"] > 0) + published["charts"]
    if len(images) != expected_images:
        problems.append(f"{len(images)} images, {expected_images} expected")
    if re.search(r'(src|href)="(https?:)?//', html):
        problems.append("the report loads something from elsewhere")
    if problems:
        raise ValidationError("the report does not check out: " + "; ".join(problems))
    return {
        "dags": len(published["dags"]),
        "task_instances": published["task_instances"],
        "quality_checks": published["quality_checks"] if published["quality_checks"] is not None else "no run yet",
        "glue_job_runs": published["glue_job_runs"],
        "images": len(images),
        "report_kb": round(len(html.encode()) / 1024),
        "s3": published["s3"],
    }


def _is_png(data: str) -> bool:
    png = base64.b64decode(data)
    return png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 8

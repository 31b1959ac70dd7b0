"""The report's inputs as plain data, its charts (matplotlib) and its HTML (Jinja2, autoescaped).

Every chart is a PNG embedded as a data: URI and the styles are inline, so the page shows the same
from a laptop's disk, an S3 download or an e-mail attachment: it loads nothing from anywhere.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

TEMPLATE = "report.html.j2"
STATE_COLOURS = {
    "success": "#2ca02c",
    "failed": "#d62728",
    "upstream_failed": "#ff7f0e",
    "skipped": "#c7c7c7",
    "up_for_retry": "#bcbd22",
}
OTHER_COLOUR = "#1f77b4"  # running, queued, removed...


@dataclass
class TaskTiming:
    task_id: str
    state: str | None
    start: datetime | None
    end: datetime | None

    @property
    def seconds(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.start and self.end else None


@dataclass
class DagRunTiming:
    """One DAG run: its tasks' start and end, and the key figures its `validate` task returned."""

    dag_id: str
    run_id: str | None
    state: str
    start: datetime | None
    end: datetime | None
    tasks: list[TaskTiming] = field(default_factory=list)
    figures: dict[str, Any] | None = None

    @property
    def seconds(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.start and self.end else None

    def task(self, task_id: str) -> TaskTiming | None:
        return next((t for t in self.tasks if t.task_id == task_id), None)


@dataclass
class GlueJobRun:
    job_name: str
    run_id: str
    state: str
    started_on: datetime | None
    completed_on: datetime | None
    execution_seconds: int | None  # Glue's ExecutionTime: seconds the run used resources


@dataclass
class Chart:
    title: str
    png: bytes


@dataclass
class Report:
    source: str  # what produced it: "make demo", "the pipeline_report DAG (run ...)"
    dag_runs: list[DagRunTiming]
    quality: list[dict[str, Any]] | None = None  # {"check", "table", "figure", "bound", "passed"}; None: no run yet
    charts: list[Chart] = field(default_factory=list)  # the clickstream project's CTR/score chart(s)
    cdc: dict[str, Any] | None = None  # sources.cdc_latency(); None: no cdc_project run
    glue_runs: list[GlueJobRun] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    # No "Software" text chunk: the page holds nothing but what it shows.
    figure.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def timeline_png(runs: list[DagRunTiming]) -> bytes:
    """One row per DAG run, its tasks as bars from the run's start (parallel tasks overlap), coloured by state."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rows = [run for run in runs if run.start]
    figure = Figure(figsize=(12, 1.2 + 0.42 * max(len(rows), 1)), dpi=100)
    axis = figure.add_subplot()
    longest = max((run.seconds or 0 for run in rows), default=0) or 1
    states = set()
    for row, run in enumerate(rows):
        for task in run.tasks:
            if task.start and task.end:
                offset = (task.start - run.start).total_seconds()
                width = max(task.seconds, longest / 400)  # a sub-second task still shows
                colour = STATE_COLOURS.get(task.state or "", OTHER_COLOUR)
                axis.broken_barh([(offset, width)], (row - 0.35, 0.7), facecolors=colour, edgecolors="white", lw=0.3)
                states.add(task.state or "none")
        took = f"{run.seconds:,.0f} s" if run.seconds is not None else "running"
        axis.text((run.seconds or 0) + longest / 100, row, f"{took}, {run.state}", va="center", fontsize=8)
    axis.set_yticks(range(len(rows)), [run.dag_id for run in rows], fontsize=8)
    axis.set_ylim(len(rows) - 0.5, -0.5)
    axis.set_xlim(0, longest * 1.15)
    axis.set_xlabel("seconds since the DAG run started")
    axis.set_title("DAG runs: each task's bar from its start to its end")
    axis.grid(axis="x", alpha=0.3)
    handles = [Patch(color=STATE_COLOURS.get(s, OTHER_COLOUR), label=s) for s in sorted(states)]
    if handles:
        axis.legend(handles=handles, loc="lower right", fontsize=8)
    return _png(figure)


def glue_png(runs: list[GlueJobRun]) -> bytes:
    """Each Glue job run's ExecutionTime as a bar, labelled with its job and state."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 1.5 + 0.3 * len(runs)), dpi=100)
    axis = figure.add_subplot()
    labels = [f"{run.job_name} {run.started_on:%H:%M:%S}" if run.started_on else run.job_name for run in runs]
    axis.barh(
        range(len(runs)),
        [run.execution_seconds or 0 for run in runs],
        height=0.6,
        color=[STATE_COLOURS["success"] if run.state == "SUCCEEDED" else STATE_COLOURS["failed"] for run in runs],
    )
    axis.set_yticks(range(len(runs)), labels, fontsize=7)
    axis.invert_yaxis()
    axis.set_xlabel("ExecutionTime (s)")
    axis.set_title("Glue job runs")
    axis.grid(axis="x", alpha=0.3)
    return _png(figure)


def _value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,}"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else ""


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f} s"


def _in_start_order(run: DagRunTiming) -> list[TaskTiming]:
    never = datetime.max.replace(tzinfo=UTC)
    return sorted(run.tasks, key=lambda task: (task.start or never, task.task_id))


def render(report: Report) -> str:
    """The report as one HTML page; every given DAG, figure, check and chart is on it."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(value=_value, when=_when, seconds=_seconds, data_uri=png_data_uri)
    quality = report.quality
    return environment.get_template(TEMPLATE).render(
        report=report,
        timeline=timeline_png(report.dag_runs) if report.dag_runs else None,
        glue_chart=glue_png(report.glue_runs) if report.glue_runs else None,
        passed=sum(bool(check.get("passed")) for check in quality) if quality else 0,
        task_order=_in_start_order,
    )


def write(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report), encoding="utf-8")
    return path

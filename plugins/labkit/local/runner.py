"""Run a lab DAG in this process with dag.test() and report what happened.

Used by `make demo` and the end-to-end tests: states of every task, the run's duration and
the key figures the DAG's `validate` task returned. A watcher thread reports task state
changes while the run goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labkit.core.dag import FIGURES_TASK_ID


@dataclass
class RunReport:
    dag_id: str
    state: str
    seconds: float
    run_id: str | None = None
    task_states: dict[str, str] = field(default_factory=dict)
    figures: dict[str, Any] | None = None

    @property
    def failed_tasks(self) -> list[str]:
        return [task for task, state in self.task_states.items() if state in ("failed", "upstream_failed")]


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    from labkit.core import paths

    bag = DagBag(str(paths.PROJECT_ROOT / "dags"))
    if dag_id not in bag.dags:
        errors = "; ".join(f"{path}: {error.strip().splitlines()[-1]}" for path, error in bag.import_errors.items())
        raise KeyError(f"no DAG {dag_id!r} in dags/ ({errors or 'no import errors'})")
    return bag.dags[dag_id]


def dag_ids() -> list[str]:
    from airflow.dag_processing.dagbag import DagBag

    from labkit.core import paths

    bag = DagBag(str(paths.PROJECT_ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return sorted(bag.dags)


def _task_states(dag_id: str, run_id: str) -> dict[str, tuple[str, float | None]]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state, TaskInstance.duration).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        ).all()
    return {
        task_id: (str(state.value if hasattr(state, "value") else state), duration)
        for task_id, state, duration in rows
        if state
    }


def _latest_run_id(dag_id: str, since) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(
            select(DagRun.run_id)
            .where(DagRun.dag_id == dag_id, DagRun.start_date >= since)
            .order_by(DagRun.start_date.desc())
            .limit(1)
        )


def _figures(dag_id: str, run_id: str) -> dict[str, Any] | None:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalar(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == FIGURES_TASK_ID,
                XComModel.key == "return_value",
            )
        )
        return XComModel.deserialize_value(row) if row is not None else None


def run_dag(
    dag_id: str,
    conf: dict[str, Any] | None = None,
    on_task_state: Callable[[str, str, float | None], None] | None = None,
    poll_seconds: float = 0.5,
) -> RunReport:
    """dag.test() one run; on_task_state(task_id, state, duration) is called as states change."""
    from airflow.sdk import timezone

    dag = load_dag(dag_id)
    # Import and configure the ORM before the watcher thread queries it: its first query configures the
    # mappers (importing airflow.models) while dag.test() imports them too, and the two deadlock.
    import airflow.api.common.trigger_dag  # noqa: F401
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    started = timezone.utcnow()
    clock = time.monotonic()
    done = threading.Event()
    seen: dict[str, str] = {}

    def watch() -> None:
        run_id = None
        while True:
            finished = done.is_set()
            run_id = run_id or _latest_run_id(dag_id, started)
            if run_id and on_task_state:
                for task_id, (state, duration) in sorted(_task_states(dag_id, run_id).items()):
                    if seen.get(task_id) != state:
                        seen[task_id] = state
                        on_task_state(task_id, state, duration)
            if finished:
                return
            done.wait(poll_seconds)

    watcher = threading.Thread(target=watch, name=f"watch-{dag_id}", daemon=True)
    watcher.start()
    try:
        dag_run = dag.test(run_conf=conf or {})
    finally:
        done.set()
        watcher.join()
    states = {task_id: state for task_id, (state, _) in _task_states(dag_id, dag_run.run_id).items()}
    return RunReport(
        dag_id=dag_id,
        state=str(dag_run.state.value if hasattr(dag_run.state, "value") else dag_run.state),
        seconds=time.monotonic() - clock,
        run_id=dag_run.run_id,
        task_states=states,
        figures=_figures(dag_id, dag_run.run_id),
    )

"""Pieces every lab DAG shares: default args, the teardown gate, the watcher, figures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import DAG, Param, TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException

from labkit.core import paths
from labkit.core.naming import LabNames

DEFAULT_ARGS = {
    "owner": "data-engineering",
    "retries": 1,
    "retry_delay": timedelta(seconds=30),
    "aws_conn_id": "aws_default",
}
TAGS_COMMON = ["aws-course"]
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
# The task whose return value (a dict) holds the run's key figures; `make demo` shows them.
FIGURES_TASK_ID = "validate"


def lab_dag(
    dag_id: str,
    *,
    lab: str,
    description: str,
    doc_md: str | None,
    tags: list[str],
    params: dict[str, Param] | None = None,
    **kwargs: Any,
) -> DAG:
    """A lab's DAG: triggered by hand, `{{ names... }}` for the lab, SQL from sql/, a `teardown` param.

    `lab` names the resources (see labkit.core.naming); extra kwargs go to DAG (e.g. a schedule).
    """
    return DAG(
        dag_id=dag_id,
        description=description,
        doc_md=doc_md,
        schedule=kwargs.pop("schedule", None),
        start_date=START_DATE,
        catchup=False,
        # A run's resources have fixed names (labkit.core.naming): two runs at once would share them.
        max_active_runs=kwargs.pop("max_active_runs", 1),
        default_args=DEFAULT_ARGS,
        tags=[*TAGS_COMMON, *tags],
        template_searchpath=[str(paths.SQL_DIR)],
        user_defined_macros={"names": LabNames(lab)},
        params={
            "teardown": Param(False, type="boolean", description="Delete every resource the run created"),
            **(params or {}),
        },
        **kwargs,
    )


def teardown_gate() -> ShortCircuitOperator:
    """Runs after the body whatever its outcome; lets teardown go ahead only when params.teardown is true."""
    return ShortCircuitOperator(
        task_id="teardown_requested",
        python_callable=lambda params: bool(params["teardown"]),
        trigger_rule=TriggerRule.ALL_DONE,
        # Skip every teardown task when not requested, even those with trigger_rule ALL_DONE.
        ignore_downstream_trigger_rules=True,
        retries=0,
    )


# Teardown tasks run whatever happened before them (the gate decides whether they run at all).
TEARDOWN = {"trigger_rule": TriggerRule.ALL_DONE}


@task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
def watcher():
    """Fails the run when a body task failed, so a green teardown never hides a failed body."""
    raise AirflowFailException("a task of this run failed; see the failed task's log")


def body_watcher(dag, gate: ShortCircuitOperator) -> None:
    """Put the watcher downstream of every task but the teardown gate and what follows it.

    It must not follow the gate: a gate that skips teardown skips everything after it.
    Teardown tasks are leaves, so their own failures fail the run without a watcher.
    """
    teardown_ids = {gate.task_id, *gate.get_flat_relative_ids(upstream=False)}
    body = [t for t in dag.tasks if t.task_id not in teardown_ids]
    body >> watcher()

"""`make airflow EXECUTOR=celery`: the DAGs on CeleryExecutor, PostgreSQL and Redis of this machine, two workers.

The test gets a database of its own on the PostgreSQL at 127.0.0.1:5432 (dropped at the end), Redis DB 15 as
its broker and a Celery queue of its own (a `make airflow EXECUTOR=celery` running meanwhile uses DB 1 and
the default queue), and an Airflow home of its own, as test_make_airflow.py does.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime

import psycopg
import pytest
import redis
from psycopg import sql

from tests.e2e.airflow_support import Api, MakeAirflow, free_ports, wait_until

pytestmark = pytest.mark.e2e

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
BROKER_URL = "redis://127.0.0.1:6379/15"
# Quick on local AWS (about a minute each) and independent: they run at once.
DAGS = ("lambda_lab1_basics", "s3_lab1_versioning", "athena_lab1_basics")


@pytest.fixture
def database():
    """The name of a database of the test's own; dropped afterwards if `make airflow` created it."""
    name = f"airflow_labs_e2e_{os.getpid()}"
    yield name
    with psycopg.connect(dbname="postgres", autocommit=True, **POSTGRES) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def queue():
    """A Celery queue of the test's own; its keys in Redis DB 15 are deleted afterwards."""
    name = f"e2e-{os.getpid()}"
    yield name
    redis.Redis.from_url(BROKER_URL).delete(name, f"_kombu.binding.{name}")


def test_dags_run_at_once_on_both_celery_workers_with_postgres_and_redis(tmp_path, database, queue):
    home, (aws_port, airflow_port) = tmp_path / "airflow", free_ports(2)
    make = MakeAirflow(
        home,
        aws_port,
        airflow_port,
        # The test's DAGs only: other DAGs stay paused (a scheduled one would run at once, unpaused).
        env={
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        },
        EXECUTOR="celery",
        SQL_ALCHEMY_CONN=f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        CELERY_BROKER_URL=BROKER_URL,
    )
    try:
        login = make.wait_until_ready()
        assert make.wait_for_line(r"Ctrl-C stops", seconds=10), make.output
        assert f"Created the database postgresql+psycopg://postgres@127.0.0.1:5432/{database}" in make.output
        assert "CeleryExecutor" in make.output and "Celery workers worker1, worker2" in make.output, make.output
        api = Api(*login)
        api.wait_for_dags(set(DAGS))

        for dag_id in DAGS:
            api.unpause(dag_id)
        runs = {dag_id: api.trigger(dag_id, {"teardown": True}) for dag_id in DAGS}
        paths = {dag_id: api.run_path(dag_id, run_id) for dag_id, run_id in runs.items()}
        finished = wait_until(
            lambda: (
                (done := {d: api.get(p) for d, p in paths.items()})
                and all(r["state"] in ("success", "failed") for r in done.values())
                and done
            ),
            600,
            "the runs finished",
        )
        tasks = {d: api.get(f"{p}/taskInstances")["task_instances"] for d, p in paths.items()}
        states = {d: {t["task_id"]: t["state"] for t in tis} for d, tis in tasks.items()}
        assert {d: r["state"] for d, r in finished.items()} == dict.fromkeys(DAGS, "success"), states

        # At once: every run started before any ended.
        starts = [datetime.fromisoformat(r["start_date"]) for r in finished.values()]
        ends = [datetime.fromisoformat(r["end_date"]) for r in finished.values()]
        assert max(starts) < min(ends), finished
        # On both workers: each task instance names the worker that ran it (worker1.<fqdn>).
        ran_on = {t["hostname"] for tis in tasks.values() for t in tis if t["state"] == "success"}
        assert ran_on == {f"worker1.{socket.getfqdn()}", f"worker2.{socket.getfqdn()}"}, ran_on
        # The metadata DB is the PostgreSQL database.
        with psycopg.connect(dbname=database, **POSTGRES) as connection:
            rows = connection.execute(
                "SELECT dag_id, state FROM dag_run WHERE dag_id = ANY(%s)", [list(DAGS)]
            ).fetchall()
        assert sorted(rows) == sorted((d, "success") for d in DAGS)

        make.ctrl_c()
        assert "Stopping worker2, worker1, triggerer, dag-processor, scheduler, api-server, local AWS" in make.output
        assert make.left_running() == []
    finally:
        make.kill()


@pytest.mark.parametrize(
    "variable, value, message",
    [
        (
            "CELERY_BROKER_URL",
            "redis://127.0.0.1:{port}/1",
            r"error: Redis is not reachable at redis://127\.0\.0\.1:\d+/1 ",
        ),
        (
            "SQL_ALCHEMY_CONN",
            "postgresql+psycopg://postgres@127.0.0.1:{port}/airflow_labs",
            r"error: PostgreSQL is not usable at postgresql\+psycopg://postgres@127\.0\.0\.1:\d+/airflow_labs ",
        ),
    ],
    ids=["redis", "postgres"],
)
def test_an_unreachable_broker_or_database_fails_in_one_line_saying_how_to_point_elsewhere(
    tmp_path, variable, value, message
):
    home, (aws_port, airflow_port, closed_port) = tmp_path / "airflow", free_ports(3)
    make = MakeAirflow(home, aws_port, airflow_port, EXECUTOR="celery", **{variable: value.format(port=closed_port)})
    try:
        code = make.process.wait(timeout=300)
    finally:
        make.kill()
    assert code != 0
    errors = [line for line in make.lines if line.startswith("error:")]
    assert len(errors) == 1 and re.match(message, errors[0]), make.output
    assert f"point {variable} at another" in errors[0]
    assert "Starting" not in make.output, "nothing starts before PostgreSQL and Redis are checked"
    assert make.left_running() == []

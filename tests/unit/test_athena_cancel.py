"""StopQueryExecution stops the DuckDB work of a query, whenever it comes."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest
from moto.athena.models import Execution

from local_aws.athena.engine import connect
from local_aws.athena.runs import CANCELLED, RUNNING, QueryRun

# Long enough (minutes) that only an interrupt ends it within the test's bound.
ENDLESS = "SELECT count(*) FROM range(100000000) a, range(100000) b WHERE (a.range * b.range) % 7 = 3"


def test_a_cancel_while_the_query_is_planned_interrupts_the_statement_that_starts_after_it():
    execution = Execution("SELECT 1", {}, {}, None, None)
    run = QueryRun(execution, "SELECT 1", "default", "us-east-1", "primary", "s3://r/x.csv", "DML", state=RUNNING)
    run.connection = connection = connect()
    run.move_to(CANCELLED, "Query cancelled by user")  # the worker is still planning: nothing runs yet

    outcome: list[BaseException] = []

    def worker() -> None:
        try:
            connection.sql(ENDLESS).fetchall()
        except BaseException as error:  # noqa: BLE001 (the outcome is what is asserted)
            outcome.append(error)
        finally:
            with run.lock:
                run.connection = None

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the query was not interrupted"
    assert len(outcome) == 1 and isinstance(outcome[0], duckdb.InterruptException)
    assert run.state == CANCELLED


class ClosingLock:
    """run.lock for the race a cancel meets: the moment the interrupt thread first lets go of the lock,
    the worker ends as run_query's finally does, clearing the connection under the lock and closing it."""

    def __init__(self, run: QueryRun):
        self.lock, self.run, self.worker_done = threading.Lock(), run, False

    def __enter__(self) -> None:
        self.lock.acquire()

    def __exit__(self, *exc_info) -> None:
        self.lock.release()
        if threading.current_thread().name == "athena-interrupt" and not self.worker_done:
            self.worker_done = True
            with self.lock:
                connection, self.run.connection = self.run.connection, None
            connection.close()


def test_a_cancel_never_interrupts_a_connection_the_worker_has_closed(monkeypatch):
    execution = Execution("SELECT 1", {}, {}, None, None)
    run = QueryRun(execution, "SELECT 1", "default", "us-east-1", "primary", "s3://r/x.csv", "DML", state=RUNNING)
    run.lock = ClosingLock(run)
    run.connection = connection = connect()
    crashes: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashes.append(args.exc_value))

    run.move_to(CANCELLED, "Query cancelled by user")
    (interrupter,) = [t for t in threading.enumerate() if t.name == "athena-interrupt"]
    interrupter.join(timeout=30)

    assert not interrupter.is_alive() and crashes == []
    assert run.connection is None and run.state == CANCELLED
    with pytest.raises(duckdb.ConnectionException, match="Connection already closed!"):
        connection.execute("SELECT 1")  # the worker did close it while the cancel was being sent


@pytest.fixture(autouse=True)
def _no_leftover_threads():
    yield
    deadline = time.monotonic() + 5
    while any(t.name == "athena-interrupt" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "athena-interrupt" for t in threading.enumerate())

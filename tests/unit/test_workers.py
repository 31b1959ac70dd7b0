"""The server's workers: one of each kind, made on first use, stopped in the order that matters."""

from __future__ import annotations

import pytest

from local_aws.workers import NotRunning, Workers


def kinds(log: list[str]):
    """Three worker kinds that note when they start and stop."""

    def kind(name: str):
        class Worker:
            def __init__(self):
                log.append(f"start {name}")

            def stop(self):
                log.append(f"stop {name}")

        Worker.__qualname__ = name
        return Worker

    return kind("runner"), kind("scheduler"), kind("pool")


def test_one_worker_per_kind_made_on_first_use_and_found_without_starting():
    log: list[str] = []
    runner, scheduler, _ = kinds(log)
    workers = Workers()
    assert workers.find(runner) is None
    first = workers.get(runner)
    assert workers.get(runner) is first and workers.find(runner) is first
    assert workers.find(scheduler) is None
    assert log == ["start runner"]


def test_stop_without_kinds_stops_everything_newest_first():
    log: list[str] = []
    runner, scheduler, pool = kinds(log)
    workers = Workers()
    for kind in (runner, scheduler, pool):
        workers.get(kind)
    workers.stop()
    assert log[3:] == ["stop pool", "stop scheduler", "stop runner"]
    assert workers.kinds() == []


def test_stop_with_kinds_stops_those_in_the_order_given_and_skips_the_absent():
    log: list[str] = []
    runner, scheduler, pool = kinds(log)
    workers = Workers()
    workers.get(runner)
    workers.get(pool)
    workers.stop(runner, scheduler, pool)
    assert log[2:] == ["stop runner", "stop pool"]


def test_a_closed_server_starts_no_worker_and_says_so():
    log: list[str] = []
    runner, scheduler, _ = kinds(log)
    workers = Workers()
    running = workers.get(runner)
    workers.close()
    assert workers.find(runner) is running  # still running until stopped
    with pytest.raises(NotRunning, match="scheduler is not started again"):
        workers.get(scheduler)
    workers.stop()
    assert log == ["start runner", "stop runner"]

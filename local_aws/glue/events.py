"""Run-finished notifications between the Glue executors.

job_runner.py and crawl_run.py publish a RunFinished when a job run or a crawl reaches its final state;
triggers.py subscribes (conditional triggers, workflow runs). Events are delivered in order on
one thread of their own (the server's `Delivery` worker), so a subscriber never runs inside an
executor's locks or threads and may start new runs freely.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local_aws import workers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunFinished:
    kind: str  # "JOB" or "CRAWLER"
    name: str  # the job's or crawler's name
    # In trigger-condition words: jobs SUCCEEDED | FAILED | TIMEOUT | STOPPED | ERROR,
    # crawls SUCCEEDED | FAILED | CANCELLED.
    state: str
    run: Any  # moto's FakeJobRun, or the crawl (crawl_run.ExecutedCrawl)
    backend: Any  # the GlueBackend (account and region) the run belongs to


_subscribers: list[Callable[[RunFinished], None]] = []  # wiring (triggers.py), kept across restarts


def subscribe(callback: Callable[[RunFinished], None]) -> None:
    if callback not in _subscribers:
        _subscribers.append(callback)


def publish(event: RunFinished) -> None:
    """Queue the event for the subscribers; while the server stops, events are dropped."""
    try:
        delivery = workers.get(Delivery)
    except workers.NotRunning:
        return
    delivery.put(event)


class Delivery:
    """The thread that hands events to the subscribers, in order; a worker (local_aws.workers)."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._deliver, name="glue-events", daemon=True)
        self._thread.start()

    def put(self, event: RunFinished) -> None:
        self._queue.put(event)

    def stop(self) -> None:
        """Deliver what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _deliver(self) -> None:
        while (event := self._queue.get()) is not None:
            for callback in list(_subscribers):
                try:
                    callback(event)
                except Exception:  # one subscriber's bug must not stop the others or later events
                    log.exception("Glue event subscriber %s failed on %s %s", callback, event.kind, event.name)

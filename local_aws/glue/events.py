"""Run-finished notifications between the Glue executors.

jobs.py and crawlers.py publish a RunFinished when a job run or a crawl reaches its final state;
triggers.py subscribes (conditional triggers, workflow runs). Events are delivered in order on
one thread of their own, so a subscriber never runs inside an executor's locks or threads and
may start new runs freely.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunFinished:
    kind: str  # "JOB" or "CRAWLER"
    name: str  # the job's or crawler's name
    # In trigger-condition words: jobs SUCCEEDED | FAILED | TIMEOUT | STOPPED | ERROR,
    # crawls SUCCEEDED | FAILED | CANCELLED.
    state: str
    run: Any  # moto's FakeJobRun, or the crawl (crawlers.ExecutedCrawl)
    backend: Any  # the GlueBackend (account and region) the run belongs to


_subscribers: list[Callable[[RunFinished], None]] = []
_queue: queue.Queue = queue.Queue()
_thread: threading.Thread | None = None
_closed = False
_lock = threading.Lock()


def subscribe(callback: Callable[[RunFinished], None]) -> None:
    if callback not in _subscribers:
        _subscribers.append(callback)


def publish(event: RunFinished) -> None:
    """Queue the event for the subscribers; after shutdown() events are dropped."""
    global _thread
    with _lock:
        if _closed:
            return
        if _thread is None:
            _thread = threading.Thread(target=_deliver, name="glue-events", daemon=True)
            _thread.start()
    _queue.put(event)


def reopen() -> None:
    """Deliver events again after shutdown() (the server starts again in this process)."""
    global _closed
    with _lock:
        _closed = False


def shutdown() -> None:
    """Stop delivering: events published from now on are dropped (the server is going away)."""
    global _thread, _closed
    with _lock:
        _closed = True
        thread, _thread = _thread, None
    if thread is not None:
        _queue.put(None)
        thread.join(timeout=10)


def _deliver() -> None:
    while (event := _queue.get()) is not None:
        for callback in list(_subscribers):
            try:
                callback(event)
            except Exception:  # one subscriber's bug must not stop the others or later events
                log.exception("Glue event subscriber %s failed on %s %s", callback, event.kind, event.name)

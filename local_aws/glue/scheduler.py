"""The Glue scheduler: one thread that wakes at the start of every minute of local AWS's clock.

Scheduled triggers (triggers.py) and crawler schedules (crawler_requests.py) register what to do
at each minute with every_minute(); all schedules share this thread. It is a worker of the server
(local_aws/workers.py), started with it; moving the clock forward (POST /_local_aws/clock) wakes
it at once, and the minutes passed fire in order (an hour of them at most).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from local_aws import clock, workers

log = logging.getLogger(__name__)

# What the scheduler does at each UTC minute, in the order registered (scheduled crawlers, scheduled triggers).
_minute_tasks: list[Callable[[datetime], None]] = []


def every_minute(task: Callable[[datetime], None]) -> None:
    """Have the scheduler thread call task(minute) at the start of every UTC minute (idempotent)."""
    if task not in _minute_tasks:
        _minute_tasks.append(task)


def start() -> None:
    """Start the server's scheduler, woken by clock moves."""
    clock.on_advance("glue_schedules", _wake_scheduler)  # keyed by name: once
    clock.on_reset("glue_schedules", _reset_scheduler)
    workers.get(Scheduler)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class Scheduler:
    """Wakes at the start of every minute of the local AWS clock and runs the minute's tasks: the scheduled
    triggers and crawlers due in it. Moving the clock forward (POST /_local_aws/clock) wakes it at once."""

    def __init__(self):
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._last = _minute(clock.now())  # the last minute whose tasks ran
        self._thread = threading.Thread(target=self._serve, name="glue-trigger-scheduler", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the clock now (it moved forward): fire the minutes it passed."""
        self._wake.set()

    def clock_reset(self) -> None:
        """The clock went back to real time (moto's reset): go on from its minute, firing nothing missed."""
        with self._lock:
            self._last = _minute(clock.now())
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        while True:
            now = clock.now()
            self._wake.wait(60 - now.second - now.microsecond / 1e6 + 0.05)
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                current = _minute(clock.now())
                # Minutes missed while the machine slept, or passed by moving the clock, fire late, up to
                # an hour of them; AWS never misses any.
                due = max(self._last + timedelta(minutes=1), current - timedelta(minutes=59))
                self._last = max(self._last, current)
            minute = due
            while minute <= current:
                for task in list(_minute_tasks):
                    try:
                        task(minute)
                    except Exception:  # a bug here must not end the schedule for everyone
                        log.exception("%s failed for %s", task.__name__, minute.isoformat())
                minute += timedelta(minutes=1)


def _wake_scheduler(previous: datetime, current: datetime) -> dict[str, Any]:
    scheduler = workers.find(Scheduler)
    if scheduler is not None:
        scheduler.wake()
    return {"scheduler_woken": scheduler is not None}


def _reset_scheduler() -> None:
    scheduler = workers.find(Scheduler)
    if scheduler is not None:
        scheduler.clock_reset()

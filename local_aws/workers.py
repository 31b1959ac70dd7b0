"""The long-lived workers of the running local AWS server, owned by one object and stopped with it.

A worker is an object with `stop()` that keeps running between requests: the Glue job runner
and trigger scheduler, the Athena query pool, the Lambda environment pool, log shipper and async
invoker, event-source pollers, S3's access-log delivery and lifecycle ticker. No executor keeps one
in a module global. It asks the running server's `Workers` for it by kind:

    workers.get(JobRunner).submit(run)      # made on first use, one per kind
    workers.find(Scheduler)                 # the running one or None, never starts it

`registry.install(server_workers)` makes a server's `Workers` the running one; `registry.shutdown()`
closes it, calls each executor's `shutdown()` (dependants first), which stops the kinds it owns in
the order that matters (`workers.stop(Scheduler)`), stops whatever else runs, newest first, and
then undoes the patches. After that, `get()` raises `NotRunning` until a server starts again, so a
request that arrives late fails with a clear error instead of starting a thread nobody stops.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

W = TypeVar("W")


class NotRunning(RuntimeError):
    """A worker was asked for while no local AWS server is running (before start or after stop)."""


class Workers:
    """One server's workers, at most one of each kind, stopped in the reverse of the order they started."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # a kind's factory may ask for another kind
        self._running: dict[Callable[[], Any], Any] = {}
        self._open = True

    def get(self, kind: Callable[[], W]) -> W:
        """The running worker of this kind, made with `kind()` on first use."""
        with self._lock:
            if not self._open:
                raise NotRunning(f"local AWS is stopping or stopped: {_name(kind)} is not started again")
            worker = self._running.get(kind)
            if worker is None:
                worker = self._running[kind] = kind()
            return worker

    def find(self, kind: Callable[[], W]) -> W | None:
        """The running worker of this kind, or None; never starts one."""
        with self._lock:
            return self._running.get(kind)

    @property
    def closed(self) -> bool:
        return not self._open

    def close(self) -> None:
        """Start no more workers; those running keep running until stop()."""
        with self._lock:
            self._open = False

    def stop(self, *kinds: Callable[[], Any]) -> None:
        """Stop the running workers of these kinds, in this order; with no kinds, every worker, newest first."""
        with self._lock:
            order = kinds or tuple(reversed(self._running))
            stopping = [self._running.pop(kind) for kind in order if kind in self._running]
        for worker in stopping:  # outside the lock: a stopping worker may wait for one that asks find()
            worker.stop()

    def kinds(self) -> list[str]:
        """What is running, as module.Name, in start order (for tests and diagnostics)."""
        with self._lock:
            return [_name(kind) for kind in self._running]


def _name(kind: Callable) -> str:
    return f"{kind.__module__}.{getattr(kind, '__qualname__', kind)}"


_current: Workers | None = None  # the running server's, set by registry.install()


def attach(server_workers: Workers) -> None:
    global _current
    _current = server_workers


def detach() -> None:
    global _current
    _current = None


def running() -> Workers:
    """The running server's workers; NotRunning when no server is running."""
    current = _current
    if current is None:
        raise NotRunning("local AWS is not running: start it (local_aws.server.LocalAWS().start()) first")
    return current


def get(kind: Callable[[], W]) -> W:
    """The running server's worker of this kind, started on first use."""
    return running().get(kind)


def stop(*kinds: Callable[[], Any]) -> None:
    """Stop the running server's workers of these kinds (nothing when no server is running)."""
    current = _current
    if current is not None:
        current.stop(*kinds)


def find(kind: Callable[[], W]) -> W | None:
    """The running server's worker of this kind if one is running (None when none is, or no server is)."""
    current = _current
    return current.find(kind) if current is not None else None

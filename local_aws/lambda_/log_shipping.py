"""Invocation logs to CloudWatch Logs: the background writer (LogShipper) and this server's one shipper.

Every invocation's log (START, the handler's output, END, REPORT with Duration, Billed Duration,
Memory Size, Max Memory Used from the worker's peak RSS, Init Duration on cold starts) goes to
CloudWatch Logs group /aws/lambda/<name>, stream YYYY/MM/DD/[<version>]<environment id>, written
by a background thread so the log never slows an invocation down.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from local_aws import clients, workers
from local_aws.lambda_.invoke import running_worker

log = logging.getLogger(__name__)


@dataclass
class LogBatch:
    generation: int
    region: str
    group: str
    stream: str
    events: list[tuple[int, str]]  # (epoch milliseconds, message)


class LogShipper:
    """Writes invocation logs to CloudWatch Logs in the background, in order."""

    def __init__(self):
        self.generation = 0  # bumped by /moto-api/reset: batches of a forgotten world are dropped
        self._queue: queue.Queue = queue.Queue()
        self._known: set[tuple] = set()  # (generation, region, group, stream) created already
        self._clients: dict = {}  # region -> logs client (only this thread uses them)
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name="lambda-log-shipper", daemon=True)
        self._thread.start()

    def ship(self, generation: int, region: str, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Queue an environment's log events; generation: the shipper's when the environment started.
        After stop() (local AWS shut down) they are dropped."""
        if self._stopped:
            return
        self._queue.put(LogBatch(generation, region, group, stream, events))

    def reset(self) -> None:
        self.generation += 1

    def flush(self, timeout: float = 10.0) -> None:
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def stop(self) -> None:
        if self._stopped:
            return
        self.flush()
        self._stopped = True
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            if item.generation != self.generation:
                continue
            try:
                self._write(item)
            except Exception:
                if item.generation != self.generation:  # /moto-api/reset raced with the write: nothing lost
                    continue
                log.exception("could not write the Lambda log stream %s %s", item.group, item.stream)

    def _write(self, batch: LogBatch) -> None:
        logs = self._clients.get(batch.region)
        if logs is None:
            logs = self._clients[batch.region] = clients.client("logs", batch.region)
        key = (batch.generation, batch.region, batch.group, batch.stream)
        if key not in self._known:
            for create in (
                lambda: logs.create_log_group(logGroupName=batch.group),
                lambda: logs.create_log_stream(logGroupName=batch.group, logStreamName=batch.stream),
            ):
                try:
                    create()
                except logs.exceptions.ResourceAlreadyExistsException:
                    pass
            self._known = {known for known in self._known if known[0] == batch.generation} | {key}
        events = [{"timestamp": ms, "message": message} for ms, message in batch.events if message]
        for start in range(0, len(events), 10_000):
            logs.put_log_events(
                logGroupName=batch.group, logStreamName=batch.stream, logEvents=events[start : start + 10_000]
            )


def now_ms() -> int:
    return int(time.time() * 1000)


# ---- this server's shipper ----


def shipper() -> LogShipper:
    """The running server's shipper (a worker, local_aws.workers), started by the first environment."""
    return running_worker(LogShipper)


def existing() -> LogShipper | None:
    """The shipper if one runs, else None (none started yet, or the server stopped: logs are dropped)."""
    return workers.find(LogShipper)

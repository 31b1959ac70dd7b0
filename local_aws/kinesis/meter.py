"""A shard's write throughput over a rolling one-second window: what it accepted, and whether one more record fits.

AWS: "each shard can support writes up to 1,000 records per second, up to a maximum data write
total of 1 MiB per second" (data plus partition key), in provisioned and on-demand streams alike.
AWS does not publish how it measures the second; here it is the second ending now, rolling: a
record is accepted when the records and bytes accepted in the last second, plus this one, are
within both limits. So no span of one second ever holds more than the limits, wherever it starts
(stricter than counting per calendar second, which would take 2,000 records across a boundary).
Refused records do not count: they used none of the shard's capacity. A shard that accepted
nothing in the last second takes any one record, so a record of 1 MiB plus its key is not
refused forever (PutRecords' own size limits are checked before, as by moto).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

RECORDS_PER_SECOND = 1000
BYTES_PER_SECOND = 1024 * 1024
WINDOW_SECONDS = 1.0


class ShardMeter:
    """The writes one shard accepted in the last WINDOW_SECONDS; thread-safe."""

    def __init__(
        self,
        records_per_second: int = RECORDS_PER_SECOND,
        bytes_per_second: int = BYTES_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.records_per_second = records_per_second
        self.bytes_per_second = bytes_per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._accepted: deque[tuple[float, int]] = deque()  # (moment, bytes) of each accepted record, oldest first
        self._bytes = 0  # sum of the bytes in _accepted

    def admit(self, sizes: list[int]) -> list[bool]:
        """For records of these sizes (data + partition key bytes) written now, in order: which the shard accepts.

        Each accepted record counts against the window before the next is judged, so one PutRecords
        call cannot take more than the limits; a refused record does not stop a smaller later one.
        """
        with self._lock:
            now = self._clock()
            self._expire(now)
            verdicts = []
            for size in sizes:
                fits = len(self._accepted) < self.records_per_second and (
                    self._bytes + size <= self.bytes_per_second or not self._accepted
                )
                if fits:
                    self._accepted.append((now, size))
                    self._bytes += size
                verdicts.append(fits)
            return verdicts

    def usage(self) -> tuple[int, int]:
        """(records, bytes) accepted in the last second."""
        with self._lock:
            self._expire(self._clock())
            return len(self._accepted), self._bytes

    def _expire(self, now: float) -> None:
        while self._accepted and self._accepted[0][0] <= now - WINDOW_SECONDS:
            self._bytes -= self._accepted.popleft()[1]

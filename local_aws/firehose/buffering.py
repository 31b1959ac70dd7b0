"""What a delivery stream holds between PutRecord and S3: its buffer, the batches it sealed, its throughput.

Records join the open buffer as they arrive. The buffer is sealed into a Batch, as AWS's BufferingHints
say, when whichever comes first is reached: SizeInMBs of data (counted before compression, the batch
ending with the record that reached it) or IntervalInSeconds since the buffer's first record (0: as soon
as possible). Sealed batches are delivered in order, one at a time; a batch that fails to deliver stays at
the head and is retried (later batches wait behind it, as on AWS) until it is 24 hours old.

Times are local AWS's clock (local_aws/clock.py), so moving the clock forward also runs buffer intervals.

Each delivery stream's state is a StreamState kept beside moto's DeliveryStream object (not on it: moto's
DescribeDeliveryStream lists every attribute of the object), so moto's reset forgets it with the stream.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from local_aws import clock

RETENTION = timedelta(hours=24)  # "If data delivery fails for more than 24 hours, your data is lost."


@dataclass(frozen=True)
class Record:
    data: bytes
    arrival: datetime  # when Firehose received it (local AWS's clock, UTC)
    sequence_number: str | None = None  # the Kinesis sequence number, for a KinesisStreamAsSource stream


@dataclass
class Batch:
    """Sealed records, delivered together as one object (or one per output: data and errors)."""

    records: list[Record]
    size: int
    attempts: int = 0
    next_attempt: datetime | None = None  # a failed batch waits until then
    last_error: tuple[str, str] | None = None  # (error code, message) of the last failed attempt
    written: set[str] = field(default_factory=set)  # outputs already written ("data", "errors"), not repeated on retry

    @property
    def oldest(self) -> datetime:
        return self.records[0].arrival


class StreamState:
    """One delivery stream's buffer and sealed batches; puts, the delivery worker and deletes share it."""

    def __init__(self, account_id: str, region: str, name: str, arn: str):
        self.account_id, self.region, self.name, self.arn = account_id, region, name, arn
        self._lock = threading.Lock()  # the buffer and the queue of batches
        self.delivering = threading.Lock()  # one delivery of this stream at a time, batches in order
        self._open: list[Record] = []
        self._open_size = 0
        self._opened_at: datetime | None = None
        self._sealed: deque[Batch] = deque()
        self.deleted = False  # DeleteDeliveryStream, a reset or the server's stop: deliver nothing more
        self.throughput = Throughput()
        self.kinesis_checkpoints: dict[str, int] = {}  # shard id -> last sequence number read (KinesisStreamAsSource)
        self.source_problem: str | None = None  # why the Kinesis source is not read, reported once
        self.destination_key: tuple | None = None  # (version, config id) the parsed destination is for
        self.destination = None  # the parsed S3Destination (configuration.py), None for other destinations
        self.metrics: dict[str, list[float]] = {}  # metric name -> [sum, count, min, max] not published yet
        self.metrics_published = 0.0  # monotonic time of the last publication (monitoring.py)

    # -- filling --------------------------------------------------------------------------------

    def add(self, records: list[Record], size_limit: int) -> bool:
        """Buffer records; True when that sealed a batch (its size reached size_limit)."""
        sealed = False
        with self._lock:
            for record in records:
                if not self._open:
                    self._opened_at = record.arrival
                self._open.append(record)
                self._open_size += len(record.data)
                if self._open_size >= size_limit:
                    self._seal()
                    sealed = True
        return sealed

    def _seal(self) -> None:
        if self._open:
            self._sealed.append(Batch(self._open, self._open_size))
        self._open, self._open_size, self._opened_at = [], 0, None

    # -- taking ---------------------------------------------------------------------------------

    def seal_if_due(self, now: datetime, interval_seconds: float) -> None:
        """Seal the open buffer when its first record has waited interval_seconds."""
        with self._lock:
            if (
                self._open
                and self._opened_at is not None
                and now - self._opened_at >= timedelta(seconds=interval_seconds)
            ):
                self._seal()

    def seal_all(self) -> None:
        with self._lock:
            self._seal()

    def head(self) -> Batch | None:
        """The next batch to deliver (it stays queued until done())."""
        with self._lock:
            return self._sealed[0] if self._sealed else None

    def done(self, batch: Batch) -> None:
        """The batch is delivered (or given up): the next one may go."""
        with self._lock:
            if self._sealed and self._sealed[0] is batch:
                self._sealed.popleft()

    def next_due(self, interval_seconds: float) -> datetime | None:
        """When this stream next has something to do: a batch to (re)try, or the open buffer's interval ending."""
        with self._lock:
            moments = []
            if self._sealed:
                moments.append(self._sealed[0].next_attempt or clock.now())
            if self._open and self._opened_at is not None:
                moments.append(self._opened_at + timedelta(seconds=interval_seconds))
        return min(moments) if moments else None

    def discard(self) -> int:
        """Forget every record not delivered; returns how many."""
        with self._lock:
            count = len(self._open) + sum(len(batch.records) for batch in self._sealed)
            self._open, self._open_size, self._opened_at = [], 0, None
            self._sealed.clear()
        return count

    @property
    def pending(self) -> int:
        """Records buffered or sealed and not delivered yet."""
        with self._lock:
            return len(self._open) + sum(len(batch.records) for batch in self._sealed)


class Throughput:
    """Direct PUT quotas per delivery stream (records/s, requests/s, bytes/s), as token buckets refilled every second.

    AWS's defaults: us-east-1, us-west-2 and eu-west-1 take 500,000 records/s, 2,000 requests/s and 5 MiB/s;
    other regions 100,000 records/s, 1,000 requests/s and 1 MiB/s.
    """

    HIGH_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, float] = {}
        self._updated = time.monotonic()

    @classmethod
    def limits(cls, region: str) -> dict[str, float]:
        if region in cls.HIGH_REGIONS:
            return {"records": 500_000, "requests": 2_000, "bytes": 5 * 1024 * 1024}
        return {"records": 100_000, "requests": 1_000, "bytes": 1024 * 1024}

    def _refill(self, limits: dict[str, float]) -> None:
        now = time.monotonic()
        elapsed = now - self._updated
        self._updated = now
        for name, limit in limits.items():
            self._buckets[name] = min(limit, self._buckets.get(name, limit) + elapsed * limit)

    def admit(self, region: str, sizes: list[int]) -> list[bool]:
        """Which of one request's records (by size) fit the quotas now; a request over the request quota admits none."""
        limits = self.limits(region)
        with self._lock:
            self._refill(limits)
            if self._buckets["requests"] < 1:
                return [False] * len(sizes)
            self._buckets["requests"] -= 1
            admitted = []
            for size in sizes:
                fits = self._buckets["records"] >= 1 and self._buckets["bytes"] >= size
                if fits:
                    self._buckets["records"] -= 1
                    self._buckets["bytes"] -= size
                admitted.append(fits)
            return admitted


# moto's DeliveryStream -> its StreamState. Weak: a stream moto forgot (deleted, reset) takes its state along.
_states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def state_of(stream) -> StreamState:
    """The StreamState of a moto DeliveryStream, made on first use."""
    with _states_lock:
        state = _states.get(stream)
        if state is None:
            arn = stream.delivery_stream_arn
            _, _, _, region, account_id, _ = arn.split(":", 5)
            state = _states[stream] = StreamState(account_id, region, stream.delivery_stream_name, arn)
        return state


def find_state(stream) -> StreamState | None:
    with _states_lock:
        return _states.get(stream)

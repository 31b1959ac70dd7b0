"""Send the events to a Kinesis stream at a target rate, in PutRecords batches, retrying what the stream refuses.

- Pacing: every `tick` (0.1 s) the events now due go out; a sender that falls behind (a slow
  call, a backoff) sends what is overdue at once, so the rate is kept on average.
- Batches: at most 500 records and 5 MiB (data + partition keys) per PutRecords call; a record
  over 1 MiB is refused before sending. Partition key: the session id, spread over all shards.
- Retries: records a response marks failed (ErrorCode ProvisionedThroughputExceededException or
  InternalFailure), or a whole call refused with a retryable error, are sent again alone after a
  backoff with full jitter (Retry) that doubles with each call in a row delivering none of them
  and starts over when one delivers some (a throttled shard drains at its limit, so a batch
  bigger than a second of it goes in several calls). After Retry.attempts calls in a row that
  delivered nothing, RecordsLost names how many records were not delivered. Records that
  succeeded are never sent again, so each event is in the stream exactly once.
- Progress: one line a second to `progress` (stderr): sent, rate over the last second, retries,
  phase; a last line with the average rate.

Only boto3's Kinesis client API is used (put_records), so the same code writes to AWS and to local AWS.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from botocore.exceptions import ClientError

from labkit.clickstream.events import Event, Phase, generate, iso_millis

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
# A whole PutRecords call refused with one of these is retried like a partial failure.
RETRYABLE_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "InternalFailure",
        "ServiceUnavailable",
        "ThrottlingException",
        "KMSThrottlingException",
    }
)
MAX_DUE = 10 * MAX_BATCH_RECORDS  # events sent per pacing round at most, so progress keeps coming when behind


@dataclass(frozen=True)
class Retry:
    """Calls in a row that deliver nothing before records count as lost, and the backoff: full jitter, doubling, capped."""

    attempts: int = 10
    base_seconds: float = 0.1
    max_seconds: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Wait after the attempt-th call in a row that delivered nothing: uniform in [0, min(max, base * 2^(attempt - 1))]."""
        return rng.uniform(0, min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1)))


@dataclass
class PhaseCounts:
    name: str
    seconds: float
    ctr_percent: float
    start: str  # event_time of its first event's moment, ISO 8601 UTC
    end: str  # and of the moment after its last
    impressions: int = 0  # delivered
    clicks: int = 0

    @property
    def events(self) -> int:
        return self.impressions + self.clicks


@dataclass
class Summary:
    """What reached the stream, per phase; the DAG checks the pipeline's counts against it."""

    stream: str
    rate: float
    seed: int
    start: str
    phases: list[PhaseCounts]
    sent: int = 0  # records delivered (each exactly once)
    retried: int = 0  # record sends that were retries
    failures: dict[str, int] = field(default_factory=dict)  # failed record sends by error code
    calls: int = 0  # PutRecords calls
    seconds: float = 0.0
    lost: int = 0  # records given up on (then RecordsLost was raised)

    def to_dict(self) -> dict[str, Any]:
        result = asdict(self)
        for phase, counts in zip(result["phases"], self.phases, strict=True):
            phase["events"] = counts.events
            phase["ctr_actual"] = round(100 * counts.clicks / counts.events, 3) if counts.events else None
        return result


class RecordsLost(RuntimeError):
    """Records still refused after Retry.attempts calls in a row that delivered none; .summary: what was delivered."""

    def __init__(self, message: str, lost: int, summary: Summary):
        super().__init__(message)
        self.lost = lost
        self.summary = summary


def batches(
    events: Iterable[Event], max_records: int = MAX_BATCH_RECORDS, max_bytes: int = MAX_BATCH_BYTES
) -> Iterator[list[Event]]:
    """The events in order, cut into PutRecords batches of at most max_records records and max_bytes bytes."""
    batch: list[Event] = []
    size = 0
    for event in events:
        if event.size > MAX_RECORD_BYTES:
            raise ValueError(
                f"a record of {event.size:,} bytes (partition key {event.partition_key!r}) is over Kinesis's "
                f"{MAX_RECORD_BYTES:,} bytes per record (data + partition key)"
            )
        if batch and (len(batch) == max_records or size + event.size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += event.size
    if batch:
        yield batch


class _Progress:
    """One line a second: sent, rate over the last second, retries, current phase."""

    def __init__(self, out: TextIO | None, summary: Summary, clock: Callable[[], float]):
        self.out, self.summary, self.clock = out, summary, clock
        self.phase = 0
        self.last_time = clock()
        self.last_sent = 0

    def tick(self) -> None:
        now = self.clock()
        if self.out is None or now - self.last_time < 1.0:
            return
        rate = (self.summary.sent - self.last_sent) / max(now - self.last_time, 1e-9)
        phase = self.summary.phases[self.phase]
        print(
            f"clickstream -> {self.summary.stream}: {self.summary.sent:,} sent, {rate:,.0f}/s, "
            f"{self.summary.retried:,} retried, phase {self.phase + 1}/{len(self.summary.phases)} {phase.name} "
            f"(CTR {phase.ctr_percent:g} %)",
            file=self.out,
            flush=True,
        )
        self.last_time, self.last_sent = now, self.summary.sent

    def done(self) -> None:
        if self.out is None:
            return
        summary = self.summary
        print(
            f"clickstream -> {summary.stream}: done, {summary.sent:,} sent in {summary.seconds:,.1f} s "
            f"({summary.sent / max(summary.seconds, 1e-9):,.0f}/s), {summary.retried:,} retried, "
            f"{summary.calls:,} PutRecords calls",
            file=self.out,
            flush=True,
        )


class _Sender:
    def __init__(
        self,
        client: Any,
        stream: str,
        retry: Retry,
        summary: Summary,
        progress: _Progress,
        sleep: Callable[[float], None],
    ):
        self.client, self.retry, self.summary, self.progress, self.sleep = client, retry, summary, progress, sleep
        self.target = {"StreamARN": stream} if stream.startswith("arn:") else {"StreamName": stream}
        self.jitter = random.Random()  # not the content's seed: backoff never changes the events

    def put(self, batch: list[Event]) -> None:
        pending = batch
        stalled = 0  # calls in a row that delivered none of pending
        while True:
            before = len(pending)
            pending, codes = self._call(pending)
            for code, count in codes.items():
                self.summary.failures[code] = self.summary.failures.get(code, 0) + count
            self.progress.tick()
            if not pending:
                return
            stalled = stalled + 1 if len(pending) == before else 0
            if stalled >= self.retry.attempts:
                break
            self.summary.retried += len(pending)
            self.sleep(self.retry.delay(max(stalled, 1), self.jitter))
        self.summary.lost = len(pending)
        raise RecordsLost(
            f"{len(pending):,} of {len(batch):,} records were not delivered to Kinesis stream "
            f"{self.summary.stream}: {self.retry.attempts} PutRecords calls in a row delivered none of them "
            f"(failures so far: {self.summary.failures}); {self.summary.sent:,} records were delivered. "
            f"Lower the rate, add shards, or allow more attempts.",
            len(pending),
            self.summary,
        )

    def _call(self, events: list[Event]) -> tuple[list[Event], Counter[str]]:
        """Send once; the events still to send and the error codes they failed with."""
        self.summary.calls += 1
        records = [{"Data": event.data, "PartitionKey": event.partition_key} for event in events]
        try:
            response = self.client.put_records(Records=records, **self.target)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in RETRYABLE_ERRORS:
                raise
            return events, Counter({code: len(events)})
        failed: list[Event] = []
        codes: Counter[str] = Counter()
        for event, result in zip(events, response["Records"], strict=True):
            if result.get("ErrorCode"):
                failed.append(event)
                codes[result["ErrorCode"]] += 1
                continue
            self.summary.sent += 1
            counts = self.summary.phases[event.phase]
            if event.click:
                counts.clicks += 1
            else:
                counts.impressions += 1
        return failed, codes


def send(
    client: Any,
    stream: str,
    phases: Sequence[Phase],
    rate: float,
    seed: int = 0,
    *,
    start: datetime | None = None,
    retry: Retry = Retry(),
    progress: TextIO | None = sys.stderr,
    tick: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Summary:
    """Send every phase's events to the stream (name or ARN) at `rate` per second; what was delivered.

    client: a boto3 Kinesis client (AWS or local AWS). start: the first event's moment (default
    now, UTC); with the same seed and start the events are the same. Raises RecordsLost when a
    record is still refused after retry.attempts calls.
    """
    start = start or datetime.now(UTC)
    offsets = [0.0]
    for phase in phases:
        offsets.append(offsets[-1] + phase.seconds)
    summary = Summary(
        stream=stream,
        rate=rate,
        seed=seed,
        start=iso_millis(start),
        phases=[
            PhaseCounts(
                phase.name,
                phase.seconds,
                phase.ctr_percent,
                iso_millis(start + timedelta(seconds=offsets[i])),
                iso_millis(start + timedelta(seconds=offsets[i + 1])),
            )
            for i, phase in enumerate(phases)
        ],
    )
    progress_line = _Progress(progress, summary, clock)
    sender = _Sender(client, stream, retry, summary, progress_line, sleep)
    events = generate(phases, rate, seed, start)
    upcoming = next(events, None)
    began = clock()
    while upcoming is not None:
        now = clock() - began
        due = []
        while upcoming is not None and upcoming.offset <= now and len(due) < MAX_DUE:
            due.append(upcoming)
            upcoming = next(events, None)
        if due:
            progress_line.phase = due[-1].phase
        for batch in batches(due):
            sender.put(batch)
        progress_line.tick()
        if upcoming is not None:
            wait = max(upcoming.offset, now + tick) - (clock() - began)
            if wait > 0:
                sleep(wait)
    summary.seconds = round(clock() - began, 3)
    progress_line.done()
    return summary

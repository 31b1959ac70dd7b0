"""Impression and click events in the course's shape, for phases of a given click-through rate, from a seed.

One event is one Kinesis record: a JSON object and a newline (Firehose concatenates records as
sent, so its archive is JSON Lines that Athena reads), partitioned by its session id:

    {"browseraction": "Click", "site": "abc.com", "event_time": "2026-01-05T10:00:00.250Z", "session_id": "..."}

An event is a Click with the phase's CTR as probability, else an Impression. Its event_time is
the moment it is due (start + its offset at the target rate), so a seed and a start give the
same events, byte for byte.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SITES = ("abc.com", "xyz.com", "shop.example.com")
SESSIONS = 500  # sessions open at once; partition keys spread over every shard
SESSION_END = 0.02  # chance an event's session ends and a new one takes its place
DEFAULT_PHASES = "normal:60:10,burst:20:40,normal:60:10,drop:20:1,normal:30:10"


@dataclass(frozen=True)
class Phase:
    """A stretch of the run: its name, length, and its click-through rate (clicks per 100 impressions)."""

    name: str
    seconds: float
    ctr_percent: float

    def __post_init__(self) -> None:
        if not self.name or self.seconds <= 0 or not 0 <= self.ctr_percent <= 100:
            raise ValueError(
                f"phase {self.name!r}: needs a name, seconds > 0 and a CTR between 0 and 100 % "
                f"(got {self.seconds} s, {self.ctr_percent} %)"
            )

    def events(self, rate: float) -> int:
        """How many events this phase holds at `rate` events per second."""
        return round(self.seconds * rate)


def parse_phases(text: str, unit: str = "seconds", unit_seconds: float = 1.0) -> list[Phase]:
    """`normal:60:10,burst:20:40` -> [Phase("normal", 60, 10), Phase("burst", 20, 40)] (name:seconds:ctr%).

    Lengths in another unit (`windows`) are multiplied by its length in seconds."""
    phases = []
    for part in text.split(","):
        fields = part.strip().split(":")
        if len(fields) != 3:
            raise ValueError(f"phase {part.strip()!r} is not name:{unit}:ctr_percent, e.g. burst:3:40")
        name, length, ctr = fields
        try:
            phases.append(Phase(name.strip(), float(length) * unit_seconds, float(ctr)))
        except ValueError as error:
            raise ValueError(f"phase {part.strip()!r}: {error}") from None
    return phases


@dataclass(frozen=True)
class Event:
    offset: float  # seconds after the start at which the event is due
    phase: int  # index of its phase
    click: bool
    partition_key: str  # its session id
    data: bytes  # the record: the JSON object and a newline

    @property
    def size(self) -> int:
        """Bytes of a shard's write throughput the record uses: data plus partition key."""
        return len(self.data) + len(self.partition_key.encode())


def iso_millis(moment: datetime) -> str:
    """2026-01-05T10:00:00.250Z: ISO 8601 in UTC with milliseconds, as the event_time field."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def generate(phases: Sequence[Phase], rate: float, seed: int, start: datetime) -> Iterator[Event]:
    """The events of every phase in order, `rate` per second, each due at its offset after start (UTC)."""
    if rate <= 0:
        raise ValueError(f"rate must be > 0 events per second, not {rate}")
    rng = random.Random(seed)

    def new_session() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    sessions = [new_session() for _ in range(SESSIONS)]
    phase_start = 0.0
    for index, phase in enumerate(phases):
        # CTR is clicks per impression (the detector's clicks / impressions x 100), so a click's share of events is ctr / (100 + ctr).
        threshold = phase.ctr_percent / (100 + phase.ctr_percent)
        for position in range(phase.events(rate)):
            offset = phase_start + position / rate
            click = rng.random() < threshold
            site = rng.choice(SITES)
            slot = rng.randrange(SESSIONS)
            if rng.random() < SESSION_END:
                sessions[slot] = new_session()
            body = {
                "browseraction": "Click" if click else "Impression",
                "site": site,
                "event_time": iso_millis(start + timedelta(seconds=offset)),
                "session_id": sessions[slot],
            }
            yield Event(offset, index, click, sessions[slot], (json.dumps(body) + "\n").encode())
        phase_start += phase.seconds

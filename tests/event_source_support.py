"""What the Lambda event source tests share: seeing a poller go round, and AWS's tumbling windows.

`from tests.event_source_support import count_poller_rounds, tumbling_windows, windows_closed`
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

ISO = "%Y-%m-%dT%H:%M:%SZ"
ARRIVAL_ROUNDING = 0.0005  # approximateArrivalTimestamp is rounded to the millisecond


def count_poller_rounds(monkeypatch) -> Callable[[str], int]:
    """rounds(uuid): how often the mapping's poller has finished a round (it sleeps after each idle
    or disabled one). To show that a poller did NOT deliver something, wait for two more rounds:
    whatever a round would have delivered, the handler has been invoked with by then."""
    from local_aws.lambda_.event_sources import mappings

    rounds: Counter[str] = Counter()
    sleep = mappings.Poller.sleep

    def counting_sleep(poller, seconds=None):
        rounds[poller.esm.uuid] += 1
        sleep(poller, seconds)

    monkeypatch.setattr(mappings.Poller, "sleep", counting_sleep)
    return lambda uuid: rounds[uuid]


def windows_closed(events: list[dict], records: int) -> bool:
    """All `records` delivered, and every window that had some ended with its final invocation."""
    regular = [e for e in events if not e["isFinalInvokeForWindow"]]
    finals = {e["window"]["start"] for e in events if e["isFinalInvokeForWindow"]}
    return sum(len(e["Records"]) for e in regular) >= records and {e["window"]["start"] for e in regular} <= finals


def _epoch(iso: str) -> float:
    return datetime.strptime(iso, ISO).replace(tzinfo=UTC).timestamp()


def tumbling_windows(events: list[dict], window: int, values: Callable[[dict], list], state_after: Callable[[list], dict]) -> list[list[list]]:  # fmt: skip
    """Asserts AWS's tumbling-window contract over a shard's Kinesis events and returns each window's
    batches (their values), windows in order. Windows are aligned to multiples of `window` seconds;
    a batch's records arrived within its window; each invocation gets the state the handler returned
    for the window's earlier records (`state_after(values)`, {} at the start), and the window ends
    with one final invocation, without records, that gets the state of all of them.
    """
    windows: dict[str, list[dict]] = {}
    for event in events:
        windows.setdefault(event["window"]["start"], []).append(event)
    batches = []
    for start, window_events in windows.items():
        *regular, final = window_events
        begins, ends = _epoch(start), _epoch(final["window"]["end"])
        assert ends - begins == window and begins % window == 0, final["window"]
        assert (final["isFinalInvokeForWindow"], final["isWindowTerminatedEarly"], final["Records"]) == (
            True,
            False,
            [],
        )
        seen: list = []
        for event in regular:
            assert not event["isFinalInvokeForWindow"] and event["state"] == state_after(seen)
            for record in event["Records"]:
                arrival = record["kinesis"]["approximateArrivalTimestamp"]
                assert begins - ARRIVAL_ROUNDING <= arrival < ends + ARRIVAL_ROUNDING, (arrival, event["window"])
            seen += values(event)
        assert final["state"] == state_after(seen)
        batches.append([values(event) for event in regular])
    assert list(windows) == sorted(windows)
    return batches

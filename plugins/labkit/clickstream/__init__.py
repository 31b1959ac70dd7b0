"""The clickstream project's event generator (the course's Kinesis Data Generator): a library and a CLI.

    from labkit.clickstream import parse_phases, send
    summary = send(boto3.client("kinesis"), "clicks", parse_phases("normal:60:10,burst:20:40"), rate=100, seed=7)

    PYTHONPATH=plugins python -m labkit.clickstream --stream clicks --rate 100 --phases normal:60:10,burst:20:40

- events.py    impression and click events in the course's shape, per phase CTR, from a seed
- producer.py  paced PutRecords batches (500 records, 5 MiB), retries with backoff, progress, the summary
"""

from labkit.clickstream.events import DEFAULT_PHASES, SITES, Event, Phase, generate, parse_phases
from labkit.clickstream.producer import RecordsLost, Retry, Summary, batches, send

__all__ = [
    "DEFAULT_PHASES",
    "SITES",
    "Event",
    "Phase",
    "RecordsLost",
    "Retry",
    "Summary",
    "batches",
    "generate",
    "parse_phases",
    "send",
]

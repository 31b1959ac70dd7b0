"""Append lines to a CloudWatch Logs stream through the API, as AWS services do."""

from __future__ import annotations

import time

from local_aws import clients

MAX_BATCH = 10_000  # PutLogEvents' limit on events per call


def write_lines(group: str, stream: str, lines: list[str], region: str = "us-east-1") -> None:
    """Create the group and stream if needed and append the lines (empty lines skipped)."""
    logs = clients.client("logs", region)
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": line} for line in lines if line.strip()]
    for start in range(0, len(events), MAX_BATCH):
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events[start : start + MAX_BATCH])

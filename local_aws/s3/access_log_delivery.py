"""Delivery of S3 server access log records: the buffer, the batches and the log objects they become.

Records (access_log_records.py) wait in a buffer per Destination (a source bucket's target bucket and
prefix) and are delivered in batches, as AWS does (best effort, within minutes there; every
`Settings.s3_access_log_flush_seconds` here, by the Flusher worker, or at once with `flush()`), as
objects named `TargetPrefix + YYYY-mm-DD-HH-MM-SS-<16 hex>`, or with the PartitionedPrefix layout
`TargetPrefix + account/region/bucket/YYYY/mm/DD/YYYY-mm-DD-HH-MM-SS-<16 hex>` when
TargetObjectKeyFormat asks for it.

Permissions as on AWS: the logging service logging.s3.amazonaws.com may write a log object when the
target bucket's policy lets it s3:PutObject under the prefix (the recommended way) or the legacy
LogDelivery group has WRITE and READ_ACP on the target's ACL (`delivery_allowed`, which
PutBucketLogging checks too); delivery checks again and drops the batch (with a warning) when the
permission is gone.

Log objects are written to moto's backend directly, never through HTTP, so delivering logs creates no
log records. The moto patches that feed this are in access_logging.py.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.s3.models import FakeBucket, s3_backends

from local_aws import clock, config, workers
from local_aws.iam.policy import SERVICE, Principal, Request, decide, parse

log = logging.getLogger(__name__)

LOGGING_SERVICE = "logging.s3.amazonaws.com"


@dataclass(frozen=True)
class Destination:
    """Where one source bucket's records go; batches are per destination."""

    account_id: str
    partition: str
    region: str
    source_bucket: str
    target_bucket: str
    target_prefix: str
    partitioned_by: str | None  # None (SimplePrefix), "EventTime" or "DeliveryTime"


@dataclass(frozen=True)
class Record:
    time: datetime
    line: str


_lock = threading.Lock()
# Records not delivered yet. While no server runs (stopping, stopped) they wait here for the next one.
_pending: dict[Destination, list[Record]] = defaultdict(list)


# --- permissions -------------------------------------------------------------------------------------


def _policy_allows(target: FakeBucket, source: FakeBucket, object_key: str) -> bool:
    """Whether the target's bucket policy lets the logging service put this log object (local_aws/iam/policy.py).

    The service writes over TLS, on behalf of the source bucket (AWS's recommended policy pins it with
    aws:SourceArn / aws:SourceAccount); other condition keys are absent from its requests, as on AWS.
    """
    if not target.policy:
        return False
    request = Request(
        principal=Principal(SERVICE, account="", arn=LOGGING_SERVICE),
        action="s3:PutObject",
        resource=f"arn:{target.partition}:s3:::{target.name}/{object_key}",
        context={
            "aws:sourcearn": f"arn:{source.partition}:s3:::{source.name}",
            "aws:sourceaccount": source.account_id,
            "aws:securetransport": "true",
            "aws:principalservicename": LOGGING_SERVICE,
        },
    )
    policy = parse(target.policy.decode() if isinstance(target.policy, bytes) else target.policy)
    return decide(request, (), policy, target.account_id).allowed


def delivery_allowed(target: FakeBucket, source: FakeBucket, destination: Destination) -> bool:
    """May the logging service write this destination's log objects into target?"""
    sample_key = log_object_key(destination, clock.now(), clock.now())
    return _policy_allows(target, source, sample_key) or FakeBucket._log_permissions_enabled_acl(target)


# --- destinations ------------------------------------------------------------------------------------


def partition_date_source(logging_config: dict[str, Any]) -> str | None:
    """The PartitionDateSource of a logging configuration's TargetObjectKeyFormat (None: SimplePrefix)."""
    key_format = logging_config.get("TargetObjectKeyFormat") or {}
    if "PartitionedPrefix" in key_format:
        return (key_format["PartitionedPrefix"] or {}).get("PartitionDateSource") or "DeliveryTime"
    return None


def destination_for(source: FakeBucket, logging_config: dict[str, Any]) -> Destination:
    return Destination(
        account_id=source.account_id,
        partition=source.partition,
        region=source.region_name,
        source_bucket=source.name,
        target_bucket=logging_config["TargetBucket"],
        target_prefix=logging_config.get("TargetPrefix") or "",
        partitioned_by=partition_date_source(logging_config),
    )


def log_object_key(destination: Destination, delivered: datetime, event_time: datetime) -> str:
    """TargetPrefix + YYYY-mm-DD-HH-MM-SS-<16 hex>, or the PartitionedPrefix layout."""
    name = delivered.strftime("%Y-%m-%d-%H-%M-%S-") + os.urandom(8).hex().upper()
    if destination.partitioned_by is None:
        return destination.target_prefix + name
    day = event_time if destination.partitioned_by == "EventTime" else delivered
    return (
        f"{destination.target_prefix}{destination.account_id}/{destination.region}/"
        f"{destination.source_bucket}/{day:%Y/%m/%d}/{name}"
    )


# --- the buffer and its delivery ---------------------------------------------------------------------


def deliver_later(destination: Destination, record: Record) -> None:
    """Buffer a record for the next delivery."""
    with _lock:
        _pending[destination].append(record)
    try:
        workers.get(Flusher)  # delivers every s3_access_log_flush_seconds from now on
    except workers.NotRunning:
        pass  # delivered by the shutdown's last flush, or by the next server


class Flusher:
    """Delivers the buffered records every few seconds (settings.s3_access_log_flush_seconds); a worker."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="s3-access-log-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        while not self._stop.wait(config.settings.s3_access_log_flush_seconds):
            try:
                flush()
            except Exception:
                log.exception("S3 access log delivery failed")


def flush() -> int:
    """Deliver every buffered record now; returns the number of log objects written."""
    with _lock:
        batches = dict(_pending)
        _pending.clear()
    written = 0
    delivered = clock.now()
    for destination, records in batches.items():
        backend = s3_backends[destination.account_id][destination.partition]
        target = backend.buckets.get(destination.target_bucket)
        source = backend.buckets.get(destination.source_bucket)
        if target is None:
            log.warning(
                "S3 access log: target bucket %s is gone; %d records dropped", destination.target_bucket, len(records)
            )
            continue
        # A deleted source bucket's last records still go out (the permission was checked when logging was set).
        if source is not None and not delivery_allowed(target, source, destination):
            log.warning(
                "S3 access log: %s no longer lets logging.s3.amazonaws.com write; %d records of %s dropped",
                destination.target_bucket,
                len(records),
                destination.source_bucket,
            )
            continue
        # EventTime partitions by the day the requests happened: one object per day of records.
        by_day: dict[str, list[Record]] = defaultdict(list)
        for record in records:
            by_day[record.time.strftime("%Y%m%d") if destination.partitioned_by == "EventTime" else ""].append(record)
        for day_records in by_day.values():
            key = log_object_key(destination, delivered, day_records[0].time)
            body = "".join(record.line + "\n" for record in day_records).encode()
            try:
                backend.put_object(destination.target_bucket, key, body)
                written += 1
            except Exception as error:  # e.g. the target's default SSE-KMS key is disabled
                log.warning("S3 access log: could not write %s/%s: %s", destination.target_bucket, key, error)
    return written


def pending() -> int:
    with _lock:
        return sum(len(records) for records in _pending.values())


def discard_pending() -> None:
    """Forget the records not delivered yet (moto's reset forgets the buckets they were for)."""
    with _lock:
        _pending.clear()

"""S3 lifecycle runs: what AWS's daily evaluation of a bucket's lifecycle rules does, and when it runs.

evaluate() is one daily run at a given midnight over every bucket of every account: transitions
down the storage-class waterfall (objects under 128 KB only as TransitionDefaultMinimumObjectSize
allows), expirations (deletions, or delete markers in versioned buckets; expired delete markers
removed), noncurrent transitions and expirations, aborted incomplete multipart uploads, and
restored copies that are gone again. DailyRuns runs it for every midnight UTC (local AWS clock) that
passed since the last run, skipping days on which nothing can fall due; the Ticker worker looks
once a minute for the midnights real time passes. Rules come parsed from lifecycle_rules.py; the
moto patches that store them and start the runs are in lifecycle.py.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from moto.s3.models import FakeBucket, FakeKey, S3Backend, s3_backends

from local_aws import clock
from local_aws.s3.lifecycle_rules import (
    SMALL_OBJECT,
    WATERFALL,
    Configuration,
    NoncurrentAction,
    Rule,
    as_utc,
    configuration_of,
    due_after,
    midnight_after,
)

log = logging.getLogger(__name__)


@dataclass
class Summary:
    runs: int = 0
    transitioned: int = 0
    expired: int = 0
    delete_markers_placed: int = 0
    delete_markers_removed: int = 0
    noncurrent_transitioned: int = 0
    noncurrent_expired: int = 0
    uploads_aborted: int = 0
    restores_expired: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def object_tags(backend: S3Backend, key: FakeKey) -> dict[str, str]:
    return backend.tagger.get_tag_dict_for_resource(key.arn)


def _transition_allowed(current: str | None, target: str) -> bool:
    current = current or "STANDARD"
    if current == "ONEZONE_IA" and target == "GLACIER_IR":
        return False  # not in AWS's waterfall
    return WATERFALL.get(target, 0) > WATERFALL.get(current, 0)


def _small_object_may_go(configuration: Configuration, rule: Rule, size: int, target: str) -> bool:
    if rule.filter.has_size or size >= SMALL_OBJECT:
        return True
    return configuration.minimum_size == "varies_by_storage_class" and target in ("GLACIER", "DEEP_ARCHIVE")


def _coldest(candidates: list[str]) -> str | None:
    return max(candidates, key=lambda c: WATERFALL[c]) if candidates else None


def expiration_due(rule: Rule, created: datetime) -> datetime | None:
    if rule.expiration_days is not None:
        return due_after(created, rule.expiration_days)
    return rule.expiration_date


@dataclass
class _Run:
    """One daily run at `at`; remembers the earliest action still to come, so idle days are skipped."""

    at: datetime
    summary: Summary
    next_due: datetime | None = None

    def due(self, when: datetime | None) -> bool:
        if when is None:
            return False
        if when <= self.at:
            return True
        if self.next_due is None or when < self.next_due:
            self.next_due = when
        return False

    def changed(self) -> None:
        """An action changed the key's state (a marker, a removed version): look again the next day."""
        self.due(self.at + timedelta(days=1))


def _evaluate_key(backend: S3Backend, bucket: FakeBucket, configuration: Configuration, name: str, run: _Run) -> None:
    at, summary = run.at, run.summary
    versions = list(bucket.keys.getlist(name) or [])
    if not versions:
        return
    current = versions[-1]
    rules = [rule for rule in configuration.rules if rule.enabled]

    if isinstance(current, FakeKey):
        tags, size = object_tags(backend, current), current.size
        created = as_utc(current.last_modified)
        matching = [rule for rule in rules if rule.filter.matches(name, tags, size)]
        # Expiration wins over transition (AWS's conflict rule).
        if any(run.due(expiration_due(rule, created)) for rule in matching):
            backend.delete_object(bucket.name, name)
            run.changed()
            if bucket.versioning_status:  # Enabled or Suspended: a delete marker, not a deletion
                marker = bucket.keys.getlist(name)[-1]
                marker.last_modified = at.replace(tzinfo=None)
                summary.delete_markers_placed += 1
            else:
                summary.expired += 1
            return
        targets = [
            t.storage_class
            for rule in matching
            for t in rule.transitions
            if _small_object_may_go(configuration, rule, size, t.storage_class)
            and run.due(t.date if t.days is None else due_after(created, t.days))
        ]
        target = _coldest(targets)
        if target and _transition_allowed(current.storage_class, target):
            current.set_storage_class(target)
            summary.transitioned += 1
    else:  # a delete marker is the current version
        matching = [rule for rule in rules if rule.filter.matches(name, None, None) and not rule.filter.tags]
        only_marker = len(versions) == 1
        created = as_utc(current.last_modified)
        if only_marker and any(
            rule.expired_object_delete_marker
            or (rule.expiration_days is not None and run.due(due_after(created, rule.expiration_days)))
            for rule in matching
        ):
            backend.delete_object(bucket.name, name, version_id=current.version_id)
            run.changed()
            summary.delete_markers_removed += 1
            return

    # Noncurrent versions, newest first: each became noncurrent when its successor was written.
    noncurrent = []
    for index in range(len(versions) - 2, -1, -1):
        version = versions[index]
        if isinstance(version, FakeKey):
            noncurrent.append((version, as_utc(versions[index + 1].last_modified)))
    expired_ids = []
    for newer_count, (version, since) in enumerate(noncurrent):
        tags, size = object_tags(backend, version), version.size
        matching = [rule for rule in rules if rule.filter.matches(name, tags, size)]

        def due(action: NoncurrentAction, since: datetime = since, newer_count: int = newer_count) -> bool:
            enough_newer = action.newer_versions is None or newer_count >= action.newer_versions
            return enough_newer and run.due(due_after(since, action.days))

        if any(rule.noncurrent_expiration and due(rule.noncurrent_expiration) for rule in matching):
            expired_ids.append(version.version_id)
            continue
        target = _coldest(
            [
                action.storage_class
                for rule in matching
                for action in rule.noncurrent_transitions
                if due(action) and _small_object_may_go(configuration, rule, size, action.storage_class or "")
            ]
        )
        if target and _transition_allowed(version.storage_class, target):
            version.set_storage_class(target)
            summary.noncurrent_transitioned += 1
    for version_id in expired_ids:
        backend.delete_object(bucket.name, name, version_id=version_id)
        summary.noncurrent_expired += 1
        run.changed()


def _expire_restores(bucket: FakeBucket, run: _Run) -> None:
    for versions in dict.values(bucket.keys):
        for version in versions:
            expiry = getattr(version, "_expiry", None)
            if expiry is not None and run.due(as_utc(expiry)):
                version.set_expiry(None)
                run.summary.restores_expired += 1


def _abort_uploads(bucket: FakeBucket, configuration: Configuration, run: _Run) -> None:
    for upload_id, upload in list(bucket.multiparts.items()):
        initiated = getattr(upload, "initiated", None)
        if initiated is None:
            continue
        for rule in configuration.rules:
            if (
                rule.enabled
                and rule.abort_multipart_days
                and upload.key_name.startswith(rule.filter.prefix)
                and run.due(due_after(initiated, rule.abort_multipart_days))
            ):
                upload.dispose()
                del bucket.multiparts[upload_id]
                run.summary.uploads_aborted += 1
                break


def _backends() -> list[S3Backend]:
    return [backend for account in list(s3_backends.values()) for backend in list(account.values())]


def evaluate(at: datetime, summary: Summary | None = None) -> datetime | None:
    """One daily lifecycle run at moment `at` over every bucket of every account.

    Returns when the next action can fall due (None: never, unless requests change something).
    """
    run = _Run(at, summary or Summary())
    run.summary.runs += 1
    for backend in _backends():
        for bucket in list(backend.buckets.values()):
            _expire_restores(bucket, run)
            configuration = configuration_of(bucket)
            if configuration is None:
                continue
            for name in list(dict.keys(bucket.keys)):
                _evaluate_key(backend, bucket, configuration, name, run)
            _abort_uploads(bucket, configuration, run)
    return run.next_due


class DailyRuns:
    """Runs evaluate() for every midnight UTC of the local clock since the last run.

    Days on which nothing can fall due are skipped: every due date is a midnight, and each run
    reports the earliest one still to come.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = clock.now()

    def catch_up(self, previous: datetime | None, current: datetime) -> dict[str, int]:
        summary = Summary()
        with self.lock:
            midnight: datetime | None = midnight_after(self.last)
            while midnight is not None and midnight <= current:
                next_due = evaluate(midnight, summary)
                midnight = max(next_due, midnight + timedelta(days=1)) if next_due else None
            self.last = max(self.last, current)
        if summary.runs:
            log.info("S3 lifecycle: %s", summary.as_dict())
        return summary.as_dict()

    def reset(self) -> None:
        with self.lock:
            self.last = clock.now()


daily = DailyRuns()


class Ticker:
    """Real time also passes midnights: look once a minute. A worker (local_aws.workers)."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="s3-lifecycle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stopping.wait(60):
            try:
                daily.catch_up(None, clock.now())
            except Exception:  # keep ticking; the next minute retries
                log.exception("S3 lifecycle run failed")

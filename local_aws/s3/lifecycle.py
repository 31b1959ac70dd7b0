"""S3 lifecycle rules that take effect: moto 5.2.5 stores a lifecycle configuration and never applies it.

AWS evaluates each bucket's rules once a day and applies what fell due since. Here the same daily
evaluation runs for every midnight (UTC, local AWS clock) that passes, whether real time passes
it or the clock is advanced (`local_aws.clock`): advancing 61 days applies 61 daily runs at once.

Timing as on AWS: an action N days after an object's creation falls due at the midnight UTC that
follows creation + N days (created 15 Jan 10:30, 3 days -> 19 Jan 00:00); a noncurrent version's
days count from when its successor was written; Date actions apply from that midnight on to every
matching object. Timestamps (LastModified of objects and delete markers) are in clock time.

Implemented: Filter (Prefix, Tag, ObjectSizeGreaterThan/LessThan, And; the deprecated top-level
Prefix), Status, Transitions (Days/Date; the storage-class waterfall; objects under 128 KB are not
transitioned unless the rule has a size filter or the bucket's TransitionDefaultMinimumObjectSize
is varies_by_storage_class, which lets them go to GLACIER/DEEP_ARCHIVE), Expiration (Days/Date:
unversioned objects are deleted, versioned ones get a delete marker; ExpiredObjectDeleteMarker and,
with Days, the automatic clean-up of expired delete markers), NoncurrentVersionTransitions and
NoncurrentVersionExpiration (NoncurrentDays, NewerNoncurrentVersions),
AbortIncompleteMultipartUpload. PutBucketLifecycleConfiguration validates as AWS does (minimum
days per storage class, order of transitions, duplicate IDs, ...), and GetBucketLifecycleConfiguration
returns what was stored, with the size filters moto drops. HeadObject/GetObject carry
x-amz-expiration for objects an Expiration rule will delete. A restored copy of a GLACIER or
DEEP_ARCHIVE object lasts its Days, rounded to the next midnight, and then is gone again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import xmltodict
from moto.core.responses import ActionResult
from moto.s3 import models as s3_models
from moto.s3.exceptions import MalformedXML, NoSuchLifecycleConfiguration, S3ClientError
from moto.s3.models import FakeBucket, FakeKey, FakeMultipart, S3Backend, s3_backends
from moto.s3.responses import S3Response

from local_aws import clock

log = logging.getLogger(__name__)

# AWS's storage-class waterfall: lifecycle only moves objects down this list.
WATERFALL = {
    "STANDARD": 0,
    "REDUCED_REDUNDANCY": 0,
    "STANDARD_IA": 1,
    "INTELLIGENT_TIERING": 2,
    "ONEZONE_IA": 3,
    "GLACIER_IR": 4,
    "GLACIER": 5,
    "DEEP_ARCHIVE": 6,
}
TRANSITION_CLASSES = ("STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")
# Days an object must be old before it may go to this class (AWS rejects shorter Days).
MINIMUM_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30}
# Days an object must stay in a class before a lifecycle transition may move it further down.
MINIMUM_STAY = {"STANDARD_IA": 30, "ONEZONE_IA": 30}
SMALL_OBJECT = 128 * 1024
DEFAULT_MINIMUM_SIZE = "all_storage_classes_128K"
MINIMUM_SIZE_OPTIONS = (DEFAULT_MINIMUM_SIZE, "varies_by_storage_class")
MAX_RULES = 1000


def invalid_argument(message: str) -> S3ClientError:
    return S3ClientError("InvalidArgument", message)


def invalid_request(message: str) -> S3ClientError:
    return S3ClientError("InvalidRequest", message)


def midnight_after(moment: datetime) -> datetime:
    """AWS's rounding: the midnight UTC that follows moment."""
    return datetime.combine(moment.date() + timedelta(days=1), time(0), tzinfo=UTC)


def due_after(start: datetime, days: int) -> datetime:
    return midnight_after(start + timedelta(days=days))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- the configuration: parsed, validated, kept on the bucket


@dataclass(frozen=True)
class Filter:
    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None
    has_size: bool = False

    def matches(self, name: str, tags: dict[str, str] | None, size: int | None) -> bool:
        if not name.startswith(self.prefix):
            return False
        if self.tags and (tags is None or any(tags.get(k) != v for k, v in self.tags)):
            return False
        if self.size_greater_than is not None and (size is None or size <= self.size_greater_than):
            return False
        return not (self.size_less_than is not None and (size is None or size >= self.size_less_than))

    def describe(self) -> str:
        parts = [f"prefix={self.prefix}"]
        parts += [f"tag={k}:{v}" for k, v in self.tags]
        return "(" + ", ".join(parts) + ")"


@dataclass(frozen=True)
class Transition:
    storage_class: str
    days: int | None = None
    date: datetime | None = None


@dataclass(frozen=True)
class NoncurrentAction:
    days: int
    storage_class: str | None = None  # None: expiration
    newer_versions: int | None = None


@dataclass
class Rule:
    id: str
    enabled: bool
    filter: Filter
    api: dict[str, Any]  # the rule as GetBucketLifecycleConfiguration returns it
    transitions: list[Transition] = field(default_factory=list)
    expiration_days: int | None = None
    expiration_date: datetime | None = None
    expired_object_delete_marker: bool = False
    noncurrent_transitions: list[NoncurrentAction] = field(default_factory=list)
    noncurrent_expiration: NoncurrentAction | None = None
    abort_multipart_days: int | None = None


@dataclass
class Configuration:
    rules: list[Rule]
    minimum_size: str = DEFAULT_MINIMUM_SIZE


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _int(value: Any, what: str, minimum: int = 0) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise MalformedXML() from None
    if number < minimum:
        raise invalid_argument(f"'{what}' must be {'a positive' if minimum else 'a non-negative'} integer")
    return number


def _date(value: Any, action: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise MalformedXML() from None
    moment = _aware(moment).astimezone(UTC)
    if moment.time() != time(0):
        raise invalid_argument(f"'Date' must be at midnight GMT ({action} action, got {value})")
    return moment


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse_filter(rule: dict[str, Any]) -> tuple[Filter, dict[str, Any]]:
    """The rule's filter and its API form (Filter or the deprecated top-level Prefix)."""
    if "Filter" in rule and "Prefix" in rule:
        raise MalformedXML()
    if "Filter" not in rule:
        if "Prefix" not in rule:
            raise MalformedXML()
        prefix = rule["Prefix"] or ""
        return Filter(prefix=prefix), {"Prefix": prefix}
    raw = rule["Filter"] or {}
    parts = [name for name in ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "And") if name in raw]
    if len(parts) > 1:
        raise MalformedXML()  # more than one condition needs And
    source = raw.get("And") if parts == ["And"] else raw
    source = source or {}
    tags = [(t["Key"], t.get("Value") or "") for t in _as_list(source.get("Tag"))]
    if len({k for k, _ in tags}) != len(tags):
        raise invalid_request("Duplicate Tag Keys are not allowed.")
    greater = (
        _int(source["ObjectSizeGreaterThan"], "ObjectSizeGreaterThan") if "ObjectSizeGreaterThan" in source else None
    )
    less = _int(source["ObjectSizeLessThan"], "ObjectSizeLessThan", 1) if "ObjectSizeLessThan" in source else None
    if greater is not None and less is not None and greater >= less:
        raise invalid_argument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
    lifecycle_filter = Filter(
        source.get("Prefix") or "", tuple(tags), greater, less, greater is not None or less is not None
    )
    api: dict[str, Any] = {}
    condition: dict[str, Any] = {}
    if "Prefix" in source:
        condition["Prefix"] = source.get("Prefix") or ""
    if greater is not None:
        condition["ObjectSizeGreaterThan"] = greater
    if less is not None:
        condition["ObjectSizeLessThan"] = less
    if parts == ["And"]:
        if tags:
            condition["Tags"] = [{"Key": k, "Value": v} for k, v in tags]
        api["And"] = condition
    else:
        api.update(condition)
        if tags:
            api["Tag"] = {"Key": tags[0][0], "Value": tags[0][1]}
    return lifecycle_filter, {"Filter": api}


def _check_transitions(rule: Rule, where: str) -> None:
    transitions = rule.transitions
    if len({t.storage_class for t in transitions}) != len(transitions):
        raise invalid_argument(f"'StorageClass' must be different for 'Transition' actions in same 'Rule' with {where}")
    if len({t.days is None for t in transitions}) > 1:
        raise invalid_argument(f"Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule for {where}")
    for t in transitions:
        if t.days is not None and t.days < MINIMUM_DAYS.get(t.storage_class, 0):
            raise invalid_argument(
                f"'Days' in Transition action must be greater than or equal to {MINIMUM_DAYS[t.storage_class]} "
                f"for storageClass '{t.storage_class}'"
            )
    ordered = sorted(transitions, key=lambda t: WATERFALL[t.storage_class])
    for colder, warmer in ((ordered[i + 1], ordered[i]) for i in range(len(ordered) - 1)):
        if colder.days is None:
            if colder.date <= warmer.date:  # type: ignore[operator]
                raise invalid_argument(
                    f"'Date' in the Transition action for StorageClass '{colder.storage_class}' for {where} must be "
                    f"later than 'Date' in the Transition action for StorageClass '{warmer.storage_class}'"
                )
            continue
        stay = MINIMUM_STAY.get(warmer.storage_class, 0)
        if colder.days - warmer.days < stay:  # type: ignore[operator]
            raise invalid_argument(
                f"'Days' in the Transition action for StorageClass '{colder.storage_class}' for {where} must be "
                + (f"{stay} days more than" if stay else "no less than")
                + f" 'Days' in the Transition action for StorageClass '{warmer.storage_class}'"
            )
    if rule.expiration_days is not None and transitions and transitions[0].days is not None:
        latest = max(t.days for t in transitions)  # type: ignore[type-var]
        if rule.expiration_days <= latest:
            raise invalid_argument(
                f"'Days' in the Expiration action for {where} must be greater than 'Days' in the Transition action"
            )
    noncurrent = rule.noncurrent_transitions
    if len({t.storage_class for t in noncurrent}) != len(noncurrent):
        raise invalid_argument(
            f"'StorageClass' must be different for 'NoncurrentVersionTransition' actions in same 'Rule' with {where}"
        )
    for t in noncurrent:
        if t.days < MINIMUM_DAYS.get(t.storage_class or "", 0):
            raise invalid_argument(
                f"'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or equal to "
                f"{MINIMUM_DAYS[t.storage_class or '']} for storageClass '{t.storage_class}'"
            )
    if rule.noncurrent_expiration and noncurrent:
        latest = max(t.days for t in noncurrent)
        if rule.noncurrent_expiration.days <= latest:
            raise invalid_argument(
                f"'NoncurrentDays' in the NoncurrentVersionExpiration action for {where} must be greater than "
                f"'NoncurrentDays' in the NoncurrentVersionTransition action"
            )


def parse_rule(raw: dict[str, Any]) -> Rule:
    """One <Rule> as xmltodict parsed it -> a validated Rule (S3ClientError as AWS would answer)."""
    rule_id = raw.get("ID") or ""
    if len(rule_id) > 255:
        raise invalid_argument("ID length should not exceed allowed limit of 255")
    status = raw.get("Status")
    if status not in ("Enabled", "Disabled"):
        raise MalformedXML()
    lifecycle_filter, filter_api = _parse_filter(raw)
    api: dict[str, Any] = {"ID": rule_id, **filter_api, "Status": status}
    rule = Rule(id=rule_id, enabled=status == "Enabled", filter=lifecycle_filter, api=api)
    where = f"filter '{lifecycle_filter.describe()}'"

    expiration = raw.get("Expiration")
    if expiration is not None:
        expiration = expiration or {}
        given = [name for name in ("Days", "Date", "ExpiredObjectDeleteMarker") if name in expiration]
        if len(given) != 1:
            raise MalformedXML()
        if "Days" in expiration:
            rule.expiration_days = _int(expiration["Days"], "Days' for Expiration action", 1)
            api["Expiration"] = {"Days": rule.expiration_days}
        elif "Date" in expiration:
            rule.expiration_date = _date(expiration["Date"], "Expiration")
            api["Expiration"] = {"Date": _iso(rule.expiration_date)}
        else:
            flag = str(expiration["ExpiredObjectDeleteMarker"]).lower()
            if flag not in ("true", "false"):
                raise MalformedXML()
            if lifecycle_filter.tags:
                raise invalid_request("ExpiredObjectDeleteMarker cannot be specified with Tag filters")
            rule.expired_object_delete_marker = flag == "true"
            api["Expiration"] = {"ExpiredObjectDeleteMarker": rule.expired_object_delete_marker}

    for item in _as_list(raw.get("Transition")):
        storage_class = item.get("StorageClass")
        if storage_class not in TRANSITION_CLASSES or ("Days" in item) == ("Date" in item):
            raise MalformedXML()
        if "Days" in item:
            rule.transitions.append(Transition(storage_class, days=_int(item["Days"], "Days' in Transition action")))
        else:
            rule.transitions.append(Transition(storage_class, date=_date(item["Date"], "Transition")))
    if rule.transitions:
        api["Transitions"] = [
            {"Days": t.days, "StorageClass": t.storage_class}
            if t.days is not None
            else {"Date": _iso(t.date), "StorageClass": t.storage_class}  # type: ignore[arg-type]
            for t in rule.transitions
        ]

    for item in _as_list(raw.get("NoncurrentVersionTransition")):
        storage_class = item.get("StorageClass")
        if storage_class not in TRANSITION_CLASSES or "NoncurrentDays" not in item:
            raise MalformedXML()
        newer = item.get("NewerNoncurrentVersions")
        rule.noncurrent_transitions.append(
            NoncurrentAction(
                _int(item["NoncurrentDays"], "NoncurrentDays' in NoncurrentVersionTransition action"),
                storage_class,
                _int(newer, "NewerNoncurrentVersions", 1) if newer is not None else None,
            )
        )
    if rule.noncurrent_transitions:
        api["NoncurrentVersionTransitions"] = [
            {"NoncurrentDays": t.days, "StorageClass": t.storage_class}
            | ({"NewerNoncurrentVersions": t.newer_versions} if t.newer_versions else {})
            for t in rule.noncurrent_transitions
        ]

    item = raw.get("NoncurrentVersionExpiration")
    if item is not None:
        if not item or "NoncurrentDays" not in item:
            raise MalformedXML()
        newer = item.get("NewerNoncurrentVersions")
        rule.noncurrent_expiration = NoncurrentAction(
            _int(item["NoncurrentDays"], "NoncurrentDays' for NoncurrentVersionExpiration action", 1),
            None,
            _int(newer, "NewerNoncurrentVersions", 1) if newer is not None else None,
        )
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule.noncurrent_expiration.days} | (
            {"NewerNoncurrentVersions": rule.noncurrent_expiration.newer_versions}
            if rule.noncurrent_expiration.newer_versions
            else {}
        )

    item = raw.get("AbortIncompleteMultipartUpload")
    if item is not None:
        if not item or "DaysAfterInitiation" not in item:
            raise MalformedXML()
        if lifecycle_filter.tags:
            raise invalid_request("AbortIncompleteMultipartUpload cannot be specified with Tags.")
        rule.abort_multipart_days = _int(
            item["DaysAfterInitiation"], "DaysAfterInitiation' for AbortIncompleteMultipartUpload action", 1
        )
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": rule.abort_multipart_days}

    if not (
        "Expiration" in api
        or rule.transitions
        or rule.noncurrent_transitions
        or rule.noncurrent_expiration
        or rule.abort_multipart_days
    ):
        raise invalid_request("At least one action needs to be specified in a rule")
    _check_transitions(rule, where)
    return rule


def parse_configuration(body: bytes, minimum_size: str | None) -> Configuration:
    """A PutBucketLifecycleConfiguration body -> a validated Configuration."""
    try:
        document = xmltodict.parse(body)["LifecycleConfiguration"] or {}
    except Exception:
        raise MalformedXML() from None
    raws = _as_list(document.get("Rule"))
    if not raws or len(raws) > MAX_RULES:
        raise MalformedXML()
    minimum_size = minimum_size or DEFAULT_MINIMUM_SIZE
    if minimum_size not in MINIMUM_SIZE_OPTIONS:
        raise invalid_argument(f"x-amz-transition-default-minimum-object-size must be one of {MINIMUM_SIZE_OPTIONS}")
    rules = [parse_rule(raw) for raw in raws]
    ids = [rule.id for rule in rules if rule.id]
    if len(set(ids)) != len(ids):
        raise invalid_argument("Rule ID must be unique. Found same ID for more than one rule")
    for rule in rules:
        if not rule.id:  # AWS makes one up
            rule.id = rule.api["ID"] = s3_models.random.get_random_string(length=48, lower_case=False)
    return Configuration(rules, minimum_size)


def configuration_of(bucket: FakeBucket) -> Configuration | None:
    return getattr(bucket, "local_lifecycle", None)


# --- evaluation: what the daily lifecycle run does


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


def _tags(backend: S3Backend, key: FakeKey) -> dict[str, str]:
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
        tags, size = _tags(backend, current), current.size
        created = _aware(current.last_modified)
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
        created = _aware(current.last_modified)
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
            noncurrent.append((version, _aware(versions[index + 1].last_modified)))
    expired_ids = []
    for newer_count, (version, since) in enumerate(noncurrent):
        tags, size = _tags(backend, version), version.size
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
            if expiry is not None and run.due(_aware(expiry)):
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


class _Ticker(threading.Thread):
    """Real time also passes midnights: look once a minute."""

    def __init__(self) -> None:
        super().__init__(name="s3-lifecycle", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(60):
            try:
                daily.catch_up(None, clock.now())
            except Exception:  # keep ticking; the next minute retries
                log.exception("S3 lifecycle run failed")


_ticker: _Ticker | None = None


# --- patches on moto


def expiration_header(key: FakeKey) -> str | None:
    """x-amz-expiration for the current version of key, when an Expiration rule applies to it."""
    try:
        backend = s3_backends[key.account_id][key.partition]
        bucket = backend.buckets.get(key.bucket_name)
    except KeyError:
        return None
    configuration = configuration_of(bucket) if bucket else None
    if configuration is None or bucket.keys.get(key.name) is not key:
        return None
    tags, created = _tags(backend, key), _aware(key.last_modified)
    dues = [
        (due, rule.id)
        for rule in configuration.rules
        if rule.enabled
        and rule.filter.matches(key.name, tags, key.size)
        and (due := expiration_due(rule, created)) is not None
    ]
    if not dues:
        return None
    due, rule_id = min(dues)
    return f'expiry-date="{due.strftime("%a, %d %b %Y %H:%M:%S GMT")}", rule-id="{rule_id}"'


def _put_lifecycle(self: S3Response, request: Any, bucket_name: str) -> Any:
    if not request.headers.get("Content-Length"):
        return 411, {}, "Content-Length required"
    self._set_action("BUCKET", "PUT", {"lifecycle": [""]})
    self._authenticate_and_authorize_s3_action(bucket_name=bucket_name)
    bucket = self.backend.get_bucket(bucket_name)
    minimum_size = request.headers.get("x-amz-transition-default-minimum-object-size")
    configuration = parse_configuration(self.body, minimum_size)
    bucket.rules = []  # moto's own (lossy) copy stays empty: ours is the configuration
    bucket.local_lifecycle = configuration
    return 200, {"x-amz-transition-default-minimum-object-size": configuration.minimum_size}, ""


def _get_lifecycle(self: S3Response) -> Any:
    self.data["Action"] = "GetBucketLifecycleConfiguration"
    bucket = self.backend.get_bucket(self.bucket_name)
    configuration = configuration_of(bucket)
    if configuration is None:
        raise NoSuchLifecycleConfiguration(bucket_name=self.bucket_name)
    result = {
        "Rules": [rule.api for rule in configuration.rules],
        "TransitionDefaultMinimumObjectSize": configuration.minimum_size,
    }
    return self.serialized(ActionResult(result))


def install() -> None:
    global _ticker
    if getattr(S3Response, "_local_lifecycle", False):
        if _ticker is None:
            _ticker = _Ticker()
            _ticker.start()
        return
    # Object, delete-marker, restore and lock timestamps follow local AWS's clock.
    s3_models.utcnow = clock.utcnow_naive

    bucket_put = S3Response._bucket_response_put

    def bucket_response_put(self, request, bucket_name, querystring):
        if "lifecycle" in querystring:
            return _put_lifecycle(self, request, bucket_name)
        return bucket_put(self, request, bucket_name, querystring)

    delete_lifecycle = S3Backend.delete_bucket_lifecycle

    def delete_bucket_lifecycle(self, bucket_name: str) -> None:
        delete_lifecycle(self, bucket_name)
        self.get_bucket(bucket_name).local_lifecycle = None

    multipart_init = FakeMultipart.__init__

    def multipart_with_initiated(self, *args, **kwargs):
        multipart_init(self, *args, **kwargs)
        self.initiated = clock.now()

    restore = FakeKey.restore

    def restore_until_midnight(self, days: int) -> None:
        restore(self, days)
        # AWS rounds a restored copy's expiry to the next midnight UTC.
        self._expiry = midnight_after(_aware(self._expiry)).replace(tzinfo=None)

    response_dict = FakeKey.response_dict

    def response_dict_with_expiration(self) -> dict[str, Any]:
        headers = response_dict.fget(self)
        header = expiration_header(self)
        if header:
            headers["x-amz-expiration"] = header
        return headers

    S3Response._bucket_response_put = bucket_response_put
    S3Response.get_bucket_lifecycle = _get_lifecycle
    S3Backend.delete_bucket_lifecycle = delete_bucket_lifecycle
    FakeMultipart.__init__ = multipart_with_initiated
    FakeKey.restore = restore_until_midnight
    FakeKey.response_dict = property(response_dict_with_expiration)
    S3Response._local_lifecycle = True

    clock.on_advance("s3_lifecycle", daily.catch_up)
    clock.on_reset("s3_lifecycle", daily.reset)
    daily.reset()
    _ticker = _Ticker()
    _ticker.start()


def shutdown() -> None:
    global _ticker
    if _ticker is not None:
        _ticker.stopping.set()
        _ticker.join(timeout=5)
        _ticker = None

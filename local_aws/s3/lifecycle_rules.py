"""S3 lifecycle configurations as PutBucketLifecycleConfiguration takes them: parsed, validated as AWS
validates them, and kept on the bucket (moto's own model drops size filters and NewerNoncurrentVersions
and accepts nearly anything). `lifecycle_runs.py` applies them.

Errors are S3's: InvalidArgument for values AWS refuses (a transition to STANDARD_IA under 30 days,
Days <= 0, a Date not at midnight UTC, duplicate rule IDs, ...), InvalidRequest for a rule without
actions, MalformedXML for what does not fit the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import xmltodict
from moto.s3 import models as s3_models
from moto.s3.exceptions import MalformedXML, S3ClientError
from moto.s3.models import FakeBucket

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


def as_utc(moment: datetime) -> datetime:
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
    moment = as_utc(moment).astimezone(UTC)
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

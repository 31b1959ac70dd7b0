"""What an S3 lifecycle configuration will do to an object, and when (pure: no AWS calls).

S3 applies lifecycle rules in a daily run, so an action N days after an object's creation falls due
at the midnight UTC after creation + N days (created 15 Jan 10:30, 30 days -> 15 Feb 00:00).
Objects under 128 KB are not transitioned unless the rule filters on size or the configuration's
TransitionDefaultMinimumObjectSize is varies_by_storage_class (then they may go to GLACIER and
DEEP_ARCHIVE). Expiration wins over transitions; of several due transitions the coldest applies.
This covers current versions (what a listing shows), which is what the labs report on.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

# S3's storage-class waterfall: lifecycle only moves objects down it.
WATERFALL = ("STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")
SMALL_OBJECT = 128 * 1024
EXPIRED = "expired"


def midnight_after(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.combine(moment.date() + timedelta(days=1), time(0), tzinfo=UTC)


def _conditions(rule: dict[str, Any]) -> dict[str, Any]:
    if "Filter" not in rule:
        return {"Prefix": rule.get("Prefix", "")}
    lifecycle_filter = rule["Filter"] or {}
    if "And" in lifecycle_filter:
        conditions = dict(lifecycle_filter["And"])
        conditions["Tags"] = {t["Key"]: t["Value"] for t in conditions.get("Tags", [])}
        return conditions
    conditions = {k: v for k, v in lifecycle_filter.items() if k != "Tag"}
    conditions["Tags"] = (
        {lifecycle_filter["Tag"]["Key"]: lifecycle_filter["Tag"]["Value"]} if "Tag" in lifecycle_filter else {}
    )
    return conditions


def has_tag_filter(rule: dict[str, Any]) -> bool:
    return bool(_conditions(rule).get("Tags"))


def matches(rule: dict[str, Any], key: str, size: int, tags: dict[str, str]) -> bool:
    conditions = _conditions(rule)
    if rule.get("Status") != "Enabled" or not key.startswith(conditions.get("Prefix") or ""):
        return False
    if any(tags.get(k) != v for k, v in conditions.get("Tags", {}).items()):
        return False
    if "ObjectSizeGreaterThan" in conditions and size <= conditions["ObjectSizeGreaterThan"]:
        return False
    return not ("ObjectSizeLessThan" in conditions and size >= conditions["ObjectSizeLessThan"])


def _due(created: datetime, action: dict[str, Any]) -> datetime:
    if "Date" in action:
        when = action["Date"]
        return (
            when.astimezone(UTC)
            if isinstance(when, datetime)
            else datetime.fromisoformat(str(when).replace("Z", "+00:00"))
        )
    return midnight_after(created + timedelta(days=int(action["Days"])))


def schedule(configuration: dict[str, Any], obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The dated actions the rules hold for one object, in date order.

    configuration: a GetBucketLifecycleConfiguration response; obj: Key, Size, LastModified,
    StorageClass (listing fields) and Tags (a dict, when rules filter on tags).
    """
    small_to_glacier = configuration.get("TransitionDefaultMinimumObjectSize") == "varies_by_storage_class"
    size, created = int(obj["Size"]), obj["LastModified"]
    events = []
    for rule in configuration.get("Rules", []):
        if not matches(rule, obj["Key"], size, obj.get("Tags") or {}):
            continue
        sized = any(k in _conditions(rule) for k in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"))
        for transition in rule.get("Transitions", []):
            target = transition["StorageClass"]
            if size < SMALL_OBJECT and not sized and not (small_to_glacier and target in ("GLACIER", "DEEP_ARCHIVE")):
                continue  # S3's default: objects under 128 KB are not transitioned
            events.append({"date": _due(created, transition), "action": target, "rule": rule.get("ID")})
        expiration = rule.get("Expiration") or {}
        if "Days" in expiration or "Date" in expiration:
            events.append({"date": _due(created, expiration), "action": EXPIRED, "rule": rule.get("ID")})
    return sorted(events, key=lambda event: event["date"])


def expected_state(configuration: dict[str, Any], obj: dict[str, Any], at: datetime) -> str:
    """The object's storage class at `at` by the rules, or "expired"."""
    events = [event for event in schedule(configuration, obj) if event["date"] <= at]
    if any(event["action"] == EXPIRED for event in events):
        return EXPIRED
    current = obj.get("StorageClass") or "STANDARD"
    colder = [event["action"] for event in events if WATERFALL.index(event["action"]) > WATERFALL.index(current)]
    if current == "ONEZONE_IA":
        colder = [c for c in colder if c != "GLACIER_IR"]  # not in S3's waterfall
    return max(colder, key=WATERFALL.index) if colder else current

"""Lambda lab 4: delete the objects of a bucket that match a rule, or just report them (dry run).

The rule comes from the event, falling back to environment variables:

| event key        | variable         | meaning                                                        |
| ---------------- | ---------------- | -------------------------------------------------------------- |
| `bucket`         | `BUCKET`         | the bucket (required)                                          |
| `prefix`         | `PREFIX`         | only keys starting with it                                     |
| `older_than`     | `OLDER_THAN`     | only objects last modified before this ISO 8601 moment         |
| `older_than_days`| `OLDER_THAN_DAYS`| only objects last modified more than N days ago (N may be 0.5) |
| `dry_run`        | `DRY_RUN`        | list what would go, delete nothing (default false)             |

A rule needs a prefix or an age (an empty rule would empty the bucket), and at most one age.
Listing is paginated; deletion uses DeleteObjects, 1,000 keys per call; keys S3 refuses to
delete are reported with S3's error code (per key, or for every key of a batch S3 refused
whole), the others still go. In a versioned bucket this
deletes the current versions (S3 adds delete markers), as the console's delete does.
"""

from __future__ import annotations

import functools
import logging
import os
from datetime import UTC, datetime, timedelta

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

BATCH = 1000  # DeleteObjects' limit per request
LISTED_KEYS = 1000  # keys named in the result; the counts cover every key


@functools.cache
def _s3():
    return boto3.client("s3")


def _setting(event: dict, name: str) -> str | None:
    value = event.get(name)
    if value is None:
        value = os.environ.get(name.upper())
    return None if value in (None, "") else value


def _flag(value) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"dry_run must be true or false, not {value!r}")


def cutoff(event: dict, now: datetime | None = None) -> datetime | None:
    """The moment before which objects count as old, from older_than or older_than_days."""
    older_than, days = _setting(event, "older_than"), _setting(event, "older_than_days")
    if older_than is not None and days is not None:
        raise ValueError("give older_than (a moment) or older_than_days, not both")
    if older_than is not None:
        moment = older_than if isinstance(older_than, datetime) else datetime.fromisoformat(str(older_than))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if days is not None:
        if float(days) < 0:
            raise ValueError(f"older_than_days must be 0 or more, not {days}")
        return (now or datetime.now(UTC)) - timedelta(days=float(days))
    return None


def handler(event, context):
    event = event or {}
    bucket = _setting(event, "bucket")
    if not bucket:
        raise ValueError("no bucket: pass 'bucket' in the event or set the BUCKET variable")
    prefix = _setting(event, "prefix") or ""
    before = cutoff(event)
    dry_run = _flag(_setting(event, "dry_run"))
    if not prefix and before is None:
        raise ValueError(f"refusing to delete every object in {bucket}: give a prefix and/or an age")

    listed, matched = 0, []
    for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            listed += 1
            if before is None or obj["LastModified"] < before:
                matched.append(obj["Key"])

    errors = []
    if not dry_run:
        for start in range(0, len(matched), BATCH):
            batch = matched[start : start + BATCH]
            try:
                response = _s3().delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True}
                )
            except ClientError as failure:
                # The whole request was refused (throttled, denied): every key of the batch failed, the rest go on.
                code, message = failure.response["Error"]["Code"], failure.response["Error"].get("Message", "")
                response = {"Errors": [{"Key": key, "Code": code, "Message": message} for key in batch]}
            for error in response.get("Errors", []):
                logger.error(
                    "Could not delete s3://%s/%s: %s %s", bucket, error["Key"], error["Code"], error["Message"]
                )
                errors.append({"key": error["Key"], "code": error["Code"], "message": error["Message"]})
    deleted = 0 if dry_run else len(matched) - len(errors)
    logger.info(
        "%s s3://%s/%s older than %s: %d listed, %d matched, %d deleted, %d kept, %d errors",
        "Dry run on" if dry_run else "Deleted from",
        bucket,
        prefix,
        before.isoformat() if before else "any age",
        listed,
        len(matched),
        deleted,
        listed - len(matched),
        len(errors),
    )
    return {
        "bucket": bucket,
        "prefix": prefix,
        "older_than": before.isoformat() if before else None,
        "dry_run": dry_run,
        "listed": listed,
        "matched": len(matched),
        "deleted": deleted,
        "kept": listed - len(matched),
        "errors": errors,
        "keys": matched[:LISTED_KEYS],
        "keys_truncated": len(matched) > LISTED_KEYS,
    }

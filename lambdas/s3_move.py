"""Lambda lab 3: move every object created in the source bucket to TARGET_BUCKET.

Invoked by the source bucket's ObjectCreated notifications. For each record: copy the object
to TARGET_BUCKET under the same key (event keys arrive URL-encoded, e.g. spaces as '+'),
keeping its user metadata, content type and other content headers, and storage class; then
delete it from the source (in a versioned bucket, the very version the event names, so no
delete marker or old version stays behind).

Safe to retry (S3 invokes asynchronously, and Lambda retries a failed invocation twice): an
object already gone from the source but present in the target is logged as already moved, not
an error. Folder placeholders (keys ending in '/') are skipped. Records that fail are logged
and, after the others were handled, fail the invocation so Lambda retries it.
"""

from __future__ import annotations

import functools
import logging
import os
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

# Content headers S3 keeps with an object; a copy made with MetadataDirective=REPLACE sets them again.
CONTENT_HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires")
NOT_FOUND = ("404", "NoSuchKey", "NoSuchVersion")


@functools.cache
def _s3():
    # One client per warm execution environment (AWS_ENDPOINT_URL, when set, points it elsewhere).
    return boto3.client("s3")


def _head(bucket: str, key: str, version_id: str | None = None) -> dict | None:
    try:
        return _s3().head_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
    except ClientError as error:
        if error.response["Error"]["Code"] in NOT_FOUND:
            return None
        raise


def move(bucket: str, key: str, version_id: str | None, target: str) -> str:
    """Move one object; returns what happened: moved, already-moved or missing."""
    source = _head(bucket, key, version_id)
    if source is None:
        if _head(target, key) is not None:
            logger.info("s3://%s/%s is already in s3://%s (moved by an earlier attempt)", bucket, key, target)
            return "already-moved"
        logger.warning("s3://%s/%s is neither in the source nor in s3://%s; nothing to move", bucket, key, target)
        return "missing"
    copy_source = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    extra = {
        "MetadataDirective": "REPLACE",
        "Metadata": source.get("Metadata", {}),
        "StorageClass": source.get("StorageClass", "STANDARD"),
        **{header: source[header] for header in CONTENT_HEADERS if header in source},
    }
    if not version_id:
        # Copy exactly the object looked at, not one written in between (that one has its own event).
        extra["CopySourceIfMatch"] = source["ETag"]
    # The managed copy switches to a multipart copy above 5 GB, where CopyObject stops.
    _s3().copy(copy_source, target, key, ExtraArgs=extra)
    _s3().delete_object(Bucket=bucket, Key=key, **({"VersionId": version_id} if version_id else {}))
    logger.info(
        "Moved s3://%s/%s%s to s3://%s/%s (%d bytes, %s)",
        bucket,
        key,
        f" (version {version_id})" if version_id else "",
        target,
        key,
        source["ContentLength"],
        extra["StorageClass"],
    )
    return "moved"


def handler(event, context):
    target = os.environ.get("TARGET_BUCKET")
    if not target:
        raise ValueError("environment variable TARGET_BUCKET is not set; set it to the bucket to move objects to")
    outcome: dict[str, list[str]] = {"moved": [], "already-moved": [], "missing": [], "skipped": [], "failed": []}
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        if not record.get("eventName", "").startswith("ObjectCreated:"):
            logger.info("Skipping %s event for s3://%s/%s", record.get("eventName"), bucket, key)
            outcome["skipped"].append(key)
            continue
        if key.endswith("/"):
            logger.info("Skipping folder placeholder s3://%s/%s", bucket, key)
            outcome["skipped"].append(key)
            continue
        if bucket == target:
            raise ValueError(f"source and TARGET_BUCKET are both {target}; moving would loop")
        try:
            outcome[move(bucket, key, record["s3"]["object"].get("versionId"), target)].append(key)
        except ClientError as error:
            logger.error("Could not move s3://%s/%s to s3://%s: %s", bucket, key, target, error)
            outcome["failed"].append(key)
    if outcome["failed"]:
        raise RuntimeError(f"could not move {len(outcome['failed'])} object(s): {outcome['failed']}; see the log")
    return outcome

"""Server access logging: requests to a bucket with logging on become log records in its target bucket.

moto 5.2.5 stores PutBucketLogging (checking the target's permissions only loosely) and writes one
placeholder object per request whose fields are invented. Here each S3 request that moto answers for a
source bucket with logging enabled becomes records in AWS's format (access_log_records.py), buffered and
delivered in batches as log objects in the target bucket (access_log_delivery.py).

This module holds the moto patches: PutBucketLogging checks permissions as AWS does (the target's
bucket policy or the legacy LogDelivery ACL) and GetBucketLogging returns TargetObjectKeyFormat;
S3Response.bucket_response/key_response, the two entry points every S3 request goes through, are
wrapped around everything else: IAM enforcement (local_aws/iam/s3.py) runs inside them, so requests
it denies are logged with 403 AccessDenied, as on AWS. moto's reset drops the records not delivered
yet, and moto's own placeholder logs are gone.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from typing import Any

from moto.s3.exceptions import CrossLocationLoggingProhibited, InvalidTargetBucketForLogging
from moto.s3.models import FakeBucket, S3Backend
from moto.s3.responses import S3Response

from local_aws import clock, workers
from local_aws.patching import Patches
from local_aws.s3.access_log_delivery import (
    Flusher,
    delivery_allowed,
    destination_for,
    discard_pending,
    flush,
    partition_date_source,
    pending,
)
from local_aws.s3.access_log_records import bucket_named, copy_source, record_request, requested_bucket

log = logging.getLogger(__name__)

# After the executors that decide S3's answers (as the registry's order always had it): a record describes
# the request as they answered it. Today the call structure ensures that too (IAM enforcement wraps
# S3Response._bucket_response/_key_response, which bucket_response/key_response call; encryption wraps the
# backend and S3Response.get_object), so `after` matters should one of them wrap these entry points one day.
patches = Patches(__name__, after=("local_aws.s3.encryption", "local_aws.iam.s3"))


def _set_logging(self: FakeBucket, logging_config: dict[str, Any] | None, bucket_backend: S3Backend) -> None:
    if not logging_config:
        self.logging = {}
        return
    target = bucket_backend.buckets.get(logging_config["TargetBucket"])
    if target is None:
        raise InvalidTargetBucketForLogging("The target bucket for logging does not exist.")
    if target.region_name != self.region_name:
        raise CrossLocationLoggingProhibited()
    if not delivery_allowed(target, self, destination_for(self, logging_config)):
        raise InvalidTargetBucketForLogging(
            "You must either provide the necessary permissions to the logging service using a bucket "
            "policy or give the log-delivery group WRITE and READ_ACP permissions to the target bucket"
        )
    self.logging = logging_config


patches.replace(FakeBucket, "set_logging", _set_logging)


@patches.wrap(S3Response, "get_bucket_logging")
def _get_bucket_logging(original, self: S3Response):
    """moto drops TargetObjectKeyFormat from GetBucketLogging; put it back in the XML."""
    status, headers, body = original(self)
    logging_config = self.backend.get_bucket_logging(self.bucket_name) or {}
    partitioned_by = partition_date_source(logging_config)
    if logging_config.get("TargetObjectKeyFormat") is not None:
        if partitioned_by:
            inner = (
                f"<PartitionedPrefix><PartitionDateSource>{partitioned_by}</PartitionDateSource></PartitionedPrefix>"
            )
        else:
            inner = "<SimplePrefix></SimplePrefix>"
        text = body.decode() if isinstance(body, bytes) else body
        body = text.replace(
            "</LoggingEnabled>", f"<TargetObjectKeyFormat>{inner}</TargetObjectKeyFormat></LoggingEnabled>"
        )
        headers.pop("content-length", None)
    return status, headers, body


@patches.wrap(S3Response, "bucket_response")
@patches.wrap(S3Response, "key_response")
def _logged(original, self: S3Response, request: Any, full_url: str, headers: Any):
    if getattr(self, "_access_logged", False):
        return original(self, request, full_url, headers)
    self._access_logged = True
    # The logging configuration at request time decides (DeleteBucket removes it with the bucket).
    # Times follow local AWS's clock (local_aws/clock.py), like the timestamps moto gives objects.
    bucket = requested_bucket(request, full_url)
    logging_config = dict(bucket.logging) if bucket is not None and bucket.logging else None
    # A copy also reads its source: AWS logs that in the source bucket's log (REST.COPY.OBJECT_GET).
    source = copy_source(request.headers) if request.method == "PUT" else None
    source_bucket = bucket_named(source[0]) if source else None
    copy_from = (
        (source_bucket, source[1], dict(source_bucket.logging)) if source_bucket and source_bucket.logging else None
    )
    received, started = clock.now(), time.monotonic()
    result = original(self, request, full_url, headers)
    # S3 answers every request with these two IDs; the log record names the same ones.
    response_headers = result[1]
    response_headers.setdefault("x-amz-request-id", os.urandom(8).hex().upper())
    response_headers.setdefault("x-amz-id-2", base64.b64encode(os.urandom(48)).decode())
    try:
        record_request(self, request, full_url, bucket, logging_config, copy_from, result, received, started)
    except Exception:  # a log record must never break the request it describes
        log.exception("S3 access log: no record for %s %s", request.method, full_url)
    return result


@patches.wrap(S3Backend, "reset")
def _reset(original, self: S3Backend) -> None:
    discard_pending()  # moto's reset forgets the buckets these records were for
    original(self)


# moto's own per-request placeholder logs (invented fields, one object per request) are replaced by ours.
patches.replace(S3Backend, "log_incoming_request", lambda self, request, bucket_name: None)


def install() -> None:
    """Deliver what waited while no server ran (it is delivered within the flush interval)."""
    if pending():
        workers.get(Flusher)


def shutdown() -> None:
    """Stop the flusher and deliver what it had not delivered yet."""
    workers.stop(Flusher)
    try:
        flush()
    except Exception:
        log.exception("S3 access log delivery at shutdown failed")

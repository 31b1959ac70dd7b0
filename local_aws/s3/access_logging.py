"""Server access logging: requests to a bucket with logging on become log records in its target bucket.

moto 5.2.5 stores PutBucketLogging (checking the target's permissions only loosely) and writes one
placeholder object per request whose fields are invented. Here each S3 request that moto answers for a
source bucket with logging enabled becomes one record in AWS's format (bucket owner, bucket, time,
remote IP, requester, request ID, operation, key, request-URI, status, error code, bytes sent, object
size, total and turn-around time, referer, user agent, version ID, host ID, signature version, cipher
suite, authentication type, host header, TLS version, access point ARN, aclRequired), plus the extra
records AWS writes: REST.COPY.OBJECT_GET in a copy source's log, BATCH.DELETE.OBJECT per key that
DeleteObjects removed. Records are buffered and delivered in batches, as AWS does (best effort,
within minutes there; every `Settings.s3_access_log_flush_seconds` here, or at once with `flush()`),
as objects named
`TargetPrefix + YYYY-mm-DD-HH-MM-SS-<16 hex>`, or with the PartitionedPrefix layout
`TargetPrefix + account/region/bucket/YYYY/mm/DD/YYYY-mm-DD-HH-MM-SS-<16 hex>` when
TargetObjectKeyFormat asks for it.

Permissions as on AWS: PutBucketLogging fails with InvalidTargetBucketForLogging unless the target
bucket's policy lets the service principal logging.s3.amazonaws.com s3:PutObject under the prefix
(the recommended way) or the legacy LogDelivery group has WRITE and READ_ACP on the target's ACL;
delivery checks again and drops the batch (with a warning) when the permission is gone.

Log objects are written to moto's backend directly, never through HTTP, so delivering logs creates no
log records. This module wraps S3Response.bucket_response/key_response, the two entry points every S3
request goes through, around everything else: IAM enforcement (local_aws/iam/s3.py) runs inside them,
so requests it denies are logged with 403 AccessDenied, as on AWS.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from moto.iam.access_control import CreateAccessKeyFailure, create_access_key
from moto.s3.exceptions import CrossLocationLoggingProhibited, InvalidTargetBucketForLogging
from moto.s3.models import OWNER, FakeBucket, S3Backend, s3_backends
from moto.s3.responses import S3Response
from moto.s3.utils import bucket_name_from_url
from moto.s3bucket_path.utils import bucket_name_from_url as path_bucket_name_from_url

from local_aws import clock, config, workers
from local_aws.iam.policy import SERVICE, Principal, Request, decide, parse
from local_aws.patching import Patches

log = logging.getLogger(__name__)

LOGGING_SERVICE = "logging.s3.amazonaws.com"

# Subresource query parameter -> the name AWS logs in REST.<METHOD>.<NAME>
BUCKET_SUBRESOURCES = {
    "acl": "ACL",
    "policy": "BUCKETPOLICY",
    "policyStatus": "BUCKETPOLICYSTATUS",
    "logging": "LOGGING_STATUS",
    "versioning": "VERSIONING",
    "versions": "BUCKETVERSIONS",
    "encryption": "ENCRYPTION",
    "lifecycle": "LIFECYCLE",
    "cors": "CORS",
    "tagging": "TAGGING",
    "location": "LOCATION",
    "uploads": "UPLOADS",
    "notification": "NOTIFICATION",
    "website": "WEBSITE",
    "replication": "REPLICATION",
    "accelerate": "ACCELERATE",
    "requestPayment": "REQUEST_PAYMENT",
    "publicAccessBlock": "PUBLIC_ACCESS_BLOCK",
    "ownershipControls": "OWNERSHIP_CONTROLS",
    "object-lock": "OBJECT_LOCK_CONFIGURATION",
    "inventory": "INVENTORY",
    "analytics": "ANALYTICS",
    "metrics": "METRICS",
    "intelligent-tiering": "INTELLIGENT_TIERING",
    "delete": "MULTI_OBJECT_DELETE",
}
OBJECT_SUBRESOURCES = {
    "acl": "ACL",
    "tagging": "OBJECT_TAGGING",
    "retention": "OBJECT_RETENTION",
    "legal-hold": "OBJECT_LEGAL_HOLD",
    "attributes": "OBJECT_ATTRIBUTES",
    "restore": "OBJECT_RESTORE",
    "uploads": "UPLOADS",
}

# After the executors that decide S3's answers (as the registry's order always had it): a record describes
# the request as they answered it. Today the call structure ensures that too (IAM enforcement wraps
# S3Response._bucket_response/_key_response, which bucket_response/key_response call; encryption wraps the
# backend and S3Response.get_object), so `after` matters should one of them wrap these entry points one day.
patches = Patches(__name__, after=("local_aws.s3.encryption", "local_aws.iam.s3"))


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


def _key_format(logging_config: dict[str, Any]) -> str | None:
    key_format = logging_config.get("TargetObjectKeyFormat") or {}
    if "PartitionedPrefix" in key_format:
        return (key_format["PartitionedPrefix"] or {}).get("PartitionDateSource") or "DeliveryTime"
    return None


def _destination(source: FakeBucket, logging_config: dict[str, Any]) -> Destination:
    return Destination(
        account_id=source.account_id,
        partition=source.partition,
        region=source.region_name,
        source_bucket=source.name,
        target_bucket=logging_config["TargetBucket"],
        target_prefix=logging_config.get("TargetPrefix") or "",
        partitioned_by=_key_format(logging_config),
    )


def _set_logging(self: FakeBucket, logging_config: dict[str, Any] | None, bucket_backend: S3Backend) -> None:
    if not logging_config:
        self.logging = {}
        return
    target = bucket_backend.buckets.get(logging_config["TargetBucket"])
    if target is None:
        raise InvalidTargetBucketForLogging("The target bucket for logging does not exist.")
    if target.region_name != self.region_name:
        raise CrossLocationLoggingProhibited()
    if not delivery_allowed(target, self, _destination(self, logging_config)):
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
    partitioned_by = _key_format(logging_config)
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


# --- records -----------------------------------------------------------------------------------------


def operation(method: str, key: str, query: dict[str, list[str]], headers: Any) -> str:
    """AWS's operation name: REST.<HTTP method>.<resource type>."""
    if method == "OPTIONS":
        return "REST.OPTIONS.PREFLIGHT"
    if not key:
        for name, logged in BUCKET_SUBRESOURCES.items():
            if name in query:
                return f"REST.{method}.{logged}"
        return f"REST.{method}.BUCKET"
    if "uploadId" in query:
        if method == "PUT":
            return "REST.COPY.PART" if "x-amz-copy-source" in headers else "REST.PUT.PART"
        return f"REST.{method}.UPLOAD"
    for name, logged in OBJECT_SUBRESOURCES.items():
        if name in query:
            return f"REST.{method}.{logged}"
    if method == "PUT" and "x-amz-copy-source" in headers:
        return "REST.COPY.OBJECT"
    return f"REST.{method}.OBJECT"


def _requester(response: S3Response, headers: Any, query: dict[str, list[str]]) -> str:
    authorization = headers.get("Authorization", "")
    match = re.search(r"Credential=([^/,\s]+)", authorization) or re.match(r"AWS ([^:\s]+):", authorization)
    access_key = match.group(1) if match else None
    if access_key is None:
        credential = (query.get("X-Amz-Credential") or query.get("AWSAccessKeyId") or [""])[0]
        access_key = credential.split("/")[0] or None
    if access_key is None:
        return "-"  # anonymous
    account_id = response.current_account
    try:
        return create_access_key(account_id, response.partition, access_key, dict(headers)).arn
    except CreateAccessKeyFailure:
        # Keys that are not IAM users' or assumed roles' act as the account (moto's default credentials).
        return f"arn:{response.partition}:iam::{account_id}:root"


def _signature(headers: Any, query: dict[str, list[str]]) -> tuple[str, str]:
    authorization = headers.get("Authorization", "")
    if authorization.startswith("AWS4-"):
        return "SigV4", "AuthHeader"
    if authorization.startswith("AWS "):
        return "SigV2", "AuthHeader"
    if "X-Amz-Algorithm" in query:
        return "SigV4", "QueryString"
    if "Signature" in query:
        return "SigV2", "QueryString"
    return "-", "-"


def _quoted(value: str | None) -> str:
    return f'"{value}"' if value else '"-"'


def _error_code(status: int, body: bytes | str) -> str:
    if status < 400:
        return "-"
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
    match = re.search(r"<Code>([^<]+)</Code>", text)
    return match.group(1) if match else ("AccessDenied" if status == 403 else "-")


def _object_size(bucket: FakeBucket | None, key: str, method: str, response_headers: dict) -> str:
    if not key:
        return "-"
    if method in ("GET", "HEAD") and "content-range" in {h.lower() for h in response_headers}:
        total = next(v for h, v in response_headers.items() if h.lower() == "content-range").rsplit("/", 1)[-1]
        return total if total.isdigit() else "-"
    stored = bucket.keys.get(key) if bucket is not None else None
    size = getattr(stored, "size", None)
    return str(size) if size is not None else "-"


# Positions of the fields that other records of the same request change
_POSITIONS = {"bucket": 1, "operation": 6, "key": 7, "status": 9, "bytes_sent": 11, "object_size": 12}


def _record(
    response: S3Response,
    request: Any,
    full_url: str,
    bucket: FakeBucket,
    result: tuple[int, dict, Any],
    received: datetime,
    seconds: float,
) -> list[str]:
    status, response_headers, body = result
    url = urlsplit(full_url)
    query = parse_qs(url.query, keep_blank_values=True)
    headers = request.headers
    if S3Response.subdomain_based_buckets(request):
        key = unquote(url.path).lstrip("/")
    else:
        key = "/".join(unquote(url.path).split("/")[2:])
    method = request.method
    signature, auth_type = _signature(headers, query)
    body_bytes = len(body) if body and method != "HEAD" else 0
    milliseconds = max(1, round(seconds * 1000))
    protocol = request.environ.get("SERVER_PROTOCOL", "HTTP/1.1") if hasattr(request, "environ") else "HTTP/1.1"
    request_uri = f"{method} {url.path}{'?' + url.query if url.query else ''} {protocol}"
    fields = [
        OWNER,
        bucket.name,
        received.strftime("[%d/%b/%Y:%H:%M:%S +0000]"),
        getattr(request, "remote_addr", None) or "-",
        _requester(response, headers, query),
        response_headers["x-amz-request-id"],
        operation(method, key, query, headers),
        quote(key, safe="/") if key else "-",
        _quoted(request_uri),
        str(status),
        _error_code(status, body),
        str(body_bytes) if body_bytes else "-",
        _object_size(bucket, key, method, response_headers),
        str(milliseconds),
        str(milliseconds),  # turn-around: moto's handling time is all the server time there is
        _quoted(headers.get("Referer")),
        _quoted(headers.get("User-Agent")),
        (query.get("versionId") or ["-"])[0],
        response_headers["x-amz-id-2"],
        signature,
        "-",  # cipher suite: the TLS layer (local_aws/tls.py) does not pass it to the request
        auth_type,
        headers.get("Host", "-"),
        "-",  # TLS version: likewise
        "-",  # access point ARN
        "-",  # aclRequired: no request here is authorized by an ACL
    ]
    return fields


def _variant(fields: list[str], **changes: str) -> list[str]:
    """Another record of the same request (same time, requester, request ID, URI)."""
    variant = list(fields)
    for name, value in changes.items():
        variant[_POSITIONS[name]] = value
    return variant


def _copy_source(headers: Any) -> tuple[str, str] | None:
    """(bucket, key) of a CopyObject / UploadPartCopy source header, e.g. /bucket/a%20b.csv?versionId=v."""
    source = headers.get("x-amz-copy-source")
    if not source:
        return None
    bucket_name, _, key = unquote(source.lstrip("/").split("?", 1)[0]).partition("/")
    return bucket_name, key


def _deleted_keys(request_body: bytes | str | None, response_body: Any) -> list[str]:
    """Keys a DeleteObjects request named that the response does not report as errors."""
    text = request_body.decode(errors="replace") if isinstance(request_body, bytes) else request_body or ""
    answer = response_body.decode(errors="replace") if isinstance(response_body, bytes) else str(response_body)
    failed = {html.unescape(k) for k in re.findall(r"<Error>\s*<Key>(.*?)</Key>", answer, re.S)}
    return [key for key in map(html.unescape, re.findall(r"<Key>(.*?)</Key>", text, re.S)) if key not in failed]


def _source_bucket(request: Any, full_url: str) -> FakeBucket | None:
    if S3Response.subdomain_based_buckets(request):
        return _bucket_named(bucket_name_from_url(full_url))
    return _bucket_named(path_bucket_name_from_url(full_url))


def _bucket_named(name: str | None) -> FakeBucket | None:
    if not name or name not in s3_backends.bucket_accounts:
        return None
    partition, account_id = s3_backends.bucket_accounts[name]
    return s3_backends[account_id][partition].buckets.get(name)


def _log_request(
    response: S3Response,
    request: Any,
    full_url: str,
    bucket: FakeBucket | None,
    logging_config: dict[str, Any] | None,
    copy_from: tuple[FakeBucket, str, dict[str, Any]] | None,
    result: tuple[int, dict, Any],
    received: datetime,
    started: float,
) -> None:
    if bucket is None or not (logging_config or copy_from):
        return
    fields = _record(response, request, full_url, bucket, result, received, time.monotonic() - started)
    if logging_config:
        destination = _destination(bucket, logging_config)
        _add(destination, Record(received, " ".join(fields)))
        if fields[_POSITIONS["operation"]] == "REST.POST.MULTI_OBJECT_DELETE" and result[0] == 200:
            # AWS adds one record per deleted key.
            for key in _deleted_keys(response.body, result[2]):
                batch = _variant(
                    fields, operation="BATCH.DELETE.OBJECT", key=quote(key, safe="/"), status="204", bytes_sent="-"
                )
                _add(destination, Record(received, " ".join(batch)))
    if copy_from:
        source_bucket, source_key, source_config = copy_from
        read = _variant(
            fields,
            bucket=source_bucket.name,
            operation=fields[_POSITIONS["operation"]]
            .replace("REST.COPY.OBJECT", "REST.COPY.OBJECT_GET")
            .replace("REST.COPY.PART", "REST.COPY.PART_GET"),
            key=quote(source_key, safe="/"),
            bytes_sent="-",
            object_size=_object_size(source_bucket, source_key, "GET", {}),
        )
        _add(_destination(source_bucket, source_config), Record(received, " ".join(read)))


@patches.wrap(S3Response, "bucket_response")
@patches.wrap(S3Response, "key_response")
def _logged(original, self: S3Response, request: Any, full_url: str, headers: Any):
    if getattr(self, "_access_logged", False):
        return original(self, request, full_url, headers)
    self._access_logged = True
    # The logging configuration at request time decides (DeleteBucket removes it with the bucket).
    # Times follow local AWS's clock (local_aws/clock.py), like the timestamps moto gives objects.
    bucket = _source_bucket(request, full_url)
    logging_config = dict(bucket.logging) if bucket is not None and bucket.logging else None
    # A copy also reads its source: AWS logs that in the source bucket's log (REST.COPY.OBJECT_GET).
    source = _copy_source(request.headers) if request.method == "PUT" else None
    source_bucket = _bucket_named(source[0]) if source else None
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
        _log_request(self, request, full_url, bucket, logging_config, copy_from, result, received, started)
    except Exception:  # a log record must never break the request it describes
        log.exception("S3 access log: no record for %s %s", request.method, full_url)
    return result


# --- delivery ----------------------------------------------------------------------------------------


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


def _add(destination: Destination, record: Record) -> None:
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


@patches.wrap(S3Backend, "reset")
def _reset(original, self: S3Backend) -> None:
    with _lock:
        _pending.clear()  # moto's reset forgets the buckets these records were for
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

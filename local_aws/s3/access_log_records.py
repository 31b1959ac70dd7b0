"""S3 server access log records in AWS's format, built from a request and moto's answer to it.

One record per request to a source bucket with logging enabled: bucket owner, bucket, time, remote
IP, requester, request ID, operation, key, request-URI, status, error code, bytes sent, object size,
total and turn-around time, referer, user agent, version ID, host ID, signature version, cipher
suite, authentication type, host header, TLS version, access point ARN, aclRequired; plus the extra
records AWS writes: REST.COPY.OBJECT_GET in a copy source's log, BATCH.DELETE.OBJECT per key that
DeleteObjects removed. `record_request` buffers them for delivery (access_log_delivery.py); the moto
patch that calls it for every S3 request is in access_logging.py.
"""

from __future__ import annotations

import html
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from moto.iam.access_control import CreateAccessKeyFailure, create_access_key
from moto.s3.models import OWNER, FakeBucket, s3_backends
from moto.s3.responses import S3Response
from moto.s3.utils import bucket_name_from_url
from moto.s3bucket_path.utils import bucket_name_from_url as path_bucket_name_from_url

from local_aws.s3.access_log_delivery import Record, deliver_later, destination_for

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


def copy_source(headers: Any) -> tuple[str, str] | None:
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


def requested_bucket(request: Any, full_url: str) -> FakeBucket | None:
    """The bucket a request names (virtual-hosted or path style), if it exists."""
    if S3Response.subdomain_based_buckets(request):
        return bucket_named(bucket_name_from_url(full_url))
    return bucket_named(path_bucket_name_from_url(full_url))


def bucket_named(name: str | None) -> FakeBucket | None:
    if not name or name not in s3_backends.bucket_accounts:
        return None
    partition, account_id = s3_backends.bucket_accounts[name]
    return s3_backends[account_id][partition].buckets.get(name)


def record_request(
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
    """Buffer the records of one request: in its bucket's log, and a copy's read in its source's log."""
    if bucket is None or not (logging_config or copy_from):
        return
    fields = _record(response, request, full_url, bucket, result, received, time.monotonic() - started)
    if logging_config:
        destination = destination_for(bucket, logging_config)
        deliver_later(destination, Record(received, " ".join(fields)))
        if fields[_POSITIONS["operation"]] == "REST.POST.MULTI_OBJECT_DELETE" and result[0] == 200:
            # AWS adds one record per deleted key.
            for key in _deleted_keys(response.body, result[2]):
                batch = _variant(
                    fields, operation="BATCH.DELETE.OBJECT", key=quote(key, safe="/"), status="204", bytes_sent="-"
                )
                deliver_later(destination, Record(received, " ".join(batch)))
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
        deliver_later(destination_for(source_bucket, source_config), Record(received, " ".join(read)))

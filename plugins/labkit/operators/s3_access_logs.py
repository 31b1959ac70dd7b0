"""Read S3 server access log records (the format AWS documents, fields in order, space separated).

https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html: `[time]` is bracketed, request-URI,
referer and user agent are quoted, a missing value is `-`. AWS may append fields in future; they are kept
under `extra`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

FIELDS = (
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turn_around_time",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
)
_TOKEN = re.compile(r'\[[^\]]*\]|"(?:[^"\\]|\\.)*"|\S+')


def parse_record(line: str) -> dict[str, str]:
    """One log line -> {field: value}; brackets and quotes are stripped, '-' stays '-'."""
    tokens = [t[1:-1] if t[:1] in '["' else t for t in _TOKEN.findall(line)]
    if len(tokens) < 18:  # records before 2017 end after version_id; anything shorter is not a record
        raise ValueError(f"not an S3 server access log record ({len(tokens)} fields): {line[:120]!r}")
    record = dict(zip(FIELDS, tokens, strict=False))
    if len(tokens) > len(FIELDS):
        record["extra"] = " ".join(tokens[len(FIELDS) :])
    return record


def parse_log_object(text: str) -> list[dict[str, str]]:
    return [parse_record(line) for line in text.splitlines() if line.strip()]


def operations(records: Iterable[dict[str, str]]) -> Counter:
    """How many records name each operation (REST.GET.OBJECT, ...)."""
    return Counter(record["operation"] for record in records)

"""S3 server access log records: reading AWS's own format, and the operation names local AWS writes."""

from __future__ import annotations

import pytest

from labkit.operators.s3_access_logs import operations, parse_log_object, parse_record
from local_aws.s3.access_log_records import operation

# A record as AWS documents it (LogFormat.html), all 26 fields.
AWS_RECORD = (
    "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 "
    "[06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be "
    '3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" '
    '"S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 '
    "ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 "
    "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes"
)


def test_an_aws_record_parses_field_by_field():
    record = parse_record(AWS_RECORD)
    assert record["bucket"] == "awsexamplebucket1"
    assert record["time"] == "06/Feb/2019:00:00:38 +0000"
    assert record["operation"] == "REST.GET.VERSIONING"
    assert record["request_uri"] == "GET /awsexamplebucket1?versioning HTTP/1.1"
    assert (record["http_status"], record["error_code"], record["bytes_sent"]) == ("200", "-", "113")
    assert (record["total_time"], record["turn_around_time"]) == ("7", "-")
    assert record["user_agent"] == "S3Console/0.4"
    assert (record["signature_version"], record["tls_version"], record["acl_required"]) == ("SigV4", "TLSV1.2", "Yes")
    assert "extra" not in record


def test_older_and_newer_records_parse_and_fragments_do_not():
    older = AWS_RECORD.split(" - s9lz")[0] + " -"  # pre-2017 records end with the version ID
    assert parse_record(older)["version_id"] == "-"
    assert parse_record(AWS_RECORD + " future-field")["extra"] == "future-field"
    with pytest.raises(ValueError, match="not an S3 server access log record"):
        parse_record("owner bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3")
    assert operations(parse_log_object(AWS_RECORD + "\n\n" + AWS_RECORD + "\n")) == {"REST.GET.VERSIONING": 2}


@pytest.mark.parametrize(
    ("method", "key", "query", "headers", "expected"),
    [
        ("GET", "a.csv", {}, {}, "REST.GET.OBJECT"),
        ("HEAD", "a.csv", {"versionId": ["v1"]}, {}, "REST.HEAD.OBJECT"),
        ("PUT", "a.csv", {}, {"x-amz-copy-source": "src/b.csv"}, "REST.COPY.OBJECT"),
        ("PUT", "a.csv", {"uploadId": ["u"], "partNumber": ["1"]}, {}, "REST.PUT.PART"),
        ("PUT", "a.csv", {"uploadId": ["u"], "partNumber": ["1"]}, {"x-amz-copy-source": "s/b"}, "REST.COPY.PART"),
        ("POST", "a.csv", {"uploads": [""]}, {}, "REST.POST.UPLOADS"),
        ("POST", "a.csv", {"uploadId": ["u"]}, {}, "REST.POST.UPLOAD"),
        ("GET", "a.csv", {"tagging": [""]}, {}, "REST.GET.OBJECT_TAGGING"),
        ("PUT", "a.csv", {"acl": [""]}, {}, "REST.PUT.ACL"),
        ("GET", "", {"list-type": ["2"], "prefix": ["raw/"]}, {}, "REST.GET.BUCKET"),
        ("GET", "", {"versions": [""]}, {}, "REST.GET.BUCKETVERSIONS"),
        ("PUT", "", {"logging": [""]}, {}, "REST.PUT.LOGGING_STATUS"),
        ("PUT", "", {"encryption": [""]}, {}, "REST.PUT.ENCRYPTION"),
        ("GET", "", {"policy": [""]}, {}, "REST.GET.BUCKETPOLICY"),
        ("POST", "", {"delete": [""]}, {}, "REST.POST.MULTI_OBJECT_DELETE"),
        ("PUT", "", {}, {}, "REST.PUT.BUCKET"),
        ("OPTIONS", "a.csv", {}, {}, "REST.OPTIONS.PREFLIGHT"),
    ],
)
def test_operation_names(method, key, query, headers, expected):
    assert operation(method, key, query, headers) == expected

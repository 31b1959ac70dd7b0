"""Firehose delivery streams buffer and deliver to S3 as AWS does (local_aws/firehose/), through boto3.

Size- and interval-triggered delivery, GZIP, prefix expressions and AWS's object names, JSON to Parquet with a
Glue table's schema and the error output for records that do not convert, KinesisStreamAsSource, the
destination role, PutRecordBatch's limits and partial failures, metrics, and the final deliveries at
DeleteDeliveryStream and at the server's stop.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from local_aws import config
from tests.conftest import REPO_ROOT
from tests.lambda_support import wait_for

ACCOUNT = "123456789012"
BUCKET = "clickstream-archive"
TRUST_FIREHOSE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
HOUR_PREFIX = r"\d{4}/\d{2}/\d{2}/\d{2}/"
SUFFIX = r"-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def fast(monkeypatch):
    """Kinesis sources read every 0.1 s and failed deliveries retried after 0.2 s (AWS: 1 s, unstated)."""
    monkeypatch.setattr(config.settings, "firehose_kinesis_poll_seconds", 0.1)
    monkeypatch.setattr(config.settings, "firehose_retry_seconds", 0.2)


def make_role(iam, name: str, actions: list[str] | None = None, bucket: str = BUCKET) -> str:
    """A role Firehose may assume, allowed `actions` (default: writing the bucket) on the bucket."""
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_FIREHOSE))["Role"]["Arn"]
    statements = [{"Effect": "Allow", "Action": actions or ["s3:PutObject", "s3:GetBucketLocation", "s3:ListBucket"],
                   "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]  # fmt: skip
    iam.put_role_policy(RoleName=name, PolicyName="delivery",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))  # fmt: skip
    return arn


@pytest.fixture
def setup(aws_client, fast):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return {"s3": s3, "firehose": aws_client("firehose"), "role": make_role(aws_client("iam"), "firehose-delivery")}


def destination(role: str, size_mb: int = 5, interval: int = 300, **extra) -> dict:
    return {"RoleARN": role, "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "BufferingHints": {"SizeInMBs": size_mb, "IntervalInSeconds": interval}, **extra}  # fmt: skip


def keys(s3, prefix: str = "", bucket: str = BUCKET) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def body(s3, key: str, bucket: str = BUCKET) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_a_full_buffer_is_delivered_as_one_object_of_the_records_as_sent(setup):
    s3, firehose = setup["s3"], setup["firehose"]
    firehose.create_delivery_stream(
        DeliveryStreamName="clicks",
        ExtendedS3DestinationConfiguration=destination(setup["role"], size_mb=1, interval=900),
    )
    records = [bytes([65 + i]) * 400_000 for i in range(3)] + [b"tail"]  # 1 MiB is reached by the third record
    answer = firehose.put_record_batch(DeliveryStreamName="clicks", Records=[{"Data": r} for r in records])
    assert answer["FailedPutCount"] == 0 and len(answer["RequestResponses"]) == 4
    assert all(r["RecordId"] for r in answer["RequestResponses"])
    (key,) = wait_for(lambda: keys(s3), limit=10)
    assert re.fullmatch(HOUR_PREFIX + "clicks-1" + SUFFIX, key), key
    assert body(s3, key) == b"".join(records[:3])  # concatenated exactly: no separator added
    time.sleep(0.5)
    assert keys(s3) == [key]  # "tail" waits for the next buffer (900 s)
    hour = datetime.now(UTC).strftime("%Y/%m/%d/")
    assert key.startswith(hour) or key.startswith((datetime.now(UTC) - timedelta(hours=1)).strftime("%Y/%m/%d/"))


def test_the_interval_delivers_what_is_buffered_gzip_compressed(setup):
    s3, firehose = setup["s3"], setup["firehose"]
    firehose.create_delivery_stream(
        DeliveryStreamName="impressions",
        ExtendedS3DestinationConfiguration=destination(
            setup["role"], size_mb=64, interval=1, CompressionFormat="GZIP", Prefix="raw/"
        ),  # fmt: skip
    )
    sent = [json.dumps({"browseraction": "Impression", "n": i}).encode() + b"\n" for i in range(20)]
    started = time.monotonic()
    firehose.put_record_batch(DeliveryStreamName="impressions", Records=[{"Data": r} for r in sent[:10]])
    firehose.put_record(DeliveryStreamName="impressions", Record={"Data": b"".join(sent[10:])})
    assert keys(s3) == []  # nothing before the interval
    (key,) = wait_for(lambda: keys(s3), limit=10)
    assert time.monotonic() - started >= 0.9
    assert re.fullmatch("raw/" + HOUR_PREFIX + "impressions-1" + SUFFIX + r"\.gz", key), key
    assert gzip.decompress(body(s3, key)) == b"".join(sent)


def test_prefix_expressions_and_a_custom_file_extension(setup):
    s3, firehose = setup["s3"], setup["firehose"]
    firehose.create_delivery_stream(
        DeliveryStreamName="partitioned",
        S3DestinationConfiguration={
            **destination(setup["role"], size_mb=1, interval=0),
            "Prefix": "events/year=!{timestamp:yyyy}/month=!{timestamp:MM}/!{firehose:random-string}/",
            "ErrorOutputPrefix": "failed/!{firehose:error-output-type}/",
        },  # fmt: skip
    )
    firehose.put_record(DeliveryStreamName="partitioned", Record={"Data": b"one\n"})
    (key,) = wait_for(lambda: keys(s3), limit=10)
    now = datetime.now(UTC)
    assert re.fullmatch(rf"events/year={now:%Y}/month={now:%m}/[0-9a-f-]{{11}}/partitioned-1{SUFFIX}", key), key
    assert body(s3, key) == b"one\n"

    with pytest.raises(ClientError) as refused:
        firehose.create_delivery_stream(
            DeliveryStreamName="no-error-prefix",
            ExtendedS3DestinationConfiguration={**destination(setup["role"]), "Prefix": "p/!{timestamp:yyyy}/"},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidArgumentException"
    assert "ErrorOutputPrefix cannot be null" in refused.value.response["Error"]["Message"]

    firehose.create_delivery_stream(
        DeliveryStreamName="jsonl",
        ExtendedS3DestinationConfiguration=destination(
            setup["role"], size_mb=1, interval=0, Prefix="jsonl/", CompressionFormat="GZIP", FileExtension=".jsonl.gz"
        ),  # fmt: skip
    )
    firehose.put_record(DeliveryStreamName="jsonl", Record={"Data": b'{"a":1}\n'})
    (key,) = wait_for(lambda: keys(s3, "jsonl/"), limit=10)
    assert key.endswith(".jsonl.gz") and gzip.decompress(body(s3, key)) == b'{"a":1}\n'


COLUMNS = [
    {"Name": "browseraction", "Type": "string"},
    {"Name": "site", "Type": "string"},
    {"Name": "clicks", "Type": "int"},
    {"Name": "event_time", "Type": "timestamp"},
]


def conversion_stream(aws_client, setup, name: str = "to-parquet") -> None:
    glue = aws_client("glue")
    glue.create_database(DatabaseInput={"Name": "clickstream"})
    glue.create_table(DatabaseName="clickstream", TableInput={
        "Name": "events", "StorageDescriptor": {"Columns": COLUMNS, "Location": f"s3://{BUCKET}/parquet/"},
        "PartitionKeys": [{"Name": "dt", "Type": "string"}]})  # fmt: skip
    setup["firehose"].create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration=destination(
            setup["role"], size_mb=64, interval=1,
            Prefix="parquet/dt=!{timestamp:yyyy-MM-dd}/",
            ErrorOutputPrefix="errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM}/",
            DataFormatConversionConfiguration={
                "SchemaConfiguration": {"RoleARN": setup["role"], "DatabaseName": "clickstream", "TableName": "events"},
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
            },
        ),
    )  # fmt: skip


def test_json_records_become_parquet_with_the_glue_tables_columns(aws_client, setup):
    s3, firehose = setup["s3"], setup["firehose"]
    conversion_stream(aws_client, setup)
    good = [
        b'{"BrowserAction": "Impression", "site": "a.example", "clicks": 0, "event_time": "2024-05-01T12:00:00Z"}',
        b'{"browseraction": "Click", "site": "b.example", "clicks": "1", "extra": true}\n{"browseraction": "Click"}',
    ]
    bad = [b'{"browseraction": "Click", "clicks": ', b'{"clicks": "several"}']
    firehose.put_record_batch(
        DeliveryStreamName="to-parquet", Records=[{"Data": r} for r in [good[0], bad[0], good[1], bad[1]]]
    )
    data_key = wait_for(lambda: keys(s3, "parquet/"), limit=15)[0]
    today = datetime.now(UTC)
    assert re.fullmatch(rf"parquet/dt=\d{{4}}-\d{{2}}-\d{{2}}/to-parquet-1{SUFFIX}\.parquet", data_key), data_key
    table = pq.read_table(io.BytesIO(body(s3, data_key)))
    assert table.column_names == ["browseraction", "site", "clicks", "event_time"]  # the columns, not the partition key
    assert table.to_pylist() == [
        {"browseraction": "Impression", "site": "a.example", "clicks": 0, "event_time": datetime(2024, 5, 1, 12)},
        {"browseraction": "Click", "site": "b.example", "clicks": 1, "event_time": None},
        {"browseraction": "Click", "site": None, "clicks": None, "event_time": None},
    ]
    assert pq.ParquetFile(io.BytesIO(body(s3, data_key))).metadata.row_group(0).column(0).compression == "SNAPPY"

    (error_key,) = wait_for(lambda: keys(s3, "errors/"), limit=10)
    assert re.fullmatch(rf"errors/format-conversion-failed/{today:%Y/%m}/to-parquet-1{SUFFIX}", error_key), error_key
    documents = [json.loads(line) for line in body(s3, error_key).decode().splitlines()]
    assert [base64.b64decode(d["rawData"]) for d in documents] == bad
    assert [d["ErrorCode"] for d in documents] == [
        "DataFormatConversion.ParseError",
        "DataFormatConversion.MalformedData",
    ]
    assert documents[1]["dataCatalogTable"]["databaseName"] == "clickstream"
    assert documents[1]["dataCatalogTable"]["tableName"] == "events"
    assert (
        documents[0]["attemptsMade"] == 1 and documents[0]["arrivalTimestamp"] <= documents[0]["attemptEndingTimestamp"]
    )

    cloudwatch = aws_client("cloudwatch")
    assert wait_for(lambda: metric_sum(cloudwatch, "to-parquet", "FailedConversion.Records") == 2, limit=5)
    assert metric_sum(cloudwatch, "to-parquet", "SucceedConversion.Records") == 2


def test_format_conversion_needs_a_big_buffer_and_no_compression(setup):
    firehose = setup["firehose"]
    conversion = {"SchemaConfiguration": {"RoleARN": setup["role"], "DatabaseName": "d", "TableName": "t"},
                  "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                  "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}}}  # fmt: skip
    for extra, reason in (({"BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60}}, "at least 64"),
                          ({"CompressionFormat": "GZIP"}, "UNCOMPRESSED")):  # fmt: skip
        with pytest.raises(ClientError) as refused:
            firehose.create_delivery_stream(
                DeliveryStreamName="refused",
                ExtendedS3DestinationConfiguration={
                    **destination(setup["role"]),
                    **extra,
                    "DataFormatConversionConfiguration": conversion,
                },  # fmt: skip
            )
        assert refused.value.response["Error"]["Code"] == "InvalidArgumentException"
        assert reason in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as refused:
        firehose.create_delivery_stream(DeliveryStreamName="refused",
                                        ExtendedS3DestinationConfiguration=destination(setup["role"], size_mb=129))  # fmt: skip
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_a_kinesis_stream_as_source_is_read_from_latest_at_creation(aws_client, setup):
    s3, firehose, kinesis = setup["s3"], setup["firehose"], aws_client("kinesis")
    kinesis.create_stream(StreamName="clickstream", ShardCount=2)
    stream_arn = kinesis.describe_stream(StreamName="clickstream")["StreamDescription"]["StreamARN"]
    kinesis.put_record(
        StreamName="clickstream", Data=b"before\n", PartitionKey="p0"
    )  # before the delivery stream: not read
    source_role = make_role(aws_client("iam"), "firehose-source", ["kinesis:*"])
    firehose.create_delivery_stream(
        DeliveryStreamName="archive",
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn, "RoleARN": source_role},
        ExtendedS3DestinationConfiguration=destination(setup["role"], size_mb=1, interval=1, Prefix="kinesis/"),
    )
    description = firehose.describe_delivery_stream(DeliveryStreamName="archive")["DeliveryStreamDescription"]
    assert description["DeliveryStreamType"] == "KinesisStreamAsSource"
    events = [f'{{"n": {i}}}\n'.encode() for i in range(30)]
    kinesis.put_records(
        StreamName="clickstream", Records=[{"Data": e, "PartitionKey": f"k{i}"} for i, e in enumerate(events)]
    )
    delivered = wait_for(lambda: keys(s3, "kinesis/"), limit=15)
    content = b"".join(body(s3, key) for key in delivered)
    assert b"before" not in content
    assert sorted(content.splitlines(keepends=True)) == sorted(events)  # every record once, shards interleaved

    with pytest.raises(ClientError) as refused:
        firehose.put_record(DeliveryStreamName="archive", Record={"Data": b"direct"})
    assert refused.value.response["Error"] == {
        "Code": "InvalidArgumentException",
        "Message": "This operation is not permitted on KinesisStreamAsSource delivery stream type.",
    }
    cloudwatch = aws_client("cloudwatch")
    assert wait_for(lambda: metric_sum(cloudwatch, "archive", "DataReadFromKinesisStream.Records") == 30, limit=5)


def test_a_kinesis_source_needs_its_stream_and_a_role_firehose_can_assume(aws_client, setup):
    kinesis = aws_client("kinesis")
    kinesis.create_stream(StreamName="clickstream", ShardCount=1)
    stream_arn = kinesis.describe_stream(StreamName="clickstream")["StreamDescription"]["StreamARN"]
    missing_role = f"arn:aws:iam::{ACCOUNT}:role/nobody"
    for source, reason in (({"KinesisStreamARN": stream_arn, "RoleARN": missing_role}, "unable to assume role"),
                           ({"KinesisStreamARN": stream_arn.replace("clickstream", "gone"), "RoleARN": setup["role"]},
                            "not found")):  # fmt: skip
        with pytest.raises(ClientError) as refused:
            setup["firehose"].create_delivery_stream(
                DeliveryStreamName="archive", DeliveryStreamType="KinesisStreamAsSource",
                KinesisStreamSourceConfiguration=source, ExtendedS3DestinationConfiguration=destination(setup["role"]),
            )  # fmt: skip
        assert refused.value.response["Error"]["Code"] == "InvalidArgumentException"
        assert reason in refused.value.response["Error"]["Message"]


def test_put_record_batch_limits(setup):
    firehose = setup["firehose"]
    firehose.create_delivery_stream(
        DeliveryStreamName="limits", ExtendedS3DestinationConfiguration=destination(setup["role"])
    )

    def refused(records):
        with pytest.raises(ClientError) as error:
            firehose.put_record_batch(DeliveryStreamName="limits", Records=records)
        return error.value.response["Error"]

    too_many = refused([{"Data": b"x"}] * 501)
    assert too_many["Code"] == "ValidationException"
    assert (
        "at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"
        in too_many["Message"]
    )
    too_big = refused([{"Data": b"x"}, {"Data": b"y" * 1_024_001}])
    assert too_big == {"Code": "ValidationException", "Message": (
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1024001 cap=1024001]' at "
        "'records.2.member.data' failed to satisfy constraint: Member must have length less than or equal to 1024000")}  # fmt: skip
    assert refused([{"Data": b"z" * 1_000_000}] * 5) == {"Code": "InvalidArgumentException",
                                                           "Message": "Records size exceeds 4 MB limit"}  # fmt: skip
    with pytest.raises(ClientError) as error:
        firehose.put_record(DeliveryStreamName="limits", Record={"Data": b"y" * 1_024_001})
    assert "'record.data'" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        firehose.put_record(DeliveryStreamName="nope", Record={"Data": b"y"})
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_records_over_the_throughput_quota_fail_alone(aws_client, setup):
    region = "eu-central-1"  # 1 MiB/s of Direct PUT per delivery stream (us-east-1: 5 MiB/s)
    s3 = aws_client("s3")
    import boto3

    firehose = boto3.client("firehose", region_name=region, endpoint_url=s3.meta.endpoint_url)
    regional_s3 = boto3.client("s3", region_name=region, endpoint_url=s3.meta.endpoint_url)
    regional_s3.create_bucket(Bucket="frankfurt-archive", CreateBucketConfiguration={"LocationConstraint": region})
    role = make_role(aws_client("iam"), "frankfurt-delivery", bucket="frankfurt-archive")
    firehose.create_delivery_stream(
        DeliveryStreamName="busy",
        ExtendedS3DestinationConfiguration={
            **destination(role, size_mb=1, interval=1),
            "BucketARN": "arn:aws:s3:::frankfurt-archive",
        },  # fmt: skip
    )
    records = [bytes([97 + i]) * 1_000_000 for i in range(4)]
    answer = firehose.put_record_batch(DeliveryStreamName="busy", Records=[{"Data": r} for r in records])
    assert answer["FailedPutCount"] == 3
    assert "RecordId" in answer["RequestResponses"][0]
    assert (
        answer["RequestResponses"][1:]
        == [{"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}] * 3
    )
    with pytest.raises(ClientError) as slow:
        firehose.put_record(DeliveryStreamName="busy", Record={"Data": b"d" * 1_000_000})
    assert slow.value.response["Error"] == {"Code": "ServiceUnavailableException", "Message": "Slow down."}
    (key,) = wait_for(lambda: keys(regional_s3, bucket="frankfurt-archive"), limit=10)
    assert body(regional_s3, key, bucket="frankfurt-archive") == records[0]  # only what was accepted is delivered


def test_a_role_that_may_not_write_holds_the_data_and_logs_why_until_it_may(aws_client, setup):
    s3, firehose, iam, logs = setup["s3"], setup["firehose"], aws_client("iam"), aws_client("logs")
    role = make_role(iam, "firehose-readonly", ["s3:GetObject"])
    logs.create_log_group(logGroupName="/aws/kinesisfirehose/denied")
    logs.create_log_stream(logGroupName="/aws/kinesisfirehose/denied", logStreamName="DestinationDelivery")
    firehose.create_delivery_stream(
        DeliveryStreamName="denied",
        ExtendedS3DestinationConfiguration=destination(role, size_mb=1, interval=0, CloudWatchLoggingOptions={
            "Enabled": True, "LogGroupName": "/aws/kinesisfirehose/denied", "LogStreamName": "DestinationDelivery"}),
    )  # fmt: skip
    firehose.put_record(DeliveryStreamName="denied", Record={"Data": b"kept\n"})

    def logged():
        return logs.get_log_events(logGroupName="/aws/kinesisfirehose/denied", logStreamName="DestinationDelivery")[
            "events"
        ]

    event = json.loads(wait_for(logged, limit=10)[0]["message"])
    assert event["errorCode"] == "S3.AccessDenied"
    assert event["message"].startswith(
        "Access was denied. Ensure that the trust policy for the provided IAM role allows"
    )
    assert (
        event["deliveryStreamARN"].endswith(":deliverystream/denied")
        and event["destination"] == f"arn:aws:s3:::{BUCKET}"
    )
    assert keys(s3) == []
    iam.put_role_policy(RoleName="firehose-readonly", PolicyName="delivery", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                                                "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))  # fmt: skip
    (key,) = wait_for(lambda: keys(s3), limit=10)  # the retry delivers once the role may write
    assert body(s3, key) == b"kept\n"
    cloudwatch = aws_client("cloudwatch")
    assert wait_for(lambda: (metric_values(cloudwatch, "denied", "DeliveryToS3.Success") or [0])[-1] == 1, limit=5)
    assert metric_minimum(cloudwatch, "denied", "DeliveryToS3.Success") == 0  # the failed attempts


def test_delete_delivers_what_the_stream_still_buffers(setup):
    s3, firehose = setup["s3"], setup["firehose"]
    firehose.create_delivery_stream(DeliveryStreamName="short-lived",
                                    ExtendedS3DestinationConfiguration=destination(setup["role"], interval=900))  # fmt: skip
    firehose.put_record_batch(DeliveryStreamName="short-lived", Records=[{"Data": b"last\n"}, {"Data": b"words\n"}])
    assert keys(s3) == []
    firehose.delete_delivery_stream(DeliveryStreamName="short-lived")
    (key,) = keys(s3)
    assert body(s3, key) == b"last\nwords\n"


def test_update_destination_applies_to_the_buffer_and_names_objects_with_the_new_version(setup):
    """An S3 destination updated to ExtendedS3 keeps its bucket and role; the buffered record goes out as version 2."""
    s3, firehose = setup["s3"], setup["firehose"]
    firehose.create_delivery_stream(DeliveryStreamName="tuned",
                                    S3DestinationConfiguration=destination(setup["role"], interval=900))  # fmt: skip
    firehose.put_record(DeliveryStreamName="tuned", Record={"Data": b"waiting\n"})
    with pytest.raises(ClientError) as refused:
        firehose.update_destination(DeliveryStreamName="tuned", CurrentDeliveryStreamVersionId="1",
                                    DestinationId="destinationId-000000000001",
                                    ExtendedS3DestinationUpdate={"CompressionFormat": "Snappy"})  # fmt: skip
    assert "not implemented by local AWS" in refused.value.response["Error"]["Message"]
    firehose.update_destination(DeliveryStreamName="tuned", CurrentDeliveryStreamVersionId="1",
                                DestinationId="destinationId-000000000001",
                                ExtendedS3DestinationUpdate={"BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
                                                             "CompressionFormat": "GZIP"})  # fmt: skip
    (key,) = wait_for(lambda: keys(s3), limit=10)
    assert re.fullmatch(HOUR_PREFIX + "tuned-2" + SUFFIX + r"\.gz", key), key
    assert gzip.decompress(body(s3, key)) == b"waiting\n"


def test_buffer_intervals_follow_the_local_clock(setup):
    from local_aws import clock

    s3, firehose = setup["s3"], setup["firehose"]
    firehose.create_delivery_stream(DeliveryStreamName="slow",
                                    ExtendedS3DestinationConfiguration=destination(setup["role"], interval=300))  # fmt: skip
    firehose.put_record(DeliveryStreamName="slow", Record={"Data": b"five minutes later\n"})
    time.sleep(0.3)
    assert keys(s3) == []
    clock.advance(seconds=301)
    try:
        (key,) = wait_for(lambda: keys(s3), limit=10)
    finally:
        clock.reset()
    assert body(s3, key) == b"five minutes later\n"


def test_delivery_metrics(aws_client, setup):
    s3, firehose = setup["s3"], setup["firehose"]
    firehose.create_delivery_stream(DeliveryStreamName="measured",
                                    ExtendedS3DestinationConfiguration=destination(setup["role"], interval=0))  # fmt: skip
    firehose.put_record_batch(DeliveryStreamName="measured", Records=[{"Data": b"12345"}] * 4)
    firehose.put_record(DeliveryStreamName="measured", Record={"Data": b"678"})
    wait_for(lambda: keys(s3), limit=10)
    cloudwatch = aws_client("cloudwatch")
    assert wait_for(lambda: metric_sum(cloudwatch, "measured", "DeliveryToS3.Records") == 5, limit=5)
    assert metric_sum(cloudwatch, "measured", "IncomingRecords") == 5
    assert metric_sum(cloudwatch, "measured", "IncomingBytes") == 23
    assert metric_sum(cloudwatch, "measured", "DeliveryToS3.Bytes") == 23
    assert metric_sum(cloudwatch, "measured", "PutRecordBatch.Records") == 4
    assert metric_sum(cloudwatch, "measured", "PutRecord.Requests") == 1
    names = {m["MetricName"] for m in cloudwatch.list_metrics(Namespace="AWS/Firehose")["Metrics"]}
    assert {"DeliveryToS3.Success", "DeliveryToS3.DataFreshness", "IncomingPutRequests"} <= names


def test_cloudwatch_logs_subscriptions_are_buffered_too(aws_client, setup):
    s3, firehose, logs = setup["s3"], setup["firehose"], aws_client("logs")
    stream_arn = firehose.create_delivery_stream(
        DeliveryStreamName="log-archive",
        ExtendedS3DestinationConfiguration=destination(setup["role"], interval=1, Prefix="logs/"),
    )["DeliveryStreamARN"]
    logs.create_log_group(logGroupName="app")
    logs.create_log_stream(logGroupName="app", logStreamName="web")
    logs.put_subscription_filter(logGroupName="app", filterName="all", filterPattern="", destinationArn=stream_arn,
                                 roleArn=setup["role"])  # fmt: skip
    now = int(time.time() * 1000)
    for message in ("first", "second"):
        logs.put_log_events(logGroupName="app", logStreamName="web", logEvents=[{"timestamp": now, "message": message}])
    (key,) = wait_for(lambda: keys(s3, "logs/"), limit=10)  # one object for both deliveries, not one each
    payload = gzip.decompress(body(s3, key))  # two gzip members, one per subscription delivery
    assert payload.count(b'"messageType":"DATA_MESSAGE"') == 2 and b"first" in payload and b"second" in payload


def metric_values(cloudwatch, stream: str, name: str) -> list[float]:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Firehose", MetricName=name, Dimensions=[{"Name": "DeliveryStreamName", "Value": stream}],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1), Period=60, Statistics=["Sum", "Maximum"],
    )["Datapoints"]  # fmt: skip
    return [p["Maximum"] for p in sorted(points, key=lambda p: p["Timestamp"])]


def metric_minimum(cloudwatch, stream: str, name: str) -> float:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Firehose", MetricName=name, Dimensions=[{"Name": "DeliveryStreamName", "Value": stream}],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1), Period=600, Statistics=["Minimum"],
    )["Datapoints"]  # fmt: skip
    return min(p["Minimum"] for p in points)


def metric_sum(cloudwatch, stream: str, name: str) -> float:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/Firehose", MetricName=name, Dimensions=[{"Name": "DeliveryStreamName", "Value": stream}],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=1), Period=600, Statistics=["Sum"],
    )["Datapoints"]  # fmt: skip
    return sum(p["Sum"] for p in points)


# Its own interpreter: stopping the session's server would stop every other test's.
RESTART = textwrap.dedent(
    """
    import json, pathlib, sys, threading, boto3
    from local_aws import config
    from local_aws.server import LocalAWS

    TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
             "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}]}

    def threads():
        return sorted(t.name for t in threading.enumerate() if t.name.startswith("firehose-"))

    def client(server, name):
        return boto3.client(name, region_name="us-east-1", endpoint_url=server.endpoint_url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    work_dir = pathlib.Path(sys.argv[1])
    first = LocalAWS(config.Settings(port=0, work_dir=work_dir)).start()
    iam, s3, firehose = (client(first, name) for name in ("iam", "s3", "firehose"))
    s3.create_bucket(Bucket="archive")
    role = iam.create_role(RoleName="fh", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName="fh", PolicyName="w", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::archive/*"}]}))
    firehose.create_delivery_stream(DeliveryStreamName="s", ExtendedS3DestinationConfiguration={
        "RoleARN": role, "BucketARN": "arn:aws:s3:::archive", "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 900}})
    firehose.put_record(DeliveryStreamName="s", Record={"Data": b"before stop"})
    running = threads()
    first.stop()  # its stop delivers the buffer
    stopped = threads()
    server = LocalAWS(config.Settings(port=0, work_dir=work_dir)).start()
    try:
        s3, firehose = client(server, "s3"), client(server, "firehose")
        delivered = [s3.get_object(Bucket="archive", Key=o["Key"])["Body"].read().decode()
                     for o in s3.list_objects_v2(Bucket="archive").get("Contents", [])]
        firehose.put_record(DeliveryStreamName="s", Record={"Data": b"after restart"})
        again = threads()
    finally:
        server.stop()
    s3 = None
    print(json.dumps({"running": running, "stopped": stopped, "delivered": delivered, "again": again,
                      "stopped_again": threads()}))
    """
)


def test_the_servers_stop_delivers_the_buffers_and_leaves_no_firehose_thread(tmp_path):
    done = subprocess.run([sys.executable, "-c", RESTART, str(tmp_path)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["running"] == ["firehose-delivery"]
    assert result["stopped"] == [] and result["stopped_again"] == []
    assert result["delivered"] == ["before stop"]
    assert result["again"] == ["firehose-delivery"]

"""Firehose buffering hints, throughput quotas and destination checks (local_aws/firehose/buffering.py, configuration.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from local_aws.firehose.buffering import Record, StreamState, Throughput
from local_aws.firehose.configuration import MIB, ConfigError, S3Destination

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _state() -> StreamState:
    return StreamState(
        "123456789012", "us-east-1", "clicks", "arn:aws:firehose:us-east-1:123456789012:deliverystream/clicks"
    )


def test_the_buffer_is_sealed_with_the_record_that_reaches_the_size():
    state = _state()
    assert not state.add([Record(b"x" * 400, T0), Record(b"x" * 400, T0)], size_limit=1000)
    assert state.head() is None
    assert state.add([Record(b"y" * 300, T0), Record(b"z", T0)], size_limit=1000)
    batch = state.head()
    assert [len(r.data) for r in batch.records] == [400, 400, 300] and batch.size == 1100
    state.done(batch)
    assert state.head() is None and state.pending == 1  # "z" opened the next buffer


def test_the_buffer_is_sealed_when_its_first_record_has_waited_the_interval():
    state = _state()
    state.add([Record(b"a", T0)], size_limit=MIB)
    state.add([Record(b"b", T0 + timedelta(seconds=50))], size_limit=MIB)
    assert state.next_due(60) == T0 + timedelta(seconds=60)
    state.seal_if_due(T0 + timedelta(seconds=59), 60)
    assert state.head() is None
    state.seal_if_due(T0 + timedelta(seconds=60), 60)
    assert [r.data for r in state.head().records] == [b"a", b"b"]


def test_discard_forgets_buffered_and_sealed_records():
    state = _state()
    state.add([Record(b"a", T0)], size_limit=1)
    state.add([Record(b"b", T0)], size_limit=MIB)
    assert state.discard() == 2 and state.pending == 0


def test_direct_put_quotas_depend_on_the_region():
    frankfurt = Throughput()  # 1 MiB/s outside us-east-1, us-west-2 and eu-west-1
    assert frankfurt.admit("eu-central-1", [400_000] * 4) == [True, True, False, False]
    virginia = Throughput()  # 5 MiB/s
    assert virginia.admit("us-east-1", [1_000_000] * 4) == [True] * 4


def _config(**overrides) -> dict:
    config = {"RoleARN": "arn:aws:iam::123456789012:role/firehose", "BucketARN": "arn:aws:s3:::archive"}
    config.update(overrides)
    return config


CONVERSION = {
    "SchemaConfiguration": {
        "RoleARN": "arn:aws:iam::123456789012:role/firehose",
        "DatabaseName": "db",
        "TableName": "t",
    },
    "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
    "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
}


def test_defaults_are_aws_defaults():
    destination = S3Destination.parse(_config())
    assert destination.bucket == "archive"
    assert (destination.size_bytes, destination.interval_seconds) == (5 * MIB, 300)
    assert (destination.compression, destination.extension) == ("UNCOMPRESSED", "")
    assert S3Destination.parse(_config(CompressionFormat="GZIP")).extension == ".gz"
    assert S3Destination.parse(_config(CompressionFormat="GZIP", FileExtension=".json.gz")).extension == ".json.gz"
    converted = S3Destination.parse(_config(DataFormatConversionConfiguration=CONVERSION))
    assert converted.size_bytes == 128 * MIB and converted.extension == ".parquet"
    assert converted.conversion.schema.version_id == "LATEST"


@pytest.mark.parametrize(
    ("overrides", "code", "reason"),
    [
        (
            {"BufferingHints": {"SizeInMBs": 129, "IntervalInSeconds": 60}},
            "ValidationException",
            "less than or equal to 128",
        ),
        (
            {"BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 901}},
            "ValidationException",
            "less than or equal to 900",
        ),
        ({"BucketARN": "archive"}, "ValidationException", "bucketARN"),
        ({"CompressionFormat": "ZIP"}, "InvalidArgumentException", "not implemented by local AWS"),
        (
            {
                "DataFormatConversionConfiguration": CONVERSION,
                "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60},
            },
            "InvalidArgumentException",
            "at least 64",
        ),
        (
            {"DataFormatConversionConfiguration": CONVERSION, "CompressionFormat": "GZIP"},
            "InvalidArgumentException",
            "must be UNCOMPRESSED",
        ),
        (
            {"DataFormatConversionConfiguration": {**CONVERSION, "SchemaConfiguration": {"DatabaseName": "db"}}},
            "InvalidArgumentException",
            "RoleARN, TableName",
        ),
        ({"Prefix": "p/!{timestamp:yyyy}/"}, "InvalidArgumentException", "ErrorOutputPrefix cannot be null"),
        ({"ProcessingConfiguration": {"Enabled": True}}, "InvalidArgumentException", "not implemented by local AWS"),
        ({"CustomTimeZone": "Mars/Olympus"}, "InvalidArgumentException", "CustomTimeZone"),
    ],
)
def test_destinations_aws_refuses(overrides, code, reason):
    with pytest.raises(ConfigError) as refused:
        S3Destination.parse(_config(**overrides))
    assert refused.value.code == code
    assert reason in refused.value.message


def test_interval_zero_is_allowed():
    assert S3Destination.parse(_config(BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0})).interval_seconds == 0

"""Firehose record format conversion: Hive types, the OpenX and Hive JSON SerDes, Parquet and ORC output (local_aws/firehose/conversion.py)."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local_aws.firehose.conversion import (
    MALFORMED_DATA,
    PARSE_ERROR,
    Deserializer,
    RecordError,
    SchemaError,
    Serializer,
    arrow_schema,
    arrow_type,
    convert,
    rows_of,
)

OPENX = Deserializer.of("OpenXJsonSerDe", {})
HIVE = Deserializer.of("HiveJsonSerDe", {})


@pytest.mark.parametrize(
    ("hive", "arrow"),
    [
        ("string", pa.string()),
        ("varchar(20)", pa.string()),
        ("INT", pa.int32()),
        ("bigint", pa.int64()),
        ("tinyint", pa.int8()),
        ("double", pa.float64()),
        ("decimal(10,2)", pa.decimal128(10, 2)),
        ("timestamp", pa.timestamp("ns")),
        ("date", pa.date32()),
        ("array<string>", pa.list_(pa.string())),
        ("map<string,int>", pa.map_(pa.string(), pa.int32())),
        (
            "array<struct<Name:string, score:double>>",
            pa.list_(pa.struct([("name", pa.string()), ("score", pa.float64())])),
        ),
    ],
)
def test_hive_types_map_to_arrow(hive, arrow):
    assert arrow_type(hive) == arrow


def test_unknown_hive_types_are_schema_errors():
    with pytest.raises(SchemaError, match="uniontype"):
        arrow_type("uniontype<int,string>")
    with pytest.raises(SchemaError, match="column payload"):
        arrow_schema([{"Name": "payload", "Type": "array<"}])


SCHEMA = arrow_schema(
    [
        {"Name": "browseraction", "Type": "string"},
        {"Name": "site", "Type": "string"},
        {"Name": "clicks", "Type": "int"},
        {"Name": "ctr", "Type": "double"},
        {"Name": "event_time", "Type": "timestamp"},
        {"Name": "amount", "Type": "decimal(6,2)"},
        {"Name": "ok", "Type": "boolean"},
        {"Name": "tags", "Type": "array<string>"},
        {"Name": "meta", "Type": "struct<region:string,zone:int>"},
    ]
)


def test_openx_reads_keys_case_insensitively_and_leaves_absent_columns_null():
    (row,) = rows_of(b'{"BrowserAction": "Click", "Site": "example.com", "unknown": 1}', SCHEMA, OPENX)
    assert row["browseraction"] == "Click" and row["site"] == "example.com"
    assert row["clicks"] is None and row["meta"] is None


def test_openx_coerces_strings_numbers_and_nested_json_as_the_serde_does():
    record = {"clicks": "12", "ctr": "2.5", "ok": "TRUE", "amount": 3.14159, "site": {"host": "a"},
              "tags": ["x", 1], "meta": {"Region": "eu", "zone": "3"}}  # fmt: skip
    (row,) = rows_of(json.dumps(record).encode(), SCHEMA, OPENX)
    assert row["clicks"] == 12 and row["ctr"] == 2.5 and row["ok"] is True
    assert row["amount"] == Decimal("3.14")
    assert row["site"] == '{"host":"a"}'  # nested JSON in a string column is kept as its JSON text
    assert row["tags"] == ["x", "1"]
    assert row["meta"] == {"region": "eu", "zone": 3}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-02-07T15:13:01.39256Z", datetime(2017, 2, 7, 15, 13, 1, 392560)),
        ("2017-02-07 15:13:01.14", datetime(2017, 2, 7, 15, 13, 1, 140000)),
        ("2017-2-7 15:13:01", datetime(2017, 2, 7, 15, 13, 1)),
        (1518033528, datetime(2018, 2, 7, 19, 58, 48)),
        (1518033528123, datetime(2018, 2, 7, 19, 58, 48, 123000)),
        (1518033528.5, datetime(2018, 2, 7, 19, 58, 48, 500000)),
        ("2017-02-07T17:13:01+02:00", datetime(2017, 2, 7, 15, 13, 1)),
    ],
)
def test_openx_reads_the_timestamp_formats_firehose_lists(value, expected):
    (row,) = rows_of(json.dumps({"event_time": value}).encode(), SCHEMA, OPENX)
    assert row["event_time"] == expected


def test_openx_options_map_keys_to_columns():
    deserializer = Deserializer.of(
        "OpenXJsonSerDe",
        {"ConvertDotsInJsonKeysToUnderscores": True, "ColumnToJsonKeyMappings": {"site": "host"}},
    )
    schema = arrow_schema([{"Name": "site", "Type": "string"}, {"Name": "user_id", "Type": "int"}])
    (row,) = rows_of(b'{"host": "h", "user.id": 7}', schema, deserializer)
    assert row == {"site": "h", "user_id": 7}
    case_sensitive = Deserializer.of("OpenXJsonSerDe", {"CaseInsensitive": False})
    (row,) = rows_of(b'{"Site": "upper", "user_id": 1}', schema, case_sensitive)
    assert row["site"] is None


def test_one_record_may_hold_several_json_objects():
    rows = rows_of(b'{"clicks": 1}\n{"clicks": 2} {"clicks": 3}', SCHEMA, OPENX)
    assert [row["clicks"] for row in rows] == [1, 2, 3]


@pytest.mark.parametrize(
    ("record", "code"),
    [
        (b'{"clicks": 1', PARSE_ERROR),
        (b"not json", PARSE_ERROR),
        (b"\xff\xfe", PARSE_ERROR),
        (b'{"clicks": "many"}', MALFORMED_DATA),
        (b'{"clicks": 3000000000}', MALFORMED_DATA),
        (b'{"amount": 123456.7}', MALFORMED_DATA),
        (b'{"tags": "x"}', MALFORMED_DATA),
        (b'[{"clicks": 1}]', MALFORMED_DATA),
        (b'{"event_time": "yesterday"}', MALFORMED_DATA),
    ],
)
def test_records_that_do_not_convert_say_why(record, code):
    with pytest.raises(RecordError) as failed:
        rows_of(record, SCHEMA, OPENX)
    assert failed.value.code == code


def test_the_hive_serde_wants_json_numbers_and_its_timestamp_formats():
    with pytest.raises(RecordError):
        rows_of(b'{"clicks": "12"}', SCHEMA, HIVE)
    (row,) = rows_of(b'{"clicks": 12, "event_time": "2017-02-07 15:13:01.5"}', SCHEMA, HIVE)
    assert row["clicks"] == 12 and row["event_time"] == datetime(2017, 2, 7, 15, 13, 1, 500000)
    formats = Deserializer.of("HiveJsonSerDe", {"TimestampFormats": ["dd/MM/yyyy HH:mm", "millis"]})
    assert rows_of(b'{"event_time": "07/02/2017 15:13"}', SCHEMA, formats)[0]["event_time"] == datetime(
        2017, 2, 7, 15, 13
    )
    assert rows_of(b'{"event_time": 1000}', SCHEMA, formats)[0]["event_time"] == datetime(1970, 1, 1, 0, 0, 1)


def test_convert_writes_the_good_records_to_parquet_and_reports_the_bad_ones():
    records = [
        b'{"browseraction": "Impression", "site": "a", "clicks": 0, "event_time": "2024-05-01T12:00:00Z"}',
        b'{"browseraction": "Click"',
        b'{"browseraction": "Click", "site": "b", "clicks": 1, "ok": true, "meta": {"zone": 2}}',
        b'{"clicks": "lots"}',
    ]
    result = convert(records, SCHEMA, OPENX, Serializer("ParquetSerDe", {}))
    assert result.converted == [0, 2]
    assert [(index, error.code) for index, error in result.failed] == [(1, PARSE_ERROR), (3, MALFORMED_DATA)]
    parquet = pq.ParquetFile(io.BytesIO(result.body))
    assert parquet.schema_arrow.names == SCHEMA.names
    assert parquet.metadata.row_group(0).column(0).compression == "SNAPPY"
    assert parquet.schema.column(SCHEMA.get_field_index("event_time")).physical_type == "INT96"
    table = parquet.read()
    assert table.column("browseraction").to_pylist() == ["Impression", "Click"]
    assert table.column("event_time").to_pylist()[0] == datetime(2024, 5, 1, 12, 0)
    assert table.column("meta").to_pylist()[1] == {"region": None, "zone": 2}


def test_parquet_compression_and_orc_output():
    schema = arrow_schema([{"Name": "day", "Type": "date"}, {"Name": "n", "Type": "bigint"}])
    records = [b'{"day": "2024-05-01", "n": 1}']
    gzip_parquet = convert(records, schema, OPENX, Serializer("ParquetSerDe", {"Compression": "GZIP"})).body
    assert pq.ParquetFile(io.BytesIO(gzip_parquet)).metadata.row_group(0).column(0).compression == "GZIP"
    from pyarrow import orc

    body = convert(records, schema, OPENX, Serializer("OrcSerDe", {})).body
    table = orc.ORCFile(io.BytesIO(body)).read()
    assert table.to_pylist() == [{"day": date(2024, 5, 1), "n": 1}]


def test_a_batch_where_nothing_converts_has_no_object():
    result = convert([b"nope"], SCHEMA, OPENX, Serializer())
    assert result.body is None and result.rows == 0 and len(result.failed) == 1

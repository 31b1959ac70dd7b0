"""The DMS S3 target: object keys, CSV and Parquet as DMS writes them, Op and timestamp columns,
date folders, GZIP, endpoint settings, and when CDC batches are due. A fake put_object, no server."""

from __future__ import annotations

import gzip
import io
import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local_aws.dms import table_mappings
from local_aws.dms.s3_target import (
    CdcBatcher,
    S3SettingsError,
    S3TargetSettings,
    S3TargetWriter,
    csv_text,
    dms_type,
)
from local_aws.dms.source_mysql import Change, Column, Position, Transaction

NOW = datetime(2026, 1, 5, 10, 30, 15, 123456, tzinfo=UTC)
COLUMNS = [Column("id", "int(11)"), Column("name", "varchar(45)")]


class Clock:
    def __init__(self, now: datetime = NOW):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Bucket:
    """put_object's fake: the objects written, by key."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}
        self.buckets: set[str] = set()

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self.buckets.add(bucket)
        self.objects[key] = body

    def text(self, key: str) -> str:
        return self.objects[key].decode("utf-8")


def writer(clock: Clock | None = None, mappings=None, **s3_settings) -> tuple[S3TargetWriter, Bucket]:
    bucket = Bucket()
    settings = S3TargetSettings.from_endpoint({"BucketName": "lake", **s3_settings})
    return S3TargetWriter(settings, bucket.put_object, clock=clock or Clock(), mappings=mappings), bucket


def change(op: str, values: dict, table: str = "orders", at: datetime = NOW) -> Change:
    return Change(op, "shop", table, values, at)


# ---- endpoint settings -----------------------------------------------------------------------


def test_defaults_are_aws_defaults():
    settings = S3TargetSettings.from_endpoint({})
    assert (settings.DataFormat, settings.CompressionType, settings.CsvDelimiter, settings.CsvRowDelimiter) == (
        "csv", "NONE", ",", "\n")  # fmt: skip
    assert (settings.MaxFileSize, settings.CdcMaxBatchInterval, settings.CdcMinFileSize) == (1048576, 60, 32000)
    assert (settings.ParquetVersion, settings.EnableStatistics, settings.Rfc4180) == ("PARQUET_1_0", True, True)
    assert (settings.DatePartitionSequence, settings.DatePartitionDelimiter) == ("YYYYMMDD", "SLASH")


def test_extra_connection_attributes_and_s3_settings_together():
    settings = S3TargetSettings.from_endpoint(
        {"BucketName": "lake", "CompressionType": "gzip", "MaxFileSize": 512},
        "bucketFolder=raw;addColumnName=y;csvRowDelimiter=\\n;csvDelimiter=|;compressionType=NONE;dataFormat=parquet",
    )
    assert settings.BucketFolder == "raw" and settings.AddColumnName is True
    assert settings.CsvRowDelimiter == "\n" and settings.CsvDelimiter == "|"
    assert settings.CompressionType == "GZIP"  # S3Settings win over the attributes
    assert settings.DataFormat == "parquet" and settings.MaxFileSize == 512


@pytest.mark.parametrize(
    ("s3_settings", "message"),
    [
        ({"DataFormat": "orc"}, "Invalid DataFormat 'orc'; valid values: csv, parquet"),
        ({"CompressionType": "zip"}, "Invalid CompressionType"),
        ({"CdcInsertsOnly": True, "CdcInsertsAndUpdates": "y"}, "can't both be set to true"),
        ({"MaxFileSize": 0}, "Invalid MaxFileSize 0; valid values: 1-1048576"),
        ({"AddColumnName": "maybe"}, "Invalid AddColumnName 'maybe'; valid values: true, false, y, n"),
        ({"DatePartitionSequence": "YYYY"}, "Invalid DatePartitionSequence"),
        ({"DatePartitionTimezone": "Mars/Base"}, "Invalid DatePartitionTimezone 'Mars/Base'"),
        ({"PreserveTransactions": True, "CdcPath": "txn"}, "PreserveTransactions"),
    ],
)
def test_invalid_settings_are_refused(s3_settings, message):
    with pytest.raises(S3SettingsError) as raised:
        S3TargetSettings.from_endpoint(s3_settings)
    assert message in str(raised.value)


# ---- full load -------------------------------------------------------------------------------


def test_full_load_key_and_rows():
    target, bucket = writer(BucketFolder="/raw/")
    keys = target.full_load("shop", "orders", COLUMNS, [(1, "pen"), (2, "ink")])
    assert keys == ["raw/shop/orders/LOAD00000001.csv"]
    assert bucket.buckets == {"lake"}
    assert bucket.text(keys[0]) == "1,pen\n2,ink\n"


def test_empty_table_writes_no_file():
    target, bucket = writer()
    assert target.full_load("shop", "orders", COLUMNS, []) == []
    assert bucket.objects == {}


def test_max_file_size_splits_with_a_hexadecimal_counter():
    target, bucket = writer(MaxFileSize=1)  # 1 KB
    rows = [(i, "x" * 90) for i in range(120)]  # ~95 characters a row: 10 rows a file
    keys = target.full_load("shop", "orders", COLUMNS, rows)
    assert keys[:3] == ["shop/orders/LOAD00000001.csv", "shop/orders/LOAD00000002.csv", "shop/orders/LOAD00000003.csv"]
    assert keys[9:12] == [
        "shop/orders/LOAD0000000A.csv",
        "shop/orders/LOAD0000000B.csv",
        "shop/orders/LOAD0000000C.csv",
    ]
    assert all(len(bucket.objects[key]) <= 1024 for key in keys)
    assert "".join(bucket.text(key) for key in keys).count("\n") == 120


def test_header_op_and_timestamp_columns_in_a_full_load():
    target, bucket = writer(AddColumnName=True, IncludeOpForFullLoad=True, TimestampColumnName="ts")
    [key] = target.full_load("shop", "orders", COLUMNS, [(1, "pen")])
    assert bucket.text(key) == "Op,ts,id,name\nI,2026-01-05 10:30:15.123456,1,pen\n"


def test_full_load_timestamp_can_be_the_task_start():
    bucket = Bucket()
    settings = S3TargetSettings.from_endpoint(
        {"TimestampColumnName": "ts", "UseTaskStartTimeForFullLoadTimestamp": True}
    )
    target = S3TargetWriter(settings, bucket.put_object, clock=Clock(), task_start=datetime(2026, 1, 1, tzinfo=UTC))
    [key] = target.full_load("shop", "orders", COLUMNS, [(1, "pen")])
    assert bucket.text(key) == "2026-01-01 00:00:00.000000,1,pen\n"


# ---- CDC -------------------------------------------------------------------------------------


class Store(Bucket):
    """put_object, list_keys and delete_keys over one bucket's objects."""

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))

    def delete_keys(self, bucket: str, keys: list[str]) -> None:
        for key in keys:
            del self.objects[key]


def prepared_writer(store: Store, mode: str, **s3_settings) -> S3TargetWriter:
    settings = S3TargetSettings.from_endpoint({"BucketName": "lake", "BucketFolder": "raw", **s3_settings})
    return S3TargetWriter(settings, store.put_object, clock=Clock(), table_prep_mode=mode,
                          list_keys=store.list_keys, delete_keys=store.delete_keys)  # fmt: skip


@pytest.mark.parametrize("mode", ["DROP_AND_CREATE", "TRUNCATE_BEFORE_LOAD"])
def test_a_load_drops_the_tables_objects_first_and_numbers_from_one(mode):
    store = Store()
    store.objects |= {"raw/shop/orders/LOAD00000001.csv": b"old", "raw/shop/orders/20260101-000000000.csv": b"I,0",
                      "raw/shop/orders2/LOAD00000001.csv": b"other table", "raw/shop/orders/2026/01/01/x.csv": b""}  # fmt: skip
    keys = prepared_writer(store, mode).full_load("shop", "orders", COLUMNS, [(1, "pen")])
    assert keys == ["raw/shop/orders/LOAD00000001.csv"]
    assert store.list_keys("lake", "raw/") == ["raw/shop/orders/LOAD00000001.csv", "raw/shop/orders2/LOAD00000001.csv"]
    assert store.text(keys[0]) == "1,pen\n"


def test_do_nothing_keeps_the_tables_objects_and_numbers_after_the_last_load_file():
    store = Store()
    store.objects |= {"raw/shop/orders/LOAD00000001.csv": b"1,pen\n", "raw/shop/orders/LOAD0000000A.csv.gz": b"",
                      "raw/shop/orders/20260101-000000000.csv": b"I,2,ink\n"}  # fmt: skip
    keys = prepared_writer(store, "DO_NOTHING").full_load("shop", "orders", COLUMNS, [(1, "pen"), (2, "ink")])
    assert keys == ["raw/shop/orders/LOAD0000000B.csv"]
    assert len(store.objects) == 4


def test_cdc_file_per_table_named_by_the_batch_time_op_first_in_commit_order():
    target, bucket = writer()
    target.full_load("shop", "orders", COLUMNS, [])
    keys = target.cdc(
        [
            change("I", {"id": 3, "name": "cap"}),
            change("I", {"sku": "A-1"}, table="items"),
            change("U", {"id": 3, "name": "lid"}),
            change("D", {"id": 3, "name": "lid"}),
        ],
        columns={("shop", "items"): [Column("sku", "char(3)")]},
    )
    assert keys == ["shop/orders/20260105-103015123.csv", "shop/items/20260105-103015123.csv"]
    assert bucket.text(keys[0]) == "I,3,cap\nU,3,lid\nD,3,lid\n"
    assert bucket.text(keys[1]) == "I,A-1\n"


def test_cdc_batches_in_the_same_millisecond_get_their_own_names():
    target, _ = writer()
    first = target.cdc([change("I", {"id": 1, "name": "a"})])
    second = target.cdc([change("I", {"id": 2, "name": "b"})])
    assert first == ["shop/orders/20260105-103015123.csv"] and second == ["shop/orders/20260105-103015124.csv"]


def test_cdc_timestamp_column_is_the_commit_time_with_header():
    target, bucket = writer(TimestampColumnName="commit_ts", AddColumnName=True)
    committed = datetime(2026, 1, 5, 9, 0, 1, tzinfo=UTC)
    [key] = target.cdc([change("I", {"id": 1, "name": "pen"}, at=committed)], columns={("shop", "orders"): COLUMNS})
    assert bucket.text(key) == "Op,commit_ts,id,name\nI,2026-01-05 09:00:01.000000,1,pen\n"


@pytest.mark.parametrize(
    ("s3_settings", "expected"),
    [
        ({}, "I,1,a\nU,1,b\nD,1,b\n"),
        ({"CdcInsertsOnly": True}, "1,a\n"),
        ({"CdcInsertsOnly": True, "IncludeOpForFullLoad": True}, "I,1,a\n"),
        ({"CdcInsertsAndUpdates": True}, "I,1,a\nU,1,b\n"),
        ({"CdcInsertsAndUpdates": True, "IncludeOpForFullLoad": True}, "I,1,a\nU,1,b\n"),
    ],
)
def test_op_column_rules(s3_settings, expected):
    target, bucket = writer(**s3_settings)
    target.full_load("shop", "orders", COLUMNS, [])
    changes = [
        change("I", {"id": 1, "name": "a"}),
        change("U", {"id": 1, "name": "b"}),
        change("D", {"id": 1, "name": "b"}),
    ]
    [key] = target.cdc(changes)
    assert bucket.text(key) == expected


def test_cdc_with_only_deletes_and_inserts_only_writes_nothing():
    target, bucket = writer(CdcInsertsOnly=True)
    assert target.cdc([change("D", {"id": 1, "name": "a"})]) == []
    assert bucket.objects == {}


def test_cdc_of_an_unknown_table_writes_its_values_untyped():
    target, bucket = writer()
    [key] = target.cdc([change("I", {"id": 1, "at": datetime(2026, 1, 5, 1, 2, 3)})])
    assert bucket.text(key) == "I,1,2026-01-05 01:02:03\n"


# ---- CSV text --------------------------------------------------------------------------------


def test_nulls_quotes_delimiters_and_line_breaks():
    target, bucket = writer()
    rows = [(1, None), (2, ""), (3, "a,b"), (4, 'say "hi"'), (5, "two\nlines")]
    [key] = target.full_load("shop", "orders", COLUMNS, rows)
    assert bucket.text(key) == '1,\n2,\n3,"a,b"\n4,"say ""hi"""\n5,"two\nlines"\n'


def test_csv_null_value_custom_delimiter_and_rfc4180_off():
    target, bucket = writer(CsvNullValue="NULL", CsvDelimiter="|", CsvRowDelimiter="\r\n")
    [key] = target.full_load("shop", "orders", COLUMNS, [(1, None), (2, "a|b"), (3, "a,b")])
    assert bucket.text(key) == '1|NULL\r\n2|"a|b"\r\n3|a,b\r\n'
    target, bucket = writer(Rfc4180=False)
    [key] = target.full_load("shop", "orders", COLUMNS, [(1, 'a,"b"')])
    assert bucket.text(key) == '1,a,"b"\n'


MYSQL_VALUES = [
    ("decimal(10,2)", Decimal("12.5"), "12.50"),
    ("decimal(10,2)", Decimal("-0.10"), "-0.10"),
    ("decimal(10)", Decimal("7"), "7"),
    ("datetime(6)", datetime(2026, 12, 5, 10, 30, 15, 123456), "2026-12-05 10:30:15.123456"),
    ("datetime(3)", datetime(2026, 12, 5, 10, 30, 15, 123000), "2026-12-05 10:30:15.123000"),
    ("datetime", datetime(2026, 12, 5, 10, 30, 15), "2026-12-05 10:30:15"),
    ("timestamp", datetime(2026, 12, 5, 12, 30, tzinfo=timezone(timedelta(hours=2))), "2026-12-05 10:30:00"),
    ("date", date(2026, 12, 5), "2026-12-05"),
    ("time", timedelta(hours=10, minutes=30, seconds=15), "10:30:15"),
    ("time(3)", timedelta(hours=-1, microseconds=500000), "-00:59:59.500"),
    ("time", timedelta(hours=838, minutes=59, seconds=59), "838:59:59"),
    ("year", 2026, "2026"),
    ("enum('new','paid')", "paid", "paid"),
    ("enum('new','paid')", 2, "paid"),  # an ENUM's index
    ("set('a','b','c')", {"c", "a"}, "a,c"),  # python-mysql-replication's SET
    ("set('a','b','c')", "a,c", "a,c"),  # PyMySQL's
    ("json", {"a": [1, 2], "b": None}, '{"a": [1, 2], "b": null}'),
    ("json", {b"k": b"v"}, '{"k": "v"}'),
    ("json", '{"a": 1}', '{"a": 1}'),
    ("varchar(20)", "Zoë 🚀", "Zoë 🚀"),
    ("text", b"bytes text", "bytes text"),
    ("bit(1)", b"\x01", "true"),
    ("bit(1)", "0", "false"),
    ("bit(10)", "0000000101", "0005"),  # BYTES(2)
    ("blob", b"\x00\xffA", "00FF41"),
    ("bigint(20) unsigned", 2**64 - 1, "18446744073709551615"),
    ("tinyint(1)", 1, "1"),
    ("double", 2.5, "2.5"),
    ("float", 0.1, "0.1"),
]


@pytest.mark.parametrize(("mysql_type", "value", "expected"), MYSQL_VALUES)
def test_csv_text_of_mysql_values(mysql_type, value, expected):
    assert csv_text(value, dms_type(mysql_type)) == expected


def test_json_and_utf8mb4_text_in_a_file():
    target, bucket = writer()
    columns = [Column("doc", "json"), Column("name", "varchar(9)")]
    [key] = target.full_load("shop", "t", columns, [({"a": [1, 2]}, "Zoë 🚀")])
    assert bucket.objects[key] == '"{""a"": [1, 2]}",Zoë 🚀\n'.encode()


@pytest.mark.parametrize(
    ("mysql_type", "dms"),
    [
        ("int(11)", "INT4"), ("int(10) unsigned", "UINT4"), ("tinyint(4)", "INT1"), ("smallint unsigned", "UINT2"),
        ("mediumint(9)", "INT4"), ("bigint(20)", "INT8"), ("decimal(10,2)", "NUMERIC"), ("float", "REAL8"),
        ("double", "REAL8"), ("bit(1)", "BOOLEAN"), ("bit(64)", "BYTES"), ("binary(16)", "BYTES"), ("blob", "BYTES"),
        ("longblob", "BLOB"), ("date", "DATE"), ("datetime(6)", "DATETIME"), ("timestamp", "DATETIME"),
        ("time", "TIME"), ("year(4)", "INT2"), ("varchar(45)", "WSTRING"), ("text", "WSTRING"),
        ("longtext", "NCLOB"), ("enum('a','b')", "WSTRING"), ("json", "CLOB"), ("point", "BLOB"), ("", "STRING"),
    ],
)  # fmt: skip
def test_dms_types_of_mysql_types(mysql_type, dms):
    assert dms_type(mysql_type).name == dms


def test_dms_type_details():
    assert (dms_type("decimal(12,3)").precision, dms_type("decimal(12,3)").scale) == (12, 3)
    assert dms_type("bit(64)").length == 8
    assert dms_type("enum('it''s','b,c')").members == ("it's", "b,c")
    assert dms_type("timestamp(6)").utc and dms_type("timestamp(6)").scale == 6


# ---- rendering column by column ---------------------------------------------------------------
# The writer renders a chunk of rows column by column (most of it in C); these hold it to the rules value by value.


def reference_csv(settings: S3TargetSettings, columns: list[Column], rows: list[tuple]) -> str:
    """Rows as CSV by the rules, value by value: csv_text, Rfc4180's quotes, CsvNullValue for NULL (never quoted)."""
    specials = {'"', "\n", "\r", *settings.CsvDelimiter, *settings.CsvRowDelimiter}
    types = [dms_type(column.type) for column in columns]

    def field(value, dtype) -> str:
        text = csv_text(value, dtype)
        if text is None:
            return settings.CsvNullValue
        if settings.Rfc4180 and specials & set(text):
            return '"' + text.replace('"', '""') + '"'
        return text

    delimiter, end = settings.CsvDelimiter, settings.CsvRowDelimiter
    return "".join(delimiter.join(field(v, t) for v, t in zip(row, types, strict=True)) + end for row in rows)


MIXED_COLUMNS = [
    Column("id", "int(11)"), Column("name", "varchar(45)"), Column("price", "decimal(10,2)"), Column("ratio", "double"),
    Column("day", "date"), Column("at", "datetime(6)"), Column("doc", "json"), Column("flag", "bit(1)"),
    Column("raw", "blob"), Column("tier", "enum('a,b','c')"), Column("note", "text"), Column("n", "bigint(20)"),
]  # fmt: skip
PIECES = ["a", "Zoë", "🚀", ",", "|", ";", '"', "\n", "\r", "\r\n", "\t", " ", "", "NULL", ".", "x" * 20]


def mixed_rows(count: int, seed: int = 7) -> list[tuple]:
    """Rows of MIXED_COLUMNS: NULLs, empty strings, quotes, delimiters, line breaks, non-ASCII text."""
    rng = random.Random(seed)

    def text() -> str:
        return "".join(rng.choice(PIECES) for _ in range(rng.randrange(4)))

    def maybe(value):
        return None if rng.random() < 0.15 else value

    return [
        (
            i,  # never NULL: a column of ints only
            maybe(text()),
            maybe(rng.choice([Decimal("12.5"), Decimal("-0.10"), "3.25"])),
            maybe(rng.choice([0.1, 1e20, 2.5])),
            maybe(date(2026, 1, rng.randrange(1, 28))),
            maybe(datetime(2026, 1, 5, 10, 30, 15, rng.choice([0, 123456]))),
            maybe(rng.choice([{"a": text()}, '{"b": 1}'])),
            maybe(rng.choice([b"\x01", b"\x00"])),
            maybe(b"\x00\xff" + text().encode()),
            maybe(rng.choice(["a,b", "c", 1])),
            maybe(text()),
            maybe(rng.choice([str(rng.randrange(-(10**9), 10**9)), "0"])),  # MySQL's text, as the full load reads it
        )
        for i in range(count)
    ]


@pytest.mark.parametrize(
    "s3_settings",
    [
        {},
        {"CsvNullValue": "NULL", "CsvDelimiter": "|"},
        {"CsvNullValue": "a,b"},  # written as it is, never quoted
        {"CsvDelimiter": "||", "CsvRowDelimiter": "\r\n"},
        {"CsvDelimiter": ".", "CsvRowDelimiter": "0"},  # characters numbers are made of: numbers quoted
        {"CsvDelimiter": "\t", "CsvRowDelimiter": ";"},
        {"Rfc4180": False, "CsvNullValue": "\\N"},
    ],
)
def test_full_load_csv_equals_the_rules_value_by_value(s3_settings):
    rows = mixed_rows(2345)  # several chunks of rows
    target, bucket = writer(**s3_settings)
    [key] = target.full_load("shop", "mixed", MIXED_COLUMNS, rows)
    assert bucket.text(key) == reference_csv(target.settings, MIXED_COLUMNS, rows)


def test_cdc_csv_equals_the_rules_value_by_value():
    rows = mixed_rows(50)
    target, bucket = writer(CsvNullValue="NULL")
    changes = [change("I", dict(zip([c.name for c in MIXED_COLUMNS], row, strict=True))) for row in rows]
    [key] = target.cdc(changes, columns={("shop", "orders"): MIXED_COLUMNS})
    assert bucket.text(key) == "".join("I," + reference_csv(target.settings, MIXED_COLUMNS, [row]) for row in rows)


def test_quotes_delimiters_line_breaks_and_non_ascii():
    target, bucket = writer(CsvDelimiter="|", CsvRowDelimiter="\r\n")
    rows = [(1, "a|b"), (2, "a,b"), (3, 'say "hi"'), (4, "cr\ralone"), (5, "lf\nalone"), (6, "crlf\r\n"),
            (7, "Zoë 🚀"), (8, " spaced "), (9, "'single'")]  # fmt: skip
    [key] = target.full_load("shop", "orders", COLUMNS, rows)
    assert bucket.text(key) == (
        '1|"a|b"\r\n2|a,b\r\n3|"say ""hi"""\r\n4|"cr\ralone"\r\n5|"lf\nalone"\r\n6|"crlf\r\n"\r\n'
        "7|Zoë 🚀\r\n8| spaced \r\n9|'single'\r\n"
    )
    target, bucket = writer(CsvDelimiter="||")
    [key] = target.full_load("shop", "orders", COLUMNS, [(1, "a|b"), (2, "a||b")])
    assert bucket.text(key) == '1||"a|b"\n2||"a||b"\n'  # any character of the delimiter


@pytest.mark.parametrize(
    ("s3_settings", "expected"),
    [
        ({}, "1,\n2,\n3,\n"),  # by default NULL and the empty string are both an empty field
        ({"CsvNullValue": "NULL"}, "1,\n2,NULL\n3,NULL\n"),
        ({"CsvNullValue": "a,b"}, "1,\n2,a,b\n3,a,b\n"),  # the NULL value is not quoted
        ({"CsvNullValue": '""'}, '1,\n2,""\n3,""\n'),
    ],
)
def test_null_and_the_empty_string(s3_settings, expected):
    target, bucket = writer(**s3_settings)
    [key] = target.full_load("shop", "orders", COLUMNS, [(1, ""), (2, None), (3, None)])
    assert bucket.text(key) == expected


def test_a_single_column_of_empty_strings_and_nulls():
    target, bucket = writer(CsvNullValue="NULL")
    [key] = target.full_load("shop", "t", [Column("name", "varchar(9)")], [("",), (None,), ("",)])
    assert bucket.text(key) == "\nNULL\n\n"  # an empty string is an empty line, not "" as Python's csv writes it


def test_mysql_text_of_integers_and_decimals_is_written_as_typed_values_are():
    columns = [Column("id", "int(11)"), Column("n", "bigint(20) unsigned"), Column("price", "decimal(10,2)")]
    typed = [(1, 2**64 - 1, Decimal("12.50")), (-2, 0, Decimal("-0.10")), (None, None, None)]
    text = [("1", "18446744073709551615", "12.50"), ("-2", "0", "-0.10"), (None, None, None)]
    for data_format in ("csv", "parquet"):
        written = []
        for rows in (typed, text):
            target, bucket = writer(DataFormat=data_format)
            [key] = target.full_load("shop", "t", columns, rows)
            written.append(bucket.objects[key])
        assert written[0] == written[1]
    assert written[0] == written[1] and pq.read_table(io.BytesIO(written[1])).to_pylist()[0] == {
        "id": 1, "n": 2**64 - 1, "price": Decimal("12.50")}  # fmt: skip


def test_max_file_size_splits_the_same_within_and_across_chunks():
    rows = [(i, "x" * (i % 97)) for i in range(5000)]  # lines of 2 to 101 characters
    target, bucket = writer(MaxFileSize=7, IncludeOpForFullLoad=True, TimestampColumnName="ts")
    keys = target.full_load("shop", "orders", COLUMNS, rows)
    files = [bucket.text(key) for key in keys]
    expected, lines, size = [], [], 0  # line by line: a new file when the next line would pass 7 KB
    for line in reference_csv(target.settings, COLUMNS, rows).splitlines(keepends=True):
        line = "I,2026-01-05 10:30:15.123456," + line
        if lines and size + len(line) > 7 * 1024:
            expected.append("".join(lines))
            lines, size = [], 0
        lines.append(line)
        size += len(line)
    expected.append("".join(lines))
    assert files == expected and len(files) > 10


def test_rows_of_other_lengths_and_columns_all_removed():
    target, bucket = writer()
    [key] = target.full_load("shop", "orders", COLUMNS, [(1, "pen", "ignored"), [2, "ink"], (3, None)])
    assert bucket.text(key) == "1,pen\n2,ink\n3,\n"  # values past the table's columns are not written
    mappings = table_mappings.parse(
        '{"rules": [{"rule-type": "selection", "rule-id": "1", "rule-action": "include",'
        ' "object-locator": {"schema-name": "shop", "table-name": "%"}},'
        '{"rule-type": "transformation", "rule-id": "2", "rule-target": "column", "rule-action": "remove-column",'
        ' "object-locator": {"schema-name": "shop", "table-name": "orders", "column-name": "%"}}]}'
    )
    target, bucket = writer(mappings=mappings, IncludeOpForFullLoad=True)
    [key] = target.full_load("shop", "orders", COLUMNS, [(1, "pen"), (2, "ink")])
    assert bucket.text(key) == "I,\nI,\n"


# ---- GZIP and Parquet ------------------------------------------------------------------------


def test_gzip_csv_round_trip():
    target, bucket = writer(CompressionType="GZIP", AddColumnName=True)
    [key] = target.full_load("shop", "orders", COLUMNS, [(1, "pen")])
    assert key == "shop/orders/LOAD00000001.csv.gz"
    assert gzip.decompress(bucket.objects[key]).decode() == "id,name\n1,pen\n"


PARQUET_COLUMNS = [
    Column("i1", "tinyint(4)"), Column("u2", "smallint(5) unsigned"), Column("i4", "int(11)"),
    Column("u8", "bigint(20) unsigned"), Column("price", "decimal(10,2)"), Column("ratio", "double"),
    Column("day", "date"), Column("at", "datetime(6)"), Column("took", "time"), Column("flag", "bit(1)"),
    Column("raw", "varbinary(8)"), Column("doc", "json"), Column("tags", "set('a','b')"), Column("name", "varchar(9)"),
]  # fmt: skip
PARQUET_ROW = (
    -3, 65535, 7, 2**64 - 1, Decimal("9.99"), 0.5, date(2026, 1, 5), datetime(2026, 1, 5, 10, 0, 0, 654321),
    timedelta(minutes=90), b"\x01", b"\x00\x01", {"k": 1}, {"b", "a"}, "Zoë",
)  # fmt: skip


def test_parquet_types_and_values_round_trip():
    target, bucket = writer(DataFormat="parquet", IncludeOpForFullLoad=True, TimestampColumnName="ts")
    [key] = target.full_load("shop", "typed", PARQUET_COLUMNS, [PARQUET_ROW, (None,) * len(PARQUET_COLUMNS)])
    assert key == "shop/typed/LOAD00000001.parquet"
    table = pq.read_table(io.BytesIO(bucket.objects[key]))
    assert table.schema.types == [
        pa.string(), pa.string(), pa.int8(), pa.uint16(), pa.int32(), pa.uint64(), pa.decimal128(10, 2), pa.float64(),
        pa.date32(), pa.timestamp("us"), pa.string(), pa.bool_(), pa.binary(), pa.string(), pa.string(), pa.string(),
    ]  # fmt: skip
    assert table.column_names[:2] == ["Op", "ts"]
    first, empty = table.to_pylist()
    assert list(first.values()) == [
        "I", "2026-01-05 10:30:15.123456", -3, 65535, 7, 2**64 - 1, Decimal("9.99"), 0.5, date(2026, 1, 5),
        datetime(2026, 1, 5, 10, 0, 0, 654321), "01:30:00", True, b"\x00\x01", '{"k": 1}', "a,b", "Zoë",
    ]  # fmt: skip
    assert list(empty.values())[2:] == [None] * len(PARQUET_COLUMNS)


def test_parquet_settings_gzip_milliseconds_version_statistics():
    target, bucket = writer(DataFormat="parquet", CompressionType="GZIP", ParquetTimestampInMillisecond=True,
                            ParquetVersion="parquet-2-0", EnableStatistics=False)  # fmt: skip
    columns = [Column("at", "datetime(6)"), Column("n", "int(10) unsigned")]
    [key] = target.full_load("shop", "t", columns, [(datetime(2026, 1, 5, 10, 0, 0, 654321), 4000000000)])
    assert key == "shop/t/LOAD00000001.parquet"  # GZIP is the Parquet codec, not the file's
    parquet = pq.ParquetFile(io.BytesIO(bucket.objects[key]))
    assert parquet.metadata.row_group(0).column(0).compression == "GZIP"
    assert parquet.metadata.row_group(0).column(0).is_stats_set is False
    assert parquet.schema_arrow.types == [pa.timestamp("ms"), pa.uint32()]
    assert parquet.read().to_pylist() == [{"at": datetime(2026, 1, 5, 10, 0, 0, 654000), "n": 4000000000}]


def test_parquet_cdc_file():
    target, bucket = writer(DataFormat="parquet")
    target.full_load("shop", "orders", COLUMNS, [])
    [key] = target.cdc([change("I", {"id": 1, "name": "a"}), change("D", {"id": 1, "name": "a"})])
    assert key == "shop/orders/20260105-103015123.parquet"
    assert pq.read_table(io.BytesIO(bucket.objects[key])).to_pylist() == [
        {"Op": "I", "id": 1, "name": "a"},
        {"Op": "D", "id": 1, "name": "a"},
    ]


# ---- date partitions -------------------------------------------------------------------------


def test_date_partition_folders():
    target, _ = writer(DatePartitionEnabled=True)
    assert target.full_load("shop", "orders", COLUMNS, [(1, "a")]) == ["shop/orders/2026/01/05/LOAD00000001.csv"]
    late = datetime(2026, 1, 4, 23, 59, tzinfo=UTC)
    keys = target.cdc([change("I", {"id": 1, "name": "a"}, at=late), change("I", {"id": 2, "name": "b"})])
    assert keys == ["shop/orders/2026/01/04/20260105-103015123.csv", "shop/orders/2026/01/05/20260105-103015123.csv"]


@pytest.mark.parametrize(
    ("sequence", "delimiter", "folder"),
    [
        ("YYYYMMDDHH", "DASH", "2026-01-05-10"),
        ("YYYYMM", "UNDERSCORE", "2026_01"),
        ("MMYYYYDD", "SLASH", "01/2026/05"),
        ("DDMMYYYY", "NONE", "05012026"),
    ],
)
def test_date_partition_sequences_and_delimiters(sequence, delimiter, folder):
    target, _ = writer(DatePartitionEnabled=True, DatePartitionSequence=sequence, DatePartitionDelimiter=delimiter)
    assert target.full_load("shop", "orders", COLUMNS, [(1, "a")]) == [f"shop/orders/{folder}/LOAD00000001.csv"]


def test_date_partition_timezone():
    evening = Clock(datetime(2026, 1, 5, 20, 0, 0, tzinfo=UTC))  # already the 6th in Seoul (UTC+9)
    target, _ = writer(evening, DatePartitionEnabled=True, DatePartitionTimezone="Asia/Seoul")
    assert target.cdc([change("I", {"id": 1, "name": "a"}, at=evening.now)]) == [
        "shop/orders/2026/01/06/20260106-050000000.csv"
    ]


def test_cdc_files_follow_a_tables_new_column_in_csv_and_parquet():
    for data_format in ("csv", "parquet"):
        target, bucket = writer(AddColumnName=True, DataFormat=data_format)
        target.full_load("shop", "orders", COLUMNS, [(1, "pen")])
        [before] = target.cdc([change("I", {"id": 2, "name": "ink"})])
        altered = [*COLUMNS, Column("price", "decimal(5,2)")]
        [after] = target.cdc([change("I", {"id": 3, "name": "nib", "price": Decimal("1.50")})],
                             columns={("shop", "orders"): altered})  # fmt: skip
        if data_format == "csv":
            assert bucket.text(before) == "Op,id,name\nI,2,ink\n"
            assert bucket.text(after) == "Op,id,name,price\nI,3,nib,1.50\n"
        else:
            table = pq.read_table(io.BytesIO(bucket.objects[after]))
            assert table.column_names == ["Op", "id", "name", "price"]
            assert table.to_pylist() == [{"Op": "I", "id": 3, "name": "nib", "price": Decimal("1.50")}]


# ---- table mappings --------------------------------------------------------------------------


def test_writer_applies_the_table_mappings():
    mappings = table_mappings.parse(
        '{"rules": ['
        '{"rule-type": "selection", "rule-id": "1", "object-locator": {"schema-name": "shop", "table-name": "%"},'
        ' "rule-action": "include"},'
        '{"rule-type": "transformation", "rule-id": "2", "rule-target": "table", "rule-action": "rename",'
        ' "object-locator": {"schema-name": "shop", "table-name": "orders"}, "value": "sales"},'
        '{"rule-type": "transformation", "rule-id": "3", "rule-target": "column", "rule-action": "remove-column",'
        ' "object-locator": {"schema-name": "shop", "table-name": "orders", "column-name": "secret"}},'
        '{"rule-type": "transformation", "rule-id": "4", "rule-target": "column", "rule-action": "convert-uppercase",'
        ' "object-locator": {"schema-name": "shop", "table-name": "orders", "column-name": "name"}}]}'
    )
    target, bucket = writer(mappings=mappings, AddColumnName=True)
    columns = [*COLUMNS, Column("secret", "varchar(9)")]
    [load] = target.full_load("shop", "orders", columns, [(1, "pen", "x")])
    [cdc] = target.cdc([change("U", {"id": 1, "name": "ink", "secret": "y"})])
    assert (load, bucket.text(load)) == ("shop/sales/LOAD00000001.csv", "id,NAME\n1,pen\n")
    assert (cdc, bucket.text(cdc)) == ("shop/sales/20260105-103015123.csv", "Op,id,NAME\nU,1,ink\n")


# ---- batching --------------------------------------------------------------------------------


def test_batch_is_due_after_the_max_interval():
    clock = Clock()
    batcher = CdcBatcher(S3TargetSettings.from_endpoint({"CdcMaxBatchInterval": 10}), clock)
    assert not batcher.due() and batcher.deadline is None
    batcher.add(change("I", {"id": 1}))
    clock.now += timedelta(seconds=9)
    batcher.add(change("I", {"id": 2}))
    assert not batcher.due()
    assert batcher.deadline == NOW + timedelta(seconds=10)
    assert batcher.due(NOW + timedelta(seconds=10))
    assert [c.values["id"] for c in batcher.take()] == [1, 2]
    assert not batcher.due(NOW + timedelta(hours=1)) and batcher.deadline is None


def test_batch_is_due_at_the_min_file_size_whichever_comes_first():
    batcher = CdcBatcher(S3TargetSettings.from_endpoint({"CdcMinFileSize": 1}), Clock())  # 1 KB
    transaction = Transaction([change("I", {"id": 1, "name": "x" * 600})], Position("binlog.000001", 4), NOW)
    batcher.add(transaction)
    assert not batcher.due()
    batcher.add(transaction)
    assert batcher.due()  # 1 KB before the 60 s default
    assert batcher.take() == [transaction, transaction]

"""A DMS S3 target: the objects DMS writes for a table's full load and for its captured changes.

`S3TargetSettings.from_endpoint` reads an endpoint's S3Settings and extra connection attributes
with AWS's defaults; `S3TargetWriter` renders rows as DMS does (CSV or Parquet, optionally GZIP)
and hands each object to `put_object(bucket, key, body)`; `CdcBatcher` says when captured changes
are due to be written. No AWS calls here: the engine passes a put_object (and the list_keys and
delete_keys that TargetTablePrepMode needs) bound to the endpoint's role.

What AWS documents and this follows, from "Using Amazon S3 as a target for AWS Database Migration
Service" (DMS User Guide) and the S3Settings API reference:
- keys `BucketFolder/schema/table/LOAD00000001.csv`, a hexadecimal counter (LOAD0000000A after
  LOAD00000009), a new .csv file when MaxFileSize (KB) would be passed; no file for an empty table;
  CDC files named by time, one per table per batch (see `cdc_file_name`).
- "Indicating source DB operations in migrated S3 data": the Op column (I, U, D) first, by
  IncludeOpForFullLoad, CdcInsertsOnly and CdcInsertsAndUpdates (`op_columns`).
- TimestampColumnName: a STRING column `yyyy-MM-dd HH:mm:ss.SSSSSS`, the commit time for CDC,
  the time the rows were written for a full load (the task's start with
  UseTaskStartTimeForFullLoadTimestamp).
- AddColumnName: a header row. Rfc4180 (default true): a value with a quote, the delimiter or a
  line break is enclosed in double quotes and its quotes doubled. CsvNullValue for NULL.
- "Using date-based folder partitioning": DatePartitionSequence / DatePartitionDelimiter folders
  under the table's, from the commit date (DatePartitionTimezone converts from UTC).
- CdcMaxBatchInterval (s) / CdcMinFileSize (KB): a CDC file is written when either is reached.
- The task's TargetTablePrepMode ("Full-load task settings"; ReloadTables applies it too): before a
  table is loaded, DROP_AND_CREATE (the default) and TRUNCATE_BEFORE_LOAD remove the table's objects
  (as a truncate DDL "removes all files and corresponding table folders"), DO_NOTHING keeps them.
- "Source data types for MySQL" then "Target data types for S3 Parquet": each MySQL type becomes a
  DMS type (`dms_type`), which decides its CSV text and its Parquet type.
Where AWS does not document the exact text, the choice made is said in docs/local-aws/dms-s3-target.md.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.parquet as pq

# What the text of these DMS types is made of (digits, signs, separators, hex, true/false, inf/nan).
_INT_KINDS = ("INT1", "INT2", "INT4", "INT8", "UINT1", "UINT2", "UINT4", "UINT8")
PLAIN_TYPES = (*_INT_KINDS, "NUMERIC", "REAL4", "REAL8", "DATE", "DATETIME", "BOOLEAN", "BYTES", "BLOB")
PLAIN_CHARACTERS = set("0123456789+-.: abcdefilnrstuABCDEF")
TABLE_PREP_MODES = ("DROP_AND_CREATE", "TRUNCATE_BEFORE_LOAD", "DO_NOTHING")
LOAD_FILE = re.compile(r"(?:^|/)LOAD([0-9A-F]{8})\.[^/]*$")
DATE_SEQUENCES = {"YYYYMMDD": "YMD", "YYYYMMDDHH": "YMDH", "YYYYMM": "YM", "MMYYYYDD": "MYD", "DDMMYYYY": "DMY"}
DATE_DELIMITERS = {"SLASH": "/", "DASH": "-", "UNDERSCORE": "_", "NONE": ""}


class S3SettingsError(ValueError):
    """An S3 endpoint setting has a value AWS refuses, or one local AWS does not implement."""


class ColumnLike(Protocol):
    name: str
    type: str  # information_schema COLUMN_TYPE: int(11) unsigned, decimal(10,2), datetime(6), enum('a','b') ...


class ChangeLike(Protocol):
    op: str  # I, U or D
    schema: str
    table: str
    values: dict | tuple | list  # the row after the change (before it, for D), by column name or in column order
    commit_time: datetime


# ---- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3TargetSettings:
    """An S3 target endpoint's settings, by AWS's S3Settings names, with AWS's defaults."""

    BucketName: str = ""
    BucketFolder: str = ""
    DataFormat: str = "csv"  # csv | parquet
    CompressionType: str = "NONE"  # NONE | GZIP
    AddColumnName: bool = False
    IncludeOpForFullLoad: bool = False
    CdcInsertsOnly: bool = False
    CdcInsertsAndUpdates: bool = False
    TimestampColumnName: str = ""
    UseTaskStartTimeForFullLoadTimestamp: bool = False
    CsvDelimiter: str = ","
    CsvRowDelimiter: str = "\n"
    CsvNullValue: str = ""  # AWS's default "NULL" is no substitute string: a NULL is an empty field
    Rfc4180: bool = True
    MaxFileSize: int = 1048576  # KB, full load
    CdcMaxBatchInterval: int = 60  # seconds
    CdcMinFileSize: int = 32000  # KB
    DatePartitionEnabled: bool = False
    DatePartitionSequence: str = "YYYYMMDD"
    DatePartitionDelimiter: str = "SLASH"
    DatePartitionTimezone: str = ""
    ParquetVersion: str = "PARQUET_1_0"
    EnableStatistics: bool = True
    EncodingType: str = "rle-dictionary"
    DictPageSizeLimit: int = 1024000
    RowGroupLength: int = 10024
    DataPageSize: int = 1024000
    ParquetTimestampInMillisecond: bool = False
    PreserveTransactions: bool = False

    @classmethod
    def from_endpoint(cls, s3_settings: dict | None, extra_connection_attributes: str | None = None):
        """The endpoint's S3Settings over its extra connection attributes ("key=value;..."), checked."""
        known = {f.name.lower(): f for f in fields(cls)}
        given: dict[str, Any] = {}
        for key, value in _attributes(extra_connection_attributes).items():
            if key.lower() in known:
                given[known[key.lower()].name] = value
        for key, value in (s3_settings or {}).items():
            if key.lower() in known and value is not None:
                given[known[key.lower()].name] = value
        values = {}
        for name, value in given.items():
            default = getattr(cls, name)
            if isinstance(default, bool):
                values[name] = _boolean(name, value)
            elif isinstance(default, int):
                values[name] = _integer(name, value)
            else:
                values[name] = _unescape(str(value)) if name in ("CsvDelimiter", "CsvRowDelimiter") else str(value)
        return cls(**values)._checked()

    def _checked(self) -> S3TargetSettings:
        fixed = {
            "DataFormat": self.DataFormat.lower(),
            "CompressionType": self.CompressionType.upper(),
            "ParquetVersion": self.ParquetVersion.upper().replace("-", "_"),
            "EncodingType": self.EncodingType.lower().replace("_", "-"),
            "DatePartitionSequence": self.DatePartitionSequence.upper(),
            "DatePartitionDelimiter": self.DatePartitionDelimiter.upper(),
        }
        allowed = {
            "DataFormat": ("csv", "parquet"),
            "CompressionType": ("NONE", "GZIP"),
            "ParquetVersion": ("PARQUET_1_0", "PARQUET_2_0"),
            "EncodingType": ("plain", "plain-dictionary", "rle-dictionary"),
            "DatePartitionSequence": tuple(DATE_SEQUENCES),
            "DatePartitionDelimiter": tuple(DATE_DELIMITERS),
        }
        for name, value in fixed.items():
            if value not in allowed[name]:
                raise S3SettingsError(
                    f"Invalid {name} {getattr(self, name)!r}; valid values: {', '.join(allowed[name])}"
                )
        if self.CdcInsertsOnly and self.CdcInsertsAndUpdates:
            raise S3SettingsError(
                "CdcInsertsOnly and CdcInsertsAndUpdates can't both be set to true for the same endpoint"
            )
        if not 1 <= self.MaxFileSize <= 1048576:
            raise S3SettingsError(f"Invalid MaxFileSize {self.MaxFileSize}; valid values: 1-1048576 (KB)")
        if self.CdcMaxBatchInterval < 0 or self.CdcMinFileSize < 0:
            raise S3SettingsError("CdcMaxBatchInterval and CdcMinFileSize can't be negative")
        if not self.CsvDelimiter:
            raise S3SettingsError("CsvDelimiter can't be empty")
        if self.DatePartitionTimezone:
            try:
                ZoneInfo(self.DatePartitionTimezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise S3SettingsError(
                    f"Invalid DatePartitionTimezone {self.DatePartitionTimezone!r}; use Area/Location, e.g. Asia/Seoul"
                ) from None
        if self.PreserveTransactions:
            raise S3SettingsError(
                "PreserveTransactions (CDC files in transaction order) is not implemented by local AWS"
            )
        return S3TargetSettings(**{**self.__dict__, **fixed})

    def op_columns(self) -> tuple[bool, bool, str]:
        """(Op column in full load files, Op column in CDC files, the ops CDC files keep), as the tables of
        "Indicating source DB operations in migrated S3 data" set them."""
        if self.CdcInsertsOnly:
            return self.IncludeOpForFullLoad, self.IncludeOpForFullLoad, "I"
        if self.CdcInsertsAndUpdates:
            return self.IncludeOpForFullLoad, True, "IU"
        return self.IncludeOpForFullLoad, True, "IUD"


def _attributes(text: str | None) -> dict[str, str]:
    attributes = {}
    for part in (text or "").split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            attributes[key.strip()] = value.strip()
    return attributes


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "y", "yes", "1"):
        return True
    if text in ("false", "n", "no", "0"):
        return False
    raise S3SettingsError(f"Invalid {name} {value!r}; valid values: true, false, y, n")


def _integer(name: str, value: Any) -> int:
    try:
        return int(str(value).replace(",", ""))
    except ValueError:
        raise S3SettingsError(f"Invalid {name} {value!r}; expected a whole number") from None


def _unescape(text: str) -> str:
    # extra connection attributes spell a newline as \n (csvRowDelimiter=\n)
    return text.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")


# ---- types -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DmsType:
    """A DMS data type ("Source data types for MySQL"): its name, and what of the MySQL type matters.

    Names are DMS's (INT1 ... UINT8, NUMERIC, REAL8, DATE, DATETIME, BOOLEAN, BYTES, BLOB, WSTRING, CLOB,
    NCLOB, STRING), but for TIME: DMS makes MySQL's TIME a STRING, kept apart here for its text.
    """

    name: str
    precision: int = 0
    scale: int = 0  # NUMERIC's scale; fractional-second digits of DATETIME and TIME
    members: tuple[str, ...] = ()  # ENUM / SET members, in definition order
    length: int = 0  # bytes of a BIT(n) > 1 (BYTES)
    utc: bool = False  # MySQL TIMESTAMP: written in UTC


_INTS = {"tinyint": 1, "smallint": 2, "mediumint": 4, "int": 4, "integer": 4, "bigint": 8}
_SIMPLE = {
    "float": "REAL8", "double": "REAL8", "real": "REAL8", "date": "DATE", "year": "INT2",
    "char": "WSTRING", "varchar": "WSTRING", "tinytext": "WSTRING", "text": "WSTRING",
    "mediumtext": "NCLOB", "longtext": "NCLOB", "json": "CLOB",
    "binary": "BYTES", "varbinary": "BYTES", "tinyblob": "BYTES", "blob": "BYTES",
    "mediumblob": "BLOB", "longblob": "BLOB", "geometry": "BLOB", "point": "BLOB", "linestring": "BLOB",
    "polygon": "BLOB", "multipoint": "BLOB", "multilinestring": "BLOB", "multipolygon": "BLOB",
    "geometrycollection": "BLOB",
}  # fmt: skip


def dms_type(mysql_type: str) -> DmsType:
    """The DMS type of a MySQL COLUMN_TYPE, by "Source data types for MySQL"; "" (unknown) is STRING."""
    text = (mysql_type or "").strip()
    match = re.match(r"(\w+)\s*(?:\((.*)\))?", text)
    if not match:
        return DmsType("STRING")
    base, args = match[1].lower(), match[2] or ""
    numbers = [int(n) for n in re.findall(r"\d+", args)] if base not in ("enum", "set") else []
    if base in _INTS:
        return DmsType(f"{'UINT' if 'unsigned' in text.lower() else 'INT'}{_INTS[base]}")
    if base in ("decimal", "numeric", "dec", "fixed"):
        precision = numbers[0] if numbers else 10
        return DmsType("NUMERIC", precision, numbers[1] if len(numbers) > 1 else 0)
    if base in ("datetime", "timestamp"):
        return DmsType("DATETIME", scale=numbers[0] if numbers else 0, utc=base == "timestamp")
    if base == "time":  # DMS: TIME is a STRING, MySQL's text of it
        return DmsType("TIME", scale=numbers[0] if numbers else 0)
    if base == "bit":
        bits = numbers[0] if numbers else 1
        return DmsType("BOOLEAN") if bits == 1 else DmsType("BYTES", length=(bits + 7) // 8)
    if base in ("enum", "set"):
        members = tuple(m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", args))
        return DmsType("WSTRING", members=members)
    return DmsType(_SIMPLE.get(base, "STRING"))


def _seconds_text(value: datetime | time, scale: int) -> str:
    return f".{value.microsecond:06d}"[: scale + 1] if scale else ""


def _time_text(value: Any, scale: int) -> str:
    if isinstance(value, timedelta):  # MySQL TIME: -838:59:59 to 838:59:59
        sign, total = ("-", -value) if value < timedelta(0) else ("", value)
        seconds = int(total.total_seconds())
        fraction = f".{total.microseconds:06d}"[: scale + 1] if scale else ""
        return f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{fraction}"
    if isinstance(value, time):
        return value.strftime("%H:%M:%S") + _seconds_text(value, scale)
    return str(value)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _plain(value: Any) -> Any:
    """JSON as python-mysql-replication decodes it may hold bytes; MySQL's text of it holds strings."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def csv_text(value: Any, dtype: DmsType) -> str | None:
    """A value as DMS writes it in a .csv file, before quoting; None for NULL."""
    if value is None:
        return None
    kind = dtype.name
    if kind == "BOOLEAN":
        if isinstance(value, bytes):
            value = int.from_bytes(value, "big")
        elif isinstance(value, str):
            value = int(value, 2) if value.strip("01") == "" and value else value.lower() in ("true", "t", "y")
        return "true" if value else "false"
    if kind.startswith(("INT", "UINT")):
        return str(int(value))
    if kind == "NUMERIC":
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return f"{number:.{dtype.scale}f}"
    if kind in ("BYTES", "BLOB"):
        return _bytes(value, dtype).hex().upper()
    if kind == "TIME":
        return _time_text(value, dtype.scale)
    if isinstance(value, datetime):
        value = _utc(value)
        scale = dtype.scale if kind == "DATETIME" else 6 if value.microsecond else 0
        return value.isoformat(" ", "microseconds" if scale else "seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta | time):
        return _time_text(value, 6)
    if isinstance(value, set | frozenset):  # SET, as python-mysql-replication reads it
        order = {m: i for i, m in enumerate(dtype.members)}
        return ",".join(sorted(value, key=lambda m: (order.get(m, len(order)), m)))
    if isinstance(value, int) and not isinstance(value, bool) and dtype.members and kind == "WSTRING":
        return dtype.members[value - 1] if 0 < value <= len(dtype.members) else ""  # an ENUM's index
    if isinstance(value, dict | list):
        return json.dumps(_plain(value), ensure_ascii=False)
    if isinstance(value, bytes):
        return value.decode("utf-8") if kind in ("WSTRING", "STRING", "CLOB", "NCLOB") else value.hex().upper()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def csv_renderer(dtype: DmsType) -> Callable[[Any], str | None]:
    """csv_text for one column, with a shortcut for the Python type its values usually have."""
    kind = dtype.name

    def slow(value: Any) -> str | None:
        return csv_text(value, dtype)

    if kind.startswith(("INT", "UINT")):
        return lambda value: str(value) if type(value) is int else slow(value)
    if kind in ("WSTRING", "STRING", "CLOB", "NCLOB"):
        return lambda value: value if type(value) is str else slow(value)
    if kind == "NUMERIC":
        spec = f".{dtype.scale}f"
        return lambda value: format(value, spec) if type(value) is Decimal else slow(value)
    if kind == "DATETIME" and not dtype.utc:
        spec = "microseconds" if dtype.scale else "seconds"
        return lambda value: value.isoformat(" ", spec) if type(value) is datetime and not value.tzinfo else slow(value)
    if kind == "DATE":
        return lambda value: value.isoformat() if type(value) is date else slow(value)
    if kind in ("REAL4", "REAL8"):
        return lambda value: repr(value) if type(value) is float else slow(value)
    return slow


def _bytes(value: Any, dtype: DmsType) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and dtype.length and value and value.strip("01") == "":  # BIT(n) as '0101...'
        return int(value, 2).to_bytes(dtype.length, "big")
    if isinstance(value, int):
        return value.to_bytes(dtype.length or max(1, (value.bit_length() + 7) // 8), "big")
    return str(value).encode()


def arrow_type(dtype: DmsType, timestamp_unit: str = "us") -> pa.DataType:
    """The Parquet column type of a DMS type ("Target data types for S3 Parquet")."""
    kind = dtype.name
    ints = {"INT1": pa.int8(), "INT2": pa.int16(), "INT4": pa.int32(), "INT8": pa.int64(),
            "UINT1": pa.uint8(), "UINT2": pa.uint16(), "UINT4": pa.uint32(), "UINT8": pa.uint64()}  # fmt: skip
    if kind in ints:
        return ints[kind]
    if kind == "NUMERIC" and 0 < dtype.precision <= 38:
        return pa.decimal128(dtype.precision, dtype.scale)
    return {
        "REAL4": pa.float32(),
        "REAL8": pa.float64(),
        "DATE": pa.date32(),
        "DATETIME": pa.timestamp(timestamp_unit),
        "BOOLEAN": pa.bool_(),
        "BYTES": pa.binary(),
        "BLOB": pa.binary(),
    }.get(kind, pa.string())


def arrow_converter(dtype: DmsType, arrow: pa.DataType) -> Callable[[Any], Any]:
    """For one column: a value as pyarrow takes it for the column's Parquet type (None for NULL)."""
    if pa.types.is_string(arrow):
        return csv_renderer(dtype)
    if pa.types.is_boolean(arrow):
        return lambda value: None if value is None else csv_text(value, dtype) == "true"
    if pa.types.is_integer(arrow):
        return lambda value: value if value is None or type(value) is int else int(value)
    if pa.types.is_decimal(arrow):
        return lambda value: value if value is None or type(value) is Decimal else Decimal(csv_text(value, dtype))
    if pa.types.is_floating(arrow):
        return lambda value: value if value is None or type(value) is float else float(value)
    if pa.types.is_binary(arrow):
        return lambda value: None if value is None else _bytes(value, dtype)
    if pa.types.is_date(arrow):
        return lambda value: value if value is None or type(value) is date else _parsed(value, date.fromisoformat)
    milliseconds = pa.types.is_timestamp(arrow) and arrow.unit == "ms"

    def moment(value: Any) -> datetime | None:
        if value is None:
            return None
        moment = _utc(value) if isinstance(value, datetime) else _parsed(value, datetime.fromisoformat)
        if moment is not None and milliseconds:
            moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        return moment

    return moment


def _parsed(value: Any, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(str(value))
    except ValueError:  # MySQL's zero dates: "recorded as null on the target" ("Source data types for MySQL")
        return None


# ---- writing ---------------------------------------------------------------------------------

CHUNK_ROWS = 1_000  # full-load rows rendered at a time (zip transposes small chunks faster: fewer live iterators)

# Column by column, values of these Python types already are their CSV text (`_Layout.texts` keeps them):
# a string; in an integer or DECIMAL column, MySQL's text of the number, which is how the full load reads
# them (source_mysql.TEXT_NUMBERS) and is DMS's text too (digits; a DECIMAL(p,s) with its s decimals).
_TEXT_AS_IS = {kind: {str} for kind in ("WSTRING", "STRING", "CLOB", "NCLOB", "NUMERIC", *_INT_KINDS)}
# ... and of these, str() is their text: an int's digits, a float's shortest round trip (repr), a date's ISO form.
_TEXT_BY_STR = {**dict.fromkeys(_INT_KINDS, {int}), "REAL4": {float}, "REAL8": {float}, "DATE": {date}}


def _stamp(moment: datetime) -> str:
    return _utc(moment).isoformat(" ", "microseconds")  # TimestampColumnName: yyyy-MM-dd HH:mm:ss.SSSSSS


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield chunk


class S3TargetWriter:
    """Writes one task's tables to its S3 target endpoint, as DMS does.

    `mappings` (table_mappings.TableMappings), when given, renames schemas, tables and columns and
    drops removed columns; full_load and cdc then take source names. `clock` gives the current time
    (UTC); `task_start` is the task's start, for UseTaskStartTimeForFullLoadTimestamp.
    `table_prep_mode` (the task's TargetTablePrepMode) says what happens to a table's objects before it
    is loaded, through `list_keys(bucket, prefix)` and `delete_keys(bucket, keys)` (without them: nothing).
    """

    def __init__(
        self,
        settings: S3TargetSettings,
        put_object: Callable[[str, str, bytes], None],
        clock: Callable[[], datetime] | None = None,
        mappings=None,
        task_start: datetime | None = None,
        table_prep_mode: str = "DROP_AND_CREATE",
        list_keys: Callable[[str, str], list[str]] | None = None,
        delete_keys: Callable[[str, list[str]], None] | None = None,
    ):
        self.settings = settings
        self.put_object = put_object
        self.clock = clock or (lambda: datetime.now(UTC))
        self.mappings = mappings
        self.task_start = task_start or self.clock()
        self.table_prep_mode = table_prep_mode
        self.list_keys = list_keys
        self.delete_keys = delete_keys
        self._columns: dict[tuple[str, str], list[ColumnLike]] = {}
        self._last_batch: datetime | None = None

    # -- full load -----------------------------------------------------------------------------

    def full_load(self, schema: str, table: str, columns: list[ColumnLike], rows: Iterable[tuple]) -> list[str]:
        """The table's rows as LOAD files (none for an empty table); the keys written.

        First the table's objects are prepared (TargetTablePrepMode): dropped, and the LOAD files numbered from
        LOAD00000001 again; or, with DO_NOTHING, kept, the new LOAD files numbered after the highest one there.
        Rows are rendered CHUNK_ROWS at a time, column by column (`_Layout.texts`)."""
        self._columns[(schema, table)] = list(columns)
        layout = self._layout(schema, table, columns)
        first = self._prepare(layout)
        with_op, _, _ = self.settings.op_columns()
        if self.settings.DataFormat == "parquet":  # a Parquet full load is one file
            values: list[list] = [[] for _ in layout.names]
            count = 0
            for chunk in _chunks(rows, CHUNK_ROWS):
                for column, chunk_column in zip(values, layout.columns(chunk), strict=True):
                    column += chunk_column
                count += len(chunk)
            return [self._write_load(layout, first, with_op, values, count)] if count else []
        # MaxFileSize is "the maximum size (in KB) of any .csv file": it counts the uncompressed text
        # (characters) of each file's rows.
        limit, overhead = self.settings.MaxFileSize * 1024, layout.prefix_size(with_op)
        keys: list[str] = []
        lines: list[str] = []
        size = 0
        for chunk in _chunks(rows, CHUNK_ROWS):
            chunk_lines = layout.lines(layout.columns(chunk), len(chunk))
            chunk_size = overhead * len(chunk_lines) + sum(map(len, chunk_lines))
            if size + chunk_size <= limit:  # the whole chunk fits in this file (always, at the default 1 GB)
                lines += chunk_lines
                size += chunk_size
                continue
            for line in chunk_lines:  # the file fills up within this chunk: line by line
                length = overhead + len(line)
                if lines and size + length > limit:
                    keys.append(self._write_load(layout, first + len(keys), with_op, lines, len(lines)))
                    lines, size = [], 0
                lines.append(line)
                size += length
        if lines:
            keys.append(self._write_load(layout, first + len(keys), with_op, lines, len(lines)))
        return keys

    def _prepare(self, layout: _Layout) -> int:
        """TargetTablePrepMode for one table's objects; the number of its first LOAD file."""
        if self.list_keys is None:
            return 1
        prefix = "/".join(part for part in (self.settings.BucketFolder.strip("/"), layout.schema, layout.table) if part)
        existing = self.list_keys(self.settings.BucketName, prefix + "/")
        if self.table_prep_mode != "DO_NOTHING":
            if existing and self.delete_keys is not None:
                self.delete_keys(self.settings.BucketName, existing)
            return 1
        numbers = [int(found.group(1), 16) for key in existing if (found := LOAD_FILE.search(key))]
        return max(numbers, default=0) + 1

    def _write_load(self, layout: _Layout, number: int, with_op: bool, rows: list, count: int) -> str:
        """One LOAD file: `rows` are CSV lines (`_Layout.lines`), or for Parquet the values column by column."""
        written = self.clock()
        stamp = _stamp(self.task_start if self.settings.UseTaskStartTimeForFullLoadTimestamp else written)
        op = "I" if with_op else None
        if self.settings.DataFormat == "parquet":
            body = layout.parquet(with_op, rows, [op] * count, [stamp] * count)
        else:
            body = layout.csv(with_op, rows, op, stamp)
        return self._put(layout, self._partition(written), f"LOAD{number:08X}", body)

    # -- change data capture -------------------------------------------------------------------

    def cdc(self, changes: Iterable[ChangeLike], columns: dict | None = None) -> list[str]:
        """One batch of changes, in commit order: a file per table (and date folder); the keys written.

        `columns` maps (schema, table) to the table's columns; tables loaded by full_load are known.
        """
        for key, table_columns in (columns or {}).items():
            self._columns[key] = list(table_columns)
        _, with_op, kept_ops = self.settings.op_columns()
        groups: dict[tuple[str, str, str], list[ChangeLike]] = {}
        for change in changes:
            if change.op in kept_ops:
                folder = self._partition(change.commit_time)
                groups.setdefault((change.schema, change.table, folder), []).append(change)
        if not groups:
            return []
        name = cdc_file_name(self._batch_time(), self._zone())
        keys = []
        for (schema, table, folder), table_changes in groups.items():
            table_columns = self._columns.get((schema, table)) or _untyped(table_changes[0].values)
            layout = self._layout(schema, table, table_columns)
            values = layout.columns([change.values for change in table_changes])
            ops = [change.op if with_op else None for change in table_changes]
            stamps = [_stamp(change.commit_time) for change in table_changes]
            if self.settings.DataFormat == "parquet":
                body = layout.parquet(with_op, values, ops, stamps)
            else:
                body = layout.csv(with_op, layout.lines(values, len(table_changes)), ops, stamps)
            keys.append(self._put(layout, folder, name, body))
        return keys

    def _batch_time(self) -> datetime:
        # Two batches in one millisecond would share a file name: the later one moves on a millisecond.
        now = self.clock()
        if self._last_batch is not None and now <= self._last_batch + timedelta(milliseconds=1):
            now = self._last_batch + timedelta(milliseconds=1)
        self._last_batch = now
        return now

    # -- shared --------------------------------------------------------------------------------

    def _layout(self, schema: str, table: str, columns: list[ColumnLike]) -> _Layout:
        names = [column.name for column in columns]
        if self.mappings is None:
            return _Layout(self.settings, schema, table, [(i, c, c.name) for i, c in enumerate(columns)])
        mapped = dict(self.mappings.columns(schema, table, names))
        kept = [(i, column, mapped[column.name]) for i, column in enumerate(columns) if column.name in mapped]
        return _Layout(self.settings, *self.mappings.target_name(schema, table), kept)

    def _zone(self) -> ZoneInfo | None:
        return ZoneInfo(self.settings.DatePartitionTimezone) if self.settings.DatePartitionTimezone else None

    def _partition(self, moment: datetime) -> str:
        if not self.settings.DatePartitionEnabled:
            return ""
        local = moment.astimezone(self._zone() or UTC) if moment.tzinfo else moment
        parts = {"Y": f"{local.year:04d}", "M": f"{local.month:02d}", "D": f"{local.day:02d}", "H": f"{local.hour:02d}"}
        delimiter = DATE_DELIMITERS[self.settings.DatePartitionDelimiter]
        return delimiter.join(parts[p] for p in DATE_SEQUENCES[self.settings.DatePartitionSequence])

    def _put(self, layout: _Layout, folder: str, name: str, body: str | bytes) -> str:
        """One object: `body` is a CSV file's text or a Parquet file."""
        settings = self.settings
        if settings.DataFormat == "parquet":
            name = f"{name}.parquet"
        else:
            body, name = body.encode("utf-8"), f"{name}.csv"
            if settings.CompressionType == "GZIP":
                body, name = gzip.compress(body, mtime=0), f"{name}.gz"
        parts = [settings.BucketFolder.strip("/"), layout.schema, layout.table, folder, name]
        key = "/".join(part for part in parts if part)
        self.put_object(settings.BucketName, key, body)
        return key


def cdc_file_name(moment: datetime, zone: ZoneInfo | None = None) -> str:
    """A CDC file's name without extension: the batch time, YYYYMMDD-HHMMSS and milliseconds.

    AWS's page shows 20141029-1134010000.csv; DMS's transaction files (CDC_TXN-20201117153046033) and the
    S3 targets of the engine DMS comes from use milliseconds, so local AWS does.
    """
    local = moment.astimezone(zone or UTC) if moment.tzinfo else moment
    return local.strftime("%Y%m%d-%H%M%S") + f"{local.microsecond // 1000:03d}"


@dataclass
class _UntypedColumn:
    name: str
    type: str = ""


def _untyped(values) -> list[ColumnLike]:
    if isinstance(values, dict):
        return [_UntypedColumn(name) for name in values]
    return [_UntypedColumn(f"col{i + 1}") for i in range(len(values))]


class _Layout:
    """One table's target: its names, the columns kept (source position, column, target name), their types.

    Rows are rendered column by column, a chunk of rows at a time: then what most columns need (their values
    kept, or mapped by str; a check that none needs quotes; joining each row's fields) runs in C (map, any,
    zip, str.join) rather than as a Python call per value. Values that need more go through the column's
    csv_renderer, one by one."""

    def __init__(self, settings: S3TargetSettings, schema: str, table: str, kept: list[tuple[int, Any, str]]):
        self.settings = settings
        self.schema, self.table = schema, table
        self.positions = [position for position, _, _ in kept]
        self.source_names = [column.name for _, column, _ in kept]
        self.names = [target for _, _, target in kept]
        self.types = [dms_type(getattr(column, "type", "")) for _, column, _ in kept]
        specials = {'"', "\n", "\r", *settings.CsvDelimiter, *settings.CsvRowDelimiter}
        self._needs_quotes = re.compile("|".join(re.escape(c) for c in sorted(specials))).search
        # numbers, dates, hex and true/false never hold a quote, a line break or the delimiter
        plain = not PLAIN_CHARACTERS & {*settings.CsvDelimiter, *settings.CsvRowDelimiter}
        self._quoted = [settings.Rfc4180 and not (plain and t.name in PLAIN_TYPES) for t in self.types]
        self._renderers = [csv_renderer(dtype) for dtype in self.types]
        self._as_is = [_TEXT_AS_IS.get(dtype.name, set()) for dtype in self.types]
        self._by_str = [_TEXT_BY_STR.get(dtype.name, set()) for dtype in self.types]
        self._whole_rows = self.positions == list(range(len(self.positions)))

    def pick(self, values) -> tuple:
        if isinstance(values, dict):
            return tuple(values.get(name) for name in self.source_names)
        if self._whole_rows and len(values) == len(self.positions):
            return values
        return tuple(values[position] for position in self.positions)

    def columns(self, rows: list) -> list[Sequence]:
        """The kept values of rows (tuples in source column order, or dicts by column name), column by column."""
        if rows and type(rows[0]) is tuple and set(map(type, rows)) == {tuple} and len(set(map(len, rows))) == 1:
            every = list(zip(*rows, strict=True))  # rows of one length (a SELECT's): transposed at once
            return [every[position] for position in self.positions]
        return list(zip(*map(self.pick, rows), strict=True)) or [() for _ in self.positions]

    def texts(self, i: int, values: Sequence) -> Sequence[str]:
        """Column i's values as CSV fields: DMS's text (csv_text), quoted by Rfc4180, NULL as CsvNullValue."""
        kinds = set(map(type, values))
        nulls = type(None) in kinds
        kinds.discard(type(None))
        if kinds <= self._as_is[i]:
            texts = values
        elif kinds <= self._by_str[i] and not nulls:
            texts = list(map(str, values))
        else:
            texts = list(map(self._renderers[i], values))  # None stays None
        # filter(None, ...) passes over NULLs and empty strings: neither is quoted
        if self._quoted[i] and any(map(self._needs_quotes, filter(None, texts))):
            texts = [self._field(text) if text else text for text in texts]
        if nulls:
            null = self.settings.CsvNullValue  # written as it is: never quoted
            texts = [null if text is None else text for text in texts]
        return texts

    def lines(self, columns: list[Sequence], count: int) -> list[str]:
        """Each of `count` rows' fields (`columns` as `columns` gives them), delimited: a line without its
        Op and timestamp columns and its row delimiter."""
        if not columns:  # every column removed by the table mappings
            return [""] * count
        fields = [self.texts(i, values) for i, values in enumerate(columns)]
        return list(map(self.settings.CsvDelimiter.join, zip(*fields, strict=True)))

    def _field(self, value: str | None) -> str:
        if value is None:
            return self.settings.CsvNullValue
        if self.settings.Rfc4180 and self._needs_quotes(value):
            return '"' + value.replace('"', '""') + '"'
        return value

    def header(self, with_op: bool) -> str:
        names = ["Op"] if with_op else []
        if self.settings.TimestampColumnName:
            names.append(self.settings.TimestampColumnName)
        return (
            self.settings.CsvDelimiter.join(self._field(n) for n in names + self.names) + self.settings.CsvRowDelimiter
        )

    def prefix_size(self, with_op: bool) -> int:
        """Characters a line has besides its values: the Op and timestamp columns, the delimiters."""
        stamp = len("2000-01-01 00:00:00.000000") + 1 if self.settings.TimestampColumnName else 0
        return 2 * with_op + stamp + len(self.settings.CsvRowDelimiter)

    def _prefix(self, op: str | None, stamp: str) -> str:
        """What comes before a row's values: its Op and timestamp columns, each followed by the delimiter."""
        parts = [op] if op is not None else []
        if self.settings.TimestampColumnName:
            parts.append(stamp)
        return "".join(part + self.settings.CsvDelimiter for part in parts)

    def csv(self, with_op: bool, lines: list[str], op: str | list | None, stamp: str | list[str]) -> str:
        """A CSV file's text: the header (AddColumnName), then each line after its Op and timestamp (`op` and
        `stamp`: one for every line, or a list of one a line) and before the row delimiter."""
        text = self.header(with_op) if self.settings.AddColumnName else ""
        end = self.settings.CsvRowDelimiter
        if isinstance(stamp, list):
            rows = zip(op, stamp, lines, strict=True)
            return text + "".join([self._prefix(row_op, row_stamp) + line + end for row_op, row_stamp, line in rows])
        if not lines:
            return text
        prefix = self._prefix(op, stamp)
        return text + prefix + (end + prefix).join(lines) + end  # the same prefix for every line (a full load)

    def parquet(self, with_op: bool, columns: list[Sequence], ops: list, stamps: list[str]) -> bytes:
        """A Parquet file of the rows: their Op and timestamp (one a row) and values (`columns` as `columns`
        gives them)."""
        settings = self.settings
        unit = "ms" if settings.ParquetTimestampInMillisecond else "us"
        arrows: dict[str, pa.Array] = {}
        if with_op:
            arrows["Op"] = pa.array(ops, pa.string())
        if settings.TimestampColumnName:
            arrows[settings.TimestampColumnName] = pa.array(stamps, pa.string())
        for name, dtype, values in zip(self.names, self.types, columns, strict=True):
            arrow = arrow_type(dtype, unit)
            kinds = set(map(type, values)) - {type(None)}
            if kinds <= _arrow_as_is(dtype, arrow):  # what arrow_converter would return unchanged
                arrows[name] = pa.array(values, arrow)
            elif kinds == {str} and (pa.types.is_integer(arrow) or pa.types.is_decimal(arrow)):
                arrows[name] = pa.array(values, pa.string()).cast(arrow)  # MySQL's text of numbers (_TEXT_AS_IS)
            else:
                arrows[name] = pa.array(list(map(arrow_converter(dtype, arrow), values)), arrow)
        sink = io.BytesIO()
        pq.write_table(
            pa.table(arrows),
            sink,
            version="1.0" if settings.ParquetVersion == "PARQUET_1_0" else "2.6",
            compression="GZIP" if settings.CompressionType == "GZIP" else "NONE",
            use_dictionary=settings.EncodingType != "plain",
            write_statistics=settings.EnableStatistics,
            row_group_size=settings.RowGroupLength,
            data_page_size=settings.DataPageSize,
            dictionary_pagesize_limit=settings.DictPageSizeLimit,
        )
        return sink.getvalue()


def _arrow_as_is(dtype: DmsType, arrow: pa.DataType) -> set[type]:
    """The Python types arrow_converter returns unchanged for a column: pyarrow can take those values as they are."""
    if pa.types.is_integer(arrow):
        return {int}
    if pa.types.is_floating(arrow):
        return {float}
    if pa.types.is_decimal(arrow):
        return {Decimal}
    if pa.types.is_date(arrow):
        return {date}
    if pa.types.is_string(arrow) and dtype.name in ("WSTRING", "STRING", "CLOB", "NCLOB"):
        return {str}
    return set()


# ---- batching --------------------------------------------------------------------------------


class CdcBatcher:
    """Captured changes held until a CDC file is due: CdcMaxBatchInterval seconds after the first one
    arrived, or once they reach CdcMinFileSize KB, whichever comes first (AWS: "the file write is
    triggered by whichever parameter condition is met first"). Items are changes or transactions
    (anything with .changes); sizes are estimated from the values' text."""

    def __init__(self, settings: S3TargetSettings, clock: Callable[[], datetime] | None = None):
        self.interval = timedelta(seconds=settings.CdcMaxBatchInterval)
        self.min_bytes = settings.CdcMinFileSize * 1024
        self.clock = clock or (lambda: datetime.now(UTC))
        self._items: list = []
        self._bytes = 0
        self._started: datetime | None = None

    def add(self, item) -> None:
        if self._started is None:
            self._started = self.clock()
        self._items.append(item)
        for change in getattr(item, "changes", None) or [item]:
            values = change.values.values() if isinstance(change.values, dict) else change.values
            self._bytes += 2 + sum(1 + len(str(v)) for v in values if v is not None)

    @property
    def deadline(self) -> datetime | None:
        """When the batch is due by CdcMaxBatchInterval; None while it is empty."""
        return None if self._started is None else self._started + self.interval

    def due(self, now: datetime | None = None) -> bool:
        if not self._items:
            return False
        return self._bytes >= self.min_bytes or (now or self.clock()) >= self.deadline

    def take(self) -> list:
        items, self._items, self._bytes, self._started = self._items, [], 0, None
        return items

"""Record format conversion: JSON records to Parquet or ORC with the columns of a Glue table (pyarrow).

What Firehose does (https://docs.aws.amazon.com/firehose/latest/dev/record-format-conversion.html), done here:
- the schema is the Glue table's columns (not its partition keys), Hive types mapped to Arrow types
  (array, map and struct nest);
- the OpenX JSON SerDe reads each record: keys lowercased unless CaseInsensitive is false,
  ConvertDotsInJsonKeysToUnderscores, ColumnToJsonKeyMappings; absent keys are NULL, extra keys ignored;
  numbers and booleans may arrive as strings, nested JSON in a string column is kept as its JSON text;
  timestamps as `yyyy-MM-dd'T'HH:mm:ss[.S]'Z'`, `yyyy-[M]M-[d]d HH:mm:ss[.S]` (fraction up to 9 digits),
  epoch seconds, epoch milliseconds or fractional epoch seconds;
- the Hive JSON SerDe is stricter: numbers must be JSON numbers, timestamps follow TimestampFormats
  (Joda patterns, or `millis`) or java.sql.Timestamp.valueOf;
- a record may hold several JSON objects one after the other: each is a row;
- a record that is not JSON fails with DataFormatConversion.ParseError, one whose values do not fit the
  columns with DataFormatConversion.MalformedData; the others are converted. The delivery writes the
  failed ones to the error output prefix (`format-conversion-failed`);
- ParquetSerDe: Compression SNAPPY (default), GZIP or UNCOMPRESSED, WriterVersion V1 (default) / V2,
  EnableDictionaryCompression, PageSizeBytes; timestamps as INT96, as Hive's Parquet SerDe writes them.
  OrcSerDe: Compression SNAPPY (default), ZLIB or NONE.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

PARSE_ERROR = "DataFormatConversion.ParseError"
MALFORMED_DATA = "DataFormatConversion.MalformedData"

_INT_RANGES = {
    "tinyint": (pa.int8(), -(2**7), 2**7 - 1),
    "smallint": (pa.int16(), -(2**15), 2**15 - 1),
    "int": (pa.int32(), -(2**31), 2**31 - 1),
    "integer": (pa.int32(), -(2**31), 2**31 - 1),
    "bigint": (pa.int64(), -(2**63), 2**63 - 1),
}


class SchemaError(ValueError):
    """The Glue table's columns cannot be converted to (an unknown or unsupported Hive type)."""


class RecordError(ValueError):
    """One record that cannot be converted: code is the error code Firehose reports for it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- Hive types -> Arrow --------------------------------------------------------------------------


def arrow_type(hive_type: str) -> pa.DataType:
    """The Arrow type of a Hive / Glue column type (`array<struct<a:int,b:string>>`, `decimal(10,2)`, ...)."""
    parser = _TypeParser(hive_type)
    result = parser.parse()
    if parser.position != len(parser.text):
        raise SchemaError(f"unexpected text after the type in '{hive_type}'")
    return result


class _TypeParser:
    def __init__(self, text: str):
        self.text = text.strip()
        self.position = 0

    def _skip(self) -> None:
        while self.position < len(self.text) and self.text[self.position].isspace():
            self.position += 1

    def _word(self) -> str:
        self._skip()
        match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(self.text, self.position)
        if not match:
            raise SchemaError(f"expected a type name at position {self.position} of '{self.text}'")
        self.position = match.end()
        return match.group(0)

    def _expect(self, char: str) -> None:
        self._skip()
        if not self.text.startswith(char, self.position):
            raise SchemaError(f"expected '{char}' at position {self.position} of '{self.text}'")
        self.position += 1

    def _peek(self, char: str) -> bool:
        self._skip()
        return self.text.startswith(char, self.position)

    def _numbers(self) -> list[int]:
        self._expect("(")
        end = self.text.index(")", self.position)
        values = [int(part) for part in self.text[self.position : end].split(",")]
        self.position = end + 1
        return values

    def parse(self) -> pa.DataType:
        name = self._word().lower()
        if name in _INT_RANGES:
            return _INT_RANGES[name][0]
        simple = {"string": pa.string(), "boolean": pa.bool_(), "double": pa.float64(), "float": pa.float32(),
                  "date": pa.date32(), "timestamp": pa.timestamp("ns"), "binary": pa.binary()}  # fmt: skip
        if name in simple:
            return simple[name]
        if name in ("varchar", "char"):
            if self._peek("("):
                self._numbers()
            return pa.string()
        if name in ("decimal", "numeric"):
            precision, scale = (self._numbers() + [0])[:2] if self._peek("(") else (10, 0)
            return pa.decimal128(precision, scale)
        if name == "array":
            self._expect("<")
            item = self.parse()
            self._expect(">")
            return pa.list_(item)
        if name == "map":
            self._expect("<")
            key = self.parse()
            self._expect(",")
            value = self.parse()
            self._expect(">")
            return pa.map_(key, value)
        if name == "struct":
            self._expect("<")
            fields = []
            while True:
                field_name = self._word()
                self._expect(":")
                fields.append(pa.field(field_name.lower(), self.parse()))
                if self._peek(","):
                    self._expect(",")
                    continue
                self._expect(">")
                return pa.struct(fields)
        raise SchemaError(f"the Hive type '{name}' is not supported for format conversion (in '{self.text}')")


def arrow_schema(columns: list[dict[str, Any]]) -> pa.Schema:
    """The Arrow schema of a Glue table's StorageDescriptor.Columns ([{"Name", "Type"}, ...])."""
    fields = []
    for column in columns:
        try:
            fields.append(pa.field(column["Name"].lower(), arrow_type(column["Type"])))
        except SchemaError as error:
            raise SchemaError(f"column {column['Name']}: {error}") from None
    return pa.schema(fields)


# --- the JSON deserializers -------------------------------------------------------------------------


@dataclass
class Deserializer:
    """OpenXJsonSerDe or HiveJsonSerDe with its options."""

    kind: str = "OpenXJsonSerDe"
    case_insensitive: bool = True
    dots_to_underscores: bool = False
    column_to_json_key: dict[str, str] = field(default_factory=dict)
    timestamp_formats: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, kind: str, options: dict[str, Any]) -> Deserializer:
        if kind == "HiveJsonSerDe":
            return cls(kind, timestamp_formats=list(options.get("TimestampFormats") or []))
        return cls(
            kind,
            case_insensitive=options.get("CaseInsensitive", True) is not False,
            dots_to_underscores=bool(options.get("ConvertDotsInJsonKeysToUnderscores")),
            column_to_json_key={k.lower(): v for k, v in (options.get("ColumnToJsonKeyMappings") or {}).items()},
        )

    @property
    def strict(self) -> bool:
        return self.kind == "HiveJsonSerDe"

    def key(self, key: str) -> str:
        if self.dots_to_underscores:
            key = key.replace(".", "_")
        return key.lower() if self.case_insensitive or self.strict else key


def documents(data: bytes) -> list[Any]:
    """The JSON values in one record (several may follow one another); RecordError(ParseError) if it is not JSON."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecordError(PARSE_ERROR, f"The record is not UTF-8 encoded JSON: {error}") from None
    decoder = json.JSONDecoder()
    values, position = [], 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return values
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise RecordError(
                PARSE_ERROR, f"Encountered malformed JSON. {error.msg} at character {error.pos}"
            ) from None
        values.append(value)


def rows_of(data: bytes, schema: pa.Schema, deserializer: Deserializer) -> list[dict[str, Any]]:
    """The rows one record becomes; RecordError when it is not JSON or its values do not fit the columns."""
    rows = []
    for document in documents(data):
        if not isinstance(document, dict):
            raise RecordError(MALFORMED_DATA, f"Expected a JSON object but found {_json_kind(document)}")
        keyed = _keyed(document, deserializer)
        row = {}
        for column in schema:
            json_key = deserializer.column_to_json_key.get(column.name, column.name)
            value = keyed.get(deserializer.key(json_key))
            try:
                row[column.name] = _coerce(value, column.type, deserializer)
            except (ValueError, TypeError, ArithmeticError) as error:
                raise RecordError(
                    MALFORMED_DATA, f"Cannot convert the value of column {column.name}: {error}"
                ) from None
        rows.append(row)
    return rows


def _keyed(document: dict[str, Any], deserializer: Deserializer) -> dict[str, Any]:
    keyed: dict[str, Any] = {}
    for key, value in document.items():
        keyed.setdefault(deserializer.key(key), value)  # the first of keys differing only in case wins
    return keyed


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _coerce(value: Any, arrow: pa.DataType, deserializer: Deserializer) -> Any:
    if value is None:
        return None
    if pa.types.is_string(arrow):
        if isinstance(value, str):
            return value
        if deserializer.strict and isinstance(value, dict | list):
            raise ValueError(f"nested JSON {_json_kind(value)} in a string column")
        return json.dumps(value, separators=(",", ":")) if not isinstance(value, bool) else str(value).lower()
    if pa.types.is_boolean(arrow):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and not deserializer.strict and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(f"{json.dumps(value)} is not a boolean")
    if pa.types.is_integer(arrow):
        number = _integer(value, deserializer)
        low, high = next((lo, hi) for t, lo, hi in _INT_RANGES.values() if t == arrow)
        if not low <= number <= high:
            raise ValueError(f"{number} is out of range for {arrow}")
        return number
    if pa.types.is_floating(arrow):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | str)
            or (deserializer.strict and isinstance(value, str))
        ):
            raise ValueError(f"{json.dumps(value)} is not a number")
        return float(value)
    if pa.types.is_decimal(arrow):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{json.dumps(value)} is not a decimal")
        try:
            number = Decimal(str(value)).quantize(Decimal(1).scaleb(-arrow.scale), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise ValueError(f"{json.dumps(value)} is not a decimal") from None
        if len(number.as_tuple().digits) > arrow.precision:
            raise ValueError(f"{value} does not fit decimal({arrow.precision},{arrow.scale})")
        return number
    if pa.types.is_timestamp(arrow):
        return parse_timestamp(value, deserializer)
    if pa.types.is_date32(arrow):
        if isinstance(value, str):
            return date.fromisoformat(value.strip()[:10])
        raise ValueError(f"{json.dumps(value)} is not a date (yyyy-MM-dd)")
    if pa.types.is_binary(arrow):
        if isinstance(value, str):
            return value.encode()
        raise ValueError(f"{json.dumps(value)} is not a string for a binary column")
    if pa.types.is_list(arrow):
        if not isinstance(value, list):
            raise ValueError(f"expected a JSON array, found {_json_kind(value)}")
        return [_coerce(item, arrow.value_type, deserializer) for item in value]
    if pa.types.is_map(arrow):
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object for a map, found {_json_kind(value)}")
        return [(_coerce(key, arrow.key_type, deserializer), _coerce(item, arrow.item_type, deserializer))
                for key, item in value.items()]  # fmt: skip
    if pa.types.is_struct(arrow):
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object for a struct, found {_json_kind(value)}")
        keyed = _keyed(value, deserializer)
        return {f.name: _coerce(keyed.get(deserializer.key(f.name)), f.type, deserializer) for f in arrow}
    raise ValueError(f"unsupported type {arrow}")


def _integer(value: Any, deserializer: Deserializer) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{json.dumps(value)} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and not deserializer.strict and value.is_integer():
        return int(value)
    if isinstance(value, str) and not deserializer.strict and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError(f"{json.dumps(value)} is not an integer")


_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?")
EPOCH_MILLIS_FROM = 10**11  # larger epoch numbers are milliseconds (10^11 seconds is the year 5138)


def parse_timestamp(value: Any, deserializer: Deserializer) -> datetime:
    """A timestamp as the deserializer reads it, as naive UTC."""
    if isinstance(value, bool):
        raise ValueError(f"{json.dumps(value)} is not a timestamp")
    if deserializer.strict:
        return _hive_timestamp(value, deserializer.timestamp_formats)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        value = float(value) if "." in value else int(value)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a timestamp")
        seconds = value / 1000 if isinstance(value, int) and abs(value) >= EPOCH_MILLIS_FROM else value
        return datetime(1970, 1, 1) + timedelta(seconds=seconds)
    if isinstance(value, str):
        match = _ISO.fullmatch(value.strip())
        if match:
            return _from_match(match)
    raise ValueError(f"{json.dumps(value)} is not a timestamp the OpenX JSON SerDe reads")


def _from_match(match: re.Match) -> datetime:
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or "").ljust(6, "0")[:6]
    moment = datetime(year, month, day, hour, minute, second, int(fraction or 0))
    zone = match.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


_JODA = {"yyyy": r"(?P<year>\d{4})", "yy": r"(?P<year2>\d{2})", "MM": r"(?P<month>\d{2})", "M": r"(?P<month>\d{1,2})",
         "dd": r"(?P<day>\d{2})", "d": r"(?P<day>\d{1,2})", "HH": r"(?P<hour>\d{2})", "H": r"(?P<hour>\d{1,2})",
         "mm": r"(?P<minute>\d{2})", "m": r"(?P<minute>\d{1,2})", "ss": r"(?P<second>\d{2})",
         "s": r"(?P<second>\d{1,2})", "SSSSSSSSS": r"(?P<fraction>\d{9})", "SSSSSS": r"(?P<fraction>\d{6})",
         "SSS": r"(?P<fraction>\d{3})", "S": r"(?P<fraction>\d+)", "Z": r"(?P<zone>Z|[+-]\d{2}:?\d{2})",
         "ZZ": r"(?P<zone>Z|[+-]\d{2}:?\d{2})"}  # fmt: skip


def joda_regex(pattern: str) -> re.Pattern:
    """A regular expression reading timestamps written with a Joda DateTimeFormat pattern (common letters)."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = pattern.index("'", i + 1)
            out.append(re.escape(pattern[i + 1 : end] or "'"))
            i = end + 1
            continue
        if char.isalpha():
            count = 1
            while i + count < len(pattern) and pattern[i + count] == char:
                count += 1
            letters = char * count
            if letters not in _JODA:
                raise ValueError(f"the Joda pattern letters {letters} are not supported locally")
            out.append(_JODA[letters])
            i += count
            continue
        out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


def _hive_timestamp(value: Any, formats: list[str]) -> datetime:
    for pattern in formats:
        if pattern == "millis":
            if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
                return datetime(1970, 1, 1) + timedelta(milliseconds=int(value))
            continue
        if isinstance(value, str):
            match = joda_regex(pattern).fullmatch(value.strip())
            if match:
                parts = match.groupdict()
                year = int(parts.get("year") or 2000 + int(parts.get("year2") or 70))
                fraction = (parts.get("fraction") or "").ljust(6, "0")[:6]
                moment = datetime(year, int(parts.get("month") or 1), int(parts.get("day") or 1),
                                  int(parts.get("hour") or 0), int(parts.get("minute") or 0),
                                  int(parts.get("second") or 0), int(fraction or 0))  # fmt: skip
                zone = parts.get("zone")
                if zone and zone != "Z":
                    sign = 1 if zone[0] == "+" else -1
                    digits = zone[1:].replace(":", "")
                    moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
                return moment
    if isinstance(value, str):  # java.sql.Timestamp.valueOf: yyyy-[m]m-[d]d hh:mm:ss[.f...]
        match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?()", value.strip())
        if match:
            return _from_match(match)
    raise ValueError(f"{json.dumps(value)} is not a timestamp the Hive JSON SerDe reads")


# --- the serializers --------------------------------------------------------------------------------


@dataclass
class Serializer:
    kind: str = "ParquetSerDe"
    options: dict[str, Any] = field(default_factory=dict)

    def write(self, table: pa.Table) -> bytes:
        buffer = io.BytesIO()
        if self.kind == "OrcSerDe":
            from pyarrow import orc

            codec = {"SNAPPY": "snappy", "ZLIB": "zlib", "NONE": "uncompressed"}
            orc.write_table(table, buffer, compression=codec.get(self.options.get("Compression") or "SNAPPY", "snappy"))
            return buffer.getvalue()
        import pyarrow.parquet as pq

        codec = {"SNAPPY": "snappy", "GZIP": "gzip", "UNCOMPRESSED": "none"}
        pq.write_table(
            table,
            buffer,
            compression=codec.get(self.options.get("Compression") or "SNAPPY", "snappy"),
            use_dictionary=bool(self.options.get("EnableDictionaryCompression", False)),
            data_page_version="2.0" if self.options.get("WriterVersion") == "V2" else "1.0",
            data_page_size=int(self.options.get("PageSizeBytes") or 1024 * 1024),
            use_deprecated_int96_timestamps=True,  # Hive's Parquet SerDe writes INT96 timestamps
        )
        return buffer.getvalue()


@dataclass
class Converted:
    body: bytes | None  # the Parquet / ORC object, None when no record converted
    rows: int
    converted: list[int]  # indexes of the records in the object
    failed: list[tuple[int, RecordError]]  # (index, why) of the records that go to the error output


def convert(records: list[bytes], schema: pa.Schema, deserializer: Deserializer, serializer: Serializer) -> Converted:
    """Convert a batch of records to one columnar object; failing records are reported, not raised."""
    rows: list[dict[str, Any]] = []
    converted, failed = [], []
    for index, data in enumerate(records):
        try:
            record_rows = rows_of(data, schema, deserializer)
        except RecordError as error:
            failed.append((index, error))
            continue
        rows.extend(record_rows)
        converted.append(index)
    if not converted:
        return Converted(None, 0, converted, failed)
    table = pa.Table.from_pylist(rows, schema=schema)
    return Converted(serializer.write(table), len(rows), converted, failed)


def epoch_millis(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)

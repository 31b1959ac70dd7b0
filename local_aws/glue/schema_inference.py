"""What the built-in classifiers of a Glue crawler infer from the first bytes of one file.

Pure functions on bytes and Arrow schemas (no I/O); local_aws.glue.crawl_scan feeds them samples read
from local S3. They follow AWS's documented built-in classifiers (Parquet, JSON, CSV, in that order)
and the catalog shape real crawlers write. Where we differ from AWS the comment says "AWS:".
"""

from __future__ import annotations

import bz2
import io
import re
import zlib
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

# AWS reads the first megabyte or the first 1,000 records of a text file, whichever comes first.
SAMPLE_BYTES = 1 << 20
SAMPLE_RECORDS = 1000
CSV_DELIMITERS = (",", "|", "\t", ";", "\x01")  # the built-in CSV classifier's candidates, in order
HEADER_MAX_CHARS = 150  # a header cell (but the last) is shorter than this

TEXT_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

PARQUET_MAGIC = b"PAR1"


class UnreadableFile(Exception):
    """A file that claims a format (magic bytes, compression) but cannot be read as it."""


@dataclass
class FileSchema:
    """One file as a classifier sees it: format, columns (Arrow types) and the SerDe to read it."""

    classification: str
    fields: list[pa.Field]
    serde: str
    serde_parameters: dict[str, str]
    input_format: str
    output_format: str
    # Format-specific table parameters (delimiter, skip.header.line.count, ...).
    format_parameters: dict[str, str] = field(default_factory=dict)
    compression: str = "none"
    sample_records: int = 0  # records in the sample (Parquet: in the whole file)
    sample_bytes: int = 0  # bytes of (uncompressed) text those records came from
    exact: bool = False  # sample_records counts the whole file

    @property
    def column_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def compatible_with(self, other: FileSchema) -> bool:
        """Same format, compression and SerDe settings: AWS's 'data compatibility' test."""
        return (
            self.classification == other.classification
            and self.compression == other.compression
            and self.serde == other.serde
            and self.serde_parameters.get("field.delim") == other.serde_parameters.get("field.delim")
            and self.format_parameters.get("skip.header.line.count")
            == other.format_parameters.get("skip.header.line.count")
        )


# ---------------------------------------------------------------------------------------------
# Samples: the first bytes of a file, decompressed when needed
# ---------------------------------------------------------------------------------------------


@dataclass
class TextSample:
    data: bytes  # uncompressed text
    compression: str  # compressionType as crawlers write it: none, gzip, bzip2
    complete: bool  # data is the whole uncompressed file
    file_bytes_per_byte: float  # bytes of the stored file per byte of data, to scale counts to the file


def compression_of(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    return "none"


def text_sample(raw: bytes, file_size: int, location: str = "file") -> TextSample:
    """Decompress (gzip, bzip2) the first bytes of a file into at most SAMPLE_BYTES of text."""
    compression = compression_of(raw)
    whole_file = len(raw) >= file_size
    if compression == "none":
        data = raw[:SAMPLE_BYTES]
        return TextSample(data, "none", whole_file and len(data) == file_size, 1.0)
    # Feed the compressed bytes in small steps so we know how much of the file the sample covers.
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS) if compression == "gzip" else bz2.BZ2Decompressor()
    parts: list[bytes] = []
    produced = consumed = 0
    try:
        while consumed < len(raw) and produced < SAMPLE_BYTES and not decompressor.eof:
            chunk = raw[consumed : consumed + 16384]
            consumed += len(chunk)
            parts.append(decompressor.decompress(chunk))
            produced += len(parts[-1])
    except (zlib.error, OSError, EOFError) as error:
        raise UnreadableFile(
            f"{location} looks {compression}-compressed but cannot be decompressed: {error}"
        ) from error
    data = b"".join(parts)[:SAMPLE_BYTES]
    ended = decompressor.eof
    complete = whole_file and ended and len(data) < SAMPLE_BYTES
    return TextSample(data, compression, complete, consumed / max(len(data), 1))


def estimate_records(schema: FileSchema, sample: TextSample | None, file_size: int) -> int:
    """recordCount of one file: exact when the sample covers it, else scaled by size like AWS's estimate."""
    if schema.exact or sample is None:
        return schema.sample_records
    sampled_file_bytes = schema.sample_bytes * sample.file_bytes_per_byte
    if sampled_file_bytes <= 0:
        return schema.sample_records
    return max(schema.sample_records, round(schema.sample_records * file_size / sampled_file_bytes))


# ---------------------------------------------------------------------------------------------
# Classifiers
# ---------------------------------------------------------------------------------------------


def classify_text(sample: TextSample) -> FileSchema | None:
    """JSON, then CSV, as the built-in classifiers are ordered; None when neither recognises it."""
    schema = infer_json(sample.data, sample.complete)
    if schema is None:
        schema = infer_csv(sample.data, sample.complete)
    if schema is not None:
        schema.compression = sample.compression
    return schema


def parquet_schema(arrow_schema: pa.Schema, num_rows: int) -> FileSchema:
    """Parquet keeps its schema in the footer: the crawler takes it from there, types and all."""
    return FileSchema(
        classification="parquet",
        fields=_lowercase_fields(list(arrow_schema)),
        serde=PARQUET_SERDE,
        serde_parameters={"serialization.format": "1"},
        input_format=PARQUET_INPUT_FORMAT,
        output_format=PARQUET_OUTPUT_FORMAT,
        sample_records=num_rows,
        exact=True,
    )


def _whole_records(data: bytes, complete: bool, max_lines: int) -> bytes:
    """Cut a sample to whole lines (a truncated last line is dropped) and at most max_lines lines."""
    if not complete:
        end = data.rfind(b"\n")
        data = data[: end + 1] if end >= 0 else b""
    position = -1
    for _ in range(max_lines):
        position = data.find(b"\n", position + 1)
        if position < 0:
            return data
    return data[: position + 1]


# -- JSON ---------------------------------------------------------------------------------------


def infer_json(data: bytes, complete: bool) -> FileSchema | None:
    """JSON lines (one object per line): the merged schema of the sampled records."""
    if not data.lstrip()[:1] == b"{":
        return None
    sample = _whole_records(data, complete, SAMPLE_RECORDS)
    parsed = _json_fields(sample)
    if parsed is None:
        return None
    fields, records = parsed
    fields = _lowercase_fields(fields)
    return FileSchema(
        classification="json",
        fields=fields,
        serde=JSON_SERDE,
        serde_parameters={"paths": ",".join(f.name for f in fields)},
        input_format=TEXT_INPUT_FORMAT,
        output_format=TEXT_OUTPUT_FORMAT,
        sample_records=records,
        sample_bytes=len(sample),
        exact=complete and len(sample) == len(data),
    )


def _json_fields(sample: bytes) -> tuple[list[pa.Field], int] | None:
    """Fields (integers narrowed like the JSON classifier) and record count, or None if not JSON lines."""
    options = pa_json.ReadOptions(use_threads=False, block_size=max(len(sample), 1 << 16) + 1)
    try:
        table = pa_json.read_json(io.BytesIO(sample), read_options=options)
        fields = [
            pa.field(name, _narrow_ints(column)) for name, column in zip(table.column_names, table.columns, strict=True)
        ]
        return (fields, table.num_rows) if table.num_rows else None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # pyarrow refuses a field whose type changes between records: read records one by one and
    # merge their schemas (conflicting types become string, as the crawler does).
    schemas, records = [], 0
    for line in sample.splitlines():
        if not line.strip():
            continue
        try:
            table = pa_json.read_json(io.BytesIO(line), read_options=options)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None  # not JSON lines after all
        schemas.append([pa.field(n, _narrow_ints(c)) for n, c in zip(table.column_names, table.columns, strict=True)])
        records += table.num_rows
    return (merge_fields(schemas), records) if records else None


def _narrow_ints(column: pa.ChunkedArray | pa.Array) -> pa.DataType:
    """The JSON classifier types integers that fit in 32 bits as int, larger ones as bigint."""
    type_ = column.type
    if pa.types.is_int64(type_):
        low, high = pc.min_max(column).values()
        fits = low.as_py() is None or (-(2**31) <= low.as_py() and high.as_py() < 2**31)
        return pa.int32() if fits else pa.int64()
    if pa.types.is_struct(type_):
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        return pa.struct(
            [pa.field(type_.field(i).name, _narrow_ints(column.field(i))) for i in range(type_.num_fields)]
        )
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        return pa.list_(_narrow_ints(column.flatten()))
    return type_


# -- CSV ----------------------------------------------------------------------------------------


def infer_csv(data: bytes, complete: bool) -> FileSchema | None:
    """The built-in CSV classifier: delimiter among , | tab ; ^A, header heuristics, column types.

    At least two columns and two rows. Types are bigint, double, boolean or string; empty values
    are allowed in any column. AWS: dates and timestamps stay string, as the built-in classifier
    leaves them (LazySimpleSerDe cannot read other date formats anyway).
    """
    sample = _whole_records(data, complete, SAMPLE_RECORDS + 1)  # + 1 for a header line
    best: tuple[str, pa.Table] | None = None
    for delimiter in CSV_DELIMITERS:
        table = _read_csv_strings(sample, delimiter)
        if table is None or table.num_columns < 2 or table.num_rows < 2:
            continue
        if best is None or table.num_columns > best[1].num_columns:
            best = (delimiter, table)
    if best is None:
        return None
    delimiter, table = best
    columns = [column.combine_chunks() for column in table.columns]
    first_row = [column[0].as_py() or "" for column in columns]
    data_types = [_csv_value_type(column.slice(1)) for column in columns]
    has_header = _looks_like_header(first_row, data_types)
    if has_header:
        names = _header_names(first_row)
        records = table.num_rows - 1
    else:
        names = [f"col{i}" for i in range(len(columns))]  # AWS's documentation says col1..; crawlers write col0..
        data_types = [_csv_value_type(column) for column in columns]
        records = table.num_rows
    quoted = re.search(rb"(^|" + re.escape(delimiter.encode()) + rb')[ \t]*"', sample, re.MULTILINE) is not None
    format_parameters = {
        "delimiter": delimiter,
        "columnsOrdered": "true",
        "areColumnsQuoted": "true" if quoted else "false",
    }
    if has_header:
        format_parameters["skip.header.line.count"] = "1"
    if quoted:
        # Quoted fields need OpenCSVSerde; LazySimpleSerDe would keep the quotes in the values.
        serde, serde_parameters = OPEN_CSV_SERDE, {"separatorChar": delimiter, "quoteChar": '"'}
    else:
        serde, serde_parameters = LAZY_SIMPLE_SERDE, {"field.delim": delimiter}
    return FileSchema(
        classification="csv",
        fields=[pa.field(name, type_) for name, type_ in zip(names, data_types, strict=True)],
        serde=serde,
        serde_parameters=serde_parameters,
        input_format=TEXT_INPUT_FORMAT,
        output_format=TEXT_OUTPUT_FORMAT,
        format_parameters=format_parameters,
        sample_records=records,
        sample_bytes=len(sample),
        exact=complete and len(sample) == len(data),
    )


def _read_csv_strings(sample: bytes, delimiter: str) -> pa.Table | None:
    """Every cell as a string (we type columns ourselves), or None if rows disagree on width."""
    parse = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    read = pa_csv.ReadOptions(autogenerate_column_names=True, use_threads=False)
    try:
        first_line = pa_csv.read_csv(
            io.BytesIO(sample.split(b"\n", 1)[0] + b"\n"), read_options=read, parse_options=parse
        )
        as_strings = pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in first_line.column_names},
            strings_can_be_null=False,
        )
        return pa_csv.read_csv(io.BytesIO(sample), read_options=read, parse_options=parse, convert_options=as_strings)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _csv_value_type(column: pa.Array) -> pa.DataType:
    """bigint, double, boolean or string for the non-empty values of a column of strings."""
    values = pc.utf8_trim_whitespace(column)
    values = values.filter(pc.not_equal(values, ""))
    if len(values) == 0:
        return pa.string()
    for type_ in (pa.int64(), pa.float64()):
        try:
            pc.cast(values, type_)
            return type_
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    if pc.all(pc.is_in(pc.utf8_lower(values), pa.array(["true", "false"]))).as_py():
        return pa.bool_()
    return pa.string()


_COLUMN_NAME = re.compile(r"^[^\x00-\x1f\x7f]+$")  # Glue's single-line string pattern


def _looks_like_header(first_row: list[str], data_types: list[pa.DataType]) -> bool:
    """AWS's rules: every cell a string (not a number or boolean), shorter than 150 characters
    (but the last), a valid column name, and the rows below differ: at least one is not a string."""
    if all(pa.types.is_string(t) for t in data_types):
        return False
    for index, cell in enumerate(first_row):
        last = index == len(first_row) - 1
        cell = cell.strip()
        if not cell:
            if last:  # a trailing delimiter leaves the last column empty throughout
                continue
            return False
        if not pa.types.is_string(_csv_value_type(pa.array([cell]))):
            return False
        if (not last and len(cell) >= HEADER_MAX_CHARS) or not _COLUMN_NAME.match(cell):
            return False
    return True


def _header_names(first_row: list[str]) -> list[str]:
    names: list[str] = []
    for index, cell in enumerate(first_row):
        name = cell.strip().lower() or f"col{index}"
        while name in names:  # AWS: duplicate header names; we suffix them so the table is valid
            name = f"{name}_{index}"
        names.append(name)
    return names


# ---------------------------------------------------------------------------------------------
# Types: merging schemas and writing them as Glue type strings
# ---------------------------------------------------------------------------------------------


def _lowercase_fields(fields: list[pa.Field]) -> list[pa.Field]:
    """Glue (like Hive) lower-cases column and nested field names; the first of equal names wins."""
    seen: dict[str, pa.Field] = {}
    for f in fields:
        name = f.name.lower()
        if name not in seen:
            seen[name] = pa.field(name, _lowercase_type(f.type))
    return list(seen.values())


def _lowercase_type(type_: pa.DataType) -> pa.DataType:
    if pa.types.is_struct(type_):
        return pa.struct(_lowercase_fields([type_.field(i) for i in range(type_.num_fields)]))
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return pa.list_(_lowercase_type(type_.value_type))
    return type_


def merge_fields(schemas: list[list[pa.Field]]) -> list[pa.Field]:
    """Union of columns in order of first appearance, types widened where files disagree."""
    merged: dict[str, pa.DataType] = {}
    for fields in schemas:
        for f in fields:
            merged[f.name] = merge_types(merged[f.name], f.type) if f.name in merged else f.type
    return [pa.field(name, type_) for name, type_ in merged.items()]


def merge_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    if a.equals(b) or pa.types.is_null(b):
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_integer(a) and pa.types.is_integer(b):
        return a if a.bit_width >= b.bit_width else b
    if _is_number(a) and _is_number(b):
        return pa.float64()
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        fields = merge_fields([[a.field(i) for i in range(a.num_fields)], [b.field(i) for i in range(b.num_fields)]])
        return pa.struct(fields)
    if _is_list(a) and _is_list(b):
        return pa.list_(merge_types(a.value_type, b.value_type))
    return pa.string()


def _is_number(type_: pa.DataType) -> bool:
    return pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_)


def _is_list(type_: pa.DataType) -> bool:
    return pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_)


def similarity(a: list[str], b: list[str]) -> float:
    """Share of the smaller schema's column names that the other schema has too.

    AWS groups files whose schemas are at least 70 % similar without saying how it measures it;
    we measure containment, so files that only add columns (schema evolution) stay one table."""
    if not a or not b:
        return 1.0 if a == b else 0.0
    return len(set(a) & set(b)) / min(len(set(a)), len(set(b)))


def glue_type(type_: pa.DataType) -> str:
    """An Arrow type as the Hive type string Glue stores (struct<a:int,b:string>, array<string>...)."""
    if pa.types.is_dictionary(type_):
        return glue_type(type_.value_type)
    if pa.types.is_boolean(type_):
        return "boolean"
    if pa.types.is_integer(type_):
        # Hive has no unsigned types: an unsigned column takes the next wider signed type.
        bits = type_.bit_width * (2 if pa.types.is_unsigned_integer(type_) else 1)
        return {8: "tinyint", 16: "smallint", 32: "int"}.get(bits, "bigint")
    if pa.types.is_float16(type_) or pa.types.is_float32(type_):
        return "float"
    if pa.types.is_float64(type_):
        return "double"
    if pa.types.is_decimal(type_):
        return f"decimal({type_.precision},{type_.scale})"
    if pa.types.is_timestamp(type_):
        return "timestamp"
    if pa.types.is_date(type_):
        return "date"
    if pa.types.is_binary(type_) or pa.types.is_large_binary(type_) or pa.types.is_fixed_size_binary(type_):
        return "binary"
    if _is_list(type_):
        return f"array<{glue_type(type_.value_type)}>"
    if pa.types.is_map(type_):
        return f"map<{glue_type(type_.key_type)},{glue_type(type_.item_type)}>"
    if pa.types.is_struct(type_):
        inner = ",".join(f"{type_.field(i).name}:{glue_type(type_.field(i).type)}" for i in range(type_.num_fields))
        return f"struct<{inner}>"
    return "string"  # strings, nulls (a JSON field that was always null) and anything Hive lacks

"""A Glue catalog table as a DuckDB relation over its files in local S3, read in place.

The relation is a SELECT over DuckDB's own readers (read_parquet, read_csv, read_json) on
the table's files, so DuckDB pushes projections down and reads only the columns a query
uses. Partitions come from the catalog, as on Athena: only registered partitions are read,
and those ruled out by the query's WHERE on partition keys are never opened.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import duckdb
from sqlglot import exp

from local_aws.athena.storage import CountingS3FileSystem, split_location
from local_aws.athena.translate import AthenaError

FILE_COLUMN = "__athena_file"  # the data file each row came from; joins rows to their partition's values
# Athena's hidden columns: the data file a row came from, and that file's size in bytes.
HIDDEN_COLUMNS = {"$path": "string", "$file_size": "bigint"}
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for a NULL partition value

TEXT_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
JSON_SERDES = ("org.openx.data.jsonserde.JsonSerDe", "org.apache.hive.hcatalog.data.JsonSerDe")
SERDE_FORMATS = {TEXT_SERDE: "text", OPEN_CSV_SERDE: "opencsv", PARQUET_SERDE: "parquet"} | dict.fromkeys(
    JSON_SERDES, "json"
)
CLASSIFICATION_FORMATS = {"csv": "text", "tsv": "text", "parquet": "parquet", "json": "json"}

STRING_TYPES = ("VARCHAR", "TEXT", "CHAR", "STRING")
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT")


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_type(hive_type: str) -> str:
    """Hive/Glue type ('array<struct<a:int>>') -> DuckDB type ('STRUCT(a INT)[]')."""
    try:
        return exp.DataType.build(hive_type, dialect="hive").sql("duckdb")
    except Exception as error:  # sqlglot raises several error types for a bad type string
        raise AthenaError("HIVE_INVALID_METADATA", f"unknown column type {hive_type!r}: {error}") from None


@dataclass
class Column:
    name: str
    hive_type: str

    @property
    def duckdb_type(self) -> str:
        return duckdb_type(self.hive_type)

    @property
    def base_type(self) -> str:
        return self.duckdb_type.split("(")[0].upper()


@dataclass
class CatalogTable:
    """The parts of a Glue table (GetTable's Table) that reading its data needs."""

    database: str
    name: str
    columns: list[Column]
    partition_keys: list[Column]
    location: str
    input_format: str = ""
    serde: str = ""
    serde_parameters: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    table_type: str = ""

    @classmethod
    def from_glue(cls, table: dict[str, Any]) -> CatalogTable:
        sd = table.get("StorageDescriptor") or {}
        serde_info = sd.get("SerdeInfo") or {}
        return cls(
            database=table.get("DatabaseName", ""),
            name=table["Name"],
            columns=[Column(c["Name"].lower(), c["Type"]) for c in sd.get("Columns") or []],
            partition_keys=[Column(c["Name"].lower(), c["Type"]) for c in table.get("PartitionKeys") or []],
            location=sd.get("Location") or "",
            input_format=sd.get("InputFormat") or "",
            serde=serde_info.get("SerializationLibrary") or "",
            serde_parameters=serde_info.get("Parameters") or {},
            parameters=table.get("Parameters") or {},
            table_type=table.get("TableType") or "",
        )

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def format(self) -> str:
        """text (LazySimpleSerDe), opencsv, parquet or json, from the SerDe, InputFormat or classification."""
        if "parquet" in self.input_format.lower():
            return "parquet"
        if self.serde in SERDE_FORMATS:
            return SERDE_FORMATS[self.serde]
        classification = self.parameters.get("classification", "").lower()
        if classification in CLASSIFICATION_FORMATS and not self.serde:
            return CLASSIFICATION_FORMATS[classification]
        raise AthenaError(
            "NOT_SUPPORTED",
            f"local Athena cannot read table {self.qualified_name}: SerDe {self.serde or '(none)'!r}, "
            f"InputFormat {self.input_format or '(none)'!r}, classification {classification or '(none)'!r}; "
            f"it reads LazySimpleSerDe and OpenCSVSerde text, Parquet and JSON (OpenX or HCatalog JsonSerDe)",
        )

    def setting(self, key: str, default: str | None = None) -> str | None:
        """A table or SerDe property: crawlers put skip.header.line.count in the table, DDL may use either."""
        return self.parameters.get(key, self.serde_parameters.get(key, default))


def relation_sql(
    con: duckdb.DuckDBPyConnection,
    table: CatalogTable,
    partitions: list[dict[str, Any]],
    partition_predicate: str | None,
    s3: CountingS3FileSystem,
    hidden: set[str] = frozenset(),
) -> str:
    """SELECT of the table's columns (then its partition keys, then the hidden columns asked for) over its files."""
    if table.table_type.upper() == "VIRTUAL_VIEW":
        raise AthenaError("NOT_SUPPORTED", f"{table.qualified_name} is a view; local Athena does not query views yet")
    if not table.location:
        raise AthenaError("HIVE_INVALID_METADATA", f"table {table.qualified_name} has no StorageDescriptor.Location")
    reader = READERS[table.format]  # unsupported formats fail before any S3 listing
    if table.partition_keys:
        for partition in partitions:
            if len(partition.get("Values") or []) != len(table.partition_keys):
                raise AthenaError(
                    "HIVE_INVALID_METADATA",
                    f"partition {partition.get('Values')} of {table.qualified_name} does not give one value per partition key "
                    f"({', '.join(key.name for key in table.partition_keys)})",
                )
        partitions = prune_partitions(con, table, partitions, partition_predicate)
        files = [(path, values) for values, paths in partition_files(s3, table, partitions) for path in paths]
    else:
        files = [(path, []) for path in s3.data_files(table.location)]
    if not files:
        return (
            "SELECT "
            + ", ".join(
                [f"CAST(NULL AS {c.duckdb_type}) AS {ident(c.name)}" for c in table.columns + table.partition_keys]
                + [f"CAST(NULL AS {duckdb_type(HIDDEN_COLUMNS[name])}) AS {ident(name)}" for name in sorted(hidden)]
            )
            + " LIMIT 0"
        )

    # A file in two partitions' locations is read once and joined to both, as Athena reads it twice.
    source, columns = reader(con, table, list(dict.fromkeys(path for path, _ in files)))
    extra = hidden_columns(hidden, s3, [path for path, _ in files])
    if not table.partition_keys:
        return f"SELECT {', '.join(columns + extra)} FROM {source} AS data"
    keys = table.partition_keys
    rows = ", ".join(
        "("
        + ", ".join([literal(path)] + [partition_value(value, key) for value, key in zip(values, keys, strict=True)])
        + ")"
        for path, values in files
    )
    key_names = ", ".join(ident(key.name) for key in keys)
    return (
        f"SELECT {', '.join(columns + ['parts.' + ident(key.name) for key in keys] + extra)} "
        f"FROM {source} AS data JOIN (VALUES {rows}) AS parts({FILE_COLUMN}, {key_names}) "
        f"ON data.{FILE_COLUMN} = parts.{FILE_COLUMN}"
    )


def hidden_columns(hidden: set[str], s3: CountingS3FileSystem, paths: list[str]) -> list[str]:
    """"$path" (the file's s3:// URI, as Athena gives it) and "$file_size" (its size, from the listing)."""
    columns = []
    if "$path" in hidden:
        columns.append(f"data.{FILE_COLUMN} AS {ident('$path')}")
    if "$file_size" in hidden:
        sizes = ", ".join(f"{literal(p)}: {s3.listed[p[len('s3://'):]].size}" for p in dict.fromkeys(paths))
        columns.append(f"MAP {{{sizes}}}[data.{FILE_COLUMN}] AS {ident('$file_size')}")
    return columns


def partition_files(
    s3: CountingS3FileSystem, table: CatalogTable, partitions: list[dict[str, Any]]
) -> list[tuple[list[str], list[str]]]:
    """(values, data files) of each partition. Partitions under the table's location (the usual
    layout) come from one listing of it when there are several; others are listed one by one."""
    base = s3_folder(table.location)
    locations = [s3_folder((p.get("StorageDescriptor") or {}).get("Location") or "") for p in partitions]
    listing = s3.data_files(base) if sum(location.startswith(base) for location in locations) > 3 else []
    found = []
    for partition, location in zip(partitions, locations, strict=True):
        if listing and location.startswith(base):
            first = bisect.bisect_left(listing, location)
            last = bisect.bisect_left(listing, location + "\U0010ffff")  # every key that starts with location
            paths = listing[first:last]
        else:
            paths = s3.data_files(location)
        found.append((partition["Values"], paths))
    return found


def s3_folder(location: str) -> str:
    """'s3a://bucket/prefix' -> 's3://bucket/prefix/', the form listings use (empty segments dropped, as Athena does)."""
    try:
        bucket, prefix = split_location(location)
    except ValueError:
        return location
    return f"s3://{bucket}/{prefix.rstrip('/')}/" if prefix.strip("/") else f"s3://{bucket}/"


def partition_value(value: str | None, key: Column) -> str:
    if value is None or value == HIVE_DEFAULT_PARTITION:
        return f"CAST(NULL AS {key.duckdb_type})"
    return f"TRY_CAST({literal(value)} AS {key.duckdb_type})"


def prune_partitions(
    con: duckdb.DuckDBPyConnection, table: CatalogTable, partitions: list[dict[str, Any]], predicate: str | None
) -> list[dict[str, Any]]:
    """The partitions whose values pass predicate (SQL over the partition keys), evaluated on DuckDB."""
    if not predicate or not partitions:
        return partitions
    keys = table.partition_keys
    rows = ", ".join(
        "(" + ", ".join([str(index)] + [partition_value(v, k) for v, k in zip(p["Values"], keys, strict=True)]) + ")"
        for index, p in enumerate(partitions)
    )
    sql = f"SELECT __index FROM (VALUES {rows}) AS parts(__index, {', '.join(ident(k.name) for k in keys)}) WHERE {predicate}"
    try:
        keep = {index for (index,) in con.execute(sql).fetchall()}
    except duckdb.Error:
        return partitions  # pruning only saves reads; the query's own WHERE still filters every row
    return [p for index, p in enumerate(partitions) if index in keep]


def _file_list(files: list[str]) -> str:
    return "[" + ", ".join(literal(path) for path in files) + "]"


def _parquet(con, table: CatalogTable, files: list[str]) -> tuple[str, list[str]]:
    """Columns are matched by name, case-insensitively, as Athena does; missing ones are NULL.

    DuckDB takes the schema from the first file (union_by_name would read every footer twice);
    when that file lacks a column of the table (files written before an ADD COLUMN), every file is
    read by name, so the files that have it give its values.
    """
    options = f"hive_partitioning = false, filename = {literal(FILE_COLUMN)}"
    source = f"read_parquet({_file_list(files)}, {options})"
    present = {name.lower(): name for name in con.sql(f"SELECT * FROM {source}").columns}
    if len(files) > 1 and any(c.name not in present for c in table.columns):
        source = f"read_parquet({_file_list(files)}, {options}, union_by_name = true)"
        present = {name.lower(): name for name in con.sql(f"SELECT * FROM {source}").columns}
    columns = [
        f"{_parquet_value(f'data.{ident(present[c.name])}', c)} AS {ident(c.name)}"
        if c.name in present
        else f"CAST(NULL AS {c.duckdb_type}) AS {ident(c.name)}"
        for c in table.columns
    ]
    return source, columns


def _parquet_value(value: str, column: Column) -> str:
    if column.base_type == "TIMESTAMP":
        # Athena reads Parquet timestamps as timestamp(3), rounding micro- and nanoseconds half up
        # (Trino's Parquet decoders), where a plain cast would truncate them.
        micros = f"epoch_us(CAST({value} AS TIMESTAMP))"
        return f"make_timestamp(CAST(floor(({micros} + 500) / 1000) AS BIGINT) * 1000)"
    return f"CAST({value} AS {column.duckdb_type})"


def _text_value(value: str, column: Column, table: CatalogTable) -> str:
    """A text field as the column's type; what does not parse is NULL, as on Athena."""
    base = column.base_type
    if base in STRING_TYPES:
        return value
    if base in INTEGER_TYPES:  # DuckDB would round '1.5' to 2; Hive gives NULL
        return f"TRY_CAST(CASE WHEN regexp_full_match(trim({value}), '[+-]?[0-9]+') THEN trim({value}) END AS {column.duckdb_type})"
    if base == "BOOLEAN":
        return f"CASE lower(trim({value})) WHEN 'true' THEN true WHEN 'false' THEN false END"
    if base in ("STRUCT", "MAP") or column.duckdb_type.endswith("]"):
        raise AthenaError(
            "NOT_SUPPORTED",
            f"column {column.name} of text table {table.qualified_name} has complex type {column.hive_type}; "
            f"local Athena reads arrays, maps and structs from Parquet and JSON only",
        )
    return f"TRY_CAST({value} AS {column.duckdb_type})"


def _csv_source(table: CatalogTable, files: list[str], **options: str) -> str:
    fields = ", ".join(f"{literal(f'c{i}')}: 'VARCHAR'" for i in range(len(table.columns)))
    skip = int(table.setting("skip.header.line.count", "0") or 0)
    settings = ", ".join(f"{key} = {value}" for key, value in options.items())
    return (
        f"read_csv({_file_list(files)}, columns = {{{fields}}}, header = false, skip = {skip}, auto_detect = false, "
        # Hive pads missing trailing fields with NULL and ignores extra ones.
        f"null_padding = true, strict_mode = false, {settings}, filename = {literal(FILE_COLUMN)})"
    )


def _text(con, table: CatalogTable, files: list[str]) -> tuple[str, list[str]]:
    """LazySimpleSerDe: split on field.delim, no quoting; serialization.null.format (\\N) is NULL."""
    delimiter = table.setting("field.delim") or table.setting("serialization.format") or "\x01"
    null = table.setting("serialization.null.format", "\\N")
    source = _csv_source(table, files, delim=literal(delimiter), quote="''", escape="''", nullstr=literal(null))
    return source, [f"{_text_value(f'data.c{i}', c, table)} AS {ident(c.name)}" for i, c in enumerate(table.columns)]


def _open_csv(con, table: CatalogTable, files: list[str]) -> tuple[str, list[str]]:
    """OpenCSVSerde: quoted fields; an empty field is an empty string, never NULL."""
    quote = table.setting("quoteChar", '"')
    # OpenCSV reads both \" and "" inside quotes; DuckDB takes one escape character. Without an
    # explicit escapeChar, the doubled quote of standard CSV wins.
    options = {
        "delim": literal(table.setting("separatorChar", ",")),
        "quote": literal(quote),
        "escape": literal(table.setting("escapeChar", quote)),
    }
    source = _csv_source(table, files, **options)
    columns = []
    for i, c in enumerate(table.columns):
        value = f"coalesce(data.c{i}, '')"
        columns.append(f"{value if c.base_type in STRING_TYPES else _text_value(value, c, table)} AS {ident(c.name)}")
    return source, columns


def _json(con, table: CatalogTable, files: list[str]) -> tuple[str, list[str]]:
    """One JSON object per line; keys match columns case-insensitively, as the OpenX JsonSerDe does."""
    ignore_malformed = table.setting("ignore.malformed.json", "false").lower() == "true"
    files_sql = _file_list(files)
    try:  # DuckDB matches keys exactly: learn how the data spells them from a sample
        sampled = con.sql(
            f"SELECT * FROM read_json({files_sql}, format = 'newline_delimited', ignore_errors = true)"
        ).columns
        spelled = {key.lower(): key for key in sampled}
    except duckdb.Error:
        spelled = {}
    keys = [spelled.get(c.name, c.name) for c in table.columns]
    fields = ", ".join(f"{literal(key)}: {literal(c.duckdb_type)}" for key, c in zip(keys, table.columns, strict=True))
    source = (
        f"read_json({files_sql}, format = 'newline_delimited', columns = {{{fields}}}, "
        f"ignore_errors = {str(ignore_malformed).lower()}, filename = {literal(FILE_COLUMN)})"
    )
    return source, [f"data.{ident(key)} AS {ident(c.name)}" for key, c in zip(keys, table.columns, strict=True)]


READERS = {"parquet": _parquet, "text": _text, "opencsv": _open_csv, "json": _json}

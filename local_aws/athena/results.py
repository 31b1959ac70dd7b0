"""Query results as Athena returns them: values as Trino's text, ColumnInfo, the result CSV and .metadata.

Athena hands every value back as a string (GetQueryResults' VarCharValue and the result CSV),
rendered the way Trino renders it. DuckDB renders most types the same; doubles, timestamps,
varbinary and nested values are reformatted here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
from pyarrow import fs as pafs

from local_aws.clients import split_s3_uri

# Athena's type name, Precision and Scale for DuckDB's result types (DECIMAL and nested types apart).
ATHENA_TYPES = {
    "BOOLEAN": ("boolean", 0),
    "TINYINT": ("tinyint", 3),
    "SMALLINT": ("smallint", 5),
    "INTEGER": ("integer", 10),
    # Trino's integer sums are bigint; DuckDB widens them to HUGEINT.
    **dict.fromkeys(("BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"), ("bigint", 19)),
    "FLOAT": ("float", 17),
    "DOUBLE": ("double", 17),
    "VARCHAR": ("varchar", 2147483647),
    "DATE": ("date", 0),
    **dict.fromkeys(("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"), ("timestamp", 3)),
    "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 3),
    "TIME": ("time", 3),
    "BLOB": ("varbinary", 2147483647),
    "JSON": ("json", 0),
    "UUID": ("uuid", 0),
    "INTERVAL": ("interval day to second", 0),
}
FLOAT_TYPES = ("FLOAT", "DOUBLE")
TIMESTAMP_FORMAT = "'%Y-%m-%d %H:%M:%S.%g'"  # Trino shows timestamp(3): milliseconds


def athena_type(duckdb_type: str) -> tuple[str, int, int]:
    """(type name, precision, scale) as in Athena's ColumnInfo."""
    duckdb_type = duckdb_type.upper()
    if duckdb_type.endswith("]"):
        return "array", 0, 0
    base = duckdb_type.split("(")[0].strip()
    if base == "DECIMAL":
        precision, scale = (int(n) for n in duckdb_type[len("DECIMAL(") : -1].split(","))
        return "decimal", precision, scale
    if base in ("MAP", "STRUCT"):
        return {"MAP": "map", "STRUCT": "row"}[base], 0, 0
    name, precision = ATHENA_TYPES.get(base, ("varchar", 2147483647))
    return name, precision, 0


def column_info(name: str, duckdb_type: str) -> dict[str, Any]:
    type_name, precision, scale = athena_type(duckdb_type)
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": type_name,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": type_name == "varchar",
    }


def java_double(value: float) -> str:
    """A double as Java's Double.toString writes it (Trino's text): 0.001 .. 1e7 plain, else 1.0E7."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)  # shortest round-trip digits, like Java
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return text
    sign, digits, exponent = Decimal(text).as_tuple()
    scientific_exponent = len(digits) + exponent - 1
    significant = "".join(map(str, digits)).rstrip("0") or "0"
    return f"{'-' if sign else ''}{significant[0]}.{significant[1:] or '0'}E{scientific_exponent}"


def trino_text(value: Any) -> str:
    """A nested value (from JSON) as Trino writes it: [1, 2], {key=value}."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, list):
        return "[" + ", ".join(trino_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={trino_text(item)}" for key, item in value.items()) + "}"
    return str(value)


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """SQL functions the text rendering uses (only for the few values DuckDB renders differently)."""
    con.create_function("athena_double_text", lambda text: java_double(float(text)), ["VARCHAR"], "VARCHAR")
    con.create_function("athena_nested_text", lambda text: trino_text(json.loads(text)), ["VARCHAR"], "VARCHAR")


def text_sql(column: str, duckdb_type: str) -> str:
    """SQL rendering column (of duckdb_type) as Athena's text."""
    duckdb_type = duckdb_type.upper()
    base = duckdb_type.split("(")[0].strip()
    if duckdb_type.endswith("]") or base in ("MAP", "STRUCT", "UNION"):
        return f"athena_nested_text(CAST(to_json({column}) AS VARCHAR))"
    if base in FLOAT_TYPES:
        plain = f"isfinite({column}) AND ({column} = 0 OR abs({column}) >= 1e-3 AND abs({column}) < 1e7)"
        return (
            f"CASE WHEN {plain} THEN CAST({column} AS VARCHAR) ELSE athena_double_text(CAST({column} AS VARCHAR)) END"
        )
    if base.startswith("TIMESTAMP"):
        suffix = " || ' UTC'" if "TIME ZONE" in duckdb_type else ""
        return f"strftime({column}, {TIMESTAMP_FORMAT}){suffix}"
    if base == "BLOB":
        return rf"rtrim(regexp_replace(lower(hex({column})), '(..)', '\1 ', 'g'))"
    if base == "VARCHAR":
        return column
    return f"CAST({column} AS VARCHAR)"


@dataclass
class QueryResult:
    """A finished query's result: header and values as Athena's strings (NULL stays None)."""

    names: list[str]
    column_info: list[dict[str, Any]]
    values: pa.Table  # every column a string column, in result order
    header_row: bool = True  # SELECT results start with the column names, as on Athena
    update_count: int = 0  # rows written by CTAS, INSERT INTO and UNLOAD

    @property
    def row_count(self) -> int:
        return self.values.num_rows

    def page(self, start: int, count: int) -> list[list[str | None]]:
        """Rows [start, start+count) of what GetQueryResults lists: the header row, then the values."""
        rows: list[list[str | None]] = []
        if self.header_row and start == 0 and count > 0:
            rows.append(list(self.names))
            count -= 1
        offset = max(0, start - (1 if self.header_row else 0))
        window = self.values.slice(offset, count)
        rows.extend(
            [list(row) for row in zip(*(column.to_pylist() for column in window.columns), strict=True)]
            if window.num_columns
            else []
        )
        return rows

    @property
    def listed_rows(self) -> int:
        return self.row_count + (1 if self.header_row else 0)


def empty_result() -> QueryResult:
    """What DDL statements return: no columns, no rows."""
    return QueryResult(names=[], column_info=[], values=pa.table({}), header_row=False)


def text_result(name: str, lines: list[str]) -> QueryResult:
    """What SHOW and DESCRIBE return: one string column, no header row (Athena writes them as .txt)."""
    return QueryResult(
        names=[name],
        column_info=[column_info(name, "VARCHAR")],
        values=pa.table({name: pa.array(lines, pa.string())}),
        header_row=False,
    )


def fetch(con: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
    """Run sql on con and render its rows as Athena's text."""
    relation = con.sql(sql)
    names = [name.lower() for name in relation.columns]  # Athena lowercases result column names
    types = [str(t) for t in relation.types]
    typed = relation.arrow().read_all()
    register_functions(con)
    if names:
        projection = ", ".join(f"{text_sql(f'#{i + 1}', t)} AS c{i}" for i, t in enumerate(types))
        values = con.from_arrow(typed).project(projection).arrow().read_all()
    else:
        values = pa.table({})
    return QueryResult(
        names=names, column_info=[column_info(n, t) for n, t in zip(names, types, strict=True)], values=values
    )


def write(s3: pafs.S3FileSystem, output_location: str, result: QueryResult) -> int:
    """Write Athena's result files at output_location (…/<id>.csv or …/<id>.txt); returns the bytes written.

    .csv: header row and every value double-quoted, NULL as an empty field (as Athena writes).
    .csv.metadata: JSON with ColumnInfo and the row count (Athena writes a binary protobuf here).
    .txt (DDL, SHOW, DESCRIBE): the rows' single values, one a line (empty for DDL).
    """
    bucket, key = split_s3_uri(output_location)
    path = f"{bucket}/{key}"
    if not output_location.endswith(".csv"):
        lines = result.values.column(0).to_pylist() if result.values.num_columns else []
        data = "".join(f"{line}\n" for line in lines).encode()
        with s3.open_output_stream(path) as out:
            out.write(data)
        return len(data)
    table = result.values.rename_columns(result.names)
    with s3.open_output_stream(path) as out:
        pacsv.write_csv(table, out, pacsv.WriteOptions(quoting_style="all_valid"))
        size = out.tell()
    with s3.open_output_stream(path + ".metadata") as out:
        out.write(json.dumps({"ColumnInfo": result.column_info, "RowCount": result.row_count}).encode())
    return size


def manifest_location(output_location: str) -> str:
    """The data manifest of a CTAS, INSERT INTO or UNLOAD query: <QueryID>-manifest.csv beside its <QueryID>."""
    return f"{output_location}-manifest.csv"


def write_manifest(s3: pafs.S3FileSystem, output_location: str, files: list[str], result: QueryResult) -> int:
    """What Athena writes for a statement that writes data: the data manifest, one s3:// URI of a written file
    a line, and <QueryID>.metadata (JSON here, binary on Athena). Returns the manifest's size."""
    bucket, key = split_s3_uri(manifest_location(output_location))
    data = "".join(f"{path}\n" for path in files).encode()
    with s3.open_output_stream(f"{bucket}/{key}") as out:
        out.write(data)
    bucket, key = split_s3_uri(output_location + ".metadata")
    with s3.open_output_stream(f"{bucket}/{key}") as out:
        out.write(json.dumps({"ColumnInfo": result.column_info, "RowCount": 0, "UpdateCount": result.update_count}).encode())
    return len(data)

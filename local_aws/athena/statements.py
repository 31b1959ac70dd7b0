"""Athena statements beyond SELECT and Hive DDL: CTAS, INSERT INTO, UNLOAD, views, SHOW/DESCRIBE,
prepared statements and execution parameters.

Writes go to local S3 as real files (Parquet, JSON lines or delimited text) and the tables they
make or grow are registered in the Glue catalog, as Athena does. Views are stored in Glue the way
Athena stores them (TableType VIRTUAL_VIEW, ViewOriginalText '/* Presto View: <base64 JSON> */')
and expanded into the queries that read them.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow.parquet as pq
import sqlglot
from pyarrow import fs as pafs
from sqlglot import exp

from local_aws.athena import ddl, results
from local_aws.athena.storage import split_location
from local_aws.athena.tables import HIVE_DEFAULT_PARTITION, JSON_SERDES, TEXT_SERDE, CatalogTable, ident
from local_aws.athena.translate import CATALOG, DIALECT, AthenaError, parse, statement_position

VIEW_PREFIX, VIEW_SUFFIX = "/* Presto View: ", " */"
FORMATS = {  # CTAS/UNLOAD format -> (InputFormat, OutputFormat, SerDe)
    "PARQUET": ddl.STORED_AS["PARQUET"],
    "TEXTFILE": ddl.STORED_AS["TEXTFILE"],
    "JSON": (ddl.TEXT_INPUT, ddl.TEXT_OUTPUT, JSON_SERDES[1]),
}
MAX_VIEW_DEPTH = 10

# A query on the caller's DuckDB connection: run(query) -> what fetch(con, duckdb_sql) returns.
QueryRunner = Callable[[exp.Expression, Callable[[duckdb.DuckDBPyConnection, str], Any]], Any]


def writes_data(statement: exp.Expression | None) -> bool:
    """CTAS, INSERT INTO and UNLOAD: the statements that write data files (and so a data manifest)."""
    if isinstance(statement, exp.Insert):
        return True
    if isinstance(statement, exp.Create):
        return statement.args.get("expression") is not None and (statement.kind or "").upper() == "TABLE"
    return isinstance(statement, exp.Command) and statement.name.upper() == "UNLOAD"


def handles(statement: exp.Expression) -> bool:
    if isinstance(statement, exp.Insert) or isinstance(statement, exp.Describe):
        return True
    if isinstance(statement, exp.Create) and statement.args.get("expression") is not None:
        return (statement.kind or "").upper() in ("TABLE", "VIEW")
    if isinstance(statement, exp.Drop) and (statement.kind or "").upper() == "VIEW":
        return True
    return isinstance(statement, exp.Command) and statement.name.upper() in (
        "SHOW",
        "UNLOAD",
        "PREPARE",
        "DEALLOCATE PREPARE",
    )


# --- prepared statements and execution parameters ----------------------------------------------


def command_text(statement: exp.Command) -> str:
    """What follows the command word of a statement sqlglot left unparsed."""
    rest = statement.expression
    return rest.name if isinstance(rest, exp.Expression) else str(rest or "")


def bind(statement: exp.Expression, parameters: list[str], sql: str) -> exp.Expression:
    """Replace the ? placeholders, in order, by the parameter values (SQL literals, as Athena takes them)."""
    placeholders = list(statement.find_all(exp.Placeholder))
    if len(placeholders) != len(parameters):
        raise AthenaError(
            "INVALID_PARAMETER_USAGE",
            f"Incorrect number of parameters: expected {len(placeholders)} but found {len(parameters)}",
        )
    for placeholder, value in zip(placeholders, parameters, strict=True):
        try:
            placeholder.replace(sqlglot.parse_one(value, read=DIALECT))
        except sqlglot.errors.ParseError:
            raise AthenaError(
                "INVALID_PARAMETER_USAGE", f"execution parameter {value!r} is not a SQL literal (quote strings: 'text')"
            ) from None
    return statement


def resolve(
    statement: exp.Expression,
    sql: str,
    parameters: list[str] | None,
    prepared: Callable[[str], str | None],
    store: Callable[[str, str], None],
    remove: Callable[[str], bool],
) -> tuple[exp.Expression, str]:
    """PREPARE stores its statement (prepared: name -> SQL or None); EXECUTE becomes that statement with
    its parameters bound; other statements get ExecutionParameters bound. Returns (statement, its SQL)."""
    command = statement.name.upper() if isinstance(statement, exp.Command) else ""
    text = command_text(statement) if command else ""
    if command == "PREPARE":
        match = re.match(r"\s*(\w+)\s+FROM\s+(.+)$", text, re.S | re.I)
        if not match:
            raise AthenaError("SYNTAX_ERROR", "expected PREPARE <name> FROM <statement>")
        parse(match.group(2))  # a statement that does not parse is not stored
        store(match.group(1).lower(), match.group(2).strip())
        return statement, sql
    if command == "DEALLOCATE PREPARE":
        if not remove(text.strip().lower()):
            raise AthenaError("NOT_FOUND", f"Prepared statement {text.strip()!r} does not exist in this workgroup")
        return statement, sql
    if command == "EXECUTE":
        match = re.match(r"\s*(\w+)(?:\s+USING\s+(.+))?$", text, re.S | re.I)
        if not match:
            raise AthenaError("SYNTAX_ERROR", "expected EXECUTE <name> [USING <value>, ...]")
        name = match.group(1).lower()
        stored = prepared(name)
        if stored is None:
            raise AthenaError(
                "NOT_FOUND",
                f"Prepared statement '{name}' does not exist in this workgroup; create it with PREPARE {name} FROM ...",
            )
        values = parameters or []
        if match.group(2):
            using = sqlglot.parse_one(f"SELECT {match.group(2)}", read=DIALECT).expressions
            values = [value.sql(DIALECT) for value in using]
        return bind(parse(stored), values, stored), stored
    if parameters or statement.find(exp.Placeholder):
        return bind(statement, parameters or [], sql), sql
    return statement, sql


# --- views ------------------------------------------------------------------------------------


def view_definition(table: dict[str, Any]) -> dict[str, Any]:
    text = table.get("ViewOriginalText") or ""
    if not (text.startswith(VIEW_PREFIX) and text.endswith(VIEW_SUFFIX)):
        raise AthenaError(
            "HIVE_VIEW_TRANSLATION_ERROR",
            f"view {table.get('DatabaseName')}.{table['Name']} has no Presto view text; recreate it with CREATE VIEW in Athena",
        )
    return json.loads(base64.b64decode(text[len(VIEW_PREFIX) : -len(VIEW_SUFFIX)]))


def expand_views(statement: exp.Expression, catalog: ddl.Catalog, default_database: str) -> exp.Expression:
    """Each catalog view the statement reads becomes the subquery of its definition (views in views too)."""
    for _ in range(MAX_VIEW_DEPTH):
        expanded = False
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        for node in list(statement.find_all(exp.Table)):
            if not isinstance(node.this, exp.Identifier) or (not node.db and node.name.lower() in ctes):
                continue
            if node.catalog and node.catalog.lower() != CATALOG:
                continue
            database = (node.db or default_database).lower()
            table = catalog.table(database, node.name.lower())
            if not table or (table.get("TableType") or "").upper() != "VIRTUAL_VIEW":
                continue
            definition = view_definition(table)
            query = parse(definition["originalSql"])
            view_ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
            for inner in query.find_all(exp.Table):  # the view's own tables are named from its schema
                if isinstance(inner.this, exp.Identifier) and not inner.db and inner.name.lower() not in view_ctes:
                    inner.set("db", exp.to_identifier(definition.get("schema") or database))
            node.replace(exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(node.alias_or_name))))
            expanded = True
        if not expanded:
            return statement
    raise AthenaError("VIEW_IS_RECURSIVE", f"views nest more than {MAX_VIEW_DEPTH} deep (is a view reading itself?)")


def create_view(statement: exp.Create, sql: str, database: str, catalog: ddl.Catalog, run_query: QueryRunner) -> None:
    node = statement.this
    database, name = (node.db or database).lower(), node.name.lower()
    catalog.require_database(database)
    query = statement.expression
    original_sql = query.sql(DIALECT)

    def typed_columns(con: duckdb.DuckDBPyConnection, duck_sql: str) -> list[tuple[str, Any]]:
        relation = con.sql(duck_sql)  # bound, not run: the view's column types without reading its rows
        return list(zip(relation.columns, relation.types, strict=True))

    columns = run_query(query.copy(), typed_columns)
    glue_columns = [{"Name": n.lower(), "Type": hive_type(str(t), f"view {database}.{name}")} for n, t in columns]
    definition = {
        "originalSql": original_sql,
        "catalog": CATALOG,
        "schema": database,
        "columns": [{"name": n.lower(), "type": results.athena_type(str(t))[0]} for n, t in columns],
        "owner": "local-aws",
        "runAsInvoker": False,
        "properties": {},
    }
    table_input = {
        "Name": name,
        "TableType": "VIRTUAL_VIEW",
        "Parameters": {"presto_view": "true", "comment": "Presto View"},
        "ViewOriginalText": VIEW_PREFIX + base64.b64encode(json.dumps(definition).encode()).decode() + VIEW_SUFFIX,
        "ViewExpandedText": "/* Presto View */",
        "PartitionKeys": [],
        "StorageDescriptor": {"Columns": glue_columns, "Location": "", "SerdeInfo": {}},
    }
    existing = catalog.table(database, name)
    if existing is None:
        catalog.glue.create_table(DatabaseName=database, TableInput=table_input)
    elif (existing.get("TableType") or "").upper() != "VIRTUAL_VIEW":  # Trino's CreateViewTask words
        raise AthenaError(
            "TABLE_ALREADY_EXISTS", f"{statement_position(sql)}Table already exists: '{CATALOG}.{database}.{name}'"
        )
    elif statement.args.get("replace"):
        catalog.glue.update_table(DatabaseName=database, TableInput=table_input)
    else:
        raise AthenaError(
            "TABLE_ALREADY_EXISTS", f"{statement_position(sql)}View already exists: '{CATALOG}.{database}.{name}'"
        )


def drop_view(statement: exp.Drop, database: str, catalog: ddl.Catalog) -> None:
    for node in statement.args.get("tables") or [statement.this]:
        db, name = (node.db or database).lower(), node.name.lower()
        table = catalog.table(db, name)
        if table is None:
            if statement.args.get("exists"):
                continue
            raise AthenaError("TABLE_NOT_FOUND", f"View '{CATALOG}.{db}.{name}' does not exist")
        if (table.get("TableType") or "").upper() != "VIRTUAL_VIEW":
            raise AthenaError("INVALID_VIEW", f"{db}.{name} is a table, not a view; use DROP TABLE {db}.{name}")
        catalog.glue.delete_table(DatabaseName=db, Name=name)


# --- writing tables: CTAS, INSERT INTO, UNLOAD --------------------------------------------------


def hive_type(duckdb_type: str, what: str) -> str:
    """A DuckDB result type as the Hive type Glue stores ('VARCHAR' -> 'string', 'INTEGER[]' -> 'array<int>')."""
    upper = duckdb_type.upper()
    if "TIME ZONE" in upper:
        raise AthenaError(
            "NOT_SUPPORTED", f"Unsupported Hive type: timestamp with time zone (in {what}); cast it to timestamp"
        )
    upper = re.sub(r"\bU?HUGEINT\b|\bUBIGINT\b", "BIGINT", upper)
    upper = re.sub(r"\bTIMESTAMP_(?:S|MS|NS)\b", "TIMESTAMP", upper)
    if upper == '"NULL"' or upper == "NULL":
        upper = "VARCHAR"
    return ddl.hive_type(exp.DataType.build(upper, dialect="duckdb"))


def trino_type(type_sql: str, dialect: str) -> str:
    """A Hive or DuckDB type as Trino names it in messages: integer, varchar, decimal(10,2), array(integer)."""
    if re.sub(r"\s", "", type_sql.upper()) in ("HUGEINT", "UHUGEINT"):
        return "bigint"  # DuckDB's integer sums; Trino's are bigint
    return exp.DataType.build(type_sql, dialect=dialect).sql("trino").lower().replace(", ", ",")


@dataclass
class Written:
    columns: list[tuple[str, str]]  # (name, DuckDB type) of the query, in order
    partitions: dict[tuple[str, ...], str]  # partition values -> folder written
    rows: int
    files: list[str]  # s3:// URIs of the data files written, as the data manifest lists them


def file_name(query_id: str, index: int, fmt: str) -> str:
    return f"{query_id}_{index:05d}" + {"PARQUET": ".parquet", "JSON": ".json", "TEXTFILE": ".txt"}[fmt]


def partition_text(value: Any) -> str:
    return HIVE_DEFAULT_PARTITION if value is None else str(value)


def write_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    s3: pafs.S3FileSystem,
    location: str,
    fmt: str,
    partition_names: list[str],
    query_id: str,
    delimiter: str = "\x01",
    what: str = "table",
) -> Written:
    """Run sql and write its rows under location as fmt files, one folder per partition (key=value/)."""
    relation = con.sql(sql)
    names = [n.lower() for n in relation.columns]
    types = [str(t) for t in relation.types]
    missing = [key for key in partition_names if key not in names]
    if missing:
        raise AthenaError(
            "INVALID_TABLE_PROPERTY",
            f"partitioned_by column(s) {', '.join(missing)} not in the query's columns of {what}",
        )
    if names[len(names) - len(partition_names) :] != partition_names:
        raise AthenaError(
            "INVALID_TABLE_PROPERTY",
            f"partition columns {partition_names} must be the last columns of the query, in that order (for {what})",
        )
    data = relation.to_arrow_table().rename_columns(names)
    con.register("__athena_written", data)
    body = [(n, t) for n, t in zip(names, types, strict=True) if n not in partition_names]
    casts = (
        ", ".join(f"CAST({ident(n)} AS BIGINT) AS {ident(n)}" if "HUGEINT" in t.upper() else ident(n) for n, t in body)
        or "NULL AS _"
    )
    groups = (
        con.sql(f"SELECT DISTINCT {', '.join(ident(k) for k in partition_names)} FROM __athena_written").fetchall()
        if partition_names
        else [()]
    )
    bucket, prefix = split_location(location if location.endswith("/") else location + "/")
    written: dict[tuple[str, ...], str] = {}
    files: list[str] = []
    for index, values in enumerate(sorted(groups, key=lambda v: [partition_text(x) for x in v])):
        where = (
            " AND ".join(f"{ident(k)} IS NOT DISTINCT FROM ${i + 1}" for i, k in enumerate(partition_names)) or "TRUE"
        )
        folder = prefix + "".join(f"{k}={partition_text(v)}/" for k, v in zip(partition_names, values, strict=True))
        path = f"{bucket}/{folder}{file_name(query_id, index, fmt)}"
        selected = con.sql(f"SELECT {casts} FROM __athena_written WHERE {where}", params=list(values))
        if fmt == "PARQUET":
            pq.write_table(selected.to_arrow_table(), path, filesystem=s3)
        else:
            columns = [ident(n) for n, _ in body]
            if fmt == "JSON":
                line = f"to_json(struct_pack({', '.join(f'{c} := {c}' for c in columns)}))"
            else:
                line = (
                    "concat_ws("
                    + ", ".join(
                        [results_literal(delimiter)] + [f"coalesce(CAST({c} AS VARCHAR), '\\N')" for c in columns]
                    )
                    + ")"
                )
            lines = con.sql(f"SELECT {line} FROM __athena_written WHERE {where}", params=list(values)).fetchall()
            with s3.open_output_stream(path) as out:
                out.write("".join(f"{text}\n" for (text,) in lines).encode())
        written[tuple(partition_text(v) for v in values)] = f"s3://{bucket}/{folder}"
        files.append(f"s3://{path}")
    con.unregister("__athena_written")
    return Written(list(zip(names, types, strict=True)), written, data.num_rows, files)


def results_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def require_empty(s3: pafs.S3FileSystem, location: str, what: str) -> None:
    bucket, prefix = split_location(location if location.endswith("/") else location + "/")
    found = s3.get_file_info(pafs.FileSelector(f"{bucket}/{prefix}".rstrip("/"), recursive=True, allow_not_found=True))
    if any(info.type == pafs.FileType.File for info in found):
        raise AthenaError(
            "HIVE_PATH_ALREADY_EXISTS",
            f"Target directory for {what} already exists: {location}. Empty it or choose another location",
        )


def with_properties(properties: exp.Properties | None, allowed: tuple[str, ...], what: str) -> dict[str, Any]:
    """WITH (format = 'PARQUET', external_location = '...', partitioned_by = ARRAY['k'], field_delimiter = ',')."""
    found: dict[str, Any] = {}
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.FileFormatProperty):
            found["format"] = prop.name.upper()
        elif isinstance(prop, exp.PartitionedByProperty):
            found["partitioned_by"] = [e.name.lower() for e in prop.this.expressions]
        elif isinstance(prop, exp.Property):
            value = prop.args["value"]
            found[prop.name.lower()] = (
                [e.name for e in value.expressions] if isinstance(value, exp.Array) else value.name
            )
        else:
            raise AthenaError("NOT_SUPPORTED", f"{what} property {prop.sql(DIALECT)} is not supported by local Athena")
    unknown = sorted(set(found) - set(allowed))
    if unknown:
        raise AthenaError(
            "NOT_SUPPORTED",
            f"{what} properties {', '.join(unknown)} are not supported by local Athena (supported: {', '.join(allowed)})",
        )
    fmt = found.setdefault("format", "PARQUET").upper()
    if fmt not in FORMATS:
        raise AthenaError("NOT_SUPPORTED", f"{what} format {fmt!r}: local Athena writes {', '.join(FORMATS)}")
    found["format"] = fmt
    return found


def storage(fmt: str, location: str, delimiter: str) -> dict[str, Any]:
    input_format, output_format, serde = FORMATS[fmt]
    parameters = {"field.delim": delimiter, "serialization.format": delimiter} if serde == TEXT_SERDE else {}
    return {
        "Location": location,
        "InputFormat": input_format,
        "OutputFormat": output_format,
        "SerdeInfo": {"SerializationLibrary": serde, "Parameters": parameters},
    }


def create_table_as(
    statement: exp.Create,
    sql: str,
    database: str,
    catalog: ddl.Catalog,
    s3: pafs.S3FileSystem,
    run_query: QueryRunner,
    query_id: str,
    default_location: str,
) -> Written:
    node = statement.this
    database, name = (node.db or database).lower(), node.name.lower()
    props = with_properties(
        statement.args.get("properties"),
        ("format", "external_location", "partitioned_by", "field_delimiter", "write_compression"),
        f"CREATE TABLE {database}.{name} AS",
    )
    catalog.require_database(database)
    if catalog.table(database, name) is not None:
        if statement.args.get("exists"):
            return Written([], {}, 0, [])
        raise AthenaError(  # Trino's StatementAnalyzer words
            "TABLE_ALREADY_EXISTS",
            f"{statement_position(sql)}Destination table '{CATALOG}.{database}.{name}' already exists",
        )
    location = props.get("external_location") or default_location
    location = location if location.endswith("/") else location + "/"
    require_empty(s3, location, f"table {database}.{name}")
    keys = props.get("partitioned_by") or []
    delimiter = props.get("field_delimiter", "\x01")
    query = statement.expression
    if statement.args.get("no_schema_binding") or "WITH NO DATA" in statement.sql(DIALECT).upper():
        raise AthenaError("NOT_SUPPORTED", "CREATE TABLE AS ... WITH NO DATA is not supported by local Athena")
    written: Written = run_query(
        query,
        lambda con, sql: write_query(
            con, sql, s3, location, props["format"], keys, query_id, delimiter, f"{database}.{name}"
        ),
    )
    what = f"table {database}.{name}"
    table_input = {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", "has_encrypted_data": "false"},
        "PartitionKeys": [{"Name": n, "Type": hive_type(t, what)} for n, t in written.columns if n in keys],
        "StorageDescriptor": {
            "Columns": [{"Name": n, "Type": hive_type(t, what)} for n, t in written.columns if n not in keys],
            **storage(props["format"], location, delimiter),
        },
    }
    catalog.glue.create_table(DatabaseName=database, TableInput=table_input)
    if keys:
        inputs = [
            ddl.partition_input(table_input, list(values), folder) for values, folder in written.partitions.items()
        ]
        ddl.create_partitions(catalog, database, name, inputs, if_not_exists=True)
    return written


def insert_into(
    statement: exp.Insert,
    sql: str,
    database: str,
    catalog: ddl.Catalog,
    s3: pafs.S3FileSystem,
    run_query: QueryRunner,
    query_id: str,
) -> Written:
    target = statement.this
    listed = None
    if isinstance(target, exp.Schema):
        listed = [column.name.lower() for column in target.expressions]
        target = target.this
    database, name = (target.db or database).lower(), target.name.lower()
    glue_table = ddl.existing_table(catalog, database, name, sql, target)
    if (glue_table.get("TableType") or "").upper() == "VIRTUAL_VIEW":
        raise AthenaError("NOT_SUPPORTED", f"Inserting into views is not supported: {database}.{name} is a view")
    table = CatalogTable.from_glue(glue_table)
    fmt = {"parquet": "PARQUET", "json": "JSON", "text": "TEXTFILE"}.get(table.format)
    if fmt is None:
        raise AthenaError(
            "NOT_SUPPORTED",
            f"INSERT INTO {database}.{name}: local Athena writes Parquet, JSON and LazySimpleSerDe text tables, not {table.serde}",
        )
    targets = table.columns + table.partition_keys
    listed = listed or [c.name for c in targets]
    unknown = [n for n in listed if n not in {c.name for c in targets}]
    if unknown:
        raise AthenaError(
            "COLUMN_NOT_FOUND", f"Insert column name(s) {', '.join(unknown)} do not exist in {database}.{name}"
        )
    query = statement.expression
    if isinstance(query, exp.Values):
        query = parse(f"SELECT * FROM ({query.sql(DIALECT)}) AS __values")
    positions = {n: i for i, n in enumerate(listed)}
    projection = ", ".join(
        f"CAST(__source.c{positions[c.name]} AS {c.duckdb_type}) AS {ident(c.name)}"
        if c.name in positions
        else f"CAST(NULL AS {c.duckdb_type}) AS {ident(c.name)}"
        for c in targets
    )
    keys = [k.name for k in table.partition_keys]
    delimiter = table.setting("field.delim") or table.setting("serialization.format") or "\x01"
    if delimiter == "1" and not table.setting("field.delim"):
        delimiter = "\x01"

    def write(con: duckdb.DuckDBPyConnection, duck_sql: str) -> Written:
        query_types = [str(t) for t in con.sql(duck_sql).types]
        width = len(query_types)
        if width != len(listed):  # Trino's StatementAnalyzer words, types as Trino names them
            columns = {c.name: c for c in targets}
            raise AthenaError(
                "TYPE_MISMATCH",
                f"{statement_position(sql)}Insert query has mismatched column types: "
                f"Table: [{', '.join(trino_type(columns[n].hive_type, 'hive') for n in listed)}], "
                f"Query: [{', '.join(trino_type(t, 'duckdb') for t in query_types)}]",
            )
        wrapped = f"SELECT {projection} FROM ({duck_sql}) AS __source({', '.join(f'c{i}' for i in range(width))})"
        return write_query(con, wrapped, s3, table.location, fmt, keys, query_id, delimiter, f"{database}.{name}")

    written: Written = run_query(query, write)
    if keys:
        known = {tuple(p["Values"]) for p in catalog.partitions(database, name)}
        inputs = [
            ddl.partition_input(glue_table, list(values), folder)
            for values, folder in written.partitions.items()
            if values not in known
        ]
        ddl.create_partitions(catalog, database, name, inputs, if_not_exists=True)
    return written


def unload(statement: exp.Command, s3: pafs.S3FileSystem, run_query: QueryRunner, query_id: str) -> Written:
    text = command_text(statement)
    match = re.match(r"\s*\((.*)\)\s*TO\s*'([^']+)'\s*WITH\s*(\(.*\))\s*;?\s*$", text, re.S | re.I)
    if not match:
        raise AthenaError("SYNTAX_ERROR", "expected UNLOAD (<query>) TO 's3://bucket/prefix/' WITH (format = '...')")
    query = parse(match.group(1))
    location = match.group(2)
    fake = sqlglot.parse_one(f"CREATE TABLE __unload WITH {match.group(3)} AS SELECT 1", read=DIALECT)
    props = with_properties(
        fake.args.get("properties"), ("format", "partitioned_by", "field_delimiter", "compression"), "UNLOAD"
    )
    if not location.startswith("s3://"):
        raise AthenaError("INVALID_INPUT", f"UNLOAD location {location!r} is not an S3 URI (s3://bucket/prefix/)")
    require_empty(s3, location, "UNLOAD")
    written: Written = run_query(
        query,
        lambda con, sql: write_query(
            con,
            sql,
            s3,
            location,
            props["format"],
            props.get("partitioned_by") or [],
            query_id,
            props.get("field_delimiter", "\x01"),
            "UNLOAD",
        ),
    )
    return written


# --- SHOW and DESCRIBE ----------------------------------------------------------------------------


def hive_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """Athena's SHOW patterns: '*' any characters, '|' alternatives, case-insensitive."""
    if pattern is None:
        return None
    alternatives = ["".join(".*" if ch == "*" else re.escape(ch) for ch in part) for part in pattern.split("|")]
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.I)


def _table_words(text: str, database: str) -> tuple[str, str]:
    parts = [p.strip('`"') for p in text.strip().split(".")]
    return (parts[0].lower(), parts[1].lower()) if len(parts) == 2 else (database, parts[0].lower())


def show(text: str, database: str, catalog: ddl.Catalog) -> results.QueryResult:
    text = " ".join(text.strip().rstrip(";").split())
    if match := re.fullmatch(r"(TABLES|VIEWS)(?: (?:IN|FROM) ([\w`\"]+))?(?: LIKE)?(?: '([^']*)')?", text, re.I):
        db = (match.group(2) or database).strip('`"').lower()
        catalog.require_database(db)
        views = match.group(1).upper() == "VIEWS"
        pattern = hive_pattern(match.group(3))
        tables = catalog.glue.get_paginator("get_tables").paginate(DatabaseName=db)
        names = sorted(  # SHOW TABLES lists views too, as on Athena
            t["Name"]
            for page in tables
            for t in page["TableList"]
            if not views or (t.get("TableType") or "").upper() == "VIRTUAL_VIEW"
        )
        names = [n for n in names if pattern is None or pattern.fullmatch(n)]
        return results.text_result("views" if views else "tab_name", names)
    if match := re.fullmatch(r"(?:DATABASES|SCHEMAS)(?: LIKE)?(?: '([^']*)')?", text, re.I):
        pattern = hive_pattern(match.group(1))
        pages = catalog.glue.get_paginator("get_databases").paginate()
        names = sorted(d["Name"] for page in pages for d in page["DatabaseList"])
        return results.text_result("database_name", [n for n in names if pattern is None or pattern.fullmatch(n)])
    if match := re.fullmatch(r"PARTITIONS ([\w.`\"]+)", text, re.I):
        db, name = _table_words(match.group(1), database)
        table = ddl.existing_table(catalog, db, name)
        keys = [k["Name"].lower() for k in table.get("PartitionKeys") or []]
        if not keys:
            raise AthenaError("NOT_SUPPORTED", f"Table {db}.{name} is not partitioned")
        rows = sorted(
            "/".join(f"{k}={v}" for k, v in zip(keys, p["Values"], strict=True)) for p in catalog.partitions(db, name)
        )
        return results.text_result("partition", rows)
    if match := re.fullmatch(r"COLUMNS (?:IN|FROM) ([\w.`\"]+)(?: (?:IN|FROM) ([\w`\"]+))?", text, re.I):
        db, name = _table_words(match.group(1), database)
        db = match.group(2).strip('`"').lower() if match.group(2) else db
        table = ddl.existing_table(catalog, db, name)
        columns = (table.get("StorageDescriptor") or {}).get("Columns") or []
        # Hive pads each name to 20 characters (MetaDataFormatUtils' ALIGNMENT), and Athena keeps the padding.
        names = [c["Name"] for c in columns + (table.get("PartitionKeys") or [])]
        return results.text_result("field", [f"{n:<20}" for n in names])
    if match := re.fullmatch(r"CREATE (TABLE|VIEW) ([\w.`\"]+)", text, re.I):
        db, name = _table_words(match.group(2), database)
        table = ddl.existing_table(catalog, db, name)
        is_view = (table.get("TableType") or "").upper() == "VIRTUAL_VIEW"
        if match.group(1).upper() == "VIEW" or is_view:
            if not is_view:
                raise AthenaError("NOT_SUPPORTED", f"{db}.{name} is a table, not a view; use SHOW CREATE TABLE")
            lines = f'CREATE VIEW "{db}"."{name}" AS\n{view_definition(table)["originalSql"]}'.split("\n")
            return results.text_result("createview_stmt", lines)
        return results.text_result("createtab_stmt", create_table_ddl(table, db).split("\n"))
    if match := re.fullmatch(r"TBLPROPERTIES ([\w.`\"]+)(?: \('([^']*)'\))?", text, re.I):
        db, name = _table_words(match.group(1), database)
        parameters = ddl.existing_table(catalog, db, name).get("Parameters") or {}
        keys = [match.group(2)] if match.group(2) else sorted(parameters)
        return results.text_result("prpt_name", [f"{k}\t{parameters[k]}" for k in keys if k in parameters])
    raise AthenaError(
        "NOT_SUPPORTED",
        f"local Athena does not support 'SHOW {text}' (supported: SHOW TABLES/VIEWS, DATABASES/SCHEMAS, PARTITIONS, "
        f"COLUMNS, CREATE TABLE/VIEW, TBLPROPERTIES)",
    )


def create_table_ddl(table: dict[str, Any], database: str) -> str:
    """SHOW CREATE TABLE: the table's Hive DDL, written from its catalog entry as Athena writes it."""
    sd = table.get("StorageDescriptor") or {}
    serde = sd.get("SerdeInfo") or {}

    def column_lines(columns: list[dict[str, str]]) -> str:
        return ",\n".join(
            f"  `{c['Name']}` {c['Type']}" + (f" COMMENT '{c['Comment']}'" if c.get("Comment") else "") for c in columns
        )

    lines = [f"CREATE EXTERNAL TABLE `{database}`.`{table['Name']}`(", column_lines(sd.get("Columns") or []) + ")"]
    if table.get("Description"):
        lines.append(f"COMMENT '{table['Description']}'")
    if table.get("PartitionKeys"):
        lines += ["PARTITIONED BY (", column_lines(table["PartitionKeys"]) + ")"]
    lines += ["ROW FORMAT SERDE ", f"  '{serde.get('SerializationLibrary', '')}' "]
    if serde.get("Parameters"):
        pairs = ", \n".join(f"  '{k}'='{v}'" for k, v in sorted(serde["Parameters"].items()))
        lines += ["WITH SERDEPROPERTIES ( ", pairs + ") "]
    lines += [
        "STORED AS INPUTFORMAT ",
        f"  '{sd.get('InputFormat', '')}' ",
        "OUTPUTFORMAT ",
        f"  '{sd.get('OutputFormat', '')}'",
        "LOCATION",
        f"  '{sd.get('Location', '')}'",
    ]
    parameters = table.get("Parameters") or {}
    if parameters:
        lines += ["TBLPROPERTIES (", ", \n".join(f"  '{k}'='{v}'" for k, v in sorted(parameters.items())) + ")"]
    return "\n".join(lines)


def describe(statement: exp.Describe, sql: str, database: str, catalog: ddl.Catalog) -> results.QueryResult:
    if statement.args.get("style") or statement.args.get("kind"):
        raise AthenaError(
            "NOT_SUPPORTED",
            f"DESCRIBE {statement.args.get('style') or statement.args.get('kind')} is not supported by local Athena; use DESCRIBE <table>",
        )
    node = statement.this
    db, name = (node.db or database).lower(), node.name.lower()
    table = ddl.existing_table(catalog, db, name, sql, node)
    columns = (table.get("StorageDescriptor") or {}).get("Columns") or []
    keys = table.get("PartitionKeys") or []

    def row(c: dict[str, str]) -> str:
        return f"{c['Name']:<20}\t{c['Type']:<20}\t{c.get('Comment', '')}"

    lines = [row(c) for c in columns + keys]
    if keys:
        lines += ["", "# Partition Information", f"{'# col_name':<20}\t{'data_type':<20}\tcomment", ""]
        lines += [row(c) for c in keys]
    return results.text_result("col_name", lines)

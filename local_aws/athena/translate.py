"""Athena SQL -> DuckDB SQL with sqlglot: parse, find the catalog tables, rewrite, generate.

Athena's DML is Trino SQL and its DDL is Hive DDL; sqlglot's 'athena' dialect parses both.
This module is pure (no I/O): the engine resolves the tables it finds to DuckDB relations
over their files and asks for the DuckDB SQL of the rewritten query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import ErrorLevel, exp
from sqlglot.errors import ParseError, SqlglotError, UnsupportedError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

DIALECT = "athena"
CATALOG = "awsdatacatalog"  # the Glue Data Catalog, the only catalog local Athena has


class AthenaError(Exception):
    """A failed query, worded as Athena words it: '<ERROR_CATEGORY>: <message>'."""

    def __init__(self, category: str, message: str):
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message


def position(sql: str, node: exp.Expression) -> str:
    """'line L:C' of where node starts in sql (1-based, as Athena reports it), or '' if unknown."""
    starts = [ident.meta["start"] for ident in node.find_all(exp.Identifier) if "start" in ident.meta]
    if not starts:
        return ""
    start = min(starts)
    line = sql.count("\n", 0, start) + 1
    column = start - (sql.rfind("\n", 0, start) + 1) + 1
    return f"line {line}:{column}: "


def statement_position(sql: str) -> str:
    """'line L:C: ' of where the statement starts (Trino reports errors about a whole statement there)."""
    start = len(sql) - len(sql.lstrip())
    return f"line {sql.count(chr(10), 0, start) + 1}:{start - (sql.rfind(chr(10), 0, start) + 1) + 1}: "


def parse(sql: str) -> exp.Expression:
    """The one statement in sql, or AthenaError SYNTAX_ERROR with the parser's message and position."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        description = re.sub(
            r"<Token token_type: [^>]*?text: (.*?), line: [^>]*>", r"'\1'", first.get("description", str(error))
        )
        line, column = first.get("line"), first.get("col")
        if line and column:
            # sqlglot points at the end of the offending token; Athena at its start.
            column = max(1, column - len(first.get("highlight") or "x") + 1)
            raise AthenaError("SYNTAX_ERROR", f"line {line}:{column}: {description}") from None
        raise AthenaError("SYNTAX_ERROR", description) from None
    if not statements:
        raise AthenaError("SYNTAX_ERROR", "the query string is empty")
    if len(statements) > 1:
        raise AthenaError("INVALID_INPUT", f"Only one sql statement is allowed. Got: {len(statements)}")
    return statements[0]


def is_query(statement: exp.Expression) -> bool:
    return isinstance(statement, exp.Query)


def statement_type(statement: exp.Expression) -> str:
    """Athena's StatementType: DML (queries, CTAS, INSERT), UTILITY (SHOW, DESCRIBE, EXPLAIN), else DDL."""
    if is_query(statement) or isinstance(statement, exp.Insert):
        return "DML"
    if isinstance(statement, exp.Command) and statement.name.upper() == "UNLOAD":
        return "DML"
    if isinstance(statement, exp.Create) and statement.args.get("expression") is not None and statement.kind == "TABLE":
        return "DML"
    if isinstance(statement, exp.Describe):
        return "UTILITY"
    if isinstance(statement, exp.Command) and statement.name.upper() in ("SHOW", "EXPLAIN", "DESCRIBE"):
        return "UTILITY"
    return "DDL"


@dataclass
class TableRef:
    """One reference to a catalog table in a query (a table read twice has two refs)."""

    database: str
    name: str
    node: exp.Table

    @property
    def qualified_name(self) -> str:
        return f"{CATALOG}.{self.database}.{self.name}"

    @property
    def alias(self) -> str:
        return self.node.alias_or_name.lower()


def table_references(query: exp.Expression, sql: str, default_database: str) -> list[TableRef]:
    """The catalog tables a query reads; CTE names are not catalog tables."""
    cte_names = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    refs = []
    for table in query.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise AthenaError(
                "NOT_SUPPORTED",
                f"{position(sql, table) or ''}table function {table.this.sql(DIALECT)} is not supported by local Athena",
            )
        if not table.db and table.name.lower() in cte_names:
            continue
        catalog = table.catalog.lower()
        if catalog and catalog != CATALOG:
            raise AthenaError("CATALOG_NOT_FOUND", f"{position(sql, table)}Catalog '{catalog}' does not exist")
        refs.append(TableRef(database=(table.db or default_database).lower(), name=table.name.lower(), node=table))
    return refs


def partition_predicate(ref: TableRef, partition_keys: list[str]) -> str | None:
    """DuckDB SQL of the WHERE conjuncts of ref's SELECT that only read ref's partition keys.

    The engine evaluates it against the catalog's partition values to skip partitions, as
    Athena prunes partitions. Pruning is an optimisation, so anything doubtful returns None:
    outer joins (NULL-extended rows), subqueries, aggregates, non-deterministic functions.
    """
    select = ref.node.parent
    if not isinstance(select, (exp.From, exp.Join)) or not isinstance(select.parent, exp.Select):
        return None
    select = select.parent
    joins = select.args.get("joins") or []
    where = select.args.get("where")
    if where is None or any(join.side for join in joins):
        return None
    keys = {key.lower() for key in partition_keys}
    conjuncts = []
    for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        if conjunct.find(exp.Subquery, exp.Select, exp.AggFunc, exp.Window, exp.Rand, exp.Exists):
            continue
        columns = list(conjunct.find_all(exp.Column))
        if not columns or not all(
            column.name.lower() in keys and (column.table.lower() == ref.alias if column.table else not joins)
            for column in columns
        ):
            continue
        conjunct = conjunct.copy()
        for column in conjunct.find_all(exp.Column):
            column.set("table", None)
        conjuncts.append(conjunct)
    if not conjuncts:
        return None
    return generate(exp.and_(*conjuncts))


def name_unnamed_columns(query: exp.Expression) -> None:
    """Trino names a result column without an alias _col<position> (DuckDB would use its SQL text)."""
    select = query
    while isinstance(select, (exp.SetOperation, exp.Subquery)):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for index, projection in enumerate(select.expressions):
        if not isinstance(projection, (exp.Alias, exp.Column, exp.Star, exp.Dot)):
            projection.replace(exp.alias_(projection.copy(), f"_col{index}", quoted=True))


def decimal_type(node: exp.Expression) -> tuple[int, int] | None:
    """(precision, scale) of a DECIMAL operand as Trino types it: a decimal literal (3.14159 is
    DECIMAL(6,5)) or an expression sqlglot typed DECIMAL(p, s); None otherwise."""
    if isinstance(node, exp.Neg):
        return decimal_type(node.this)
    if isinstance(node, exp.Literal) and node.is_number and re.fullmatch(r"\d*\.\d*", node.this):
        whole, fraction = node.this.split(".")
        return max(len(whole.lstrip("0")) + len(fraction), 1), len(fraction)
    if node.type is not None and node.type.is_type(exp.DataType.Type.DECIMAL) and len(node.type.expressions) == 2:
        precision, scale = (int(param.name) for param in node.type.expressions)
        return precision, scale
    return None


def keep_trino_types(query: exp.Expression, schema: dict, default_database: str) -> exp.Expression:
    """Result types where Trino's differ from DuckDB's, for operands whose types sqlglot knows.

    - DATE arithmetic stays DATE (date_trunc, date_add, date +/- interval); DuckDB returns TIMESTAMP.
    - round(decimal(p, s), d) is decimal(p + 1, s) (Trino's MathFunctions.RoundN: the scale is kept,
      round(3.14159, 2) is 3.14000); DuckDB narrows the scale to d.

    sqlglot qualifies the query and annotates types from the catalog's columns. A query sqlglot
    cannot qualify (or that names an unknown column: DuckDB then reports it) is returned as it was,
    with DuckDB's types.
    """
    try:
        typed = qualify(
            query.copy(),
            schema=schema,
            db=default_database,
            dialect=DIALECT,
            quote_identifiers=False,
            expand_stars=False,
            identify=False,
        )
        annotate_types(typed, schema=schema, dialect=DIALECT)
    except (SqlglotError, AssertionError):  # sqlglot asserts on some valid queries (SELECT * ... ORDER BY 1)
        return query
    for division in typed.find_all(exp.Div):
        # Typed integer division would come out as CAST(TRUNC(a / b) AS BIGINT); DuckDB's
        # integer_division setting already divides as Trino does and keeps Trino's INTEGER type.
        division.set("typed", False)

    def is_date(node: exp.Expression | None) -> bool:
        return node is not None and node.type is not None and node.type.is_type(exp.DataType.Type.DATE)

    for node in list(typed.find_all(exp.DateAdd, exp.DateSub, exp.DateTrunc, exp.TimestampTrunc, exp.Add, exp.Sub)):
        if isinstance(node, (exp.Add, exp.Sub)):
            if not (isinstance(node.expression, exp.Interval) and is_date(node.this)):
                continue
        elif not is_date(node.this):
            continue
        node.replace(exp.cast(node.copy(), exp.DataType.build("date")))
    for node in list(typed.find_all(exp.Round)):
        operand = decimal_type(node.this)
        if node.args.get("decimals") is not None and operand:
            precision, scale = operand
            node.replace(exp.cast(node.copy(), exp.DataType.build(f"DECIMAL({min(38, precision + 1)}, {scale})")))
    return typed


def prepare(
    statement: exp.Expression,
    sql: str,
    default_database: str,
    table_columns: Callable[[TableRef], list[tuple[str, str]]],
) -> tuple[exp.Expression, list[TableRef]]:
    """Name result columns as Trino does and keep Trino's result types; returns the query to run and its tables.

    table_columns gives a catalog table's (name, Hive type) columns, partition keys last; it
    raises AthenaError for a table that does not exist.
    """
    name_unnamed_columns(statement)
    schema: dict[str, dict[str, dict[str, exp.DataType]]] = {}
    for ref in table_references(statement, sql, default_database):
        schema.setdefault(ref.database, {})[ref.name] = {
            name: _data_type(hive_type) for name, hive_type in table_columns(ref)
        }
    statement = keep_trino_types(statement, schema, default_database)
    return statement, table_references(statement, sql, default_database)


def _data_type(hive_type: str) -> exp.DataType:
    try:
        return exp.DataType.build(hive_type, dialect="hive")
    except SqlglotError:
        return exp.DataType.build("unknown")


def to_duckdb(query: exp.Expression, relations: list[tuple[TableRef, str]]) -> str:
    """DuckDB SQL for query, each table ref replaced by the named relation (the query is rewritten in place)."""
    for ref, relation in relations:
        node = ref.node
        if not node.args.get("alias"):
            node.set("alias", exp.TableAlias(this=exp.to_identifier(ref.name)))
        node.set("catalog", None)
        node.set("db", None)
        node.set("this", exp.to_identifier(relation, quoted=True))
    from local_aws.athena import functions  # functions imports AthenaError from here

    query = functions.rewrite(query)
    # db.table.column -> table.column: the relation keeps the table's name as its alias.
    for column in query.find_all(exp.Column):
        if column.args.get("db"):
            column.set("db", None)
            column.set("catalog", None)
    return generate(query)


def generate(expression: exp.Expression) -> str:
    try:
        return expression.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        raise AthenaError("NOT_SUPPORTED", f"local Athena (DuckDB) cannot run this SQL: {error}") from None


def translate(
    sql: str, default_database: str = "default", columns: dict[str, list[tuple[str, str]]] | None = None
) -> str:
    """Athena SQL -> DuckDB SQL reading table db.t from a DuckDB relation named "db.t" (for tests and tools).

    columns: {"db.t": [(name, hive_type), ...]} for the tables whose column types are known.
    """
    statement, refs = prepare(
        parse(sql), sql, default_database, lambda ref: (columns or {}).get(f"{ref.database}.{ref.name}", [])
    )
    return to_duckdb(statement, [(ref, f"{ref.database}.{ref.name}") for ref in refs])

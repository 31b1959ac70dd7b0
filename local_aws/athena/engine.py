"""Local Athena's engine: what really runs a query execution, on DuckDB, over local S3.

submit() turns moto's Execution into a QueryRun (runs.py) and queues it on the server's QueryPool
(a worker, local_aws.workers). A pool thread executes it: DDL goes to the Glue Data Catalog
(ddl.py); CTAS, INSERT, UNLOAD, views, SHOW and DESCRIBE are statements.py's; queries are
translated with sqlglot (translate.py) and run on a fresh DuckDB connection, each catalog table
read as a DuckDB relation over its files in local S3 (tables.py, storage.py). DuckDB's errors
become Athena's; results are written to the output location (results.py).
The moto patches that call into this are in executor.py.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb
from moto.athena.models import AthenaBackend, Execution
from sqlglot import exp

from local_aws import clients, config, workers
from local_aws.athena import api, ddl, results, statements, tables, translate
from local_aws.athena.runs import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, QueryRun
from local_aws.athena.storage import CountingS3FileSystem, OpenFiles
from local_aws.athena.translate import AthenaError

log = logging.getLogger(__name__)

WORKERS = 4  # queries running at once; each DuckDB connection uses every core
# DuckDB's name of a cast's target type -> the name Trino's "Cannot cast 'x' to T" uses.
CAST_TARGETS = {"INT8": "TINYINT", "INT16": "SMALLINT", "INT32": "INT", "INT64": "BIGINT", "FLOAT": "REAL",
                "DOUBLE": "DOUBLE", "BOOL": "BOOLEAN"}  # fmt: skip

_clients: dict[tuple[str, str, str], Any] = {}


def glue_client(region: str):
    key = ("glue", region, config.settings.endpoint_url)
    if key not in _clients:
        _clients[key] = clients.client("glue", region)
    return _clients[key]


def s3_filesystem(region: str):
    key = ("s3fs", region, config.settings.endpoint_url)
    if key not in _clients:
        _clients[key] = clients.s3_filesystem(region)
    return _clients[key]


def open_files(region: str) -> OpenFiles:
    """The data files queries have opened, kept so that the next query over them makes no HEAD requests."""
    key = ("open-files", region, config.settings.endpoint_url)
    if key not in _clients:
        _clients[key] = OpenFiles(s3_filesystem(region))
    return _clients[key]


def forget_clients() -> None:
    """Drop the Glue and S3 clients and the files kept open (at shutdown: the next server may listen elsewhere)."""
    _clients.clear()


def submit(backend: AthenaBackend, execution: Execution, base: str, workgroup: str) -> None:
    """Make moto's execution a QueryRun (kept on it as .local_run) and queue it; a statement that does not
    parse, or names another catalog, fails at once."""
    context = execution.context or {}
    catalog = (context.get("Catalog") or "AwsDataCatalog").lower()
    statement, statement_type, sql = None, "DML", execution.query
    try:
        statement, sql = statements.resolve(
            translate.parse(execution.query),
            execution.query,
            list(execution.execution_parameters or []),
            **prepared_statements(backend, workgroup),
        )
        statement_type = translate.statement_type(statement)
        failure = None
    except AthenaError as error:
        failure = str(error)
    if catalog != translate.CATALOG:
        failure = f"CATALOG_NOT_FOUND: Catalog '{context.get('Catalog')}' does not exist; local Athena has only AwsDataCatalog (the Glue Data Catalog)"
    run = QueryRun(
        execution=execution,
        sql=sql,
        database=(context.get("Database") or "default").lower(),
        region=backend.region_name,
        workgroup=workgroup,
        output_location=output_location(base, execution.id, statement, statement_type),
        statement_type=statement_type,
        statement=statement,
        tables_location=f"{base}tables/{execution.id}/",
        submitted=execution.start_time,
    )
    execution.local_run = run
    execution._transitions = []  # moto's state manager must not move it; the worker does
    execution.status = QUEUED
    if failure:
        run.move_to(FAILED, failure)
        return
    workers.get(QueryPool).submit(run)


def output_location(base: str, query_id: str, statement: exp.Expression | None, statement_type: str) -> str:
    """Where Athena puts a query's result: <id>.csv for queries, <id>.txt for DDL and utility statements; for
    statements that write data, <id> with no extension (its <id>.metadata and <id>-manifest.csv beside), CTAS
    in the tables/ folder ("Files associated with a CREATE TABLE AS SELECT query are stored in a tables sub-folder")."""
    if statements.writes_data(statement):
        return f"{base}tables/{query_id}" if isinstance(statement, exp.Create) else f"{base}{query_id}"
    return f"{base}{query_id}.{'csv' if statement_type == 'DML' else 'txt'}"


def prepared_statements(backend: AthenaBackend, workgroup: str) -> dict[str, Any]:
    """PREPARE/EXECUTE/DEALLOCATE on the workgroup's prepared statements (the ones CreatePreparedStatement makes)."""

    def prepared(name: str) -> str | None:
        statement = api.prepared_statement(backend, workgroup, name)
        return statement.query_statement if statement is not None else None

    def store(name: str, sql: str) -> None:
        api.store_prepared_statement(backend, workgroup, name, sql)

    def remove(name: str) -> bool:
        return api.remove_prepared_statement(backend, workgroup, name)

    return {"prepared": prepared, "store": store, "remove": remove}


class QueryPool:
    """The server's query threads (WORKERS at once) and the runs they hold; a worker (local_aws.workers)."""

    def __init__(self) -> None:
        self._threads = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="athena-query")
        self._active: weakref.WeakSet[QueryRun] = weakref.WeakSet()

    def submit(self, run: QueryRun) -> None:
        self._active.add(run)
        self._threads.submit(self._execute, run)

    def _execute(self, run: QueryRun) -> None:
        try:
            execute(run)
        finally:
            self._active.discard(run)

    def stop(self) -> None:
        """Cancel queued queries, interrupt running ones, and wait for them."""
        for run in list(self._active):
            run.move_to(CANCELLED, "local AWS is shutting down")
        # Wait for the interrupted queries while S3 is still up: a thread left reading from a
        # stopped server retries for minutes, and pool threads are joined at interpreter exit.
        self._threads.shutdown(wait=True, cancel_futures=True)


def execute(run: QueryRun) -> None:
    if not run.move_to(RUNNING):
        return  # cancelled while queued
    try:
        if translate.is_query(run.statement):
            run.result = run_query(run)
        elif statements.handles(run.statement):
            run.result = run_statement(run)
            run.planned = run.planned or time.time()
            run.executed = run.executed or time.time()
        else:
            ddl.run(run.statement, run.sql, run.database, glue_client(run.region), s3_filesystem(run.region))
            run.planned = run.executed = time.time()
            run.result = results.empty_result()
        run.output_bytes = write_results(run)
        run.move_to(SUCCEEDED)
    except AthenaError as error:
        run.move_to(FAILED, str(error))
    except duckdb.InterruptException:
        run.move_to(CANCELLED, "Query cancelled")
    except Exception as error:  # a bug or an environment problem: fail the query, keep the worker
        log.exception("Athena query %s failed unexpectedly", run.execution.id)
        run.move_to(FAILED, f"GENERIC_INTERNAL_ERROR: {type(error).__name__}: {error}")
    finally:
        run.connection = None
        run.statement = None  # the parsed tree is only needed while running


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    con.execute("SET integer_division = true")  # Trino: 7 / 2 = 3
    con.execute("SET TimeZone = 'UTC'")  # Athena's session time zone
    # DuckDB's cache of remote files reads whole files through fsspec, defeating projection pushdown.
    con.execute("SET enable_external_file_cache = false")
    # type_pushdown turns TRY_CAST over a CSV column into the reader's own (failing) conversion.
    con.execute("SET disabled_optimizers = 'type_pushdown'")
    return con


def run_statement(run: QueryRun) -> results.QueryResult:
    """CTAS, INSERT, UNLOAD, views, SHOW, DESCRIBE, PREPARE (statements.py), their queries run here."""
    statement, catalog = run.statement, ddl.Catalog(glue_client(run.region))
    s3 = s3_filesystem(run.region)

    def query(select: exp.Expression, fetch) -> Any:
        return run_query(run, select, fetch)

    if isinstance(statement, exp.Describe):
        return statements.describe(statement, run.sql, run.database, catalog)
    if isinstance(statement, exp.Drop):
        statements.drop_view(statement, run.database, catalog)
        return results.empty_result()
    if isinstance(statement, exp.Create) and (statement.kind or "").upper() == "VIEW":
        statements.create_view(statement, run.sql, run.database, catalog, query)
        return results.empty_result()
    written = None
    if isinstance(statement, exp.Create):
        written = statements.create_table_as(
            statement, run.sql, run.database, catalog, s3, query, run.execution.id, run.tables_location
        )
    elif isinstance(statement, exp.Insert):
        written = statements.insert_into(statement, run.sql, run.database, catalog, s3, query, run.execution.id)
    elif statement.name.upper() == "SHOW":
        return statements.show(statements.command_text(statement), run.database, catalog)
    elif statement.name.upper() == "UNLOAD":
        written = statements.unload(statement, s3, query, run.execution.id)
    result = results.empty_result()
    if written is not None:
        result.update_count = written.rows
        run.written_files = written.files
    return result


def run_query(run: QueryRun, statement: exp.Expression | None = None, fetch=results.fetch) -> Any:
    with run.lock:
        if run.state != RUNNING:
            raise duckdb.InterruptException("cancelled")
        run.connection = con = connect()
    try:
        return plan_and_run(run, con, run.statement if statement is None else statement, fetch)
    except duckdb.InterruptException:
        raise
    except duckdb.Error as error:
        raise duckdb_error(error, run) from None
    finally:
        with run.lock:
            run.connection = None
        con.close()


def plan_and_run(run: QueryRun, con: duckdb.DuckDBPyConnection, statement: exp.Expression, fetch=results.fetch) -> Any:
    """Resolve the query's tables (views expanded) in the catalog, build their relations over S3, run it on con."""
    scanned = CountingS3FileSystem(s3_filesystem(run.region), open_files(run.region))
    con.register_filesystem(scanned)
    catalog = PlanningCatalog(glue_client(run.region))
    found: dict[tuple[str, str], tables.CatalogTable] = {}

    def table_of(ref: translate.TableRef) -> tables.CatalogTable:
        if (ref.database, ref.name) not in found:
            found[ref.database, ref.name] = tables.CatalogTable.from_glue(catalog_table(catalog, ref, run.sql))
        return found[ref.database, ref.name]

    statement = statements.expand_views(statement, catalog, run.database)
    hidden = {c.name for c in statement.find_all(exp.Column)} & set(tables.HIDDEN_COLUMNS)

    def columns_of(ref: translate.TableRef) -> list[tuple[str, str]]:
        columns = [(c.name, c.hive_type) for c in table_of(ref).columns + table_of(ref).partition_keys]
        return columns + [(name, tables.HIDDEN_COLUMNS[name]) for name in sorted(hidden)]

    statement, refs = translate.prepare(statement, run.sql, run.database, columns_of)
    relations = {}  # placeholder table name -> SELECT over the table's files
    for index, ref in enumerate(refs):
        table = table_of(ref)
        keys = [key.name for key in table.partition_keys]
        partitions = catalog.partitions(ref.database, ref.name) if keys else []
        predicate = translate.partition_predicate(ref, keys) if keys else None
        relations[f"__athena_relation_{index}__"] = tables.relation_sql(
            con, table, partitions, predicate, scanned, hidden
        )
    sql = translate.to_duckdb(statement, list(zip(refs, relations, strict=True)))
    # Inline each relation as a subquery (a DuckDB view would be bound, and its files opened, once more).
    for placeholder, relation in relations.items():
        sql = sql.replace(tables.ident(placeholder), f"({relation})")
    run.planned = time.time()
    result = fetch(con, sql)
    run.executed = time.time()
    run.bytes_scanned = scanned.bytes_read
    return result


class PlanningCatalog(ddl.Catalog):
    """The catalog as one query's planning reads it: each table looked up once (views are expanded, then read)."""

    def __init__(self, glue):
        super().__init__(glue)
        self._tables: dict[tuple[str, str], dict[str, Any] | None] = {}

    def table(self, database: str, name: str) -> dict[str, Any] | None:
        if (database, name) not in self._tables:
            self._tables[database, name] = super().table(database, name)
        return self._tables[database, name]


def catalog_table(catalog: ddl.Catalog, ref: translate.TableRef, sql: str) -> dict[str, Any]:
    table = catalog.table(ref.database, ref.name)
    if table is not None:
        return table
    where = translate.position(sql, ref.node)
    if not catalog.database_exists(ref.database):
        raise AthenaError("SCHEMA_NOT_FOUND", f"{where}Schema '{ref.database}' does not exist")
    raise AthenaError("TABLE_NOT_FOUND", f"{where}Table '{ref.qualified_name}' does not exist")


def duckdb_error(error: duckdb.Error, run: QueryRun) -> AthenaError:
    """A DuckDB error as Athena's error category and message (positions refer to the user's SQL)."""
    message = str(error).split("\n")[0]
    message = re.sub(r"^[A-Za-z ]+ Error: ", "", message)
    if match := re.search(r'Referenced column "?([^"]+?)"? not found', message):
        return AthenaError(
            "COLUMN_NOT_FOUND",
            f"{node_position(run, exp.Column, match.group(1))}Column '{match.group(1)}' cannot be resolved",
        )
    if match := re.search(r"(?:Scalar|Aggregate|Table) Function with name (\S+) does not exist", message):
        name = match.group(1)
        return AthenaError(
            "FUNCTION_NOT_FOUND",
            f"Function '{name}' not registered (not in Trino, or not yet mapped to DuckDB by local Athena)",
        )
    if "Division by zero" in message:
        return AthenaError("DIVISION_BY_ZERO", "Division by zero")
    if match := re.search(r"Could not convert string '(.*)' to (INT8|INT16|INT32|INT64|FLOAT|DOUBLE|BOOL)$", message):
        target = CAST_TARGETS[match.group(2)]  # Trino's VarcharOperators words
        return AthenaError("INVALID_CAST_ARGUMENT", f"Cannot cast '{match.group(1)}' to {target}")
    if isinstance(error, duckdb.ConversionException) or "Could not convert" in message:
        return AthenaError("INVALID_CAST_ARGUMENT", message)
    if isinstance(error, duckdb.BinderException):
        return AthenaError("TYPE_MISMATCH" if "No function matches" in message else "SEMANTIC_ERROR", message)
    if isinstance(error, duckdb.ParserException):
        return AthenaError(
            "NOT_SUPPORTED", f"local Athena could not run the DuckDB translation of this query: {message}"
        )
    if isinstance(error, duckdb.OutOfMemoryException):
        return AthenaError("EXCEEDED_LOCAL_MEMORY_LIMIT", message)
    if isinstance(error, (duckdb.InvalidInputException, duckdb.IOException)):
        return AthenaError("HIVE_BAD_DATA", message)
    return AthenaError("GENERIC_INTERNAL_ERROR", message)


def node_position(run: QueryRun, kind: type[exp.Expression], name: str) -> str:
    """'line L:C: ' of the first node of kind named name in the user's SQL (parsed again: the tree was rewritten)."""
    statement = translate.parse(run.sql)
    for node in statement.find_all(kind):
        if node.name.lower() == name.lower():
            return translate.position(run.sql, node)
    return ""


def write_results(run: QueryRun) -> int:
    try:
        if run.written_files is not None:
            return results.write_manifest(s3_filesystem(run.region), run.output_location, run.written_files, run.result)
        return results.write(s3_filesystem(run.region), run.output_location, run.result)
    except OSError as error:
        bucket = clients.split_s3_uri(run.output_location)[0]
        raise AthenaError(
            "INVALID_OUTPUT_LOCATION", f"Unable to verify/create output bucket {bucket}: {error}"
        ) from None

"""Athena executor: StartQueryExecution really runs the query, on DuckDB, over local S3.

moto records query executions; this module patches moto's Athena backend and responses (api.py
patches the requests whose handling differs) so that each execution is run in a worker
thread: QUEUED -> RUNNING -> SUCCEEDED / FAILED / CANCELLED. DDL goes to the Glue Data Catalog
(ddl.py); queries are translated with sqlglot (translate.py) and run on a fresh DuckDB connection,
each catalog table read as a DuckDB relation over its files in local S3 (tables.py, storage.py).
Results are written to the output location and served, paged, by GetQueryResults (results.py).
All run state lives on moto's Execution object (execution.local_run), so /moto-api/reset forgets
it with everything else.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
from moto.athena.models import AthenaBackend, Execution
from moto.athena.responses import AthenaResponse
from moto.core.exceptions import JsonRESTError
from sqlglot import exp

from local_aws import clients, config
from local_aws.athena import api, ddl, results, statements, tables, translate
from local_aws.athena.storage import CountingS3FileSystem
from local_aws.athena.translate import AthenaError
from local_aws.patching import Patches

log = logging.getLogger(__name__)
patches = Patches(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
TERMINAL_STATES = (SUCCEEDED, FAILED, CANCELLED)
MAX_RESULTS = 1000  # GetQueryResults' page size limit on AWS
# DuckDB's name of a cast's target type -> the name Trino's "Cannot cast 'x' to T" uses.
CAST_TARGETS = {"INT8": "TINYINT", "INT16": "SMALLINT", "INT32": "INT", "INT64": "BIGINT", "FLOAT": "REAL",
                "DOUBLE": "DOUBLE", "BOOL": "BOOLEAN"}  # fmt: skip
WORKERS = 4  # queries running at once; each DuckDB connection uses every core

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_active_runs: weakref.WeakSet[QueryRun] = weakref.WeakSet()
_clients: dict[tuple[str, str, str], Any] = {}


class InvalidRequestException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("InvalidRequestException", message)


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


def millis(start: float | None, end: float | None) -> int:
    return int(round((end - start) * 1000)) if start is not None and end is not None else 0


@dataclass(eq=False)
class QueryRun:
    """Local Athena's state of one query execution, kept on moto's Execution as .local_run."""

    execution: Execution
    sql: str
    database: str
    region: str
    workgroup: str
    output_location: str  # <OutputLocation>/<id>.csv (.txt for DDL; no extension for CTAS, INSERT, UNLOAD)
    statement_type: str
    statement: exp.Expression | None = None
    tables_location: str = ""  # where CTAS puts a table without external_location: <output>/tables/<id>/
    state: str = QUEUED
    reason: str | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    planned: float | None = None
    executed: float | None = None
    finished: float | None = None
    bytes_scanned: int = 0
    output_bytes: int = 0
    written_files: list[str] | None = None  # CTAS, INSERT INTO, UNLOAD: the data files, listed in the manifest
    result: results.QueryResult | None = None
    connection: duckdb.DuckDBPyConnection | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def move_to(self, state: str, reason: str | None = None) -> bool:
        """Change state unless the run already ended (a cancel wins over a late result)."""
        with self.lock:
            if self.state in TERMINAL_STATES:
                return False
            self.state = state
            self.execution.status = state
            if state == RUNNING:
                self.started = time.time()
            if state in TERMINAL_STATES:
                self.reason = reason
                self.finished = time.time()
                self.execution.end_time = self.finished
                if self.connection is not None:
                    threading.Thread(target=self.interrupt, name="athena-interrupt", daemon=True).start()
            return True

    def interrupt(self) -> None:
        """Interrupt DuckDB until the worker lets go of the connection: an interrupt only stops the
        statement running at that moment, and a cancel can come while the query is still being planned.
        The interrupt is sent under the lock (it only sets a flag, so it does not block): the worker clears
        the connection under the lock before closing it, so a connection seen here is still open."""
        while True:
            with self.lock:
                if self.connection is None:
                    return
                self.connection.interrupt()
            time.sleep(0.05)

    def describe(self) -> dict[str, Any]:
        """The parts of GetQueryExecution's QueryExecution that the run knows."""
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.finished is not None:
            status["CompletionDateTime"] = self.finished
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.state == FAILED:
            status["AthenaError"] = {
                "ErrorCategory": 2,
                "ErrorType": 1000,
                "Retryable": False,
                "ErrorMessage": self.reason,
            }
        end = self.finished or time.time()
        statistics = {
            "EngineExecutionTimeInMillis": millis(self.started, self.executed or self.finished),
            "DataScannedInBytes": self.bytes_scanned,
            "TotalExecutionTimeInMillis": millis(self.submitted, end),
            "QueryQueueTimeInMillis": millis(self.submitted, self.started or end),
            "ServicePreProcessingTimeInMillis": 0,
            "QueryPlanningTimeInMillis": millis(self.started, self.planned),
            "ServiceProcessingTimeInMillis": millis(self.executed, self.finished),
            "ResultReuseInformation": {"ReusedPreviousResult": False},
        }
        if self.written_files is not None and self.state == SUCCEEDED:
            statistics["DataManifestLocation"] = results.manifest_location(self.output_location)
        other_settings = {k: v for k, v in (self.execution.config or {}).items() if k != "OutputLocation"}
        return {
            "StatementType": self.statement_type,
            "Status": status,
            "Statistics": statistics,
            "ResultConfiguration": {**other_settings, "OutputLocation": self.output_location},
            "QueryExecutionContext": self.execution.context or {"Catalog": "AwsDataCatalog", "Database": self.database},
            "WorkGroup": self.workgroup,
        }


def output_base(backend: AthenaBackend, result_configuration: dict | None, workgroup_name: str | None) -> str:
    """Where results go: the workgroup's location when it enforces its settings, else the request's, else the workgroup's."""
    workgroup = backend.work_groups.get(workgroup_name or "primary")
    settings = workgroup.configuration if workgroup else {}
    workgroup_location = (settings.get("ResultConfiguration") or {}).get("OutputLocation")
    requested = (result_configuration or {}).get("OutputLocation")
    location = (
        workgroup_location
        if workgroup_location and settings.get("EnforceWorkGroupConfiguration")
        else requested or workgroup_location
    )
    if not location:
        raise InvalidRequestException(
            "No output location provided. An output location is required either through the Workgroup result "
            "configuration setting or as an API input."
        )
    if not location.startswith("s3://"):
        raise InvalidRequestException(f"OutputLocation {location!r} is not an S3 URI (expected s3://bucket/prefix/)")
    return location if location.endswith("/") else location + "/"


def submit(backend: AthenaBackend, execution: Execution, base: str, workgroup: str) -> None:
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
    _active_runs.add(run)
    workers().submit(execute, run)


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


def workers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="athena-query")
        return _pool


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
        _active_runs.discard(run)


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
    scanned = CountingS3FileSystem(s3_filesystem(run.region))
    con.register_filesystem(scanned)
    catalog = ddl.Catalog(glue_client(run.region))
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
        relations[f"__athena_relation_{index}__"] = tables.relation_sql(con, table, partitions, predicate, scanned, hidden)
    sql = translate.to_duckdb(statement, list(zip(refs, relations, strict=True)))
    # Inline each relation as a subquery (a DuckDB view would be bound, and its files opened, once more).
    for placeholder, relation in relations.items():
        sql = sql.replace(tables.ident(placeholder), f"({relation})")
    run.planned = time.time()
    result = fetch(con, sql)
    run.executed = time.time()
    run.bytes_scanned = scanned.bytes_read
    return result


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


# --- moto patches -----------------------------------------------------------------------------


def _run_of(response: AthenaResponse) -> tuple[str, QueryRun | None]:
    execution_id = response._get_param("QueryExecutionId")
    execution = response.athena_backend.executions.get(execution_id)
    return execution_id, getattr(execution, "local_run", None)


def _page_token(execution_id: str, start: int) -> str:
    return base64.urlsafe_b64encode(f"{execution_id}:{start}".encode()).decode()


def _page_start(execution_id: str, token: str | None) -> int:
    if not token:
        return 0
    try:
        owner, _, start = base64.urlsafe_b64decode(token.encode()).decode().rpartition(":")
        if owner == execution_id:
            return int(start)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidRequestException(f"NextToken {token!r} is not a token of query {execution_id}'s results")


@patches.wrap(AthenaBackend, "start_query_execution")
def _start_query_execution(original, self: AthenaBackend, query, context, config, workgroup, execution_parameters):
    workgroup = workgroup or api.PRIMARY  # a query naming no workgroup runs in primary, as on AWS
    base = output_base(self, config, workgroup)
    execution_id = original(self, query, context, config, workgroup, execution_parameters)
    submit(self, self.executions[execution_id], base, workgroup)
    return execution_id


@patches.wrap(AthenaBackend, "stop_query_execution")
def _stop_query_execution(original, self: AthenaBackend, exec_id):
    execution = self.executions.get(exec_id)
    if execution is None:
        raise InvalidRequestException(f"QueryExecution {exec_id} was not found")
    run = getattr(execution, "local_run", None)
    if run is None:
        return original(self, exec_id)
    run.move_to(CANCELLED, "Query cancelled by user")  # a finished query stays as it is, as on AWS


def _get_query_execution(self: AthenaResponse):
    execution_id = self._get_param("QueryExecutionId")
    described = api.describe(self.athena_backend, execution_id)
    if described is None:
        return self.error(f"QueryExecution {execution_id} was not found", 400)
    return json.dumps({"QueryExecution": described})


patches.replace(AthenaResponse, "get_query_execution", _get_query_execution)


@patches.wrap(AthenaResponse, "get_query_results")
def _get_query_results(original, self: AthenaResponse):
    execution_id, run = _run_of(self)
    if execution_id not in self.athena_backend.executions:
        return self.error(f"QueryExecution {execution_id} was not found", 400)
    if run is None:
        return original(self)
    if run.state != SUCCEEDED:
        if run.state in (QUEUED, RUNNING):
            return self.error(f"Query has not yet finished. Current state: {run.state}", 400)
        return self.error(f"Query did not finish successfully. Final query state: {run.state} ({run.reason})", 400)
    max_results = int(self._get_param("MaxResults") or MAX_RESULTS)
    if not 1 <= max_results <= MAX_RESULTS:
        return self.error(f"MaxResults must be between 1 and {MAX_RESULTS}, got {max_results}", 400)
    start = _page_start(execution_id, self._get_param("NextToken"))
    rows = run.result.page(start, max_results)
    body: dict[str, Any] = {
        "UpdateCount": run.result.update_count,
        "ResultSet": {
            "Rows": [{"Data": [{} if value is None else {"VarCharValue": value} for value in row]} for row in rows],
            "ResultSetMetadata": {"ColumnInfo": run.result.column_info},
        },
    }
    if start + max_results < run.result.listed_rows:
        body["NextToken"] = _page_token(execution_id, start + max_results)
    return json.dumps(body)


@patches.wrap(AthenaResponse, "get_query_runtime_statistics")
def _get_query_runtime_statistics(original, self: AthenaResponse):
    _, run = _run_of(self)
    if run is None:
        return original(self)
    timeline = run.describe()["Statistics"]
    rows = run.result.row_count if run.result is not None else 0
    return json.dumps(
        {
            "QueryRuntimeStatistics": {
                "Timeline": {k: v for k, v in timeline.items() if k.endswith("InMillis")},
                "Rows": {"InputBytes": run.bytes_scanned, "OutputBytes": run.output_bytes, "OutputRows": rows},
            }
        }
    )


def _update_work_group(self: AthenaResponse):
    """UpdateWorkGroup (moto lacks it): description, state and the result settings queries use."""
    if error := api.missing_workgroup(self, self._get_param("WorkGroup")):
        return error
    workgroup = self.athena_backend.work_groups[self._get_param("WorkGroup")]
    updates = self._get_param("ConfigurationUpdates") or {}
    configuration = workgroup.configuration
    result_updates = updates.get("ResultConfigurationUpdates") or {}
    result = configuration.setdefault("ResultConfiguration", {})
    if "OutputLocation" in result_updates:
        result["OutputLocation"] = result_updates["OutputLocation"]
    if result_updates.get("RemoveOutputLocation"):
        result.pop("OutputLocation", None)
    for key in ("EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled", "BytesScannedCutoffPerQuery"):
        if key in updates:
            configuration[key] = updates[key]
    if self._get_param("Description") is not None:
        workgroup.description = self._get_param("Description")
    if self._get_param("State"):
        workgroup.state = self._get_param("State")
    return "{}"


patches.add(AthenaResponse, "update_work_group", _update_work_group)


def shutdown() -> None:
    """Stop this executor's workers: cancel queued queries, interrupt running ones."""
    global _pool
    for run in list(_active_runs):
        run.move_to(CANCELLED, "local AWS is shutting down")
    with _pool_lock:
        if _pool is not None:
            # Wait for the interrupted queries while S3 is still up: a worker left reading from a
            # stopped server retries for minutes, and worker threads are joined at interpreter exit.
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None
    _clients.clear()

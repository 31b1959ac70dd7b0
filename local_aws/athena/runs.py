"""One query execution's state on local Athena: QUEUED -> RUNNING -> SUCCEEDED / FAILED / CANCELLED.

A QueryRun is kept on moto's Execution as .local_run, so /moto-api/reset forgets it with
everything else. It knows the run's timings, what it scanned and wrote, its result, and the
DuckDB connection to interrupt when it is cancelled; describe() is what GetQueryExecution reports.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
from moto.athena.models import Execution
from sqlglot import exp

from local_aws.athena import results

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"
TERMINAL_STATES = (SUCCEEDED, FAILED, CANCELLED)


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

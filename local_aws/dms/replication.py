"""The DMS engine: one started replication task, run on a thread of its own.

A run selects the source's tables through the task's table mappings, takes the binlog position
(full-load-and-cdc, cdc), full-loads each table into the S3 target, then captures changes from
that position: committed transactions are batched (CdcMaxBatchInterval / CdcMinFileSize) and
written as CDC files, and only then does the run's checkpoint (RecoveryCheckpoint) move past
them. A lost connection to the source is retried from the checkpoint, as DMS retries recoverable
errors; a change may be written twice, never lost. The run keeps DMS's table statistics and
task statistics; tasks.py reports them. Runs belong to `Runs`, a worker of the running server.

While it runs, ReloadTables asks it (`reload`) to load some tables again: between two transactions
the captured changes are written, then those tables are full-loaded anew; CDC reads on from where
it was, so nothing is lost (a change read after the reload may repeat what the new LOAD files
hold). An ALTER TABLE of a captured table (HandleSourceTableAltered) ends the current batch; later
CDC files carry the table's columns as they then are, new ones at the end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import islice

from local_aws.dms.source_mysql import Column, MySQLSource, Position, SourceError, Table, Transaction

log = logging.getLogger(__name__)

RECONNECT_ATTEMPTS = 5
RECONNECT_WAIT_SECONDS = 1.0


class TargetError(Exception):
    """The target refused a write; the message is the task's failure reason."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class TableStats:
    """One table's figures, in DescribeTableStatistics's terms."""

    schema: str
    table: str
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    ddls: int = 0
    full_load_rows: int = 0
    reloaded: bool = False  # FullLoadReloaded: the last load was a ReloadTables
    state: str = "Before load"
    full_load_start: datetime | None = None
    full_load_end: datetime | None = None
    last_update: datetime = field(default_factory=utcnow)

    def as_dict(self) -> dict:
        described = {
            "SchemaName": self.schema,
            "TableName": self.table,
            "Inserts": self.inserts,
            "Deletes": self.deletes,
            "Updates": self.updates,
            "Ddls": self.ddls,
            "AppliedInserts": self.inserts,
            "AppliedDeletes": self.deletes,
            "AppliedUpdates": self.updates,
            "AppliedDdls": self.ddls,
            "FullLoadRows": self.full_load_rows,
            "FullLoadCondtnlChkFailedRows": 0,
            "FullLoadErrorRows": 0,
            "FullLoadReloaded": self.reloaded,
            "LastUpdateTime": self.last_update,
            "TableState": self.state,
            "ValidationPendingRecords": 0,
            "ValidationFailedRecords": 0,
            "ValidationSuspendedRecords": 0,
            "ValidationState": "Not enabled",
        }
        if self.full_load_start:
            described["FullLoadStartTime"] = self.full_load_start
        if self.full_load_end:
            described["FullLoadEndTime"] = self.full_load_end
        return described


@dataclass
class RunPlan:
    """What StartReplicationTask asked for, resolved by tasks.py."""

    migration_type: str  # full-load | cdc | full-load-and-cdc
    start_type: str  # start-replication | resume-processing | reload-target
    source: MySQLSource
    selected: Callable[[str, str], bool]  # the table mappings' selection
    writer: object  # s3_target.S3TargetWriter (full_load, cdc)
    batcher: object  # s3_target.CdcBatcher (add, due, take)
    checkpoint: Position | None = None  # resume-processing / CdcStartPosition: where CDC starts
    start_time: datetime | None = None  # CdcStartTime: CDC starts with what was written from then on
    load_order: Callable[[str, str], int] = lambda schema, table: 0  # the mappings' load-order: higher first
    handle_altered: bool = True  # ChangeProcessingDdlHandlingPolicy.HandleSourceTableAltered
    previous: dict[tuple[str, str], TableStats] | None = None  # resume-processing: the last run's tables


class TaskRun:
    """Full load then CDC for one task; `status` and the statistics are read by tasks.py."""

    def __init__(self, plan: RunPlan, on_end: Callable[[TaskRun], None]):
        self.plan = plan
        self.on_end = on_end
        self.status = "starting"
        self.stop_reason: str | None = None
        self.failure: str | None = None
        self.checkpoint: Position | None = plan.checkpoint
        self.start_position: Position | None = None  # where CDC starts (taken before the full load)
        self.tables: dict[tuple[str, str], TableStats] = {}
        self.started = utcnow()
        self.full_load_started: datetime | None = None
        self.full_load_finished: datetime | None = None
        self.stopped: datetime | None = None
        self._tables: dict[tuple[str, str], Table] = {}  # as captured: the binlog's rows map onto these
        self._columns: dict[tuple[str, str], list[Column]] = {}  # as written: new columns at the end
        self._reloads: list[tuple[str, str]] = []  # ReloadTables asked for these; the run's thread loads them
        self._reloads_closed = False  # a full-load task past its last reload
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dms-task", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 30.0) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(wait)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def reload(self, tables: list[tuple[str, str]]) -> bool:
        """ReloadTables: load these tables again, soon, without stopping CDC; False when too late for that."""
        with self._lock:
            if self._reloads_closed:
                return False
            for key in tables:
                self.tables[key].state = "Table is being reloaded"
                if key not in self._reloads:
                    self._reloads.append(key)
            return True

    # -- the run -----------------------------------------------------------------------------

    def _run(self) -> None:
        plan = self.plan
        try:
            cdc = plan.migration_type in ("cdc", "full-load-and-cdc")
            position = self.checkpoint
            if cdc:  # first: the binlog's settings, and the position before the full load (nothing is missed)
                now = plan.source.check_cdc()
                if position is None and plan.start_time is not None:
                    position = plan.source.first_position()  # the binlog is read from its start, skipping to the time
                position = position or now
                self.start_position = position
            tables = plan.source.tables(plan.selected)
            if not tables:
                raise SourceError("No tables were found at task initialization. Either the selected table(s) "
                                  "or schemas(s) no longer exist or no match was found for the table selection "
                                  "pattern(s).")  # fmt: skip
            tables.sort(key=lambda t: -plan.load_order(t.schema, t.name))
            previous = plan.previous or {}
            for table in tables:  # resume-processing carries the last run's figures on
                key = (table.schema, table.name)
                self.tables[key] = replace(previous[key]) if key in previous else TableStats(table.schema, table.name)
            self._tables = {(t.schema, t.name): t for t in tables}
            self._columns = {key: list(table.columns) for key, table in self._tables.items()}
            self.status = "running"
            if plan.migration_type != "cdc":  # resume-processing loads only what the last run did not finish
                resumed = plan.start_type == "resume-processing"
                pending = [
                    t for t in tables if not resumed or self.tables[(t.schema, t.name)].state != "Table completed"
                ]
                if pending:
                    self._full_load(pending)
            if not cdc:
                while self._apply_reloads():  # until none was asked for since: then none can be
                    pass
                self._end("stopped", "Stop Reason FULL_LOAD_ONLY_FINISHED")
                return
            self.checkpoint = position
            self._capture(self._tables)
            self._end("stopped", "Stop Reason STOPPED_BY_USER" if self.stopping else None)
        except (SourceError, TargetError) as error:
            self._end("failed", str(error))
        except Exception as error:  # a bug of ours must still end the task, with the reason
            log.exception("DMS task failed in local AWS")
            self._end("failed", f"Internal error of the local DMS: {type(error).__name__}: {error}")

    def _full_load(self, tables: list[Table], reloading: bool = False) -> None:
        if not reloading:
            self.full_load_started = utcnow()
        for table in tables:
            if self.stopping:
                return
            stats = self.tables[(table.schema, table.name)]
            if not reloading:
                stats.state = "Full load"
            stats.full_load_start = utcnow()
            columns = self._columns[(table.schema, table.name)]  # a reload uses the definition the task knows
            counted = _Counted(self.plan.source.full_load(Table(table.schema, table.name, columns)))
            self.plan.writer.full_load(table.schema, table.name, columns, counted)
            stats.full_load_rows, stats.reloaded = counted.count, reloading
            stats.state, stats.full_load_end = "Table completed", utcnow()
            stats.last_update = stats.full_load_end
        if not reloading:
            self.full_load_finished = utcnow()

    def _apply_reloads(self) -> bool:
        """The tables ReloadTables asked for, loaded again (DMS keeps the table definition it read); whether
        there were any. A full-load task takes no more once none were left."""
        with self._lock:
            keys, self._reloads = self._reloads, []
            self._reloads_closed = not keys and self.plan.migration_type == "full-load"
        if keys:
            log.debug("DMS: reloading %s", keys)
            self._full_load([self._tables[key] for key in keys], reloading=True)
        return bool(keys)

    def _alter(self, transaction: Transaction) -> None:
        """An ALTER TABLE was captured (and what came before it written): follow the table's columns."""
        for key in transaction.ddl:
            self.tables[key].ddls += 1
            self.tables[key].last_update = utcnow()
            table = self._tables[key]
            fresh = self.plan.source.describe(*key) if self.plan.handle_altered else None
            if fresh is not None:
                table.columns = fresh.columns  # the binlog's later rows map onto these (by position without names)
                self._columns[key] = _appended(self._columns[key], fresh.columns)
        self.checkpoint = transaction.position

    def _capture(self, tables: dict[tuple[str, str], Table]) -> None:
        batcher, attempts = self.plan.batcher, 0
        while not self.stopping:
            try:
                for transaction in self.plan.source.changes(self.checkpoint, tables, stop=lambda: self.stopping,
                                                            since=self.plan.start_time):  # fmt: skip
                    attempts = 0
                    if self._reloads:  # what was captured goes out first, then the tables load anew
                        self._write(batcher.take())
                        self._apply_reloads()
                    if transaction is not None and transaction.ddl:
                        self._write(batcher.take())  # changes before the DDL are written with the old columns
                        self._alter(transaction)
                    elif transaction is not None:
                        batcher.add(transaction)
                    if batcher.due(utcnow()):
                        self._write(batcher.take())
                self._write(batcher.take())  # stopping: what was captured goes out first
                return
            except SourceError as error:
                # Recoverable (the source restarted, a connection dropped): read again from the checkpoint;
                # what was batched but not written is read again too.
                dropped = batcher.take()
                log.debug("DMS CDC: %d batched transactions dropped, read again from %s", len(dropped), self.checkpoint)
                attempts += 1
                if attempts > RECONNECT_ATTEMPTS:
                    raise
                log.warning("DMS CDC: %s; reading again from %s (attempt %d)", error, self.checkpoint, attempts)
                time.sleep(RECONNECT_WAIT_SECONDS)

    def _write(self, transactions: list[Transaction]) -> None:
        if not transactions:
            return
        changes = [change for transaction in transactions for change in transaction.changes]
        columns = dict(self._columns)
        if self.plan.handle_altered:  # a batch ends at an ALTER TABLE: a table's first change shows its columns
            named: dict[tuple[str, str], list[Column]] = {}
            for change in changes:
                key = (change.schema, change.table)
                if key not in named:
                    named[key] = _named(self._columns[key], change.values)
            columns.update(named)
        self.plan.writer.cdc(changes, columns=columns)
        for change in changes:
            stats = self.tables[(change.schema, change.table)]
            if change.op == "I":
                stats.inserts += 1
            elif change.op == "U":
                stats.updates += 1
            else:
                stats.deletes += 1
            stats.last_update = utcnow()
        self.checkpoint = transactions[-1].position  # only now: the changes are in the target
        log.debug("DMS CDC: %d changes written, checkpoint %s", len(changes), self.checkpoint)

    def _end(self, status: str, reason: str | None) -> None:
        if status == "failed":
            self.failure = reason
            log.warning("DMS task failed: %s", reason)
        else:
            self.stop_reason = reason
        self.stopped = utcnow()
        self.status = status
        self.on_end(self)

    # -- statistics ----------------------------------------------------------------------------

    def task_stats(self) -> dict:
        tables = list(self.tables.values())
        loaded = sum(t.state == "Table completed" for t in tables)
        stats = {
            "FullLoadProgressPercent": round(100 * loaded / len(tables)) if tables else 0,
            "ElapsedTimeMillis": int(((self.stopped or utcnow()) - self.started).total_seconds() * 1000),
            "TablesLoaded": loaded,
            "TablesLoading": sum(t.state in ("Full load", "Table is being reloaded") for t in tables),
            "TablesQueued": sum(t.state == "Before load" for t in tables),
            "TablesErrored": sum(t.state == "Table error" for t in tables),
            "StartDate": self.started,
        }
        if self.full_load_started:
            stats["FullLoadStartDate"] = self.full_load_started
        if self.full_load_finished:
            stats["FullLoadFinishDate"] = self.full_load_finished
        if self.stopped:
            stats["StopDate"] = self.stopped
        return stats


def _appended(written: list[Column], now: list[Column]) -> list[Column]:
    """A table's columns after an ALTER TABLE, as DMS writes them to S3: those it had, in their order (a dropped
    one gone, types as they are now), then the new ones at the end."""
    current = {column.name: column for column in now}
    kept = [current[column.name] for column in written if column.name in current]
    return kept + [column for column in now if column.name not in {c.name for c in kept}]


def _named(columns: list[Column], values) -> list[Column]:
    """The columns a change's row has: when the binlog names them (binlog_row_metadata=FULL) and they differ
    from `columns` (the reader is behind a later ALTER TABLE), those of `columns` it names, then any others."""
    if not isinstance(values, dict) or [column.name for column in columns] == list(values):
        return columns
    known = {column.name for column in columns}
    return [column for column in columns if column.name in values] + [
        Column(name, "") for name in values if name not in known and not name.startswith("UNKNOWN_COL")
    ]


class _Counted:
    """Rows passed through, counted a chunk at a time (not a Python step per row)."""

    def __init__(self, rows):
        self._rows = rows
        self.count = 0

    def __iter__(self):
        rows = iter(self._rows)
        while chunk := list(islice(rows, 1_000)):
            self.count += len(chunk)
            yield from chunk


class Runs:
    """The running tasks by ARN; a worker (local_aws.workers): they stop with the server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, TaskRun] = {}

    def start(self, arn: str, run: TaskRun) -> None:
        with self._lock:
            previous = self._runs.get(arn)
            self._runs[arn] = run
        if previous is not None:
            previous.stop()
        run.start()

    def get(self, arn: str) -> TaskRun | None:
        with self._lock:
            return self._runs.get(arn)

    def stop_run(self, arn: str) -> None:
        with self._lock:
            run = self._runs.get(arn)
        if run is not None:
            run.stop()

    def remove(self, arn: str) -> None:
        with self._lock:
            run = self._runs.pop(arn, None)
        if run is not None:
            run.stop()

    def stop(self) -> None:
        with self._lock:
            runs = list(self._runs.values())
            self._runs.clear()
        for run in runs:
            run.stop()

"""A DMS MySQL source: the tables a task selects, their full load, and their changes from the binlog.

Full load reads each table with a streaming SELECT. Change data capture reads the source's binary
log with python-mysql-replication, as a replica would, and yields committed transactions in
commit order, each with the binlog position after its commit: a task saves that position as its
checkpoint once the transaction's changes are written, and resumes from it, so a change may be
written twice after a crash but is never lost. The capture position is taken before the full
load starts, for the same reason. An `ALTER TABLE` of a captured table comes as a transaction of
its own (`ddl`), so the task can follow the table's new columns.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pymysql
import pymysql.converters
import pymysql.cursors
from pymysql.constants import FIELD_TYPE

log = logging.getLogger(__name__)

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
BINLOG_POSITION = re.compile(r"([^\s:#]+\.\d+):(\d+)")  # mysql-bin-changelog.000024:373
_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
FETCH_ROWS = 1_000  # rows a full load reads at a time
# pymysql's conversions for a full load, but for integers and DECIMALs: those stay MySQL's text ("42", "12.50",
# a DECIMAL(p,s) with its s decimals), which is DMS's text of them too, so the S3 writer keeps it rather than
# turning int and Decimal objects back into the same text (s3_target._TEXT_AS_IS). YEAR keeps its int (MySQL
# writes year 0 as "0000", DMS as 0); a table with a ZEROFILL column (MySQL pads its text) all of them.
TEXT_NUMBERS = {
    field_type: conversion
    for field_type, conversion in pymysql.converters.conversions.items()
    if field_type not in (FIELD_TYPE.TINY, FIELD_TYPE.SHORT, FIELD_TYPE.INT24, FIELD_TYPE.LONG, FIELD_TYPE.LONGLONG,
                          FIELD_TYPE.DECIMAL, FIELD_TYPE.NEWDECIMAL)
}  # fmt: skip
ALTER_TABLE = re.compile(rf"^\s*ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\s+(?:IF\s+EXISTS\s+)?({_NAME})(?:\s*\.\s*({_NAME}))?",
                         re.IGNORECASE)  # fmt: skip


class SourceError(Exception):
    """The source cannot be read as the task needs; the message is the task's failure reason."""


@dataclass(frozen=True, order=True)
class Position:
    """A binlog position: the file and the offset after an event."""

    file: str
    pos: int

    def __str__(self) -> str:
        return f"{self.file}:{self.pos}"

    @classmethod
    def parse(cls, text: str) -> Position:
        """`mysql-bin-changelog.000024:373`, or a checkpoint: local AWS's `checkpoint:V1#<file>:<position>` or
        DMS's `checkpoint:V1#27#<file>:<position>:...:<file>:<position>#...` (the earliest position it names:
        a change may repeat, never go missing)."""
        text = text.strip()
        if text.startswith("checkpoint:"):
            found = [cls(file, int(pos)) for file, pos in BINLOG_POSITION.findall(text)]
            if not found:
                raise SourceError(f"Invalid checkpoint {text!r}: it names no binlog position <binlog file>:<position>")
            return min(found)
        file, _, pos = text.rpartition(":")
        if not file or not pos.isdigit():
            raise SourceError(f"Invalid binlog position {text!r}: expected <binlog file>:<position>")
        return cls(file, int(pos))


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # information_schema's COLUMN_TYPE: int(11), decimal(10,2), datetime(6), enum('a','b') ...
    nullable: bool = True


@dataclass
class Table:
    schema: str
    name: str
    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)


@dataclass
class Change:
    """One row change of a committed transaction."""

    op: str  # "I", "U" or "D"
    schema: str
    table: str
    values: dict  # the row after the change (before it, for a delete)
    commit_time: datetime
    before: dict | None = None  # the row before an update


@dataclass
class Transaction:
    changes: list[Change]
    position: Position  # where the binlog continues after this transaction's commit
    commit_time: datetime
    ddl: list[tuple[str, str]] = field(default_factory=list)  # ALTER TABLE: the (schema, table) it changed


def altered_table(query: str, schema: str) -> tuple[str, str] | None:
    """The (schema, table) an `ALTER TABLE` statement changes; None for any other statement."""
    if query.lstrip()[:5].upper() != "ALTER":
        return None
    found = ALTER_TABLE.match(query)
    if found is None:
        return None
    names = [name[1:-1].replace("``", "`") if name.startswith("`") else name for name in found.groups() if name]
    return (names[0], names[1]) if len(names) == 2 else (schema, names[0])


class MySQLSource:
    """One MySQL (or MariaDB) source endpoint."""

    def __init__(self, host: str, port: int, user: str, password: str, database: str | None = None):
        self.settings = {"host": host, "port": int(port), "user": user, "passwd": password}
        self.database = database

    def connect(self, **kwargs) -> pymysql.Connection:
        try:
            return pymysql.connect(
                host=self.settings["host"], port=self.settings["port"], user=self.settings["user"],
                password=self.settings["passwd"], connect_timeout=10, autocommit=True, charset="utf8mb4",
                init_command="SET time_zone = '+00:00'", **kwargs,  # TIMESTAMP values in UTC, as DMS writes them
            )  # fmt: skip
        except pymysql.err.OperationalError as error:
            raise SourceError(f"Cannot connect to MySQL source {self.settings['host']}:{self.settings['port']}: "
                              f"[MySQL error {error.args[0]}] {error.args[-1]}") from None  # fmt: skip

    def check_cdc(self) -> Position:
        """The binlog position now; SourceError when the binlog cannot feed change data capture."""
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT @@log_bin, @@binlog_format, @@binlog_row_image")
            log_bin, binlog_format, row_image = cursor.fetchone()
            if not log_bin:
                raise SourceError(
                    "Binary Logging must be enabled for MySQL server: on RDS, set BackupRetentionPeriod above 0"
                )
            if str(binlog_format).upper() != "ROW":
                raise SourceError(
                    f"The parameter binlog_format is {binlog_format}; change data capture needs ROW "
                    "(set binlog_format=ROW in the DB parameter group and reboot)"
                )
            if str(row_image).upper() != "FULL":
                raise SourceError(f"The parameter binlog_row_image is {row_image}; change data capture needs FULL")
            try:
                cursor.execute("SHOW MASTER STATUS")
            except pymysql.err.OperationalError as error:
                raise SourceError(f"The user cannot read the binlog position (needs REPLICATION CLIENT): "
                                  f"{error.args[-1]}") from None  # fmt: skip
            file, pos = cursor.fetchone()[:2]
            return Position(file, int(pos))

    def first_position(self) -> Position:
        """The start of the oldest binlog the source still has (where a CdcStartTime search begins)."""
        with self.connect() as connection, connection.cursor() as cursor:
            try:
                cursor.execute("SHOW BINARY LOGS")
            except pymysql.err.MySQLError as error:
                raise SourceError(
                    f"The user cannot list the binlogs (needs REPLICATION CLIENT): {error.args[-1]}"
                ) from None
            logs = cursor.fetchall()
        if not logs:
            raise SourceError("Binary Logging must be enabled for MySQL server: the source has no binlog")
        return Position(logs[0][0], 4)

    def describe(self, schema: str, name: str) -> Table | None:
        """One table's columns and primary key as they are now; None when it no longer exists."""
        found = self.tables(lambda s, t: (s, t) == (schema, name))
        return found[0] if found else None

    def tables(self, selected) -> list[Table]:
        """Every base table selected(schema, table) says yes to, with its columns and primary key."""
        try:
            return self._tables(selected)
        except pymysql.err.MySQLError as error:
            raise SourceError(
                f"Failed to read the source's tables: [MySQL error {error.args[0]}] {error.args[-1]}"
            ) from None

    def _tables(self, selected) -> list[Table]:
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLUMN_KEY "
                "FROM information_schema.COLUMNS c JOIN information_schema.TABLES t "
                "ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE' "
                f"WHERE c.TABLE_SCHEMA NOT IN ({', '.join(['%s'] * len(SYSTEM_SCHEMAS))}) "
                "ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION",
                SYSTEM_SCHEMAS,
            )
            tables: dict[tuple[str, str], Table] = {}
            for schema, name, column, column_type, nullable, key in cursor.fetchall():
                if not selected(schema, name):
                    continue
                table = tables.setdefault((schema, name), Table(schema, name, []))
                table.columns.append(Column(column, column_type, nullable == "YES"))
                if key == "PRI":
                    table.primary_key.append(column)
            return list(tables.values())

    def full_load(self, table: Table) -> Iterator[tuple]:
        """The table's rows, streamed (an unbuffered cursor), FETCH_ROWS at a time; integers and DECIMALs as
        MySQL's text of them (TEXT_NUMBERS)."""
        names = ", ".join(f"`{column.name}`" for column in table.columns)
        zerofill = any("zerofill" in column.type.lower() for column in table.columns)
        conversions = pymysql.converters.conversions if zerofill else TEXT_NUMBERS
        try:
            with (
                self.connect(cursorclass=pymysql.cursors.SSCursor, conv=conversions) as connection,
                connection.cursor() as cursor,
            ):
                cursor.execute(f"SELECT {names} FROM `{table.schema}`.`{table.name}`")
                while rows := cursor.fetchmany(FETCH_ROWS):
                    yield from rows
        except pymysql.err.MySQLError as error:
            raise SourceError(f"Failed to read table {table.schema}.{table.name} from the source: "
                              f"[MySQL error {error.args[0]}] {error.args[-1]}") from None  # fmt: skip

    def changes(self, start: Position, tables: dict[tuple[str, str], Table], poll_seconds: float = 0.2,
                stop=None, since: datetime | None = None) -> Iterator[Transaction | None]:  # fmt: skip
        """Committed transactions touching `tables`, from `start`, in commit order; None each time the reader
        has caught up with the binlog (then it waits poll_seconds and reads on). Ends when stop() says so.

        `since` (CdcStartTime) skips the events written before that moment (the binlog's timestamps are seconds).
        An ALTER TABLE of one of `tables` is a Transaction without changes whose `ddl` names it; the caller
        updates that table's columns in `tables` (the same Table objects) before reading on."""
        from pymysqlreplication import BinLogStreamReader
        from pymysqlreplication.event import QueryEvent, XidEvent
        from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

        while stop is None or not stop():
            stream = BinLogStreamReader(
                connection_settings=self.settings, server_id=secrets.randbelow(2**31 - 1000) + 1000,
                log_file=start.file, log_pos=start.pos, resume_stream=True, blocking=False,
                only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, XidEvent, QueryEvent],
                only_schemas=sorted({schema for schema, _ in tables}),
                skip_to_timestamp=since.timestamp() if since else None,
                # Not is_mariadb: with it the library starts MariaDB's dump at the first binlog, ignoring log_file
                # and log_pos (it resumes by GTID only); a file/position dump works on MariaDB as on MySQL.
            )  # fmt: skip
            pending: list[Change] = []
            try:
                for event in stream:
                    query = event.query.strip() if isinstance(event, QueryEvent) else ""
                    if isinstance(event, XidEvent) or query.upper() == "COMMIT":  # COMMIT: a non-transactional table
                        commit_time = datetime.fromtimestamp(event.timestamp, UTC)
                        start = Position(stream.log_file, stream.log_pos)
                        log.debug("binlog commit at %s with %d changes", start, len(pending))
                        if pending:
                            for change in pending:
                                change.commit_time = commit_time
                            yield Transaction(pending, start, commit_time)
                            pending = []
                        continue
                    if isinstance(event, QueryEvent):
                        schema = event.schema.decode() if isinstance(event.schema, bytes) else str(event.schema or "")
                        altered = altered_table(query, schema)
                        if altered in tables:
                            start = Position(stream.log_file, stream.log_pos)
                            yield Transaction([], start, datetime.fromtimestamp(event.timestamp, UTC), ddl=[altered])
                        continue
                    table = tables.get((event.schema, event.table))
                    if table is not None:
                        pending += self._row_changes(event, table)
            except pymysql.err.OperationalError as error:
                raise SourceError(f"Reading the binlog failed: {error.args[-1]}") from None
            finally:
                stream.close()
            yield None  # caught up: nothing more until the source commits again
            time.sleep(poll_seconds)

    def _row_changes(self, event, table: Table) -> list[Change]:
        from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent

        names = [column.name for column in table.columns]

        def named(values: dict) -> dict:
            # Without binlog_row_metadata=FULL the binlog carries no column names: map them by position.
            if values and all(key.startswith("UNKNOWN_COL") for key in values):
                return dict(zip(names, values.values(), strict=False))
            return values

        now = datetime.now(UTC)  # replaced by the commit time when the transaction's commit is read
        if isinstance(event, UpdateRowsEvent):
            return [Change("U", table.schema, table.name, named(row["after_values"]), now, named(row["before_values"]))
                    for row in event.rows]  # fmt: skip
        op = "D" if isinstance(event, DeleteRowsEvent) else "I"
        return [Change(op, table.schema, table.name, named(row["values"]), now) for row in event.rows]

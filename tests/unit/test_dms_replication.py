"""The DMS engine with a fake MySQL source: ReloadTables while CDC runs, an ALTER TABLE during CDC, resuming
a task stopped during its full load. The real S3 writer over an in-memory bucket; no server, no database."""

from __future__ import annotations

from datetime import UTC, datetime

from local_aws.dms.replication import RunPlan, TableStats, TaskRun
from local_aws.dms.s3_target import CdcBatcher, S3TargetSettings, S3TargetWriter
from local_aws.dms.source_mysql import Change, Column, Position, Table, Transaction

NOW = datetime(2026, 1, 5, 10, 30, 15, tzinfo=UTC)
KEY = ("shop", "orders")


class Store:
    def __init__(self):
        self.objects: dict[str, str] = {}

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self.objects[key] = body.decode()

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return [key for key in self.objects if key.startswith(prefix)]

    def delete_keys(self, bucket: str, keys: list[str]) -> None:
        for key in keys:
            del self.objects[key]

    def files(self) -> list[str]:
        return [self.objects[key] for key in sorted(self.objects)]


class Source:
    """A source of one table whose binlog is `script`: transactions, or callables run when reached."""

    def __init__(self, rows: list[tuple], script: list, columns: list[Column] | None = None):
        self.table = Table(*KEY, columns or [Column("id", "int(11)"), Column("name", "varchar(9)")])
        self.rows, self.script, self.loads = rows, script, 0

    def check_cdc(self) -> Position:
        return Position("binlog.000001", 4)

    def tables(self, selected) -> list[Table]:
        return [Table(*KEY, list(self.table.columns))]

    def describe(self, schema: str, name: str) -> Table:
        return Table(schema, name, list(self.table.columns))

    def full_load(self, table: Table):
        self.loads += 1
        names = [column.name for column in self.table.columns]
        return [tuple(row[names.index(column.name)] for column in table.columns) for row in self.rows]

    def changes(self, start, tables, stop=None, since=None):
        for step in self.script:
            yield step() if callable(step) else step


def transaction(position: int, *changes: tuple[str, dict], ddl: bool = False) -> Transaction:
    made = [Change(op, *KEY, values, NOW) for op, values in changes]
    return Transaction(made, Position("binlog.000001", position), NOW, ddl=[KEY] if ddl else [])


def run(source: Source, store: Store, migration_type: str = "full-load-and-cdc", start: bool = True, **plan) -> TaskRun:
    settings = S3TargetSettings.from_endpoint({"BucketName": "lake", "AddColumnName": True,
                                               "CdcMaxBatchInterval": 3600})  # fmt: skip
    writer = S3TargetWriter(settings, store.put_object, list_keys=store.list_keys, delete_keys=store.delete_keys)
    task = TaskRun(RunPlan(migration_type=migration_type, start_type=plan.pop("start_type", "start-replication"),
                           source=source, selected=lambda s, t: True, writer=writer, batcher=CdcBatcher(settings),
                           **plan), on_end=lambda run: None)  # fmt: skip
    if start:
        task._run()  # on this thread: it ends when the fake binlog does
    return task


def test_reload_tables_writes_what_was_captured_then_loads_the_table_again_and_cdc_goes_on():
    store = Store()
    source = Source([(1, "pen")], [])
    requested = []

    def reload_requested():  # ReloadTables arrives while CDC runs
        source.rows.append((2, "ink"))  # committed (and captured above) before the reload reads the table
        requested.append(finished.reload([KEY]))
        assert finished.tables[KEY].state == "Table is being reloaded"

    source.script = [transaction(10, ("I", {"id": 2, "name": "ink"})), reload_requested,
                     transaction(20, ("I", {"id": 3, "name": "nib"}))]  # fmt: skip
    finished = run(source, store, start=False)
    finished._run()
    assert requested == [True] and source.loads == 2
    # The CDC file written before the reload went with the table's objects (DROP_AND_CREATE); CDC went on.
    assert sum("LOAD" in key for key in store.objects) == 1 and len(store.objects) == 2
    assert store.objects["shop/orders/LOAD00000001.csv"] == "id,name\n1,pen\n2,ink\n"
    assert [text for key, text in store.objects.items() if "LOAD" not in key] == ["Op,id,name\nI,3,nib\n"]
    stats = finished.tables[KEY]
    assert (stats.full_load_rows, stats.reloaded, stats.state, stats.inserts) == (2, True, "Table completed", 2)
    assert finished.checkpoint == Position("binlog.000001", 20)


def test_a_new_column_ends_the_batch_and_later_files_carry_it_at_the_end():
    store = Store()
    source = Source([(1, "pen")], [])

    def alter():  # ALTER TABLE orders ADD COLUMN price DECIMAL(5,2) FIRST: DMS writes new columns last
        source.table.columns = [Column("price", "decimal(5,2)"), *source.table.columns]
        return transaction(20, ddl=True)

    source.script = [transaction(10, ("I", {"id": 2, "name": "ink"})), alter,
                     transaction(30, ("I", {"price": 150, "id": 3, "name": "nib"}),
                                 ("U", {"price": None, "id": 1, "name": "pen"}))]  # fmt: skip
    finished = run(source, store)
    cdc = [text for key, text in sorted(store.objects.items()) if "LOAD" not in key]
    assert cdc == ["Op,id,name\nI,2,ink\n", "Op,id,name,price\nI,3,nib,150.00\nU,1,pen,\n"]
    assert (finished.tables[KEY].ddls, finished.checkpoint) == (1, Position("binlog.000001", 30))


def test_rows_read_before_a_later_alter_keep_the_columns_they_name():
    # binlog_row_metadata=FULL: the reader is behind; information_schema already has the new column.
    store = Store()
    source = Source([(1, "pen")], [transaction(10, ("I", {"id": 2, "name": "ink"}))],
                    columns=[Column("id", "int(11)"), Column("name", "varchar(9)"), Column("price", "int(11)")])  # fmt: skip
    source.rows = [(1, "pen", 5)]
    run(source, store)
    cdc = [text for key, text in sorted(store.objects.items()) if "LOAD" not in key]
    assert cdc == ["Op,id,name\nI,2,ink\n"]


def test_handle_source_table_altered_false_keeps_the_columns():
    store = Store()
    source = Source([(1, "pen")], [])
    source.script = [lambda: (setattr(source.table, "columns", [*source.table.columns, Column("x", "int(11)")]),
                              transaction(20, ddl=True))[1],
                     transaction(30, ("I", {"id": 3, "name": "nib", "x": 1}))]  # fmt: skip
    finished = run(source, store, handle_altered=False)
    assert [text for key, text in store.objects.items() if "LOAD" not in key] == ["Op,id,name\nI,3,nib\n"]
    assert finished.tables[KEY].ddls == 1


def test_resume_processing_loads_what_the_last_run_did_not_finish_and_keeps_the_figures():
    store = Store()
    source = Source([(1, "pen")], [transaction(10, ("I", {"id": 2, "name": "ink"}))])
    previous = {KEY: TableStats(*KEY, inserts=7, state="Full load")}
    finished = run(source, store, start_type="resume-processing", previous=previous)
    assert source.loads == 1 and finished.tables[KEY].inserts == 8
    done = {KEY: TableStats(*KEY, inserts=7, full_load_rows=1, state="Table completed")}
    again = run(Source([(1, "pen")], []), Store(), start_type="resume-processing", previous=done)
    assert again.full_load_started is None and again.tables[KEY].full_load_rows == 1
    assert previous[KEY].inserts == 7  # the last run's figures are copied, not changed


def test_a_full_load_task_takes_reloads_until_it_ends():
    source = Source([(1, "pen")], [])
    finished = run(source, Store(), migration_type="full-load")
    assert finished.stop_reason == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    assert finished.reload([KEY]) is False

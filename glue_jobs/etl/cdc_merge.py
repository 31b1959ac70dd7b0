"""DMS change files merged into the current state of each table (the CDC project's Glue job).

Input: what AWS DMS writes to S3 for a MySQL table (S3Settings DataFormat=parquet,
IncludeOpForFullLoad=true, TimestampColumnName=_cdc_commit_ts): the full load in
`LOAD00000001.parquet`, `LOAD00000002.parquet`, ... (a hexadecimal counter) and the changes in CDC
files named by their batch time, `20261205-103015123.parquet`. Every row is `Op` (`I`, `U`, `D`;
`I` for the full load), `_cdc_commit_ts` (text), then the table's columns. An update carries the
row after it, a delete the row before it. Rows of a CDC file are in commit order, a table's files
are written in time order, and a task's CDC files come after its full load files.

Order of changes. Every change gets `_cdc_seq`, a text comparable as text:
`0|<file base name>|<row in file, 10 digits>` for LOAD files, `1|<file base name>|<row>` for CDC
files (the base name, because DatePartitionEnabled puts date folders between the table and the
file). CDC file names are batch times to the millisecond, so name order is time order; LOAD rows
come before every CDC row. Changes apply in `_cdc_seq` order.

Current state. Two datasets per table: live rows (the table's columns, `_cdc_seq` and
`_cdc_commit_ts` of the change that made them) and tombstones (the key columns, `_cdc_seq` and
`_cdc_commit_ts` of the delete). A merge takes, per primary key (one or more columns), the latest
change of the batch, puts it with the key's live row or tombstone, and keeps the greatest
`_cdc_seq`; on a tie the existing row stays (the same change applied twice). A winning delete is a
tombstone, anything else a live row. So the merge is idempotent (a rerun of the same files changes
nothing), and a late duplicate of an older file can neither undo a newer update nor bring back a
deleted key: its changes lose against the state's greater `_cdc_seq`. A row is a whole row image,
so a NULL in a change is a value like any other, not "unchanged".

A batch holding LOAD rows is a full (re)load (DMS's initial load, `reload-target`,
`ReloadTables`): the table's state becomes what the batch's changes give; its old live rows and
tombstones are ignored.

Primary-key changes. DMS's S3 files have no before image: an UPDATE that changes a key arrives as
a `U` row with the new key only, and nothing says which key it replaced, so it cannot be merged
correctly (the old key would stay live). The workload therefore changes a key as a DELETE of the
old key and an INSERT of the new one in one transaction (`D` old, then `I` new), which merges
exactly. Old keys are not guessed here.

Schema. A column that appears in newer changes (ALTER TABLE ... ADD COLUMN) is added; rows
written before it have NULL there. Existing columns keep their order; new ones follow.

Partitions. A table may have a partition column computed from its key columns by a Spark SQL
expression (`user_bucket` = `floor(userId / 100)`), so a key's row is always in the same
partition: a merge reads and rewrites only the partitions its changes touch (`touched_partitions`);
a table without one is rewritten whole. Tombstones are partitioned the same way.

Limits: after a full reload, a CDC file older than the reload that arrives later still wins over
the reloaded rows (its `1|` sequence sorts after `0|`); DMS writes a task's CDC files after its
full load, so only a replayed old file does that. With DatePartitionTimezone, CDC file names are
local times, and an hour repeated when clocks fall back does not sort by time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

OP, COMMIT_TS, SEQ = "Op", "_cdc_commit_ts", "_cdc_seq"
# Added by the job script to every change read: the S3 file (Glue's attachFilename) and the row's
# position in the read (monotonically_increasing_id), from which the row in its file is derived.
FILE, POSITION = "_cdc_file", "_cdc_position"
META_COLUMNS = (SEQ, COMMIT_TS)
# Markers of merge_state's result: a tombstone, the key was live before, the winner is from the batch.
DELETED, WAS_LIVE, FROM_BATCH = "_cdc_deleted", "_cdc_was_live", "_cdc_from_batch"
_RANK = "_cdc_rank"  # 0: existing state, 1: the batch; on equal _cdc_seq the existing row stays
LOAD_PREFIX, CDC_PREFIX = "0", "1"
ROW_DIGITS = 10
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
# Characters Spark and Hive escape as %XX in a partition folder name (ExternalCatalogUtils).
_PATH_ESCAPED = {chr(c) for c in range(0x01, 0x20)} | set("\"#%'*/:=?\\\x7f{[]^")


@dataclass(frozen=True)
class Partitioning:
    column: str
    expression: str  # Spark SQL over the key columns, e.g. floor(userId / 100)


@dataclass(frozen=True)
class TableSpec:
    schema: str
    table: str
    keys: tuple[str, ...]
    partitioning: Partitioning | None = None

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def parse_tables(text: str) -> list[TableSpec]:
    """The job's --tables argument: {"<schema>.<table>": {"keys": [...], "partition": {"column", "expression"}}}."""
    example = '{"movielens.ratings": {"keys": ["userId", "movieId"]}}'
    try:
        tables = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--tables is not JSON ({error}); pass e.g. {example}") from None
    if not isinstance(tables, dict) or not tables:
        raise ValueError(f"--tables must be a JSON object naming at least one table, e.g. {example}")
    specs = []
    for name, settings in tables.items():
        schema, dot, table = name.partition(".")
        if not dot or not schema or not table or "." in table:
            raise ValueError(f"--tables: {name!r} is not <schema>.<table> (as DMS names the S3 folders)")
        keys = (settings or {}).get("keys") if isinstance(settings, dict) else None
        if not keys or not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            raise ValueError(f'--tables: {name} needs "keys": a list of its primary-key columns')
        partitioning = None
        if (partition := settings.get("partition")) is not None:
            if not isinstance(partition, dict) or not partition.get("column") or not partition.get("expression"):
                raise ValueError(
                    f'--tables: the partition of {name} needs "column" and "expression" '
                    '(e.g. {"column": "user_bucket", "expression": "floor(userId / 100)"})'
                )
            partitioning = Partitioning(partition["column"], partition["expression"])
        specs.append(TableSpec(schema, table, tuple(keys), partitioning))
    folders = [spec.table.lower() for spec in specs]
    if len(set(folders)) != len(folders):
        raise ValueError(f"--tables: {sorted(tables)} name one table twice; each table's state is kept under its name")
    return specs


# ---- changes ----


def sequenced(raw: DataFrame) -> DataFrame:
    """DMS rows with `_cdc_file` and `_cdc_position` -> `Op`, `_cdc_commit_ts`, the table's columns, `_cdc_seq`.

    `_cdc_position` must increase with the row's place in its file; the row index per file (0-based)
    is its rank there. A missing Op (a full load without IncludeOpForFullLoad) is an insert.
    """
    for column in (OP, COMMIT_TS):
        if column not in raw.columns:
            raw = raw.withColumn(column, F.lit(None).cast("string"))
    name = F.element_at(F.split(F.col(FILE), "/"), -1)
    kind = F.when(name.startswith("LOAD"), F.lit(LOAD_PREFIX)).otherwise(F.lit(CDC_PREFIX))
    row = F.row_number().over(Window.partitionBy(FILE).orderBy(POSITION)) - 1
    data = [c for c in raw.columns if c not in (OP, COMMIT_TS, FILE, POSITION)]
    return raw.select(
        F.upper(F.coalesce(F.col(OP), F.lit("I"))).alias(OP),
        F.col(COMMIT_TS).cast("string").alias(COMMIT_TS),
        *data,
        F.concat_ws("|", kind, name, F.lpad(row.cast("string"), ROW_DIGITS, "0")).alias(SEQ),
    )


def latest_changes(changes: DataFrame, keys: tuple[str, ...] | list[str]) -> DataFrame:
    """Per primary key, the change with the greatest `_cdc_seq`."""
    newest_first = Window.partitionBy(*keys).orderBy(F.col(SEQ).desc())
    return changes.withColumn("_cdc_n", F.row_number().over(newest_first)).where("_cdc_n = 1").drop("_cdc_n")


def is_full_load(changes: DataFrame) -> bool:
    """Whether the batch holds LOAD rows: a full (re)load of the table."""
    return not changes.where(F.col(SEQ).startswith(LOAD_PREFIX + "|")).isEmpty()


def batch_figures(changes: DataFrame) -> dict[str, int]:
    """Changes and files (by base name) in a sequenced batch."""
    row = changes.agg(F.count("*").alias("changes"), F.countDistinct(F.substring_index(SEQ, "|", 2)).alias("files"))
    return row.first().asDict()


# ---- partitions ----


def partition_value(partitioning: Partitioning) -> Column:
    return F.expr(partitioning.expression).alias(partitioning.column)


def touched_partitions(changes: DataFrame, partitioning: Partitioning) -> list[str | None]:
    """The partition values (as the partition folders and the catalog write them) the changes fall in."""
    values = changes.select(partition_value(partitioning).cast("string")).distinct().collect()
    return sorted((row[0] for row in values), key=lambda value: (value is None, value))


def escape_path_name(value: str) -> str:
    """A partition value as Spark and Hive write it in a folder name: special characters as %XX."""
    return "".join(f"%{ord(c):02X}" if c in _PATH_ESCAPED else c for c in value)


def partition_directory(column: str, value: str | None) -> str:
    """`user_bucket=3`: the folder of a partition value (NULL is Hive's default partition)."""
    return f"{escape_path_name(column)}={HIVE_DEFAULT_PARTITION if value is None else escape_path_name(value)}"


# ---- the merge ----


def _column_order(live: DataFrame | None, changes: DataFrame, partitioning: Partitioning | None) -> list[str]:
    """Live columns: the existing ones in their order, then new ones in the order of the changes."""
    skip = {OP.lower(), partitioning.column.lower() if partitioning else None}
    order = [c for c in (live.columns if live is not None else []) if c.lower() not in skip]
    known = {c.lower() for c in order}
    for column in [c for c in changes.columns if c not in META_COLUMNS] + list(META_COLUMNS):
        if column.lower() not in known and column.lower() not in skip:
            order.append(column)
            known.add(column.lower())
    return order


def _state(frame: DataFrame, partitioning: Partitioning | None, deleted: bool) -> DataFrame:
    if partitioning is not None and partitioning.column in frame.columns:
        frame = frame.drop(partitioning.column)  # as read back from its folders; recomputed from the keys
    return frame.withColumn(DELETED, F.lit(deleted)).withColumn(_RANK, F.lit(0))


def merge_state(
    changes: DataFrame,
    keys: tuple[str, ...] | list[str],
    live: DataFrame | None = None,
    tombstones: DataFrame | None = None,
    partitioning: Partitioning | None = None,
    full_load: bool | None = None,
) -> DataFrame:
    """One row per key of the changes and the given state: the winner, with DELETED, WAS_LIVE, FROM_BATCH.

    `changes` are sequenced() rows; `live` and `tombstones` the current state of the partitions the
    changes touch (or of the whole table), None when there is none. A full load (`full_load`,
    found from the changes when None) ignores the state. Use live_rows() and tombstone_rows() on
    the result (materialized first when it overwrites where the state was read from).
    """
    if full_load is None:
        full_load = is_full_load(changes)
    if full_load:
        live = tombstones = None
    order = _column_order(live, changes, partitioning)
    candidates = [
        latest_changes(changes, keys).withColumn(DELETED, F.col(OP) == "D").withColumn(_RANK, F.lit(1)).drop(OP)
    ]
    if tombstones is not None:
        candidates.insert(0, _state(tombstones, partitioning, deleted=True))
    if live is not None:
        candidates.insert(0, _state(live, partitioning, deleted=False))
    union = reduce(lambda left, right: left.unionByName(right, allowMissingColumns=True), candidates)
    per_key = Window.partitionBy(*keys)
    winner_first = per_key.orderBy(F.col(SEQ).desc(), F.col(_RANK).asc())
    live_before = F.max(F.when((F.col(_RANK) == 0) & ~F.col(DELETED), F.lit(True))).over(per_key)
    merged = (
        union.withColumn("_cdc_n", F.row_number().over(winner_first))
        .withColumn(WAS_LIVE, F.coalesce(live_before, F.lit(False)))
        .where("_cdc_n = 1")
    )
    partition = [partition_value(partitioning)] if partitioning is not None else []
    return merged.select(*order, *partition, DELETED, WAS_LIVE, (F.col(_RANK) == 1).alias(FROM_BATCH))


def live_rows(merged: DataFrame) -> DataFrame:
    """The live rows of merge_state's result: the table's columns, `_cdc_seq`, `_cdc_commit_ts` (partition last)."""
    return merged.where(~F.col(DELETED)).drop(DELETED, WAS_LIVE, FROM_BATCH)


def tombstone_rows(
    merged: DataFrame, keys: tuple[str, ...] | list[str], partitioning: Partitioning | None = None
) -> DataFrame:
    """The tombstones of merge_state's result: the key columns, `_cdc_seq`, `_cdc_commit_ts` (partition last)."""
    partition = [partitioning.column] if partitioning is not None else []
    return merged.where(F.col(DELETED)).select(*keys, *META_COLUMNS, *partition)


def change_counts(merged: DataFrame) -> dict[str, int]:
    """Keys the batch inserted (not live before), updated (live before and after) and deleted (live before)."""
    from_batch, deleted, was_live = F.col(FROM_BATCH), F.col(DELETED), F.col(WAS_LIVE)
    counts = merged.agg(
        F.count(F.when(from_batch & ~deleted & ~was_live, True)).alias("inserted"),
        F.count(F.when(from_batch & ~deleted & was_live, True)).alias("updated"),
        F.count(F.when(from_batch & deleted & was_live, True)).alias("deleted"),
    )
    return counts.first().asDict()


def partition_values(rows: DataFrame, partitioning: Partitioning) -> list[str | None]:
    """The partition values present in rows that carry the partition column, as text."""
    values = rows.select(F.col(partitioning.column).cast("string")).distinct().collect()
    return sorted((row[0] for row in values), key=lambda value: (value is None, value))


# ---- the Glue catalog ----


def hive_type(data_type: T.DataType) -> str:
    """A Spark type as the Glue Data Catalog and Athena name it (Hive DDL)."""
    simple = {
        T.BooleanType: "boolean",
        T.ByteType: "tinyint",
        T.ShortType: "smallint",
        T.IntegerType: "int",
        T.LongType: "bigint",
        T.FloatType: "float",
        T.DoubleType: "double",
        T.StringType: "string",
        T.BinaryType: "binary",
        T.DateType: "date",
        T.TimestampType: "timestamp",
        T.TimestampNTZType: "timestamp",  # DMS's DATETIME (Parquet timestamp without UTC adjustment)
    }
    for spark_type, name in simple.items():
        if isinstance(data_type, spark_type):
            return name
    if isinstance(data_type, T.DecimalType):
        return f"decimal({data_type.precision},{data_type.scale})"
    if isinstance(data_type, T.ArrayType):
        return f"array<{hive_type(data_type.elementType)}>"
    if isinstance(data_type, T.MapType):
        return f"map<{hive_type(data_type.keyType)},{hive_type(data_type.valueType)}>"
    if isinstance(data_type, T.StructType):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.dataType)}" for f in data_type.fields) + ">"
    raise ValueError(f"Spark type {data_type.simpleString()} has no Hive/Athena type; cast the column first")


def catalog_columns(schema: T.StructType, exclude: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Catalog columns of a DataFrame schema: lower-case names (as Glue and Athena keep them), Hive types."""
    skipped = {name.lower() for name in exclude}
    return [
        {"Name": f.name.lower(), "Type": hive_type(f.dataType)} for f in schema.fields if f.name.lower() not in skipped
    ]


def grown_columns(existing: list[dict], written: list[dict]) -> list[dict] | None:
    """The catalog's columns followed by the written ones it lacks; None when it lacks none."""
    known = {column["Name"].lower() for column in existing}
    new = [column for column in written if column["Name"].lower() not in known]
    return [*existing, *new] if new else None

"""CDC project: DMS change files in S3 merged into each table's current state (AWS Glue 5.0).

DMS writes a table's full load and changes as Parquet under <cdc_path><schema>/<table>/
(LOAD00000001.parquet, 20261205-103015123.parquet, ...). Per table, this job reads the files no
committed run has read (job bookmarks: run it with --job-bookmark-option job-bookmark-enable),
merges them into the table's current state with etl.cdc_merge (which explains the order of
changes, tombstones and full reloads), writes the state back and keeps the table's Glue catalog
entry in step, so Athena queries the current state:

  live rows   <target_path><table>/[<partition column>=<value>/]part-*.parquet   catalog table <table>
  tombstones  <tombstone_path><table>/[<partition column>=<value>/]part-*.parquet (not in the catalog)

A table with a partition column has only the partitions its changes touch read and rewritten
(dynamic partition overwrite); a touched partition left without rows is deleted. A table without
one, and any table in a full (re)load, is rewritten whole. job.commit() comes after every table is
written: a run that fails saves no bookmark, and the next run reads the same files again, which
the merge absorbs (a change already applied changes nothing).

The state is overwritten in place (plain Parquet, no table format): a run that fails while
writing a table can leave some of its touched partitions missing until it is run again with the
same files, which the bookmark guarantees.

Arguments:
  --cdc_path        s3:// prefix DMS writes under (the endpoint's bucket and BucketFolder), e.g. s3://b/cdc/
  --target_path     s3:// prefix of the live rows, e.g. s3://b/current/
  --tombstone_path  s3:// prefix of the tombstones, e.g. s3://b/cdc-state/tombstones/
  --database        Glue database of the current-state tables (it must exist; the tables are created)
  --tables          JSON: {"<schema>.<table>": {"keys": ["userId", "movieId"],
                    "partition": {"column": "user_bucket", "expression": "floor(userId / 100)"}}, ...}
                    (partition optional)
  --source_bucket, --source_key   optional: the S3 object whose arrival started the run (logged)

The etl package comes from --extra-py-files (a zip built from glue_jobs/etl).
"""

import json
import os
import sys

import boto3
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from py4j.protocol import Py4JJavaError
from pyspark.context import SparkContext
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from etl import cdc_merge

OPTIONAL = [name for name in ("source_bucket", "source_key") if f"--{name}" in sys.argv]
args = getResolvedOptions(
    sys.argv, ["JOB_NAME", "cdc_path", "target_path", "tombstone_path", "database", "tables", *OPTIONAL]
)
glue_context = GlueContext(SparkContext.getOrCreate())
spark = glue_context.spark_session
logger = glue_context.get_logger()
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
glue = boto3.client("glue", region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))

tables = cdc_merge.parse_tables(args["tables"])
cdc_path, target_path, tombstone_path = (
    args[name].rstrip("/") + "/" for name in ("cdc_path", "target_path", "tombstone_path")
)
if OPTIONAL:
    # The Lambda passes the object that landed; a run started otherwise may say why in --source_key alone.
    key = args.get("source_key", "")
    started_by = f"s3://{args['source_bucket']}/{key}" if "source_bucket" in args else key
    print(f"cdc_merge: started by {started_by}")
    logger.info(f"started_by={started_by}")

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
TABLE_INPUT_FIELDS = (
    "Name",
    "Description",
    "Owner",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "TableType",
    "Parameters",
)


# ---- files, through Hadoop's FileSystem (S3A locally, EMRFS on AWS Glue) ----


def _path(uri: str):
    path = spark._jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark._jsc.hadoopConfiguration())


def _missing(error: Py4JJavaError) -> bool:
    return error.java_exception.getClass().getName() == "java.io.FileNotFoundException"


def folders_in(uri: str) -> set[str]:
    """The folders directly under uri (none if it does not exist): one listing, no existence probe first."""
    path, fs = _path(uri)
    try:
        statuses = fs.listStatus(path)
    except Py4JJavaError as error:
        if _missing(error):
            return set()
        raise
    return {status.getPath().getName() for status in statuses if status.isDirectory()}


def has_data(uri: str) -> bool:
    path, fs = _path(uri)
    try:
        files = fs.listFiles(path, True)
        while files.hasNext():
            if not files.next().getPath().getName().startswith(("_", ".")):
                return True
    except Py4JJavaError as error:
        if _missing(error):
            return False
        raise
    return False


def delete(uri: str) -> None:
    path, fs = _path(uri)
    fs.delete(path, True)


def read_state(
    root: str, partitioning: cdc_merge.Partitioning | None, touched: list, present: set[str]
) -> DataFrame | None:
    """The state under root: the touched partitions of a partitioned table (present: the folders under root),
    else all of it; None if there is none."""
    reader = spark.read.option("mergeSchema", "true")  # partitions written before a column was added lack it
    if partitioning is None:
        return reader.parquet(root) if has_data(root) else None
    folders = [f for f in (cdc_merge.partition_directory(partitioning.column, v) for v in touched) if f in present]
    if not folders:
        return None
    return reader.option("basePath", root).parquet(*[f"{root}{folder}/" for folder in folders])


def write_state(frame: DataFrame, root: str, partitioning: cdc_merge.Partitioning | None, whole: bool) -> None:
    """Partitioned: frame must hold each partition's rows in one Spark partition (merge_table's repartition),
    so each partition folder gets one file."""
    if partitioning is None:
        # A table without a partition column is expected to be small: one file.
        frame.coalesce(1).write.mode("overwrite").option("compression", "snappy").parquet(root)
        return
    (
        frame.write.mode("overwrite")
        # dynamic: only the partitions written are replaced; static (a full load): the whole table
        .option("partitionOverwriteMode", "static" if whole else "dynamic")
        .partitionBy(partitioning.column)
        .option("compression", "snappy")
        .parquet(root)
    )


# ---- figures: each a single Spark job over a materialized frame ----


def _values(collected: list) -> list[str | None]:
    """Partition values gathered as one-element arrays (collect_set drops NULLs, not [NULL]), sorted as
    etl.cdc_merge sorts them: NULL (Hive's default partition) last."""
    return sorted((value for (value,) in collected), key=lambda value: (value is None, value))


def batch_summary(changes: DataFrame, partitioning: cdc_merge.Partitioning | None) -> dict:
    """In one Spark job: what etl.cdc_merge's batch_figures (changes, files), is_full_load and
    touched_partitions give, each of which would be a job of its own."""
    touched = []
    if partitioning:
        touched = [F.collect_set(F.array(cdc_merge.partition_value(partitioning).cast("string"))).alias("touched")]
    row = changes.agg(
        F.count("*").alias("changes"),
        # What countDistinct counts (the value is never NULL), without the extra aggregation level it plans.
        F.size(F.collect_set(F.substring_index(cdc_merge.SEQ, "|", 2))).alias("files"),
        F.max(F.col(cdc_merge.SEQ).startswith(cdc_merge.LOAD_PREFIX + "|")).alias("full_load"),
        *touched,
    ).first()
    return {
        "changes": row["changes"],
        "files": row["files"],
        "full_load": bool(row["full_load"]),
        "touched": _values(row["touched"]) if partitioning else [],
    }


def merge_summary(merged: DataFrame, partitioning: cdc_merge.Partitioning | None) -> dict:
    """In one Spark job: etl.cdc_merge.change_counts of merge_state's result, and the partition values of
    its live rows and of its tombstones (partition_values of live_rows and tombstone_rows)."""
    from_batch, deleted, was_live = (F.col(c) for c in (cdc_merge.FROM_BATCH, cdc_merge.DELETED, cdc_merge.WAS_LIVE))

    def partitions_where(condition: Column) -> Column:
        return F.collect_set(F.when(condition, F.array(F.col(partitioning.column).cast("string"))))

    partitions = []
    if partitioning:
        partitions = [partitions_where(~deleted).alias("live"), partitions_where(deleted).alias("tombstones")]
    row = merged.agg(
        F.count(F.when(from_batch & ~deleted & ~was_live, True)).alias("inserted"),
        F.count(F.when(from_batch & ~deleted & was_live, True)).alias("updated"),
        F.count(F.when(from_batch & deleted & was_live, True)).alias("deleted"),
        *partitions,
    ).first()
    return {
        "counts": {key: row[key] for key in ("inserted", "updated", "deleted")},
        "live": _values(row["live"]) if partitioning else [],
        "tombstones": _values(row["tombstones"]) if partitioning else [],
    }


# ---- the Glue catalog ----


def _storage(columns: list[dict], location: str) -> dict:
    return {
        "Columns": columns,
        "Location": location,
        "InputFormat": PARQUET_INPUT,
        "OutputFormat": PARQUET_OUTPUT,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
    }


def sync_catalog(spec: cdc_merge.TableSpec, live: DataFrame, root: str, present: list, emptied: list, whole: bool):
    """Create the table if missing, append new columns, add new partitions and drop emptied ones."""
    database, name, partitioning = args["database"], spec.table.lower(), spec.partitioning
    exclude = (partitioning.column,) if partitioning else ()
    columns = cdc_merge.catalog_columns(live.schema, exclude)
    try:
        table = glue.get_table(DatabaseName=database, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        keys = cdc_merge.catalog_columns(live.select(partitioning.column).schema) if partitioning else []
        table_input = {
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
            "StorageDescriptor": _storage(columns, root),
            "PartitionKeys": keys,
        }
        glue.create_table(DatabaseName=database, TableInput=table_input)
        table = {**table_input, "DatabaseName": database}
        print(f"cdc_merge {spec.name}: created catalog table {database}.{name} at {root}")
    grown = cdc_merge.grown_columns(table["StorageDescriptor"]["Columns"], columns)
    if grown:
        table_input = {key: table[key] for key in TABLE_INPUT_FIELDS if key in table}
        table_input["StorageDescriptor"] = {**table["StorageDescriptor"], "Columns": grown}
        glue.update_table(DatabaseName=database, TableInput=table_input)
        added = [column["Name"] for column in grown[len(table["StorageDescriptor"]["Columns"]) :]]
        print(f"cdc_merge {spec.name}: catalog table {database}.{name} has new columns {added}")
    if not partitioning:
        return
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name)
    registered = {part["Values"][0] for page in pages for part in page["Partitions"]}
    storage_columns = grown or table["StorageDescriptor"]["Columns"]
    new = [value for value in present if value not in registered]
    gone = [value for value in registered if value not in present] if whole else [v for v in emptied if v in registered]
    for start in range(0, len(new), 100):  # BatchCreatePartition takes up to 100
        inputs = [
            {
                "Values": [value],
                "StorageDescriptor": _storage(
                    storage_columns, f"{root}{cdc_merge.partition_directory(partitioning.column, value)}/"
                ),
            }
            for value in new[start : start + 100]
        ]
        answer = glue.batch_create_partition(DatabaseName=database, TableName=name, PartitionInputList=inputs)
        if errors := answer.get("Errors"):
            raise RuntimeError(f"adding partitions to {database}.{name} failed: {errors}")
    for start in range(0, len(gone), 25):  # BatchDeletePartition takes up to 25
        values = [{"Values": [value]} for value in gone[start : start + 25]]
        answer = glue.batch_delete_partition(DatabaseName=database, TableName=name, PartitionsToDelete=values)
        if errors := answer.get("Errors"):
            raise RuntimeError(f"deleting emptied partitions of {database}.{name} failed: {errors}")


# ---- one table ----


def merge_table(spec: cdc_merge.TableSpec) -> None:
    raw = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={
            "paths": [f"{cdc_path}{spec.schema}/{spec.table}/"],
            "recurse": True,
            "attachFilename": cdc_merge.FILE,
        },
        format="parquet",
        transformation_ctx=f"cdc_{spec.schema}_{spec.table}",
    ).toDF()
    if cdc_merge.FILE not in raw.columns:  # nothing new: the frame has no columns
        print(f"cdc_merge {spec.name}: no new changes")
        logger.info(f"table={spec.name} changes=0")
        return
    # The row's place in its file: monotonically_increasing_id() increases within a partition of the
    # read, so within a file as long as one file is one input split. CDC files, where the order of
    # rows matters, are small (a batch of CdcMaxBatchInterval seconds), far below the split size
    # (spark.sql.files.maxPartitionBytes, 128 MB); in a LOAD file every key appears once, so its
    # order does not matter. Checkpointed: the ids must not be computed twice.
    positioned = raw.withColumn(cdc_merge.POSITION, F.monotonically_increasing_id())
    changes = cdc_merge.sequenced(positioned).localCheckpoint(eager=True)
    partitioning = spec.partitioning
    batch = batch_summary(changes, partitioning)
    if batch["changes"] == 0:  # new files without rows
        print(f"cdc_merge {spec.name}: no new changes")
        logger.info(f"table={spec.name} changes=0")
        return
    full_load, touched = batch["full_load"], batch["touched"]
    live_root, tombstone_root = f"{target_path}{spec.table}/", f"{tombstone_path}{spec.table}/"
    live = tombstones = None
    # The partition folders before this run (dynamic overwrite adds the ones it writes and removes none).
    folders = {root: folders_in(root) for root in (live_root, tombstone_root)} if partitioning and not full_load else {}
    if not full_load:  # a full load replaces the table's state
        live = read_state(live_root, partitioning, touched, folders.get(live_root, set()))
        tombstones = read_state(tombstone_root, partitioning, touched, folders.get(tombstone_root, set()))
    merged = cdc_merge.merge_state(changes, spec.keys, live, tombstones, partitioning, full_load)
    if partitioning:
        # Each partition's rows in one Spark partition, once for both writes: one file per partition folder.
        # As many Spark partitions as the cluster has cores, so the writes use all of them (by column alone,
        # adaptive execution coalesces a small merge into one task that writes every file in turn).
        merged = merged.repartition(spark.sparkContext.defaultParallelism, partitioning.column)
    # Materialized before the paths it was read from are overwritten.
    merged = merged.localCheckpoint(eager=True)
    result = merge_summary(merged, partitioning)
    live_rows = cdc_merge.live_rows(merged)
    tombstone_rows = cdc_merge.tombstone_rows(merged, spec.keys, partitioning)
    for rows, root, values in (
        (live_rows, live_root, result["live"]),
        (tombstone_rows, tombstone_root, result["tombstones"]),
    ):
        # A dynamic overwrite without rows replaces nothing: skip its Spark job. A static one (a full load) and
        # an unpartitioned table's overwrite delete what was there, rows or not.
        if full_load or not partitioning or values:
            write_state(rows, root, partitioning, whole=full_load)

    present, emptied = result["live"], []
    if partitioning and not full_load:  # dynamic overwrite keeps the files of partitions it writes no rows to
        emptied = [value for value in touched if value not in present]
        for root, kept in ((live_root, present), (tombstone_root, result["tombstones"])):
            for value in touched:
                folder = cdc_merge.partition_directory(partitioning.column, value)
                if value not in kept and folder in folders[root]:
                    delete(f"{root}{folder}/")
    sync_catalog(spec, live_rows, live_root, present, emptied, whole=full_load)

    figures = {
        "changes": batch["changes"],
        "files": batch["files"],
        **result["counts"],
        "full_load": full_load,
        "whole_table": full_load or not partitioning,
    }
    if partitioning:
        figures["partitions_rewritten"] = len(present) if full_load else len(touched)
        figures["partitions_emptied"] = len(emptied)
    print(f"cdc_merge {spec.name}: {json.dumps(figures)}")
    logger.info(f"table={spec.name} " + " ".join(f"{key}={value}" for key, value in figures.items()))


for spec in tables:
    merge_table(spec)
job.commit()  # only now: every table's state is written

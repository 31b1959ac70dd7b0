"""Reading Glue Data Catalog tables into Spark DataFrames (local GlueContext.from_catalog).

The table definition comes from the Glue API (boto3, which the local driver points at local
AWS); the data is read from the table's and partitions' S3 locations through S3A.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import reduce

import boto3
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

SUPPORTED_FORMATS = ("csv", "parquet", "json")


def table_format(table: dict) -> str:
    """'csv', 'parquet' or 'json' from the table's classification, SerDe or InputFormat."""
    storage = table.get("StorageDescriptor", {})
    classification = (
        table.get("Parameters", {}).get("classification") or storage.get("Parameters", {}).get("classification") or ""
    ).lower()
    if classification in SUPPORTED_FORMATS:
        return classification
    serde = storage.get("SerdeInfo", {}).get("SerializationLibrary", "").lower()
    input_format = storage.get("InputFormat", "").lower()
    if "parquet" in serde or "parquet" in input_format:
        return "parquet"
    if "json" in serde:
        return "json"
    if "lazysimpleserde" in serde or "opencsvserde" in serde:
        return "csv"
    raise ValueError(
        f"table {table.get('DatabaseName')}.{table.get('Name')}: cannot read classification={classification!r} "
        f"SerDe={serde!r} locally; the local GlueContext reads CSV, Parquet and JSON tables"
    )


def csv_options(table: dict) -> dict[str, str]:
    """Spark CSV reader options from the table's SerDe parameters and skip.header.line.count."""
    storage = table.get("StorageDescriptor", {})
    serde_params = storage.get("SerdeInfo", {}).get("Parameters", {})
    skip = table.get("Parameters", {}).get("skip.header.line.count") or serde_params.get("skip.header.line.count")
    if skip not in (None, "", "0", "1"):
        raise ValueError(
            f"table {table.get('DatabaseName')}.{table.get('Name')}: skip.header.line.count={skip} is not "
            "supported locally (only 0 or 1 header line)"
        )
    options = {
        "sep": serde_params.get("field.delim") or serde_params.get("separatorChar") or ",",
        "header": "true" if skip == "1" else "false",
        "quote": serde_params.get("quoteChar", '"'),
    }
    if serde_params.get("escapeChar"):
        options["escape"] = serde_params["escapeChar"]
    elif "opencsvserde" in storage.get("SerdeInfo", {}).get("SerializationLibrary", "").lower():
        # OpenCSV reads both \" and "" inside quotes; Spark takes one escape character. As in local
        # Athena, the doubled quote of standard CSV wins (Spark's default, '\', would keep "" in values).
        options["escape"] = options["quote"]
    return options


def spark_type(glue_type: str) -> str:
    """A Hive/Glue column type as Spark DDL (char/varchar read as string, as Spark does)."""
    return re.sub(r"\b(var)?char\(\d+\)", "string", glue_type.strip(), flags=re.IGNORECASE)


def ddl_schema(columns: list[dict]) -> str:
    return ", ".join(f"`{column['Name']}` {spark_type(column['Type'])}" for column in columns)


def _read_location(spark: SparkSession, table: dict, fmt: str, paths: str | list[str]) -> DataFrame:
    """Read a location, or the given files in it."""
    columns = table["StorageDescriptor"].get("Columns", [])
    if fmt == "parquet":
        return spark.read.parquet(*([paths] if isinstance(paths, str) else paths))
    if fmt == "json":
        return spark.read.schema(ddl_schema(columns)).json(paths)
    return spark.read.options(**csv_options(table)).schema(ddl_schema(columns)).csv(paths)


def _get_partitions(glue, database: str, table_name: str, catalog_args: dict) -> list[dict]:
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table_name, **catalog_args)
    return [partition for page in pages for partition in page["Partitions"]]


def _matching(spark: SparkSession, partitions: list[dict], keys: list[dict], predicate: str) -> list[dict]:
    """The partitions whose values satisfy push_down_predicate (a Spark SQL expression on partition keys)."""
    rows = [(index, *partition["Values"]) for index, partition in enumerate(partitions)]
    frame = spark.createDataFrame(rows, ["__index", *[key["Name"] for key in keys]])
    typed = frame.select("__index", *[F.col(key["Name"]).cast(spark_type(key["Type"])) for key in keys])
    selected = {row["__index"] for row in typed.filter(predicate).select("__index").collect()}
    return [partition for index, partition in enumerate(partitions) if index in selected]


def _partition_value(key: dict, value: str):
    return F.lit(value).cast(spark_type(key["Type"])).alias(key["Name"])


def _files_in(files: list[str], location: str) -> list[str]:
    """The files at a location (s3://, s3a:// and s3n:// alike)."""
    where = location.partition("://")[2]
    folder = where if where.endswith("/") else where + "/"
    return [uri for uri in files if uri.partition("://")[2].startswith(folder) or uri.partition("://")[2] == where]


def read_table(
    spark: SparkSession,
    database: str,
    table_name: str,
    push_down_predicate: str = "",
    catalog_id: str | None = None,
    new_files: Callable[[list[str]], list[str]] | None = None,
) -> DataFrame:
    """The table's rows; with new_files (a job bookmark), only those of the files it picks from the locations."""
    glue = boto3.client("glue")
    catalog_args = {"CatalogId": catalog_id} if catalog_id else {}
    try:
        table = glue.get_table(DatabaseName=database, Name=table_name, **catalog_args)["Table"]
    except glue.exceptions.EntityNotFoundException as error:
        raise ValueError(
            f"table {database}.{table_name} is not in the Glue Data Catalog ({error}); "
            "run the crawler or create the table first"
        ) from error
    table.setdefault("DatabaseName", database)
    fmt = table_format(table)
    keys = table.get("PartitionKeys", [])
    partitions = [{"Values": [], "StorageDescriptor": table["StorageDescriptor"]}]
    if keys:
        partitions = _get_partitions(glue, database, table_name, catalog_args)
        if push_down_predicate and partitions:
            partitions = _matching(spark, partitions, keys, push_down_predicate)
    reads = [(partition, partition["StorageDescriptor"]["Location"]) for partition in partitions]
    if new_files is not None:
        chosen = new_files([location for _, location in reads])
        reads = [(partition, _files_in(chosen, location)) for partition, location in reads]
        reads = [(partition, files) for partition, files in reads if files]
    frames = [
        _read_location(spark, table, fmt, paths).select(
            "*", *[_partition_value(key, value) for key, value in zip(keys, partition["Values"], strict=True)]
        )
        for partition, paths in reads
    ]
    if not frames:
        return spark.createDataFrame([], ddl_schema(table["StorageDescriptor"].get("Columns", []) + keys))
    return reduce(lambda left, right: left.unionByName(right, allowMissingColumns=True), frames)

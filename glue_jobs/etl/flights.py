"""Typing and quarantine of the nycflights13 CSV (Glue lab 1: CSV -> Parquet).

The raw CSV is read with every column as a string plus Spark's corrupt-record column, so
that no row is dropped by the reader: rows with the wrong number of fields, or a value
that does not parse as its column's type, are flagged with a reason and quarantined.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

CORRUPT_RECORD = "_corrupt_record"
ERROR = "_error"
RECORD = "_record"

INTEGER_COLUMNS = (
    "year",
    "month",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "arr_delay",
    "flight",
    "air_time",
    "distance",
    "hour",
    "minute",
)
STRING_COLUMNS = ("carrier", "tailnum", "origin", "dest")
TIMESTAMP_COLUMNS = ("time_hour",)
# Column order of the CSV file.
CSV_COLUMNS = (
    "year",
    "month",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "arr_delay",
    "carrier",
    "flight",
    "tailnum",
    "origin",
    "dest",
    "air_time",
    "distance",
    "hour",
    "minute",
    "time_hour",
)
PARTITION_COLUMNS = ("year", "month")
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"

# Reader options: keep malformed lines (PERMISSIVE) with their text in CORRUPT_RECORD.
CSV_READ_OPTIONS = {
    "header": "true",
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT_RECORD,
    "multiLine": "false",
}

# Read schema: everything a string, so the reader never nulls a value it cannot parse.
RAW_SCHEMA = StructType(
    [StructField(name, StringType(), True) for name in CSV_COLUMNS] + [StructField(CORRUPT_RECORD, StringType(), True)]
)


def _blank_to_null(column: str) -> Column:
    value = F.trim(F.col(column))
    return F.when(value == "", F.lit(None)).otherwise(value)


def _problem(column: str, kind: str, parses: Column) -> Column:
    """The reason a present value of `column` is malformed, or null when it is fine."""
    value = _blank_to_null(column)
    return F.when(
        value.isNotNull() & ~parses,
        F.concat(F.lit(f"unparsable {kind} in column {column}: '"), value, F.lit("'")),
    )


def type_flights(raw: DataFrame) -> DataFrame:
    """Typed flights plus `_error` (null for a good row, else its first problem) and `_record`.

    Blank values become nulls (nycflights13 has cancelled flights with no times). Integers
    must be whole numbers; time_hour must be 'yyyy-MM-dd HH:mm:ss'. `_record` is the row's
    text as read, kept so quarantined rows lose nothing.
    """
    problems = [F.when(F.col(CORRUPT_RECORD).isNotNull(), F.lit("wrong number of fields"))]
    problems += [_problem(c, "integer", _blank_to_null(c).rlike(r"^[+-]?\d{1,9}$")) for c in INTEGER_COLUMNS]
    problems += [_problem(c, "timestamp", _parse_timestamp(c).isNotNull()) for c in TIMESTAMP_COLUMNS]
    typed = {c: _blank_to_null(c).cast(IntegerType()) for c in INTEGER_COLUMNS}
    typed |= {c: _blank_to_null(c) for c in STRING_COLUMNS}
    typed |= {c: _parse_timestamp(c) for c in TIMESTAMP_COLUMNS}
    record = F.coalesce(
        F.col(CORRUPT_RECORD), F.concat_ws(",", *[F.coalesce(F.col(c), F.lit("")) for c in CSV_COLUMNS])
    )
    return raw.select(
        *[typed[c].alias(c) for c in CSV_COLUMNS],
        F.make_date(typed["year"], typed["month"], typed["day"]).alias("flight_date"),
        F.coalesce(*problems).alias(ERROR),
        record.alias(RECORD),
    )


def _parse_timestamp(column: str) -> Column:
    return F.try_to_timestamp(_blank_to_null(column), F.lit(TIMESTAMP_FORMAT))


def valid_flights(typed: DataFrame) -> DataFrame:
    """Good rows in the output schema, partition columns last (where Spark's partitionBy puts them)."""
    good = typed.where(F.col(ERROR).isNull()).drop(ERROR, RECORD)
    keep = [c for c in good.columns if c not in PARTITION_COLUMNS]
    return good.select(*keep, *PARTITION_COLUMNS)


def quarantined_flights(typed: DataFrame) -> DataFrame:
    """Malformed rows as read, with the reason: `record`, `error`."""
    return typed.where(F.col(ERROR).isNotNull()).select(F.col(RECORD).alias("record"), F.col(ERROR).alias("error"))

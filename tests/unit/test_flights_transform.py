"""The flights CSV -> typed rows transform: types, partition columns, quarantine."""

from __future__ import annotations

import datetime as dt

import pytest

from etl import flights

HEADER = ",".join(flights.CSV_COLUMNS)
GOOD = "2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-01 05:00:00"
CANCELLED = "2013,2,3,,1930,,,2120,,EV,4131,,EWR,RIC,,277,19,30,2013-02-03 19:00:00"
TOO_FEW_FIELDS = "2013,1,1,517,515"
BAD_INTEGER = "2013,1,2,5x7,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-02 05:00:00"
BAD_TIMESTAMP = "2013,1,3,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,yesterday"


@pytest.fixture
def typed(spark, tmp_path):
    path = tmp_path / "flights.csv"
    path.write_text("\n".join([HEADER, GOOD, CANCELLED, TOO_FEW_FIELDS, BAD_INTEGER, BAD_TIMESTAMP]) + "\n")
    raw = spark.read.options(**flights.CSV_READ_OPTIONS).schema(flights.RAW_SCHEMA).csv(str(path))
    return flights.type_flights(raw).cache()


def test_valid_rows_are_typed_with_partition_columns_last(typed):
    good = flights.valid_flights(typed)
    assert good.columns[-2:] == ["year", "month"]
    types = dict(good.dtypes)
    assert types["dep_delay"] == "int" and types["distance"] == "int"
    assert types["time_hour"] == "timestamp" and types["flight_date"] == "date"
    assert types["carrier"] == "string"
    rows = {r["flight"]: r for r in good.collect()}
    assert set(rows) == {1545, 4131}
    first = rows[1545]
    assert (first["dep_time"], first["arr_delay"], first["origin"]) == (517, 11, "EWR")
    assert first["time_hour"] == dt.datetime(2013, 1, 1, 5, 0)
    assert first["flight_date"] == dt.date(2013, 1, 1)
    cancelled = rows[4131]
    assert cancelled["dep_time"] is None and cancelled["tailnum"] is None and cancelled["month"] == 2


def test_malformed_rows_are_quarantined_with_reason_and_text(typed):
    bad = {r["error"]: r["record"] for r in flights.quarantined_flights(typed).collect()}
    assert bad == {
        "wrong number of fields": TOO_FEW_FIELDS,
        "unparsable integer in column dep_time: '5x7'": BAD_INTEGER,
        "unparsable timestamp in column time_hour: 'yesterday'": BAD_TIMESTAMP,
    }


def test_every_row_is_either_valid_or_quarantined(typed):
    assert flights.valid_flights(typed).count() + flights.quarantined_flights(typed).count() == 5

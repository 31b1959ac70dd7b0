"""Glue labs 1-3's check of the curated flights against pandas on the source CSV (labkit.labs.flights)."""

from __future__ import annotations

import pytest

from etl import flights
from labkit.core.validation import ValidationError
from labkit.labs.flights import check_flights, flights_source_profile

HEADER = ",".join(flights.CSV_COLUMNS)
GOOD = [
    "2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-01 05:00:00",
    "2013,1,1,533,529,4,850,830,20,UA,1714,N24211,LGA,IAH,227,1416,5,29,2013-01-01 05:00:00",
    "2013,2,3,,1930,,,2120,,EV,4131,,EWR,RIC,,277,19,30,2013-02-03 19:00:00",  # cancelled: blanks are nulls
    '2013,3,1,"600",600,-5,900,910,-10,"AA",11,"N3,X",JFK,LAX,330,2475,6,0,2013-03-01 06:00:00',  # quoted
]
MALFORMED = [
    "2013,1,1,542,540",  # too few fields
    "2013,2,1,5x4,545,-1,1004,1022,-18,B6,725,N804JB,JFK,BQN,183,1576,5,45,2013-02-01 05:00:00",
    "2013,2,2,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,yesterday",
]
LINES = [HEADER, GOOD[0], GOOD[1], GOOD[2], "", MALFORMED[0], MALFORMED[1], MALFORMED[2], GOOD[3]]
# What Athena must answer for the curated table (sql/glue_lab1/flights_profile.sql): the 4 good rows.
CURATED = {
    "flights": "4",
    "carriers": "3",
    "origins": "3",
    "months": "3",
    "flights_with_arrival": "3",
    "total_distance": "5568",
    "avg_arr_delay": "7.0",
    "max_dep_delay": "4",
    "avg_air_time_whole_minutes": "261",
}
RAW = {**CURATED, "flights": "7", "months": "2"}  # Athena's figures over malformed rows are its own


@pytest.mark.parametrize("chunk_lines", [500_000, 2])
def test_source_profile_counts_the_malformed_rows_and_profiles_the_rest(chunk_lines):
    profile = flights_source_profile(LINES, chunk_lines=chunk_lines)
    assert profile == {
        "rows": 7,
        "malformed": 3,
        "flights": 4,
        "carriers": 3,  # UA, EV, AA
        "origins": 3,
        "months": 3,
        "flights_with_arrival": 3,
        "total_distance": 1400 + 1416 + 277 + 2475,
        "avg_arr_delay": 7.0,  # (11 + 20 - 10) / 3
        "arr_delay_sum": 21,
        "arr_delay_count": 3,
        "max_dep_delay": 4,
        "avg_air_time_whole_minutes": 261,  # 784 / 3, in whole minutes
    }


def test_the_glue_transform_refuses_exactly_the_rows_pandas_finds_malformed(spark, tmp_path):
    path = tmp_path / "flights.csv"
    path.write_text("\n".join(LINES) + "\n")
    raw = spark.read.options(**flights.CSV_READ_OPTIONS).schema(flights.RAW_SCHEMA).csv(str(path))
    typed = flights.type_flights(raw).cache()  # as the job does (Spark's CSV column pruning would change count())
    quarantined = sorted(row["record"] for row in flights.quarantined_flights(typed).collect())
    assert quarantined == sorted(MALFORMED)
    assert flights.valid_flights(typed).count() == flights_source_profile(LINES)["flights"]


def test_curated_figures_equal_to_pandas_reconcile_with_the_quarantined_rows():
    figures = check_flights(7, RAW, CURATED, flights_source_profile(LINES), quarantined=3, partitions=3)
    assert figures == {
        "raw_rows": 7,
        "parquet_rows": 4,
        "quarantined": 3,
        "partitions": 3,
        "carriers": 3,
        "avg_arr_delay": 7.0,
    }


@pytest.mark.parametrize(
    ("curated", "quarantined", "partitions", "problem"),
    [
        ({**CURATED, "flights": "5"}, 3, 3, "curated flights 5 (pandas on the source: 4)"),
        ({**CURATED, "avg_arr_delay": "7.0001"}, 3, 3, "curated avg_arr_delay 7.0001 (pandas on the source: 7.0)"),
        ({**CURATED, "avg_air_time_whole_minutes": "261.33"}, 3, 3, "avg_air_time_whole_minutes 261.33"),
        ({**CURATED, "max_dep_delay": None}, 3, 3, "curated max_dep_delay None (pandas on the source: 4)"),
        (CURATED, 2, 3, "2 rows quarantined, but 3 source rows are malformed"),
        (CURATED, 3, 4, "curated_flights has 4 partitions, expected one per month (3)"),
    ],
)
def test_a_curated_table_that_differs_from_pandas_fails_naming_the_figure(curated, quarantined, partitions, problem):
    with pytest.raises(ValidationError, match="flights do not reconcile: ") as failure:
        check_flights(7, RAW, curated, flights_source_profile(LINES), quarantined, partitions)
    assert problem in str(failure.value)


def test_staged_raw_and_source_rows_must_agree():
    with pytest.raises(ValidationError, match=r"raw table has 7 rows, 8 were staged, the source CSV has 7"):
        check_flights(8, RAW, CURATED, flights_source_profile(LINES), quarantined=3, partitions=3)


def test_without_malformed_rows_the_raw_table_is_checked_against_pandas_too():
    clean = [HEADER, *GOOD]
    source = flights_source_profile(clean)
    raw = {**CURATED, "carriers": "2"}
    with pytest.raises(ValidationError) as failure:
        check_flights(4, raw, CURATED, source, quarantined=0, partitions=3)
    assert str(failure.value) == "flights do not reconcile: raw carriers 2 (pandas on the source: 3)"
    assert check_flights(4, CURATED, CURATED, source, quarantined=0, partitions=3)["parquet_rows"] == 4

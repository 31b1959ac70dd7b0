"""Glue lab 4's raw weather (staged per month) and its check: the curated weather against the raw table
(Athena) and pandas on the source data. The nightly pipeline stages and curates the same weather."""

from __future__ import annotations

from airflow.sdk import task

from labkit.core import paths
from labkit.core.validation import ValidationError
from labkit.labs.athena import fetch_rows
from labkit.labs.glue import count_json_lines

WEATHER_KEY = ["origin", "year", "month", "day", "hour"]
MAX_WIND_SPEED_MPH = 150  # above it a reading is a recording error (the job nulls it)
RAW_PREFIX = "raw/weather/"
SCRIPT_FILE = paths.GLUE_JOBS_DIR / "weather_raw_to_curated.py"


@task
def stage_weather_csvs(bucket: str) -> dict:
    """Export the weather as one CSV per month and upload those not in raw/weather/ yet or changed (MD5 against
    the ETag), so that a job with bookmarks reads only new or corrected months."""
    import hashlib

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from labkit.labs import datasets

    hook = S3Hook()
    files = datasets.export_weather_csvs(paths.DATA_DIR / "weather")
    uploaded = []
    for path in files:
        key = f"{RAW_PREFIX}{path.name}"
        found = hook.head_object(key, bucket_name=bucket)
        if found and found["ETag"].strip('"') == hashlib.md5(path.read_bytes()).hexdigest():
            continue
        hook.load_file(str(path), key=key, bucket_name=bucket, replace=True)
        uploaded.append(path.name)
    print(f"uploaded {uploaded or 'nothing'}; the other months are in s3://{bucket}/{RAW_PREFIX} already")
    return {
        "uri": f"s3://{bucket}/{RAW_PREFIX}",
        "files": len(files),
        "uploaded": uploaded,
        "rows": datasets.WEATHER_ROWS,
    }


def weather_expectations() -> dict:
    """Figures of the curated weather computed with pandas from the source data, independently of
    Spark and Athena: one row per key, the latest reading (greatest time_hour) kept."""
    from labkit.labs import datasets

    frame = datasets.weather_frame()
    latest = frame.sort_values("time_hour").drop_duplicates(WEATHER_KEY, keep="last")
    return {
        "rows": len(frame),
        "distinct_keys": len(latest),
        "duplicated_keys": int(frame.duplicated(WEATHER_KEY).sum()),
        "months": int(latest["month"].nunique()),
        "avg_temp": round(float(latest["temp"].mean()), 4),
        "impossible_wind_speeds": int((latest["wind_speed"] > MAX_WIND_SPEED_MPH).sum()),
    }


def reconcile_weather(
    staged: dict, query_ids: dict[str, str], bucket: str, bad_records_prefix: str, database: str, table: str
) -> dict:
    """The curated weather against the raw table (Athena) and against pandas on the source data.

    query_ids: the Athena query ids of raw_profile, curated_profile, duplicate_keys, dedupe_winners.
    """
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    (raw,) = fetch_rows(query_ids["raw_profile"])
    (curated,) = fetch_rows(query_ids["curated_profile"])
    (duplicates,) = fetch_rows(query_ids["duplicate_keys"])
    (winners,) = fetch_rows(query_ids["dedupe_winners"])
    expected = weather_expectations()
    quarantined = count_json_lines(bucket, bad_records_prefix)
    raw_rows, distinct_keys = int(raw["raw_rows"]), int(raw["distinct_keys"])
    curated_rows = int(curated["curated_rows"])
    duplicated_keys, latest_kept = int(winners["duplicated_keys"]), int(winners["latest_kept"] or 0)
    partitions = len(GlueCatalogHook().get_partitions(database, table))
    problems = []
    if not raw_rows == staged["rows"] == expected["rows"]:
        problems.append(
            f"raw table has {raw_rows} rows, {staged['rows']} were staged, the source has {expected['rows']}"
        )
    if distinct_keys != expected["distinct_keys"]:
        problems.append(f"raw table has {distinct_keys} distinct keys, pandas counts {expected['distinct_keys']}")
    if int(duplicates["duplicate_keys"]):
        problems.append(f"{duplicates['duplicate_keys']} business keys appear more than once in {table}")
    if quarantined == 0 and curated_rows != distinct_keys:
        problems.append(f"{table} has {curated_rows} rows, not one per raw key ({distinct_keys})")
    if not curated_rows + quarantined >= distinct_keys >= curated_rows:
        problems.append(f"curated {curated_rows} + quarantined {quarantined} do not cover the {distinct_keys} raw keys")
    if not latest_kept == duplicated_keys == expected["duplicated_keys"]:
        problems.append(
            f"of {duplicated_keys} duplicated keys (pandas: {expected['duplicated_keys']}) "
            f"{latest_kept} kept the latest reading"
        )
    if not partitions == int(curated["months"]) == expected["months"]:
        problems.append(
            f"{table} has {partitions} partitions for {curated['months']} months, expected {expected['months']}"
        )
    if float(curated["max_wind_speed"]) > MAX_WIND_SPEED_MPH:
        problems.append(f"{table} still has a wind speed of {curated['max_wind_speed']} mph")
    if int(curated["nulled_wind_speed"]) != expected["impossible_wind_speeds"]:
        problems.append(
            f"{curated['nulled_wind_speed']} wind speeds nulled, pandas finds {expected['impossible_wind_speeds']}"
        )
    if quarantined == 0 and float(curated["avg_temp"]) != expected["avg_temp"]:
        problems.append(f"average temperature {curated['avg_temp']} != pandas {expected['avg_temp']}")
    if float(curated["max_temp_c_error"]) > 0.005:
        problems.append(f"temp_c differs from (temp - 32) * 5 / 9 by up to {curated['max_temp_c_error']}")
    if problems:
        raise ValidationError("weather does not reconcile: " + "; ".join(problems))
    return {
        "raw_rows": raw_rows,
        "curated_rows": curated_rows,
        "duplicates_removed": raw_rows - quarantined - curated_rows,
        "quarantined": quarantined,
        "partitions": partitions,
        "nulled_wind_speeds": int(curated["nulled_wind_speed"]),
        "avg_temp": float(curated["avg_temp"]),
    }

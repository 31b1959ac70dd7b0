"""Checks the lab DAGs run after the work: they compare results and fail with what differs."""

from __future__ import annotations

import json

from labkit.athena import fetch_rows


class ValidationError(AssertionError):
    pass


def count_json_lines(bucket: str, prefix: str, aws_conn_id: str = "aws_default") -> int:
    """Records in the JSON-lines files under a prefix (a Spark job's quarantine output)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=aws_conn_id)
    total = 0
    for key in hook.list_keys(bucket_name=bucket, prefix=prefix):
        if key.rsplit("/", 1)[-1].startswith(("_", ".")):
            continue  # _SUCCESS and friends
        body = hook.read_key(key, bucket_name=bucket)
        total += sum(1 for line in body.splitlines() if line.strip() and json.loads(line))
    return total


def reconcile_flights(
    staged: dict, raw_query_id: str, curated_query_id: str, bucket: str, bad_records_prefix: str, database: str
) -> dict:
    """Raw table == staged rows; curated rows + quarantined == raw; same aggregates when nothing was quarantined."""
    from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

    (raw,) = fetch_rows(raw_query_id)
    (curated,) = fetch_rows(curated_query_id)
    quarantined = count_json_lines(bucket, bad_records_prefix)
    raw_rows, curated_rows = int(raw["flights"]), int(curated["flights"])
    problems = []
    if raw_rows != staged["rows"]:
        problems.append(f"raw table has {raw_rows} rows but {staged['rows']} were staged")
    if curated_rows + quarantined != raw_rows:
        problems.append(f"curated {curated_rows} + quarantined {quarantined} != raw {raw_rows}")
    if quarantined == 0:
        for figure, value in raw.items():
            if value is None or curated[figure] is None:
                same = value == curated[figure]
            else:
                same = float(value) == float(curated[figure])
            if not same:
                problems.append(f"{figure}: raw {value} != curated {curated[figure]}")
    partitions = GlueCatalogHook().get_partitions(database, "curated_flights")
    if len(partitions) != int(raw["months"]):
        problems.append(f"curated_flights has {len(partitions)} partitions, expected one per month ({raw['months']})")
    if problems:
        raise ValidationError("flights do not reconcile: " + "; ".join(problems))
    return {
        "raw_rows": raw_rows,
        "parquet_rows": curated_rows,
        "quarantined": quarantined,
        "partitions": len(partitions),
        "carriers": int(raw["carriers"]),
        "avg_arr_delay": float(raw["avg_arr_delay"]),
    }

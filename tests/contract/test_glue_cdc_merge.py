"""glue_jobs/cdc_merge.py run as a Glue job on local AWS over DMS-shaped Parquet change files.

Also the local awsglue's S3 reads that the job relies on: `attachFilename`, and Parquet files of
different schemas read with every column.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labkit.operators.packaging import zip_package
from tests.conftest import REPO_ROOT
from tests.contract.test_athena import rows as athena_rows
from tests.contract.test_athena import wait as athena_wait
from tests.contract.test_glue_jobs import BUCKET, OUTPUT_LOG, clients, create_job, log_lines, output_json, put, run_job  # noqa: F401

JOB = "cdc-merge"
DATABASE = "cdc"
RATINGS = "cdc/movielens/ratings/"
CUSTOMERS = "cdc/shop/customers/"
LOAD, CDC1, CDC2 = "LOAD00000001.parquet", "20261205-103015123.parquet", "20261205-103115000.parquet"
LOAD_TS, TS1, TS2 = "2026-12-05 10:29:59.000000", "2026-12-05 10:30:14.100000", "2026-12-05 10:31:14.900000"
TABLES = {
    "movielens.ratings": {
        "keys": ["userId", "movieId"],
        "partition": {"column": "user_bucket", "expression": "floor(userId / 100)"},
    },
    "shop.customers": {"keys": ["id"]},
}
RATING_TYPES = {"userId": pa.int32(), "movieId": pa.int32(), "rating": pa.float64()}
CUSTOMER_TYPES = {
    "id": pa.int32(),
    "name": pa.string(),
    "balance": pa.decimal128(10, 2),
    "created_at": pa.timestamp("us"),
    "tier": pa.string(),  # ENUM
    "prefs": pa.string(),  # JSON
}
CREATED = dt.datetime(2026, 1, 2, 3, 4, 5, 123456)
D = decimal.Decimal


def dms_parquet(types: dict, rows: list[tuple]) -> bytes:
    """A file as DMS writes it with IncludeOpForFullLoad and TimestampColumnName=_cdc_commit_ts."""
    names = ["Op", "_cdc_commit_ts", *types]
    schema = pa.schema([("Op", pa.string()), ("_cdc_commit_ts", pa.string()), *types.items()])
    table = pa.Table.from_pylist([dict(zip(names, row, strict=True)) for row in rows], schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


RATINGS_LOAD = dms_parquet(
    RATING_TYPES,
    [("I", LOAD_TS, 1, 10, 4.0), ("I", LOAD_TS, 1, 20, 3.5), ("I", LOAD_TS, 150, 10, 2.0)]
    + [("I", LOAD_TS, 250, 30, 5.0), ("I", LOAD_TS, 251, 31, 1.0)],
)
RATINGS_CDC1 = dms_parquet(
    RATING_TYPES,
    [("U", TS1, 1, 10, 4.5), ("D", TS1, 150, 10, 2.0), ("I", TS1, 150, 20, 3.0), ("I", TS1, 2, 40, None)],
)
RATINGS_CDC2 = dms_parquet(
    RATING_TYPES,
    [("D", TS2, 250, 30, 5.0), ("D", TS2, 251, 31, 1.0), ("U", TS2, 1, 10, 1.5)]
    # userId 1 -> 101 of rating (1, 20), as the workload changes a key: DELETE + INSERT in one transaction.
    + [("D", TS2, 1, 20, 3.5), ("I", TS2, 101, 20, 3.5)]
    # A deleted key inserted again: its tombstone goes, and with it the tombstones' partition 1.
    + [("I", TS2, 150, 10, 4.0)],
)
CUSTOMERS_LOAD = dms_parquet(
    CUSTOMER_TYPES,
    [
        ("I", LOAD_TS, 1, "Ada", D("12.50"), CREATED, "gold", '{"a": [1, 2]}'),
        ("I", LOAD_TS, 2, "Bjørn 🚲", None, CREATED, "silver", None),
        ("I", LOAD_TS, 3, "Cy", D("0.00"), CREATED, "bronze", "{}"),
    ],
)
CUSTOMERS_CDC1 = dms_parquet(
    CUSTOMER_TYPES,
    [
        ("U", TS1, 1, "Ada L.", D("13.75"), CREATED, "gold", '{"a": [1, 2]}'),
        ("D", TS1, 3, "Cy", D("0.00"), CREATED, "bronze", "{}"),
    ],
)
# After ALTER TABLE customers ADD COLUMN email: DMS's files carry it, at the end.
CUSTOMERS_CDC2 = dms_parquet(
    {**CUSTOMER_TYPES, "email": pa.string()},
    [
        ("U", TS2, 2, "Bjørn 🚲", D("7.00"), CREATED, "gold", None, "bjorn@example.org"),
        ("I", TS2, 4, "Dee", D("1.00"), CREATED, "bronze", "[]", None),
    ],
)


def seq(kind: str, name: str, row: int) -> str:
    return f"{kind}|{name}|{row:010d}"


def rating(user, movie, value, sequence, ts, **more) -> dict:
    return {"userId": user, "movieId": movie, "rating": value, "_cdc_seq": sequence, "_cdc_commit_ts": ts, **more}


def customer(id_, name, balance, tier, prefs, sequence, ts, **more) -> dict:
    row = {"id": id_, "name": name, "balance": balance, "created_at": CREATED, "tier": tier, "prefs": prefs}
    return {**row, "_cdc_seq": sequence, "_cdc_commit_ts": ts, **more}


def read_rows(s3, prefix: str) -> list[dict]:
    """Every Parquet file's rows under prefix, with hive partition values (ints) from its folders;
    a column missing from a file is None in its rows."""
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    rows = []
    for key in sorted(item["Key"] for item in listed if item["Key"].endswith(".parquet")):
        partition = {k: int(v) for k, v in (part.split("=") for part in key[len(prefix) :].split("/")[:-1])}
        table = pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
        rows += [{**row, **partition} for row in table.to_pylist()]
    columns = {column for row in rows for column in row}
    return sorted(
        ({column: row.get(column) for column in columns} for row in rows),
        key=lambda r: json.dumps(r, sort_keys=True, default=str),
    )


def partition_folders(s3, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix, Delimiter="/").get("CommonPrefixes", [])
    return sorted(item["Prefix"][len(prefix) :] for item in listed)


def summaries(lines: list[str]) -> dict[str, dict]:
    """The job's one-line summary per table: `cdc_merge <schema>.<table>: {json}`."""
    found = {}
    for line in lines:
        name, _, figures = line.partition(": ")
        if name.startswith("cdc_merge ") and figures.startswith("{"):
            found[name.removeprefix("cdc_merge ")] = json.loads(figures)
    return found


def sorted_rows(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


@pytest.fixture
def cdc_job(clients):  # noqa: F811
    s3, glue, logs = clients
    etl_zip = put(s3, "scripts/etl.zip", zip_package(REPO_ROOT / "glue_jobs/etl"))
    create_job(
        glue,
        s3,
        JOB,
        (REPO_ROOT / "glue_jobs/cdc_merge.py").read_text(),
        DefaultArguments={
            "--extra-py-files": etl_zip,
            "--job-bookmark-option": "job-bookmark-enable",
            "--cdc_path": f"s3://{BUCKET}/cdc/",
            "--target_path": f"s3://{BUCKET}/current/",
            "--tombstone_path": f"s3://{BUCKET}/cdc-state/tombstones/",
            "--database": DATABASE,
            "--tables": json.dumps(TABLES),
        },
    )
    glue.create_database(DatabaseInput={"Name": DATABASE})

    def run(arguments: dict | None = None) -> dict:
        finished = run_job(glue, JOB, arguments)
        assert finished["JobRunState"] == "SUCCEEDED", finished.get("ErrorMessage")
        lines = log_lines(logs, OUTPUT_LOG, finished["Id"])
        return {**finished, "lines": lines, "summaries": summaries(lines)}

    return s3, glue, run


EXPECTED_RATINGS_1 = [
    rating(1, 10, 4.5, seq("1", CDC1, 0), TS1, user_bucket=0),
    rating(1, 20, 3.5, seq("0", LOAD, 1), LOAD_TS, user_bucket=0),
    rating(2, 40, None, seq("1", CDC1, 3), TS1, user_bucket=0),
    rating(150, 20, 3.0, seq("1", CDC1, 2), TS1, user_bucket=1),
    rating(250, 30, 5.0, seq("0", LOAD, 3), LOAD_TS, user_bucket=2),
    rating(251, 31, 1.0, seq("0", LOAD, 4), LOAD_TS, user_bucket=2),
]
EXPECTED_RATINGS_2 = [
    rating(1, 10, 1.5, seq("1", CDC2, 2), TS2, user_bucket=0),
    rating(2, 40, None, seq("1", CDC1, 3), TS1, user_bucket=0),
    rating(101, 20, 3.5, seq("1", CDC2, 4), TS2, user_bucket=1),
    rating(150, 10, 4.0, seq("1", CDC2, 5), TS2, user_bucket=1),
    rating(150, 20, 3.0, seq("1", CDC1, 2), TS1, user_bucket=1),
]
EXPECTED_RATING_TOMBSTONES_2 = [
    {"userId": 1, "movieId": 20, "_cdc_seq": seq("1", CDC2, 3), "_cdc_commit_ts": TS2, "user_bucket": 0},
    {"userId": 250, "movieId": 30, "_cdc_seq": seq("1", CDC2, 0), "_cdc_commit_ts": TS2, "user_bucket": 2},
    {"userId": 251, "movieId": 31, "_cdc_seq": seq("1", CDC2, 1), "_cdc_commit_ts": TS2, "user_bucket": 2},
]
EXPECTED_CUSTOMERS_2 = [
    customer(1, "Ada L.", D("13.75"), "gold", '{"a": [1, 2]}', seq("1", CDC1, 0), TS1, email=None),
    customer(2, "Bjørn 🚲", D("7.00"), "gold", None, seq("1", CDC2, 0), TS2, email="bjorn@example.org"),
    customer(4, "Dee", D("1.00"), "bronze", "[]", seq("1", CDC2, 1), TS2, email=None),
]


def test_merge_job_keeps_the_current_state_and_its_catalog_table(cdc_job, aws_client):
    s3, glue, run = cdc_job
    put(s3, RATINGS + LOAD, RATINGS_LOAD)
    put(s3, RATINGS + CDC1, RATINGS_CDC1)
    put(s3, CUSTOMERS + LOAD, CUSTOMERS_LOAD)
    put(s3, CUSTOMERS + "2026/12/05/" + CDC1, CUSTOMERS_CDC1)  # DatePartitionEnabled: a date folder

    first = run({"--source_bucket": BUCKET, "--source_key": CUSTOMERS + "2026/12/05/" + CDC1})

    assert f"cdc_merge: started by s3://{BUCKET}/{CUSTOMERS}2026/12/05/{CDC1}" in first["lines"]
    assert read_rows(s3, "current/ratings/") == sorted_rows(EXPECTED_RATINGS_1)
    assert read_rows(s3, "cdc-state/tombstones/ratings/") == [
        {"userId": 150, "movieId": 10, "_cdc_seq": seq("1", CDC1, 1), "_cdc_commit_ts": TS1, "user_bucket": 1}
    ]
    assert read_rows(s3, "current/customers/") == sorted_rows(
        [
            customer(1, "Ada L.", D("13.75"), "gold", '{"a": [1, 2]}', seq("1", CDC1, 0), TS1),
            customer(2, "Bjørn 🚲", None, "silver", None, seq("0", LOAD, 1), LOAD_TS),
        ]
    )
    assert read_rows(s3, "cdc-state/tombstones/customers/") == [
        {"id": 3, "_cdc_seq": seq("1", CDC1, 1), "_cdc_commit_ts": TS1}
    ]
    assert first["summaries"] == {
        "movielens.ratings": {"changes": 9, "files": 2, "inserted": 6, "updated": 0, "deleted": 0, "full_load": True,
                              "whole_table": True, "partitions_rewritten": 3, "partitions_emptied": 0},
        "shop.customers": {"changes": 5, "files": 2, "inserted": 2, "updated": 0, "deleted": 0, "full_load": True,
                           "whole_table": True},
    }  # fmt: skip
    ratings_table = glue.get_table(DatabaseName=DATABASE, Name="ratings")["Table"]
    assert ratings_table["StorageDescriptor"]["Columns"] == [
        {"Name": "userid", "Type": "int"},
        {"Name": "movieid", "Type": "int"},
        {"Name": "rating", "Type": "double"},
        {"Name": "_cdc_seq", "Type": "string"},
        {"Name": "_cdc_commit_ts", "Type": "string"},
    ]
    assert ratings_table["PartitionKeys"] == [{"Name": "user_bucket", "Type": "bigint"}]
    assert ratings_table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/current/ratings/"
    assert ratings_table["TableType"] == "EXTERNAL_TABLE"
    assert catalog_partitions(glue, "ratings") == {
        "0": f"s3://{BUCKET}/current/ratings/user_bucket=0/",
        "1": f"s3://{BUCKET}/current/ratings/user_bucket=1/",
        "2": f"s3://{BUCKET}/current/ratings/user_bucket=2/",
    }

    # Then: deletes that empty partition 2, updates, a key change, a new column, and a late duplicate
    # of a file merged already (re-uploaded, so the bookmark reads it again).
    put(s3, RATINGS + CDC2, RATINGS_CDC2)
    put(s3, RATINGS + CDC1, RATINGS_CDC1)
    put(s3, CUSTOMERS + "2026/12/05/" + CDC2, CUSTOMERS_CDC2)
    second = run()

    assert read_rows(s3, "current/ratings/") == sorted_rows(EXPECTED_RATINGS_2)
    assert read_rows(s3, "cdc-state/tombstones/ratings/") == sorted_rows(EXPECTED_RATING_TOMBSTONES_2)
    assert partition_folders(s3, "current/ratings/") == ["user_bucket=0/", "user_bucket=1/"]
    assert partition_folders(s3, "cdc-state/tombstones/ratings/") == ["user_bucket=0/", "user_bucket=2/"]
    assert read_rows(s3, "current/customers/") == sorted_rows(EXPECTED_CUSTOMERS_2)
    assert read_rows(s3, "cdc-state/tombstones/customers/") == [
        {"id": 3, "_cdc_seq": seq("1", CDC1, 1), "_cdc_commit_ts": TS1}
    ]
    assert second["summaries"] == {
        "movielens.ratings": {"changes": 10, "files": 2, "inserted": 2, "updated": 1, "deleted": 3, "full_load": False,
                              "whole_table": False, "partitions_rewritten": 3, "partitions_emptied": 1},
        "shop.customers": {"changes": 2, "files": 1, "inserted": 1, "updated": 1, "deleted": 0, "full_load": False,
                           "whole_table": True},
    }  # fmt: skip
    assert sorted(catalog_partitions(glue, "ratings")) == ["0", "1"]
    customers_table = glue.get_table(DatabaseName=DATABASE, Name="customers")["Table"]
    assert customers_table["StorageDescriptor"]["Columns"] == [
        {"Name": "id", "Type": "int"},
        {"Name": "name", "Type": "string"},
        {"Name": "balance", "Type": "decimal(10,2)"},
        {"Name": "created_at", "Type": "timestamp"},
        {"Name": "tier", "Type": "string"},
        {"Name": "prefs", "Type": "string"},
        {"Name": "_cdc_seq", "Type": "string"},
        {"Name": "_cdc_commit_ts", "Type": "string"},
        {"Name": "email", "Type": "string"},
    ]
    assert customers_table["PartitionKeys"] == []
    athena = aws_client("athena")
    assert athena_query(athena, "SELECT user_bucket, count(*), sum(rating) FROM ratings GROUP BY 1 ORDER BY 1") == [
        ["user_bucket", "_col1", "_col2"],
        ["0", "2", "1.5"],
        ["1", "3", "10.5"],
    ]
    assert athena_query(athena, "SELECT id, name, balance, created_at, email FROM customers ORDER BY id") == [
        ["id", "name", "balance", "created_at", "email"],
        ["1", "Ada L.", "13.75", "2026-01-02 03:04:05.123", None],
        ["2", "Bjørn 🚲", "7.00", "2026-01-02 03:04:05.123", "bjorn@example.org"],
        ["4", "Dee", "1.00", "2026-01-02 03:04:05.123", None],
    ]

    # Nothing new: both tables are skipped. Then every file read again (bookmark reset): a full
    # reload from the same files gives the same state.
    third = run()
    glue.reset_job_bookmark(JobName=JOB)
    fourth = run()

    assert third["summaries"] == {}
    assert fourth["summaries"]["movielens.ratings"]["full_load"] is True
    assert read_rows(s3, "current/ratings/") == sorted_rows(EXPECTED_RATINGS_2)
    assert read_rows(s3, "cdc-state/tombstones/ratings/") == sorted_rows(EXPECTED_RATING_TOMBSTONES_2)
    assert read_rows(s3, "current/customers/") == sorted_rows(EXPECTED_CUSTOMERS_2)
    assert sorted(catalog_partitions(glue, "ratings")) == ["0", "1"]


def catalog_partitions(glue, table: str) -> dict[str, str]:
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=DATABASE, TableName=table)
    return {p["Values"][0]: p["StorageDescriptor"]["Location"] for page in pages for p in page["Partitions"]}


def athena_query(athena, sql: str) -> list[list[str | None]]:
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": DATABASE},
        ResultConfiguration={"OutputLocation": f"s3://{BUCKET}/athena-results/"},
    )["QueryExecutionId"]
    execution = athena_wait(athena, query_id)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"].get("StateChangeReason")
    return athena_rows(athena, query_id)


# ---- the local awsglue's S3 reads ----

READ_WITH_FILENAMES = """
import json, sys
from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_path"])
glue_context = GlueContext(SparkContext.getOrCreate())
frame = glue_context.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["source_path"]], "recurse": True, "attachFilename": "source_file"},
    format="parquet",
).toDF()
rows = sorted((row.asDict() for row in frame.collect()), key=lambda row: row["source_file"])
print(json.dumps({"columns": frame.columns, "rows": rows}))
"""


def test_parquet_from_options_has_every_file_s_columns_and_attach_filename(clients):  # noqa: F811
    s3, glue, logs = clients
    old = {"station": pa.array(["EWR"]), "reading": pa.array([1], pa.int32())}
    new = {**old, "unit": pa.array(["mm"])}
    # The older file is listed first: Spark alone would take its columns only.
    for key, columns in (("readings/a day 1.parquet", old), ("readings/b.parquet", new)):
        buffer = io.BytesIO()
        pq.write_table(pa.table(columns), buffer)
        put(s3, key, buffer.getvalue())
    create_job(glue, s3, "read-with-filenames", READ_WITH_FILENAMES)

    run = run_job(glue, "read-with-filenames", {"--source_path": f"s3://{BUCKET}/readings/"})

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert output_json(logs, run) == {
        "columns": ["station", "reading", "unit", "source_file"],
        "rows": [
            # The full URI, URL-encoded as Spark's input_file_name() gives it.
            {
                "station": "EWR",
                "reading": 1,
                "unit": None,
                "source_file": f"s3://{BUCKET}/readings/a%20day%201.parquet",
            },
            {"station": "EWR", "reading": 1, "unit": "mm", "source_file": f"s3://{BUCKET}/readings/b.parquet"},
        ],
    }

"""Athena against local AWS with boto3: DDL into the Glue catalog, queries over CSV, Parquet and JSON
in local S3, errors, paging, result files, statistics, cancellation, and the Amazon provider's
Athena hook and sensor."""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

DATA = "lake"
RESULTS = "athena-results"
OUTPUT = f"s3://{RESULTS}/queries/"
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")

# Two files of one table, each with its header line (skip.header.line.count applies per file).
FLIGHTS_JAN = b"flight,carrier,distance,arr_delay,dep_time\n1,UA,1400,11.5,517\n2,AA,1089,-4,533\n3,UA,1576,,542\n"
FLIGHTS_FEB = b"flight,carrier,distance,arr_delay,dep_time\n4,B6,1576,-18,n/a\n5,AA,762,7.25,554\n"
FLIGHTS_DDL = """
CREATE EXTERNAL TABLE IF NOT EXISTS labdb.flights (
    flight int, carrier string, distance bigint, arr_delay double, dep_time int
)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
STORED AS TEXTFILE
LOCATION 's3://lake/raw/flights/'
TBLPROPERTIES ('skip.header.line.count'='1')
"""


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=DATA)
    client.create_bucket(Bucket=RESULTS)
    return client


@pytest.fixture
def athena(aws_client, s3):
    return aws_client("athena")


@pytest.fixture
def glue(aws_client):
    return aws_client("glue")


def start(athena, sql: str, database: str | None = "labdb", **request) -> str:
    context = {"Database": database} if database else {}
    request.setdefault("ResultConfiguration", {"OutputLocation": OUTPUT})
    return athena.start_query_execution(QueryString=sql, QueryExecutionContext=context, **request)["QueryExecutionId"]


def wait(athena, query_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] in TERMINAL:
            return execution
        assert time.monotonic() < deadline, f"query still {execution['Status']['State']} after {timeout}s"
        time.sleep(0.05)


def run(athena, sql: str, database: str | None = "labdb", expect: str = "SUCCEEDED", **request) -> dict:
    execution = wait(athena, start(athena, sql, database, **request))
    assert execution["Status"]["State"] == expect, execution["Status"].get("StateChangeReason")
    return execution


def rows(athena, query_id: str) -> list[list[str | None]]:
    """Every row GetQueryResults lists (header row first), NULL as None."""
    pages = athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)
    return [[cell.get("VarCharValue") for cell in row["Data"]] for page in pages for row in page["ResultSet"]["Rows"]]


def query(athena, sql: str, database: str | None = "labdb") -> list[list[str | None]]:
    return rows(athena, run(athena, sql, database)["QueryExecutionId"])


def put(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket=DATA, Key=key, Body=body)


def parquet_bytes(columns: dict) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


@pytest.fixture
def flights(athena, s3):
    """labdb.flights over two CSV files with headers, made with Athena DDL."""
    put(s3, "raw/flights/2013-01.csv", FLIGHTS_JAN)
    put(s3, "raw/flights/2013-02.csv", FLIGHTS_FEB)
    run(athena, "CREATE DATABASE IF NOT EXISTS labdb", database=None)
    run(athena, FLIGHTS_DDL)


# -- DDL and queries over CSV ---------------------------------------------------------------------


def test_a_file_rewritten_between_queries_is_read_as_it_is_now(athena, s3, flights):
    sql = "SELECT count(*), sum(distance) FROM flights"
    assert query(athena, sql) == [["_col0", "_col1"], ["5", "6403"]]
    # The same size (queries keep files open while their listed size holds), then another size.
    same_size = FLIGHTS_JAN.replace(b"1400", b"2400")
    assert len(same_size) == len(FLIGHTS_JAN)
    put(s3, "raw/flights/2013-01.csv", same_size)
    assert query(athena, sql) == [["_col0", "_col1"], ["5", "7403"]]
    put(s3, "raw/flights/2013-01.csv", FLIGHTS_JAN + b"6,DL,1000,0,600\n")
    assert query(athena, sql) == [["_col0", "_col1"], ["6", "7403"]]


def test_ddl_creates_the_glue_table_and_aggregates_are_exact(athena, glue, flights):
    table = glue.get_table(DatabaseName="labdb", Name="flights")["Table"]
    descriptor = table["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [
        ("flight", "int"),
        ("carrier", "string"),
        ("distance", "bigint"),
        ("arr_delay", "double"),
        ("dep_time", "int"),
    ]
    assert descriptor["Location"] == "s3://lake/raw/flights/"
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert descriptor["SerdeInfo"]["Parameters"]["field.delim"] == ","
    assert table["Parameters"]["skip.header.line.count"] == "1"

    execution = run(
        athena,
        "SELECT count(*) AS flights, count(arr_delay), sum(distance) AS distance, avg(arr_delay) AS avg_delay, "
        "min(carrier), max(dep_time) FROM flights",
    )
    assert execution["StatementType"] == "DML"
    result = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])["ResultSet"]
    data = [[c.get("VarCharValue") for c in r["Data"]] for r in result["Rows"]]
    assert data == [
        ["flights", "_col1", "distance", "avg_delay", "_col4", "_col5"],
        ["5", "4", "6403", "-0.8125", "AA", "554"],
    ]
    info = result["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"]) for c in info] == [
        ("flights", "bigint"),
        ("_col1", "bigint"),
        ("distance", "bigint"),
        ("avg_delay", "double"),
        ("_col4", "varchar"),
        ("_col5", "integer"),
    ]
    assert info[0]["Label"] == "flights" and info[0]["Precision"] == 19 and info[0]["Nullable"] == "UNKNOWN"


def test_group_by_with_the_default_database_and_a_qualified_name(athena, flights):
    expected = [["carrier", "flights", "distance"], ["AA", "2", "1851"], ["B6", "1", "1576"], ["UA", "2", "2976"]]
    sql = "SELECT carrier, count(*) AS flights, sum(distance) AS distance FROM {} GROUP BY carrier ORDER BY carrier"
    assert query(athena, sql.format("flights")) == expected
    assert query(athena, sql.format("awsdatacatalog.labdb.flights"), database="default") == expected


def test_values_that_do_not_parse_are_null_and_missing_fields_too(athena, s3, flights):
    put(s3, "raw/flights/2013-03.csv", b"flight,carrier,distance,arr_delay,dep_time\n6,DL,12.5,abc,\n7\n")
    assert query(
        athena, "SELECT flight, carrier, distance, arr_delay, dep_time FROM flights WHERE flight >= 3 ORDER BY flight"
    ) == [
        ["flight", "carrier", "distance", "arr_delay", "dep_time"],
        ["3", "UA", "1576", None, "542"],
        ["4", "B6", "1576", "-18.0", None],  # 'n/a' is not an int
        ["5", "AA", "762", "7.25", "554"],
        ["6", "DL", None, None, None],  # 12.5 is not a bigint, abc not a double, '' not an int
        ["7", None, None, None, None],  # a short line: the missing fields are NULL
    ]


def test_integer_division_is_trino_integer_division(athena, flights):
    assert query(athena, "SELECT 7 / 2, -7 / 2, 7 / 2.0, sum(distance) / count(*) FROM flights") == [
        ["_col0", "_col1", "_col2", "_col3"],
        ["3", "-3", "3.5", "1280"],
    ]


def test_open_csv_serde_reads_quoted_fields_as_strings(athena, s3, flights):
    put(
        s3,
        "raw/airports/airports.csv",
        b'"faa","name","alt"\n"JFK","John F Kennedy Intl, New York","13"\n"EWR","Newark ""Liberty""",""\n',
    )
    run(
        athena,
        """
        CREATE EXTERNAL TABLE airports (faa string, name string, alt string)
        ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
        WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '"', 'escapeChar' = '"')
        LOCATION 's3://lake/raw/airports/'
        TBLPROPERTIES ('skip.header.line.count' = '1')
    """,
    )
    assert query(athena, "SELECT faa, name, alt, length(alt) FROM airports ORDER BY faa") == [
        ["faa", "name", "alt", "_col3"],
        ["EWR", 'Newark "Liberty"', "", "0"],  # an empty field is an empty string, not NULL
        ["JFK", "John F Kennedy Intl, New York", "13", "2"],
    ]


def test_a_table_in_the_crawler_shape_made_with_the_glue_api(athena, glue, s3):
    """What a Glue crawler writes for a tab-separated file with a header."""
    put(s3, "crawled/weather/w.tsv.gz", gzip.compress(b"origin\ttemp\thumid\nJFK\t39.02\t59.37\nLGA\t39.92\t\n"))
    glue.create_database(DatabaseInput={"Name": "crawled"})
    glue.create_table(DatabaseName="crawled", TableInput={
        "Name": "weather",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "csv", "delimiter": "\t", "skip.header.line.count": "1", "compressionType": "gzip"},
        "StorageDescriptor": {
            "Columns": [{"Name": "origin", "Type": "string"}, {"Name": "temp", "Type": "double"}, {"Name": "humid", "Type": "double"}],
            "Location": "s3://lake/crawled/weather/",
            "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe", "Parameters": {"field.delim": "\t"}},
        },
    })  # fmt: skip
    assert query(athena, "SELECT origin, temp, humid FROM weather ORDER BY origin", database="crawled") == [
        ["origin", "temp", "humid"],
        ["JFK", "39.02", "59.37"],
        ["LGA", "39.92", None],
    ]


# -- Parquet with partitions from the catalog -----------------------------------------------------


ROWS_PER_PARTITION = 20_000  # enough that Parquet footers are a small part of the bytes scanned


@pytest.fixture
def events(glue, s3):
    """lake.events: Parquet partitioned by year/month, made with the Glue API; 20,000 rows a partition."""
    descriptor = {
        "Columns": [
            {"Name": "id", "Type": "bigint"},
            {"Name": "amount", "Type": "double"},
            {"Name": "label", "Type": "string"},
        ],
        "Location": "s3://lake/curated/events/",
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
    }
    glue.create_database(DatabaseInput={"Name": "lake"})
    glue.create_table(DatabaseName="lake", TableInput={
        "Name": "events", "TableType": "EXTERNAL_TABLE", "StorageDescriptor": descriptor,
        "Parameters": {"classification": "parquet"},
        "PartitionKeys": [{"Name": "year", "Type": "int"}, {"Name": "month", "Type": "int"}],
    })  # fmt: skip
    for year, month in [(2023, 12), (2024, 1), (2024, 2)]:
        prefix = f"curated/events/year={year}/month={month}/"
        ids = list(range(ROWS_PER_PARTITION))
        put(
            s3,
            prefix + "part-0000.parquet",
            parquet_bytes({"id": ids, "amount": [i / 4 for i in ids], "label": [f"e{i}" for i in ids]}),
        )
        put(s3, prefix + "_SUCCESS", b"")
        glue.create_partition(DatabaseName="lake", TableName="events", PartitionInput={
            "Values": [str(year), str(month)], "StorageDescriptor": {**descriptor, "Location": f"s3://lake/{prefix}"},
        })  # fmt: skip
    # A folder the catalog does not know: Athena does not read it.
    put(
        s3,
        "curated/events/year=2024/month=3/part-0000.parquet",
        parquet_bytes({"id": [1], "amount": [1.0], "label": ["x"]}),
    )


def test_partitions_come_from_the_catalog_and_are_pruned(athena, events):
    everything = run(
        athena,
        "SELECT year, month, count(*) AS n, sum(id) AS ids FROM events GROUP BY year, month ORDER BY year, month",
        "lake",
    )
    assert rows(athena, everything["QueryExecutionId"]) == [
        ["year", "month", "n", "ids"],
        ["2023", "12", "20000", "199990000"],
        ["2024", "1", "20000", "199990000"],
        ["2024", "2", "20000", "199990000"],
    ]
    one = run(athena, "SELECT count(*), sum(amount) FROM events WHERE year = 2024 AND month = 2", "lake")
    assert rows(athena, one["QueryExecutionId"]) == [["_col0", "_col1"], ["20000", "4.99975E7"]]

    scanned_all = everything["Statistics"]["DataScannedInBytes"]
    scanned_one = one["Statistics"]["DataScannedInBytes"]
    assert 0 < scanned_one < scanned_all / 2, (scanned_one, scanned_all)


def test_parquet_projection_reads_fewer_bytes_than_every_column(athena, events):
    narrow = run(athena, "SELECT sum(id) FROM events", "lake")["Statistics"]["DataScannedInBytes"]
    wide = run(athena, "SELECT sum(id), max(label), sum(amount) FROM events", "lake")["Statistics"][
        "DataScannedInBytes"
    ]
    assert 0 < narrow < wide


def test_many_partitions_of_several_files_each_are_read_whole_and_once(athena, glue, s3):
    """Spark's layout (a file per task in every partition folder, _SUCCESS beside) over 12 partitions: DuckDB
    opens each file more than once and reads it from several threads; every row still counts once."""
    descriptor = {
        "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "amount", "Type": "double"}],
        "Location": "s3://lake/curated/sales/",
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
    }
    glue.create_database(DatabaseInput={"Name": "lake"})
    glue.create_table(DatabaseName="lake", TableInput={
        "Name": "sales", "StorageDescriptor": descriptor, "PartitionKeys": [{"Name": "month", "Type": "int"}],
    })  # fmt: skip
    expected, total_bytes = [["month", "n", "ids", "files"]], 0
    for month in range(1, 13):
        prefix = f"curated/sales/month={month}/"
        sizes = (5_000, 4_000 + month, 17 * month)  # two big tasks' files and a small one, as Spark leaves them
        first = 0
        for part, size in enumerate(sizes):
            ids = list(range(first, first + size))
            body = parquet_bytes({"id": ids, "amount": [i / 2 for i in ids]})
            put(s3, f"{prefix}part-{part:05d}-c000.snappy.parquet", body)
            total_bytes += len(body)
            first += size
        put(s3, prefix + "_SUCCESS", b"")
        glue.create_partition(DatabaseName="lake", TableName="sales", PartitionInput={
            "Values": [str(month)], "StorageDescriptor": {**descriptor, "Location": f"s3://lake/{prefix}"},
        })  # fmt: skip
        expected.append([str(month), str(first), str(first * (first - 1) // 2), "3"])

    sql = 'SELECT month, count(*) AS n, sum(id) AS ids, count(DISTINCT "$path") AS files FROM sales GROUP BY month ORDER BY month'
    first_run, second_run = run(athena, sql, "lake"), run(athena, sql, "lake")
    assert rows(athena, first_run["QueryExecutionId"]) == expected
    assert rows(athena, second_run["QueryExecutionId"]) == expected
    scanned = first_run["Statistics"]["DataScannedInBytes"]
    assert 0 < scanned < total_bytes and second_run["Statistics"]["DataScannedInBytes"] == scanned


def test_alter_table_add_partition_and_msck_repair_register_folders(athena, glue, events):
    run(
        athena,
        "ALTER TABLE events ADD IF NOT EXISTS PARTITION (year=2024, month=3) PARTITION (year=2024, month=2)",
        "lake",
    )
    assert query(athena, "SELECT count(*) FROM events WHERE month = 3", "lake") == [["_col0"], ["1"]]

    glue.delete_partition(DatabaseName="lake", TableName="events", PartitionValues=["2024", "3"])
    assert query(athena, "SELECT count(*) FROM events", "lake") == [["_col0"], ["60000"]]
    run(athena, "MSCK REPAIR TABLE events", "lake")
    partitions = glue.get_partitions(DatabaseName="lake", TableName="events")["Partitions"]
    assert sorted(p["Values"] for p in partitions) == [["2023", "12"], ["2024", "1"], ["2024", "2"], ["2024", "3"]]
    assert query(athena, "SELECT count(*) FROM events", "lake") == [["_col0"], ["60001"]]


def test_parquet_table_made_with_ddl_reads_columns_by_name(athena, s3, flights):
    put(s3, "curated/rates/r.parquet", parquet_bytes({"Currency": ["EUR", "GBP"], "rate": [1.08, 1.27]}))
    run(
        athena,
        "CREATE EXTERNAL TABLE rates (rate double, currency string, missing int) STORED AS PARQUET LOCATION 's3://lake/curated/rates/'",
    )
    assert query(athena, "SELECT * FROM rates ORDER BY currency") == [
        ["rate", "currency", "missing"],
        ["1.08", "EUR", None],
        ["1.27", "GBP", None],
    ]
    # The long form Athena's console generates names the SerDe and formats.
    run(
        athena,
        """
        CREATE EXTERNAL TABLE rates_long (currency string, rate double)
        ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
        STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
        OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
        LOCATION 's3://lake/curated/rates/'
        """,
    )
    assert query(athena, "SELECT currency FROM rates_long WHERE rate > 1.1") == [["currency"], ["GBP"]]


def test_parquet_files_with_and_without_a_column_added_later_are_read_by_name(athena, s3, flights):
    # Written before and after an ALTER TABLE ... ADD COLUMN: the first file listed lacks `tier`, a later one has it.
    put(s3, "curated/members/part-0.parquet", parquet_bytes({"id": [1, 2], "name": ["Ann", "Bo"]}))
    put(s3, "curated/members/part-1.parquet", parquet_bytes({"id": [3], "name": ["Cy"], "tier": ["gold"]}))
    run(athena, "CREATE EXTERNAL TABLE members (id int, name string, tier string) STORED AS PARQUET LOCATION 's3://lake/curated/members/'")
    assert query(athena, "SELECT id, name, tier FROM members ORDER BY id") == [
        ["id", "name", "tier"], ["1", "Ann", None], ["2", "Bo", None], ["3", "Cy", "gold"],
    ]  # fmt: skip


def test_parquet_timestamps_are_read_to_the_millisecond_rounding_as_athena_does(athena, s3, flights):
    from datetime import datetime

    moments = [datetime(2024, 9, 8, 12, 40, 48, 993908), datetime(2024, 9, 8, 12, 40, 48, 993499),
               datetime(2024, 12, 31, 23, 59, 59, 999500)]  # fmt: skip
    table = pa.table({"id": [1, 2, 3], "at": pa.array(moments, pa.timestamp("us"))})
    body = io.BytesIO()
    pq.write_table(table, body)
    put(s3, "curated/moments/m.parquet", body.getvalue())
    run(athena, "CREATE EXTERNAL TABLE moments (id int, at timestamp) STORED AS PARQUET LOCATION 's3://lake/curated/moments/'")
    assert query(athena, "SELECT id, at, at = TIMESTAMP '2024-09-08 12:40:48.994' AS exact FROM moments ORDER BY id") == [
        ["id", "at", "exact"],
        ["1", "2024-09-08 12:40:48.994", "true"],
        ["2", "2024-09-08 12:40:48.993", "false"],
        ["3", "2025-01-01 00:00:00.000", "false"],
    ]


# -- JSON -------------------------------------------------------------------------------------------


def test_json_table_with_nested_values_and_camel_case_keys(athena, s3, flights):
    put(s3, "raw/clicks/a.json.gz", gzip.compress(
        b'{"userId": 1, "page": "/home", "tags": ["a", "b"], "device": {"os": "ios", "version": 17}}\n'
        b'{"userId": 2, "page": "/cart", "tags": [], "device": null}\n'
    ))  # fmt: skip
    put(s3, "raw/clicks/b.json", b'{"userId": 3, "page": "/home"}\n')
    run(
        athena,
        """
        CREATE EXTERNAL TABLE clicks (userid bigint, page string, tags array<string>, device struct<os:string,version:int>)
        ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
        LOCATION 's3://lake/raw/clicks/'
    """,
    )
    assert query(
        athena, "SELECT userid, page, tags, device, device.os, cardinality(tags) FROM clicks ORDER BY userid"
    ) == [
        ["userid", "page", "tags", "device", "os", "_col5"],
        ["1", "/home", "[a, b]", "{os=ios, version=17}", "ios", "2"],
        ["2", "/cart", "[]", None, None, "0"],
        ["3", "/home", None, None, None, None],
    ]
    assert query(athena, "SELECT page, count(*) AS visits FROM clicks GROUP BY page ORDER BY visits DESC, page") == [
        ["page", "visits"],
        ["/home", "2"],
        ["/cart", "1"],
    ]


# -- errors -----------------------------------------------------------------------------------------


def test_bad_sql_fails_with_a_syntax_error_and_its_position(athena, flights):
    execution = run(athena, "SELECT carrier FROM flights WHERE", expect="FAILED")
    reason = execution["Status"]["StateChangeReason"]
    assert reason.startswith("SYNTAX_ERROR: line 1:"), reason
    assert execution["Status"]["AthenaError"]["ErrorMessage"] == reason


def test_unknown_table_schema_and_column_fail_naming_them(athena, flights):
    reason = run(athena, "SELECT * FROM no_such_table", expect="FAILED")["Status"]["StateChangeReason"]
    assert reason == "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.labdb.no_such_table' does not exist"
    reason = run(athena, "SELECT *\nFROM nodb.t", expect="FAILED")["Status"]["StateChangeReason"]
    assert reason == "SCHEMA_NOT_FOUND: line 2:6: Schema 'nodb' does not exist"
    reason = run(athena, "SELECT carrier, delay FROM flights", expect="FAILED")["Status"]["StateChangeReason"]
    assert reason == "COLUMN_NOT_FOUND: line 1:17: Column 'delay' cannot be resolved"


def test_runtime_errors_and_unsupported_statements_fail_clearly(athena, flights):
    reason = run(athena, "SELECT distance / (flight - flight) FROM flights", expect="FAILED")["Status"][
        "StateChangeReason"
    ]
    assert reason == "DIVISION_BY_ZERO: Division by zero"
    reason = run(athena, "CREATE TABLE t2 WITH (format = 'ORC') AS SELECT 1 AS a", expect="FAILED")["Status"][
        "StateChangeReason"
    ]
    assert reason.startswith("NOT_SUPPORTED: CREATE TABLE labdb.t2 AS format 'ORC'"), reason
    reason = run(athena, "SELECT 1; SELECT 2", expect="FAILED")["Status"]["StateChangeReason"]
    assert "Only one sql statement is allowed" in reason


def test_get_query_results_of_a_failed_query_is_an_error(athena, flights):
    query_id = run(athena, "SELECT * FROM no_such_table", expect="FAILED")["QueryExecutionId"]
    with pytest.raises(ClientError, match="FAILED"):
        athena.get_query_results(QueryExecutionId=query_id)


# -- DDL lifecycle ----------------------------------------------------------------------------------


def test_drop_table_removes_it_from_glue(athena, glue, flights):
    execution = run(athena, "DROP TABLE flights")
    assert execution["StatementType"] == "DDL"
    assert [t["Name"] for t in glue.get_tables(DatabaseName="labdb")["TableList"]] == []
    reason = run(athena, "DROP TABLE flights", expect="FAILED")["Status"]["StateChangeReason"]
    assert reason == "TABLE_NOT_FOUND: line 1:12: Table 'awsdatacatalog.labdb.flights' does not exist"
    run(athena, "DROP TABLE IF EXISTS flights")
    reason = run(athena, "SELECT count(*) FROM flights", expect="FAILED")["Status"]["StateChangeReason"]
    assert reason.startswith("TABLE_NOT_FOUND")


def test_database_ddl_lifecycle(athena, glue, flights):
    run(athena, "CREATE DATABASE IF NOT EXISTS labdb", database=None)
    reason = run(athena, "CREATE DATABASE labdb", database=None, expect="FAILED")["Status"]["StateChangeReason"]
    assert reason.startswith("ALREADY_EXISTS: Database 'labdb' already exists")
    run(athena, "CREATE DATABASE sandbox COMMENT 'scratch space' LOCATION 's3://lake/sandbox/'", database=None)
    assert glue.get_database(Name="sandbox")["Database"]["Description"] == "scratch space"
    run(athena, "CREATE SCHEMA IF NOT EXISTS props WITH DBPROPERTIES ('owner' = 'lab')", database=None)
    assert glue.get_database(Name="props")["Database"]["Parameters"] == {"owner": "lab"}

    reason = run(athena, "DROP DATABASE labdb", database=None, expect="FAILED")["Status"]["StateChangeReason"]
    assert reason.startswith("INVALID_OPERATION: Database 'labdb' is not empty (tables: flights)")
    run(athena, "DROP DATABASE labdb CASCADE", database=None)
    run(athena, "DROP DATABASE IF EXISTS labdb", database=None)
    assert sorted(d["Name"] for d in glue.get_databases()["DatabaseList"]) == ["props", "sandbox"]


def test_create_table_needs_an_existing_database_and_fails_if_it_exists(athena, flights):
    reason = run(athena, FLIGHTS_DDL.replace("labdb.", "nodb."), expect="FAILED")["Status"]["StateChangeReason"]
    assert reason.startswith("SCHEMA_NOT_FOUND: Database 'nodb' does not exist")
    run(athena, FLIGHTS_DDL)  # IF NOT EXISTS
    reason = run(athena, FLIGHTS_DDL.replace(" IF NOT EXISTS", ""), expect="FAILED")["Status"]["StateChangeReason"]
    assert reason.startswith("ALREADY_EXISTS: Table 'awsdatacatalog.labdb.flights' already exists")


# -- results: paging, files, statistics -------------------------------------------------------------


def test_paging_2500_rows_header_only_on_the_first_page(athena, s3, flights):
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(["n", "square"])
    writer.writerows((n, n * n) for n in range(1, 2501))
    put(s3, "raw/numbers/numbers.csv", body.getvalue().encode())
    run(athena, "CREATE EXTERNAL TABLE numbers (n int, square bigint) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
                "LOCATION 's3://lake/raw/numbers/' TBLPROPERTIES ('skip.header.line.count'='1')")  # fmt: skip
    query_id = run(athena, "SELECT n, square FROM numbers ORDER BY n")["QueryExecutionId"]

    pages, token = [], None
    while True:
        page = athena.get_query_results(
            QueryExecutionId=query_id, MaxResults=1000, **({"NextToken": token} if token else {})
        )
        pages.append([[c.get("VarCharValue") for c in r["Data"]] for r in page["ResultSet"]["Rows"]])
        assert [c["Name"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]] == ["n", "square"]
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [1000, 1000, 501]
    assert pages[0][0] == ["n", "square"] and pages[0][1] == ["1", "1"]
    assert pages[1][0] == ["1000", "1000000"] and ["n", "square"] not in pages[1] + pages[2]
    assert pages[2][-1] == ["2500", "6250000"]

    with pytest.raises(ClientError, match="MaxResults"):
        athena.get_query_results(QueryExecutionId=query_id, MaxResults=1001)


def test_result_csv_and_metadata_are_written_to_the_output_location(athena, s3, flights):
    execution = run(
        athena, "SELECT carrier, arr_delay, 'say \"hi\"' AS quote FROM flights WHERE flight IN (2, 3) ORDER BY flight"
    )
    query_id = execution["QueryExecutionId"]
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{OUTPUT}{query_id}.csv"
    body = s3.get_object(Bucket=RESULTS, Key=f"queries/{query_id}.csv")["Body"].read().decode()
    assert body == '"carrier","arr_delay","quote"\n"AA","-4.0","say ""hi"""\n"UA",,"say ""hi"""\n'
    metadata = json.loads(s3.get_object(Bucket=RESULTS, Key=f"queries/{query_id}.csv.metadata")["Body"].read())
    assert [c["Name"] for c in metadata["ColumnInfo"]] == ["carrier", "arr_delay", "quote"] and metadata[
        "RowCount"
    ] == 2

    ddl = run(athena, "DROP TABLE IF EXISTS nothing")
    assert ddl["ResultConfiguration"]["OutputLocation"] == f"{OUTPUT}{ddl['QueryExecutionId']}.txt"
    assert s3.head_object(Bucket=RESULTS, Key=f"queries/{ddl['QueryExecutionId']}.txt")["ContentLength"] == 0
    assert athena.get_query_results(QueryExecutionId=ddl["QueryExecutionId"])["ResultSet"]["Rows"] == []


def test_statistics_and_timestamps_are_real(athena, flights):
    execution = run(athena, "SELECT count(*) FROM flights")
    stats, status = execution["Statistics"], execution["Status"]
    assert stats["DataScannedInBytes"] == len(FLIGHTS_JAN) + len(FLIGHTS_FEB)  # both CSV files, read once
    assert 0 < stats["EngineExecutionTimeInMillis"] <= stats["TotalExecutionTimeInMillis"]
    assert status["SubmissionDateTime"] <= status["CompletionDateTime"]
    runtime = athena.get_query_runtime_statistics(QueryExecutionId=execution["QueryExecutionId"])[
        "QueryRuntimeStatistics"
    ]
    assert runtime["Rows"]["InputBytes"] == stats["DataScannedInBytes"] and runtime["Rows"]["OutputRows"] == 1


def test_workgroup_output_location_is_used_and_a_missing_one_is_an_error(athena, flights):
    athena.create_work_group(Name="analysts", Configuration={
        "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/analysts"}, "EnforceWorkGroupConfiguration": True,
    })  # fmt: skip
    execution = run(athena, "SELECT 1", WorkGroup="analysts", ResultConfiguration={})
    assert (
        execution["ResultConfiguration"]["OutputLocation"]
        == f"s3://{RESULTS}/analysts/{execution['QueryExecutionId']}.csv"
    )
    assert execution["WorkGroup"] == "analysts"

    with pytest.raises(ClientError, match="No output location provided"):
        athena.start_query_execution(QueryString="SELECT 1", ResultConfiguration={})


def test_stop_query_execution_cancels_a_running_query(athena, flights):
    sql = "SELECT count(*) FROM UNNEST(sequence(1, 200000)) a(x) CROSS JOIN UNNEST(sequence(1, 200000)) b(y) WHERE (x * y) % 7 = 3"
    query_id = start(athena, sql)
    deadline = time.monotonic() + 30
    while athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] == "QUEUED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    athena.stop_query_execution(QueryExecutionId=query_id)
    execution = wait(athena, query_id)
    assert execution["Status"]["State"] == "CANCELLED"
    with pytest.raises(ClientError, match="CANCELLED"):
        athena.get_query_results(QueryExecutionId=query_id)


# -- the Amazon provider ----------------------------------------------------------------------------


@pytest.fixture
def aws_default(local_aws, monkeypatch):
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": local_aws.endpoint_url, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))


def test_provider_hook_runs_polls_and_reads_results(flights, aws_default):
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    hook = AthenaHook(aws_conn_id="aws_default")
    query_id = hook.run_query(
        "SELECT carrier, count(*) AS flights FROM flights GROUP BY carrier ORDER BY carrier",
        query_context={"Database": "labdb", "Catalog": "AwsDataCatalog"},
        result_configuration={"OutputLocation": OUTPUT},
    )
    assert hook.poll_query_status(query_id, sleep_time=1) == "SUCCEEDED"
    result = hook.get_query_results(query_id)
    assert [[c["VarCharValue"] for c in r["Data"]] for r in result["ResultSet"]["Rows"]] == [
        ["carrier", "flights"],
        ["AA", "2"],
        ["B6", "1"],
        ["UA", "2"],
    ]
    pages = hook.get_query_results_paginator(query_id, page_size=2)
    assert [len(page["ResultSet"]["Rows"]) for page in pages] == [2, 2]
    assert hook.get_output_location(query_id) == f"{OUTPUT}{query_id}.csv"

    failed = hook.run_query("SELECT nope FROM flights", {"Database": "labdb"}, {"OutputLocation": OUTPUT})
    assert hook.poll_query_status(failed, sleep_time=1) == "FAILED"
    assert hook.get_state_change_reason(failed) == "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"
    assert hook.get_query_results(failed) is None


def test_provider_sensor_pokes_until_success_and_raises_on_failure(athena, flights, aws_default):
    from airflow.providers.amazon.aws.sensors.athena import AthenaSensor
    from airflow.providers.common.compat.sdk import AirflowException

    query_id = start(athena, "SELECT count(*) FROM flights")
    sensor = AthenaSensor(task_id="wait", query_execution_id=query_id, sleep_time=1, max_retries=30)
    assert sensor.poke({}) is True
    assert athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] == "SUCCEEDED"

    failed = start(athena, "SELECT * FROM no_such_table")
    with pytest.raises(AirflowException, match="Athena sensor failed"):
        AthenaSensor(task_id="wait_failed", query_execution_id=failed, sleep_time=1, max_retries=30).poke({})


def test_provider_operator_runs_the_query_and_returns_its_id(athena, flights, aws_default):
    from unittest import mock

    from airflow.providers.amazon.aws.operators.athena import AthenaOperator

    profile = AthenaOperator(
        task_id="profile", query="SELECT count(*) FROM flights", database="labdb", output_location=OUTPUT, sleep_time=1
    )
    # The context only feeds the console link; the query itself runs against local AWS.
    with mock.patch("airflow.providers.amazon.aws.operators.athena.AthenaQueryResultsLink.persist"):
        query_id = profile.execute({})
    assert rows(athena, query_id) == [["_col0"], ["5"]]


# -- views, CTAS and prepared statements as other AWS clients see them --------------------------------


def test_views_are_stored_in_glue_as_athena_stores_them(athena, glue, flights):
    run(athena, "CREATE VIEW long_flights AS SELECT flight, carrier FROM flights WHERE distance > 1400")
    table = glue.get_table(DatabaseName="labdb", Name="long_flights")["Table"]
    assert table["TableType"] == "VIRTUAL_VIEW"
    assert table["ViewOriginalText"].startswith("/* Presto View: ") and table["ViewOriginalText"].endswith(" */")
    definition = json.loads(base64.b64decode(table["ViewOriginalText"][len("/* Presto View: ") : -len(" */")]))
    assert definition["schema"] == "labdb"
    assert [(c["name"], c["type"]) for c in definition["columns"]] == [("flight", "integer"), ("carrier", "varchar")]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("flight", "int"),
        ("carrier", "string"),
    ]
    query_id = run(athena, "SELECT flight FROM long_flights ORDER BY flight")["QueryExecutionId"]
    assert rows(athena, query_id) == [["flight"], ["3"], ["4"]]


def test_ctas_default_location_is_under_the_query_output(athena, glue, s3, flights):
    execution = run(athena, "CREATE TABLE ua AS SELECT flight, distance FROM flights WHERE carrier = 'UA'")
    assert execution["StatementType"] == "DML"
    location = glue.get_table(DatabaseName="labdb", Name="ua")["Table"]["StorageDescriptor"]["Location"]
    assert location == f"{OUTPUT}tables/{execution['QueryExecutionId']}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=RESULTS, Prefix=f"queries/tables/{execution['QueryExecutionId']}/")["Contents"]]
    assert len(keys) == 1 and keys[0].endswith(".parquet")
    assert athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])["UpdateCount"] == 2


def test_prepared_statement_from_the_api_runs_with_execution_parameters(athena, flights):
    athena.create_prepared_statement(
        StatementName="by_carrier", WorkGroup="primary", QueryStatement="SELECT count(*) FROM flights WHERE carrier = ?"
    )
    query_id = run(athena, "EXECUTE by_carrier", ExecutionParameters=["'AA'"])["QueryExecutionId"]
    assert rows(athena, query_id) == [["_col0"], ["2"]]
    reason = run(athena, "EXECUTE nope", expect="FAILED")["Status"]["StateChangeReason"]
    assert reason.startswith("NOT_FOUND: Prepared statement 'nope' does not exist"), reason

"""Glue crawlers against local AWS with boto3: what StartCrawler writes to the Data Catalog, the
crawler's lifecycle and metrics, and the Amazon provider's crawler hook, operator and sensor."""

from __future__ import annotations

import gzip
import io
import json
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from local_aws.glue import crawl_run

BUCKET = "lake"
DATABASE = "labdb"

FLIGHTS_CSV = (
    b"year,month,carrier,flight,dep_delay,cancelled,time_hour\n"
    b"2013,1,UA,1545,2.5,false,2013-01-01 05:00:00\n"
    b"2013,1,AA,1141,,true,2013-01-01 05:00:00\n"
    b"2013,2,B6,725,-1,false,2013-02-01 06:00:00\n"
)


@pytest.fixture
def glue(aws_client):
    client = aws_client("glue")
    client.create_database(DatabaseInput={"Name": DATABASE})
    return client


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def put(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def parquet_bytes(columns: dict) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def create_crawler(glue, name: str, *paths: str, **options) -> None:
    targets = [{"Path": p} if isinstance(p, str) else p for p in paths]
    glue.create_crawler(Name=name, Role="arn:aws:iam::123456789012:role/glue", DatabaseName=DATABASE,
                        Targets={"S3Targets": targets}, **options)  # fmt: skip


def crawl(glue, name: str, timeout: float = 60) -> dict:
    """StartCrawler and wait for READY; returns GetCrawler's Crawler."""
    glue.start_crawler(Name=name)
    return wait_ready(glue, name, timeout)


def wait_ready(glue, name: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crawler = glue.get_crawler(Name=name)["Crawler"]
        if crawler["State"] == "READY":
            return crawler
        time.sleep(0.1)
    raise AssertionError(f"crawler {name} still {crawler['State']} after {timeout}s")


def columns(table: dict) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]


def get_table(glue, name: str) -> dict:
    return glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]


def table_names(glue) -> list[str]:
    return sorted(t["Name"] for t in glue.get_tables(DatabaseName=DATABASE)["TableList"])


def metrics(glue, name: str) -> dict:
    [found] = glue.get_crawler_metrics(CrawlerNameList=[name])["CrawlerMetricsList"]
    return found


# -- what a crawl writes ----------------------------------------------------------------------


def test_csv_with_header_becomes_a_typed_table_in_the_aws_shape(glue, s3):
    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    create_crawler(glue, "raw-crawler", f"s3://{BUCKET}/raw/flights/")

    crawler = crawl(glue, "raw-crawler")

    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert table_names(glue) == ["flights"]
    table = get_table(glue, "flights")
    assert columns(table) == [
        ("year", "bigint"),
        ("month", "bigint"),
        ("carrier", "string"),
        ("flight", "bigint"),
        ("dep_delay", "double"),
        ("cancelled", "boolean"),
        ("time_hour", "string"),
    ]
    assert table["TableType"] == "EXTERNAL_TABLE" and table["PartitionKeys"] == []
    descriptor = table["StorageDescriptor"]
    assert descriptor["Location"] == f"s3://{BUCKET}/raw/flights/"
    assert descriptor["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert descriptor["OutputFormat"] == "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    assert descriptor["SerdeInfo"] == {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": ","},
    }
    assert table["Parameters"] == {
        "CrawlerSchemaDeserializerVersion": "1.0",
        "CrawlerSchemaSerializerVersion": "1.0",
        "UPDATED_BY_CRAWLER": "raw-crawler",
        "areColumnsQuoted": "false",
        "averageRecordSize": str(len(FLIGHTS_CSV) // 3),
        "classification": "csv",
        "columnsOrdered": "true",
        "compressionType": "none",
        "delimiter": ",",
        "objectCount": "1",
        "recordCount": "3",
        "sizeKey": str(len(FLIGHTS_CSV)),
        "skip.header.line.count": "1",
        "typeOfData": "file",
    }
    assert descriptor["Parameters"] == table["Parameters"]
    assert metrics(glue, "raw-crawler")["TablesCreated"] == 1


def test_csv_without_header_pipe_delimited_gzip(glue, s3):
    put(s3, "exports/orders/part-0.csv.gz", gzip.compress(b"1|ann|2.5\n2|bob|3\n3|cy|\n"))
    create_crawler(glue, "orders", f"s3://{BUCKET}/exports/orders")

    crawl(glue, "orders")

    table = get_table(glue, "orders")
    assert columns(table) == [("col0", "bigint"), ("col1", "string"), ("col2", "double")]
    assert table["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"field.delim": "|"}
    assert "skip.header.line.count" not in table["Parameters"]
    assert table["Parameters"]["compressionType"] == "gzip"
    assert table["Parameters"]["recordCount"] == "3"


def test_partitioned_parquet_gets_partition_keys_and_one_partition_per_folder(glue, s3):
    for month in (1, 2, 3):
        rows = parquet_bytes(
            {
                "flight": pa.array([1, 2], pa.int32()),
                "distance": pa.array([100, 200], pa.int64()),
                "dep_delay": [1.5, None],
                "carrier": ["UA", "AA"],
                "time_hour": pa.array([0, 1], pa.timestamp("us")),
            }
        )
        put(s3, f"curated/flights/year=2013/month={month}/part-00000.snappy.parquet", rows)
    put(s3, "curated/flights/_SUCCESS", b"")  # Spark's marker is not data
    create_crawler(glue, "curated", f"s3://{BUCKET}/curated/flights/", TablePrefix="curated_")

    crawl(glue, "curated")

    assert table_names(glue) == ["curated_flights"]
    table = get_table(glue, "curated_flights")
    assert columns(table) == [
        ("flight", "int"),
        ("distance", "bigint"),
        ("dep_delay", "double"),
        ("carrier", "string"),
        ("time_hour", "timestamp"),
    ]
    assert table["PartitionKeys"] == [{"Name": "year", "Type": "string"}, {"Name": "month", "Type": "string"}]
    descriptor = table["StorageDescriptor"]
    assert descriptor["Location"] == f"s3://{BUCKET}/curated/flights/"
    assert descriptor["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert descriptor["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert descriptor["SerdeInfo"] == {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    }
    assert table["Parameters"]["classification"] == "parquet"
    assert (table["Parameters"]["recordCount"], table["Parameters"]["objectCount"]) == ("6", "3")

    partitions = glue.get_partitions(DatabaseName=DATABASE, TableName="curated_flights")["Partitions"]
    assert sorted((p["Values"], p["StorageDescriptor"]["Location"]) for p in partitions) == [
        (["2013", str(m)], f"s3://{BUCKET}/curated/flights/year=2013/month={m}/") for m in (1, 2, 3)
    ]
    first = partitions[0]
    assert first["StorageDescriptor"]["SerdeInfo"] == descriptor["SerdeInfo"]
    assert first["StorageDescriptor"]["Columns"] == descriptor["Columns"]
    assert first["Parameters"]["recordCount"] == "2"


def test_parquet_larger_than_the_sample_is_read_from_its_footer(glue, s3):
    rows = 300_000
    put(s3, "big/readings/part-0.parquet", parquet_bytes({"id": pa.array(range(rows), pa.int64()),
                                                          "value": pa.array([i / 7 for i in range(rows)])}))  # fmt: skip
    create_crawler(glue, "big", f"s3://{BUCKET}/big/readings/")

    crawl(glue, "big")

    table = get_table(glue, "readings")
    assert int(table["Parameters"]["sizeKey"]) > 2**20  # more than the 1 MB a text sample reads
    assert columns(table) == [("id", "bigint"), ("value", "double")]
    assert table["Parameters"]["recordCount"] == str(rows)


def test_json_lines_with_nested_fields(glue, s3):
    events = [
        {"id": 1, "user": {"name": "ann", "age": 31}, "tags": ["new"], "amount": 9.5},
        {"id": 2, "user": {"name": "bob"}, "tags": [], "items": [{"sku": "a", "qty": 2}]},
    ]
    put(s3, "events/day.json", "".join(json.dumps(e) + "\n" for e in events).encode())
    create_crawler(glue, "events", f"s3://{BUCKET}/events/")

    crawl(glue, "events")

    table = get_table(glue, "events")
    assert columns(table) == [
        ("id", "int"),
        ("user", "struct<name:string,age:int>"),
        ("tags", "array<string>"),
        ("amount", "double"),
        ("items", "array<struct<sku:string,qty:int>>"),
    ]
    assert table["StorageDescriptor"]["SerdeInfo"] == {
        "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
        "Parameters": {"paths": "id,user,tags,amount,items"},
    }
    assert table["Parameters"]["classification"] == "json"


def test_folders_with_different_schemas_become_separate_tables(glue, s3):
    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    put(s3, "raw/Air-Ports/airports.csv", b"faa,name,lat\nEWR,Newark,40.69\nJFK,Kennedy,40.64\n")
    put(s3, "raw/notes/readme.txt", b"free text that no classifier recognises\n")
    create_crawler(glue, "raw", f"s3://{BUCKET}/raw/", TablePrefix="raw_")

    crawl(glue, "raw")

    assert table_names(glue) == ["raw_air_ports", "raw_flights"]
    assert get_table(glue, "raw_air_ports")["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/raw/Air-Ports/"


def test_exclusions_leave_out_matching_objects(glue, s3):
    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    put(s3, "raw/flights/archive/old.csv", b"x,y\n1,2\n3,4\n")
    put(s3, "raw/flights/broken.parquet", b"PAR1 not really parquet")
    create_crawler(glue, "raw", {"Path": f"s3://{BUCKET}/raw/flights/", "Exclusions": ["archive/**", "*.parquet"]})

    crawler = crawl(glue, "raw")

    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    table = get_table(glue, "flights")
    assert table["PartitionKeys"] == [] and table["Parameters"]["objectCount"] == "1"


def test_empty_prefix_succeeds_without_tables(glue, s3):
    put(s3, "elsewhere/file.csv", FLIGHTS_CSV)
    create_crawler(glue, "empty", f"s3://{BUCKET}/nothing/here/")

    crawler = crawl(glue, "empty")

    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert "ErrorMessage" not in crawler["LastCrawl"]
    assert table_names(glue) == []
    assert metrics(glue, "empty")["TablesCreated"] == 0


# -- failures ----------------------------------------------------------------------------------


def test_missing_bucket_fails_the_crawl_with_the_reason(glue):
    create_crawler(glue, "nobucket", "s3://no-such-bucket/data/")

    crawler = crawl(glue, "nobucket")

    assert crawler["LastCrawl"]["Status"] == "FAILED"
    message = crawler["LastCrawl"]["ErrorMessage"]
    assert "no-such-bucket" in message and "does not exist" in message


def test_unreadable_file_fails_the_crawl_naming_the_file(glue, s3):
    put(s3, "curated/flights/part-0.parquet", b"PAR1 this is not a parquet file")
    create_crawler(glue, "broken", f"s3://{BUCKET}/curated/flights/")

    crawler = crawl(glue, "broken")

    assert crawler["LastCrawl"]["Status"] == "FAILED"
    assert f"s3://{BUCKET}/curated/flights/part-0.parquet" in crawler["LastCrawl"]["ErrorMessage"]
    assert table_names(glue) == []
    [history] = glue.list_crawls(CrawlerName="broken")["Crawls"]
    assert history["State"] == "FAILED" and "part-0.parquet" in history["ErrorMessage"]


# -- re-crawls ---------------------------------------------------------------------------------


def _month(s3, month: int, with_origin: bool) -> None:
    columns = {"flight": [1, 2], "carrier": ["UA", "AA"]}
    if with_origin:
        columns["origin"] = ["EWR", "JFK"]
    put(s3, f"curated/flights/year=2013/month={month}/part-0.parquet", parquet_bytes(columns))


def test_recrawl_adds_the_new_partition_and_column(glue, s3):
    _month(s3, 1, with_origin=False)
    create_crawler(glue, "curated", f"s3://{BUCKET}/curated/flights/")
    crawl(glue, "curated")
    assert columns(get_table(glue, "flights")) == [("flight", "bigint"), ("carrier", "string")]

    _month(s3, 2, with_origin=True)
    crawler = crawl(glue, "curated")

    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    table = get_table(glue, "flights")
    assert columns(table) == [("flight", "bigint"), ("carrier", "string"), ("origin", "string")]
    assert table["Parameters"]["objectCount"] == "2"
    partitions = glue.get_partitions(DatabaseName=DATABASE, TableName="flights")["Partitions"]
    assert sorted(p["Values"] for p in partitions) == [["2013", "1"], ["2013", "2"]]
    found = metrics(glue, "curated")
    assert (found["TablesCreated"], found["TablesUpdated"], found["TablesDeleted"]) == (0, 1, 0)
    assert found["LastRuntimeSeconds"] > 0 and found["MedianRuntimeSeconds"] > 0
    assert found["StillEstimating"] is False
    crawls = glue.list_crawls(CrawlerName="curated")["Crawls"]
    assert [c["State"] for c in crawls] == ["COMPLETED", "COMPLETED"]
    assert json.loads(crawls[-1]["Summary"])["PARTITION"] == {"ADD": {"Count": 1}}


def test_recrawl_with_log_policy_keeps_the_schema_but_adds_partitions(glue, s3):
    _month(s3, 1, with_origin=False)
    create_crawler(glue, "curated", f"s3://{BUCKET}/curated/flights/",
                   SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"})  # fmt: skip
    crawl(glue, "curated")

    _month(s3, 2, with_origin=True)
    crawl(glue, "curated")

    table = get_table(glue, "flights")
    assert columns(table) == [("flight", "bigint"), ("carrier", "string")]
    assert table["Parameters"]["objectCount"] == "1"  # the table itself was not touched
    partitions = glue.get_partitions(DatabaseName=DATABASE, TableName="flights")["Partitions"]
    assert sorted(p["Values"] for p in partitions) == [["2013", "1"], ["2013", "2"]]


def test_recrawl_without_changes_updates_nothing(glue, s3):
    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    create_crawler(glue, "raw", f"s3://{BUCKET}/raw/flights/")
    crawl(glue, "raw")
    crawl(glue, "raw")

    found = metrics(glue, "raw")
    assert (found["TablesCreated"], found["TablesUpdated"], found["TablesDeleted"]) == (0, 0, 0)
    assert get_table(glue, "flights")["VersionId"] == "1"


@pytest.mark.parametrize("behavior", ["DEPRECATE_IN_DATABASE", "DELETE_FROM_DATABASE", "LOG"])
def test_table_whose_data_vanished_follows_delete_behavior(glue, s3, behavior):
    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    create_crawler(glue, "raw", f"s3://{BUCKET}/raw/flights/",
                   SchemaChangePolicy={"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": behavior})  # fmt: skip
    crawl(glue, "raw")
    s3.delete_object(Bucket=BUCKET, Key="raw/flights/flights.csv")

    crawler = crawl(glue, "raw")

    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    if behavior == "DELETE_FROM_DATABASE":
        assert table_names(glue) == []
    else:
        parameters = get_table(glue, "flights")["Parameters"]
        assert ("DEPRECATED_BY_CRAWLER" in parameters) == (behavior == "DEPRECATE_IN_DATABASE")
    assert metrics(glue, "raw")["TablesDeleted"] == (0 if behavior == "LOG" else 1)


# -- lifecycle ---------------------------------------------------------------------------------


@pytest.fixture
def gate(monkeypatch):
    """Holds crawls in RUNNING at their first file until released."""
    release = threading.Event()
    entered = threading.Event()
    classify = crawl_run.CrawlRun._classify

    def held(self, *args):
        entered.set()
        release.wait(30)
        return classify(self, *args)

    monkeypatch.setattr(crawl_run.CrawlRun, "_classify", held)
    yield entered, release
    release.set()


def test_running_crawler_refuses_start_update_delete_and_stops_as_cancelled(glue, s3, gate):
    entered, release = gate
    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    create_crawler(glue, "raw", f"s3://{BUCKET}/raw/flights/")
    with pytest.raises(ClientError, match="CrawlerNotRunningException"):
        glue.stop_crawler(Name="raw")

    glue.start_crawler(Name="raw")
    assert entered.wait(10)
    crawler = glue.get_crawler(Name="raw")["Crawler"]
    assert crawler["State"] == "RUNNING" and "LastCrawl" not in crawler
    assert crawler["CrawlElapsedTime"] >= 0
    with pytest.raises(ClientError, match="CrawlerRunningException.*Crawler with name raw has already started"):
        glue.start_crawler(Name="raw")
    with pytest.raises(ClientError, match="InvalidInputException.*Cannot update Crawler while running. Please stop"):
        glue.update_crawler(Name="raw", TablePrefix="x_")
    with pytest.raises(ClientError, match="CrawlerRunningException"):
        glue.delete_crawler(Name="raw")

    glue.stop_crawler(Name="raw")
    assert glue.get_crawler(Name="raw")["Crawler"]["State"] == "STOPPING"
    with pytest.raises(ClientError, match="CrawlerStoppingException"):
        glue.stop_crawler(Name="raw")
    release.set()

    crawler = wait_ready(glue, "raw")
    assert crawler["LastCrawl"]["Status"] == "CANCELLED"
    assert table_names(glue) == []
    assert [c["State"] for c in glue.list_crawls(CrawlerName="raw")["Crawls"]] == ["STOPPED"]


def test_update_crawler_changes_the_next_crawl(glue, s3):
    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    create_crawler(glue, "raw", f"s3://{BUCKET}/raw/flights/")
    glue.update_crawler(Name="raw", TablePrefix="raw_")

    crawler = crawl(glue, "raw")

    assert crawler["TablePrefix"] == "raw_" and crawler["Version"] == 2
    assert table_names(glue) == ["raw_flights"]


def test_crawl_writes_its_log_to_cloudwatch(glue, s3, aws_client):
    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    create_crawler(glue, "raw", f"s3://{BUCKET}/raw/flights/")

    crawler = crawl(glue, "raw")

    last = crawler["LastCrawl"]
    assert (last["LogGroup"], last["LogStream"]) == ("/aws-glue/crawlers", "raw")
    events = aws_client("logs").get_log_events(logGroupName="/aws-glue/crawlers", logStreamName="raw")["events"]
    messages = [e["message"] for e in events]
    assert any(f"Created table flights in database {DATABASE}" in m for m in messages)
    assert all(m.startswith(f"[{last['MessagePrefix']}]") for m in messages)


# -- the Amazon provider ------------------------------------------------------------------------


@pytest.fixture
def aws_default(local_aws, monkeypatch):
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": local_aws.endpoint_url, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))


def test_provider_hook_waits_for_completion_and_reads_metrics(glue, s3, aws_default):
    from airflow.providers.amazon.aws.hooks.glue_crawler import GlueCrawlerHook

    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    create_crawler(glue, "raw", f"s3://{BUCKET}/raw/flights/")
    hook = GlueCrawlerHook(aws_conn_id="aws_default")
    assert hook.has_crawler("raw") and not hook.has_crawler("no-such-crawler")

    hook.start_crawler("raw")
    assert hook.wait_for_crawler_completion("raw", poll_interval=1) == "SUCCEEDED"
    assert table_names(glue) == ["flights"]


def test_provider_operator_creates_updates_and_runs_the_crawler(glue, s3, aws_default):
    from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerOperator

    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    config = {
        "Name": "raw",
        "Role": "arn:aws:iam::123456789012:role/glue",
        "DatabaseName": DATABASE,
        "TablePrefix": "raw_",
        "Targets": {"S3Targets": [{"Path": f"s3://{BUCKET}/raw/flights/"}]},
    }
    crawl_raw = GlueCrawlerOperator(task_id="crawl_raw", config=config, poll_interval=1, wait_for_completion=True)
    assert crawl_raw.execute({}) == "raw"
    assert table_names(glue) == ["raw_flights"]

    # A second run finds the crawler and updates it (UpdateCrawler) before crawling again.
    crawl_v2 = GlueCrawlerOperator(task_id="crawl_v2", config={**config, "TablePrefix": "v2_"}, poll_interval=1)
    assert crawl_v2.execute({}) == "raw"
    assert table_names(glue) == ["raw_flights", "v2_flights"]


def test_provider_sensor_pokes_until_success_and_raises_on_failure(glue, s3, aws_default):
    from airflow.providers.amazon.aws.sensors.glue_crawler import GlueCrawlerSensor
    from airflow.providers.common.compat.sdk import AirflowException

    put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    create_crawler(glue, "raw", f"s3://{BUCKET}/raw/flights/")
    create_crawler(glue, "nobucket", "s3://no-such-bucket/")
    glue.start_crawler(Name="raw")
    sensor = GlueCrawlerSensor(task_id="wait", crawler_name="raw")
    deadline = time.monotonic() + 30
    while not sensor.poke({}):
        assert time.monotonic() < deadline, "sensor never saw the crawl succeed"
        time.sleep(0.2)

    crawl(glue, "nobucket")
    with pytest.raises(AirflowException, match="FAILED"):
        GlueCrawlerSensor(task_id="wait_failed", crawler_name="nobucket").poke({})

"""What the local crawler infers from small files, and how it groups them into tables."""

from __future__ import annotations

import bz2
import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local_aws.glue import crawl_layout
from local_aws.glue import schema_inference as si
from local_aws.glue.crawl_layout import CrawledFile


def classify(data: bytes, file_size: int | None = None) -> si.FileSchema | None:
    return si.classify_text(si.text_sample(data, len(data) if file_size is None else file_size))


def columns(schema: si.FileSchema) -> list[tuple[str, str]]:
    return [(f.name, si.glue_type(f.type)) for f in schema.fields]


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_header_names_and_types_like_the_builtin_classifier():
    data = (
        b"Year,Carrier,Dep_Delay,Cancelled,Time_Hour,Note\n"
        b"2013,UA,2.5,true,2013-01-01 05:00:00,\n"
        b"2013,AA,,FALSE,2013-01-01 06:00:00,late\n"
        b"2014,B6,-3,false,,x\n"
    )
    schema = classify(data)
    assert schema.classification == "csv"
    assert columns(schema) == [
        ("year", "bigint"),
        ("carrier", "string"),
        ("dep_delay", "double"),  # an empty value does not stop a number column
        ("cancelled", "boolean"),
        ("time_hour", "string"),  # timestamps stay strings, as the built-in CSV classifier leaves them
        ("note", "string"),
    ]
    assert schema.format_parameters == {
        "delimiter": ",",
        "columnsOrdered": "true",
        "areColumnsQuoted": "false",
        "skip.header.line.count": "1",
    }
    assert schema.serde == si.LAZY_SIMPLE_SERDE and schema.serde_parameters == {"field.delim": ","}
    assert (schema.sample_records, schema.exact) == (3, True)


@pytest.mark.parametrize("delimiter", [",", "|", "\t", ";", "\x01"])
def test_csv_delimiter_is_detected(delimiter):
    rows = [["id", "name", "score"], ["1", "a,b" if delimiter != "," else "ab", "2.5"], ["2", "c", "3"]]
    data = "".join(delimiter.join(row) + "\n" for row in rows).encode()
    schema = classify(data)
    assert schema.format_parameters["delimiter"] == delimiter
    assert schema.serde_parameters == {"field.delim": delimiter}
    assert columns(schema) == [("id", "bigint"), ("name", "string"), ("score", "double")]


def test_csv_without_header_gets_col0_names_and_keeps_the_first_row():
    schema = classify(b"1,UA,2.5\n2,AA,3\n")
    assert columns(schema) == [("col0", "bigint"), ("col1", "string"), ("col2", "double")]
    assert "skip.header.line.count" not in schema.format_parameters
    assert schema.sample_records == 2


def test_csv_of_only_strings_has_no_header():
    """AWS: the header must differ from the rows below; if every column is a string it cannot."""
    schema = classify(b"name,city\nann,paris\nbob,rome\n")
    assert [name for name, _ in columns(schema)] == ["col0", "col1"]
    assert schema.sample_records == 3


def test_csv_first_row_with_a_number_is_data():
    schema = classify(b"a,1\nb,2\nc,3\n")
    assert columns(schema) == [("col0", "string"), ("col1", "bigint")]


def test_csv_quoted_fields_use_open_csv_serde():
    schema = classify(b'id,name\n1,"Smith, J"\n2,"Doe"\n')
    assert schema.serde == si.OPEN_CSV_SERDE
    assert schema.serde_parameters == {"separatorChar": ",", "quoteChar": '"'}
    assert schema.format_parameters["areColumnsQuoted"] == "true"
    assert columns(schema) == [("id", "bigint"), ("name", "string")]


def test_text_that_is_not_csv_is_not_classified():
    assert classify(b"a single column\nof free text\n") is None  # one column
    assert classify(b"a,b,c\n") is None  # one row
    assert classify(b"a,b\n1,2,3\n4\n") is None  # rows disagree on their width


def test_csv_sample_of_a_large_file_is_cut_to_whole_lines_and_counts_are_estimated():
    line = b"1,abcdefgh\n"  # 11 bytes
    full = b"id,name\n" + line * 200_000
    sample = si.text_sample(full[: si.SAMPLE_BYTES], len(full))
    schema = si.classify_text(sample)
    assert not sample.complete and not schema.exact
    assert schema.sample_records == si.SAMPLE_RECORDS  # the first 1,000 records
    assert si.estimate_records(schema, sample, len(full)) == pytest.approx(200_000, rel=0.01)


@pytest.mark.parametrize("compress, name", [(gzip.compress, "gzip"), (bz2.compress, "bzip2")])
def test_compressed_csv_is_decompressed_and_named(compress, name):
    data = compress(b"id,flag\n1,true\n2,false\n")
    schema = classify(data)
    assert schema.compression == name
    assert columns(schema) == [("id", "bigint"), ("flag", "boolean")]
    assert schema.exact and schema.sample_records == 2


def test_corrupt_compressed_file_is_unreadable():
    with pytest.raises(si.UnreadableFile, match="gzip-compressed"):
        si.text_sample(b"\x1f\x8b\x08garbage-not-deflate", 30, "s3://b/k.gz")


# -- JSON ----------------------------------------------------------------------------------------


def test_json_lines_merge_records_into_glue_type_strings():
    data = (
        b'{"id": 1, "User": {"Name": "ann", "age": 30}, "tags": ["a"], "score": 1}\n'
        b'{"id": 2, "User": {"name": "bob", "city": "rome"}, "tags": [], "events": [{"t": 1}], "score": 2.5}\n'
        b'{"id": 5000000000, "flag": true}\n'
    )
    schema = classify(data)
    assert schema.classification == "json"
    assert columns(schema) == [
        ("id", "bigint"),  # 5e9 does not fit an int
        ("user", "struct<name:string,age:int,city:string>"),
        ("tags", "array<string>"),
        ("score", "double"),
        ("events", "array<struct<t:int>>"),
        ("flag", "boolean"),
    ]
    assert schema.serde == si.JSON_SERDE
    assert schema.serde_parameters == {"paths": "id,user,tags,score,events,flag"}
    assert schema.sample_records == 3


def test_json_field_that_changes_type_becomes_string():
    schema = classify(b'{"a": 1, "b": "x"}\n{"a": "one", "b": "y"}\n')
    assert columns(schema) == [("a", "string"), ("b", "string")]
    assert schema.sample_records == 2


def test_json_that_is_not_json_lines_is_not_json():
    assert si.infer_json(b"{not json at all\n", True) is None


# -- Parquet and types ---------------------------------------------------------------------------


def test_parquet_schema_comes_from_the_footer():
    table = pa.table(
        {
            "ID": pa.array([1], pa.int32()),
            "amount": pa.array([1], pa.int64()),
            "price": pa.array([1.5], pa.float64()),
            "ratio": pa.array([1.5], pa.float32()),
            "when": pa.array([0], pa.timestamp("us")),
            "day": pa.array([0], pa.date32()),
            "cost": pa.array([1], pa.decimal128(10, 2)),
            "raw": pa.array([b"x"], pa.binary()),
            "labels": pa.array([["a"]]),
            "attrs": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    metadata = pq.read_metadata(pa.BufferReader(buffer.getvalue()))
    schema = si.parquet_schema(metadata.schema.to_arrow_schema(), metadata.num_rows)
    assert columns(schema) == [
        ("id", "int"),
        ("amount", "bigint"),
        ("price", "double"),
        ("ratio", "float"),
        ("when", "timestamp"),
        ("day", "date"),
        ("cost", "decimal(10,2)"),
        ("raw", "binary"),
        ("labels", "array<string>"),
        ("attrs", "map<string,bigint>"),
    ]
    assert schema.serde == si.PARQUET_SERDE and schema.serde_parameters == {"serialization.format": "1"}
    assert (schema.input_format, schema.output_format) == (si.PARQUET_INPUT_FORMAT, si.PARQUET_OUTPUT_FORMAT)
    assert (schema.sample_records, schema.exact) == (1, True)


def test_glue_type_strings_for_nested_and_unsigned_types():
    assert si.glue_type(pa.map_(pa.string(), pa.int32())) == "map<string,int>"
    assert (
        si.glue_type(pa.struct([("a", pa.int16()), ("b", pa.list_(pa.int8()))]))
        == "struct<a:smallint,b:array<tinyint>>"
    )
    assert si.glue_type(pa.uint32()) == "bigint"
    assert si.glue_type(pa.dictionary(pa.int32(), pa.string())) == "string"
    assert si.glue_type(pa.null()) == "string"


def test_merge_types_widens_numbers_and_merges_structs():
    assert si.merge_types(pa.int32(), pa.int64()) == pa.int64()
    assert si.merge_types(pa.int64(), pa.float64()) == pa.float64()
    assert si.merge_types(pa.null(), pa.bool_()) == pa.bool_()
    assert si.merge_types(pa.bool_(), pa.string()) == pa.string()
    merged = si.merge_types(pa.struct([("a", pa.int32())]), pa.struct([("b", pa.string())]))
    assert si.glue_type(merged) == "struct<a:int,b:string>"


def test_similarity_counts_the_smaller_schemas_columns():
    assert si.similarity(["a", "b"], ["a", "b", "c"]) == 1.0  # a file that adds a column is alike
    assert si.similarity(["a", "b", "c"], ["a", "b", "d"]) == pytest.approx(2 / 3)  # below 70 %
    assert si.similarity(["a", "b"], ["c", "d"]) == 0.0


# -- tables and partitions ------------------------------------------------------------------------


def crawled(path: str, data: bytes) -> CrawledFile:
    return CrawledFile(path, len(data), classify(data), 2)


FLIGHTS = b"year,carrier,delay\n2013,UA,1.5\n2013,AA,2\n"
FLIGHTS_WIDER = b"year,carrier,delay,origin\n2013,UA,1.5,EWR\n2013,AA,2,JFK\n"
AIRPORTS = b"faa,name,lat,lon,alt\nEWR,Newark,40.69,-74.17,18\nJFK,Kennedy,40.64,-73.77,13\n"


def test_hive_folders_become_partition_keys_and_partitions():
    files = [
        crawled("year=2013/month=1/a.csv", FLIGHTS),
        crawled("year=2013/month=2/b.csv", FLIGHTS_WIDER),  # one more column: still similar
        crawled("year=2014/month=1/c.csv", FLIGHTS),
    ]
    [table] = crawl_layout.plan_tables("s3://lake/curated/flights/", files)
    assert table.name == "flights" and table.location == "s3://lake/curated/flights/"
    assert table.partition_keys == ["year", "month"]
    assert [f.name for f in table.fields] == ["carrier", "delay", "origin"]  # year is a partition key
    assert [(p.values, p.location) for p in table.partitions] == [
        (["2013", "1"], "s3://lake/curated/flights/year=2013/month=1/"),
        (["2013", "2"], "s3://lake/curated/flights/year=2013/month=2/"),
        (["2014", "1"], "s3://lake/curated/flights/year=2014/month=1/"),
    ]


def test_plain_folders_become_partition_n_keys():
    files = [crawled("2013/01/a.csv", FLIGHTS), crawled("2013/02/a.csv", FLIGHTS)]
    [table] = crawl_layout.plan_tables("s3://lake/logs/", files, table_prefix="raw_")
    assert table.name == "raw_logs"
    assert table.partition_keys == ["partition_0", "partition_1"]
    assert [p.values for p in table.partitions] == [["2013", "01"], ["2013", "02"]]


def test_folders_with_different_schemas_become_tables_named_after_them():
    files = [crawled("Flights-2013/a.csv", FLIGHTS), crawled("airports/b.csv", AIRPORTS)]
    tables = crawl_layout.plan_tables("s3://lake/raw/", files, table_prefix="Raw_")
    assert sorted((t.name, t.location, t.partition_keys) for t in tables) == [
        ("raw_airports", "s3://lake/raw/airports/", []),
        ("raw_flights_2013", "s3://lake/raw/Flights-2013/", []),
    ]


def test_files_with_different_schemas_in_one_folder_become_tables_named_after_the_files():
    files = [crawled("flights.csv", FLIGHTS), crawled("airports.csv", AIRPORTS)]
    tables = crawl_layout.plan_tables("s3://lake/raw/", files)
    assert sorted((t.name, t.location) for t in tables) == [
        ("airports_csv", "s3://lake/raw/airports.csv"),
        ("flights_csv", "s3://lake/raw/flights.csv"),
    ]


def test_combine_compatible_schemas_makes_one_table():
    files = [crawled("a/x.csv", FLIGHTS), crawled("b/y.csv", AIRPORTS)]
    [table] = crawl_layout.plan_tables("s3://lake/raw/", files, combine_compatible_schemas=True)
    assert table.name == "raw" and table.partition_keys == ["partition_0"]
    assert [f.name for f in table.fields] == ["year", "carrier", "delay", "faa", "name", "lat", "lon", "alt"]


def test_bucket_root_and_single_file_include_paths():
    [root] = crawl_layout.plan_tables("s3://my-lake/", [crawled("flights.csv", FLIGHTS)])
    assert (root.name, root.location) == ("my_lake", "s3://my-lake/")
    [single] = crawl_layout.plan_tables("s3://lake/raw/Flights.CSV", [crawled("Flights.CSV", FLIGHTS)])
    assert (single.name, single.location) == ("flights_csv", "s3://lake/raw/Flights.CSV")


def test_same_names_in_one_crawl_get_a_location_suffix():
    a = crawl_layout.PlannedTable("data", "s3://a/data/", [])
    b = crawl_layout.PlannedTable("data", "s3://b/data/", [])
    crawl_layout.unique_names([a, b])
    assert a.name != b.name and a.name.startswith("data_") and b.name.startswith("data_")

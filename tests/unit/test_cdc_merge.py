"""The CDC merge transforms: DMS change files applied to live rows and tombstones, in `_cdc_seq` order."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from pyspark.sql import types as T

from etl import cdc_merge
from etl.cdc_merge import Partitioning

CUSTOMERS = "s3://lake/cdc/shop/customers/"
RATINGS = "s3://lake/cdc/movielens/ratings/"
LOAD1, LOAD2 = "LOAD00000001.parquet", "LOAD0000000A.parquet"
CDC1, CDC2, CDC3 = "20261205-103015123.parquet", "20261205-103115000.parquet", "20261205-103215456.parquet"
TS1, TS2, TS3 = "2026-12-05 10:30:14.000001", "2026-12-05 10:31:14.500000", "2026-12-05 10:32:15.000000"
BUCKET = Partitioning("user_bucket", "floor(userId / 100)")


def raw_changes(spark, folder: str, files: dict[str, list[tuple]], columns: str):
    """DMS rows as the job script reads them: Op, _cdc_commit_ts, the columns, _cdc_file, _cdc_position.

    Positions increase across the rows as monotonically_increasing_id does within one file.
    """
    rows = []
    for name, changes in files.items():
        rows += [(*change, folder + name, len(rows) * 7 + 3) for change in changes]
    schema = f"Op string, _cdc_commit_ts string, {columns}, _cdc_file string, _cdc_position long"
    return spark.createDataFrame(rows, schema)


def customers(spark, files: dict[str, list[tuple]], columns: str = "id int, name string, city string"):
    return cdc_merge.sequenced(raw_changes(spark, CUSTOMERS, files, columns))


def ratings(spark, files: dict[str, list[tuple]]):
    return cdc_merge.sequenced(raw_changes(spark, RATINGS, files, "userId int, movieId int, rating double"))


def seq(kind: str, name: str, row: int) -> str:
    return f"{kind}|{name}|{row:010d}"


class State:
    """A table's current state, merged batch after batch as the job does."""

    def __init__(self, keys=("id",), partitioning: Partitioning | None = None):
        self.keys, self.partitioning = keys, partitioning
        self.live = self.tombstones = None
        self.counts: dict[str, int] = {}

    def apply(self, changes) -> State:
        merged = cdc_merge.merge_state(changes, self.keys, self.live, self.tombstones, self.partitioning).cache()
        self.live = cdc_merge.live_rows(merged).cache()
        self.tombstones = cdc_merge.tombstone_rows(merged, self.keys, self.partitioning).cache()
        self.counts = cdc_merge.change_counts(merged)
        return self

    def live_rows(self) -> list[tuple]:
        return sorted(tuple(row) for row in self.live.collect())

    def tombstone_rows(self) -> list[tuple]:
        return sorted(tuple(row) for row in self.tombstones.collect())


# ---- ordering ----


def test_sequenced_numbers_rows_per_file_with_load_files_first(spark):
    raw = raw_changes(
        spark,
        CUSTOMERS,
        {
            # A date folder (DatePartitionEnabled) between the table and the file: the base name counts.
            f"2026/12/05/{CDC1}": [("U", TS2, 1, "Ada", "Paris"), ("d", TS2, 2, "Bob", None)],
            LOAD2: [(None, None, 3, "Cy", "Oslo")],  # no Op (IncludeOpForFullLoad off): an insert
            LOAD1: [("I", TS1, 1, "Ada", "Rome"), ("I", TS1, 2, "Bob", "Lima")],
        },
        "id int, name string, city string",
    )

    changes = cdc_merge.sequenced(raw)

    assert changes.columns == ["Op", "_cdc_commit_ts", "id", "name", "city", "_cdc_seq"]
    # In order of application: LOAD files by name (hexadecimal counter), then CDC files, rows in file order.
    assert [tuple(row) for row in changes.orderBy(cdc_merge.SEQ).collect()] == [
        ("I", TS1, 1, "Ada", "Rome", seq("0", LOAD1, 0)),
        ("I", TS1, 2, "Bob", "Lima", seq("0", LOAD1, 1)),
        ("I", None, 3, "Cy", "Oslo", seq("0", LOAD2, 0)),
        ("U", TS2, 1, "Ada", "Paris", seq("1", CDC1, 0)),
        ("D", TS2, 2, "Bob", None, seq("1", CDC1, 1)),
    ]
    assert cdc_merge.batch_figures(changes) == {"changes": 5, "files": 3}


def test_sequenced_adds_op_and_timestamp_columns_a_file_lacks(spark):
    raw = spark.createDataFrame(
        [(1, "Ada", CUSTOMERS + LOAD1, 0)], "id int, name string, _cdc_file string, _cdc_position long"
    )

    assert [tuple(row) for row in cdc_merge.sequenced(raw).collect()] == [("I", None, 1, "Ada", seq("0", LOAD1, 0))]


def test_latest_changes_keeps_the_greatest_seq_per_composite_key(spark):
    changes = ratings(
        spark,
        {
            CDC1: [("I", TS1, 1, 10, 3.0), ("U", TS1, 1, 10, 3.5), ("I", TS1, 1, 20, 4.0)],
            CDC2: [("U", TS2, 1, 10, 5.0), ("I", TS2, 2, 10, 1.0)],
        },
    )

    latest = cdc_merge.latest_changes(changes, ["userId", "movieId"])

    assert sorted(tuple(row) for row in latest.collect()) == [
        ("I", TS1, 1, 20, 4.0, seq("1", CDC1, 2)),
        ("I", TS2, 2, 10, 1.0, seq("1", CDC2, 1)),
        ("U", TS2, 1, 10, 5.0, seq("1", CDC2, 0)),
    ]


# ---- merge cases ----


def test_several_updates_of_one_key_in_one_batch_leave_the_last(spark):
    state = State().apply(
        customers(
            spark,
            {
                LOAD1: [("I", TS1, 1, "Ada", "Rome"), ("I", TS1, 2, "Bob", "Lima")],
                CDC1: [
                    ("U", TS2, 1, "Ada", "Paris"),
                    ("U", TS2, 1, "Ada L.", "Paris"),
                    ("U", TS2, 1, "Ada L.", "Nice"),
                ],
            },
        )
    )

    assert state.live_rows() == [
        (1, "Ada L.", "Nice", seq("1", CDC1, 2), TS2),
        (2, "Bob", "Lima", seq("0", LOAD1, 1), TS1),
    ]
    assert state.tombstone_rows() == []
    assert state.counts == {"inserted": 2, "updated": 0, "deleted": 0}


def test_live_row_and_tombstone_columns(spark):
    state = State().apply(customers(spark, {CDC1: [("I", TS1, 1, "Ada", "Rome"), ("D", TS2, 2, "Bob", "Lima")]}))

    assert state.live.dtypes == [
        ("id", "int"),
        ("name", "string"),
        ("city", "string"),
        ("_cdc_seq", "string"),
        ("_cdc_commit_ts", "string"),
    ]
    assert state.tombstones.dtypes == [("id", "int"), ("_cdc_seq", "string"), ("_cdc_commit_ts", "string")]


def test_delete_then_reinsert_of_a_key(spark):
    state = State().apply(customers(spark, {LOAD1: [("I", TS1, 1, "Ada", "Rome"), ("I", TS1, 2, "Bob", "Lima")]}))

    state.apply(customers(spark, {CDC1: [("D", TS2, 1, "Ada", "Rome"), ("D", TS2, 2, "Bob", "Lima")]}))
    after_delete = (state.live_rows(), state.tombstone_rows(), state.counts)
    state.apply(customers(spark, {CDC2: [("I", TS3, 1, "Ada", "Oslo")]}))

    assert after_delete == (
        [],
        [(1, seq("1", CDC1, 0), TS2), (2, seq("1", CDC1, 1), TS2)],
        {"inserted": 0, "updated": 0, "deleted": 2},
    )
    assert state.live_rows() == [(1, "Ada", "Oslo", seq("1", CDC2, 0), TS3)]
    assert state.tombstone_rows() == [(2, seq("1", CDC1, 1), TS2)]
    assert state.counts == {"inserted": 1, "updated": 0, "deleted": 0}


def test_delete_and_reinsert_within_one_batch(spark):
    state = State().apply(customers(spark, {LOAD1: [("I", TS1, 1, "Ada", "Rome")]}))

    state.apply(customers(spark, {CDC1: [("D", TS2, 1, "Ada", "Rome"), ("I", TS2, 1, "Ada", "Kyiv")]}))

    assert state.live_rows() == [(1, "Ada", "Kyiv", seq("1", CDC1, 1), TS2)]
    assert state.tombstone_rows() == []
    assert state.counts == {"inserted": 0, "updated": 1, "deleted": 0}


def test_late_duplicate_of_an_older_file_changes_nothing(spark):
    first = {CDC1: [("I", TS1, 1, "Ada", "Rome"), ("I", TS1, 2, "Bob", "Lima"), ("I", TS1, 3, "Cy", "Oslo")]}
    state = State().apply(customers(spark, first))
    state.apply(customers(spark, {CDC2: [("U", TS2, 1, "Ada", "Paris"), ("D", TS2, 2, "Bob", "Lima")]}))
    before = (state.live_rows(), state.tombstone_rows())

    # CDC1 read again (a re-uploaded copy), together with a newer file.
    state.apply(customers(spark, {**first, CDC3: [("U", TS3, 3, "Cy", "Bergen")]}))

    assert before == (
        [(1, "Ada", "Paris", seq("1", CDC2, 0), TS2), (3, "Cy", "Oslo", seq("1", CDC1, 2), TS1)],
        [(2, seq("1", CDC2, 1), TS2)],
    )
    assert state.live_rows() == [
        (1, "Ada", "Paris", seq("1", CDC2, 0), TS2),  # the newer update stays
        (3, "Cy", "Bergen", seq("1", CDC3, 0), TS3),
    ]
    assert state.tombstone_rows() == [(2, seq("1", CDC2, 1), TS2)]  # the deleted key stays deleted
    assert state.counts == {"inserted": 0, "updated": 1, "deleted": 0}


def test_primary_key_change_as_delete_and_insert_in_one_file(spark):
    state = State().apply(customers(spark, {LOAD1: [("I", TS1, 1, "Ada", "Rome"), ("I", TS1, 2, "Bob", "Lima")]}))

    state.apply(customers(spark, {CDC1: [("D", TS2, 1, "Ada", "Rome"), ("I", TS2, 100, "Ada", "Rome")]}))

    assert state.live_rows() == [
        (2, "Bob", "Lima", seq("0", LOAD1, 1), TS1),
        (100, "Ada", "Rome", seq("1", CDC1, 1), TS2),
    ]
    assert state.tombstone_rows() == [(1, seq("1", CDC1, 0), TS2)]
    assert state.counts == {"inserted": 1, "updated": 0, "deleted": 1}


def test_null_in_a_change_is_a_value(spark):
    state = State().apply(customers(spark, {LOAD1: [("I", TS1, 1, "Ada", "Rome"), ("I", TS1, 2, None, "Lima")]}))

    state.apply(customers(spark, {CDC1: [("U", TS2, 1, "Ada", None), ("U", TS2, 2, "Bob", "Lima")]}))

    assert state.live_rows() == [
        (1, "Ada", None, seq("1", CDC1, 0), TS2),
        (2, "Bob", "Lima", seq("1", CDC1, 1), TS2),
    ]


def test_new_column_is_added_after_the_existing_ones(spark):
    state = State().apply(customers(spark, {LOAD1: [("I", TS1, 1, "Ada", "Rome"), ("I", TS1, 2, "Bob", "Lima")]}))

    # ALTER TABLE customers ADD COLUMN email: the changes after it carry the column.
    state.apply(
        customers(
            spark,
            {CDC1: [("U", TS2, 2, "ada@example.org", "Bob", "Lima"), ("I", TS2, 3, None, "Cy", "Oslo")]},
            columns="id int, email string, name string, city string",
        )
    )

    assert state.live.columns == ["id", "name", "city", "_cdc_seq", "_cdc_commit_ts", "email"]
    assert state.live_rows() == [
        (1, "Ada", "Rome", seq("0", LOAD1, 0), TS1, None),
        (2, "Bob", "Lima", seq("1", CDC1, 0), TS2, "ada@example.org"),
        (3, "Cy", "Oslo", seq("1", CDC1, 1), TS2, None),
    ]


def test_rerun_of_the_same_batch_is_idempotent(spark):
    state = State().apply(customers(spark, {LOAD1: [("I", TS1, 1, "Ada", "Rome"), ("I", TS1, 2, "Bob", "Lima")]}))
    batch = {CDC1: [("U", TS2, 1, "Ada", "Paris"), ("D", TS2, 2, "Bob", "Lima"), ("I", TS2, 3, "Cy", "Oslo")]}
    state.apply(customers(spark, batch))
    once = (state.live_rows(), state.tombstone_rows(), state.counts)

    state.apply(customers(spark, batch))

    assert once == (
        [(1, "Ada", "Paris", seq("1", CDC1, 0), TS2), (3, "Cy", "Oslo", seq("1", CDC1, 2), TS2)],
        [(2, seq("1", CDC1, 1), TS2)],
        {"inserted": 1, "updated": 1, "deleted": 1},
    )
    assert (state.live_rows(), state.tombstone_rows()) == once[:2]
    assert state.counts == {"inserted": 0, "updated": 0, "deleted": 0}


def test_full_load_replaces_the_state(spark):
    state = State().apply(customers(spark, {CDC1: [("I", TS1, 1, "Ada", "Rome"), ("I", TS1, 2, "Bob", "Lima")]}))
    state.apply(customers(spark, {CDC2: [("D", TS2, 2, "Bob", "Lima")]}))

    # reload-target: the table's LOAD file written again, then its changes.
    reload = customers(
        spark,
        {
            LOAD1: [("I", TS3, 2, "Bob", "Quito"), ("I", TS3, 3, "Cy", "Oslo")],
            CDC3: [("D", TS3, 3, "Cy", "Oslo")],
        },
    )
    assert cdc_merge.is_full_load(reload)
    state.apply(reload)

    assert state.live_rows() == [(2, "Bob", "Quito", seq("0", LOAD1, 0), TS3)]
    assert state.tombstone_rows() == [(3, seq("1", CDC3, 0), TS3)]
    assert not cdc_merge.is_full_load(customers(spark, {CDC1: [("I", TS1, 1, "Ada", "Rome")]}))


def test_composite_keys_with_a_partition_column(spark):
    state = State(keys=("userId", "movieId"), partitioning=BUCKET)
    state.apply(ratings(spark, {LOAD1: [("I", TS1, 1, 10, 3.0), ("I", TS1, 1, 20, 4.0), ("I", TS1, 150, 10, 2.0)]}))

    state.apply(ratings(spark, {CDC1: [("U", TS2, 1, 10, 4.5), ("D", TS2, 150, 10, 2.0), ("I", TS2, 150, 20, 5.0)]}))

    assert state.live.columns == ["userId", "movieId", "rating", "_cdc_seq", "_cdc_commit_ts", "user_bucket"]
    assert state.live_rows() == [
        (1, 10, 4.5, seq("1", CDC1, 0), TS2, 0),
        (1, 20, 4.0, seq("0", LOAD1, 1), TS1, 0),
        (150, 20, 5.0, seq("1", CDC1, 2), TS2, 1),
    ]
    assert state.tombstone_rows() == [(150, 10, seq("1", CDC1, 1), TS2, 1)]
    assert state.counts == {"inserted": 1, "updated": 1, "deleted": 1}


def test_touched_partitions_and_state_read_back_from_partition_folders(spark):
    changes = ratings(spark, {CDC1: [("U", TS2, 5, 10, 4.5), ("I", TS2, 150, 20, 5.0), ("D", TS2, 160, 30, 1.0)]})
    # The touched partitions of the state, as Spark reads them back: user_bucket inferred from the
    # folder names (an int, where floor() gives a bigint), to be recomputed from the keys.
    live = spark.createDataFrame(
        [(5, 10, 3.0, seq("0", LOAD1, 0), TS1, 0), (160, 30, 2.0, seq("0", LOAD1, 1), TS1, 1)],
        "userId int, movieId int, rating double, _cdc_seq string, _cdc_commit_ts string, user_bucket int",
    )

    merged = cdc_merge.merge_state(changes, ["userId", "movieId"], live, None, BUCKET)

    assert cdc_merge.touched_partitions(changes, BUCKET) == ["0", "1"]
    assert sorted(tuple(row) for row in cdc_merge.live_rows(merged).collect()) == [
        (5, 10, 4.5, seq("1", CDC1, 0), TS2, 0),
        (150, 20, 5.0, seq("1", CDC1, 1), TS2, 1),
    ]
    assert dict(cdc_merge.live_rows(merged).dtypes)["user_bucket"] == "bigint"
    assert cdc_merge.partition_values(cdc_merge.live_rows(merged), BUCKET) == ["0", "1"]
    tombstones = cdc_merge.tombstone_rows(merged, ["userId", "movieId"], BUCKET)
    assert [tuple(row) for row in tombstones.collect()] == [(160, 30, seq("1", CDC1, 2), TS2, 1)]


def test_emptied_partition_is_missing_from_the_merged_partition_values(spark):
    state = State(keys=("userId", "movieId"), partitioning=BUCKET)
    state.apply(ratings(spark, {LOAD1: [("I", TS1, 1, 10, 3.0), ("I", TS1, 250, 10, 2.0)]}))
    changes = ratings(spark, {CDC1: [("D", TS2, 250, 10, 2.0)]})

    state.apply(changes)

    assert cdc_merge.touched_partitions(changes, BUCKET) == ["2"]
    assert cdc_merge.partition_values(state.live, BUCKET) == ["0"]
    assert cdc_merge.partition_values(state.tombstones, BUCKET) == ["2"]


def test_partition_directory_escapes_as_spark_does():
    assert cdc_merge.partition_directory("user_bucket", "3") == "user_bucket=3"
    assert cdc_merge.partition_directory("city", "a/b=c:d e%") == "city=a%2Fb%3Dc%3Ad e%25"
    assert cdc_merge.partition_directory("day", None) == "day=__HIVE_DEFAULT_PARTITION__"


# ---- the catalog ----


def test_hive_type_names_dms_parquet_types():
    assert [
        cdc_merge.hive_type(t)
        for t in (
            T.ByteType(),
            T.ShortType(),
            T.IntegerType(),
            T.LongType(),
            T.DecimalType(10, 2),
            T.DecimalType(20, 0),  # DMS's UINT8 as Spark reads it
            T.DoubleType(),
            T.FloatType(),
            T.StringType(),
            T.BooleanType(),
            T.BinaryType(),
            T.DateType(),
            T.TimestampNTZType(),
            T.TimestampType(),
        )
    ] == [
        "tinyint",
        "smallint",
        "int",
        "bigint",
        "decimal(10,2)",
        "decimal(20,0)",
        "double",
        "float",
        "string",
        "boolean",
        "binary",
        "date",
        "timestamp",
        "timestamp",
    ]
    nested = T.StructType(
        [
            T.StructField("tags", T.ArrayType(T.StringType())),
            T.StructField("m", T.MapType(T.StringType(), T.LongType())),
        ]
    )
    assert cdc_merge.hive_type(nested) == "struct<tags:array<string>,m:map<string,bigint>>"
    with pytest.raises(ValueError, match="Spark type void has no Hive/Athena type"):
        cdc_merge.hive_type(T.NullType())


def test_catalog_columns_of_a_dms_table_and_its_growth(spark):
    frame = spark.createDataFrame(
        [(1, decimal.Decimal("12.50"), dt.datetime(2026, 12, 5, 10, 30, 15, 123456), "gold", "s", "t", 0)],
        "customerId int, balance decimal(10,2), created_at timestamp_ntz, tier string, "
        "_cdc_seq string, _cdc_commit_ts string, bucket bigint",
    )

    columns = cdc_merge.catalog_columns(frame.schema, exclude=("bucket",))

    assert columns == [
        {"Name": "customerid", "Type": "int"},
        {"Name": "balance", "Type": "decimal(10,2)"},
        {"Name": "created_at", "Type": "timestamp"},
        {"Name": "tier", "Type": "string"},
        {"Name": "_cdc_seq", "Type": "string"},
        {"Name": "_cdc_commit_ts", "Type": "string"},
    ]
    assert cdc_merge.grown_columns(columns, columns[:2]) is None
    # Written in another order, with a new column: the catalog keeps its order and appends.
    written = [{"Name": "email", "Type": "string"}, *reversed(columns)]
    assert cdc_merge.grown_columns(columns, written) == [*columns, {"Name": "email", "Type": "string"}]


# ---- arguments ----


def test_parse_tables_reads_keys_and_optional_partition():
    specs = cdc_merge.parse_tables(
        '{"movielens.ratings": {"keys": ["userId", "movieId"], '
        '"partition": {"column": "user_bucket", "expression": "floor(userId / 100)"}}, '
        '"shop.customers": {"keys": ["id"]}}'
    )

    assert specs == [
        cdc_merge.TableSpec("movielens", "ratings", ("userId", "movieId"), BUCKET),
        cdc_merge.TableSpec("shop", "customers", ("id",), None),
    ]
    assert specs[0].name == "movielens.ratings"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{nope", "--tables is not JSON"),
        ("{}", "must be a JSON object naming at least one table"),
        ('{"ratings": {"keys": ["id"]}}', "'ratings' is not <schema>.<table>"),
        ('{"a.b": {"keys": []}}', 'a.b needs "keys"'),
        (
            '{"a.b": {"keys": ["id"], "partition": {"column": "p"}}}',
            'the partition of a.b needs "column" and "expression"',
        ),
        ('{"a.b": {"keys": ["id"]}, "c.B": {"keys": ["id"]}}', "name one table twice"),
    ],
)
def test_parse_tables_names_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        cdc_merge.parse_tables(text)

"""The CDC project's checks and source pieces (labkit.labs.cdc) without a database."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest

from labkit.core.validation import ValidationError
from labkit.labs import cdc

INT, DEC, TS, JSON_COL, TEXT = (cdc.Column("id", "int", None), cdc.Column("balance", "decimal", 2),
                                cdc.Column("seen", "datetime", None), cdc.Column("prefs", "longtext", None),
                                cdc.Column("name", "varchar", None))  # fmt: skip


@pytest.mark.parametrize(
    ("mysql", "athena", "column"),
    [
        (7, "7", INT),
        (Decimal("12.5"), "12.50", DEC),
        (Decimal("0.10"), "0.1", DEC),
        # Athena shows Parquet timestamps to the millisecond, rounded half up
        (datetime(2024, 9, 8, 12, 40, 48, 993908), "2024-09-08 12:40:48.994", TS),
        (datetime(2024, 9, 8, 12, 40, 48, 993499), "2024-09-08 12:40:48.993", TS),
        (datetime(2024, 12, 31, 23, 59, 59, 999500), "2025-01-01 00:00:00.000", TS),
        (datetime(2024, 1, 1), "2024-01-01 00:00:00.000", TS),
        ('{"b": 1, "a": [1, 2]}', '{"a":[1,2],"b":1}', JSON_COL),  # MySQL 8 may re-space a document
        ("Zoë 🎵", "Zoë 🎵", TEXT),
        (None, None, TEXT),
    ],
)
def test_mysql_and_athena_renderings_of_a_value_are_the_same_text(mysql, athena, column):
    assert cdc.canonical(mysql, column) == cdc.canonical(athena, column)


def test_null_is_not_the_empty_string_nor_the_text_null():
    assert len({cdc.canonical(None, TEXT), cdc.canonical("", TEXT), cdc.canonical("NULL", TEXT)}) == 3


def test_a_longtext_that_is_not_json_is_compared_as_text():
    assert cdc.canonical("not {json", JSON_COL) == "not {json"


def test_equal_tables_in_any_order_give_count_and_checksum():
    rows = [("1", "a"), ("2", "b")]
    figures = cdc.compare("shop.customers", rows, list(reversed(rows)), [0])
    assert figures == {"rows": 2, "checksum": cdc.checksum(rows)}


def test_differences_name_missing_unexpected_and_different_keys():
    source = [("1", "a"), ("2", "b"), ("3", "c")]
    current = [("1", "a"), ("2", "B"), ("4", "d")]
    with pytest.raises(ValidationError) as error:
        cdc.compare("shop.customers", source, current, [0])
    message = str(error.value)
    assert "MySQL has 3 rows" in message and "S3 3" in message
    assert "missing keys [('3',)]" in message
    assert "unexpected keys [('4',)]" in message
    assert "different rows [('2',)]; e.g. ('2',): MySQL ('2', 'b') vs S3 ('2', 'B')" in message


def test_a_duplicate_row_in_s3_is_a_difference_even_with_the_same_keys():
    with pytest.raises(ValidationError, match="MySQL has 1 rows .* S3 2"):
        cdc.compare("t", [("1", "a")], [("1", "a"), ("1", "a")], [0])


def test_statistics_must_move_by_exactly_the_workload():
    before = {"movielens.ratings": {"Inserts": 10, "Updates": 0, "Deletes": 1}}
    after = {"movielens.ratings": {"Inserts": 15, "Updates": 3, "Deletes": 1}}
    assert cdc.check_statistics(before, after, {"movielens.ratings": {"inserts": 5, "updates": 3, "deletes": 0}}) == []
    assert cdc.check_statistics(before, after, {"movielens.ratings": {"inserts": 6, "updates": 3, "deletes": 0}}) == [
        "movielens.ratings: DMS counted 5 inserts, the workload made 6"
    ]
    assert cdc.check_statistics({}, {}, {"shop.customers": {"inserts": 1, "updates": 0, "deletes": 0}}) == [
        "shop.customers: DMS counted 0 inserts, the workload made 1"
    ]


def test_sql_files_split_into_statements_without_comments():
    schema = cdc.sql_statements("schema")
    assert len(schema) == 5 and all("--" not in statement for statement in schema)
    assert schema[0].startswith("CREATE DATABASE IF NOT EXISTS movielens")
    (grant,) = [s for s in cdc.sql_statements("replication_user") if s.startswith("GRANT")]
    assert grant == "GRANT SELECT, REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO 'dms_reader'@'%'"


def test_customers_are_deterministic_and_hold_every_kind_of_value():
    customers = cdc.generate_customers()
    assert customers == cdc.generate_customers() and len(customers) == cdc.CUSTOMERS
    columns = list(zip(*customers, strict=True))
    named = dict(zip(cdc.CUSTOMER_COLUMNS, columns, strict=True))
    assert named["id"] == tuple(range(1, cdc.CUSTOMERS + 1))
    for nullable in ("email", "last_seen_at", "preferences", "notes"):
        assert None in named[nullable] and any(v is not None for v in named[nullable])
    assert any(any(ord(ch) > 0xFFFF for ch in name) for name in named["name"])  # 4-byte UTF-8: utf8mb4
    assert all(isinstance(v, Decimal) and v == v.quantize(Decimal("0.01")) for v in named["balance"])
    assert any(moment.microsecond % 1000 for moment in named["signed_up_at"])  # below the millisecond
    assert set(named["tier"]) == set(cdc.TIERS)
    assert all(json.loads(p) for p in named["preferences"] if p)


def test_dms_settings_and_mappings_select_the_projects_tables():
    rules = cdc.table_mappings()["rules"]
    assert [(r["object-locator"]["schema-name"], r["object-locator"]["table-name"]) for r in rules] == [
        ("movielens", "movies"), ("movielens", "ratings"), ("shop", "customers"),
    ]  # fmt: skip
    settings = cdc.s3_settings("bucket", "arn:aws:iam::123456789012:role/dms")
    assert settings["DataFormat"] == "parquet" and settings["IncludeOpForFullLoad"] is True
    assert settings["TimestampColumnName"] == cdc.COMMIT_TIME_COLUMN
    arguments = cdc.merge_arguments("bucket", "db")
    assert arguments["--cdc_path"] == "s3://bucket/cdc/" and json.loads(arguments["--tables"]) == cdc.TABLES
    assert arguments["--job-bookmark-option"] == "job-bookmark-enable"

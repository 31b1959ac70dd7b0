"""Athena SQL -> DuckDB: translation, Trino semantics, partition predicates and result text.

Translated queries run on an in-memory DuckDB set up as the executor sets it up, so each case
asserts the rows Athena would return, not the SQL text.
"""

from __future__ import annotations

import datetime

import pytest
from sqlglot import exp

from local_aws.athena import engine, results, translate
from local_aws.athena.translate import AthenaError


@pytest.fixture
def duck():
    """DuckDB as the executor configures it, with tables named as translate() names catalog tables."""
    con = engine.connect()
    con.execute(
        "CREATE TABLE \"shop.orders\" AS SELECT * FROM (VALUES (1, 10, 7, 2.5, DATE '2024-01-31'), "
        "(2, 10, 3, NULL, DATE '2024-02-29'), (3, 20, 4, 1.0, DATE '2024-03-01')) "
        "AS t(id, customer_id, qty, price, order_date)"
    )
    con.execute("CREATE TABLE \"shop.customers\" AS SELECT * FROM (VALUES (10, 'Ada'), (20, 'Grace')) AS t(id, name)")
    con.execute('CREATE TABLE "sales.targets" AS SELECT * FROM (VALUES (10, 100)) AS t(customer_id, target)')
    yield con
    con.close()


def run(con, sql: str, default_database: str = "shop"):
    return con.sql(translate.translate(sql, default_database)).fetchall()


def names(con, sql: str, default_database: str = "shop"):
    return con.sql(translate.translate(sql, default_database)).columns


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 7 / 2, -7 / 2, 7 % 3", (3, -3, 1)),  # Trino truncates integer division
        ("SELECT 7 / 2.0, CAST(7 AS DOUBLE) / 2", (3.5, 3.5)),
        ("SELECT sum(qty) / count(*) FROM orders", (4,)),  # bigint / bigint stays integral
    ],
)
def test_integer_division_follows_trino(duck, sql, expected):
    assert run(duck, sql) == [expected]


def test_table_names_resolve_against_the_default_database_and_db_prefix(duck):
    rows = run(
        duck,
        "SELECT c.name, sum(o.qty) AS qty, max(t.target) AS target FROM orders o "
        "JOIN customers c ON o.customer_id = c.id LEFT JOIN sales.targets t ON t.customer_id = c.id "
        "GROUP BY c.name ORDER BY c.name",
    )
    assert rows == [("Ada", 10, 100), ("Grace", 4, None)]


def test_catalog_qualified_names_and_db_table_column_references(duck):
    sql = "SELECT shop.orders.id FROM awsdatacatalog.shop.orders WHERE shop.orders.qty > 3 ORDER BY 1"
    assert run(duck, sql, default_database="default") == [(1,), (3,)]


def test_table_references_skip_cte_names_and_keep_positions():
    sql = "WITH recent AS (SELECT * FROM orders)\nSELECT * FROM recent JOIN sales.targets t ON true"
    refs = translate.table_references(translate.parse(sql), sql, "shop")
    assert sorted((ref.database, ref.name, ref.alias) for ref in refs) == [
        ("sales", "targets", "t"),
        ("shop", "orders", "orders"),
    ]
    assert translate.position(sql, next(ref for ref in refs if ref.alias == "t").node) == "line 2:27: "


def test_other_catalogs_are_rejected_by_name():
    sql = "SELECT * FROM hive_metastore.db.t"
    with pytest.raises(AthenaError, match=r"CATALOG_NOT_FOUND: line 1:15: Catalog 'hive_metastore' does not exist"):
        translate.table_references(translate.parse(sql), sql, "default")


def test_unnamed_result_columns_are_named_like_trino(duck):
    assert names(duck, "SELECT customer_id, count(*), sum(qty) AS total, max(price) FROM orders GROUP BY 1") == [
        "customer_id",
        "_col1",
        "total",
        "_col3",
    ]


def test_date_literals_and_date_functions(duck):
    rows = run(
        duck,
        "SELECT DATE '2024-03-01' - INTERVAL '1' DAY, date_diff('day', DATE '2024-01-01', DATE '2024-03-01'), "
        "date_trunc('month', DATE '2024-02-29'), year(DATE '2024-02-29'), day_of_week(DATE '2024-03-03')",
    )
    assert rows == [(datetime.date(2024, 2, 29), 60, datetime.date(2024, 2, 1), 2024, 7)]


ORDER_COLUMNS = {
    "shop.orders": [("id", "int"), ("customer_id", "int"), ("qty", "int"), ("price", "double"), ("order_date", "date")]
}


def test_date_arithmetic_on_date_columns_stays_date_as_in_trino(duck):
    sql = (
        "SELECT date_trunc('month', order_date) AS month, date_add('day', 1, order_date) AS next_day, "
        "order_date - INTERVAL '1' MONTH AS month_before FROM orders WHERE id = 1"
    )
    assert duck.sql(translate.translate(sql, "shop", ORDER_COLUMNS)).fetchall() == [
        (datetime.date(2024, 1, 1), datetime.date(2024, 2, 1), datetime.date(2023, 12, 31))
    ]


def test_date_filter_on_a_date_column(duck):
    assert run(
        duck, "SELECT id FROM orders WHERE order_date >= DATE '2024-02-01' AND order_date < DATE '2024-03-01'"
    ) == [(2,)]


def test_trino_formatting_and_parsing_functions(duck):
    rows = run(
        duck,
        "SELECT date_format(TIMESTAMP '2024-05-06 07:08:09', '%Y-%m-%d %H:%i:%s'), "
        "date_parse('2024-05-06', '%Y-%m-%d'), from_unixtime(0) = TIMESTAMP '1970-01-01 00:00:00 UTC'",
    )
    assert rows == [("2024-05-06 07:08:09", datetime.datetime(2024, 5, 6), True)]


def test_trino_aggregates_with_other_names_in_duckdb(duck):
    rows = run(
        duck,
        "SELECT approx_distinct(customer_id), arbitrary(customer_id) IN (10, 20), count_if(qty > 3), "
        "max_by(id, qty), bool_and(qty > 0) FROM orders",
    )
    assert rows == [(2, True, 2, 1, True)]


def test_trino_string_functions(duck):
    rows = run(
        duck,
        "SELECT concat('a', NULL), concat('a', 'b', 'c'), substr('hello', 2, 3), strpos('hello', 'l'), "
        "regexp_like('abc', 'b.'), regexp_extract('ab123', '[0-9]+'), split('a,b', ','), split_part('a,b,c', ',', 2), "
        "length('héllo')",
    )
    assert rows == [(None, "abc", "ell", 3, True, "123", ["a", "b"], "b", 5)]


def test_json_and_array_functions(duck):
    rows = run(
        duck,
        "SELECT json_extract_scalar('{\"a\": {\"b\": 5}}', '$.a.b'), cardinality(ARRAY[1, 2, 3]), "
        "contains(ARRAY[1, 2], 2), ARRAY[10, 20][1], element_at(ARRAY[1, 2], -1), if(1 > 0, 'y', 'n')",
    )
    assert rows == [("5", 3, True, 10, 2, "y")]


def test_unnest_with_alias(duck):
    assert run(duck, "SELECT n FROM UNNEST(ARRAY[3, 1, 2]) AS t(n) ORDER BY n") == [(1,), (2,), (3,)]


def test_syntax_errors_name_the_position():
    with pytest.raises(AthenaError, match=r"^SYNTAX_ERROR: line 1:15: .*") as error:
        translate.parse("SELECT a FROM WHERE x")
    assert "'WHERE'" in error.value.message


def test_only_one_statement_is_allowed():
    with pytest.raises(AthenaError, match="Only one sql statement is allowed. Got: 2"):
        translate.parse("SELECT 1; SELECT 2")


def test_reduce_applies_its_output_function(duck):
    assert run(duck, "SELECT reduce(ARRAY[1, 2], 0, (s, x) -> s + x, s -> s * 10)") == [(30,)]


def test_joda_letters_without_strftime_equivalent_fail_naming_them():
    with pytest.raises(AthenaError, match=r"NOT_SUPPORTED: format_datetime: Joda pattern letters 'GG'"):
        translate.translate("SELECT format_datetime(TIMESTAMP '2024-01-01 00:00:00', 'GG yyyy')")


def test_table_functions_are_not_allowed_in_from():
    with pytest.raises(AthenaError, match="NOT_SUPPORTED: .*table function"):
        translate.translate("SELECT * FROM read_csv('/etc/passwd')")


@pytest.mark.parametrize(
    ("sql", "statement_type"),
    [
        ("SELECT 1", "DML"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "DML"),
        ("CREATE TABLE t AS SELECT 1", "DML"),
        ("CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/t/'", "DDL"),
        ("DROP TABLE t", "DDL"),
        ("MSCK REPAIR TABLE t", "DDL"),
        ("DESCRIBE t", "UTILITY"),
        ("SHOW TABLES", "UTILITY"),
    ],
)
def test_statement_types(sql, statement_type):
    assert translate.statement_type(translate.parse(sql)) == statement_type


def predicate(sql: str, keys=("year", "month")):
    ref = translate.table_references(translate.parse(sql), sql, "db")[0]
    return translate.partition_predicate(ref, list(keys))


def test_partition_predicate_keeps_conjuncts_on_partition_keys_only():
    assert (
        predicate("SELECT * FROM t WHERE year = 2024 AND id = 5 AND t.month IN (1, 2)")
        == "year = 2024 AND month IN (1, 2)"
    )
    assert predicate("SELECT * FROM t x WHERE x.year > 2020 OR x.month = 1") == "year > 2020 OR month = 1"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM t",
        "SELECT * FROM t WHERE year = 2024 OR id = 5",  # mixes a data column: cannot prune
        "SELECT * FROM t WHERE year = (SELECT max(year) FROM t)",
        "SELECT * FROM t LEFT JOIN u ON t.id = u.id WHERE t.year = 2024",  # outer join
        "SELECT * FROM t JOIN u ON t.id = u.id WHERE year = 2024",  # unqualified with two tables
    ],
)
def test_partition_predicate_is_none_when_pruning_would_be_a_guess(sql):
    assert predicate(sql) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (1.5e-5, "1.5E-5"),
        (0.001, "0.001"),
        (2.0, "2.0"),
        (-0.25, "-0.25"),
        (0.0, "0.0"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_doubles_render_like_java(value, text):
    assert results.java_double(value) == text


def test_result_values_render_as_athena_text(duck):
    results.register_functions(duck)
    sql = (
        "SELECT 1.5e20::DOUBLE, 2.5::DOUBLE, TIMESTAMP '2024-01-02 03:04:05.678901', DATE '2024-01-02', 12.50::DECIMAL(10,2), "
        "true, [1, 2], MAP {'a': 1.5}, {'x': 1, 'y': 'b'}, NULL::INTEGER"
    )
    relation = duck.sql(sql)
    projection = ", ".join(results.text_sql(f"#{i + 1}", str(t)) for i, t in enumerate(relation.types))
    assert duck.sql(f"SELECT {projection} FROM ({sql})").fetchall() == [
        (
            "1.5E20",
            "2.5",
            "2024-01-02 03:04:05.678",
            "2024-01-02",
            "12.50",
            "true",
            "[1, 2]",
            "{a=1.5}",
            "{x=1, y=b}",
            None,
        )
    ]


@pytest.mark.parametrize(
    ("duckdb_type", "athena"),
    [
        ("INTEGER", ("integer", 10, 0)),
        ("HUGEINT", ("bigint", 19, 0)),
        ("VARCHAR", ("varchar", 2147483647, 0)),
        ("DECIMAL(10,2)", ("decimal", 10, 2)),
        ("DOUBLE[]", ("array", 0, 0)),
        ("MAP(VARCHAR, INTEGER)", ("map", 0, 0)),
        ("STRUCT(a INTEGER)", ("row", 0, 0)),
        ("TIMESTAMP_S", ("timestamp", 3, 0)),
        ("DATE", ("date", 0, 0)),
    ],
)
def test_column_types_use_athena_names(duckdb_type, athena):
    assert results.athena_type(duckdb_type) == athena


def test_parse_keeps_hive_ddl_for_the_catalog():
    statement = translate.parse(
        "CREATE EXTERNAL TABLE IF NOT EXISTS db.t (a string, b decimal(10,2)) PARTITIONED BY (dt string) "
        "ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t' LOCATION 's3://bucket/t/' TBLPROPERTIES ('skip.header.line.count'='1')"
    )
    assert isinstance(statement, exp.Create) and statement.args["exists"]
    delimited = statement.find(exp.RowFormatDelimitedProperty)
    assert delimited.args["fields"].name == "\t"

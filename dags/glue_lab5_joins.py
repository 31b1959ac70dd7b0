"""
### Glue lab 5: a Glue PySpark job with joins (MovieLens)

The course's fifth Glue lab on real data: MovieLens (dslabs `movielens`, 100,004 ratings of
9,066 movies by 671 users), delivered as a movies CSV and a ratings CSV.

1. **Setup**: a data bucket and an Athena results bucket, a Glue service role with S3 access,
   `raw/movies/movies.csv` and `raw/ratings/ratings.csv`, the job script and its `etl` package,
   a Glue database.
2. **Crawl the raw CSVs** (crawler `…-raw-crawler` → tables `raw_movies`, `raw_ratings`).
3. **Glue job** `…-movie-ratings-joins` (PySpark): joins the ratings with the movies (a
   broadcast join: the movies are the small side), then writes Parquet to `curated/`:
   `movie_ratings` (rating count and average per movie), `genre_ratings` (per genre, the
   pipe-separated genres exploded) and `top_movies` (the `top_n` best averages among movies with
   at least `min_ratings` ratings).
4. **Crawl the Parquet** (tables `curated_movie_ratings`, `curated_genre_ratings`,
   `curated_top_movies`) and **check it with Athena**: each output equals the same aggregate
   computed by Athena SQL straight from the raw tables (`sql/glue_lab5/`).
5. **Teardown** (param `teardown`): crawlers, job, database, buckets and role.

Names derive from the Airflow Variable `aws_name_prefix` (default `ade`); the `aws_default`
connection decides whether this runs on local AWS or in an AWS account.
"""

from __future__ import annotations

import pendulum
from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.glue_catalog import (
    GlueCatalogCreateDatabaseOperator,
    GlueCatalogDeleteDatabaseOperator,
)
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerDeleteOperator, GlueCrawlerOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.providers.amazon.aws.transfers.local_to_s3 import LocalFilesystemToS3Operator
from airflow.sdk import DAG, Param, chain, cross_downstream, task

from labkit import paths
from labkit.dag_helpers import DEFAULT_ARGS, TAGS_COMMON, TEARDOWN, body_watcher, teardown_gate
from labkit.naming import LabNames
from labkit.operators.glue import GlueDeleteJobOperator
from labkit.operators.iam import IamCreateRoleOperator, IamDeleteRoleOperator
from labkit.operators.packaging import S3UploadPythonPackageOperator

DATA = "{{ names.bucket('data') }}"
RESULTS = "{{ names.bucket('athena-results') }}"
DATABASE = "{{ names.database }}"
ROLE = "{{ names.resource('glue-role') }}"
ROLE_ARN = "{{ ti.xcom_pull(task_ids='create_glue_role') }}"
RAW_CRAWLER = "{{ names.resource('raw-crawler') }}"
CURATED_CRAWLER = "{{ names.resource('curated-crawler') }}"
JOB = "{{ names.resource('movie-ratings-joins') }}"
RAW_PREFIX = "raw/"
CURATED_PREFIX = "curated/"
SOURCES = ("movies", "ratings")
OUTPUTS = ("movie_ratings", "genre_ratings", "top_movies")
# Crawled table names: the crawler's TablePrefix + the folder name.
TABLES = {f"raw_{name}": f"raw_{name}" for name in SOURCES} | {name: f"curated_{name}" for name in OUTPUTS}
SCHEMA_CHANGE_POLICY = {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"}

with DAG(
    dag_id="glue_lab5_joins",
    description="Glue lab 5: PySpark job joining MovieLens ratings with movies, results checked with Athena",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS_COMMON, "glue", "athena", "s3", "pyspark"],
    template_searchpath=[str(paths.SQL_DIR)],
    user_defined_macros={"names": LabNames("glue-lab5")},
    params={
        "teardown": Param(False, type="boolean", description="Delete every resource the run created"),
        "top_n": Param(10, type="integer", minimum=1, description="How many movies the top list holds"),
        "min_ratings": Param(50, type="integer", minimum=1, description="Ratings a movie needs to be ranked"),
    },
) as dag:
    # --- setup
    create_data_bucket = S3CreateBucketOperator(task_id="create_data_bucket", bucket_name=DATA)
    create_results_bucket = S3CreateBucketOperator(task_id="create_results_bucket", bucket_name=RESULTS)
    create_glue_role = IamCreateRoleOperator(
        task_id="create_glue_role",
        role_name=ROLE,
        service="glue.amazonaws.com",
        managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"],
        inline_policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{DATA}", f"arn:aws:s3:::{DATA}/*"],
                }
            ],
        },
    )

    @task
    def stage_movielens_csvs(bucket: str) -> dict:
        """Export MovieLens as a movies CSV and a ratings CSV, each in its own folder (one table each)."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from labkit import datasets

        files = datasets.export_movielens_csvs(paths.DATA_DIR / "movielens")
        for name, path in files.items():
            S3Hook().load_file(str(path), key=f"{RAW_PREFIX}{name}/{path.name}", bucket_name=bucket, replace=True)
        return {"movies": datasets.MOVIES_ROWS, "ratings": datasets.RATINGS_ROWS}

    staged = stage_movielens_csvs(DATA)
    upload_script = LocalFilesystemToS3Operator(
        task_id="upload_job_script",
        filename=str(paths.GLUE_JOBS_DIR / "movie_ratings_joins.py"),
        dest_bucket=DATA,
        dest_key="scripts/movie_ratings_joins.py",
        replace=True,
    )
    upload_etl_package = S3UploadPythonPackageOperator(
        task_id="upload_etl_package",
        package_dir=str(paths.GLUE_JOBS_DIR / "etl"),
        bucket_name=DATA,
        key="scripts/etl.zip",
    )
    create_database = GlueCatalogCreateDatabaseOperator(
        task_id="create_database", database_name=DATABASE, description="Glue lab 5: MovieLens joins"
    )

    # --- work
    crawl_raw = GlueCrawlerOperator(
        task_id="crawl_raw",
        config={
            "Name": RAW_CRAWLER,
            "Role": ROLE_ARN,
            "DatabaseName": DATABASE,
            "TablePrefix": "raw_",
            "Targets": {"S3Targets": [{"Path": f"s3://{DATA}/{RAW_PREFIX}{name}/"} for name in SOURCES]},
            "SchemaChangePolicy": SCHEMA_CHANGE_POLICY,
        },
        poll_interval=2,
    )
    movie_ratings_joins = GlueJobOperator(
        task_id="movie_ratings_joins",
        job_name=JOB,
        job_desc="Glue lab 5: MovieLens ratings x movies to Parquet figures per movie, per genre, top N",
        script_location=f"s3://{DATA}/scripts/movie_ratings_joins.py",
        iam_role_arn=ROLE_ARN,
        create_job_kwargs={
            "GlueVersion": "5.0",
            "WorkerType": "G.1X",
            "NumberOfWorkers": 2,
            "Timeout": 30,
            "DefaultArguments": {
                "--extra-py-files": f"s3://{DATA}/scripts/etl.zip",
                "--TempDir": f"s3://{DATA}/tmp/",
                "--job-language": "python",
            },
        },
        script_args={
            "--database": DATABASE,
            "--movies_table": TABLES["raw_movies"],
            "--ratings_table": TABLES["raw_ratings"],
            "--target_path": f"s3://{DATA}/{CURATED_PREFIX}",
            "--top_n": "{{ params.top_n }}",
            "--min_ratings": "{{ params.min_ratings }}",
        },
        update_config=True,
        verbose=True,
        job_poll_interval=2,
    )
    crawl_curated = GlueCrawlerOperator(
        task_id="crawl_curated",
        config={
            "Name": CURATED_CRAWLER,
            "Role": ROLE_ARN,
            "DatabaseName": DATABASE,
            "TablePrefix": "curated_",
            "Targets": {"S3Targets": [{"Path": f"s3://{DATA}/{CURATED_PREFIX}{name}/"} for name in OUTPUTS]},
            "SchemaChangePolicy": SCHEMA_CHANGE_POLICY,
        },
        poll_interval=2,
    )
    athena_queries = [
        AthenaOperator(
            task_id=query,
            query=f"glue_lab5/{query}.sql",
            params=TABLES,
            database=DATABASE,
            output_location=f"s3://{RESULTS}/glue-lab5/",
            sleep_time=1,
        )
        for query in ("per_movie_check", "per_genre_check", "top_movies_check", "figures")
    ]

    # --- checks
    @task
    def validate(staged: dict, query_ids: dict, params: dict) -> dict:
        """Every job output equals Athena's computation from the raw tables; the run's key figures."""
        from labkit.movie_ratings_checks import reconcile_movie_ratings

        return reconcile_movie_ratings(staged, query_ids, params["top_n"])

    checks = validate(staged, {query.task_id: query.output for query in athena_queries})

    # --- teardown
    gate = teardown_gate()
    teardown = [
        GlueCrawlerDeleteOperator(task_id="delete_raw_crawler", crawler_name=RAW_CRAWLER, **TEARDOWN),
        GlueCrawlerDeleteOperator(task_id="delete_curated_crawler", crawler_name=CURATED_CRAWLER, **TEARDOWN),
        GlueDeleteJobOperator(task_id="delete_job", job_name=JOB, **TEARDOWN),
        GlueCatalogDeleteDatabaseOperator(task_id="delete_database", database_name=DATABASE, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_data_bucket", bucket_name=DATA, force_delete=True, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_results_bucket", bucket_name=RESULTS, force_delete=True, **TEARDOWN),
        IamDeleteRoleOperator(task_id="delete_glue_role", role_name=ROLE, **TEARDOWN),
    ]
    setup = [staged, upload_script, upload_etl_package, create_database]
    cross_downstream([create_data_bucket, create_results_bucket, create_glue_role], setup)
    chain(setup, crawl_raw, movie_ratings_joins, crawl_curated, athena_queries, checks, gate, teardown)
    body_watcher(dag, gate)

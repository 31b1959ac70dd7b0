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

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerOperator
from airflow.sdk import Param, chain, task

from labkit.core import paths
from labkit.core.dag import body_watcher, lab_dag, teardown_gate
from labkit.labs import glue
from labkit.labs.glue import CURATED_CRAWLER, DATA, DATABASE, RAW_CRAWLER, RESULTS, ROLE_ARN

JOB = "{{ names.resource('movie-ratings-joins') }}"
SCRIPT = paths.GLUE_JOBS_DIR / "movie_ratings_joins.py"
RAW_PREFIX = "raw/"
CURATED_PREFIX = "curated/"
SOURCES = ("movies", "ratings")
OUTPUTS = ("movie_ratings", "genre_ratings", "top_movies")
# Crawled table names: the crawler's TablePrefix + the folder name.
TABLES = {f"raw_{name}": f"raw_{name}" for name in SOURCES} | {name: f"curated_{name}" for name in OUTPUTS}

with lab_dag(
    "glue_lab5_joins",
    lab="glue-lab5",
    description="Glue lab 5: PySpark job joining MovieLens ratings with movies, results checked with Athena",
    doc_md=__doc__,
    tags=["glue", "athena", "s3", "pyspark"],
    params={
        "top_n": Param(10, type="integer", minimum=1, description="How many movies the top list holds"),
        "min_ratings": Param(50, type="integer", minimum=1, description="Ratings a movie needs to be ranked"),
    },
) as dag:
    # --- setup
    @task
    def stage_movielens_csvs(bucket: str) -> dict:
        """Export MovieLens as a movies CSV and a ratings CSV, each in its own folder (one table each)."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from labkit.labs import datasets

        files = datasets.export_movielens_csvs(paths.DATA_DIR / "movielens")
        for name, path in files.items():
            S3Hook().load_file(str(path), key=f"{RAW_PREFIX}{name}/{path.name}", bucket_name=bucket, replace=True)
        return {"movies": datasets.MOVIES_ROWS, "ratings": datasets.RATINGS_ROWS}

    staged = stage_movielens_csvs(DATA)
    setup = glue.setup(script=SCRIPT, database_description="Glue lab 5: MovieLens joins", stage_data=staged)

    # --- work
    crawl_raw = GlueCrawlerOperator(
        task_id="crawl_raw",
        config=glue.crawler_config(RAW_CRAWLER, "raw_", [f"s3://{DATA}/{RAW_PREFIX}{name}/" for name in SOURCES]),
        poll_interval=2,
    )
    movie_ratings_joins = GlueJobOperator(
        task_id="movie_ratings_joins",
        job_name=JOB,
        job_desc="Glue lab 5: MovieLens ratings x movies to Parquet figures per movie, per genre, top N",
        script_location=glue.script_location(SCRIPT),
        iam_role_arn=ROLE_ARN,
        create_job_kwargs=glue.job_definition(),
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
        config=glue.crawler_config(
            CURATED_CRAWLER, "curated_", [f"s3://{DATA}/{CURATED_PREFIX}{name}/" for name in OUTPUTS]
        ),
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
        from labkit.labs.movie_ratings import reconcile_movie_ratings

        return reconcile_movie_ratings(staged, query_ids, params["top_n"])

    checks = validate(staged, {query.task_id: query.output for query in athena_queries})

    # --- teardown
    gate = teardown_gate()
    chain(setup, crawl_raw, movie_ratings_joins, crawl_curated, athena_queries, checks, gate, glue.teardown(job=JOB))
    body_watcher(dag, gate)

"""Glue lab 5: MovieLens ratings x movies -> Parquet figures per movie, per genre, top N (AWS Glue 5.0).

Arguments:
  --database        Glue database holding the crawled sources
  --movies_table    catalog table of the movies CSV (movieId, title, year, genres)
  --ratings_table   catalog table of the ratings CSV (userId, movieId, rating, timestamp)
  --target_path     s3:// prefix; writes movie_ratings/, genre_ratings/, top_movies/ below it
                    (each replaced on every run)
  --top_n           how many movies top_movies holds
  --min_ratings     the ratings a movie needs to be ranked

The etl package comes from --extra-py-files (a zip built from glue_jobs/etl).
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

from etl import movie_ratings

args = getResolvedOptions(
    sys.argv,
    ["JOB_NAME", "database", "movies_table", "ratings_table", "target_path", "top_n", "min_ratings"],
)
glue_context = GlueContext(SparkContext.getOrCreate())
logger = glue_context.get_logger()
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

# No transformation_ctx: the figures cover every rating, so a job bookmark (new files only) would be wrong.
movies = glue_context.create_dynamic_frame.from_catalog(database=args["database"], table_name=args["movies_table"]).toDF()
ratings = glue_context.create_dynamic_frame.from_catalog(database=args["database"], table_name=args["ratings_table"]).toDF()

# Only the per-movie figures are cached: both other outputs derive from them, so the ratings are
# read and joined once. (Caching the joined ratings instead would hold every rating with its
# title and genres in memory.)
per_movie = movie_ratings.movie_ratings(movie_ratings.rated_movies(ratings, movies)).cache()
outputs = {
    "movie_ratings": per_movie,
    "genre_ratings": movie_ratings.genre_ratings(per_movie),
    "top_movies": movie_ratings.top_movies(per_movie, int(args["top_n"]), int(args["min_ratings"])),
}
target = args["target_path"].rstrip("/")
for name, frame in outputs.items():
    # One file per output: each is small (at most one row per movie), and Athena reads it in one go.
    frame.coalesce(1).write.mode("overwrite").option("compression", "snappy").parquet(f"{target}/{name}/")

movies_rated, ratings_joined = per_movie.agg(F.count("*"), F.sum("rating_count")).first()
print(f"movie_ratings_joins: {ratings_joined} ratings of {movies_rated} movies joined, written to {target}/")
logger.info(f"ratings_joined={ratings_joined} movies_rated={movies_rated}")
job.commit()

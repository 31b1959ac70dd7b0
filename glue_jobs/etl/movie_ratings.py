"""MovieLens ratings joined with movies: figures per movie, per genre, and a top-N (Glue lab 5).

Inputs are the crawled tables' columns (Spark resolves names case-insensitively, so the
catalog's lower-cased `movieid` matches `movieId`):
  movies  (movieId bigint, title string, year bigint, genres string: pipe-separated)
  ratings (userId bigint, movieId bigint, rating double, timestamp bigint: epoch seconds)
Outputs use snake_case names, as Athena and the catalog show them anyway.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

GENRE_SEPARATOR = r"\|"  # a regex for split(): genres look like 'Action|Comedy'
NO_GENRES = "(no genres listed)"  # MovieLens' own value, kept as a genre of its own


def rated_movies(ratings: DataFrame, movies: DataFrame) -> DataFrame:
    """One row per rating with its movie: movie_id, title, year, genres, user_id, rating.

    Ratings of movies missing from `movies` are dropped (inner join), as the course's job does.
    """
    # Broadcast the movies: the dimension side is small (9,066 rows, well under Spark's 10 MB
    # autoBroadcastJoinThreshold, which Glue's catalog statistics may not let Spark see) and
    # stays that size, while the ratings grow with the data. Shipping the movies to every
    # executor once turns the join into a map-side hash join: the ratings are never shuffled for
    # it, where a sort-merge join would shuffle and sort both sides by movieId.
    return ratings.join(F.broadcast(movies), "movieId").select(
        F.col("movieId").alias("movie_id"),
        F.col("title"),
        F.col("year").cast("int").alias("year"),
        F.col("genres"),
        F.col("userId").alias("user_id"),
        F.col("rating").cast("double").alias("rating"),
    )


def movie_ratings(rated: DataFrame) -> DataFrame:
    """Per rated movie: movie_id, title, year, genres, rating_count, avg_rating."""
    return rated.groupBy("movie_id", "title", "year", "genres").agg(
        F.count("*").alias("rating_count"),
        F.avg("rating").alias("avg_rating"),
    )


def genre_ratings(per_movie: DataFrame) -> DataFrame:
    """Per genre: genre, movie_count (rated movies in it), rating_count, avg_rating over its ratings.

    Built from movie_ratings' rows, not from every rating: exploding a few thousand movies into
    their genres is far cheaper than exploding every rating, and a genre's average is its movies'
    rating totals (avg_rating * rating_count) over their counts. A movie counts in each of its
    genres, so rating counts add up to more than the ratings.
    """
    return (
        per_movie.withColumn("genre", F.explode(F.split("genres", GENRE_SEPARATOR)))
        .groupBy("genre")
        .agg(
            F.count("*").alias("movie_count"),
            F.sum("rating_count").alias("rating_count"),
            (F.sum(F.col("avg_rating") * F.col("rating_count")) / F.sum("rating_count")).alias("avg_rating"),
        )
    )


def top_movies(per_movie: DataFrame, n: int, min_ratings: int) -> DataFrame:
    """The n best-rated movies with at least min_ratings ratings: rank first, then movie_ratings' columns.

    Ties on avg_rating go to the movie with more ratings, then to the lower movie_id, so the
    ranking is deterministic.
    """
    if n < 1 or min_ratings < 1:
        raise ValueError(f"top_movies needs n >= 1 and min_ratings >= 1, got n={n}, min_ratings={min_ratings}")
    order = [F.desc("avg_rating"), F.desc("rating_count"), F.asc("movie_id")]
    # One window over the filtered movies (a few thousand rows): a single partition is fine here.
    ranked = per_movie.where(F.col("rating_count") >= min_ratings).withColumn(
        "rank", F.row_number().over(Window.orderBy(*order))
    )
    return ranked.where(F.col("rank") <= n).select("rank", *per_movie.columns).orderBy("rank")

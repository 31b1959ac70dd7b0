"""The MovieLens join transforms: per movie, per genre, top N, and the broadcast join."""

from __future__ import annotations

import pytest
from pyspark.sql import Row

from etl import movie_ratings

# The catalog's column names and types for the crawled CSVs (lower-cased, as crawlers write them).
MOVIES = "movieid bigint, title string, year bigint, genres string"
RATINGS = "userid bigint, movieid bigint, rating double, timestamp bigint"


@pytest.fixture
def movies(spark):
    return spark.createDataFrame(
        [
            (1, "Toy Story", 1995, "Adventure|Animation|Children|Comedy|Fantasy"),
            (2, "Jumanji", 1995, "Adventure|Children|Fantasy"),
            (3, "Heat", 1995, "Action|Crime|Thriller"),
            (4, None, None, "(no genres listed)"),
            (5, "Never Rated", 2000, "Drama"),
        ],
        MOVIES,
    )


@pytest.fixture
def ratings(spark):
    return spark.createDataFrame(
        [
            (10, 1, 4.0, 1260759144),
            (11, 1, 5.0, 1260759145),
            (12, 1, 3.0, 1260759146),
            (10, 2, 2.0, 1260759147),
            (11, 2, 3.0, 1260759148),
            (10, 3, 4.5, 1260759149),
            (11, 3, 4.5, 1260759150),
            (12, 4, 1.0, 1260759151),
            (12, 99, 5.0, 1260759152),  # a movie that is not in the movies table
        ],
        RATINGS,
    )


@pytest.fixture
def rated(ratings, movies):
    return movie_ratings.rated_movies(ratings, movies)


def test_rated_movies_joins_each_rating_with_its_movie(rated):
    assert rated.dtypes == [
        ("movie_id", "bigint"),
        ("title", "string"),
        ("year", "int"),
        ("genres", "string"),
        ("user_id", "bigint"),
        ("rating", "double"),
    ]
    rows = sorted(rated.collect())
    assert len(rows) == 8  # the rating of movie 99 has no movie
    assert rows[0] == Row(movie_id=1, title="Toy Story", year=1995,
                          genres="Adventure|Animation|Children|Comedy|Fantasy", user_id=10, rating=4.0)  # fmt: skip
    assert rows[-1] == Row(movie_id=4, title=None, year=None, genres="(no genres listed)", user_id=12, rating=1.0)


def test_rated_movies_broadcasts_the_movies_side(rated):
    plan = rated._jdf.queryExecution().executedPlan().toString()
    assert "BroadcastHashJoin" in plan and "SortMergeJoin" not in plan
    # The broadcast side is the movies (the right side of the join), not the ratings.
    assert "BuildRight" in plan


def test_movie_ratings_counts_and_averages_per_movie(rated):
    per_movie = movie_ratings.movie_ratings(rated)
    assert per_movie.dtypes == [
        ("movie_id", "bigint"),
        ("title", "string"),
        ("year", "int"),
        ("genres", "string"),
        ("rating_count", "bigint"),
        ("avg_rating", "double"),
    ]
    assert sorted((r.movie_id, r.title, r.rating_count, r.avg_rating) for r in per_movie.collect()) == [
        (1, "Toy Story", 3, 4.0),
        (2, "Jumanji", 2, 2.5),
        (3, "Heat", 2, 4.5),
        (4, None, 1, 1.0),
    ]  # movie 5 has no ratings, movie 99 no movie: neither is listed


def test_genre_ratings_explode_the_pipe_separated_genres(rated):
    per_genre = movie_ratings.genre_ratings(movie_ratings.movie_ratings(rated))
    assert per_genre.dtypes == [
        ("genre", "string"),
        ("movie_count", "bigint"),
        ("rating_count", "bigint"),
        ("avg_rating", "double"),
    ]
    assert sorted(tuple(r) for r in per_genre.collect()) == [
        ("(no genres listed)", 1, 1, 1.0),
        ("Action", 1, 2, 4.5),
        ("Adventure", 2, 5, 3.4),  # Toy Story 4, 5, 3 and Jumanji 2, 3
        ("Animation", 1, 3, 4.0),
        ("Children", 2, 5, 3.4),
        ("Comedy", 1, 3, 4.0),
        ("Crime", 1, 2, 4.5),
        ("Fantasy", 2, 5, 3.4),
        ("Thriller", 1, 2, 4.5),
    ]


def test_top_movies_ranks_by_average_with_a_minimum_count(rated):
    per_movie = movie_ratings.movie_ratings(rated)
    top = movie_ratings.top_movies(per_movie, n=2, min_ratings=2)
    assert top.columns == ["rank", *per_movie.columns]
    assert [(r["rank"], r.movie_id, r.avg_rating) for r in top.collect()] == [(1, 3, 4.5), (2, 1, 4.0)]
    # With one rating allowed, movie 4 (1.0) still misses the top 3; Jumanji (2.5) is third.
    top3 = movie_ratings.top_movies(per_movie, n=3, min_ratings=1)
    assert [r.movie_id for r in top3.collect()] == [3, 1, 2]


def test_top_movies_breaks_ties_by_count_then_movie_id(spark):
    per_movie = spark.createDataFrame(
        [(7, "B", 2001, "Drama", 5, 4.0), (3, "A", 2001, "Drama", 5, 4.0), (9, "C", 2001, "Drama", 8, 4.0)],
        "movie_id bigint, title string, year int, genres string, rating_count bigint, avg_rating double",
    )
    assert [r.movie_id for r in movie_ratings.top_movies(per_movie, 3, 5).collect()] == [9, 3, 7]


def test_top_movies_rejects_a_meaningless_n(rated):
    with pytest.raises(ValueError, match="top_movies needs n >= 1 and min_ratings >= 1, got n=0"):
        movie_ratings.top_movies(movie_ratings.movie_ratings(rated), n=0, min_ratings=1)

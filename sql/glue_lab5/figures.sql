-- The run's key figures: source sizes, what the job produced, and its best-rated movie.
SELECT
    (SELECT count(*) FROM {{ params.raw_movies }}) AS movies,
    (SELECT count(*) FROM {{ params.raw_ratings }}) AS ratings,
    (SELECT count(*) FROM {{ params.movie_ratings }}) AS movies_rated,
    (SELECT sum(rating_count) FROM {{ params.movie_ratings }}) AS ratings_joined,
    (SELECT count(*) FROM {{ params.genre_ratings }}) AS genres,
    (SELECT count(*) FROM {{ params.top_movies }}) AS top_movies,
    t.title AS top_movie,
    t.rating_count AS top_movie_ratings,
    round(t.avg_rating, 4) AS top_movie_avg_rating
FROM {{ params.top_movies }} t
WHERE t.rank = 1

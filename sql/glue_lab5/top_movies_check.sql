-- The job's top N against a ranking computed here from the raw tables: best average first
-- among movies with at least min_ratings ratings, ties to more ratings, then the lower movie id.
WITH per_movie AS (
    SELECT r.movieid AS movie_id, count(*) AS rating_count, avg(r.rating) AS avg_rating
    FROM {{ params.raw_ratings }} r
    JOIN {{ params.raw_movies }} m ON r.movieid = m.movieid
    GROUP BY r.movieid
),
ranked AS (
    SELECT
        row_number() OVER (ORDER BY avg_rating DESC, rating_count DESC, movie_id) AS rank,
        movie_id, rating_count, avg_rating
    FROM per_movie
    WHERE rating_count >= {{ params.min_ratings }}
),
expected AS (SELECT * FROM ranked WHERE rank <= {{ params.top_n }})
SELECT
    count(e.rank) AS expected_rows,
    count(j.rank) AS job_rows,
    count_if(j.rank IS NULL) AS missing,
    count_if(e.rank IS NULL) AS unexpected,
    count_if(
        j.movie_id <> e.movie_id
        OR j.rating_count <> e.rating_count
        OR abs(j.avg_rating - e.avg_rating) > 1e-9
    ) AS different
FROM expected e
FULL OUTER JOIN {{ params.top_movies }} j ON e.rank = j.rank

-- The job's per-genre figures against the same figures computed here from the raw tables:
-- genres split on '|' and unnested, so a movie counts in each of its genres.
WITH expected AS (
    SELECT g.genre, count(DISTINCT m.movieid) AS movie_count, count(*) AS rating_count, avg(r.rating) AS avg_rating
    FROM {{ params.raw_ratings }} r
    JOIN {{ params.raw_movies }} m ON r.movieid = m.movieid
    CROSS JOIN UNNEST(split(m.genres, '|')) AS g (genre)
    GROUP BY g.genre
)
SELECT
    count(e.genre) AS expected_rows,
    count(j.genre) AS job_rows,
    count_if(j.genre IS NULL) AS missing,
    count_if(e.genre IS NULL) AS unexpected,
    count_if(
        j.movie_count <> e.movie_count
        OR j.rating_count <> e.rating_count
        OR abs(j.avg_rating - e.avg_rating) > 1e-9
    ) AS different
FROM expected e
FULL OUTER JOIN {{ params.genre_ratings }} j ON e.genre = j.genre

-- The job's per-movie figures against the same figures computed here from the raw tables.
-- One row: how many movies each side has, and how many are missing, unexpected or different.
-- OpenCSVSerde reads a blank title as '' (never NULL), hence the coalesce.
WITH expected AS (
    SELECT m.movieid AS movie_id, m.title, m.year, count(*) AS rating_count, avg(r.rating) AS avg_rating
    FROM {{ params.raw_ratings }} r
    JOIN {{ params.raw_movies }} m ON r.movieid = m.movieid
    GROUP BY m.movieid, m.title, m.year
)
SELECT
    count(e.movie_id) AS expected_rows,
    count(j.movie_id) AS job_rows,
    count_if(j.movie_id IS NULL) AS missing,
    count_if(e.movie_id IS NULL) AS unexpected,
    count_if(
        j.rating_count <> e.rating_count
        OR abs(j.avg_rating - e.avg_rating) > 1e-9
        OR coalesce(j.title, '') <> e.title
        OR j.year IS DISTINCT FROM e.year
    ) AS different
FROM expected e
FULL OUTER JOIN {{ params.movie_ratings }} j ON e.movie_id = j.movie_id

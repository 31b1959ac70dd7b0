-- movies (CDC current state of movielens.movies): one row of figures, one per check (labkit.labs.nightly.CHECKS).
WITH current AS (
    SELECT count(*) AS row_count, count_if(movieid IS NULL) AS null_keys FROM movies
),
duplicates AS (
    SELECT count(*) AS duplicate_keys FROM (SELECT movieid FROM movies GROUP BY movieid HAVING count(*) > 1)
)
SELECT current.row_count, current.null_keys, duplicates.duplicate_keys
FROM current CROSS JOIN duplicates

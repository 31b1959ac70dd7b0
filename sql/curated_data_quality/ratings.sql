-- ratings (CDC current state of movielens.ratings): one row of figures, one per check (labkit.labs.nightly.CHECKS).
-- Freshness: hours since the newest change merged (_cdc_commit_ts: DMS's commit time, UTC text).
WITH current AS (
    SELECT
        count(*) AS row_count,
        count_if(userid IS NULL OR movieid IS NULL) AS null_keys,
        max(CAST(_cdc_commit_ts AS timestamp)) AS newest_change,
        min(rating) AS min_rating,
        max(rating) AS max_rating
    FROM ratings
),
duplicates AS (
    SELECT count(*) AS duplicate_keys
    FROM (SELECT userid, movieid FROM ratings GROUP BY userid, movieid HAVING count(*) > 1)
)
SELECT
    current.row_count,
    current.null_keys,
    duplicates.duplicate_keys,
    date_diff('hour', current.newest_change, CAST(current_timestamp AS timestamp)) AS hours_since_last_change,
    current.min_rating,
    current.max_rating
FROM current CROSS JOIN duplicates

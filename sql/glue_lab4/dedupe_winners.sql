-- For every key the raw table has more than once, the curated row must be the latest raw
-- reading (greatest time_hour). Curated partition columns are strings, hence the casts.
WITH latest AS (
    SELECT origin, year, month, day, hour, max(time_hour) AS time_hour
    FROM {{ params.raw_table }}
    GROUP BY origin, year, month, day, hour
    HAVING count(*) > 1
), expected AS (
    SELECT r.origin, r.year, r.month, r.day, r.hour, r.temp, r.humid
    FROM {{ params.raw_table }} AS r
    JOIN latest AS l
        ON r.origin = l.origin AND r.year = l.year AND r.month = l.month AND r.day = l.day
        AND r.hour = l.hour AND r.time_hour = l.time_hour
)
SELECT
    count(*) AS duplicated_keys,
    sum(CASE WHEN c.temp = e.temp AND c.humid = e.humid THEN 1 ELSE 0 END) AS latest_kept
FROM expected AS e
LEFT JOIN {{ params.curated_table }} AS c
    ON c.origin = e.origin AND c.year = CAST(e.year AS varchar) AND c.month = CAST(e.month AS varchar)
    AND c.day = e.day AND c.hour = e.hour

-- Business keys the curated table holds more than once: must be none.
SELECT count(*) AS duplicate_keys
FROM (
    SELECT origin, year, month, day, hour
    FROM {{ params.curated_table }}
    GROUP BY origin, year, month, day, hour
    HAVING count(*) > 1
) AS duplicated

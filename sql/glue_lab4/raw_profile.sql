-- The raw readings per business key (origin and local clock hour): rows, distinct keys, and
-- keys read more than once. Rendered with params.raw_table.
SELECT
    sum(readings) AS raw_rows,
    count(*) AS distinct_keys,
    sum(CASE WHEN readings > 1 THEN 1 ELSE 0 END) AS duplicated_keys
FROM (
    SELECT origin, year, month, day, hour, count(*) AS readings
    FROM {{ params.raw_table }}
    GROUP BY origin, year, month, day, hour
) AS per_key

-- curated_weather: one row of figures, one per check (labkit.labs.nightly.CHECKS names their bounds).
-- A reading's key is its airport and local clock hour (Glue lab 4's job keeps one per key).
-- Freshness: hours the newest curated reading lags the newest raw one (raw time_hour: ISO 8601, UTC).
WITH curated AS (
    SELECT
        count(*) AS row_count,
        count_if(origin IS NULL OR year IS NULL OR month IS NULL OR day IS NULL OR hour IS NULL) AS null_keys,
        max(observed_at) AS newest,
        min(temp) AS min_temp,
        max(temp) AS max_temp,
        max(wind_speed) AS max_wind_speed,
        min(humid) AS min_humid,
        max(humid) AS max_humid
    FROM curated_weather
),
duplicates AS (
    SELECT count(*) AS duplicate_keys
    FROM (SELECT origin, year, month, day, hour FROM curated_weather GROUP BY origin, year, month, day, hour HAVING count(*) > 1)
),
raw AS (
    SELECT max(CAST(from_iso8601_timestamp(time_hour) AS timestamp)) AS newest FROM raw_weather
)
SELECT
    curated.row_count,
    curated.null_keys,
    duplicates.duplicate_keys,
    date_diff('hour', curated.newest, raw.newest) AS freshness_lag_hours,
    curated.min_temp,
    curated.max_temp,
    curated.max_wind_speed,
    curated.min_humid,
    curated.max_humid
FROM curated CROSS JOIN duplicates CROSS JOIN raw

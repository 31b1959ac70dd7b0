-- customers (CDC current state of shop.customers): one row of figures, one per check (labkit.labs.nightly.CHECKS).
-- Freshness: hours since the newest change merged (_cdc_commit_ts: DMS's commit time, UTC text).
WITH current AS (
    SELECT
        count(*) AS row_count,
        count_if(id IS NULL) AS null_keys,
        max(CAST(_cdc_commit_ts AS timestamp)) AS newest_change,
        min(balance) AS min_balance,
        count_if(tier IS NULL OR tier NOT IN ('bronze', 'silver', 'gold')) AS unknown_tiers
    FROM customers
),
duplicates AS (
    SELECT count(*) AS duplicate_keys FROM (SELECT id FROM customers GROUP BY id HAVING count(*) > 1)
)
SELECT
    current.row_count,
    current.null_keys,
    duplicates.duplicate_keys,
    date_diff('hour', current.newest_change, CAST(current_timestamp AS timestamp)) AS hours_since_last_change,
    current.min_balance,
    current.unknown_tiers
FROM current CROSS JOIN duplicates

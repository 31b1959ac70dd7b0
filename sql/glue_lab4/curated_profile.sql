-- The curated readings: size, partitions, null handling and the derived columns.
-- Rendered with params.curated_table.
SELECT
    count(*) AS curated_rows,
    count(DISTINCT month) AS months,
    round(avg(temp), 4) AS avg_temp,
    max(wind_speed) AS max_wind_speed,
    sum(CASE WHEN nulled_fields LIKE '%wind_speed%' THEN 1 ELSE 0 END) AS nulled_wind_speed,
    count(*) - count(wind_gust) AS hours_without_gust,
    sum(CASE WHEN wind_compass = 'calm' THEN 1 ELSE 0 END) AS calm_hours,
    max(abs(temp_c - (temp - 32) * 5 / 9)) AS max_temp_c_error
FROM {{ params.curated_table }}

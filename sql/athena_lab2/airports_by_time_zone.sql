-- The table made with the Glue catalog operator: airports per time zone, most first.
SELECT tzone, count(*) AS airports, round(avg(alt), 1) AS avg_altitude_ft
FROM airports
GROUP BY tzone
ORDER BY airports DESC, tzone

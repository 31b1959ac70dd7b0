-- The ten busiest routes and how many airlines fly each.
SELECT origin, dest, count(*) AS flights, count(DISTINCT carrier) AS airlines
FROM flights
GROUP BY origin, dest
ORDER BY flights DESC, origin, dest
LIMIT 10

-- Partitioned Parquet x OpenCSV: busiest destinations of Q1 by airport name (SJU and a few others are not in airports).
SELECT coalesce(a.name, f.dest) AS destination, count(*) AS flights
FROM flights f
LEFT JOIN airports a ON f.dest = a.faa
GROUP BY coalesce(a.name, f.dest)
ORDER BY flights DESC, destination
LIMIT 5

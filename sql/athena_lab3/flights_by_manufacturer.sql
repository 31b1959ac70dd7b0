-- Partitioned Parquet x JSON x delimited text: flights per plane manufacturer and airline.
SELECT p.manufacturer, count(*) AS flights, count(DISTINCT l.name) AS airlines
FROM flights f
JOIN planes p ON f.tailnum = p.tailnum
JOIN airlines l ON f.carrier = l.carrier
GROUP BY p.manufacturer
ORDER BY flights DESC, p.manufacturer

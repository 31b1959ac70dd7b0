SELECT month, count(*) AS flights, count(DISTINCT "$path") AS files
FROM flights
GROUP BY month
ORDER BY month

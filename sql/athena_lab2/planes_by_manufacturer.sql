-- The table the crawler made: planes per manufacturer, most first.
SELECT manufacturer, count(*) AS planes, sum(seats) AS seats
FROM planes
GROUP BY manufacturer
ORDER BY planes DESC, manufacturer

-- Per month: flights, cancelled flights (no departure time) and the share of departures 15+ minutes late.
SELECT month,
       count(*) AS flights,
       count_if(dep_time IS NULL) AS cancelled,
       round(100.0 * count_if(dep_delay >= 15) / count(dep_delay), 1) AS pct_delayed_15
FROM flights
GROUP BY month
ORDER BY month

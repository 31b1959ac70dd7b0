-- Flights, mean delays and distance flown per airline, busiest first.
SELECT a.name AS airline,
       count(*) AS flights,
       round(avg(f.dep_delay), 2) AS avg_dep_delay,
       round(avg(f.arr_delay), 2) AS avg_arr_delay,
       sum(f.distance) AS distance
FROM flights f
JOIN airlines a ON f.carrier = a.carrier
GROUP BY a.name
ORDER BY flights DESC, airline

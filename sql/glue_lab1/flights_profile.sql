-- A profile of a flights table; the same figures from the raw CSV table and the Parquet
-- table prove the conversion kept every row and value. Rendered with params.table.
SELECT
    count(*) AS flights,
    count(DISTINCT carrier) AS carriers,
    count(DISTINCT origin) AS origins,
    count(DISTINCT month) AS months,
    count(arr_delay) AS flights_with_arrival,
    sum(distance) AS total_distance,
    round(avg(arr_delay), 4) AS avg_arr_delay,
    max(dep_delay) AS max_dep_delay,
    sum(air_time) / count(air_time) AS avg_air_time_whole_minutes
FROM {{ params.table }}

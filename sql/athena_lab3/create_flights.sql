-- STORED AS PARQUET, PARTITIONED BY month: partitions are registered separately (MSCK REPAIR, ALTER TABLE ADD).
CREATE EXTERNAL TABLE IF NOT EXISTS flights (
    day int, carrier string, flight int, tailnum string, origin string, dest string,
    dep_delay double, arr_delay double, distance int
)
PARTITIONED BY (month int)
STORED AS PARQUET
LOCATION 's3://{{ names.bucket("data") }}/curated/flights/'
TBLPROPERTIES ('parquet.compression' = 'SNAPPY', 'classification' = 'parquet')

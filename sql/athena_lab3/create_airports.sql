-- ROW FORMAT SERDE OpenCSVSerde: every field is quoted ("JFK","John F Kennedy Intl",...); the SerDe strips the quotes.
CREATE EXTERNAL TABLE IF NOT EXISTS airports (
    faa string, name string, lat double, lon double, alt int, tzone string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '"', 'escapeChar' = '\\')
STORED AS TEXTFILE
LOCATION 's3://{{ names.bucket("data") }}/raw/airports/'
TBLPROPERTIES ('skip.header.line.count' = '1')

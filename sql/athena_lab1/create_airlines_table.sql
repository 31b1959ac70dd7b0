-- Carrier code -> airline name; names may contain commas, so the CSV is read with quoting.
CREATE EXTERNAL TABLE IF NOT EXISTS airlines (carrier string, name string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '"')
LOCATION 's3://{{ names.bucket("data") }}/raw/airlines/'
TBLPROPERTIES ('skip.header.line.count' = '1')

-- ROW FORMAT DELIMITED: LazySimpleSerDe splits each line on '|' (no quoting); the header line is skipped.
CREATE EXTERNAL TABLE IF NOT EXISTS airlines (
    carrier string COMMENT 'two-letter carrier code',
    name string COMMENT 'airline name'
)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '|' LINES TERMINATED BY '\n'
STORED AS TEXTFILE
LOCATION 's3://{{ names.bucket("data") }}/raw/airlines/'
TBLPROPERTIES ('skip.header.line.count' = '1')

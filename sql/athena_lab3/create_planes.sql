-- ROW FORMAT SERDE JsonSerDe: one JSON object per line, keys matched to columns by name.
CREATE EXTERNAL TABLE IF NOT EXISTS planes (
    tailnum string, year int, type string, manufacturer string, model string, engines int, seats int
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
LOCATION 's3://{{ names.bucket("data") }}/raw/planes/'

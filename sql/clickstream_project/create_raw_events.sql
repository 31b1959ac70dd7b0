-- The raw events as Firehose archived them: gzip'd JSON lines under raw/dt=YYYY-MM-DD/.
-- The bucket is the stack's output DataBucket (the DAG's stack_outputs task).
CREATE EXTERNAL TABLE IF NOT EXISTS raw_events (
    browseraction string,
    site string,
    event_time string,
    session_id string
)
PARTITIONED BY (dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://{{ ti.xcom_pull(task_ids='stack_outputs')['DataBucket'] }}/raw/'

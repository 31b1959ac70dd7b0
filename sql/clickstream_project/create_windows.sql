-- One record per tumbling window, written by the detector under processed/dt=YYYY-MM-DD/.
CREATE EXTERNAL TABLE IF NOT EXISTS windows (
    window_start string,
    window_end string,
    stream string,
    shard_id string,
    clicks bigint,
    impressions bigint,
    ignored_records bigint,
    ctr double,
    score double,
    threshold double,
    alert boolean,
    warming_up boolean,
    model_version string,
    model_points_seen bigint,
    terminated_early boolean,
    processed_at string
)
PARTITIONED BY (dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION 's3://{{ ti.xcom_pull(task_ids='stack_outputs')['DataBucket'] }}/processed/'

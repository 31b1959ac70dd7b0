"""Kinesis Data Firehose that buffers and delivers to S3 like AWS (docs/local-aws/firehose.md).

delivery_streams.py holds the moto patches (the executor the registry installs); the engine is apart:
configuration.py (a destination as AWS checks it), buffering.py (buffers, batches, throughput quotas),
prefixes.py (object keys), conversion.py (JSON to Parquet / ORC), delivery.py (writing as the role, the
delivery worker), kinesis_source.py (KinesisStreamAsSource's reader) and monitoring.py (metrics, logs).
"""

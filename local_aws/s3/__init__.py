"""Local S3: moto's S3 plus what it only records (lifecycle rules, default encryption, SSE-KMS keys, access logs).

What moto call is intercepted (the patches, registered in local_aws/registry.py):
- lifecycle.py       clock timestamps, Put/Get/DeleteBucketLifecycleConfiguration, x-amz-expiration,
                     multipart initiation times, restore expiry; starts the daily runs
- versioning.py      suspended versioning keeps the versions it has
- encryption.py      default encryption and SSE-KMS keys whose state matters
- access_logging.py  Put/GetBucketLogging, the entry points every S3 request goes through, reset

What really runs (the engine, no moto patches):
- lifecycle_runs.py       the daily lifecycle runs (evaluate, DailyRuns) and the Ticker worker
- lifecycle_rules.py      lifecycle configurations parsed and validated as AWS does
- access_log_records.py   a request's access log records in AWS's format
- access_log_delivery.py  the record buffer, the Flusher worker, log object keys, the delivery permission
See docs/local-aws/s3.md for what differs from AWS.
"""

"""Local Kinesis Data Streams: moto's streams, with a shard's write limits enforced as on AWS.

What moto call is intercepted (the patches, registered in local_aws/registry.py):
- limits.py  PutRecord and PutRecords: records over a shard's write limit are refused
             (ProvisionedThroughputExceededException, or a partial PutRecords failure)
             PutRecords' answer dumped as JSON, not through moto's serializer (100 ms for 500 entries)

What really runs (the engine, no moto patches):
- meter.py   a shard's writes over the last second, and whether one more record fits

Reading (GetRecords, Lambda's Kinesis pollers) is not limited. See docs/local-aws/kinesis.md.
"""

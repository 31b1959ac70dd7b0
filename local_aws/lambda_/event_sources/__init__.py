"""Lambda event sources: what invokes functions besides Invoke itself.

- s3.py: bucket notifications (LambdaFunctionConfigurations) -> Event invocations.
- sns.py: topic subscriptions with protocol lambda -> Event invocations.
- mappings.py: event source mappings (Create/Update/Delete/Get/List), one poller thread each:
  kinesis.py (shards, checkpoints, retries, bisecting, tumbling windows, OnFailure destinations)
  and sqs.py (batches, visibility, deletes, partial batch failures).
- delivery.py: finding the function and invoking it through local_aws/lambda_/invoke.py.
Differences from AWS: docs/local-aws/lambda-event-sources.md.
"""

"""Local Lambda: Python handlers really run, in long-lived execution environments as on AWS.

(The package is `lambda_` because `lambda` is a Python keyword.)

- invoke.py: the API everything else uses: invoke() (RequestResponse) and invoke_async() (Event,
  with retries, destinations and the DLQ).
- runtime.py: execution environments (one worker process each, running bootstrap.py), their
  pool (cold start, warm reuse, concurrency, idle reaping, retirement on code/config updates),
  timeouts, CloudWatch Logs (START/END/REPORT) and the execution role's credentials.
- code.py: a function version's code (ZipFile or S3) and layers, extracted once on disk.
- async_invoke.py: the Event queue, retries, destinations and dead-letter queues.
- service.py: install()/shutdown(): the moto 5.2.5 patches (Invoke, InvokeAsync, DeadLetterConfig,
  reset) that route every invocation here.
- event_sources/: S3 notifications, SNS and event source mappings, on top of invoke.py.
See docs/local-aws/lambda.md for what differs from AWS.
"""

from local_aws.lambda_.invoke import InvokeError, InvokeResult, invoke, invoke_async

__all__ = ["InvokeError", "InvokeResult", "invoke", "invoke_async"]

"""Local Lambda: Python handlers really run, in long-lived execution environments as on AWS.

(The package is `lambda_` because `lambda` is a Python keyword.)

- invoke.py: the API everything else uses: invoke() (RequestResponse) and invoke_async() (Event,
  with retries, destinations and the DLQ).
- runtime.py: Invoke (RequestResponse) in an execution environment: payload checks, timeouts,
  START/END/REPORT, LogType=Tail; and the runtime's reset and shutdown.
- environments.py: execution environments (one worker process each, running bootstrap.py): Init,
  invocations, output, kill and stop.
- pool.py: their pool (cold start, warm reuse, concurrency, idle reaping, retirement on
  code/config updates).
- log_shipping.py: invocation logs to CloudWatch Logs, written in the background.
- execution_role.py: the execution role's credentials (AssumeRole, trust policy check, cache).
- code.py: a function version's code (ZipFile or S3) and layers, extracted once on disk.
- async_invoke.py: the Event queue, retries, destinations and dead-letter queues.
- lifecycle.py: State (Pending -> Active), LastUpdateStatus (InProgress -> Successful), RevisionId,
  and what Lambda refuses meanwhile.
- configuration.py: what CreateFunction and the updates accept (Lambda's checks and words) and the
  settings moto does not keep (LoggingConfig, DeadLetterConfig, ...).
- platform_log.py: Lambda's own log lines (START, REPORT, ...) as text or JSON (LoggingConfig).
- service.py: the moto 5.2.5 patches (Invoke, InvokeAsync, CreateFunction, the updates,
  PublishVersion, permissions, aliases, ListFunctions, reset) that route every invocation here
  and answer as Lambda does; its install()/shutdown() start and stop the runtime.
- event_sources/: S3 notifications, SNS and event source mappings, on top of invoke.py.
See docs/local-aws/lambda.md for what differs from AWS.
"""

from local_aws.lambda_.invoke import InvokeError, InvokeResult, invoke, invoke_async

__all__ = ["InvokeError", "InvokeResult", "invoke", "invoke_async"]

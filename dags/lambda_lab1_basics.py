"""
### Lambda lab 1: basics (create, configure, invoke, read the logs)

The course's first Lambda lab, with `lambdas/basics.py` as the function:

1. **Setup**: a code bucket holding the deployment package (the handler module zipped alone,
   `basics.handler` at the zip root) and an **execution role** Lambda assumes, with the managed
   `AWSLambdaBasicExecutionRole` (write its logs to CloudWatch Logs) and nothing else.
2. **Create the function** (Python 3.11) with the settings the course walks through: memory
   256 MB (CPU is proportional to it), ephemeral storage (`/tmp`) 1024 MB, timeout 10 s, and the
   environment variable `GREETING` (param `greeting`). A rerun updates code and settings. Wait
   until it is **Active**.
3. **Invoke** it synchronously with `{"name": <param name>}` and `LogType=Tail` (the last 4 KB of
   its log come back with the response and show in the task log). The function returns the region
   from `AWS_REGION`, its greeting, and what its context object says: name, version, memory limit,
   time left before the timeout, request id, log group and stream.
4. **CloudWatch Logs**: wait until the function's log line and Lambda's `REPORT` line for that
   request are in the log group `/aws/lambda/<function>`.
5. **Validate** the response against the function's configuration; **teardown** (param
   `teardown`): function, log group, code bucket, role.

Names derive from the Airflow Variable `aws_name_prefix` (default `ade`); the `aws_default`
connection decides whether this runs on local AWS or in an AWS account.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.sdk import Param, chain, task

from labkit.core.dag import body_watcher, lab_dag, teardown_gate
from labkit.labs import aws_lambda as lab
from labkit.operators.logs import CloudWatchLogsTextSensor

FUNCTION = "{{ names.resource('basics') }}"
LOG_GROUP = lab.log_group(FUNCTION)
MEMORY_MB = 256
EPHEMERAL_STORAGE_MB = 1024
TIMEOUT_SECONDS = 10
REQUEST_ID = "{{ macros.json.loads(ti.xcom_pull(task_ids='invoke_function'))['request_id'] }}"

with lab_dag(
    "lambda_lab1_basics",
    lab="lambda-lab1",
    description="Lambda lab 1: a Python function with memory, /tmp, timeout and environment set, invoked, its logs read",
    doc_md=__doc__,
    tags=["lambda", "cloudwatch-logs"],
    params={
        "greeting": Param("Hello", type="string", description="The function's GREETING environment variable"),
        "name": Param("data engineers", type="string", description="Who the invocation's event greets"),
    },
) as dag:
    # --- setup: code bucket and package, execution role, the function (created or updated), Active
    create_function, wait_for_function_active = lab.setup(
        function=FUNCTION,
        module="basics",
        description="Lambda lab 1: what a function sees at run time",
        timeout=TIMEOUT_SECONDS,
        memory_mb=MEMORY_MB,
        ephemeral_storage_mb=EPHEMERAL_STORAGE_MB,
        environment={"GREETING": "{{ params.greeting }}"},
    )

    # --- work: invoke it, find its log lines
    invoke_function = LambdaInvokeFunctionOperator(
        task_id="invoke_function",
        function_name=FUNCTION,
        payload='{"name": {{ params.name | tojson }}}',
        log_type="Tail",
    )
    wait_for_logs = CloudWatchLogsTextSensor(
        task_id="wait_for_logs",
        log_group=LOG_GROUP,
        texts=[f"request {REQUEST_ID}", f"REPORT RequestId: {REQUEST_ID}"],
        start_time="{{ dag_run.start_date }}",  # only this run's lines: no paging through older runs' logs
        poke_interval=2,
        timeout=300,
    )

    # --- checks
    @task
    def validate(payload: str, logged: dict, function_name: str, params: dict) -> dict:
        """The function saw its configuration (region, memory, environment) and its log line is in CloudWatch."""
        import json

        from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook

        from labkit.core.validation import ValidationError

        result = json.loads(payload)
        hook = LambdaHook()
        config = hook.conn.get_function_configuration(FunctionName=function_name)
        expected = {
            "greeting": f"{params['greeting']}, {params['name']}!",
            "region": hook.conn.meta.region_name,
            "function_name": function_name,
            "function_version": "$LATEST",
            "memory_limit_in_mb": config["MemorySize"],
            "log_group_name": lab.log_group(function_name),
        }
        problems = [f"{key}: {result.get(key)!r}, expected {value!r}" for key, value in expected.items()
                    if result.get(key) != value]  # fmt: skip
        if not 0 < result["remaining_time_in_millis"] <= config["Timeout"] * 1000:
            problems.append(
                f"remaining time {result['remaining_time_in_millis']} ms is outside the {config['Timeout']} s timeout"
            )
        if (config["MemorySize"], config["Timeout"], config["EphemeralStorage"]["Size"]) != (
            MEMORY_MB, TIMEOUT_SECONDS, EPHEMERAL_STORAGE_MB,
        ):  # fmt: skip
            problems.append(
                f"configuration {config['MemorySize']} MB, {config['Timeout']} s, {config['EphemeralStorage']}"
            )
        if problems:
            raise ValidationError("Lambda lab 1: " + "; ".join(problems))
        (report,) = [line for text, lines in logged.items() if text.startswith("REPORT") for line in lines]
        return {
            "greeting": result["greeting"],
            "region": result["region"],
            "memory_limit_in_mb": result["memory_limit_in_mb"],
            "timeout_seconds": config["Timeout"],
            "ephemeral_storage_mb": config["EphemeralStorage"]["Size"],
            "environment": config["Environment"]["Variables"],
            "log_stream": result["log_stream_name"],
            "report": report.split("\t", 1)[1].strip() if "\t" in report else report,
        }

    checks = validate(invoke_function.output, wait_for_logs.output, FUNCTION)

    # --- teardown
    gate = teardown_gate()
    chain(wait_for_function_active, invoke_function, wait_for_logs, checks, gate, lab.teardown(function=FUNCTION))
    body_watcher(dag, gate)

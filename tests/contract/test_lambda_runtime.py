"""Lambda functions against local AWS through boto3: Python handlers really run, as on AWS.

Each test deploys small handlers zipped here, invokes them through the Lambda API and checks
what a user sees: payloads, FunctionError, headers, logs, environments kept warm or replaced,
the role the handler acts as, and Event invocations' retries, destinations and DLQ.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time

import pytest
from botocore.exceptions import ClientError

from tests.lambda_support import TRUST, create_role, wait_for, wait_until_active, wait_until_updated, zip_of

ACCOUNT = "123456789012"
ROLE = "lambda-lab-role"

COUNTER = """
import os
invocations = 0

def handler(event, context):
    global invocations
    invocations += 1
    print(f"invocation {invocations}")
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    if event.get("gather"):  # wait, 30 s at most, until `count` invocations have arrived
        import time, boto3
        s3, spec = boto3.client("s3"), event["gather"]
        s3.put_object(Bucket=spec["bucket"], Key=spec["prefix"] + context.aws_request_id, Body=b"")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and s3.list_objects_v2(
                Bucket=spec["bucket"], Prefix=spec["prefix"])["KeyCount"] < spec["count"]:
            time.sleep(0.05)
    if event.get("fail"):
        raise ValueError(f"bad input: {event['fail']}")
    return {"invocations": invocations, "pid": os.getpid(), "stream": context.log_stream_name}
"""


# ---- helpers ----


def invoke(lam, name: str, event: dict | None = None, **kwargs) -> tuple[dict, object]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    body = response["Payload"].read()
    return response, json.loads(body) if body else None


def tail(response: dict) -> list[str]:
    return base64.b64decode(response["LogResult"]).decode().splitlines()


def log_events(logs, name: str) -> list[dict]:
    group = f"/aws/lambda/{name}"
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
        return [event for page in pages for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def receive(sqs, queue_url: str, limit: float = 20.0) -> dict:
    def one():
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages")
        return messages[0] if messages else None

    return wait_for(one, limit)


@pytest.fixture
def role_arn(aws_client) -> str:
    return create_role(aws_client("iam"), ROLE)  # allow-all inline policy "lab"


@pytest.fixture
def deploy(lam, role_arn):
    """deploy(name, source or {file: source}, **CreateFunction fields) -> the function's name."""

    def create(name: str, source: str | dict, **fields) -> str:
        files = {"app.py": source} if isinstance(source, str) else source
        fields = {"Runtime": "python3.12", "Handler": "app.handler", "Timeout": 10, **fields}
        lam.create_function(FunctionName=name, Role=role_arn, Code={"ZipFile": zip_of(files)}, **fields)
        wait_until_active(lam, name)
        return name

    return create


# ---- environments: cold and warm starts, concurrency, timeouts ----


def test_warm_invocations_reuse_the_environment_and_its_module_state(lam, deploy):
    deploy("counter", COUNTER)

    runs = [invoke(lam, "counter", LogType="Tail") for _ in range(3)]

    assert [body["invocations"] for _, body in runs] == [1, 2, 3]
    assert len({body["pid"] for _, body in runs}) == 1
    assert len({body["stream"] for _, body in runs}) == 1
    reports = [next(line for line in tail(response) if line.startswith("REPORT")) for response, _ in runs]
    assert "Init Duration: " in reports[0]
    assert not any("Init Duration" in report for report in reports[1:])
    for (response, _), report in zip(runs, reports, strict=True):
        request_id = response["ResponseMetadata"]["RequestId"]
        assert report.startswith(f"REPORT RequestId: {request_id}\tDuration: ")
        assert re.search(r"\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB", report)


def test_concurrent_invocations_run_in_separate_environments(lam, deploy, aws_client):
    deploy("concurrent", COUNTER, Timeout=45)
    aws_client("s3").create_bucket(Bucket="arrivals")
    results = []

    def call():  # each handler waits until all three are running: one environment could not hold them
        results.append(invoke(lam, "concurrent", {"gather": {"bucket": "arrivals", "prefix": "in/", "count": 3}})[1])

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 3
    assert len({result["pid"] for result in results}) == 3
    assert [result["invocations"] for result in results] == [1, 1, 1]
    _, after = invoke(lam, "concurrent")
    assert after["pid"] in {result["pid"] for result in results}  # a warm one is reused
    assert after["invocations"] == 2


def test_timeout_kills_the_environment_and_the_next_invocation_starts_fresh(lam, deploy):
    deploy("slow", COUNTER, Timeout=1)
    _, first = invoke(lam, "slow")

    started = time.monotonic()
    response, error = invoke(lam, "slow", {"sleep": 30}, LogType="Tail")

    assert time.monotonic() - started < 30  # cut at the timeout, not slept out
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds",
    }
    lines = tail(response)
    assert any(line.endswith(f"{request_id} Task timed out after 1.00 seconds") for line in lines)
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}") and lines[-1].endswith("Status: timeout")

    response, after = invoke(lam, "slow", LogType="Tail")
    assert after["invocations"] == 1 and after["pid"] != first["pid"]
    assert "Init Duration" in tail(response)[-1]


def test_a_crashing_runtime_is_replaced(lam, deploy):
    deploy("crashes", "import os\ndef handler(event, context):\n    os._exit(3)\n")

    response, error = invoke(lam, "crashes", LogType="Tail")

    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["FunctionError"] == "Unhandled"
    assert error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3",
    }
    assert tail(response)[-1].endswith("Status: error\tError Type: Runtime.ExitError")
    assert "Init Duration" in tail(invoke(lam, "crashes", LogType="Tail")[0])[-1]  # a fresh environment


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_idle_environments_are_stopped(lam, deploy, local_aws):
    deploy("idle", COUNTER)
    _, first = invoke(lam, "idle")
    saved = local_aws.settings.lambda_idle_seconds
    local_aws.settings.lambda_idle_seconds = 0.3
    try:
        wait_for(lambda: not process_exists(first["pid"]))  # the reaper stopped it
        _, second = invoke(lam, "idle")
    finally:
        local_aws.settings.lambda_idle_seconds = saved
    assert second["invocations"] == 1 and second["pid"] != first["pid"]


def test_reset_stops_every_environment(lam, deploy, local_aws):
    deploy("reset-me", COUNTER)
    _, body = invoke(lam, "reset-me")

    local_aws.reset()

    with pytest.raises(ProcessLookupError):  # the worker was killed and reaped
        os.kill(body["pid"], 0)


def test_code_from_s3_and_layers_are_importable(lam, role_arn, aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="lambda-code")
    s3.put_object(
        Bucket="lambda-code",
        Key="app.zip",
        Body=zip_of(
            {"app.py": "import shared\ndef handler(event, context):\n    return shared.greet(event['name'])\n"}
        ),
    )
    layer = lam.publish_layer_version(
        LayerName="shared",
        Content={"ZipFile": zip_of({"python/shared.py": "def greet(name):\n    return f'hello {name}'\n"})},
        CompatibleRuntimes=["python3.12"],
    )["LayerVersionArn"]
    lam.create_function(
        FunctionName="from-s3",
        Runtime="python3.12",
        Role=role_arn,
        Handler="app.handler",
        Code={"S3Bucket": "lambda-code", "S3Key": "app.zip"},
        Layers=[layer],
    )
    wait_until_active(lam, "from-s3")

    assert invoke(lam, "from-s3", {"name": "lab"})[1] == "hello lab"


def test_update_function_code_and_configuration_take_effect_on_the_next_invocation(lam, deploy):
    deploy("versioned", "def handler(event, context):\n    return 'one'\n")
    assert invoke(lam, "versioned")[1] == "one"

    lam.update_function_code(
        FunctionName="versioned",
        ZipFile=zip_of(
            {"app.py": "import os\ndef handler(event, context):\n    return os.environ.get('GREETING', 'two')\n"}
        ),
    )
    wait_until_updated(lam, "versioned")
    assert invoke(lam, "versioned")[1] == "two"

    lam.update_function_configuration(FunctionName="versioned", Environment={"Variables": {"GREETING": "three"}})
    wait_until_updated(lam, "versioned")
    assert invoke(lam, "versioned")[1] == "three"


# ---- errors ----


def test_unhandled_exception_returns_the_runtime_error_document(lam, deploy):
    deploy("failing", COUNTER)
    _, first = invoke(lam, "failing")

    response, error = invoke(lam, "failing", {"fail": "x"}, LogType="Tail")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "bad input: x"
    assert error["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert len(error["stackTrace"]) == 1
    assert error["stackTrace"][0].startswith('  File "/var/task/app.py", line 21, in handler')  # AWS's path
    assert "raise ValueError" in error["stackTrace"][0]
    assert any(line.startswith("[ERROR] ValueError: bad input: x") for line in tail(response))
    # AWS's Python runtime reports the exception and keeps the environment.
    _, after = invoke(lam, "failing")
    assert after["pid"] == first["pid"] and after["invocations"] == 3


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"app.py": "import missing_module\ndef handler(e, c):\n    return 1\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'missing_module'",
        ),
        (
            {"app.py": "def handler(e, c):\n    return 1\n"},
            "app.nope",
            "Runtime.HandlerNotFound",
            "Handler 'nope' missing on module 'app'",
        ),
        ({"app.py": "def handler(e, c)\n    return 1\n"}, "app.handler", "Runtime.UserCodeSyntaxError", None),
        (
            {"app.py": "def handler(e, c):\n    return {1, 2}\n"},
            "app.handler",
            "Runtime.MarshalError",
            "Unable to marshal response: Object of type set is not JSON serializable",
        ),
    ],
    ids=["import-error", "handler-not-found", "syntax-error", "marshal-error"],
)
def test_bad_code_fails_like_aws_runtime(lam, deploy, files, handler, error_type, message):
    deploy("broken", files, Handler=handler)

    response, error = invoke(lam, "broken", LogType="Tail")

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == error_type
    if error_type != "Runtime.MarshalError":  # Init failed: reported on this invocation, retried on the next
        assert error["requestId"] == "" and error["stackTrace"] == []
        lines = tail(response)
        assert any(line.startswith(f"[ERROR] {error_type}: ") for line in lines)
        assert lines[-1].endswith(f"Status: error\tError Type: {error_type}")
    if message:
        assert error["errorMessage"] == message
    else:
        assert error["errorMessage"].startswith("Syntax error in module 'app': ")


def test_nested_package_handler_runs(lam, deploy):
    deploy(
        "nested",
        {
            "pkg/__init__.py": "",
            "pkg/jobs/__init__.py": "",
            "pkg/jobs/run.py": "def main(e, c):\n    return 'nested'\n",
        },
        Handler="pkg/jobs/run.main",
    )
    assert invoke(lam, "nested")[1] == "nested"


def test_invoke_api_errors_dry_run_and_event(lam, deploy, role_arn):
    deploy("plain", "def handler(e, c):\n    return e\n")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="plain", Payload=b"{not json")
    assert lam.invoke(FunctionName="plain", InvocationType="DryRun")["StatusCode"] == 204
    event = lam.invoke(FunctionName="plain", InvocationType="Event", Payload=b"{}")
    assert event["StatusCode"] == 202
    assert lam.invoke_async(FunctionName="plain", InvokeArgs=b"{}")["Status"] == 202  # the deprecated API

    lam.create_function(
        FunctionName="node",
        Runtime="nodejs20.x",
        Role=role_arn,
        Handler="index.handler",
        Code={"ZipFile": zip_of({"index.js": "exports.handler = async () => 1;"})},
    )
    wait_until_active(lam, "node")
    with pytest.raises(lam.exceptions.InvalidRuntimeException, match="runs only Python"):
        lam.invoke(FunctionName="node", Payload=b"{}")

    lam.put_function_concurrency(FunctionName="plain", ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException):
        lam.invoke(FunctionName="plain", Payload=b"{}")


def test_invoke_accepts_every_function_name_form_lambda_does(lam, deploy):
    deploy("named", "def handler(e, c):\n    return e\n")
    wait_until_active(lam, "named", lam.publish_version(FunctionName="named")["Version"])
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:named"
    for name, version in [("named", "$LATEST"), ("named:1", "1"), (f"{ACCOUNT}:function:named", "$LATEST"),
                          (f"{ACCOUNT}:function:named:1", "1"), (arn, "$LATEST"), (f"{arn}:1", "1")]:  # fmt: skip
        response = lam.invoke(FunctionName=name, Payload=b'{"n": 1}')
        assert (response["ExecutedVersion"], json.loads(response["Payload"].read())) == (version, {"n": 1}), name
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="is not a function name"):
        lam.invoke(FunctionName=f"{ACCOUNT}:layer:named", Payload=b"{}")


# ---- what the handler sees: environment, context, role ----


ENVIRONMENT = """
import os

NAMES = [
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_EXECUTION_ENV", "_HANDLER", "TZ",
    "STAGE", "LAMBDA_TASK_ROOT",
]

def handler(event, context):
    values = {name: os.environ.get(name) for name in NAMES}
    values["cwd"] = os.getcwd()
    values["stream_matches"] = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"] == context.log_stream_name
    values["has_session_token"] = bool(os.environ.get("AWS_SESSION_TOKEN"))
    import tempfile
    with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir()) as scratch:
        values["tmp_is_private"] = tempfile.gettempdir() != "/tmp" and os.path.exists(scratch.name)
    return values
"""


def test_handler_sees_the_runtime_and_user_environment_variables(lam, deploy):
    deploy("environment", ENVIRONMENT, MemorySize=256, Environment={"Variables": {"STAGE": "lab"}})

    _, values = invoke(lam, "environment")

    assert values == {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "environment",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/environment",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "_HANDLER": "app.handler",
        "TZ": ":UTC",
        "STAGE": "lab",
        "LAMBDA_TASK_ROOT": values["cwd"],
        "cwd": values["cwd"],
        "stream_matches": True,
        "has_session_token": True,
        "tmp_is_private": True,
    }


CONTEXT = """
import time

def handler(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.2)
    return {
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "remaining": [first, context.get_remaining_time_in_millis()],
        "custom": context.client_context.custom if context.client_context else None,
        "identity_id": context.identity.cognito_identity_id,
    }
"""


def test_context_has_aws_fields_and_a_deadline(lam, deploy):
    deploy("context", CONTEXT, Timeout=5, MemorySize=512)
    version = lam.publish_version(FunctionName="context")["Version"]
    wait_until_active(lam, "context", version)
    lam.create_alias(FunctionName="context", Name="live", FunctionVersion=version)
    client_context = base64.b64encode(json.dumps({"custom": {"tenant": "acme"}}).encode()).decode()

    started = time.monotonic()
    response, context = invoke(lam, "context", Qualifier="live", ClientContext=client_context)
    took_ms = (time.monotonic() - started) * 1000

    assert response["ExecutedVersion"] == version == "1"
    first, second = context.pop("remaining")
    # The 5 s deadline started after the call was made: at most took_ms of it (+1 ms of rounding) had gone by.
    assert 5000 - took_ms - 1 <= first <= 5000 and first - second >= 200
    assert context == {
        "request_id": response["ResponseMetadata"]["RequestId"],
        "function_name": "context",
        "function_version": "1",
        "invoked_function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:context:live",
        "memory_limit_in_mb": "512",
        "log_group_name": "/aws/lambda/context",
        "custom": {"tenant": "acme"},
        "identity_id": None,
    }


AS_ROLE = """
import boto3

def handler(event, context):
    identity = boto3.client("sts").get_caller_identity()
    boto3.client("s3").put_object(Bucket=event["bucket"], Key="from-lambda.txt", Body=identity["Arn"].encode())
    return identity["Arn"]
"""


def test_handler_acts_as_its_execution_role_against_local_aws(lam, deploy, aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="lambda-output")
    deploy("as-role", AS_ROLE)

    _, arn = invoke(lam, "as-role", {"bucket": "lambda-output"})

    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/as-role"
    assert s3.get_object(Bucket="lambda-output", Key="from-lambda.txt")["Body"].read().decode() == arn


def test_invocation_fails_clearly_when_the_role_cannot_be_assumed(lam, deploy, aws_client):
    iam = aws_client("iam")
    deploy("orphan", "def handler(e, c):\n    return 1\n")
    iam.delete_role_policy(RoleName=ROLE, PolicyName="lab")
    iam.delete_role(RoleName=ROLE)
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="cannot be assumed by Lambda.*orphan"):
        lam.invoke(FunctionName="orphan", Payload=b"{}")

    glue_trust = json.dumps(
        {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "glue.amazonaws.com"}}]}
    )
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=glue_trust)
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="does not allow lambda.amazonaws.com"):
        lam.invoke(FunctionName="orphan", Payload=b"{}")


# ---- logs ----


LOGGING = """
import logging

print("module imported")
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    print("hello from print")
    logger.info("hello from logging\\nsecond line")
    return "ok"
"""


def test_logs_reach_cloudwatch_and_the_log_tail(lam, deploy, aws_client):
    deploy("logging", LOGGING)

    response, _ = invoke(lam, "logging", LogType="Tail")

    request_id = response["ResponseMetadata"]["RequestId"]
    lines = tail(response)
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert lines[1] == "hello from print"
    assert re.fullmatch(
        rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id}\thello from logging", lines[2]
    )
    assert lines[3] == "second line"  # one log event, two lines
    assert lines[4] == f"END RequestId: {request_id}"
    assert lines[5].startswith(f"REPORT RequestId: {request_id}")

    logs = aws_client("logs")
    events = wait_for(
        lambda: (
            [e for e in log_events(logs, "logging") if e["message"].startswith("REPORT")]
            and log_events(logs, "logging")
        )
    )
    messages = [event["message"] for event in events]
    assert messages[0].startswith("INIT_START Runtime Version: python3.12")
    assert messages[1:4] == ["module imported", f"START RequestId: {request_id} Version: $LATEST", "hello from print"]
    assert messages[4].endswith("hello from logging\nsecond line")
    assert messages[5:7] == [f"END RequestId: {request_id}", lines[5]]
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/logging")["logStreams"]
    assert len(streams) == 1
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])


# ---- Event invocations: retries, destinations, DLQ ----


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")


def queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def test_failing_event_is_retried_twice_then_sent_to_the_failure_destination(lam, deploy, sqs, aws_client):
    deploy("always-fails", COUNTER)
    failures_url, failures_arn = queue(sqs, "failures")
    lam.put_function_event_invoke_config(
        FunctionName="always-fails", DestinationConfig={"OnFailure": {"Destination": failures_arn}}
    )

    response = lam.invoke(FunctionName="always-fails", InvocationType="Event", Payload=b'{"fail": "always"}')

    assert response["StatusCode"] == 202
    request_id = response["ResponseMetadata"]["RequestId"]
    record = json.loads(receive(sqs, failures_url)["Body"])
    assert record["version"] == "1.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:always-fails:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"fail": "always"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "bad input: always"
    # Three attempts with the same request id, the environment kept (module state counts them).
    logs = aws_client("logs")
    starts = wait_for(
        lambda: [
            e for e in log_events(logs, "always-fails") if e["message"].startswith(f"START RequestId: {request_id}")
        ]
    )
    assert len(starts) == 3
    prints = [e["message"] for e in log_events(logs, "always-fails") if e["message"].startswith("invocation ")]
    assert prints == ["invocation 1", "invocation 2", "invocation 3"]


def test_successful_event_goes_to_the_success_destination(lam, deploy, sqs):
    deploy("succeeds", COUNTER)
    url, arn = queue(sqs, "successes")
    lam.put_function_event_invoke_config(FunctionName="succeeds", DestinationConfig={"OnSuccess": {"Destination": arn}})

    request_id = lam.invoke(FunctionName="succeeds", InvocationType="Event", Payload=b'{"order": 7}')[
        "ResponseMetadata"
    ]["RequestId"]

    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"]["invocations"] == 1


def test_maximum_retry_attempts_zero_fails_after_one_attempt(lam, deploy, sqs):
    deploy("no-retries", COUNTER)
    url, arn = queue(sqs, "no-retries-failures")
    lam.put_function_event_invoke_config(
        FunctionName="no-retries", MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}}
    )

    lam.invoke(FunctionName="no-retries", InvocationType="Event", Payload=b'{"fail": "once"}')

    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["condition"] == "RetriesExhausted"


def test_failed_event_goes_to_the_dead_letter_queue_without_a_failure_destination(lam, deploy, sqs):
    url, arn = queue(sqs, "dead-letters")
    deploy("with-dlq", COUNTER, DeadLetterConfig={"TargetArn": arn})
    assert lam.get_function_configuration(FunctionName="with-dlq")["DeadLetterConfig"] == {"TargetArn": arn}
    lam.put_function_event_invoke_config(FunctionName="with-dlq", MaximumRetryAttempts=1)

    request_id = lam.invoke(FunctionName="with-dlq", InvocationType="Event", Payload=b'{"fail": "dlq"}')[
        "ResponseMetadata"
    ]["RequestId"]

    message = receive(sqs, url)
    assert json.loads(message["Body"]) == {"fail": "dlq"}
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes == {"RequestID": request_id, "ErrorCode": "200", "ErrorMessage": "bad input: dlq"}


def test_failure_destination_can_be_another_function(lam, deploy, aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="failed-events")
    deploy(
        "on-failure",
        """
        import json, boto3

        def handler(record, context):
            key = record["requestContext"]["requestId"]
            boto3.client("s3").put_object(Bucket="failed-events", Key=key, Body=json.dumps(record).encode())
        """,
    )
    deploy("fails-to-lambda", COUNTER)
    target = lam.get_function(FunctionName="on-failure")["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName="fails-to-lambda", MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": target}}
    )

    request_id = lam.invoke(FunctionName="fails-to-lambda", InvocationType="Event", Payload=b'{"fail": "chain"}')[
        "ResponseMetadata"
    ]["RequestId"]

    def stored():
        try:
            return s3.get_object(Bucket="failed-events", Key=request_id)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    record = json.loads(wait_for(stored))
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"fail": "chain"}
    assert record["responsePayload"]["errorMessage"] == "bad input: chain"


def test_handler_reaches_local_aws_over_tls_like_on_aws(lam, deploy, aws_client):
    """A bucket policy that refuses plain HTTP refuses this test's http:// client, not the handler."""
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="tls-only")
    deny_insecure = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::tls-only/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny_insecure]}))
    deploy("as-role", AS_ROLE)

    _, arn = invoke(lam, "as-role", {"bucket": "tls-only"})

    assert s3.get_object(Bucket="tls-only", Key="from-lambda.txt")["Body"].read().decode() == arn
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.put_object(Bucket="tls-only", Key="over-http.txt", Body=b"x")

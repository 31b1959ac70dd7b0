"""A Lambda function's lifecycle and fields against local AWS, as AWS documents them.

State Pending -> Active after CreateFunction and PublishVersion, LastUpdateStatus InProgress ->
Successful after updates (and what Lambda refuses meanwhile, in its words), RevisionId and its
preconditions, LoggingConfig (its defaults, its log group, JSON log format), and tracebacks that
show /var/task and /opt as on AWS.

Provisioning is held open here (lifecycle._prepare waits for the test) wherever a test looks at
what happens before a function is Active, so no check depends on how fast the machine is.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.lambda_support import wait_for, wait_until_active, wait_until_updated, zip_of

ACCOUNT = "123456789012"
V1 = zip_of({"app.py": "import os\ndef handler(event, context):\n    return ['one', os.getpid()]\n"})
V2 = zip_of({"app.py": "import os\ndef handler(event, context):\n    return ['two', os.getpid()]\n"})
PENDING = "The operation cannot be performed at this time. The function is currently in the following state: Pending"


def create(lam, role_arn: str, name: str, code: bytes = V1, **fields) -> dict:
    fields = {"Runtime": "python3.12", "Handler": "app.handler", **fields}
    return lam.create_function(FunctionName=name, Role=role_arn, Code={"ZipFile": code}, **fields)


def result(lam, name: str, **kwargs) -> list:
    return json.loads(lam.invoke(FunctionName=name, Payload=b"{}", **kwargs)["Payload"].read())


def conflict(call, **kwargs) -> str:
    with pytest.raises(call.__self__.exceptions.ResourceConflictException) as refused:
        call(**kwargs)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    return refused.value.response["Error"]["Message"]


# ---- State: Pending until provisioned, then Active ----


def test_a_new_function_is_pending_refuses_invoke_and_updates_then_turns_active(lam, role_arn, provisioning):
    created = create(lam, role_arn, "fresh")
    arn = created["FunctionArn"]

    assert (created["State"], created["StateReasonCode"]) == ("Pending", "Creating")
    assert created["StateReason"] == "The function is being created."
    assert "LastUpdateStatus" not in created
    assert lam.get_function(FunctionName="fresh")["Configuration"]["State"] == "Pending"
    assert conflict(lam.invoke, FunctionName="fresh", Payload=b"{}") == PENDING
    assert conflict(lam.invoke, FunctionName="fresh", InvocationType="Event", Payload=b"{}") == PENDING
    assert conflict(lam.invoke, FunctionName="fresh", InvocationType="DryRun") == PENDING
    refused_update = (
        f"The operation cannot be performed at this time. The resource {arn} is currently in the following state: "
        "'Pending'. StateReasonCode: 'Creating'"
    )
    assert conflict(lam.update_function_code, FunctionName="fresh", ZipFile=V2) == refused_update
    assert conflict(lam.update_function_configuration, FunctionName="fresh", Timeout=9) == refused_update
    assert conflict(lam.publish_version, FunctionName="fresh") == refused_update

    provisioning.set()
    wait_until_active(lam, "fresh")  # boto3's function_active_v2 waiter, as the provider's operator uses it

    active = lam.get_function(FunctionName="fresh")["Configuration"]
    assert (active["State"], active["LastUpdateStatus"]) == ("Active", "Successful")
    assert "StateReason" not in active and "StateReasonCode" not in active
    assert result(lam, "fresh")[0] == "one"


def test_an_update_is_in_progress_while_invocations_run_the_previous_code(lam, role_arn, provisioning):
    create(lam, role_arn, "updated")
    provisioning.set()
    wait_until_active(lam, "updated")
    _, warm_pid = result(lam, "updated")
    provisioning.clear()

    answered = lam.update_function_code(FunctionName="updated", ZipFile=V2)

    assert (answered["State"], answered["LastUpdateStatus"]) == ("Active", "InProgress")
    assert answered["LastUpdateStatusReasonCode"] == "Creating"
    assert result(lam, "updated") == ["one", warm_pid]  # the previous code, in its warm environment
    in_progress = (
        "The operation cannot be performed at this time. An update is in progress for resource: "
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:updated"
    )
    assert conflict(lam.update_function_configuration, FunctionName="updated", MemorySize=256) == in_progress
    assert conflict(lam.publish_version, FunctionName="updated") == in_progress

    provisioning.set()
    wait_until_updated(lam, "updated")  # function_updated_v2

    done = lam.get_function_configuration(FunctionName="updated")
    assert (done["LastUpdateStatus"], done.get("LastUpdateStatusReasonCode")) == ("Successful", None)
    assert result(lam, "updated")[0] == "two"
    lam.update_function_configuration(FunctionName="updated", MemorySize=256)  # no update in progress now
    wait_until_updated(lam, "updated")
    assert lam.get_function_configuration(FunctionName="updated")["MemorySize"] == 256


def test_a_published_version_and_its_alias_are_invocable_once_the_version_is_active(lam, role_arn, provisioning):
    create(lam, role_arn, "released")
    provisioning.set()
    wait_until_active(lam, "released")
    provisioning.clear()

    version = lam.publish_version(FunctionName="released")
    lam.create_alias(FunctionName="released", Name="live", FunctionVersion=version["Version"])

    assert (version["Version"], version["State"], version["StateReasonCode"]) == ("1", "Pending", "Creating")
    assert conflict(lam.invoke, FunctionName="released", Qualifier="1", Payload=b"{}") == PENDING
    assert conflict(lam.invoke, FunctionName="released:live", Payload=b"{}") == PENDING
    assert result(lam, "released")[0] == "one"  # $LATEST stays Active

    provisioning.set()
    wait_until_active(lam, "released", "1")  # published_version_active

    assert result(lam, "released", Qualifier="live")[0] == "one"
    assert lam.publish_version(FunctionName="released")["Version"] == "1"  # nothing changed: the same version


def test_create_with_publish_answers_version_one_pending(lam, role_arn):
    created = create(lam, role_arn, "published", Publish=True)

    assert (created["Version"], created["State"]) == ("1", "Pending")
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:published"
    wait_until_active(lam, "published", "1")
    assert result(lam, "published", Qualifier="1")[0] == "one"


# ---- RevisionId ----


def test_revision_id_changes_with_every_change_and_guards_updates(lam, role_arn):
    created = create(lam, role_arn, "guarded")
    wait_until_active(lam, "guarded")
    active = lam.get_function(FunctionName="guarded")["Configuration"]["RevisionId"]
    assert active != created["RevisionId"]  # Pending -> Active is a change too

    stale = "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to "
    stale += "retrieve the latest Revision Id"
    for call, fields in [
        (lam.update_function_code, {"ZipFile": V2}),
        (lam.update_function_configuration, {"Timeout": 9}),
        (lam.publish_version, {}),
    ]:
        with pytest.raises(lam.exceptions.PreconditionFailedException, match=stale):
            call(FunctionName="guarded", RevisionId=created["RevisionId"], **fields)

    updated = lam.update_function_configuration(FunctionName="guarded", Timeout=9, RevisionId=active)
    assert updated["RevisionId"] not in (created["RevisionId"], active)
    wait_until_updated(lam, "guarded")
    current = lam.get_function_configuration(FunctionName="guarded")["RevisionId"]

    statement = {"StatementId": "s3", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}
    with pytest.raises(lam.exceptions.PreconditionFailedException, match="Call the GetPolicy API"):
        lam.add_permission(FunctionName="guarded", RevisionId=active, **statement)
    lam.add_permission(FunctionName="guarded", RevisionId=current, **statement)
    after_permission = lam.get_function(FunctionName="guarded")["Configuration"]["RevisionId"]
    assert after_permission != current
    with pytest.raises(lam.exceptions.PreconditionFailedException, match=stale):
        lam.publish_version(FunctionName="guarded", RevisionId=current)
    version = lam.publish_version(FunctionName="guarded", RevisionId=after_permission)
    wait_until_active(lam, "guarded", version["Version"])  # the version's changes are its own
    policy = lam.get_policy(FunctionName="guarded")
    assert policy["RevisionId"] == lam.get_function(FunctionName="guarded")["Configuration"]["RevisionId"]
    assert policy["RevisionId"] == after_permission
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.remove_permission(FunctionName="guarded", StatementId="s3", RevisionId=current)
    lam.remove_permission(FunctionName="guarded", StatementId="s3", RevisionId=policy["RevisionId"])

    alias = lam.create_alias(FunctionName="guarded", Name="live", FunctionVersion=version["Version"])
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_alias(FunctionName="guarded", Name="live", Description="x", RevisionId="stale")
    renamed = lam.update_alias(FunctionName="guarded", Name="live", Description="x", RevisionId=alias["RevisionId"])
    assert renamed["RevisionId"] != alias["RevisionId"]


# ---- LoggingConfig ----


def test_logging_config_defaults_and_what_lambda_refuses(lam, role_arn):
    default = create(lam, role_arn, "texts")["LoggingConfig"]
    as_json = create(lam, role_arn, "jsons", LoggingConfig={"LogFormat": "JSON"})["LoggingConfig"]

    assert default == {"LogFormat": "Text", "LogGroup": "/aws/lambda/texts"}
    assert as_json == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": "/aws/lambda/jsons",
    }  # fmt: skip
    with pytest.raises(lam.exceptions.InvalidParameterValueException, match="LogLevel is not supported when LogFormat"):
        create(lam, role_arn, "mixed", LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"})

    wait_until_active(lam, "texts")
    lam.update_function_configuration(FunctionName="texts", LoggingConfig={"LogGroup": "/team/texts"})
    wait_until_updated(lam, "texts")
    assert lam.get_function_configuration(FunctionName="texts")["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "/team/texts",
    }


LOGGING = """
import logging
logger = logging.getLogger("orders")

def handler(event, context):
    print("plain print")
    logger.debug("hidden at INFO")
    logger.info("order placed", extra={"order": 7})
    return context.log_group_name
"""


def log_lines(logs, group: str, request_id: str, count: int) -> list[str]:
    """The messages of `group` from the START (or platform.start) of `request_id` on, once `count` are there."""

    def lines():
        events = logs.filter_log_events(logGroupName=group)["events"] if group in groups() else []
        messages = [event["message"] for event in events]
        start = next((at for at, message in enumerate(messages) if request_id in message), None)
        return messages[start:] if start is not None and len(messages) - start >= count else None

    def groups() -> list[str]:
        return [found["logGroupName"] for found in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]]

    return wait_for(lines)


def test_json_log_format_and_a_custom_log_group_as_aws_writes_them(lam, role_arn, aws_client):
    config = {"LogFormat": "JSON", "LogGroup": "/team/orders"}
    create(lam, role_arn, "orders", zip_of({"app.py": LOGGING}), LoggingConfig=config)
    wait_until_active(lam, "orders")

    response = lam.invoke(FunctionName="orders", Payload=b"{}")
    request_id = response["ResponseMetadata"]["RequestId"]

    assert json.loads(response["Payload"].read()) == "/team/orders"
    start, printed, logged, report = log_lines(aws_client("logs"), "/team/orders", request_id, 4)
    assert json.loads(start)["type"] == "platform.start"
    assert json.loads(start)["record"] == {"requestId": request_id, "version": "$LATEST"}
    assert printed == "plain print"  # print() stays text; only the logging module writes JSON
    record = json.loads(logged)
    assert {key: record[key] for key in ("level", "message", "logger", "requestId", "order")} == {
        "level": "INFO", "message": "order placed", "logger": "orders", "requestId": request_id, "order": 7,
    }  # fmt: skip
    report = json.loads(report)
    assert (report["type"], report["record"]["requestId"], report["record"]["status"]) == (
        "platform.report",
        request_id,
        "success",
    )
    assert set(report["record"]["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"}
    groups = aws_client("logs").describe_log_groups()["logGroups"]
    assert "/aws/lambda/orders" not in [group["logGroupName"] for group in groups]  # the configured group only


# ---- tracebacks: /var/task and /opt ----

FAILING = """
import logging
import shared

def handler(event, context):
    if event.get("caught"):
        try:
            shared.fail()
        except KeyError:
            logging.exception("caught it")
        return "logged"
    shared.fail()
"""


def test_tracebacks_show_the_code_under_var_task_and_layers_under_opt(lam, role_arn, aws_client):
    layer = lam.publish_layer_version(
        LayerName="shared", Content={"ZipFile": zip_of({"python/shared.py": "def fail():\n    raise KeyError('k')\n"})}
    )["LayerVersionArn"]
    create(lam, role_arn, "failing", zip_of({"app.py": FAILING}), Layers=[layer])
    wait_until_active(lam, "failing")

    response = lam.invoke(FunctionName="failing", Payload=b"{}", LogType="Tail")
    error = json.loads(response["Payload"].read())

    assert error["errorType"] == "KeyError"
    assert error["stackTrace"] == [
        '  File "/var/task/app.py", line 12, in handler\n    shared.fail()\n',
        "  File \"/opt/python/shared.py\", line 2, in fail\n    raise KeyError('k')\n",
    ]
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "[ERROR] KeyError: 'k'" in tail and "Traceback (most recent call last):" in tail
    assert '\u00a0\u00a0File "/var/task/app.py", line 12, in handler' in tail  # indented as AWS's runtime does

    caught = lam.invoke(FunctionName="failing", Payload=b'{"caught": true}', LogType="Tail")  # the warm environment
    assert json.loads(caught["Payload"].read()) == "logged"
    logged = base64.b64decode(caught["LogResult"]).decode()
    assert 'File "/var/task/app.py", line 8, in handler\n    shared.fail()\n' in logged
    assert 'File "/opt/python/shared.py", line 2, in fail\n' in logged


def test_provisioning_extracts_the_code_before_the_function_turns_active(lam, role_arn, local_aws, provisioning):
    package = zip_of({"app.py": f"def handler(event, context):\n    return {time.time_ns()}\n"})  # unique bytes
    digest = base64.b64decode(create(lam, role_arn, "prepared", package)["CodeSha256"]).hex()
    task_root = local_aws.settings.work_dir / "lambda" / "code" / digest

    assert not task_root.exists()
    provisioning.set()
    wait_until_active(lam, "prepared")
    assert (task_root / "app.py").exists()  # before any invocation: the first one only starts the runtime

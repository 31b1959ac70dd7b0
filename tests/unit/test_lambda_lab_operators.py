"""labkit's Lambda packaging and the operators the Lambda labs use, against local AWS through aws_default."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

from labkit.core import paths
from labkit.operators import lambda_function as ops
from labkit.operators.iam import IamCreateRoleOperator
from labkit.operators.logs import CloudWatchLogsDeleteLogGroupOperator, CloudWatchLogsTextSensor
from labkit.operators.packaging import S3UploadLambdaPackageOperator, zip_module
from labkit.operators.s3_notifications import S3PutBucketNotificationOperator
from labkit.operators.sns import SnsCreateTopicOperator, SnsDeleteTopicOperator, SnsSubscribeOperator

BUCKET = "code"
FUNCTION = "greeter"


def test_zip_module_puts_the_handler_at_the_root_reproducibly(tmp_path):
    module = paths.LAMBDAS_DIR / "basics.py"
    data = zip_module(module)
    assert data == zip_module(module)  # same bytes, same CodeSha256: no spurious updates
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        (info,) = archive.infolist()
        assert info.filename == "basics.py"
        assert archive.read(info) == module.read_bytes()
        assert (info.external_attr >> 16) & 0o444 == 0o444  # readable by the runtime's user
    with pytest.raises(ValueError, match="not a Python module file"):
        zip_module(tmp_path / "missing.py")


def test_zip_module_adds_portable_distributions_from_the_venv():
    module = paths.LAMBDAS_DIR / "ctr_anomaly_detector.py"
    data = zip_module(module, ["krcf"])
    assert data == zip_module(module, ["krcf"])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    assert names[0] == "ctr_anomaly_detector.py"
    assert "krcf/__init__.py" in names and "krcf/krcf.abi3.so" in names  # cp310-abi3: loads on python3.12
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_a_distribution_built_for_one_python_is_refused(monkeypatch):
    from importlib import metadata

    from labkit.operators import packaging

    class OneCPython:
        files = []

        @staticmethod
        def read_text(name):
            return "Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_x86_64\n"

    monkeypatch.setattr(metadata, "distribution", lambda name: OneCPython)
    with pytest.raises(ValueError, match="tagged \\['cp311-cp311-manylinux_2_17_x86_64'\\]; a Lambda package needs"):
        packaging.distribution_files("numpy")


@pytest.fixture
def function_setup(aws_client):
    aws_client("s3").create_bucket(Bucket=BUCKET)
    role_arn = IamCreateRoleOperator(
        task_id="role",
        role_name="greeter-role",
        service="lambda.amazonaws.com",
        managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    ).execute({})
    code = S3UploadLambdaPackageOperator(
        task_id="upload", module_file=str(paths.LAMBDAS_DIR / "basics.py"), bucket_name=BUCKET, key="lambda/basics.zip"
    ).execute({})
    return role_arn, code


def create_or_update(role_arn: str, code: dict, **config) -> str:
    return ops.LambdaCreateOrUpdateFunctionOperator(
        task_id="create_function",
        function_name=FUNCTION,
        runtime="python3.11",
        role=role_arn,
        handler="basics.handler",
        code=code,
        timeout=config.pop("timeout", 10),
        config=config,
    ).execute({})


def test_upload_returns_the_code_argument_of_create_function(function_setup, aws_client):
    _, code = function_setup
    assert code == {"S3Bucket": BUCKET, "S3Key": "lambda/basics.zip"}
    body = aws_client("s3").get_object(Bucket=BUCKET, Key="lambda/basics.zip")["Body"].read()
    assert body == zip_module(paths.LAMBDAS_DIR / "basics.py")


def test_create_then_rerun_updates_code_and_configuration(function_setup, aws_client):
    role_arn, code = function_setup
    client = aws_client("lambda")
    arn = create_or_update(role_arn, code, memory_size=256, environment={"Variables": {"GREETING": "Hi"}})
    first = client.get_function_configuration(FunctionName=FUNCTION)
    assert (first["MemorySize"], first["Timeout"], first["Environment"]) == (256, 10, {"Variables": {"GREETING": "Hi"}})

    # A rerun with another definition: the provider's operator would fail with ResourceConflictException.
    assert create_or_update(role_arn, code, timeout=20, environment={"Variables": {"GREETING": "Bonjour"}}) == arn
    second = client.get_function_configuration(FunctionName=FUNCTION)
    assert (second["MemorySize"], second["Timeout"]) == (128, 20)  # memory left out: back to the default
    assert second["Environment"] == {"Variables": {"GREETING": "Bonjour"}}
    assert second["CodeSha256"] == first["CodeSha256"]
    assert [f["FunctionName"] for f in client.list_functions()["Functions"]] == [FUNCTION]


def test_create_retries_while_the_role_is_not_assumable(function_setup, monkeypatch):
    role_arn, code = function_setup
    operator = ops.LambdaCreateOrUpdateFunctionOperator(
        task_id="create_function", function_name=FUNCTION, runtime="python3.11", role=role_arn,
        handler="basics.handler", code=code,
    )  # fmt: skip
    conn = operator.hook.conn
    real_create, attempts = conn.create_function, []

    def not_yet_then_create(**kwargs):
        # What AWS answers for a few seconds after CreateRole.
        attempts.append(kwargs["Role"])
        if len(attempts) < 2:
            raise conn.exceptions.InvalidParameterValueException(
                {"Error": {"Code": "InvalidParameterValueException",
                           "Message": "The role defined for the function cannot be assumed by Lambda."}},
                "CreateFunction",
            )  # fmt: skip
        return real_create(**kwargs)

    monkeypatch.setattr(conn, "create_function", not_yet_then_create)
    monkeypatch.setattr(ops, "sleep", lambda seconds: None)
    assert operator.execute({}).endswith(f":function:{FUNCTION}")
    assert attempts == [role_arn, role_arn]


def test_create_gives_up_when_the_role_never_becomes_assumable(function_setup):
    _, code = function_setup
    operator = ops.LambdaCreateOrUpdateFunctionOperator(
        task_id="create_function", function_name=FUNCTION, runtime="python3.11", handler="basics.handler",
        role="arn:aws:iam::123456789012:role/no-such-role", code=code, role_propagation_timeout=0,
    )  # fmt: skip
    with pytest.raises(Exception, match="cannot be assumed by Lambda"):
        operator.execute({})


def test_add_permission_replaces_its_statement_on_rerun(function_setup, aws_client):
    role_arn, code = function_setup
    create_or_update(role_arn, code)
    for source in ("arn:aws:s3:::first-bucket", "arn:aws:s3:::second-bucket"):
        statement = ops.LambdaAddPermissionOperator(
            task_id="allow_s3", function_name=FUNCTION, statement_id="s3-invoke", principal="s3.amazonaws.com",
            source_arn=source, source_account="123456789012",
        ).execute({})  # fmt: skip
        assert statement["Sid"] == "s3-invoke"
    policy = json.loads(aws_client("lambda").get_policy(FunctionName=FUNCTION)["Policy"])
    (only,) = policy["Statement"]
    assert only["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:s3:::second-bucket"
    assert only["Condition"]["StringEquals"]["AWS:SourceAccount"] == "123456789012"


def test_delete_function_twice(function_setup, aws_client):
    role_arn, code = function_setup
    create_or_update(role_arn, code)
    for _ in range(2):
        ops.LambdaDeleteFunctionOperator(task_id="delete_function", function_name=FUNCTION).execute({})
    assert aws_client("lambda").list_functions()["Functions"] == []


def test_sns_topic_subscription_and_deletion_by_name(aws_client):
    arn = SnsCreateTopicOperator(task_id="create_topic", topic_name="alerts").execute({})
    assert SnsCreateTopicOperator(task_id="create_topic", topic_name="alerts").execute({}) == arn
    endpoint = "arn:aws:lambda:us-east-1:123456789012:function:logger"
    subscribe = SnsSubscribeOperator(task_id="subscribe", topic_arn=arn, protocol="lambda", endpoint=endpoint)
    subscription = subscribe.execute({})
    assert subscribe.execute({}) == subscription
    sns = aws_client("sns")
    assert [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]] == [endpoint]
    for _ in range(2):
        SnsDeleteTopicOperator(task_id="delete_topic", topic_name="alerts").execute({})
    assert sns.list_topics()["Topics"] == []


def test_bucket_notification_to_a_function(function_setup, aws_client):
    role_arn, code = function_setup
    arn = create_or_update(role_arn, code)
    configuration = {
        "LambdaFunctionConfigurations": [{"Id": "move", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]
    }
    notify = S3PutBucketNotificationOperator(
        task_id="notify", bucket_name=BUCKET, notification_configuration=configuration
    )
    with pytest.raises(Exception, match="Unable to validate the following destination configurations"):
        notify.execute({})  # S3 may not invoke the function yet, as on AWS
    ops.LambdaAddPermissionOperator(
        task_id="allow_s3", function_name=FUNCTION, statement_id="s3-invoke", principal="s3.amazonaws.com",
        source_arn=f"arn:aws:s3:::{BUCKET}", source_account="123456789012",
    ).execute({})  # fmt: skip
    notify.execute({})
    stored = aws_client("s3").get_bucket_notification_configuration(Bucket=BUCKET)
    assert stored["LambdaFunctionConfigurations"][0]["LambdaFunctionArn"] == arn
    assert stored["LambdaFunctionConfigurations"][0]["Events"] == ["s3:ObjectCreated:*"]


def test_logs_sensor_waits_for_every_text_in_any_stream(aws_client):
    logs = aws_client("logs")
    sensor = CloudWatchLogsTextSensor(task_id="wait", log_group="/aws/lambda/fn", texts=["req-1", "req-2"])
    assert sensor.poke({}).is_done is False  # no group yet
    logs.create_log_group(logGroupName="/aws/lambda/fn")
    for stream, message in (("a", "START RequestId: req-1"), ("b", "[INFO] hello req-2\n")):
        logs.create_log_stream(logGroupName="/aws/lambda/fn", logStreamName=stream)
        logs.put_log_events(
            logGroupName="/aws/lambda/fn",
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
        )
    done = sensor.poke({})
    assert done.is_done is True
    assert done.xcom_value == {"req-1": ["START RequestId: req-1"], "req-2": ["[INFO] hello req-2"]}
    assert CloudWatchLogsTextSensor(task_id="w", log_group="/aws/lambda/fn", texts=["req-3"]).poke({}).is_done is False
    # Events logged before start_time (an earlier run's lines) do not count.
    later = CloudWatchLogsTextSensor(
        task_id="later", log_group="/aws/lambda/fn", texts=["req-1"], start_time="2999-01-01T00:00:00+00:00"
    )
    assert later.poke({}).is_done is False
    earlier = CloudWatchLogsTextSensor(
        task_id="earlier", log_group="/aws/lambda/fn", texts=["req-1"], start_time="2020-01-01 00:00:00+00:00"
    )
    assert earlier.poke({}).is_done is True
    for _ in range(2):
        CloudWatchLogsDeleteLogGroupOperator(task_id="delete", log_group="/aws/lambda/fn").execute({})
    assert logs.describe_log_groups()["logGroups"] == []

"""S3 and SNS invoke a function only when its resource-based policy (AddPermission) allows them, as on AWS.

One real function (the local Lambda runtime runs it) records what it is invoked with on a queue.
A DAG that forgets AddPermission must fail locally as it fails on AWS: S3 refuses the notification
configuration, SNS and S3 drop the events, and the handler never runs.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from local_aws import config
from tests.lambda_support import create_role, wait_for, zip_of

ACCOUNT = "123456789012"
# Sends what it was invoked for to RECORD_TO: the S3 key or the SNS message.
RECORDER = """
import os
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        body = record["Sns"]["Message"] if "Sns" in record else record["s3"]["object"]["key"]
        sqs.send_message(QueueUrl=os.environ["RECORD_TO"], MessageBody=body)
"""


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def aws_client(local_aws_server):
    """Clients of the session's server, shared by this module without a reset: every name is unique."""
    import boto3

    def make(service: str):
        return boto3.client(service, region_name="us-east-1", endpoint_url=local_aws_server.endpoint_url)

    return make


@pytest.fixture(scope="module")
def function(aws_client):
    """(function ARN, received) for one recording function; received() returns what it got so far."""
    iam, lam, sqs = aws_client("iam"), aws_client("lambda"), aws_client("sqs")
    role = create_role(iam, unique("invoked-role"), policy=None)
    queue = sqs.create_queue(QueueName=unique("invocations"))["QueueUrl"]
    arn = lam.create_function(
        FunctionName=unique("invoked"), Runtime="python3.12", Handler="app.handler", Role=role,
        Code={"ZipFile": zip_of({"app.py": RECORDER})}, Environment={"Variables": {"RECORD_TO": queue}},
    )["FunctionArn"]  # fmt: skip
    seen: list[str] = []

    def received() -> list[str]:
        while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
            seen.extend(m["Body"] for m in messages)
            for message in messages:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return list(seen)

    yield arn, received
    lam.delete_function(FunctionName=arn)


def received_exactly(received, prefix: str, expected: list[str]) -> None:
    """Of what starts with `prefix` (the test's bucket or topic), the handler got `expected` (in any order)
    and nothing else. The tests cause the last expected event after any they must not get: it is queued
    after those, so once it is in, they would be too."""

    def got() -> list[str]:
        return sorted(body for body in received() if body.startswith(prefix))

    wait_for(lambda: set(expected) <= set(got()))
    assert got() == sorted(expected)


def allow(aws_client, function_arn: str, principal: str, source_arn: str, account: str = ACCOUNT) -> str:
    statement_id = unique("allow")
    aws_client("lambda").add_permission(
        FunctionName=function_arn, StatementId=statement_id, Action="lambda:InvokeFunction",
        Principal=principal, SourceArn=source_arn, SourceAccount=account,
    )  # fmt: skip
    return statement_id


def bucket_notifying(aws_client, function_arn: str, stem: str = "landing") -> tuple[str, dict]:
    """A new bucket and the notification configuration that sends its uploads to the function."""
    bucket = unique(stem)
    aws_client("s3").create_bucket(Bucket=bucket)
    configuration = {
        "LambdaFunctionConfigurations": [
            {"Id": "uploads", "LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}
        ]
    }
    return bucket, configuration


# ---------------------------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------------------------


def test_s3_refuses_a_function_that_does_not_allow_it_with_aws_error(aws_client, function):
    arn, received = function
    s3 = aws_client("s3")
    bucket, configuration = bucket_notifying(aws_client, arn)
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    error = refused.value.response["Error"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "InvalidArgument"
    assert error["Message"].startswith("Unable to validate the following destination configurations")
    assert "User: s3.amazonaws.com is not authorized to perform: lambda:InvokeFunction" in error["Message"]
    assert f"--principal s3.amazonaws.com --source-arn arn:aws:s3:::{bucket}" in error["Message"]  # the fix
    assert error["ArgumentName"] == f"{arn}, uploads"
    assert error["ArgumentValue"] == f"Not authorized to invoke function [{arn}]"
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"{bucket}/flights.csv", Body=b"a,b\n")
    # The fix the error names, then a later upload: it arrives, the one before never did.
    allow(aws_client, arn, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    s3.put_object(Bucket=bucket, Key=f"{bucket}/later.csv", Body=b"a,b\n")
    received_exactly(received, bucket, [f"{bucket}/later.csv"])


def test_s3_permission_for_the_bucket_and_account_lets_s3_invoke(aws_client, function):
    arn, received = function
    s3 = aws_client("s3")
    bucket, configuration = bucket_notifying(aws_client, arn)
    allow(aws_client, arn, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    s3.put_object(Bucket=bucket, Key=f"{bucket}/flights.csv", Body=b"a,b\n")
    received_exactly(received, bucket, [f"{bucket}/flights.csv"])


@pytest.mark.parametrize(
    ("principal", "source_arn", "account", "allowed"),
    [
        ("s3.amazonaws.com", "arn:aws:s3:::some-other-bucket", ACCOUNT, False),
        ("s3.amazonaws.com", "{bucket}", "210987654321", False),  # the bucket of another account
        ("sns.amazonaws.com", "{bucket}", ACCOUNT, False),  # another service
        ("s3.amazonaws.com", "arn:aws:s3:::wildcard-*", ACCOUNT, True),  # ArnLike, as AddPermission stores it
    ],
    ids=["other-bucket", "other-account", "other-service", "wildcard-source-arn"],
)
def test_s3_checks_the_statement_principal_source_arn_and_source_account(aws_client, function, principal,
                                                                         source_arn, account, allowed):  # fmt: skip
    arn, _ = function
    s3 = aws_client("s3")
    bucket, configuration = bucket_notifying(aws_client, arn, stem="wildcard")
    statement = allow(aws_client, arn, principal, source_arn.format(bucket=f"arn:aws:s3:::{bucket}"), account)
    try:
        if allowed:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
            assert s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
        else:
            with pytest.raises(ClientError, match="Unable to validate the following destination configurations"):
                s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    finally:  # the function is shared: its other tests' buckets must not be allowed by this statement
        aws_client("lambda").remove_permission(FunctionName=arn, StatementId=statement)


def test_s3_events_are_dropped_while_the_permission_is_removed(aws_client, function, caplog):
    arn, received = function
    s3, lam = aws_client("s3"), aws_client("lambda")
    bucket, configuration = bucket_notifying(aws_client, arn)
    statement = allow(aws_client, arn, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    s3.put_object(Bucket=bucket, Key=f"{bucket}/before.csv", Body=b"1")
    wait_for(lambda: f"{bucket}/before.csv" in received())

    lam.remove_permission(FunctionName=arn, StatementId=statement)
    with caplog.at_level(logging.WARNING, logger="local_aws.lambda_.event_sources.delivery"):
        s3.put_object(Bucket=bucket, Key=f"{bucket}/while-removed.csv", Body=b"2")
    assert any(
        "s3.amazonaws.com is not authorized to perform: lambda:InvokeFunction" in r.getMessage() for r in caplog.records
    )
    allow(aws_client, arn, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")
    s3.put_object(Bucket=bucket, Key=f"{bucket}/after.csv", Body=b"3")
    received_exactly(received, bucket, [f"{bucket}/before.csv", f"{bucket}/after.csv"])


# ---------------------------------------------------------------------------------------------
# SNS
# ---------------------------------------------------------------------------------------------


def failed_notifications(aws_client, topic_arn: str) -> float:
    """AWS/SNS NumberOfNotificationsFailed of the topic, summed over the last hour."""
    now = datetime.now(UTC)
    points = aws_client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SNS", MetricName="NumberOfNotificationsFailed",
        Dimensions=[{"Name": "TopicName", "Value": topic_arn.split(":")[-1]}],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=1), Period=3600, Statistics=["Sum"],
    )["Datapoints"]  # fmt: skip
    return sum(point["Sum"] for point in points)


def test_sns_delivers_to_a_function_only_with_a_permission_for_the_topic(aws_client, function):
    arn, received = function
    sns = aws_client("sns")
    topic = sns.create_topic(Name=unique("orders"))["TopicArn"]
    other_topic = sns.create_topic(Name=unique("refunds"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)  # Subscribe itself checks nothing, as on AWS

    sns.publish(TopicArn=topic, Message=f"{topic} no permission")
    assert failed_notifications(aws_client, topic) == 1
    allow(aws_client, arn, "sns.amazonaws.com", other_topic)
    sns.publish(TopicArn=topic, Message=f"{topic} permission for another topic")
    assert failed_notifications(aws_client, topic) == 2

    allow(aws_client, arn, "sns.amazonaws.com", topic)
    sns.publish(TopicArn=topic, Message=f"{topic} permitted")
    received_exactly(received, topic, [f"{topic} permitted"])
    assert failed_notifications(aws_client, topic) == 2


# ---------------------------------------------------------------------------------------------
# --no-iam-enforcement
# ---------------------------------------------------------------------------------------------


def test_without_iam_enforcement_s3_and_sns_invoke_without_permissions(aws_client, function, monkeypatch):
    arn, received = function
    monkeypatch.setattr(config.settings, "iam_enforcement", False)
    s3, sns = aws_client("s3"), aws_client("sns")
    bucket, configuration = bucket_notifying(aws_client, arn)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
    s3.put_object(Bucket=bucket, Key=f"{bucket}/unchecked.csv", Body=b"1")
    topic = sns.create_topic(Name=unique("unchecked"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    sns.publish(TopicArn=topic, Message=f"{bucket} via {topic}")
    received_exactly(received, bucket, [f"{bucket}/unchecked.csv", f"{bucket} via {topic}"])

"""CloudFormation stacks create, fail, roll back and delete as CloudFormation does (local_aws/cloudformation/).

One stack with every resource type the clickstream project needs works end to end: records put to its
Kinesis stream reach its Lambda function through its event source mapping (tumbling windows) and, through
its SNS topic, its SQS queue, while its Firehose delivery stream archives them to its bucket. A failed
resource rolls the stack back with the service's reason; DeleteStack deletes every resource (and fails,
with the reason, on a bucket that is not empty). The Amazon provider's operators and sensors drive it.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import time

import pytest
from botocore.exceptions import ClientError

from local_aws import clock, config
from tests.conftest import REPO_ROOT
from tests.lambda_support import wait_for, zip_of

ACCOUNT = "123456789012"
CODE_BUCKET = "stack-code"

# The stack's function: counts a window's records (tumbling-window state) and publishes the count when the
# window closes. Python 3.12 on AWS; local AWS runs it on its own Python 3.
DETECTOR = """
import json, os
import boto3


def handler(event, context):
    count = (event.get("state") or {}).get("count", 0) + len(event.get("Records", []))
    if event.get("isFinalInvokeForWindow") and count:
        boto3.client("sns").publish(TopicArn=os.environ["TOPIC"], Subject="window closed",
                                    Message=json.dumps({"count": count, "window": os.environ["WINDOW"]}))
    return {"state": {"count": count}}
"""


def trust(service: str) -> dict:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}  # fmt: skip


TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "clickstream resources",
    "Parameters": {
        "WindowSeconds": {"Type": "Number", "Default": 10},
        "AlertEmail": {"Type": "String"},
        "CodeKey": {"Type": "String", "Default": "detector.zip"},
    },
    "Resources": {
        "Clicks": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
        "Archive": {"Type": "AWS::S3::Bucket"},
        "Alerts": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}-alerts"}}},
        "AlertQueue": {"Type": "AWS::SQS::Queue"},
        "AlertQueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": "AlertQueue"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": {"Fn::GetAtt": ["AlertQueue", "Arn"]},
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": "Alerts"}}}}]}}},
        "EmailAlert": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "Alerts"}, "Protocol": "email", "Endpoint": {"Ref": "AlertEmail"}}},
        "QueueAlert": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "Alerts"}, "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["AlertQueue", "Arn"]},
            "RawMessageDelivery": "true"}},
        "DetectorRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": trust("lambda.amazonaws.com"),
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole"],
            "Policies": [{"PolicyName": "alert", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": "Alerts"}}]}}]}},
        "ArchiveRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": trust("firehose.amazonaws.com"),
            "Policies": [{"PolicyName": "archive", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetBucketLocation", "s3:ListBucket"],
                 "Resource": [{"Fn::GetAtt": ["Archive", "Arn"]}, {"Fn::Sub": "${Archive.Arn}/*"}]},
                {"Effect": "Allow", "Action": ["kinesis:DescribeStream", "kinesis:GetShardIterator",
                                               "kinesis:GetRecords", "kinesis:ListShards"],
                 "Resource": {"Fn::GetAtt": ["Clicks", "Arn"]}}]}}]}},
        "ArchiveStream": {"Type": "AWS::KinesisFirehose::DeliveryStream", "Properties": {
            "DeliveryStreamType": "KinesisStreamAsSource",
            "KinesisStreamSourceConfiguration": {"KinesisStreamARN": {"Fn::GetAtt": ["Clicks", "Arn"]},
                                                 "RoleARN": {"Fn::GetAtt": ["ArchiveRole", "Arn"]}},
            "ExtendedS3DestinationConfiguration": {
                "BucketARN": {"Fn::GetAtt": ["Archive", "Arn"]}, "RoleARN": {"Fn::GetAtt": ["ArchiveRole", "Arn"]},
                "Prefix": "raw/!{timestamp:yyyy}/", "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
                "CompressionFormat": "GZIP", "BufferingHints": {"IntervalInSeconds": "60", "SizeInMBs": 1}}}},
        "Detector": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "detector.handler", "Timeout": 30, "MemorySize": 256,
            "Role": {"Fn::GetAtt": ["DetectorRole", "Arn"]},
            "Code": {"S3Bucket": CODE_BUCKET, "S3Key": {"Ref": "CodeKey"}},
            "Environment": {"Variables": {"TOPIC": {"Ref": "Alerts"}, "WINDOW": {"Ref": "WindowSeconds"}}}}},
        "DetectorMapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": {"Ref": "Detector"}, "EventSourceArn": {"Fn::GetAtt": ["Clicks", "Arn"]},
            "StartingPosition": "LATEST", "BatchSize": "100", "MaximumBatchingWindowInSeconds": 0,
            "TumblingWindowInSeconds": {"Ref": "WindowSeconds"}}},
        "AlertsMayInvoke": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Fn::GetAtt": ["Detector", "Arn"]}, "Action": "lambda:InvokeFunction",
            "Principal": "sns.amazonaws.com", "SourceArn": {"Ref": "Alerts"}}},
    },
    "Outputs": {
        "StreamName": {"Value": {"Ref": "Clicks"}},
        "StreamArn": {"Value": {"Fn::GetAtt": ["Clicks", "Arn"]}},
        "ArchiveBucket": {"Value": {"Ref": "Archive"}, "Description": "raw clicks"},
        "TopicArn": {"Value": {"Fn::GetAtt": ["Alerts", "TopicArn"]}},
        "QueueUrl": {"Value": {"Ref": "AlertQueue"}},
        "DetectorArn": {"Value": {"Fn::GetAtt": ["Detector", "Arn"]}},
        "MappingId": {"Value": {"Ref": "DetectorMapping"}},
        "DeliveryStreamArn": {"Value": {"Fn::GetAtt": ["ArchiveStream", "Arn"]}},
        "Window": {"Value": {"Fn::Sub": "${WindowSeconds} s on ${Clicks}"}},
    },
}  # fmt: skip


@pytest.fixture
def fast(monkeypatch):
    """Mappings and Firehose's Kinesis reader poll every 0.05 s and 0.1 s (AWS: about every second)."""
    monkeypatch.setattr(config.settings, "lambda_poll_seconds", 0.05)
    monkeypatch.setattr(config.settings, "firehose_kinesis_poll_seconds", 0.1)


@pytest.fixture
def cfn(aws_client, fast):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=CODE_BUCKET)
    s3.put_object(Bucket=CODE_BUCKET, Key="detector.zip", Body=zip_of({"detector.py": DETECTOR}))
    return aws_client("cloudformation")


def status(cfn, stack: str) -> str:
    return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def settled(cfn, stack: str, limit: float = 60) -> dict:
    """The stack once no operation is in progress on it."""
    return wait_for(lambda: (s := cfn.describe_stacks(StackName=stack)["Stacks"][0])["StackStatus"].endswith(
        ("_COMPLETE", "_FAILED")) and s, limit=limit)  # fmt: skip


def events(cfn, stack: str) -> list[tuple[str, str, str | None]]:
    """(logical id, status, reason) of every event, oldest first."""
    found = cfn.describe_stack_events(StackName=stack)["StackEvents"][::-1]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in found]


def resources(cfn, stack: str) -> dict[str, dict]:
    return {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]}


def keys(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def empty(s3, bucket: str) -> None:
    for key in keys(s3, bucket):
        s3.delete_object(Bucket=bucket, Key=key)


def firehose_read(name: str, sequence_number: str) -> bool:
    """Local Firehose has read the Kinesis source up to this record (into its buffer)."""
    from moto.firehose.models import firehose_backends

    from local_aws.firehose.buffering import find_state

    stream = firehose_backends[ACCOUNT]["us-east-1"].delivery_streams.get(name)
    state = find_state(stream) if stream is not None else None
    return bool(state) and max(state.kinesis_checkpoints.values(), default=0) >= int(sequence_number)


def test_a_stack_creates_every_resource_they_work_together_and_delete_removes_them(cfn, aws_client):
    s3, sqs, kinesis, lam = aws_client("s3"), aws_client("sqs"), aws_client("kinesis"), aws_client("lambda")
    stack_id = cfn.create_stack(
        StackName="clickstream", TemplateBody=json.dumps(TEMPLATE), Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": "WindowSeconds", "ParameterValue": "1"},
                    {"ParameterKey": "AlertEmail", "ParameterValue": "ops@example.com"}],
    )["StackId"]  # fmt: skip
    assert status(cfn, "clickstream") == "CREATE_IN_PROGRESS"  # CreateStack answers at once; the work follows
    assert "Outputs" not in cfn.describe_stacks(StackName="clickstream")["Stacks"][0]
    stack = settled(cfn, "clickstream")
    assert (stack["StackStatus"], stack["StackId"]) == ("CREATE_COMPLETE", stack_id)

    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    stream, bucket, topic = outputs["StreamName"], outputs["ArchiveBucket"], outputs["TopicArn"]
    assert stream.startswith("clickstream-Clicks-") and bucket.startswith("clickstream-archive-")
    assert outputs["StreamArn"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{stream}"
    assert topic == f"arn:aws:sns:us-east-1:{ACCOUNT}:clickstream-alerts"
    assert outputs["Window"] == f"1 s on {stream}"
    assert outputs["DeliveryStreamArn"].startswith(f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/clickstream-")
    described = {o["OutputKey"]: o for o in stack["Outputs"]}
    assert described["ArchiveBucket"]["Description"] == "raw clicks"

    # Every resource was created after what it refers to, with CloudFormation's three events each.
    found = resources(cfn, "clickstream")
    assert len(found) == len(TEMPLATE["Resources"])
    assert {r["ResourceStatus"] for r in found.values()} == {"CREATE_COMPLETE"}
    assert found["DetectorMapping"]["PhysicalResourceId"] == outputs["MappingId"]
    assert found["Archive"]["ResourceType"] == "AWS::S3::Bucket" and found["Archive"]["PhysicalResourceId"] == bucket
    trail = events(cfn, "clickstream")
    assert trail[0] == ("clickstream", "CREATE_IN_PROGRESS", "User Initiated") and trail[-1][:2] == (
        "clickstream",
        "CREATE_COMPLETE",
    )
    assert [e for e in trail if e[0] == "Detector"] == [
        ("Detector", "CREATE_IN_PROGRESS", None), ("Detector", "CREATE_IN_PROGRESS", "Resource creation Initiated"),
        ("Detector", "CREATE_COMPLETE", None)]  # fmt: skip
    completed = [e[0] for e in trail if e[1] == "CREATE_COMPLETE"]
    for before, after in [("DetectorRole", "Detector"), ("Detector", "DetectorMapping"), ("Clicks", "ArchiveStream"),
                          ("ArchiveRole", "ArchiveStream"), ("Alerts", "EmailAlert"), ("Detector", "AlertsMayInvoke")]:  # fmt: skip
        assert completed.index(before) < completed.index(after), (before, after)

    # The resources are the services' own, configured as the template says.
    iam = aws_client("iam")
    role = found["DetectorRole"]["PhysicalResourceId"]
    assert iam.get_role_policy(RoleName=role, PolicyName="alert")["PolicyDocument"]["Statement"][0]["Resource"] == topic
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]] == [
        "AWSLambdaKinesisExecutionRole"]  # fmt: skip
    function = lam.get_function_configuration(FunctionName=outputs["DetectorArn"])
    assert (function["State"], function["Runtime"], function["Timeout"], function["MemorySize"]) == (
        "Active",
        "python3.12",
        30,
        256,
    )
    assert function["Environment"]["Variables"] == {"TOPIC": topic, "WINDOW": "1"}  # a Number parameter, as text
    mapping = lam.get_event_source_mapping(UUID=outputs["MappingId"])
    assert (mapping["State"], mapping["StartingPosition"], mapping["BatchSize"], mapping["TumblingWindowInSeconds"]) == (
        "Enabled", "LATEST", 100, 1)  # fmt: skip
    statement = json.loads(lam.get_policy(FunctionName=outputs["DetectorArn"])["Policy"])["Statement"][0]
    assert statement["Sid"] == found["AlertsMayInvoke"]["PhysicalResourceId"]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == topic
    queue_url = sqs.get_queue_url(QueueName=outputs["QueueUrl"].rsplit("/", 1)[-1])["QueueUrl"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == topic
    subscriptions = {
        s["Protocol"]: s for s in aws_client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    }
    assert subscriptions["email"]["SubscriptionArn"] == "PendingConfirmation"  # until the recipient confirms
    assert found["EmailAlert"]["PhysicalResourceId"].startswith(topic + ":")  # CloudFormation has its ARN
    delivery = aws_client("firehose").describe_delivery_stream(
        DeliveryStreamName=outputs["DeliveryStreamArn"].rsplit("/", 1)[-1]
    )
    destination = delivery["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert (
        destination["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 1}
        and destination["CompressionFormat"] == "GZIP"
    )

    # Records put to the stream: the mapping invokes the function per 1-second window, whose alert reaches the
    # queue raw; Firehose buffers them and delivers one GZIP object once its interval is over.
    first = [json.dumps({"browseraction": "Click", "n": n}).encode() + b"\n" for n in range(30)]
    put = kinesis.put_records(StreamName=stream, Records=[{"Data": d, "PartitionKey": "k"} for d in first])
    alerts = []

    def counted() -> int:
        alerts.extend(
            json.loads(m["Body"])
            for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        )
        return sum(a["count"] for a in alerts) == len(first)

    wait_for(counted, limit=30)
    assert {a["window"] for a in alerts} == {"1"}
    name = outputs["DeliveryStreamArn"].rsplit("/", 1)[-1]
    wait_for(lambda: firehose_read(name, put["Records"][-1]["SequenceNumber"]))
    assert keys(s3, bucket) == []  # buffered: the 60-second interval is not over
    clock.advance(seconds=61)
    (key,) = wait_for(lambda: keys(s3, bucket))
    assert key.startswith(f"raw/{time.gmtime().tm_year}/") and key.endswith(".gz")
    assert gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == b"".join(first)

    # DeleteStack while Firehose still buffers records: deleting the delivery stream delivers them, so the
    # bucket is not empty and fails to delete, as on AWS; the rest is deleted, last created first.
    empty(s3, bucket)
    second = [b"late-%d\n" % n for n in range(5)]
    put = kinesis.put_records(StreamName=stream, Records=[{"Data": d, "PartitionKey": "k"} for d in second])
    wait_for(lambda: firehose_read(name, put["Records"][-1]["SequenceNumber"]))
    cfn.delete_stack(StackName="clickstream")
    assert status(cfn, "clickstream") in ("DELETE_IN_PROGRESS", "DELETE_FAILED")
    stack = settled(cfn, "clickstream")
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to delete: [Archive]. "
    found = resources(cfn, "clickstream")
    assert found["Archive"]["ResourceStatus"] == "DELETE_FAILED"
    assert (
        "The bucket you tried to delete is not empty (Service: S3, Status Code: 409"
        in found["Archive"]["ResourceStatusReason"]
    )
    assert {r["ResourceStatus"] for n, r in found.items() if n != "Archive"} == {"DELETE_COMPLETE"}
    (key,) = keys(s3, bucket)
    assert gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == b"".join(second)
    deleted = [e[0] for e in events(cfn, "clickstream") if e[1] == "DELETE_COMPLETE"]
    assert deleted.index("DetectorMapping") < deleted.index("Detector") < deleted.index("DetectorRole")

    # Emptied, the bucket goes with a second DeleteStack; everything the stack made is gone.
    empty(s3, bucket)
    cfn.delete_stack(StackName="clickstream")
    assert settled(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    with pytest.raises(ClientError, match="Stack with id clickstream does not exist"):
        cfn.describe_stacks(StackName="clickstream")
    assert {r["ResourceStatus"] for r in resources(cfn, stack_id).values()} == {"DELETE_COMPLETE"}
    assert "Outputs" not in cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert kinesis.list_streams()["StreamNames"] == []
    assert aws_client("firehose").list_delivery_streams()["DeliveryStreamNames"] == []
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == []
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [CODE_BUCKET]
    assert (
        aws_client("sns").list_topics()["Topics"] == []
        and aws_client("sns").list_subscriptions()["Subscriptions"] == []
    )
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("clickstream-")] == []
    from local_aws import workers
    from local_aws.lambda_.event_sources.mappings import Pollers

    pollers = workers.find(Pollers)
    assert pollers is None or outputs["MappingId"] not in pollers._running  # the mapping's poller stopped


FAILING = {
    "Parameters": {"CodeKey": {"Type": "String"}, "RoleArn": {"Type": "String", "Default": ""}},
    "Conditions": {"OwnRole": {"Fn::Equals": [{"Ref": "RoleArn"}, ""]}},
    "Resources": {
        "Data": {"Type": "AWS::S3::Bucket"},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust("lambda.amazonaws.com")}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "detector.handler",
            "Role": {"Fn::If": ["OwnRole", {"Fn::GetAtt": ["Role", "Arn"]}, {"Ref": "RoleArn"}]},
            "Code": {"S3Bucket": CODE_BUCKET, "S3Key": {"Ref": "CodeKey"}},
            "Environment": {"Variables": {"BUCKET": {"Ref": "Data"}}}}},
        "Later": {"Type": "AWS::SQS::Queue", "DependsOn": "Fn"},
    },
    "Outputs": {"Function": {"Value": {"Ref": "Fn"}}},
}  # fmt: skip


def test_a_resource_that_fails_rolls_the_stack_back_with_the_services_reason(cfn, aws_client):
    cfn.create_stack(StackName="broken", TemplateBody=json.dumps(FAILING), Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": "CodeKey", "ParameterValue": "missing.zip"}])  # fmt: skip
    stack = settled(cfn, "broken")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE" and "Outputs" not in stack
    trail = events(cfn, "broken")
    failed = [e for e in trail if e[1] == "CREATE_FAILED"]
    assert [e[0] for e in failed] == ["Fn"]
    assert failed[0][2].startswith(
        'Resource handler returned message: "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error '
        'Message: The specified key does not exist. (Service: Lambda, Status Code: 400, Request ID: ')  # fmt: skip
    assert failed[0][2].endswith("HandlerErrorCode: InvalidRequest)")
    rollback = trail.index(("broken", "ROLLBACK_IN_PROGRESS",
                            "The following resource(s) failed to create: [Fn]. Rollback requested by user."))  # fmt: skip
    assert trail[-1] == ("broken", "ROLLBACK_COMPLETE", None)
    after = [e[:2] for e in trail[rollback + 1 : -1]]
    assert ("Data", "DELETE_COMPLETE") in after and ("Role", "DELETE_COMPLETE") in after
    assert "Later" not in {e[0] for e in trail}  # never started: it depends on the failed function
    found = resources(cfn, "broken")
    assert {n: r["ResourceStatus"] for n, r in found.items()} == {"Data": "DELETE_COMPLETE", "Role": "DELETE_COMPLETE",
                                                                   "Fn": "DELETE_COMPLETE"}  # fmt: skip
    assert [b["Name"] for b in aws_client("s3").list_buckets()["Buckets"]] == [CODE_BUCKET]
    assert not [r for r in aws_client("iam").list_roles()["Roles"] if r["RoleName"].startswith("broken-")]
    with pytest.raises(ClientError, match=r"Stack \[broken\] already exists"):
        cfn.create_stack(StackName="broken", TemplateBody=json.dumps(FAILING), Capabilities=["CAPABILITY_IAM"],
                         Parameters=[{"ParameterKey": "CodeKey", "ParameterValue": "detector.zip"}])  # fmt: skip
    cfn.delete_stack(StackName="broken")  # a ROLLBACK_COMPLETE stack is deleted at once: nothing is left in it
    wait_for(lambda: not any(s["StackName"] == "broken" for s in cfn.describe_stacks()["Stacks"]))


def test_on_failure_do_nothing_keeps_what_was_created_and_a_role_that_does_not_exist_fails_the_function(
    cfn, aws_client
):
    cfn.create_stack(StackName="kept", TemplateBody=json.dumps(FAILING), Capabilities=["CAPABILITY_IAM"], OnFailure="DO_NOTHING", Parameters=[
        {"ParameterKey": "CodeKey", "ParameterValue": "detector.zip"},
        {"ParameterKey": "RoleArn", "ParameterValue": f"arn:aws:iam::{ACCOUNT}:role/no-such-role"}])  # fmt: skip
    stack = settled(cfn, "kept")
    assert (stack["StackStatus"], stack["StackStatusReason"]) == (
        "CREATE_FAILED",
        "The following resource(s) failed to create: [Fn]. ",
    )
    found = resources(cfn, "kept")
    assert found["Fn"]["ResourceStatus"] == "CREATE_FAILED"
    assert (
        'returned message: "The role defined for the function cannot be assumed by Lambda.'
        in found["Fn"]["ResourceStatusReason"]
    )
    assert found["Data"]["ResourceStatus"] == "CREATE_COMPLETE"
    assert found["Data"]["PhysicalResourceId"] in [b["Name"] for b in aws_client("s3").list_buckets()["Buckets"]]
    cfn.delete_stack(StackName="kept")
    assert settled(cfn, stack["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert [b["Name"] for b in aws_client("s3").list_buckets()["Buckets"]] == [CODE_BUCKET]


@pytest.mark.parametrize(
    ("resources_", "reason"),
    [
        (
            {"Fleet": {"Type": "AWS::GameLift::Fleet", "Properties": {}}},
            "local AWS cannot create resources of type AWS::GameLift::Fleet",
        ),
        (
            {
                "Clicks": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
                "Fn": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Runtime": "python3.12",
                        "Handler": "a.b",
                        "Role": f"arn:aws:iam::{ACCOUNT}:role/r",
                        "Code": {"ZipFile": "def b(e, c): pass"},
                    },
                },
                "Mapping": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {
                        "FunctionName": {"Ref": "Fn"},
                        "EventSourceArn": {"Fn::GetAtt": ["Clicks", "Arn"]},
                        "StartingPosition": "LATEST",
                        "BatchSize": "many",
                    },
                },
            },
            "Properties validation failed for resource Mapping with message: #/BatchSize: expected type: Integer, found: String",
        ),
        (
            {"Data": {"Type": "AWS::S3::Bucket", "Properties": {"LifecycleConfiguration": {"Rules": []}}}},
            "local AWS does not apply the AWS::S3::Bucket properties [LifecycleConfiguration]",
        ),
    ],
    ids=["unsupported-type", "property-type", "unsupported-property"],
)
def test_what_local_aws_cannot_do_fails_the_resource_saying_so(cfn, aws_client, resources_, reason):
    if "Fn" in resources_:
        aws_client("iam").create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(trust("lambda.amazonaws.com")))
    cfn.create_stack(StackName="unsupported", TemplateBody=json.dumps({"Resources": resources_}))
    assert settled(cfn, "unsupported")["StackStatus"] == "ROLLBACK_COMPLETE"
    ((_, _, failed),) = [e for e in events(cfn, "unsupported") if e[1] == "CREATE_FAILED"]
    assert failed.startswith(reason), failed


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Nowhere"}}}}},
            "Template format error: Unresolved resource dependencies [Nowhere] in the Resources block of the template",
        ),
        (
            {
                "Resources": {"Q": {"Type": "AWS::SQS::Queue"}},
                "Outputs": {"X": {"Value": {"Fn::GetAtt": ["Gone", "Arn"]}}},
            },
            "Template format error: Unresolved resource dependencies [Gone] in the Outputs block of the template",
        ),
        (
            {
                "Resources": {
                    "A": {"Type": "AWS::SQS::Queue", "DependsOn": "B"},
                    "B": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${A.QueueName}-b"}}},
                }
            },
            "Circular dependency between resources: [A, B]",
        ),
    ],
    ids=["unresolved", "unresolved-output", "cycle"],
)
def test_create_stack_refuses_templates_that_cannot_resolve(cfn, template, message):
    with pytest.raises(ClientError) as refused:
        cfn.create_stack(StackName="invalid", TemplateBody=json.dumps(template))
    assert refused.value.response["Error"] == {"Type": "Sender", "Code": "ValidationError", "Message": message}
    assert cfn.describe_stacks()["Stacks"] == []


def test_iam_resources_need_the_iam_capabilities(cfn):
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust("lambda.amazonaws.com")}}
    named = {"Resources": {"R": {**role, "Properties": {**role["Properties"], "RoleName": "named"}}}}
    for template, capabilities, needed in [({"Resources": {"R": role}}, [], "CAPABILITY_IAM"),
                                           (named, ["CAPABILITY_IAM"], "CAPABILITY_NAMED_IAM")]:  # fmt: skip
        with pytest.raises(ClientError) as refused:
            cfn.create_stack(StackName="iam", TemplateBody=json.dumps(template), Capabilities=capabilities)
        assert refused.value.response["Error"]["Code"] == "InsufficientCapabilitiesException"
        assert refused.value.response["Error"]["Message"] == f"Requires capabilities : [{needed}]"
    cfn.create_stack(StackName="iam", TemplateBody=json.dumps(named), Capabilities=["CAPABILITY_NAMED_IAM"])
    assert settled(cfn, "iam")["StackStatus"] == "CREATE_COMPLETE"


WINDOWED = {
    "Parameters": {
        "WindowSeconds": {"Type": "Number", "MinValue": 1, "MaxValue": 900, "Default": 10},
        "Phase": {"Type": "String", "AllowedValues": ["normal", "burst"], "Default": "normal"},
        "Prefix": {"Type": "String", "AllowedPattern": "[a-z]+", "ConstraintDescription": "must be lowercase letters"},
    },
    "Resources": {"Q": {"Type": "AWS::SQS::Queue"}},
}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"Prefix": "ok", "Nope": "1"}, "Parameters: [Nope] do not exist in the template"),
        ({}, "Parameters: [Prefix] must have values"),
        ({"Prefix": "ok", "WindowSeconds": "0"}, "Parameter 'WindowSeconds' must be a number not less than 1"),
        ({"Prefix": "ok", "WindowSeconds": "ten"}, "Parameter 'WindowSeconds' must be a number"),
        ({"Prefix": "ok", "Phase": "drop"}, "Parameter 'Phase' must be one of AllowedValues"),
        ({"Prefix": "OK"}, "Parameter 'Prefix' must be lowercase letters"),
    ],
)
def test_create_stack_refuses_parameters_outside_their_constraints(cfn, parameters, message):
    given = [{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()]
    with pytest.raises(ClientError) as refused:
        cfn.create_stack(StackName="windowed", TemplateBody=json.dumps(WINDOWED), Parameters=given)
    assert refused.value.response["Error"]["Message"] == message
    cfn.create_stack(StackName="windowed", TemplateBody=json.dumps(WINDOWED),
                     Parameters=[{"ParameterKey": "Prefix", "ParameterValue": "ok"}])  # fmt: skip
    assert settled(cfn, "windowed")["StackStatus"] == "CREATE_COMPLETE"


SMALL = {
    "Parameters": {"Prefix": {"Type": "String"}},
    "Resources": {
        "Events": {"Type": "AWS::Kinesis::Stream", "Properties": {
            "Name": {"Fn::Sub": "${Prefix}-events"}, "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "RetentionPeriodHours": 48}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust("lambda.amazonaws.com")}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": {"Fn::Sub": "${Prefix}-fn"}, "Runtime": "python3.12", "Handler": "index.handler",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "def handler(event, context):\n    return {'echo': event}\n"}}},
    },
    "Outputs": {"FunctionArn": {"Value": {"Fn::GetAtt": ["Fn", "Arn"]}, "Export": {"Name": {"Fn::Sub": "${Prefix}-fn"}}}},
}  # fmt: skip


def test_the_providers_operators_and_sensors_create_and_delete_a_stack(cfn, aws_client):
    from airflow.providers.amazon.aws.operators.cloud_formation import (
        CloudFormationCreateStackOperator,
        CloudFormationDeleteStackOperator,
    )
    from airflow.providers.amazon.aws.sensors.cloud_formation import (
        CloudFormationCreateStackSensor,
        CloudFormationDeleteStackSensor,
    )

    def poke_until(sensor, limit: float = 60) -> None:
        deadline = time.monotonic() + limit
        while not sensor.poke({}):
            assert time.monotonic() < deadline
            time.sleep(0.1)

    CloudFormationCreateStackOperator(task_id="create", stack_name="provider", cloudformation_parameters={
        "TemplateBody": json.dumps(SMALL), "Capabilities": ["CAPABILITY_IAM"], "Parameters": [{"ParameterKey": "Prefix", "ParameterValue": "prov"}],
        "TimeoutInMinutes": 5}).execute({})  # fmt: skip
    # (Whether the first poke still sees CREATE_IN_PROGRESS depends on timing; the sensor waits either way.)
    poke_until(CloudFormationCreateStackSensor(task_id="created", stack_name="provider", poke_interval=0.1))
    outputs = cfn.describe_stacks(StackName="provider")["Stacks"][0]["Outputs"]
    assert outputs == [{"OutputKey": "FunctionArn", "OutputValue": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:prov-fn",
                        "ExportName": "prov-fn"}]  # fmt: skip
    assert cfn.list_exports()["Exports"][0]["Name"] == "prov-fn"
    summary = aws_client("kinesis").describe_stream_summary(StreamName="prov-events")["StreamDescriptionSummary"]
    assert (summary["StreamModeDetails"]["StreamMode"], summary["OpenShardCount"], summary["RetentionPeriodHours"]) == (
        "ON_DEMAND", 4, 48)  # fmt: skip
    answer = aws_client("lambda").invoke(FunctionName="prov-fn", Payload=b'{"n": 1}')  # inline code: index.py
    assert json.loads(answer["Payload"].read()) == {"echo": {"n": 1}}

    CloudFormationDeleteStackOperator(task_id="delete", stack_name="provider").execute({})
    poke_until(CloudFormationDeleteStackSensor(task_id="deleted", stack_name="provider", poke_interval=0.1))
    assert cfn.list_exports()["Exports"] == []
    assert aws_client("lambda").list_functions()["Functions"] == []

    # A stack that rolls back: the create sensor fails on it instead of waiting for ever.
    CloudFormationCreateStackOperator(task_id="create_bad", stack_name="bad", cloudformation_parameters={
        "TemplateBody": json.dumps(FAILING), "Capabilities": ["CAPABILITY_IAM"],
        "Parameters": [{"ParameterKey": "CodeKey", "ParameterValue": "missing.zip"}]}).execute({})  # fmt: skip
    settled(cfn, "bad")
    with pytest.raises(ValueError, match="Stack bad in bad state: ROLLBACK_COMPLETE"):
        CloudFormationCreateStackSensor(task_id="created_bad", stack_name="bad").poke({})


# Its own interpreter: the session's server must not be stopped.
RESTART = textwrap.dedent(
    """
    import json, pathlib, sys, threading, time
    import boto3
    from local_aws import config
    from local_aws.server import LocalAWS

    TEMPLATE = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})

    def stack_threads():
        return [t.name for t in threading.enumerate() if t.name == "cloudformation-stacks"]

    def create(server, name):
        cfn = boto3.client("cloudformation", region_name="us-east-1", endpoint_url=server.endpoint_url,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        cfn.create_stack(StackName=name, TemplateBody=TEMPLATE)
        deadline = time.monotonic() + 30
        while (status := cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]) == "CREATE_IN_PROGRESS":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return status

    work_dir = pathlib.Path(sys.argv[1])
    first = LocalAWS(config.Settings(port=0, work_dir=work_dir)).start()
    result = {"first": create(first, "one"), "running": stack_threads()}
    first.stop()
    result["stopped"] = stack_threads()
    second = LocalAWS(config.Settings(port=0, work_dir=work_dir)).start()
    result["second"] = create(second, "two")
    second.stop()
    result["stopped_again"] = stack_threads()
    print(json.dumps(result))
    """
)


def test_a_restarted_server_runs_stacks_again_and_stopping_leaves_no_stack_thread(tmp_path):
    done = subprocess.run([sys.executable, "-c", RESTART, str(tmp_path)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "first": "CREATE_COMPLETE", "running": ["cloudformation-stacks"], "stopped": [],
        "second": "CREATE_COMPLETE", "stopped_again": [],
    }  # fmt: skip

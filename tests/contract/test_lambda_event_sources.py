"""Lambda event sources through boto3 and the real local Lambda runtime.

Every test deploys a handler (zipped here) that records each event it gets as a message on a FIFO
queue, in invocation order, then behaves as the test needs (fails on some records, reports batch
item failures, keeps window state). The assertions are on what AWS documents and users rely on:
record shapes, filters, asynchrony, order, batching, checkpoints, retries, destinations, deletes.
"""

from __future__ import annotations

import base64
import json
import textwrap
import threading
import time
import urllib.parse
import uuid

import pytest

from local_aws import config
from tests.event_source_support import count_poller_rounds, tumbling_windows, windows_closed
from tests.lambda_support import create_role, wait_for, zip_of

# Records the event (FIFO: invocation order), then acts on BEHAVIOUR (below) with the records' values.
# With WAIT_FOR=bucket/key it first waits until the test creates that object.
RECORDER = """
import base64, json, os, time, uuid
import boto3

sqs = boto3.client("sqs")


def values(event):
    found = []
    for record in event.get("Records", []):
        if "kinesis" in record:
            found.append(base64.b64decode(record["kinesis"]["data"]).decode())
        elif "body" in record:
            found.append(record["body"])
    return found


def record(event):
    sqs.send_message(QueueUrl=os.environ["RECORD_TO"], MessageBody=json.dumps(event),
                     MessageGroupId="events", MessageDeduplicationId=uuid.uuid4().hex)


def wait_for_release(path):  # until the object bucket/key exists (the test creates it), 30 s at most
    bucket, key = path.split("/", 1)
    s3, deadline = boto3.client("s3"), time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return s3.head_object(Bucket=bucket, Key=key)
        except s3.exceptions.ClientError:
            time.sleep(0.05)


def handler(event, context):
    if os.environ.get("WAIT_FOR"):
        wait_for_release(os.environ["WAIT_FOR"])
    record(event)
    return behave(event, values(event))
"""

BEHAVIOUR_RETURN_NOTHING = """
def behave(event, values):
    return None
"""

BEHAVIOUR_FAIL_ON_BAD = """
def behave(event, values):
    if "bad" in values:
        raise ValueError("bad record in batch")
"""


@pytest.fixture(scope="module")
def aws_client(local_aws_server):
    """Clients of the session's server. These tests share it without a reset (a reset takes seconds):
    every name is unique per test, and each test's functions and mappings are deleted after it."""
    import boto3

    def make(service: str):
        return boto3.client(service, region_name="us-east-1", endpoint_url=local_aws_server.endpoint_url)

    return make


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch, local_aws_server):
    monkeypatch.setattr(config.settings, "lambda_poll_seconds", 0.05)


def unique(name: str) -> str:
    stem, dot, suffix = name.partition(".")
    return f"{stem}-{uuid.uuid4().hex[:8]}{dot}{suffix}"


@pytest.fixture
def lam(aws_client):
    return aws_client("lambda")


@pytest.fixture
def sqs(aws_client):
    return aws_client("sqs")


def queue(sqs, name: str, **attributes) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique(name), Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


@pytest.fixture
def recorder(sqs):
    """The FIFO queue the handlers record their events on; recorder() returns them, in order."""
    url, _ = queue(sqs, "events.fifo", FifoQueue="true")
    seen: list[dict] = []

    def events() -> list[dict]:
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            seen.extend(json.loads(m["Body"]) for m in messages)
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return seen

    events.url = url
    return events


@pytest.fixture(scope="module")
def role_arn(aws_client) -> str:
    return create_role(aws_client("iam"), unique("event-sources-role"))  # allow-all inline policy


@pytest.fixture
def deploy(lam, role_arn, recorder):
    """deploy(name, behaviour, **environment) -> the function's ARN; the handler records to `recorder`."""
    created = []

    def create(name: str, behaviour: str, timeout: int = 10, **environment: str) -> str:
        code = zip_of({"app.py": textwrap.dedent(RECORDER) + textwrap.dedent(behaviour)})
        arn = lam.create_function(
            FunctionName=unique(name), Runtime="python3.12", Handler="app.handler", Role=role_arn, Timeout=timeout,
            Code={"ZipFile": code},
            Environment={"Variables": {"RECORD_TO": recorder.url, **environment}},
        )["FunctionArn"]  # fmt: skip
        created.append(arn)
        return arn

    yield create
    mappings = []
    for arn in created:
        for mapping in lam.list_event_source_mappings(FunctionName=arn)["EventSourceMappings"]:
            lam.delete_event_source_mapping(UUID=mapping["UUID"])
            mappings.append(f"esm-{mapping['UUID'][:8]}")  # its poller thread's name
        lam.delete_function(FunctionName=arn)  # its execution environments stop too
    wait_for(lambda: not [t for t in threading.enumerate() if mappings and t.name.startswith(tuple(mappings))])


def allow(lam, function_arn: str, principal: str, source_arn: str) -> None:
    """AddPermission: AWS lets S3 and SNS invoke a function only when its resource-based policy says so."""
    lam.add_permission(
        FunctionName=function_arn, StatementId=unique("allow"), Action="lambda:InvokeFunction",
        Principal=principal, SourceArn=source_arn, SourceAccount=function_arn.split(":")[4],
    )  # fmt: skip


def values(event: dict) -> list[str]:
    return [base64.b64decode(r["kinesis"]["data"]).decode() if "kinesis" in r else r["body"] for r in event["Records"]]


def wait_state(lam, uuid: str, state: str = "Enabled") -> dict:
    return wait_for(lambda: (m := lam.get_event_source_mapping(UUID=uuid))["State"] == state and m)


# ---------------------------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------------------------


def test_s3_upload_invokes_the_function_asynchronously_with_aws_record(lam, deploy, aws_client, recorder):
    s3 = aws_client("s3")
    bucket = unique("landing")
    s3.create_bucket(Bucket=bucket)
    arn = deploy("on-upload", BEHAVIOUR_RETURN_NOTHING, timeout=45, WAIT_FOR=f"{bucket}/control/release")
    allow(lam, arn, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "Id": "csv-arrivals",
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".csv"}]
                        }
                    },  # fmt: skip
                }
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="in/readme.txt", Body=b"not a csv")
    s3.put_object(Bucket=bucket, Key="out/flights.csv", Body=b"not incoming")
    put = s3.put_object(Bucket=bucket, Key="in/flights 2024=01.csv", Body=b"a,b\n1,2\n")
    # The handler waits for control/release before recording: a PUT that waited for the handler
    # would have returned only once the handler gave up (30 s) and recorded the event.
    assert recorder() == []
    s3.put_object(Bucket=bucket, Key="control/release", Body=b"")

    (event,) = wait_for(recorder)
    (record,) = event["Records"]
    assert {k: record[k] for k in ("eventVersion", "eventSource", "awsRegion", "eventName")} == {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": "ObjectCreated:Put",
    }  # fmt: skip
    assert record["eventTime"].endswith("Z") and record["userIdentity"]["principalId"]
    assert record["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    s3_part = record["s3"]
    assert s3_part["s3SchemaVersion"] == "1.0" and s3_part["configurationId"] == "csv-arrivals"
    assert s3_part["bucket"]["name"] == bucket and s3_part["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert s3_part["bucket"]["ownerIdentity"]["principalId"]
    obj = s3_part["object"]
    assert obj["key"] == "in/flights+2024%3D01.csv"  # form-encoded, as AWS sends keys
    assert urllib.parse.unquote_plus(obj["key"]) == "in/flights 2024=01.csv"
    assert obj["size"] == 8 and obj["eTag"] == put["ETag"].strip('"') and obj["sequencer"]
    # A later upload that matches: its event is queued after any the earlier uploads caused, and the
    # warm environment they would have taken first is the one it gets.
    s3.put_object(Bucket=bucket, Key="in/later.csv", Body=b"x")
    events = wait_for(lambda: len(recorder()) >= 2 and recorder())
    keys = [e["Records"][0]["s3"]["object"]["key"] for e in events]
    assert keys == ["in/flights+2024%3D01.csv", "in/later.csv"]  # the keys outside the filter never invoked it


def test_s3_delete_marker_event_on_a_versioned_bucket(lam, deploy, aws_client, recorder):
    s3 = aws_client("s3")
    bucket = unique("versioned")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    arn = deploy("on-delete", BEHAVIOUR_RETURN_NOTHING)
    allow(lam, arn, "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:*"]}]
        },
    )
    version = s3.put_object(Bucket=bucket, Key="report.csv", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="report.csv")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="report.csv", VersionId=version)

    events = wait_for(lambda: len(recorder()) == 2 and recorder())
    got = sorted((e["Records"][0]["eventName"], e["Records"][0]["s3"]["object"]["versionId"]) for e in events)
    assert got == sorted([("ObjectRemoved:DeleteMarkerCreated", marker), ("ObjectRemoved:Delete", version)])


# ---------------------------------------------------------------------------------------------
# SNS
# ---------------------------------------------------------------------------------------------


def test_sns_publish_invokes_the_subscribed_function_with_the_sns_record(lam, deploy, aws_client, recorder):
    sns = aws_client("sns")
    topic = sns.create_topic(Name=unique("orders"))["TopicArn"]
    arn = deploy("on-order", BEHAVIOUR_RETURN_NOTHING)
    allow(lam, arn, "sns.amazonaws.com", topic)
    subscription = sns.subscribe(
        TopicArn=topic, Protocol="lambda", Endpoint=arn, ReturnSubscriptionArn=True,
        Attributes={"FilterPolicy": json.dumps({"kind": ["order"]})},
    )["SubscriptionArn"]  # fmt: skip
    sns.publish(
        TopicArn=topic, Message="ignored", MessageAttributes={"kind": {"DataType": "String", "StringValue": "refund"}}
    )
    message_id = sns.publish(
        TopicArn=topic, Message='{"order": 7}', Subject="new order",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )["MessageId"]  # fmt: skip

    (event,) = wait_for(recorder)
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription
    body = record["Sns"]
    assert body["Type"] == "Notification" and body["MessageId"] == message_id and body["TopicArn"] == topic
    assert body["Subject"] == "new order" and json.loads(body["Message"]) == {"order": 7}
    assert body["MessageAttributes"] == {"kind": {"Type": "String", "Value": "order"}}
    assert body["Timestamp"].endswith("Z") and body["Signature"] and body["SignatureVersion"]
    assert body["SigningCertUrl"].startswith("https://") and subscription in body["UnsubscribeUrl"]
    # Another refund, then an order: that order's event comes after any the refunds caused.
    sns.publish(
        TopicArn=topic, Message="ignored", MessageAttributes={"kind": {"DataType": "String", "StringValue": "refund"}}
    )
    sns.publish(
        TopicArn=topic,
        Message='{"order": 8}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    events = wait_for(lambda: len(recorder()) >= 2 and recorder())
    messages = [json.loads(e["Records"][0]["Sns"]["Message"]) for e in events]
    assert messages == [{"order": 7}, {"order": 8}]  # the refunds did not pass the filter policy


# ---------------------------------------------------------------------------------------------
# Kinesis
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def stream(aws_client):
    kinesis = aws_client("kinesis")
    name = unique("clicks")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]

    def put(*datas: str) -> list[str]:
        return [kinesis.put_record(StreamName=name, Data=d.encode(), PartitionKey="user-1")["SequenceNumber"]
                for d in datas]  # fmt: skip

    put.arn = arn
    return put


def test_kinesis_batches_arrive_in_order_once_with_the_kinesis_record(lam, deploy, stream, recorder, role_arn):
    function = deploy("clicks-consumer", BEHAVIOUR_RETURN_NOTHING)
    sequences = stream(*(f"click-{i}" for i in range(7)))
    uuid = lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", BatchSize=3
    )["UUID"]

    events = wait_for(lambda: len(recorder()) == 3 and recorder())
    assert [values(e) for e in events] == [[f"click-{i}" for i in r] for r in ((0, 1, 2), (3, 4, 5), (6,))]
    record = events[0]["Records"][0]
    assert record["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert record["kinesis"]["partitionKey"] == "user-1"
    assert record["kinesis"]["sequenceNumber"] == sequences[0]
    assert abs(record["kinesis"]["approximateArrivalTimestamp"] - time.time()) < 60
    assert record["eventSource"] == "aws:kinesis" and record["eventName"] == "aws:kinesis:record"
    assert record["eventVersion"] == "1.0" and record["eventID"] == f"shardId-000000000000:{sequences[0]}"
    assert record["eventSourceARN"] == stream.arn and record["awsRegion"] == "us-east-1"
    assert record["invokeIdentityArn"] == role_arn
    assert wait_state(lam, uuid)["LastProcessingResult"] == "OK"

    stream("click-7", "click-8")
    # Checkpointed: one batch or two (the poller may read between the puts) of the new records only,
    # in order; the shard is read in order, so anything delivered again would come before click-8.
    wait_for(lambda: "click-8" in [v for e in recorder() for v in values(e)])
    assert [v for e in recorder()[3:] for v in values(e)] == ["click-7", "click-8"]


def test_kinesis_disabled_mapping_resumes_from_its_checkpoint(lam, deploy, stream, recorder, monkeypatch):
    rounds = count_poller_rounds(monkeypatch)
    function = deploy("clicks-consumer", BEHAVIOUR_RETURN_NOTHING)
    stream("before")
    created = lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=stream.arn, StartingPosition="LATEST"
    )
    assert created["State"] == "Creating"
    wait_state(lam, created["UUID"])
    stream("first")
    wait_for(recorder)
    assert lam.update_event_source_mapping(UUID=created["UUID"], Enabled=False)["State"] == "Disabling"
    wait_state(lam, created["UUID"], "Disabled")
    stream("while-disabled")
    since = rounds(created["UUID"])
    wait_for(lambda: rounds(created["UUID"]) >= since + 2)  # two rounds of the disabled poller
    assert [values(e) for e in recorder()] == [["first"]]
    lam.update_event_source_mapping(UUID=created["UUID"], Enabled=True)
    events = wait_for(lambda: len(recorder()) == 2 and recorder())
    assert values(events[1]) == ["while-disabled"]


def test_kinesis_bisects_a_failing_batch_and_reports_the_bad_record_on_failure(lam, deploy, stream, recorder, sqs):
    function = deploy("clicks-consumer", BEHAVIOUR_FAIL_ON_BAD)
    failures_url, failures_arn = queue(sqs, "clicks-failures")
    sequences = stream("a", "b", "bad", "c")
    uuid = lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", BatchSize=4,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )["UUID"]  # fmt: skip

    events = wait_for(lambda: any(values(e) == ["c"] for e in recorder()) and recorder())
    assert [values(e) for e in events] == [["a", "b", "bad", "c"], ["a", "b"], ["bad", "c"], ["bad"], ["c"]]
    message = wait_for(lambda: sqs.receive_message(QueueUrl=failures_url).get("Messages"))[0]
    failure = json.loads(message["Body"])
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["functionArn"] == function
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["version"] == "1.0" and failure["timestamp"].endswith("Z")
    info = failure["KinesisBatchInfo"]
    assert info["shardId"] == "shardId-000000000000" and info["streamArn"] == stream.arn
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        sequences[2],
        sequences[2],
        1,
    )
    assert wait_state(lam, uuid)["LastProcessingResult"] == "OK"


def test_kinesis_report_batch_item_failures_retries_from_the_failed_record(lam, deploy, stream, recorder):
    function = deploy(
        "clicks-consumer",
        """
        failed_once = set()

        def behave(event, values):
            failures = []
            for record, value in zip(event["Records"], values):
                if value == "flaky" and value not in failed_once:
                    failed_once.add(value)
                    failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
            return {"batchItemFailures": failures}
        """,
    )
    stream("one", "two", "flaky", "four")
    lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )  # fmt: skip
    events = wait_for(lambda: len(recorder()) == 2 and recorder())
    assert [values(e) for e in events] == [["one", "two", "flaky", "four"], ["flaky", "four"]]
    stream("five")  # the shard goes on after the retried batch: nothing before "five" comes again
    events = wait_for(lambda: len(recorder()) >= 3 and recorder())
    assert [values(e) for e in events] == [["one", "two", "flaky", "four"], ["flaky", "four"], ["five"]]


def test_kinesis_tumbling_window_passes_state_and_ends_with_a_final_invoke(lam, deploy, stream, recorder):
    function = deploy(
        "clicks-counter",
        """
        def behave(event, values):
            state = event["state"]
            if event["isFinalInvokeForWindow"]:
                return {"state": state}  # the window's total would be written somewhere here
            return {"state": {"clicks": state.get("clicks", 0) + len(values)}}
        """,
    )
    window = 3
    stream("c1", "c2", "c3", "c4", "c5")  # usually in one window; a slow machine may spread them over two
    lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=stream.arn, StartingPosition="TRIM_HORIZON", BatchSize=2,
        TumblingWindowInSeconds=window,
    )  # fmt: skip
    events = wait_for(lambda: windows_closed(recorder(), records=5) and recorder(), limit=2 * window + 30)
    counted = tumbling_windows(events, window, values, lambda seen: {"clicks": len(seen)} if seen else {})
    assert [v for batches in counted for batch in batches for v in batch] == ["c1", "c2", "c3", "c4", "c5"]
    for batches in counted:  # the records were all there: full batches, the window's last one excepted
        assert [len(batch) for batch in batches[:-1]] == [2] * (len(batches) - 1) and 1 <= len(batches[-1]) <= 2
    assert {(e["shardId"], e["eventSourceARN"]) for e in events} == {("shardId-000000000000", stream.arn)}


# ---------------------------------------------------------------------------------------------
# SQS
# ---------------------------------------------------------------------------------------------


def test_sqs_batch_is_deleted_after_success_with_the_sqs_record(lam, deploy, sqs, recorder):
    function = deploy("orders-consumer", BEHAVIOUR_RETURN_NOTHING)
    url, arn = queue(sqs, "orders")
    sent = sqs.send_message(
        QueueUrl=url, MessageBody="order-1", MessageAttributes={"tenant": {"DataType": "String", "StringValue": "acme"}}
    )
    sqs.send_message(QueueUrl=url, MessageBody="order-2")
    uuid = lam.create_event_source_mapping(FunctionName=function, EventSourceArn=arn, BatchSize=10)["UUID"]

    (event,) = wait_for(recorder)
    first, second = event["Records"]
    assert (first["body"], second["body"]) == ("order-1", "order-2")
    assert first["messageId"] == sent["MessageId"] and first["receiptHandle"]
    assert first["md5OfBody"] == sent["MD5OfMessageBody"]
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(first["attributes"]) >= {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
    assert first["messageAttributes"]["tenant"]["stringValue"] == "acme"
    assert first["messageAttributes"]["tenant"]["dataType"] == "String"
    assert (first["eventSource"], first["eventSourceARN"], first["awsRegion"]) == ("aws:sqs", arn, "us-east-1")
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    wait_state(lam, uuid, "Disabled")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_sqs_failed_batch_is_redelivered_after_the_visibility_timeout(lam, deploy, sqs, recorder):
    function = deploy(
        "orders-consumer", BEHAVIOUR_FAIL_ON_BAD, timeout=1
    )  # AWS: at most the queue's visibility timeout
    dlq_url, dlq_arn = queue(sqs, "orders-dlq")
    url, arn = queue(sqs, "orders", VisibilityTimeout=1,
                     RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))  # fmt: skip
    sqs.send_message(QueueUrl=url, MessageBody="bad")
    lam.create_event_source_mapping(FunctionName=function, EventSourceArn=arn)

    events = wait_for(lambda: len(recorder()) == 2 and recorder(), limit=10)
    assert [e["Records"][0]["attributes"]["ApproximateReceiveCount"] for e in events] == ["1", "2"]
    assert events[1]["Records"][0]["receiptHandle"] != events[0]["Records"][0]["receiptHandle"]
    dead = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url).get("Messages"), limit=10)
    assert [m["Body"] for m in dead] == ["bad"]  # maxReceiveCount reached: the redrive policy moved it


def test_sqs_partial_batch_failure_deletes_only_the_successful_messages(lam, deploy, sqs, recorder):
    function = deploy(
        "orders-consumer",
        """
        def behave(event, values):
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                          for r in event["Records"] if r["body"].startswith("retry")]}
        """,
        timeout=1,
    )
    url, arn = queue(sqs, "orders", VisibilityTimeout=1)
    for body in ("ok-1", "retry-1", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=arn, FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    events = wait_for(lambda: len(recorder()) >= 2 and recorder(), limit=10)
    assert sorted(values(events[0])) == ["ok-1", "ok-2", "retry-1"]
    assert values(events[1]) == ["retry-1"]  # only the reported message came back

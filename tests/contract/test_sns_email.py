"""SNS email subscriptions wait for confirmation and their mails can be read locally (local_aws/sns/); SNS
delivers to SQS (raw or in its JSON envelope) and Lambda subscribers, through boto3.
"""

from __future__ import annotations

import io
import json
import urllib.parse
import urllib.request
from contextlib import redirect_stdout

import pytest
from botocore.exceptions import ClientError

from local_aws.sns import mailbox
from tests.lambda_support import create_role, wait_for, wait_until_active, zip_of

ACCOUNT = "123456789012"
ADDRESS = "ops@example.com"


@pytest.fixture
def sns(aws_client):
    return aws_client("sns")


@pytest.fixture
def topic(sns) -> str:
    return sns.create_topic(Name="alerts", Attributes={"DisplayName": "Clickstream"})["TopicArn"]


def read(local_aws, address: str = ADDRESS) -> dict:
    return mailbox.read(local_aws.endpoint_url, address)


def attributes(sns, arn: str) -> dict:
    return sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]


def test_an_email_subscription_waits_for_confirmation_and_then_gets_the_messages(local_aws, sns, topic):
    assert (
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=ADDRESS)["SubscriptionArn"] == "pending confirmation"
    )
    arn = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=ADDRESS, ReturnSubscriptionArn=True)[
        "SubscriptionArn"
    ]
    assert arn.startswith(topic + ":")
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]] == ["PendingConfirmation"]
    assert attributes(sns, arn)["PendingConfirmation"] == "true"
    counts = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert (counts["SubscriptionsPending"], counts["SubscriptionsConfirmed"]) == ("1", "0")

    # SNS mailed a confirmation request (again for the repeated Subscribe), with the token and link.
    requests = read(local_aws)["messages"]
    assert len(requests) == 2 and requests[0]["token"] == requests[1]["token"]
    request = requests[0]
    assert (request["type"], request["subject"], request["from"]) == (
        "SubscriptionConfirmation", "AWS Notification - Subscription Confirmation", "Clickstream <no-reply@sns.amazonaws.com>")  # fmt: skip
    assert request["body"].startswith(f"You have chosen to subscribe to the topic: \n{topic}\n")
    assert "https://sns.us-east-1.amazonaws.com/confirmation.html?TopicArn=" in request["body"]

    # Published while pending: not delivered, as on AWS (kept apart, to show why nothing arrived).
    sns.publish(TopicArn=topic, Message="too early")
    box = read(local_aws)
    assert [m["type"] for m in box["messages"]] == ["SubscriptionConfirmation"] * 2
    assert [(m["body"].split("\n\n--\n")[0], m["delivered"]) for m in box["undelivered"]] == [("too early", False)]
    assert "pending confirmation" in box["undelivered"][0]["reason"]

    with pytest.raises(ClientError, match="Invalid parameter: Token"):
        sns.confirm_subscription(TopicArn=topic, Token="not-the-token")
    assert sns.confirm_subscription(TopicArn=topic, Token=request["token"])["SubscriptionArn"] == arn
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [arn]
    assert attributes(sns, arn)["PendingConfirmation"] == "false"
    counts = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert (counts["SubscriptionsPending"], counts["SubscriptionsConfirmed"]) == ("0", "1")

    message_id = sns.publish(TopicArn=topic, Subject="Anomaly detected",
                             Message="Anomaly detected with a click through rate of 31.5% and an anomaly score of 2.7")["MessageId"]  # fmt: skip
    sns.publish(TopicArn=topic, Message="no subject")
    *_, alert, plain = read(local_aws)["messages"]
    assert (alert["type"], alert["subject"], alert["message_id"], alert["subscription_arn"], alert["topic_arn"]) == (
        "Notification", "Anomaly detected", message_id, arn, topic)  # fmt: skip
    assert alert["body"].startswith(
        "Anomaly detected with a click through rate of 31.5% and an anomaly score of 2.7\n\n--\n"
    )
    assert (
        "please click or visit the link below to unsubscribe:\nhttps://sns.us-east-1.amazonaws.com/unsubscribe.html?SubscriptionArn="
        in alert["body"]
    )
    assert alert["time"].endswith("Z") and alert["delivered"] is True
    assert plain["subject"] == "AWS Notification Message"
    assert read(local_aws, "someone@else.example")["messages"] == []


def test_email_json_filter_policies_and_message_structure(local_aws, sns, topic):
    arn = sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=ADDRESS, ReturnSubscriptionArn=True,
                        Attributes={"FilterPolicy": json.dumps({"severity": ["high"]})})["SubscriptionArn"]  # fmt: skip
    (request,) = read(local_aws)["messages"]
    confirmation = json.loads(request["body"])
    assert (confirmation["Type"], confirmation["Token"], confirmation["TopicArn"]) == (
        "SubscriptionConfirmation",
        request["token"],
        topic,
    )
    assert "Action=ConfirmSubscription" in confirmation["SubscribeURL"]
    # The link, followed locally, confirms it (as clicking it does on AWS).
    with urllib.request.urlopen(request["confirm_url"]) as answer:
        assert json.loads(answer.read()) == {"confirmed": [arn]}

    high = {"severity": {"DataType": "String", "StringValue": "high"}}
    sns.publish(
        TopicArn=topic,
        Message="filtered out",
        MessageAttributes={"severity": {"DataType": "String", "StringValue": "low"}},
    )
    sns.publish(TopicArn=topic, Message=json.dumps({"default": "plain", "email-json": "for email-json"}),
                MessageStructure="json", Subject="structured", MessageAttributes=high)  # fmt: skip
    _, notification = read(local_aws)["messages"]
    body = json.loads(notification["body"])
    assert (body["Type"], body["Message"], body["Subject"], body["TopicArn"]) == (
        "Notification",
        "for email-json",
        "structured",
        topic,
    )
    assert body["UnsubscribeURL"] == f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={arn}"


def test_confirming_an_address_locally_and_what_sns_refuses(local_aws, sns, topic):
    with pytest.raises(ClientError, match="Invalid parameter: Email address"):
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="not-an-address")
    other = sns.create_topic(Name="other")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=ADDRESS)
    sns.subscribe(TopicArn=other, Protocol="email", Endpoint=ADDRESS)
    confirmed = mailbox.confirm_address(local_aws.endpoint_url, ADDRESS.upper(), topic_arn=topic)  # addresses: any case
    assert [arn.rsplit(":", 1)[0] for arn in confirmed] == [topic]
    assert mailbox.confirm_address(local_aws.endpoint_url, ADDRESS, topic_arn=topic) == []  # again: nothing to do
    assert sorted(s["SubscriptionArn"] == "PendingConfirmation" for s in sns.list_subscriptions()["Subscriptions"]) == [
        False,
        True,
    ]

    stdout = io.StringIO()
    with redirect_stdout(stdout):
        mailbox.main(["--endpoint-url", local_aws.endpoint_url, "confirm", "--address", ADDRESS])
    assert json.loads(stdout.getvalue())["confirmed"][0].startswith(other + ":")
    sns.publish(TopicArn=other, Message="to both")
    sns.publish(TopicArn=topic, Message="to both")
    stdout = io.StringIO()
    with redirect_stdout(stdout):
        mailbox.main(["--endpoint-url", local_aws.endpoint_url, "show", "--address", ADDRESS, "--topic-arn", other])
    shown = json.loads(stdout.getvalue())
    assert [m["type"] for m in shown["messages"]] == ["SubscriptionConfirmation", "Notification"]
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{local_aws.endpoint_url}/_local_aws/sns/nothing")
    assert missing.value.code == 404

    local_aws.reset()  # moto's reset forgets the mails with the subscriptions
    assert read(local_aws) == {"messages": [], "undelivered": []}


RELAY = """
import json, os
import boto3


def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["RELAY_TO"], MessageBody=json.dumps(event))
"""


def test_sqs_and_lambda_subscribers_get_what_sns_sends_them(local_aws, aws_client, sns, topic):
    sqs, lam = aws_client("sqs"), aws_client("lambda")

    def queue(name: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    (raw_url, raw_arn), (envelope_url, envelope_arn), (relay_url, _) = queue("raw"), queue("envelope"), queue("relay")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    envelope = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=envelope_arn)["SubscriptionArn"]
    function = lam.create_function(FunctionName="relay", Runtime="python3.12", Handler="relay.handler",
                                   Role=create_role(aws_client("iam"), "relay-role"), Code={"ZipFile": zip_of({"relay.py": RELAY})},
                                   Environment={"Variables": {"RELAY_TO": relay_url}})["FunctionArn"]  # fmt: skip
    wait_until_active(lam, "relay")
    lam.add_permission(FunctionName="relay", StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)  # fmt: skip
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)

    message_id = sns.publish(TopicArn=topic, Subject="alert", Message='{"ctr": 31.5}',
                             MessageAttributes={"phase": {"DataType": "String", "StringValue": "burst"}})["MessageId"]  # fmt: skip

    def received(url: str) -> list[dict]:
        return sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])

    (raw,) = wait_for(lambda: received(raw_url))
    assert raw["Body"] == '{"ctr": 31.5}'
    assert raw["MessageAttributes"]["phase"] == {"StringValue": "burst", "DataType": "String"}
    (wrapped,) = wait_for(lambda: received(envelope_url))
    body = json.loads(wrapped["Body"])
    assert (body["Type"], body["MessageId"], body["TopicArn"], body["Subject"], body["Message"]) == (
        "Notification", message_id, topic, "alert", '{"ctr": 31.5}')  # fmt: skip
    assert body["MessageAttributes"] == {"phase": {"Type": "String", "Value": "burst"}}
    assert (
        body["SignatureVersion"] == "2"
        and body["Signature"]
        and body["SigningCertURL"].startswith("https://sns.us-east-1.amazonaws.com/")
    )
    assert body["UnsubscribeURL"].endswith(f"SubscriptionArn={envelope}")  # its own subscription
    (relayed,) = wait_for(lambda: received(relay_url), limit=30)
    record = json.loads(relayed["Body"])["Records"][0]
    assert (record["EventSource"], record["Sns"]["MessageId"], record["Sns"]["Message"]) == (
        "aws:sns",
        message_id,
        '{"ctr": 31.5}',
    )

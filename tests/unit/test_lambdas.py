"""The Lambda handlers in lambdas/, run in-process on events shaped as AWS sends them, S3 by moto."""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from lambdas import basics, s3_delete, s3_move, sns_logger

REGION = "us-east-1"


@dataclass
class FakeContext:
    """What the python3.11 runtime passes as context (memory_limit_in_mb is a string there too)."""

    function_name: str = "ade-lambda-lab-fn"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ade-lambda-lab-fn"
    memory_limit_in_mb: str = "256"
    aws_request_id: str = "6f1d0b2e-0c7a-4a43-9c55-1d1f0f7b3a11"
    log_group_name: str = "/aws/lambda/ade-lambda-lab-fn"
    log_stream_name: str = "2026/11/27/[$LATEST]0123456789abcdef"
    timeout_seconds: float = 3.0

    def __post_init__(self):
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def s3_put_record(bucket: str, key: str, size: int, etag: str, version_id: str | None = None) -> dict:
    """One record of an S3 ObjectCreated:Put notification, event version 2.1 (key URL-encoded, spaces as '+')."""
    obj = {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag, "sequencer": "0A1B2C3D4E5F678901"}
    if version_id:
        obj["versionId"] = version_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2026-11-27T19:37:27.192Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
        "requestParameters": {"sourceIPAddress": "205.255.255.255"},
        "responseElements": {
            "x-amz-request-id": "D82B88E5F771F645",
            "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "move-to-target",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


SNS_EVENT = {
    "Records": [
        {
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:sns-lambda:21be56ed-a058-49f5-8c98-aedd2564c486",
            "EventSource": "aws:sns",
            "Sns": {
                "SignatureVersion": "1",
                "Timestamp": "2026-11-27T12:45:07.000Z",
                "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
                "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem",
                "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "Message": "Hello from SNS!",
                "MessageAttributes": {"Test": {"Type": "String", "Value": "TestString"}},
                "Type": "Notification",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&amp;SubscriptionArn=arn:aws:sns:us-east-1:123456789012:test-lambda:21be56ed-a058-49f5-8c98-aedd2564c486",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:sns-lambda",
                "Subject": "TestInvoke",
            },
        }
    ]
}


@pytest.fixture
def aws(monkeypatch):
    """moto in-process, credentials that can reach nothing real, fresh handler clients."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3_move._s3.cache_clear()
        s3_delete._s3.cache_clear()
        yield boto3.client("s3", region_name=REGION)
    s3_move._s3.cache_clear()
    s3_delete._s3.cache_clear()


# ---- lab 1: basics --------------------------------------------------------------------------


def test_basics_reports_region_environment_and_context(monkeypatch, caplog):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("GREETING", "Bonjour")
    context = FakeContext(timeout_seconds=900)
    with caplog.at_level(logging.INFO):
        before = context.get_remaining_time_in_millis()
        result = basics.handler({"name": "data engineers"}, context)
        after = context.get_remaining_time_in_millis()

    assert json.loads(json.dumps(result)) == result  # what Lambda returns must be JSON
    assert before >= result.pop("remaining_time_in_millis") >= after > 0  # the context's, when it ran
    assert result == {
        "greeting": "Bonjour, data engineers!",
        "region": "eu-west-1",
        "function_name": "ade-lambda-lab-fn",
        "function_version": "$LATEST",
        "memory_limit_in_mb": 256,
        "request_id": context.aws_request_id,
        "log_group_name": "/aws/lambda/ade-lambda-lab-fn",
        "log_stream_name": "2026/11/27/[$LATEST]0123456789abcdef",
    }
    assert caplog.messages == [
        f"Bonjour, data engineers! from ade-lambda-lab-fn (256 MB) in eu-west-1, request {context.aws_request_id}"
    ]


def test_basics_defaults_without_greeting_or_event(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("GREETING", raising=False)
    assert basics.handler({}, FakeContext())["greeting"] == "Hello, world!"


# ---- lab 2: SNS to CloudWatch Logs ---------------------------------------------------------


def test_sns_logger_logs_each_message_with_subject_and_id(caplog):
    event = copy.deepcopy(SNS_EVENT)
    second = copy.deepcopy(event["Records"][0])
    second["Sns"].update(MessageId="0a6e2c3b-5d1f-5c4e-8a2b-7f1e9d3c4b5a", Message="second", Subject=None)
    event["Records"].append(second)
    with caplog.at_level(logging.INFO):
        assert sns_logger.handler(event, FakeContext()) == {"count": 2}
    assert caplog.messages == [
        "SNS message 95df01b4-ee98-5cb9-9903-4c221d41eb5e on arn:aws:sns:us-east-1:123456789012:sns-lambda, "
        "subject 'TestInvoke': Hello from SNS!",
        "SNS message 0a6e2c3b-5d1f-5c4e-8a2b-7f1e9d3c4b5a on arn:aws:sns:us-east-1:123456789012:sns-lambda, "
        "subject None: second",
    ]


def test_sns_logger_skips_records_from_other_sources(caplog):
    event = {"Records": [{"EventSource": "aws:sqs", "body": "not for us"}]}
    assert sns_logger.handler(event, FakeContext()) == {"count": 0}
    assert "not from SNS" in caplog.text


# ---- lab 3: move objects between buckets ---------------------------------------------------


def _put(s3, bucket: str, key: str, body: bytes, **extra) -> dict:
    response = s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)
    return s3_put_record(bucket, key, len(body), response["ETag"].strip('"'), response.get("VersionId"))


def test_s3_move_keeps_key_content_metadata_and_storage_class(aws, monkeypatch, caplog):
    s3 = aws
    for bucket in ("source", "target"):
        s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("TARGET_BUCKET", "target")
    body = b"carrier,flights\nUA,58665\n"
    records = [
        _put(
            s3,
            "source",
            "reports/2026 q1/flights by airline.csv",
            body,
            ContentType="text/csv",
            Metadata={"owner": "data-engineering"},
            StorageClass="STANDARD_IA",
            CacheControl="max-age=60",
        ),  # fmt: skip
        _put(s3, "source", "raw/2026/11/27/events+extra.json", b'{"a": 1}', ContentType="application/json"),
    ]
    # The '+' in the second key arrives as %2B, the spaces in the first as '+'.
    assert records[0]["s3"]["object"]["key"] == "reports/2026+q1/flights+by+airline.csv"
    assert records[1]["s3"]["object"]["key"] == "raw/2026/11/27/events%2Bextra.json"

    with caplog.at_level(logging.INFO):
        result = s3_move.handler({"Records": records}, FakeContext())

    moved = ["reports/2026 q1/flights by airline.csv", "raw/2026/11/27/events+extra.json"]
    assert result == {"moved": moved, "already-moved": [], "missing": [], "skipped": [], "failed": []}
    assert s3.list_objects_v2(Bucket="source")["KeyCount"] == 0
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket="target")["Contents"]) == sorted(moved)
    head = s3.head_object(Bucket="target", Key=moved[0])
    assert (head["ContentType"], head["Metadata"], head["StorageClass"], head["CacheControl"]) == (
        "text/csv", {"owner": "data-engineering"}, "STANDARD_IA", "max-age=60",
    )  # fmt: skip
    assert s3.get_object(Bucket="target", Key=moved[0])["Body"].read() == body
    assert s3.head_object(Bucket="target", Key=moved[1])["ContentType"] == "application/json"
    assert "StorageClass" not in s3.head_object(Bucket="target", Key=moved[1])  # STANDARD
    assert f"Moved s3://source/{moved[0]} to s3://target/{moved[0]} ({len(body)} bytes, STANDARD_IA)" in caplog.messages


def test_s3_move_is_idempotent_on_retry(aws, monkeypatch, caplog):
    s3 = aws
    for bucket in ("source", "target"):
        s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("TARGET_BUCKET", "target")
    event = {"Records": [_put(s3, "source", "a b.txt", b"once")]}
    assert s3_move.handler(event, FakeContext())["moved"] == ["a b.txt"]

    with caplog.at_level(logging.INFO):
        retried = s3_move.handler(event, FakeContext())

    assert retried["already-moved"] == ["a b.txt"] and retried["moved"] == []
    assert "s3://source/a b.txt is already in s3://target (moved by an earlier attempt)" in caplog.messages
    assert s3.get_object(Bucket="target", Key="a b.txt")["Body"].read() == b"once"


def test_s3_move_deletes_the_event_version_in_a_versioned_source(aws, monkeypatch):
    s3 = aws
    for bucket in ("source", "target"):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket="source", VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setenv("TARGET_BUCKET", "target")
    first = _put(s3, "source", "data.csv", b"v1")
    second = _put(s3, "source", "data.csv", b"v2")
    assert first["s3"]["object"]["versionId"] != second["s3"]["object"]["versionId"]

    s3_move.handler({"Records": [first]}, FakeContext())
    # Only the first version went: no delete marker, the newer version is still current.
    versions = s3.list_object_versions(Bucket="source")
    assert [v["VersionId"] for v in versions["Versions"]] == [second["s3"]["object"]["versionId"]]
    assert "DeleteMarkers" not in versions
    assert s3.get_object(Bucket="target", Key="data.csv")["Body"].read() == b"v1"

    s3_move.handler({"Records": [second]}, FakeContext())
    assert "Versions" not in s3.list_object_versions(Bucket="source")
    assert s3.get_object(Bucket="target", Key="data.csv")["Body"].read() == b"v2"


def test_s3_move_skips_folder_placeholders_and_other_events(aws, monkeypatch):
    s3 = aws
    for bucket in ("source", "target"):
        s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("TARGET_BUCKET", "target")
    folder = _put(s3, "source", "incoming/", b"")
    removed = s3_put_record("source", "gone.txt", 0, "d41d8cd98f00b204e9800998ecf8427e")
    removed["eventName"] = "ObjectRemoved:Delete"

    result = s3_move.handler({"Records": [folder, removed]}, FakeContext())

    assert result["skipped"] == ["incoming/", "gone.txt"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="source")["Contents"]] == ["incoming/"]
    assert s3.list_objects_v2(Bucket="target")["KeyCount"] == 0


def test_s3_move_fails_the_invocation_and_loses_nothing_when_the_copy_fails(aws, monkeypatch, caplog):
    s3 = aws
    s3.create_bucket(Bucket="source")
    monkeypatch.setenv("TARGET_BUCKET", "no-such-target")
    records = [_put(s3, "source", "one.txt", b"1"), _put(s3, "source", "two.txt", b"2")]

    with pytest.raises(RuntimeError, match=r"could not move 2 object\(s\): \['one.txt', 'two.txt'\]"):
        s3_move.handler({"Records": records}, FakeContext())
    # Both were tried (one failure does not stop the others), and both are still in the source for the retry.
    assert sum("Could not move s3://source/" in m and "NoSuchBucket" in m for m in caplog.messages) == 2
    assert _keys(s3, "source") == ["one.txt", "two.txt"]


def test_the_lab3_dags_replayed_event_is_shaped_as_s3_sends_it():
    from labkit.labs import aws_lambda

    def shape(value):
        return {key: shape(item) for key, item in value.items()} if isinstance(value, dict) else type(value)

    replayed = json.loads(aws_lambda.s3_put_event("source", "a b+c.csv", 3, "0cc175b9c0f1b6a8", REGION))
    documented = {"Records": [s3_put_record("source", "a b+c.csv", 3, "0cc175b9c0f1b6a8")]}
    assert shape(replayed["Records"][0]) == shape(documented["Records"][0])
    assert replayed["Records"][0]["s3"]["object"]["key"] == "a+b%2Bc.csv"


def test_s3_move_needs_a_target_bucket(aws, monkeypatch):
    monkeypatch.delenv("TARGET_BUCKET", raising=False)
    with pytest.raises(ValueError, match="TARGET_BUCKET is not set"):
        s3_move.handler({"Records": []}, FakeContext())


# ---- lab 4: delete objects by rule ---------------------------------------------------------


@pytest.fixture
def aged_bucket(aws, monkeypatch):
    """Objects under logs/ and tmp/, half of them written 40 days ago (moto's clock set back for them)."""
    import moto.s3.models

    s3 = aws
    s3.create_bucket(Bucket="data")
    real_now = moto.s3.models.utcnow
    monkeypatch.setattr(moto.s3.models, "utcnow", lambda: real_now() - timedelta(days=40))
    for key in ("logs/2026/old-1.log", "logs/2026/old-2.log", "tmp/old.tmp", "keep/old.csv"):
        s3.put_object(Bucket="data", Key=key, Body=b"old")
    monkeypatch.setattr(moto.s3.models, "utcnow", real_now)
    for key in ("logs/2026/new.log", "tmp/new.tmp"):
        s3.put_object(Bucket="data", Key=key, Body=b"new")
    return s3


def _keys(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                  for o in page.get("Contents", []))  # fmt: skip


def test_s3_delete_dry_run_lists_matches_and_deletes_nothing(aged_bucket):
    result = s3_delete.handler(
        {"bucket": "data", "prefix": "logs/", "older_than_days": 30, "dry_run": True}, FakeContext()
    )
    assert {k: result[k] for k in ("dry_run", "listed", "matched", "deleted", "kept", "errors", "keys")} == {
        "dry_run": True, "listed": 3, "matched": 2, "deleted": 0, "kept": 1, "errors": [],
        "keys": ["logs/2026/old-1.log", "logs/2026/old-2.log"],
    }  # fmt: skip
    assert len(_keys(aged_bucket, "data")) == 6


def test_s3_delete_removes_exactly_the_old_objects_under_the_prefix(aged_bucket, caplog):
    with caplog.at_level(logging.INFO):
        result = s3_delete.handler({"bucket": "data", "prefix": "logs/", "older_than_days": 30}, FakeContext())
    assert (result["matched"], result["deleted"], result["kept"], result["errors"]) == (2, 2, 1, [])
    assert _keys(aged_bucket, "data") == ["keep/old.csv", "logs/2026/new.log", "tmp/new.tmp", "tmp/old.tmp"]
    assert any(m.startswith("Deleted from s3://data/logs/ older than") and "2 deleted, 1 kept, 0 errors" in m
               for m in caplog.messages)  # fmt: skip


def test_s3_delete_rule_from_environment_with_a_cutoff_moment(aws, monkeypatch):
    s3 = aws
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="tmp/a", Body=b"a")
    time.sleep(2.1)  # S3 keeps LastModified to the second
    s3.put_object(Bucket="data", Key="tmp/b", Body=b"b")
    # Between the two objects by S3's own clock (the test process's clock need not be the same).
    a, b = (s3.head_object(Bucket="data", Key=key)["LastModified"] for key in ("tmp/a", "tmp/b"))
    cutoff = a + (b - a) / 2
    monkeypatch.setenv("BUCKET", "data")
    monkeypatch.setenv("PREFIX", "tmp/")
    monkeypatch.setenv("OLDER_THAN", cutoff.isoformat())
    monkeypatch.setenv("DRY_RUN", "false")

    result = s3_delete.handler({}, FakeContext())

    assert (result["keys"], result["deleted"], result["older_than"]) == (["tmp/a"], 1, cutoff.isoformat())
    assert _keys(s3, "data") == ["tmp/b"]


def test_s3_delete_batches_of_1000_and_paginated_listing(aws):
    s3 = aws
    s3.create_bucket(Bucket="data")
    for i in range(2503):
        s3.put_object(Bucket="data", Key=f"batch/{i:05d}", Body=b"")
    s3.put_object(Bucket="data", Key="other/kept", Body=b"")
    calls = []
    client = s3_delete._s3()
    client.meta.events.register(
        "provide-client-params.s3.DeleteObjects", lambda params, **_: calls.append(len(params["Delete"]["Objects"]))
    )

    result = s3_delete.handler({"bucket": "data", "prefix": "batch/"}, FakeContext())

    assert calls == [1000, 1000, 503]
    assert (result["listed"], result["deleted"], result["keys_truncated"], len(result["keys"])) == (
        2503,
        2503,
        True,
        1000,
    )
    assert _keys(s3, "data") == ["other/kept"]


def test_s3_delete_reports_errors_per_key_and_deletes_the_rest(aws, monkeypatch):
    s3 = aws
    s3.create_bucket(Bucket="data")
    for key in ("tmp/locked", "tmp/free"):
        s3.put_object(Bucket="data", Key=key, Body=b"x")
    client = s3_delete._s3()
    real_delete = client.delete_objects

    def refuse_locked(**kwargs):
        # S3 answers per key; here as when an Object Lock retention or a policy protects one key.
        objects = kwargs["Delete"]["Objects"]
        kwargs["Delete"]["Objects"] = [o for o in objects if o["Key"] != "tmp/locked"]
        response = real_delete(**kwargs)
        response["Errors"] = [{"Key": "tmp/locked", "Code": "AccessDenied", "Message": "Access Denied"}]
        return response

    monkeypatch.setattr(client, "delete_objects", refuse_locked)
    result = s3_delete.handler({"bucket": "data", "prefix": "tmp/"}, FakeContext())

    assert result["errors"] == [{"key": "tmp/locked", "code": "AccessDenied", "message": "Access Denied"}]
    assert (result["matched"], result["deleted"]) == (2, 1)
    assert _keys(s3, "data") == ["tmp/locked"]


def test_s3_delete_reports_every_key_of_a_refused_batch_and_goes_on(aws, monkeypatch):
    from botocore.exceptions import ClientError

    s3 = aws
    s3.create_bucket(Bucket="data")
    for i in range(1500):
        s3.put_object(Bucket="data", Key=f"tmp/{i:04d}", Body=b"")
    client = s3_delete._s3()
    real_delete, calls = client.delete_objects, []

    def throttle_first_batch(**kwargs):
        calls.append(len(kwargs["Delete"]["Objects"]))
        if len(calls) == 1:
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "DeleteObjects"
            )
        return real_delete(**kwargs)

    monkeypatch.setattr(client, "delete_objects", throttle_first_batch)
    result = s3_delete.handler({"bucket": "data", "prefix": "tmp/"}, FakeContext())

    assert calls == [1000, 500]
    assert (result["matched"], result["deleted"], len(result["errors"])) == (1500, 500, 1000)
    assert result["errors"][0] == {"key": "tmp/0000", "code": "SlowDown", "message": "Please reduce your request rate."}
    assert _keys(s3, "data") == [f"tmp/{i:04d}" for i in range(1000)]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"prefix": "tmp/"}, "no bucket"),
        ({"bucket": "data"}, "refusing to delete every object in data"),
        ({"bucket": "data", "older_than": "2026-01-01T00:00:00Z", "older_than_days": 1}, "not both"),
        ({"bucket": "data", "older_than_days": -1}, "0 or more"),
        ({"bucket": "data", "prefix": "tmp/", "dry_run": "maybe"}, "dry_run must be true or false"),
    ],
)
def test_s3_delete_rejects_unclear_rules(aws, monkeypatch, event, message):
    for name in ("BUCKET", "PREFIX", "OLDER_THAN", "OLDER_THAN_DAYS", "DRY_RUN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match=message):
        s3_delete.handler(event, FakeContext())

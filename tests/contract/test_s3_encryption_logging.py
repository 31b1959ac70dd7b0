"""S3 default encryption, SSE-KMS with keys that matter, and server access logs delivered as AWS writes them."""

from __future__ import annotations

import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from labkit.operators.s3_access_logs import parse_log_object
from local_aws.s3 import access_log_delivery

ACCOUNT = "123456789012"
LOG_KEY = re.compile(r"^access/\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$")


def error_of(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def sse(response: dict) -> tuple:
    return response.get("ServerSideEncryption"), response.get("SSEKMSKeyId"), response.get("BucketKeyEnabled")


@pytest.fixture
def s3(aws_client):
    return aws_client("s3")


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


@pytest.fixture
def lab_key(kms) -> dict:
    key = kms.create_key(Description="lab key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/lab", TargetKeyId=key["KeyId"])
    return key


def kms_default(s3, bucket: str, key_id: str, bucket_key: bool = True) -> None:
    rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id},
        "BucketKeyEnabled": bucket_key,
    }
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})


# --- encryption ----------------------------------------------------------------------------------------


def test_every_bucket_defaults_to_sse_s3_and_objects_report_it(s3, lab_key):
    s3.create_bucket(Bucket="plain")
    rules = s3.get_bucket_encryption(Bucket="plain")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules == [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]

    assert sse(s3.put_object(Bucket="plain", Key="a.csv", Body=b"a,b\n")) == ("AES256", None, None)
    assert sse(s3.get_object(Bucket="plain", Key="a.csv")) == ("AES256", None, None)
    assert sse(s3.head_object(Bucket="plain", Key="a.csv")) == ("AES256", None, None)

    kms_default(s3, "plain", "alias/lab")
    s3.delete_bucket_encryption(Bucket="plain")  # falls back to SSE-S3, as on AWS
    rule = s3.get_bucket_encryption(Bucket="plain")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert sse(s3.put_object(Bucket="plain", Key="b.csv", Body=b"x")) == ("AES256", None, None)


def test_bucket_default_sse_kms_with_bucket_key_reports_the_key_arn(s3, lab_key):
    s3.create_bucket(Bucket="secure")
    kms_default(s3, "secure", "alias/lab")  # an alias: objects report the key's ARN
    expected = ("aws:kms", lab_key["Arn"], True)
    assert sse(s3.put_object(Bucket="secure", Key="k", Body=b"secret")) == expected
    assert sse(s3.get_object(Bucket="secure", Key="k")) == expected
    assert sse(s3.head_object(Bucket="secure", Key="k")) == expected
    assert s3.get_object(Bucket="secure", Key="k")["Body"].read() == b"secret"

    # Request headers win over the bucket default.
    assert sse(s3.put_object(Bucket="secure", Key="s3", Body=b"x", ServerSideEncryption="AES256")) == (
        "AES256",
        None,
        None,
    )
    unkeyed = s3.put_object(
        Bucket="secure", Key="nb", Body=b"x", ServerSideEncryption="aws:kms", BucketKeyEnabled=False
    )
    managed = s3.get_object(Bucket="secure", Key="nb")
    # aws:kms without a key id uses the AWS managed key aws/s3, not the bucket's key.
    aws_s3_key = unkeyed["SSEKMSKeyId"]
    assert aws_s3_key.startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/") and aws_s3_key != lab_key["Arn"]
    assert sse(managed) == ("aws:kms", aws_s3_key, False)


def test_a_missing_kms_key_fails_the_put_and_stores_nothing(s3):
    s3.create_bucket(Bucket="secure")
    missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
    status, code, message = error_of(
        lambda: s3.put_object(Bucket="secure", Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=missing)
    )
    assert (status, code) == (400, "KMS.NotFoundException")
    assert message == f"Key 'arn:aws:kms:us-east-1:{ACCOUNT}:key/{missing}' does not exist"

    kms_default(s3, "secure", "alias/nope")
    status, code, message = error_of(lambda: s3.put_object(Bucket="secure", Key="k", Body=b"x"))
    assert (status, code, message) == (
        400,
        "KMS.NotFoundException",
        f"Alias arn:aws:kms:us-east-1:{ACCOUNT}:alias/nope is not found.",
    )
    assert s3.list_objects_v2(Bucket="secure")["KeyCount"] == 0


def test_a_disabled_key_blocks_writes_and_reads_but_not_head(s3, kms, lab_key):
    s3.create_bucket(Bucket="secure")
    kms_default(s3, "secure", lab_key["KeyId"])
    s3.put_object(Bucket="secure", Key="k", Body=b"secret")
    upload = s3.create_multipart_upload(Bucket="secure", Key="big")["UploadId"]  # started while the key works

    kms.disable_key(KeyId=lab_key["KeyId"])
    disabled = (400, "KMS.DisabledException", f"{lab_key['Arn']} is disabled.")
    assert error_of(lambda: s3.get_object(Bucket="secure", Key="k")) == disabled
    assert error_of(lambda: s3.put_object(Bucket="secure", Key="k2", Body=b"x")) == disabled
    assert error_of(lambda: s3.create_multipart_upload(Bucket="secure", Key="big")) == disabled
    assert (
        error_of(lambda: s3.upload_part(Bucket="secure", Key="big", UploadId=upload, PartNumber=1, Body=b"x"))
        == disabled
    )
    s3.create_bucket(Bucket="other")
    assert (
        error_of(lambda: s3.copy_object(Bucket="other", Key="c", CopySource={"Bucket": "secure", "Key": "k"}))
        == disabled
    )
    # HeadObject reads metadata only; AWS does not ask KMS for it.
    assert sse(s3.head_object(Bucket="secure", Key="k")) == ("aws:kms", lab_key["Arn"], True)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="secure")["Contents"]] == ["k"]

    kms.enable_key(KeyId=lab_key["KeyId"])
    assert s3.get_object(Bucket="secure", Key="k")["Body"].read() == b"secret"

    kms.schedule_key_deletion(KeyId=lab_key["KeyId"], PendingWindowInDays=7)
    status, code, message = error_of(lambda: s3.get_object(Bucket="secure", Key="k"))
    assert (status, code, message) == (400, "KMS.KMSInvalidStateException", f"{lab_key['Arn']} is pending deletion.")


def test_multipart_and_copy_take_the_bucket_default_kms_key(s3, lab_key):
    s3.create_bucket(Bucket="secure")
    kms_default(s3, "secure", "alias/lab")
    upload = s3.create_multipart_upload(Bucket="secure", Key="big")
    part = s3.upload_part(Bucket="secure", Key="big", UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 10)
    s3.complete_multipart_upload(
        Bucket="secure",
        Key="big",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert sse(s3.head_object(Bucket="secure", Key="big"))[:2] == ("aws:kms", lab_key["Arn"])

    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="p", Body=b"plain")
    s3.copy_object(Bucket="secure", Key="copied", CopySource={"Bucket": "plain", "Key": "p"})
    assert sse(s3.head_object(Bucket="secure", Key="copied")) == ("aws:kms", lab_key["Arn"], True)


def test_kms_refuses_cryptography_with_a_key_that_is_not_enabled(kms, lab_key):
    blob = kms.encrypt(KeyId="alias/lab", Plaintext=b"data")["CiphertextBlob"]
    kms.disable_key(KeyId=lab_key["KeyId"])
    for call in (
        lambda: kms.encrypt(KeyId="alias/lab", Plaintext=b"data"),
        lambda: kms.decrypt(CiphertextBlob=blob),
        lambda: kms.generate_data_key(KeyId=lab_key["KeyId"], KeySpec="AES_256"),
    ):
        assert error_of(call)[:2] == (400, "DisabledException")
    kms.enable_key(KeyId=lab_key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"data"
    kms.schedule_key_deletion(KeyId=lab_key["KeyId"], PendingWindowInDays=7)
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob))[:2] == (400, "KMSInvalidStateException")


# --- server access logging -------------------------------------------------------------------------------


def log_delivery_policy(target: str, prefix: str = "access/", source: str | list[str] = "data") -> str:
    sources = [f"arn:aws:s3:::{name}" for name in ([source] if isinstance(source, str) else source)]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "S3ServerAccessLogsPolicy",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{target}/{prefix}*",
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": sources},
                        "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    },
                }
            ],
        }
    )


def enable_logging(s3, source: str = "data", target: str = "logs", prefix: str = "access/", **key_format) -> None:
    status = {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": prefix, **key_format}}
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=status)


@pytest.fixture
def logged(s3):
    """Bucket data logging into bucket logs under access/, permitted by the recommended bucket policy."""
    s3.create_bucket(Bucket="data")
    s3.create_bucket(Bucket="logs")
    s3.put_bucket_policy(Bucket="logs", Policy=log_delivery_policy("logs"))
    enable_logging(s3)
    return s3


def delivered(s3, bucket: str = "logs", prefix: str = "access/") -> dict[str, str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode() for o in listing}


def test_put_bucket_logging_needs_the_log_delivery_permission_on_the_target(s3):
    s3.create_bucket(Bucket="data")
    s3.create_bucket(Bucket="logs")
    refused = (400, "InvalidTargetBucketForLogging")
    assert error_of(lambda: enable_logging(s3))[:2] == refused
    assert error_of(lambda: enable_logging(s3, target="nowhere"))[1:] == (
        "InvalidTargetBucketForLogging",
        "The target bucket for logging does not exist.",
    )
    # A policy for another prefix, or for another source bucket, does not cover this one.
    s3.put_bucket_policy(Bucket="logs", Policy=log_delivery_policy("logs", prefix="other/"))
    assert error_of(lambda: enable_logging(s3))[:2] == refused
    s3.put_bucket_policy(Bucket="logs", Policy=log_delivery_policy("logs", source="another-bucket"))
    assert error_of(lambda: enable_logging(s3))[:2] == refused

    s3.put_bucket_policy(Bucket="logs", Policy=log_delivery_policy("logs"))
    enable_logging(s3)
    assert s3.get_bucket_logging(Bucket="data")["LoggingEnabled"] == {"TargetBucket": "logs", "TargetPrefix": "access/"}

    # The legacy way: the LogDelivery group gets WRITE and READ_ACP on the target's ACL.
    s3.create_bucket(Bucket="legacy-logs")
    owner = s3.get_bucket_acl(Bucket="legacy-logs")["Owner"]
    log_delivery = {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"}
    s3.put_bucket_acl(
        Bucket="legacy-logs",
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
                {"Grantee": log_delivery, "Permission": "WRITE"},
                {"Grantee": log_delivery, "Permission": "READ_ACP"},
            ],
        },
    )
    enable_logging(s3, target="legacy-logs")
    s3.put_bucket_logging(Bucket="data", BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="data")


def test_a_target_that_denies_plain_http_still_receives_logs(s3):
    """The logging service writes over TLS: the usual aws:SecureTransport deny does not stop it; a deny for it does."""
    s3.create_bucket(Bucket="data")
    s3.create_bucket(Bucket="logs")
    policy = json.loads(log_delivery_policy("logs"))
    deny_http = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs/*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    s3.put_bucket_policy(Bucket="logs", Policy=json.dumps({**policy, "Statement": [*policy["Statement"], deny_http]}))
    enable_logging(s3)
    s3.put_object(Bucket="data", Key="k", Body=b"x")
    assert access_log_delivery.flush() == 1

    deny_all = {**deny_http, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}
    s3.put_bucket_policy(Bucket="logs", Policy=json.dumps({**policy, "Statement": [*policy["Statement"], deny_all]}))
    s3.put_object(Bucket="data", Key="k", Body=b"x")
    assert access_log_delivery.flush() == 0
    assert error_of(lambda: enable_logging(s3))[:2] == (400, "InvalidTargetBucketForLogging")


def test_a_not_principal_deny_on_the_target_stops_the_logging_service_too(s3):
    """A Deny for everyone but one role (NotPrincipal) covers logging.s3.amazonaws.com as well, as on AWS."""
    s3.create_bucket(Bucket="data")
    s3.create_bucket(Bucket="logs")
    policy = json.loads(log_delivery_policy("logs"))
    deny_others = {
        "Effect": "Deny",
        "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/log-admin"},
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::logs/*",
    }
    s3.put_bucket_policy(Bucket="logs", Policy=json.dumps({**policy, "Statement": [*policy["Statement"], deny_others]}))
    assert error_of(lambda: enable_logging(s3))[:2] == (400, "InvalidTargetBucketForLogging")


def test_requests_become_records_in_aws_log_format(logged):
    s3 = logged
    s3.put_object(Bucket="data", Key="raw/a b.csv", Body=b"x" * 100)
    fetched = s3.get_object(Bucket="data", Key="raw/a b.csv")
    assert fetched["Body"].read() == b"x" * 100
    s3.head_object(Bucket="data", Key="raw/a b.csv")
    s3.list_objects_v2(Bucket="data")
    error_of(lambda: s3.get_object(Bucket="data", Key="missing"))
    s3.delete_object(Bucket="data", Key="raw/a b.csv")
    # Records are delivered in batches (every few seconds here, minutes on AWS): on a slow machine a
    # batch may have gone out already, so read every log object (same-second names sort randomly).
    access_log_delivery.flush()
    objects = list(delivered(s3).items())
    assert objects and all(LOG_KEY.match(key) for key, _ in objects), objects
    lines = [line for _, text in objects for line in text.splitlines()]
    assert all(len(re.findall(r'\[[^\]]*\]|"[^"]*"|\S+', line)) == 26 for line in lines)
    records = [record for _, text in objects for record in parse_log_object(text)]
    summary = [(r["operation"], r["key"], r["http_status"], r["error_code"]) for r in records]
    assert sorted(summary) == sorted(
        [
            ("REST.PUT.OBJECT", "raw/a%20b.csv", "200", "-"),
            ("REST.GET.OBJECT", "raw/a%20b.csv", "200", "-"),
            ("REST.HEAD.OBJECT", "raw/a%20b.csv", "200", "-"),
            ("REST.GET.BUCKET", "-", "200", "-"),
            ("REST.GET.OBJECT", "missing", "404", "NoSuchKey"),
            ("REST.DELETE.OBJECT", "raw/a%20b.csv", "204", "-"),
        ]
    )
    (put,) = [r for r in records if r["operation"] == "REST.PUT.OBJECT"]
    (get,) = [r for r in records if r["operation"] == "REST.GET.OBJECT" and r["http_status"] == "200"]
    assert put["bucket"] == "data" and re.fullmatch(r"[0-9a-f]{64}", put["bucket_owner"])
    assert re.fullmatch(r"\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", put["time"])
    assert put["requester"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert put["request_uri"] == "PUT /data/raw/a%20b.csv HTTP/1.1"
    assert (put["bytes_sent"], put["object_size"]) == ("-", "100")
    assert (get["bytes_sent"], get["object_size"]) == ("100", "100")
    assert get["user_agent"].startswith("Boto3/") and get["signature_version"] == "SigV4"
    assert get["authentication_type"] == "AuthHeader" and get["host_header"].startswith("127.0.0.1:")
    assert re.fullmatch(r"[0-9A-F]{16}", get["request_id"]) and get["remote_ip"] == "127.0.0.1"
    # The record names the IDs the response carried, so a request can be found in the logs.
    response_headers = fetched["ResponseMetadata"]["HTTPHeaders"]
    assert (get["request_id"], get["host_id"]) == (response_headers["x-amz-request-id"], response_headers["x-amz-id-2"])
    assert int(get["total_time"]) >= 1
    # The log object is stored like any object the service writes: the target's default encryption.
    assert {s3.head_object(Bucket="logs", Key=key)["ServerSideEncryption"] for key, _ in objects} == {"AES256"}


def test_copies_and_batch_deletes_add_the_records_aws_adds(logged):
    s3 = logged
    s3.create_bucket(Bucket="other")
    s3.put_object(Bucket="data", Key="src.csv", Body=b"0123456789")
    s3.copy_object(Bucket="other", Key="copy.csv", CopySource={"Bucket": "data", "Key": "src.csv"})
    s3.copy_object(Bucket="data", Key="copy 2.csv", CopySource={"Bucket": "data", "Key": "src.csv"})
    s3.delete_objects(Bucket="data", Delete={"Objects": [{"Key": "src.csv"}, {"Key": "copy 2.csv"}], "Quiet": True})
    access_log_delivery.flush()
    records = parse_log_object("".join(delivered(s3).values()))
    assert [(r["operation"], r["bucket"], r["key"], r["http_status"], r["object_size"]) for r in records] == [
        ("REST.PUT.OBJECT", "data", "src.csv", "200", "10"),
        # Only the source's bucket logs: the copy read its object.
        ("REST.COPY.OBJECT_GET", "data", "src.csv", "200", "10"),
        ("REST.COPY.OBJECT", "data", "copy%202.csv", "200", "10"),
        ("REST.COPY.OBJECT_GET", "data", "src.csv", "200", "10"),
        ("REST.POST.MULTI_OBJECT_DELETE", "data", "-", "200", "-"),
        ("BATCH.DELETE.OBJECT", "data", "src.csv", "204", "-"),
        ("BATCH.DELETE.OBJECT", "data", "copy%202.csv", "204", "-"),
    ]
    copy_get = records[1]
    assert copy_get["request_uri"] == "PUT /other/copy.csv HTTP/1.1"  # the copy request, logged where it read


def test_delivering_and_reading_logs_writes_no_records_about_itself(logged):
    s3 = logged
    s3.put_bucket_policy(Bucket="logs", Policy=log_delivery_policy("logs", prefix="", source=["data", "logs"]))
    enable_logging(s3, source="logs", target="logs", prefix="self/")  # logs also logs into itself
    s3.put_object(Bucket="data", Key="k", Body=b"x")
    assert access_log_delivery.flush() == 1
    assert access_log_delivery.flush() == 0  # the delivery itself left nothing to deliver
    (listed,) = s3.list_objects_v2(Bucket="logs", Prefix="access/")["Contents"]
    s3.get_object(Bucket="logs", Key=listed["Key"])  # a user reading a log object is a request like any other
    access_log_delivery.flush()
    (self_log,) = delivered(s3, prefix="self/").values()
    assert [r["operation"] for r in parse_log_object(self_log)] == ["REST.GET.BUCKET", "REST.GET.OBJECT"]


def test_denied_requests_are_logged_with_their_error(logged):
    s3 = logged
    s3.put_object(Bucket="data", Key="secret.csv", Body=b"x")
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}
        ],
    }
    s3.put_bucket_policy(Bucket="data", Policy=json.dumps(deny))
    assert error_of(lambda: s3.get_object(Bucket="data", Key="secret.csv"))[0] == 403
    access_log_delivery.flush()
    records = parse_log_object("".join(delivered(s3).values()))
    denied = [r for r in records if r["operation"] == "REST.GET.OBJECT"]
    assert [(r["key"], r["http_status"], r["error_code"]) for r in denied] == [("secret.csv", "403", "AccessDenied")]


def test_partitioned_prefix_layout_and_the_key_format_round_trip(logged):
    s3 = logged
    partitioned = {"TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": "EventTime"}}}
    enable_logging(s3, **partitioned)
    assert (
        s3.get_bucket_logging(Bucket="data")["LoggingEnabled"]["TargetObjectKeyFormat"]
        == partitioned["TargetObjectKeyFormat"]
    )
    access_log_delivery.flush()
    before = set(delivered(s3))
    s3.put_object(Bucket="data", Key="k", Body=b"x")
    access_log_delivery.flush()
    ((key, text),) = [(k, v) for k, v in delivered(s3).items() if k not in before]
    assert re.fullmatch(
        rf"access/{ACCOUNT}/us-east-1/data/\d{{4}}/\d{{2}}/\d{{2}}/\d{{4}}-\d{{2}}-\d{{2}}-\d{{2}}-\d{{2}}-\d{{2}}-[0-9A-F]{{16}}",
        key,
    )
    assert "REST.PUT.OBJECT" in [r["operation"] for r in parse_log_object(text)]


def test_logs_arrive_by_themselves_in_batches(logged):
    s3 = logged
    for n in range(3):
        s3.put_object(Bucket="data", Key=f"k{n}", Body=b"x")

    def put_keys() -> list[str]:  # over every log object delivered so far (a flush may split the three)
        records = parse_log_object("".join(delivered(s3).values()))
        return sorted(r["key"] for r in records if r["operation"] == "REST.PUT.OBJECT")

    deadline = time.monotonic() + 120  # deliveries come every few seconds; a slow machine only delays them
    while len(put_keys()) < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert put_keys() == ["k0", "k1", "k2"]  # each exactly once, without a flush asked for


def test_delivery_stops_when_the_permission_is_withdrawn(logged):
    s3 = logged
    s3.put_object(Bucket="data", Key="k", Body=b"x")
    s3.delete_bucket_policy(Bucket="logs")
    assert access_log_delivery.flush() == 0
    assert delivered(s3) == {}


def test_reset_forgets_buffered_records(logged, local_aws):
    logged.put_object(Bucket="data", Key="k", Body=b"x")
    assert access_log_delivery.pending() >= 1
    local_aws.reset()
    assert access_log_delivery.pending() == 0

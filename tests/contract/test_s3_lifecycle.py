"""S3 lifecycle rules take effect as local AWS's clock advances (boto3 against the server)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from local_aws import clock

BUCKET = "lifecycle-lab"
# Objects under 128 KB stay put unless a rule says otherwise (AWS's default since 2024).
BIG = b"x" * (130 * 1024)


def advance(local_aws, days: float) -> dict:
    return clock.request_clock(local_aws.endpoint_url, advance_days=days)


def storage_class(s3, key: str, **version) -> str:
    return s3.head_object(Bucket=BUCKET, Key=key, **version).get("StorageClass", "STANDARD")


def put_rules(s3, *rules: dict, **extra) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": list(rules)}, **extra)


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def versioned(s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return s3


LAB_RULES = {
    "ID": "tiering",
    "Filter": {"Prefix": "logs/"},
    "Status": "Enabled",
    "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 60, "StorageClass": "GLACIER"}],
    "Expiration": {"Days": 365},
}


def test_objects_move_to_colder_classes_after_their_days_and_not_before(s3, local_aws):
    put_rules(s3, LAB_RULES)
    s3.put_object(Bucket=BUCKET, Key="logs/app.log", Body=BIG)
    s3.put_object(Bucket=BUCKET, Key="data/keep.csv", Body=BIG)

    # Created today + 30 days, rounded to the next midnight UTC: day 30 is not enough, day 31 is.
    advance(local_aws, 30)
    assert storage_class(s3, "logs/app.log") == "STANDARD"
    done = advance(local_aws, 1)["done"]["s3_lifecycle"]
    assert done["transitioned"] == 1 and done["runs"] == 1
    assert storage_class(s3, "logs/app.log") == "STANDARD_IA"
    assert storage_class(s3, "data/keep.csv") == "STANDARD"  # outside the rule's prefix

    advance(local_aws, 30)
    assert storage_class(s3, "logs/app.log") == "GLACIER"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="logs/")["Contents"]
    assert [(o["Key"], o["StorageClass"]) for o in listed] == [("logs/app.log", "GLACIER")]
    assert s3.get_object(Bucket=BUCKET, Key="data/keep.csv")["Body"].read() == BIG


def test_a_jump_past_several_transitions_lands_in_the_coldest_due_class(s3, local_aws):
    put_rules(s3, LAB_RULES)
    s3.put_object(Bucket=BUCKET, Key="logs/app.log", Body=BIG)
    advance(local_aws, 100)
    assert storage_class(s3, "logs/app.log") == "GLACIER"


def test_archived_objects_need_a_restore_before_get_and_the_copy_expires(s3, local_aws):
    put_rules(s3, LAB_RULES)
    s3.put_object(Bucket=BUCKET, Key="logs/app.log", Body=BIG)
    advance(local_aws, 61)

    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="logs/app.log")
    assert error.value.response["Error"]["Code"] == "InvalidObjectState"

    response = s3.restore_object(Bucket=BUCKET, Key="logs/app.log", RestoreRequest={"Days": 2})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    head = s3.head_object(Bucket=BUCKET, Key="logs/app.log")
    assert head["Restore"].startswith('ongoing-request="false", expiry-date=')
    assert s3.get_object(Bucket=BUCKET, Key="logs/app.log")["Body"].read() == BIG
    assert storage_class(s3, "logs/app.log") == "GLACIER"  # the restored copy is temporary

    advance(local_aws, 3)
    assert "Restore" not in s3.head_object(Bucket=BUCKET, Key="logs/app.log")
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="logs/app.log")
    assert error.value.response["Error"]["Code"] == "InvalidObjectState"


def test_standard_objects_cannot_be_restored(s3):
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"a")
    with pytest.raises(ClientError) as error:
        s3.restore_object(Bucket=BUCKET, Key="a", RestoreRequest={"Days": 1})
    assert error.value.response["Error"]["Code"] == "InvalidObjectState"


def test_tag_and_size_filters_choose_the_objects(s3, local_aws):
    put_rules(
        s3,
        {
            "ID": "tagged-big",
            "Filter": {
                "And": {
                    "Prefix": "raw/",
                    "Tags": [{"Key": "tier", "Value": "cold"}],
                    "ObjectSizeGreaterThan": 1000,
                }
            },
            "Status": "Enabled",
            "Transitions": [{"Days": 0, "StorageClass": "GLACIER_IR"}],
        },
    )
    s3.put_object(Bucket=BUCKET, Key="raw/cold-big", Body=b"x" * 2000, Tagging="tier=cold")
    s3.put_object(Bucket=BUCKET, Key="raw/cold-small", Body=b"x" * 500, Tagging="tier=cold")
    s3.put_object(Bucket=BUCKET, Key="raw/hot-big", Body=b"x" * 2000, Tagging="tier=hot")
    s3.put_object(Bucket=BUCKET, Key="other/cold-big", Body=b"x" * 2000, Tagging="tier=cold")
    advance(local_aws, 1)
    assert {
        key: storage_class(s3, key) for key in ("raw/cold-big", "raw/cold-small", "raw/hot-big", "other/cold-big")
    } == {
        "raw/cold-big": "GLACIER_IR",  # the size filter replaces the 128 KB default
        "raw/cold-small": "STANDARD",
        "raw/hot-big": "STANDARD",
        "other/cold-big": "STANDARD",
    }


def test_small_objects_stay_unless_the_bucket_lets_them_go_to_glacier(s3, local_aws):
    rule = {"ID": "archive", "Filter": {}, "Status": "Enabled", "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}
    put_rules(s3, rule)
    s3.put_object(Bucket=BUCKET, Key="small", Body=b"tiny")
    advance(local_aws, 2)
    assert storage_class(s3, "small") == "STANDARD"

    put_rules(s3, rule, TransitionDefaultMinimumObjectSize="varies_by_storage_class")
    configuration = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)
    assert configuration["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    advance(local_aws, 1)
    assert storage_class(s3, "small") == "GLACIER"


def test_disabled_rules_do_nothing(s3, local_aws):
    put_rules(s3, {**LAB_RULES, "Status": "Disabled"})
    s3.put_object(Bucket=BUCKET, Key="logs/app.log", Body=BIG)
    advance(local_aws, 400)
    assert storage_class(s3, "logs/app.log") == "STANDARD"
    assert s3.get_object(Bucket=BUCKET, Key="logs/app.log")["Body"].read() == BIG


def test_expiration_deletes_unversioned_objects_and_heads_announce_it(s3, local_aws):
    put_rules(s3, {"ID": "tmp-cleanup", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 7}})
    s3.put_object(Bucket=BUCKET, Key="tmp/scratch", Body=b"scratch")
    s3.put_object(Bucket=BUCKET, Key="keep", Body=b"keep")

    head = s3.head_object(Bucket=BUCKET, Key="tmp/scratch")
    due = (datetime.now(UTC) + clock.offset() + timedelta(days=8)).strftime("%a, %d %b %Y 00:00:00 GMT")
    assert head["Expiration"] == f'expiry-date="{due}", rule-id="tmp-cleanup"'
    assert "Expiration" not in s3.head_object(Bucket=BUCKET, Key="keep")

    advance(local_aws, 6)
    assert s3.get_object(Bucket=BUCKET, Key="tmp/scratch")["Body"].read() == b"scratch"
    advance(local_aws, 2)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == ["keep"]


def test_expiration_on_a_versioned_bucket_places_a_delete_marker_then_noncurrent_rules_expire_versions(s3, local_aws):
    versioned(s3)
    put_rules(
        s3,
        {
            "ID": "versions",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "Expiration": {"Days": 10},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 5},
        },
    )
    first = s3.put_object(Bucket=BUCKET, Key="report.csv", Body=b"v1")["VersionId"]
    advance(local_aws, 2)
    second = s3.put_object(Bucket=BUCKET, Key="report.csv", Body=b"v2")["VersionId"]

    # v1 became noncurrent when v2 was written (day 2): it goes after 5 more days, rounded up.
    advance(local_aws, 5)
    versions = s3.list_object_versions(Bucket=BUCKET)
    assert [v["VersionId"] for v in versions["Versions"]] == [second, first]
    advance(local_aws, 1)
    versions = s3.list_object_versions(Bucket=BUCKET)
    assert [v["VersionId"] for v in versions["Versions"]] == [second]

    # v2 (written day 2) expires on day 13: a delete marker, v2 kept as noncurrent.
    advance(local_aws, 5)
    versions = s3.list_object_versions(Bucket=BUCKET)
    markers = versions.get("DeleteMarkers", [])
    assert [m["IsLatest"] for m in markers] == [True]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions["Versions"]] == [(second, False)]
    assert s3.get_object(Bucket=BUCKET, Key="report.csv", VersionId=second)["Body"].read() == b"v2"
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="report.csv")
    assert error.value.response["Error"]["Code"] == "NoSuchKey"
    # The marker is dated by the lifecycle run (a midnight), in clock time.
    assert markers[0]["LastModified"].time().isoformat() == "00:00:00"

    # Then the noncurrent v2 expires; the marker, now alone, goes once it is 10 days old (Expiration Days).
    advance(local_aws, 6)
    versions = s3.list_object_versions(Bucket=BUCKET)
    assert "Versions" not in versions and len(versions["DeleteMarkers"]) == 1
    advance(local_aws, 5)
    assert "DeleteMarkers" not in s3.list_object_versions(Bucket=BUCKET)


def test_expiration_on_a_suspended_bucket_places_a_null_delete_marker(s3, local_aws):
    versioned(s3)
    kept = s3.put_object(Bucket=BUCKET, Key="k", Body=b"v1")["VersionId"]
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"v2")
    put_rules(s3, {"ID": "expire", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}})
    assert advance(local_aws, 2)["done"]["s3_lifecycle"]["delete_markers_placed"] == 1
    listing = s3.list_object_versions(Bucket=BUCKET)
    # The marker replaced the null version (v2); the version from before the suspension stays.
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == ["null"]
    assert [v["VersionId"] for v in listing["Versions"]] == [kept]


def test_newer_noncurrent_versions_are_kept(s3, local_aws):
    versioned(s3)
    put_rules(
        s3,
        {
            "ID": "keep-two",
            "Filter": {},
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 2},
        },
    )
    ids = [s3.put_object(Bucket=BUCKET, Key="k", Body=f"v{n}".encode())["VersionId"] for n in range(5)]
    advance(local_aws, 3)
    versions = s3.list_object_versions(Bucket=BUCKET)["Versions"]
    # The current version and the two newest noncurrent ones remain.
    assert [v["VersionId"] for v in versions] == ids[:1:-1]


def test_noncurrent_versions_transition(s3, local_aws):
    versioned(s3)
    put_rules(
        s3,
        {
            "ID": "old-versions",
            "Filter": {},
            "Status": "Enabled",
            "NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "STANDARD_IA"}],
        },
    )
    old = s3.put_object(Bucket=BUCKET, Key="k", Body=BIG)["VersionId"]
    new = s3.put_object(Bucket=BUCKET, Key="k", Body=BIG)["VersionId"]
    advance(local_aws, 31)
    assert storage_class(s3, "k", VersionId=old) == "STANDARD_IA"
    assert storage_class(s3, "k", VersionId=new) == "STANDARD"


def test_expired_object_delete_markers_are_removed(s3, local_aws):
    versioned(s3)
    put_rules(
        s3, {"ID": "markers", "Filter": {}, "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}}
    )
    version = s3.put_object(Bucket=BUCKET, Key="gone", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=BUCKET, Key="gone")
    advance(local_aws, 1)
    assert len(s3.list_object_versions(Bucket=BUCKET)["DeleteMarkers"]) == 1  # a version still hides behind it
    s3.delete_object(Bucket=BUCKET, Key="gone", VersionId=version)
    advance(local_aws, 1)
    assert "DeleteMarkers" not in s3.list_object_versions(Bucket=BUCKET)


def test_incomplete_multipart_uploads_are_aborted(s3, local_aws):
    put_rules(
        s3,
        {"ID": "mpu", "Filter": {}, "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
    )
    s3.create_multipart_upload(Bucket=BUCKET, Key="big.bin")
    advance(local_aws, 7)
    assert len(s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])) == 1
    assert advance(local_aws, 1)["done"]["s3_lifecycle"]["uploads_aborted"] == 1
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_date_actions_apply_from_that_midnight(s3, local_aws):
    tomorrow = datetime.combine((clock.now() + timedelta(days=2)).date(), datetime.min.time(), tzinfo=UTC)
    put_rules(
        s3,
        {
            "ID": "by-date",
            "Filter": {},
            "Status": "Enabled",
            "Transitions": [{"Date": tomorrow, "StorageClass": "GLACIER"}],
        },
    )
    s3.put_object(Bucket=BUCKET, Key="k", Body=BIG)
    advance(local_aws, 1)
    assert storage_class(s3, "k") == "STANDARD"
    advance(local_aws, 1)
    assert storage_class(s3, "k") == "GLACIER"


def test_the_configuration_reads_back_as_stored(s3):
    rules = [
        {
            "ID": "sized",
            "Filter": {"And": {"Prefix": "a/", "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 5000}},
            "Status": "Enabled",
            "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
        },
        {
            "ID": "noncurrent",
            "Filter": {"Tag": {"Key": "team", "Value": "data"}},
            "Status": "Disabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 40, "NewerNoncurrentVersions": 3},
        },
    ]
    put_rules(s3, *rules)
    stored = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)
    assert stored["Rules"] == rules
    assert stored["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"

    s3.delete_bucket_lifecycle(Bucket=BUCKET)
    with pytest.raises(ClientError) as error:
        s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)
    assert error.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"


@pytest.mark.parametrize(
    ("rule", "code", "message"),
    [
        (
            {"Transitions": [{"Days": 29, "StorageClass": "STANDARD_IA"}]},
            "InvalidArgument",
            "'Days' in Transition action must be greater than or equal to 30 for storageClass 'STANDARD_IA'",
        ),
        (
            {"Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 40, "StorageClass": "GLACIER"}]},
            "InvalidArgument",
            "must be 30 days more than 'Days' in the Transition action for StorageClass 'STANDARD_IA'",
        ),
        (
            {"Transitions": [{"Days": 60, "StorageClass": "GLACIER"}], "Expiration": {"Days": 30}},
            "InvalidArgument",
            "'Days' in the Expiration action for filter '(prefix=)' must be greater than 'Days' in the Transition action",
        ),
        (
            {"NoncurrentVersionTransitions": [{"NoncurrentDays": 10, "StorageClass": "ONEZONE_IA"}]},
            "InvalidArgument",
            "'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or equal to 30",
        ),
        (
            {"Transitions": [{"Days": 90, "StorageClass": "GLACIER_IR"}, {"Days": 60, "StorageClass": "DEEP_ARCHIVE"}]},
            "InvalidArgument",
            "'DEEP_ARCHIVE' for filter '(prefix=)' must be no less than 'Days' in the Transition action",
        ),
        ({"Expiration": {"Days": 0}}, "InvalidArgument", "must be a positive integer"),
        ({}, "InvalidRequest", "At least one action needs to be specified in a rule"),
        (
            {
                "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}],
                "Expiration": {"Date": datetime(2030, 1, 1, 12, tzinfo=UTC)},
            },
            "InvalidArgument",
            "'Date' must be at midnight GMT",
        ),
    ],
)
def test_invalid_configurations_are_rejected_and_the_old_one_stays(s3, rule, code, message):
    put_rules(s3, LAB_RULES)
    with pytest.raises(ClientError) as error:
        put_rules(s3, {"ID": "bad", "Filter": {"Prefix": ""}, "Status": "Enabled", **rule})
    assert error.value.response["Error"]["Code"] == code
    assert message in error.value.response["Error"]["Message"]
    assert s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"][0]["ID"] == "tiering"


def test_duplicate_rule_ids_are_rejected(s3):
    rule = {"ID": "same", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}}
    with pytest.raises(ClientError) as error:
        put_rules(s3, rule, {**rule, "Filter": {"Prefix": "x/"}})
    assert error.value.response["Error"]["Code"] == "InvalidArgument"


def test_the_clock_endpoint_reads_advances_and_resets_with_moto(local_aws, aws_client):
    url = f"{local_aws.endpoint_url}/_local_aws/clock"
    with urllib.request.urlopen(url) as response:
        assert json.loads(response.read())["offset_days"] == 0
    advance(local_aws, 31)
    with urllib.request.urlopen(url) as response:
        state = json.loads(response.read())
    assert state["offset_days"] == pytest.approx(31)

    # Objects written now carry the local time.
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"k")
    written = s3.head_object(Bucket=BUCKET, Key="k")["LastModified"]
    assert abs(written - datetime.fromisoformat(state["now"])) < timedelta(minutes=1)

    bad = urllib.request.Request(url, data=b'{"advance_days": -1}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(bad)
    assert error.value.code == 400 and "only moves forward" in json.loads(error.value.read())["error"]

    local_aws.reset()
    assert clock.request_clock(local_aws.endpoint_url)["offset_days"] == 0


def test_the_clock_cli_advances_a_running_server(local_aws):
    result = subprocess.run(
        [sys.executable, "-m", "local_aws.clock", "--endpoint-url", local_aws.endpoint_url, "advance", "--days", "2"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout)["offset_days"] == pytest.approx(2)

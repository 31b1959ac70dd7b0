"""S3 versioning and storage classes as S3 lab 1 uses them (boto3 against local AWS)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

BUCKET = "versioning-lab"


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def body(s3, key: str, **version) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key, **version)["Body"].read()


def test_versioning_is_off_until_enabled(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="plain")
    assert "Status" not in s3.get_bucket_versioning(Bucket="plain")
    s3.put_object(Bucket="plain", Key="k", Body=b"1")
    s3.put_object(Bucket="plain", Key="k", Body=b"2")
    versions = s3.list_object_versions(Bucket="plain")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True)]


def test_each_put_of_a_key_is_a_version_listed_newest_first(s3):
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    ids = [s3.put_object(Bucket=BUCKET, Key="notes.txt", Body=f"v{n}".encode())["VersionId"] for n in (1, 2, 3)]
    assert len(set(ids)) == 3
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="notes.txt")["Versions"]
    assert [(v["VersionId"], v["IsLatest"], v["Size"]) for v in versions] == [
        (ids[2], True, 2),
        (ids[1], False, 2),
        (ids[0], False, 2),
    ]
    assert body(s3, "notes.txt") == b"v3"
    assert body(s3, "notes.txt", VersionId=ids[0]) == b"v1"
    assert s3.head_object(Bucket=BUCKET, Key="notes.txt", VersionId=ids[1])["VersionId"] == ids[1]


def test_delete_places_a_marker_and_deleting_the_marker_brings_the_object_back(s3):
    first = s3.put_object(Bucket=BUCKET, Key="k", Body=b"v1")["VersionId"]
    second = s3.put_object(Bucket=BUCKET, Key="k", Body=b"v2")["VersionId"]
    deleted = s3.delete_object(Bucket=BUCKET, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]

    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="k")
    assert error.value.response["Error"]["Code"] == "NoSuchKey"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
    listing = s3.list_object_versions(Bucket=BUCKET)
    assert [(m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [(marker, True)]
    assert [v["VersionId"] for v in listing["Versions"]] == [second, first]
    assert body(s3, "k", VersionId=first) == b"v1"  # old versions stay readable

    s3.delete_object(Bucket=BUCKET, Key="k", VersionId=marker)
    assert body(s3, "k") == b"v2"
    assert "DeleteMarkers" not in s3.list_object_versions(Bucket=BUCKET)


def test_copying_an_old_version_over_the_current_one_restores_it_as_a_new_version(s3):
    first = s3.put_object(Bucket=BUCKET, Key="k", Body=b"good")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"bad")
    restored = s3.copy_object(Bucket=BUCKET, Key="k", CopySource={"Bucket": BUCKET, "Key": "k", "VersionId": first})
    assert restored["CopySourceVersionId"] == first
    assert body(s3, "k") == b"good"
    versions = s3.list_object_versions(Bucket=BUCKET)["Versions"]
    assert [v["VersionId"] for v in versions][0] == restored["VersionId"]
    assert len(versions) == 3


def test_deleting_a_version_removes_it_for_good(s3):
    first = s3.put_object(Bucket=BUCKET, Key="k", Body=b"v1")["VersionId"]
    second = s3.put_object(Bucket=BUCKET, Key="k", Body=b"v2")["VersionId"]
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId=second)
    assert body(s3, "k") == b"v1"
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=BUCKET)["Versions"]] == [first]
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="k", VersionId=second)
    assert error.value.response["Error"]["Code"] in ("NoSuchVersion", "InvalidArgument")


def test_a_versioned_bucket_must_be_emptied_of_every_version_and_marker_before_delete(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"v1")
    s3.delete_object(Bucket=BUCKET, Key="k")
    with pytest.raises(ClientError) as error:
        s3.delete_bucket(Bucket=BUCKET)
    assert error.value.response["Error"]["Code"] == "BucketNotEmpty"
    listing = s3.list_object_versions(Bucket=BUCKET)
    entries = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in listing["Versions"] + listing["DeleteMarkers"]]
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": entries})
    s3.delete_bucket(Bucket=BUCKET)
    assert BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_suspended_versioning_keeps_old_versions_and_writes_null_versions(s3):
    kept = s3.put_object(Bucket=BUCKET, Key="k", Body=b"v1")["VersionId"]
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Suspended"
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"v2")
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"v3")
    versions = s3.list_object_versions(Bucket=BUCKET)["Versions"]
    assert [v["VersionId"] for v in versions] == ["null", kept]
    assert body(s3, "k") == b"v3"

    # A delete replaces the null version with a null delete marker; the older version stays.
    deleted = s3.delete_object(Bucket=BUCKET, Key="k")
    assert (deleted["DeleteMarker"], deleted["VersionId"]) == (True, "null")
    listing = s3.list_object_versions(Bucket=BUCKET)
    assert [v["VersionId"] for v in listing["Versions"]] == [kept]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == ["null"]
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId="null")
    assert body(s3, "k") == b"v1"
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId=kept)
    assert "Versions" not in s3.list_object_versions(Bucket=BUCKET)


@pytest.mark.parametrize("storage_class", ["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"])
def test_objects_are_stored_in_the_class_asked_for(s3, storage_class):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"data", StorageClass=storage_class)
    assert s3.head_object(Bucket=BUCKET, Key="k")["StorageClass"] == storage_class
    assert s3.list_objects_v2(Bucket=BUCKET)["Contents"][0]["StorageClass"] == storage_class
    assert body(s3, "k") == b"data"  # readable at once: these classes need no restore


def test_standard_objects_report_no_class_on_head_but_standard_in_listings(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"data")
    assert "StorageClass" not in s3.head_object(Bucket=BUCKET, Key="k")
    assert s3.list_objects_v2(Bucket=BUCKET)["Contents"][0]["StorageClass"] == "STANDARD"


def test_an_unknown_storage_class_is_rejected(s3):
    with pytest.raises(ClientError) as error:
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"data", StorageClass="COLD")
    assert error.value.response["Error"]["Code"] == "InvalidStorageClass"


def test_copy_in_place_changes_the_class_as_a_new_version(s3):
    first = s3.put_object(Bucket=BUCKET, Key="k", Body=b"data")["VersionId"]
    copied = s3.copy_object(
        Bucket=BUCKET, Key="k", CopySource={"Bucket": BUCKET, "Key": "k"}, StorageClass="STANDARD_IA"
    )
    assert s3.head_object(Bucket=BUCKET, Key="k")["StorageClass"] == "STANDARD_IA"
    assert copied["VersionId"] != first
    assert "StorageClass" not in s3.head_object(Bucket=BUCKET, Key="k", VersionId=first)


def test_copy_in_place_without_a_change_is_refused(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="k", Body=b"data")
    with pytest.raises(ClientError) as error:
        s3.copy_object(Bucket="plain", Key="k", CopySource={"Bucket": "plain", "Key": "k"})
    assert error.value.response["Error"]["Code"] == "InvalidRequest"


def test_glacier_uploads_need_a_restore_and_cannot_be_copied_before(s3):
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"data", StorageClass="GLACIER")
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="k")
    assert error.value.response["Error"]["Code"] == "InvalidObjectState"
    with pytest.raises(ClientError) as error:
        s3.copy_object(Bucket=BUCKET, Key="k", CopySource={"Bucket": BUCKET, "Key": "k"}, StorageClass="STANDARD")
    assert error.value.response["Error"]["Code"] == "ObjectNotInActiveTierError"
    s3.restore_object(Bucket=BUCKET, Key="k", RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": "Standard"}})
    assert body(s3, "k") == b"data"
    s3.copy_object(Bucket=BUCKET, Key="k", CopySource={"Bucket": BUCKET, "Key": "k"}, StorageClass="STANDARD")
    assert "StorageClass" not in s3.head_object(Bucket=BUCKET, Key="k")

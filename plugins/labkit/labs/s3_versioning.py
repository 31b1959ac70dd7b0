"""S3 lab 1's work and checks: versions and delete markers, storage classes, the logs lifecycle rules act on.

Functions take a boto3 S3 client (`S3Hook().conn` in a task) and the bucket, and return what the DAG's
tasks return to XCom. The bucket must be versioned (S3PutBucketVersioningOperator) before any of them.
"""

from __future__ import annotations

from typing import Any

from labkit.core.validation import ValidationError

NOTES = "notes/course-notes.txt"
NOTE_VERSIONS = ("v1: S3 basics", "v2: S3 basics, versioning", "v3: S3 basics, versioning, storage classes")
STORAGE_CLASSES = ("STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER")
RECLASSED = ("classes/standard.txt", "STANDARD_IA")  # changed by copy in place
ARCHIVED = "classes/glacier.txt"
LOG_KEYS = ("logs/2026/app.log", "logs/2026/access.log")
LOG_SIZE = 200 * 1024  # over S3's 128 KB minimum for lifecycle transitions
LIFECYCLE_RULES = [
    {
        "ID": "logs-tiering",
        "Filter": {"Prefix": "logs/"},
        "Status": "Enabled",
        "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 60, "StorageClass": "GLACIER"}],
        "Expiration": {"Days": 365},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
    },
    {
        "ID": "abort-incomplete-uploads",
        "Filter": {},
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    },
]


def class_key(storage_class: str) -> str:
    return f"classes/{storage_class.lower()}.txt"


# ---- versions ---------------------------------------------------------------------------------


def upload_versions(s3: Any, bucket: str) -> list[str]:
    """Upload the notes three times; each upload is a new version. Returns the version IDs, oldest first."""
    ids = [s3.put_object(Bucket=bucket, Key=NOTES, Body=text.encode())["VersionId"] for text in NOTE_VERSIONS]
    print(f"s3://{bucket}/{NOTES} versions: {ids}")
    return ids


def list_versions(s3: Any, bucket: str) -> list[dict]:
    """ListObjectVersions for the notes: versions newest first, then delete markers."""
    listing = s3.list_object_versions(Bucket=bucket, Prefix=NOTES)
    entries = [
        {"version_id": v["VersionId"], "latest": v["IsLatest"], "delete_marker": False, "size": v["Size"]}
        for v in listing.get("Versions", [])
    ] + [
        {"version_id": m["VersionId"], "latest": m["IsLatest"], "delete_marker": True, "size": 0}
        for m in listing.get("DeleteMarkers", [])
    ]
    for entry in entries:
        print(entry)
    return entries


def remove_delete_marker(s3: Any, bucket: str) -> dict:
    """The delete left a marker on top of the versions: delete the marker and the object is back."""
    listing = s3.list_object_versions(Bucket=bucket, Prefix=NOTES)
    marker = next((m for m in listing.get("DeleteMarkers", []) if m["IsLatest"]), None)
    if marker is None:
        raise ValidationError(f"deleting s3://{bucket}/{NOTES} left no delete marker: is versioning enabled?")
    hidden = s3.list_objects_v2(Bucket=bucket, Prefix=NOTES).get("KeyCount", 0) == 0
    s3.delete_object(Bucket=bucket, Key=NOTES, VersionId=marker["VersionId"])
    body = s3.get_object(Bucket=bucket, Key=NOTES)["Body"].read().decode()
    print(f"delete marker {marker['VersionId']} removed; the object reads {body!r} again")
    return {"marker": marker["VersionId"], "hidden_while_marked": hidden, "body_after": body}


# ---- storage classes --------------------------------------------------------------------------


def upload_storage_classes(s3: Any, bucket: str) -> dict:
    """One object per storage class; then change one class by copying the object onto itself.

    Returns each object's class as listed and what GetObject of the GLACIER object answers.
    """
    from botocore.exceptions import ClientError

    for storage_class in STORAGE_CLASSES:
        s3.put_object(
            Bucket=bucket,
            Key=class_key(storage_class),
            Body=f"stored as {storage_class}".encode(),
            StorageClass=storage_class,
        )
    key, new_class = RECLASSED
    # ACL private: what the provider's S3Hook.copy_object sends by default.
    s3.copy_object(
        Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key}, ACL="private", StorageClass=new_class
    )
    classes = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="classes/")["Contents"]}
    try:
        s3.get_object(Bucket=bucket, Key=ARCHIVED)
        archived_read = "readable"
    except ClientError as error:
        archived_read = error.response["Error"]["Code"]
    print(f"storage classes: {classes}; GetObject of {ARCHIVED}: {archived_read}")
    return {"classes": classes, "archived_read": archived_read}


# ---- lifecycle --------------------------------------------------------------------------------


def upload_logs(s3: Any, bucket: str) -> list[str]:
    """Two 200 KB logs under logs/; app.log twice, so it has a noncurrent version for the rules too."""
    line = b"2026-01-15T10:30:00Z GET /courses/aws-data-engineering 200\n"
    for key in (LOG_KEYS[0], *LOG_KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=line * (LOG_SIZE // len(line) + 1))
    return list(LOG_KEYS)


# ---- checks -----------------------------------------------------------------------------------


def validate(
    s3: Any,
    bucket: str,
    uploaded: list[str],
    listed: list[dict],
    undeleted: dict,
    classes: dict,
    restore_status: str,
    day_31: dict,
    day_61: dict,
) -> dict:
    """Versions, delete marker, restored content, storage classes and the lifecycle outcome are as S3 defines them.

    The arguments are the lab's tasks' results: upload_versions, list_versions, remove_delete_marker,
    upload_storage_classes, S3RestoreObjectOperator and S3LifecycleProgressOperator 31 and 61 days on.
    Returns the run's figures or raises ValidationError naming every difference.
    """
    problems = []
    listed_ids = [entry["version_id"] for entry in listed if not entry["delete_marker"]]
    if listed_ids[:3] != uploaded[::-1]:
        problems.append(f"ListObjectVersions gave {listed_ids[:3]}, expected the uploads newest first {uploaded[::-1]}")
    if not undeleted["hidden_while_marked"] or undeleted["body_after"] != NOTE_VERSIONS[-1]:
        problems.append(f"delete marker did not hide, or its removal did not bring back, the latest notes: {undeleted}")
    current = s3.get_object(Bucket=bucket, Key=NOTES)
    if current["Body"].read().decode() != NOTE_VERSIONS[0]:
        problems.append("copying the first version over the current one did not restore its content")
    versions = s3.list_object_versions(Bucket=bucket, Prefix=NOTES)
    note_versions = len(versions.get("Versions", []))
    expected_classes = {class_key(c): c for c in STORAGE_CLASSES} | {RECLASSED[0]: RECLASSED[1]}
    if classes["classes"] != expected_classes:
        problems.append(f"storage classes {classes['classes']} != {expected_classes}")
    if classes["archived_read"] != "InvalidObjectState":
        problems.append(f"GetObject of a GLACIER object gave {classes['archived_read']}, not InvalidObjectState")
    if not restore_status.startswith("ongoing-request="):
        problems.append(f"no restore recorded for {ARCHIVED}: {restore_status!r}")
    for label, report, expected in (("31 days", day_31, "STANDARD_IA"), ("61 days", day_61, "GLACIER")):
        for key, entry in report["objects"].items():
            if entry["expected"] != expected:
                problems.append(
                    f"rules predict {entry['expected']} for {key} after {label}, the lab expects {expected}"
                )
            if report["applied"] and entry["observed"] != entry["expected"]:
                problems.append(f"{key} is {entry['observed']} after {label}, rules say {entry['expected']}")
    if problems:
        raise ValidationError("S3 lab 1: " + "; ".join(problems))
    first_log = day_61["objects"][LOG_KEYS[0]]
    return {
        "note_versions": note_versions,
        "current_notes": NOTE_VERSIONS[0],
        "storage_classes": len(expected_classes),
        "glacier_get": classes["archived_read"],
        "glacier_restore": restore_status.split(",")[0],
        "lifecycle_environment": day_61["environment"],
        "lifecycle_applied": day_61["applied"],
        "logs_after_31_days": _states(day_31),
        "logs_after_61_days": _states(day_61),
        "app_log_schedule": [f"{event['date']} {event['action']}" for event in first_log["schedule"]],
    }


def _states(report: dict) -> list[str]:
    """The logs' storage classes as of the report: observed where the rules ran, else what they predict."""
    return sorted({entry["observed" if report["applied"] else "expected"] for entry in report["objects"].values()})

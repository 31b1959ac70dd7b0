"""
### S3 lab 1: bucket versioning, storage classes and lifecycle rules

The course's first S3 lab, in one bucket:

1. **Setup**: create the bucket and **enable versioning** (new buckets are unversioned).
2. **Versions**: upload `notes/course-notes.txt` three times (three versions), list them, **delete**
   the object (S3 only places a *delete marker*: the object disappears, its versions stay), delete
   the delete marker (the object is back), then **restore the first version** by copying it over
   the current one (a fourth version, with the first one's content).
3. **Storage classes**: upload one object per class (STANDARD, STANDARD_IA, ONEZONE_IA,
   INTELLIGENT_TIERING, GLACIER_IR, GLACIER), change one's class by copying it onto itself with a new
   class, show that a GLACIER object cannot be read (InvalidObjectState) and request its restore.
4. **Lifecycle rules** on `logs/`: Standard-IA after 30 days, Glacier after 60, expiration after
   365, noncurrent versions expire after 30 days; incomplete multipart uploads are aborted after 7.
   Two log objects of 200 KB are uploaded (S3 does not transition objects under 128 KB by default).
5. **Rules taking effect** (`S3LifecycleProgressOperator`, as of 31 and 61 days after the upload):
   - **On AWS** the rules act over the coming weeks, on S3's own daily schedule. The tasks check
     that the rules are stored and report, per object, the dates they will act on it (Standard-IA on
     day 31 after upload, Glacier on day 61, expiry on day 366, rounded to midnight UTC) and the class
     expected then. The GLACIER restore is only requested (it takes hours on AWS).
   - **On local AWS** the same tasks move local AWS's clock forward to those days, S3's daily
     lifecycle runs happen, and the tasks fail unless each object is in the class the rules predict.
     The restore completes at once.
6. **Validate** the versions, classes and lifecycle outcome; **teardown** (param `teardown`): every
   version and delete marker, then the bucket.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteObjectsOperator
from airflow.sdk import chain, task

from labkit.dag_helpers import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.operators.s3_config import (
    S3CopyObjectVersionOperator,
    S3DeleteVersionedBucketOperator,
    S3LifecycleProgressOperator,
    S3PutBucketLifecycleOperator,
    S3PutBucketVersioningOperator,
    S3RestoreObjectOperator,
)

DAG_ID = "s3_lab1_versioning"
BUCKET = "{{ names.bucket('versioning') }}"
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

with lab_dag(
    DAG_ID,
    lab="s3-lab1",
    description="S3 lab 1: versioning (versions, delete markers, restore), storage classes, lifecycle rules taking effect",
    doc_md=__doc__,
    tags=["s3"],
) as dag:
    # --- setup
    create_bucket = S3CreateBucketOperator(task_id="create_bucket", bucket_name=BUCKET)
    enable_versioning = S3PutBucketVersioningOperator(task_id="enable_versioning", bucket_name=BUCKET)

    # --- work: versions
    @task
    def upload_versions(bucket: str) -> list[str]:
        """Upload the notes three times; each upload is a new version. Returns the version IDs, oldest first."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3 = S3Hook().conn
        ids = [s3.put_object(Bucket=bucket, Key=NOTES, Body=text.encode())["VersionId"] for text in NOTE_VERSIONS]
        print(f"s3://{bucket}/{NOTES} versions: {ids}")
        return ids

    @task
    def list_versions(bucket: str) -> list[dict]:
        """ListObjectVersions for the notes: newest first, with delete markers."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        listing = S3Hook().conn.list_object_versions(Bucket=bucket, Prefix=NOTES)
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

    uploaded = upload_versions(BUCKET)
    versions_listed = list_versions(BUCKET)
    delete_notes = S3DeleteObjectsOperator(task_id="delete_notes", bucket=BUCKET, keys=NOTES)

    @task
    def remove_delete_marker(bucket: str) -> dict:
        """The delete left a marker on top of the versions: delete the marker and the object is back."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from labkit.validation import ValidationError

        s3 = S3Hook().conn
        listing = s3.list_object_versions(Bucket=bucket, Prefix=NOTES)
        marker = next((m for m in listing.get("DeleteMarkers", []) if m["IsLatest"]), None)
        if marker is None:
            raise ValidationError(f"deleting s3://{bucket}/{NOTES} left no delete marker: is versioning enabled?")
        hidden = s3.list_objects_v2(Bucket=bucket, Prefix=NOTES).get("KeyCount", 0) == 0
        s3.delete_object(Bucket=bucket, Key=NOTES, VersionId=marker["VersionId"])
        body = s3.get_object(Bucket=bucket, Key=NOTES)["Body"].read().decode()
        print(f"delete marker {marker['VersionId']} removed; the object reads {body!r} again")
        return {"marker": marker["VersionId"], "hidden_while_marked": hidden, "body_after": body}

    undeleted = remove_delete_marker(BUCKET)
    restore_first_version = S3CopyObjectVersionOperator(
        task_id="restore_first_version",
        source_bucket_name=BUCKET,
        source_bucket_key=NOTES,
        source_version_id="{{ ti.xcom_pull(task_ids='upload_versions')[0] }}",
        dest_bucket_name=BUCKET,
        dest_bucket_key=NOTES,
    )

    # --- work: storage classes
    @task
    def upload_storage_classes(bucket: str) -> dict:
        """One object per storage class; then change one class by copying the object onto itself."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from botocore.exceptions import ClientError

        hook = S3Hook()
        s3 = hook.conn
        for storage_class in STORAGE_CLASSES:
            key = f"classes/{storage_class.lower()}.txt"
            s3.put_object(
                Bucket=bucket, Key=key, Body=f"stored as {storage_class}".encode(), StorageClass=storage_class
            )
        key, new_class = RECLASSED
        hook.copy_object(
            source_bucket_key=key,
            dest_bucket_key=key,
            source_bucket_name=bucket,
            dest_bucket_name=bucket,
            StorageClass=new_class,
        )
        classes = {
            o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="classes/")["Contents"]
        }
        try:
            s3.get_object(Bucket=bucket, Key=ARCHIVED)
            archived_read = "readable"
        except ClientError as error:
            archived_read = error.response["Error"]["Code"]
        print(f"storage classes: {classes}; GetObject of {ARCHIVED}: {archived_read}")
        return {"classes": classes, "archived_read": archived_read}

    classes = upload_storage_classes(BUCKET)
    restore_archived = S3RestoreObjectOperator(task_id="restore_archived", bucket_name=BUCKET, key=ARCHIVED, days=1)

    # --- work: lifecycle
    @task
    def upload_logs(bucket: str) -> list[str]:
        """Two 200 KB logs under logs/; app.log twice, so it has a noncurrent version for the rules too."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3 = S3Hook().conn
        line = b"2026-01-15T10:30:00Z GET /courses/aws-data-engineering 200\n"
        for key in (LOG_KEYS[0], *LOG_KEYS):
            s3.put_object(Bucket=bucket, Key=key, Body=line * (LOG_SIZE // len(line) + 1))
        return list(LOG_KEYS)

    logs = upload_logs(BUCKET)
    put_lifecycle = S3PutBucketLifecycleOperator(task_id="put_lifecycle", bucket_name=BUCKET, rules=LIFECYCLE_RULES)
    after_31_days = S3LifecycleProgressOperator(
        task_id="after_31_days", bucket_name=BUCKET, prefix="logs/", days_after_upload=31
    )
    after_61_days = S3LifecycleProgressOperator(
        task_id="after_61_days", bucket_name=BUCKET, prefix="logs/", days_after_upload=61
    )

    # --- checks
    @task
    def validate(
        bucket: str,
        uploaded: list[str],
        listed: list[dict],
        undeleted: dict,
        classes: dict,
        restore_status: str,
        day_31: dict,
        day_61: dict,
    ) -> dict:
        """Versions, delete marker, restored content, storage classes and the lifecycle outcome are as S3 defines them."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from labkit.validation import ValidationError

        s3 = S3Hook().conn
        problems = []
        listed_ids = [entry["version_id"] for entry in listed if not entry["delete_marker"]]
        if listed_ids[:3] != uploaded[::-1]:
            problems.append(
                f"ListObjectVersions gave {listed_ids[:3]}, expected the uploads newest first {uploaded[::-1]}"
            )
        if not undeleted["hidden_while_marked"] or undeleted["body_after"] != NOTE_VERSIONS[-1]:
            problems.append(
                f"delete marker did not hide, or its removal did not bring back, the latest notes: {undeleted}"
            )
        current = s3.get_object(Bucket=bucket, Key=NOTES)
        if current["Body"].read().decode() != NOTE_VERSIONS[0]:
            problems.append("copying the first version over the current one did not restore its content")
        versions = s3.list_object_versions(Bucket=bucket, Prefix=NOTES)
        note_versions = len(versions.get("Versions", []))
        expected_classes = {f"classes/{c.lower()}.txt": c for c in STORAGE_CLASSES} | {RECLASSED[0]: RECLASSED[1]}
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
            "logs_after_31_days": sorted(
                {e["observed" if day_31["applied"] else "expected"] for e in day_31["objects"].values()}
            ),
            "logs_after_61_days": sorted(
                {e["observed" if day_61["applied"] else "expected"] for e in day_61["objects"].values()}
            ),
            "app_log_schedule": [f"{event['date']} {event['action']}" for event in first_log["schedule"]],
        }

    checks = validate(
        BUCKET,
        uploaded,
        versions_listed,
        undeleted,
        classes,
        restore_archived.output,
        after_31_days.output,
        after_61_days.output,
    )

    # --- teardown
    gate = teardown_gate()
    delete_bucket = S3DeleteVersionedBucketOperator(task_id="delete_bucket", bucket_name=BUCKET, **TEARDOWN)

    chain(create_bucket, enable_versioning, uploaded, versions_listed, delete_notes, undeleted, restore_first_version)
    chain(enable_versioning, classes, restore_archived)
    chain(enable_versioning, logs, put_lifecycle, after_31_days, after_61_days)
    chain([restore_first_version, restore_archived, after_61_days], checks, gate, delete_bucket)
    body_watcher(dag, gate)

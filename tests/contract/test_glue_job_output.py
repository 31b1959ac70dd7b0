"""What a Glue job's Spark writes leave in local S3: files at their final keys, as Glue 5.0's committer does."""

from __future__ import annotations

import threading
import urllib.parse

import pytest
from moto.s3.models import S3Backend

from local_aws import server
from tests.contract.test_glue_jobs import BUCKET, create_job, put, run_job

# Writes `months` partitions of 10 rows, overwriting; a row of `fail_month` fails the one task (raise_error)
# after it wrote the months before it.
WRITE_MONTHS = """
import sys
from awsglue.utils import getResolvedOptions
from pyspark.sql import SparkSession

args = getResolvedOptions(sys.argv, ["JOB_NAME", "target_path", "fail_month", "months", "mode"])
spark = SparkSession.builder.getOrCreate()
spark.conf.set("spark.sql.sources.partitionOverwriteMode", args["mode"])
months, fail = int(args["months"]), int(args["fail_month"])
rows = spark.range(months * 10).selectExpr(f"cast(id % {months} + 1 as int) as month", "id")
# Sorted as the write needs, so the check runs while the task writes (Spark adds no sort of its own after it).
ordered = rows.repartition(1).sortWithinPartitions("month")
checked = ordered.selectExpr("month", f"if(month = {fail}, raise_error('bad month'), id) as id")
checked.write.mode("overwrite").partitionBy("month").parquet(args["target_path"])
"""


# Dynamic partition overwrite of the months listed, 5 rows each, one task per month. The task of
# fail_month (0: none) fails after a pause, so the other tasks have written and committed their files.
WRITE_MONTHS_DYNAMIC = """
import sys
from awsglue.utils import getResolvedOptions
from pyspark.sql import SparkSession

args = getResolvedOptions(sys.argv, ["JOB_NAME", "target_path", "months", "fail_month"])
spark = SparkSession.builder.getOrCreate()
months, fail = [int(month) for month in args["months"].split(",")], int(args["fail_month"])
rows = spark.createDataFrame([(month, i) for month in months for i in range(5)], "month int, id long")
pause = "reflect('java.lang.Thread', 'sleep', cast(3000 as bigint))"
checked = rows.repartitionByRange(len(months), "month").selectExpr(
    "month", f"if(month = {fail}, raise_error(concat('bad month', coalesce({pause}, ''))), id) as id"
)
(
    checked.write.mode("overwrite")
    .option("partitionOverwriteMode", "dynamic")
    .partitionBy("month")
    .parquet(args["target_path"])
)
"""


def write_months_script() -> str:
    return WRITE_MONTHS


@pytest.fixture
def clients(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3, aws_client("glue")


@pytest.fixture
def puts(monkeypatch):
    """Keys objects were put to during the test."""
    put_keys: list[str] = []
    original = S3Backend.put_object

    def put_object(self, bucket_name, key_name, *args, **kwargs):
        put_keys.append(key_name)
        return original(self, bucket_name, key_name, *args, **kwargs)

    monkeypatch.setattr(S3Backend, "put_object", put_object)
    return put_keys


@pytest.fixture
def copies(monkeypatch):
    """Keys S3 copied objects to during the test (FileOutputCommitter's renames are copies)."""
    copied: list[str] = []
    original = S3Backend.copy_object

    def copy_object(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs):
        copied.append(dest_key_name)
        return original(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs)

    monkeypatch.setattr(S3Backend, "copy_object", copy_object)
    return copied


@pytest.fixture
def s3_requests(monkeypatch):
    """S3 requests to BUCKET during the test, as (operation, key or list prefix): GET, HEAD, PUT, COPY (a PUT
    with x-amz-copy-source), DELETE, LIST, BULK_DELETE (DeleteObjects)."""
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()
    original = server._Dispatcher.__call__

    def call(self, environ, start_response):
        path = urllib.parse.unquote(environ.get("PATH_INFO", ""))
        if path == f"/{BUCKET}" or path.startswith(f"/{BUCKET}/"):
            key = path[len(BUCKET) + 2 :]
            query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            method = environ["REQUEST_METHOD"]
            if method == "PUT" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
                operation = "COPY"
            elif method == "POST" and "delete" in query:
                operation = "BULK_DELETE"
            elif method == "GET" and not key and "prefix" in query:
                operation, key = "LIST", query["prefix"][0]
            else:
                operation = method
            with lock:
                seen.append((operation, key))
        return original(self, environ, start_response)

    monkeypatch.setattr(server._Dispatcher, "__call__", call)
    return seen


def keys(s3, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"][len(prefix) :] for item in listed)


def partitions(names: list[str]) -> list[str]:
    return sorted({name.rsplit("/", 1)[0] for name in names if "/" in name})


def test_files_are_written_at_their_final_keys_without_copies(clients, copies):
    s3, glue = clients
    put(s3, "curated/months/month=9/stale.parquet", b"left by an earlier run")
    create_job(glue, s3, "write-months", write_months_script())

    run = run_job(
        glue,
        "write-months",
        {"--target_path": f"s3://{BUCKET}/curated/months/", "--fail_month": "0", "--months": "3", "--mode": "static"},
    )

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    written = keys(s3, "curated/months/")
    assert written[0] == "_SUCCESS"  # as FileOutputCommitter marks a finished job
    assert partitions(written) == ["month=1", "month=2", "month=3"]
    assert all(name.split("/")[-1].startswith("part-") for name in written[1:])
    assert not any("_temporary" in name or name.endswith("/") for name in written)
    assert copies == []  # nothing was renamed into place


def test_a_failed_task_leaves_none_of_its_files(clients, puts):
    s3, glue = clients
    create_job(glue, s3, "write-months-fails", write_months_script())

    run = run_job(
        glue,
        "write-months-fails",
        {"--target_path": f"s3://{BUCKET}/curated/failed/", "--fail_month": "3", "--months": "4", "--mode": "static"},
    )

    assert run["JobRunState"] == "FAILED"
    assert "bad month" in run["ErrorMessage"]
    written = partitions([key.removeprefix("curated/failed/") for key in puts if key.startswith("curated/failed/")])
    assert written == ["month=1", "month=2"]  # before the task reached month 3
    assert keys(s3, "curated/failed/") == []  # and deleted when it failed


def object_versions(s3, prefix: str) -> dict[str, tuple[str, object]]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {item["Key"][len(prefix) :]: (item["ETag"], item["LastModified"]) for item in listed}


def test_dynamic_partition_overwrite_replaces_only_the_partitions_written(clients, puts, s3_requests):
    s3, glue = clients
    prefix = "curated/dynamic/"
    put(s3, prefix + "month=1/replaced.parquet", b"an older month 1")
    put(s3, prefix + "month=1/nested/also-replaced.parquet", b"what Spark's own overwrite deletes with the folder")
    put(s3, prefix + "month=9/kept.parquet", b"another partition")
    put(s3, prefix + "month=10/kept.parquet", b"a partition whose name starts as month=1's")
    untouched = {k: v for k, v in object_versions(s3, prefix).items() if k.startswith(("month=9/", "month=10/"))}
    create_job(glue, s3, "write-months-dynamic", WRITE_MONTHS_DYNAMIC)
    puts.clear()
    s3_requests.clear()

    run = run_job(
        glue,
        "write-months-dynamic",
        {"--target_path": f"s3://{BUCKET}/{prefix}", "--months": "1,2", "--fail_month": "0"},
    )
    requests = [(operation, key) for operation, key in s3_requests if key.startswith(prefix)]

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    after = object_versions(s3, prefix)
    assert partitions(list(after)) == ["month=1", "month=10", "month=2", "month=9"]
    new = {name for name in after if name.startswith(("month=1/", "month=2/"))}
    assert len(new) == 2 and all(name.split("/")[1].startswith("part-") for name in new)  # one file per partition
    assert {k: v for k, v in after.items() if k not in new} == untouched  # the same objects, not rewritten
    # Written in place: no staging folder, nothing renamed; no _SUCCESS, as with Spark's own dynamic
    # overwrite (which writes it into its staging folder and deletes that).
    written = [key.removeprefix(prefix) for key in puts if key.startswith(prefix)]
    assert sorted(written) == sorted(new)
    assert [operation for operation, _ in requests if operation in ("COPY", "DELETE")] == []
    assert not any("_temporary" in key or ".spark-staging" in key for _, key in requests)
    # The job's commit lists each partition it wrote once (and deletes the old files in one request).
    folders = [key for operation, key in requests if operation == "LIST" and key.startswith(prefix + "month=")]
    assert sorted(folder for folder in folders if folder.count("/") == 3) == [prefix + "month=1/", prefix + "month=2/"]
    # 15 requests when this was written (per file: S3A's two probes, the PUT, its folder-marker cleanup and
    # Spark's HEAD for the size); through .spark-staging with Spark's own protocol the same write made 106.
    assert len(requests) <= 20, requests


def test_a_failed_dynamic_overwrite_leaves_the_partitions_as_they_were(clients, puts):
    s3, glue = clients
    prefix = "curated/dynamic-fails/"
    for month in (1, 2, 3, 9):
        put(s3, f"{prefix}month={month}/old.parquet", f"month {month} before the job".encode())
    before = object_versions(s3, prefix)
    create_job(glue, s3, "write-months-dynamic-fails", WRITE_MONTHS_DYNAMIC)
    puts.clear()

    run = run_job(
        glue,
        "write-months-dynamic-fails",
        {"--target_path": f"s3://{BUCKET}/{prefix}", "--months": "1,2,3", "--fail_month": "3"},
    )

    assert run["JobRunState"] == "FAILED"
    assert "bad month" in run["ErrorMessage"]
    # The tasks of months 1 and 2 wrote their files in place and committed; the job's abort deleted them.
    new = {key.removeprefix(prefix) for key in puts if key.startswith(prefix) and "/part-" in key}
    assert partitions(list(new)) == ["month=1", "month=2"]
    assert object_versions(s3, prefix) == before

"""What a Glue job's Spark writes leave in local S3: files at their final keys, as Glue 5.0's committer does."""

from __future__ import annotations

import pytest
from moto.s3.models import S3Backend

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


def test_dynamic_partition_overwrite_replaces_only_the_partitions_written(clients):
    s3, glue = clients
    put(s3, "curated/dynamic/month=9/kept.parquet", b"another partition")
    put(s3, "curated/dynamic/month=1/replaced.parquet", b"an older month 1")
    create_job(glue, s3, "write-months-dynamic", write_months_script())

    run = run_job(
        glue,
        "write-months-dynamic",
        {"--target_path": f"s3://{BUCKET}/curated/dynamic/", "--fail_month": "0", "--months": "2", "--mode": "dynamic"},
    )

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    written = keys(s3, "curated/dynamic/")
    assert "month=9/kept.parquet" in written
    assert "month=1/replaced.parquet" not in written
    assert partitions(written) == ["month=1", "month=2", "month=9"]
    assert not any("_temporary" in name or ".spark-staging" in name for name in written)

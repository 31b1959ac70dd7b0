"""The Glue lab 1 job script, run by local Glue exactly as AWS Glue runs it, on dirty input."""

from __future__ import annotations

import io
import json
import time

import boto3
import pyarrow.parquet as pq
import pytest

from labkit.operators.packaging import zip_package
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.e2e

BUCKET = "flights-job"
HEADER = "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour"
ROWS = [
    "2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-01 05:00:00",
    "2013,1,1,533,529,4,850,830,20,UA,1714,N24211,LGA,IAH,227,1416,5,29,2013-01-01 05:00:00",
    "2013,2,3,,1930,,,2120,,EV,4131,,EWR,RIC,,277,19,30,2013-02-03 19:00:00",
]
MALFORMED = [
    "2013,1,1,542,540",  # too few fields
    "2013,2,1,5x4,545,-1,1004,1022,-18,B6,725,N804JB,JFK,BQN,183,1576,5,45,2013-02-01 05:00:00",
]


def run_job(glue, arguments: dict) -> dict:
    run_id = glue.start_job_run(JobName="flights-csv-to-parquet", Arguments=arguments)["JobRunId"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run = glue.get_job_run(JobName="flights-csv-to-parquet", RunId=run_id)["JobRun"]
        if run["JobRunState"] not in ("STARTING", "RUNNING", "WAITING", "STOPPING"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"job run {run_id} did not finish")


@pytest.fixture
def job(aws_client):
    s3, glue = aws_client("s3"), aws_client("glue")
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(REPO_ROOT / "glue_jobs/flights_csv_to_parquet.py"), BUCKET, "scripts/job.py")
    s3.put_object(Bucket=BUCKET, Key="scripts/etl.zip", Body=zip_package(REPO_ROOT / "glue_jobs/etl"))
    s3.put_object(
        Bucket=BUCKET,
        Key="raw/flights.csv",
        Body="\n".join([HEADER, *ROWS[:2], MALFORMED[0], ROWS[2], MALFORMED[1]]) + "\n",
    )
    glue.create_job(
        Name="flights-csv-to-parquet",
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/scripts/job.py", "PythonVersion": "3"},
        GlueVersion="5.0",
        DefaultArguments={"--extra-py-files": f"s3://{BUCKET}/scripts/etl.zip"},
    )
    arguments = {
        "--source_path": f"s3://{BUCKET}/raw/",
        "--target_path": f"s3://{BUCKET}/curated/",
        "--bad_records_path": f"s3://{BUCKET}/bad_records/",
    }
    return s3, glue, arguments


def read_parquet_rows(s3) -> list[dict]:
    rows = []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/")["Contents"]]
    for key in sorted(k for k in keys if k.endswith(".parquet")):
        partition = dict(part.split("=") for part in key.split("/")[1:-1])
        table = pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
        rows += [{**row, **partition} for row in table.to_pylist()]
    return rows


def test_job_writes_typed_partitioned_parquet_and_quarantines_malformed_rows(job):
    s3, glue, arguments = job

    run = run_job(glue, arguments)

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    rows = read_parquet_rows(s3)
    assert sorted((r["flight"], r["year"], r["month"], r["dep_time"]) for r in rows) == [
        (1545, "2013", "1", 517),
        (1714, "2013", "1", 533),
        (4131, "2013", "2", None),
    ]
    bad_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="bad_records/")["Contents"]]
    bad = [
        json.loads(line)
        for key in bad_keys
        if key.endswith(".json")
        for line in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    ]
    assert sorted((b["record"], b["error"]) for b in bad) == sorted(
        [
            (MALFORMED[0], "wrong number of fields"),
            (MALFORMED[1], "unparsable integer in column dep_time: '5x4'"),
        ]
    )
    logs = boto3.client("logs", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1")
    events = logs.get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run["Id"])["events"]
    assert any("quarantined 2 malformed rows" in e["message"] for e in events)


def test_rerun_replaces_output_instead_of_duplicating_it(job):
    s3, glue, arguments = job

    assert run_job(glue, arguments)["JobRunState"] == "SUCCEEDED"
    assert run_job(glue, arguments)["JobRunState"] == "SUCCEEDED"

    assert len(read_parquet_rows(s3)) == 3

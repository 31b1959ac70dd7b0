"""The report's Glue job timings against local AWS: GetJobRuns' times, and runs recorded before a teardown deletes the job."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from labkit.report import sources
from tests.contract.test_glue_jobs import BUCKET, create_job, wait_for_run

SCRIPT = """
import time
time.sleep(2)
print("done")
"""


def test_job_runs_are_read_and_recorded_until_the_job_is_deleted(aws_client):
    s3, glue = aws_client("s3"), aws_client("glue")
    s3.create_bucket(Bucket=BUCKET)
    since = datetime.now(UTC) - timedelta(seconds=1)
    create_job(glue, s3, "ade-report-job", SCRIPT)
    create_job(glue, s3, "other-team-job", SCRIPT)

    with sources.recording_glue_runs(glue, since, every=0.5) as recorded:
        run_id = glue.start_job_run(JobName="ade-report-job")["JobRunId"]
        run = wait_for_run(glue, "ade-report-job", run_id)
        other = glue.start_job_run(JobName="other-team-job")["JobRunId"]
        wait_for_run(glue, "other-team-job", other)
        (read,) = sources.glue_job_runs(glue, "ade-", since)
        time.sleep(1.5)  # a poll or two after the end, as a DAG's checks take before its teardown
        glue.delete_job(JobName="ade-report-job")

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert (read.job_name, read.run_id, read.state) == ("ade-report-job", run_id, "SUCCEEDED")
    assert read.started_on == run["StartedOn"] and read.completed_on == run["CompletedOn"]
    assert read.execution_seconds == run["ExecutionTime"] >= 2
    assert sources.glue_job_runs(glue, "ade-", since) == []  # GetJobRuns forgets a deleted job's runs
    assert sources.glue_job_runs(glue, "", datetime.now(UTC)) == []  # none started since now
    assert recorded[run_id] == read  # ... and the recording kept its last state
    assert recorded[other].job_name == "other-team-job" and recorded[other].state == "SUCCEEDED"

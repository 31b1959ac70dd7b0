"""CDC project: start the Glue merge job when DMS writes a change file to S3.

Invoked by the data bucket's ObjectCreated notifications on the folder DMS writes to. For each
record: start the Glue job JOB_NAME with the object's bucket and key (`--source_bucket`,
`--source_key`; the job logs them). The job runs one at a time (MaxConcurrentRuns=1) and reads,
with a job bookmark, every DMS file it has not merged yet, so one run merges every file that
landed before it listed the folder. When a run is already going (ConcurrentRunsExceededException):

- the run started after this object was created: it lists the folder after the object landed and
  merges it, so the file is left to that run;
- the run started before: it may have listed the folder already, so this invocation fails and
  Lambda retries it (asynchronous invocations are retried twice, about a minute apart) until the
  file has a run of its own or one started after it. A file whose retries all meet older runs
  is merged by the next run any later file or the DAG starts (the bookmark keeps it pending).

Retrying is harmless: the merge is idempotent (each change is applied by its position in DMS's
files, never twice). Records other than ObjectCreated, folder placeholders and files DMS does
not write (not .parquet/.csv, or `_`/`.` names) are skipped.
"""

from __future__ import annotations

import functools
import logging
import os
from datetime import datetime
from urllib.parse import unquote_plus

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger()
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

DMS_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".parquet.gz")
ACTIVE = ("STARTING", "RUNNING", "STOPPING", "WAITING")


@functools.cache
def _glue():
    # One client per warm execution environment (AWS_ENDPOINT_URL, when set, points it elsewhere).
    return boto3.client("glue")


def _is_change_file(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return name.endswith(DMS_SUFFIXES) and not name.startswith(("_", "."))


def _active_run(job_name: str) -> dict | None:
    runs = _glue().get_job_runs(JobName=job_name, MaxResults=10)["JobRuns"]
    active = [run for run in runs if run["JobRunState"] in ACTIVE]
    return max(active, key=lambda run: run["StartedOn"]) if active else None


def start_merge(job_name: str, bucket: str, key: str, created: datetime) -> str:
    """Start the merge for one object; returns what happened: started <run id> or left to <run id>."""
    try:
        run_id = _glue().start_job_run(JobName=job_name, Arguments={"--source_bucket": bucket, "--source_key": key})[
            "JobRunId"
        ]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConcurrentRunsExceededException":
            raise
        run = _active_run(job_name)
        if run is None:  # the run ended between the two calls: the next attempt starts one
            raise RuntimeError(f"{job_name} was busy and is no longer; retrying for s3://{bucket}/{key}") from error
        if run["StartedOn"] < created:
            raise RuntimeError(
                f"{job_name} run {run['Id']} started at {run['StartedOn'].isoformat()}, before "
                f"s3://{bucket}/{key} was created ({created.isoformat()}); retrying so a run merges it"
            ) from error
        logger.info(
            "Left s3://%s/%s to %s run %s, which started after it was created", bucket, key, job_name, run["Id"]
        )
        return f"left to {run['Id']}"
    logger.info("Started %s run %s for s3://%s/%s", job_name, run_id, bucket, key)
    return f"started {run_id}"


def handler(event, context):
    job_name = os.environ.get("JOB_NAME")
    if not job_name:
        raise ValueError("environment variable JOB_NAME is not set; set it to the Glue merge job's name")
    outcome: dict[str, list[str]] = {"started": [], "left": [], "skipped": []}
    for record in event.get("Records", []):
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        if not record.get("eventName", "").startswith("ObjectCreated:") or not _is_change_file(key):
            logger.info("Skipping %s of s3://%s/%s", record.get("eventName"), bucket, key)
            outcome["skipped"].append(key)
            continue
        created = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00"))
        what = start_merge(job_name, bucket, key, created)
        outcome["started" if what.startswith("started") else "left"].append(key)
    return outcome

"""Glue job runs that really execute: what of moto's Glue job API is intercepted.

`patches` changes moto 5.2.5 so that
- StartJobRun queues the run on the job runner (job_runner.py, the engine), which executes
  queued runs one at a time, in order, on the warm Spark driver and keeps the run's state on
  moto's FakeJobRun;
- JobRunState is what really happened (moto's timed state machine is switched off for runs):
  STARTING (queued, or the driver is starting) -> RUNNING -> SUCCEEDED | FAILED | TIMEOUT |
  STOPPED (STOPPING in between after BatchStopJobRun);
- GetJobRun(s) report real StartedOn/CompletedOn/ExecutionTime, ErrorMessage, Glue's log
  group and the job's GlueVersion;
- BatchStopJobRun, which moto lacks, stops queued and running runs;
- GetJobBookmark/ResetJobBookmark, which moto lacks, answer from the job's bookmark (bookmarks.py):
  a run gets the saved bookmark with its request, and what its Job.commit() saved with its result.
State lives on moto's objects, so /moto-api/reset forgets it; queued runs of a reset backend
are dropped and a running one is stopped.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.glue.exceptions import ConcurrentRunsExceededException, EntityNotFoundException
from moto.glue.models import FakeJob, FakeJobRun, GlueBackend
from moto.glue.responses import GlueResponse
from moto.moto_api._internal.managed_state_model import ManagedState

from local_aws import workers
from local_aws.glue import job_definitions
from local_aws.glue.job_runner import (
    FINAL_STATES,
    LOG_GROUP,
    JobRunner,
    LocalRun,
    finish,
    interrupted_message,
    job_bookmark,
    set_state,
    state_lock,
)
from local_aws.patching import Patches

patches = Patches(__name__)


@patches.wrap(FakeJob, "start_job_run")
def _start_job_run(original, self: FakeJob, *args, **kwargs) -> str:
    # One start at a time: concurrent requests (a trigger and a user, say) must not both pass the check,
    # and job_runs[-1] must be this request's run.
    with state_lock:
        # AWS counts every run not yet ended (STOPPING too) against MaxConcurrentRuns (default 1), in its words.
        active = [run for run in self.job_runs if run.status not in FINAL_STATES]
        if len(active) >= (self.execution_property or {}).get("MaxConcurrentRuns", 1):
            raise ConcurrentRunsExceededException(f"Concurrent runs exceeded for {self.name}")
        run_id = original(self, *args, **kwargs)
        run = self.job_runs[-1]
        # The run's Timeout, else the job's, else AWS's default for the job's Glue version.
        timeout = run.timeout or job_definitions.timeout_minutes(self)
        run.local = LocalRun(job=self, region=self.backend.region_name, timeout_minutes=timeout)
        run.status = "STARTING"
    workers.get(JobRunner).submit(run)
    return run_id


@patches.wrap(FakeJobRun, "as_dict")
def _job_run_as_dict(original, self: FakeJobRun) -> dict:
    described = original(self)
    local: LocalRun | None = getattr(self, "local", None)
    if local is None:
        return described
    described.update(
        Attempt=0,
        ExecutionTime=local.seconds_running(),
        LogGroupName=LOG_GROUP,
        GlueVersion=job_definitions.glue_version(local.job) or described["GlueVersion"],
        Timeout=local.timeout_minutes,
    )
    described.pop("CompletedOn", None)
    if local.completed_on is not None:
        described["CompletedOn"] = local.completed_on
    if local.error_message:
        described["ErrorMessage"] = local.error_message
    return described


# The runner sets a run's state; moto's time/tick-driven transitions must not move it.
patches.replace(FakeJobRun, "status", property(lambda run: run._status, ManagedState.status.fset))


def _batch_stop_job_run(self: GlueBackend, job_name: str, run_ids: list[str]) -> tuple[list, list]:
    job = self.get_job(job_name)
    runs = {run.job_run_id: run for run in job.job_runs}
    stopped, errors = [], []
    for run_id in run_ids:
        run = runs.get(run_id)
        with state_lock:
            if run is not None and run.status not in FINAL_STATES:
                run.local.stop_requested = True
                if run.local.running_since is None:  # still queued: it never reaches the driver
                    finish(run, "STOPPED", interrupted_message(run, "STOPPED"))
                else:
                    set_state(run, "STOPPING")
                stopped.append({"JobName": job_name, "JobRunId": run_id})
                continue
        code, reason = (
            ("EntityNotFoundException", "does not exist")
            if run is None
            else ("InvalidInputException", f"already ended in state {run.status}")
        )
        detail = {"ErrorCode": code, "ErrorMessage": f"Job run {run_id} of job {job_name} {reason}"}
        errors.append({"JobName": job_name, "JobRunId": run_id, "ErrorDetail": detail})
    return stopped, errors


def _batch_stop_job_run_response(self: GlueResponse) -> ActionResult:
    stopped, errors = self.glue_backend.batch_stop_job_run(self.parameters["JobName"], self.parameters["JobRunIds"])
    return ActionResult({"SuccessfulSubmissions": stopped, "Errors": errors})


patches.add(GlueBackend, "batch_stop_job_run", _batch_stop_job_run)
patches.add(GlueResponse, "batch_stop_job_run", _batch_stop_job_run_response)


def _job_bookmark_response(self: GlueResponse, reset: bool) -> ActionResult:
    name, run_id = self.parameters["JobName"], self.parameters.get("RunId")
    bookmark = job_bookmark(self.glue_backend.get_job(name))
    if bookmark is None:  # no run of the job has committed a bookmark yet
        raise EntityNotFoundException(f"Continuation for job {name} not found")
    try:
        if reset:
            bookmark.reset(run_id)
        return ActionResult({"JobBookmarkEntry": bookmark.entry(None if reset else run_id)})
    except KeyError as error:
        raise EntityNotFoundException(error.args[0]) from None


patches.add(GlueResponse, "get_job_bookmark", lambda self: _job_bookmark_response(self, reset=False))
patches.add(GlueResponse, "reset_job_bookmark", lambda self: _job_bookmark_response(self, reset=True))


def _get_job_run(self: FakeJob, run_id: str) -> FakeJobRun:
    for run in self.job_runs:
        if run.job_run_id == run_id:
            return run
    # Local wording (AWS's words for this case are not known): moto said "Job run <id> not found."
    raise EntityNotFoundException(
        f"Job run {run_id} of job {self.name} does not exist; GetJobRuns(JobName={self.name}) lists its runs"
    )


patches.replace(FakeJob, "get_job_run", _get_job_run)


def shutdown() -> None:
    """Stop the runner and its driver; runs still queued stay as they are."""
    workers.stop(JobRunner)

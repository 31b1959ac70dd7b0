"""Glue job runs that really execute: moto records StartJobRun, the warm Spark driver runs the script.

`patches` changes moto 5.2.5 so that
- StartJobRun queues the run; one runner thread executes queued runs one at a time, in order,
  on the warm driver (spark_worker.py), and keeps the run's state on moto's FakeJobRun;
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

import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from moto.core.responses import ActionResult
from moto.glue.exceptions import ConcurrentRunsExceededException, EntityNotFoundException
from moto.glue.models import FakeJob, FakeJobRun, GlueBackend
from moto.glue.responses import GlueResponse
from moto.moto_api._internal.managed_state_model import ManagedState

from local_aws import clock, config
from local_aws.clock import utcnow_naive as utcnow
from local_aws.glue import bookmarks, events, job_definitions
from local_aws.glue.run_logs import ERROR_LOG_GROUP
from local_aws.glue.script_run import RunRequest
from local_aws.glue.spark_worker import DriverStartError, SparkWorker
from local_aws.logs import writer
from local_aws.patching import Patches

log = logging.getLogger(__name__)

LOG_GROUP = "/aws-glue/jobs"  # GetJobRun's LogGroupName; the provider reads <group>/output and <group>/error
HARD_STOP_GRACE_SECONDS = 10  # after a cancel, how long a script may take to stop before the driver is killed
POLL_SECONDS = 0.2
FINAL_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR")


@dataclass
class LocalRun:
    """What local AWS knows about one run beyond moto's fields; kept on the FakeJobRun as `.local`."""

    job: FakeJob
    region: str
    timeout_minutes: int
    running_since: float | None = None  # time.monotonic() when the script was handed to the driver
    completed_on: datetime | None = None
    execution_time: int = 0
    error_message: str | None = None
    stop_requested: bool = False

    def seconds_running(self) -> int:
        if self.completed_on is not None or self.running_since is None:
            return self.execution_time
        return round(time.monotonic() - self.running_since)


# ---- moto patches ----

patches = Patches(__name__)
# Serialises state changes between the runner thread and BatchStopJobRun requests.
_state_lock = threading.RLock()


@patches.wrap(FakeJob, "start_job_run")
def _start_job_run(original, self: FakeJob, *args, **kwargs) -> str:
    # One start at a time: concurrent requests (a trigger and a user, say) must not both pass the check,
    # and job_runs[-1] must be this request's run.
    with _state_lock:
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
    _runner().submit(run)
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
        with _state_lock:
            if run is not None and run.status not in FINAL_STATES:
                run.local.stop_requested = True
                if run.local.running_since is None:  # still queued: it never reaches the driver
                    _finish(run, "STOPPED", _interrupted_message(run, "STOPPED"))
                else:
                    _set_state(run, "STOPPING")
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


def _job_bookmark(job: FakeJob, create: bool = False) -> bookmarks.JobBookmark | None:
    if create and getattr(job, "local_bookmark", None) is None:
        job.local_bookmark = bookmarks.JobBookmark(job.name)
    return getattr(job, "local_bookmark", None)


def _job_bookmark_response(self: GlueResponse, reset: bool) -> ActionResult:
    name, run_id = self.parameters["JobName"], self.parameters.get("RunId")
    bookmark = _job_bookmark(self.glue_backend.get_job(name))
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


# ---- the runner ----


def _set_state(run: FakeJobRun, state: str) -> None:
    run.status = state
    run.modified_on = utcnow()


def _finish(run: FakeJobRun, state: str, message: str | None, to_error_log: bool = False) -> None:
    """Record the outcome once; fields first, state last, so a poller that sees the end sees everything."""
    local: LocalRun = run.local
    if to_error_log and message:
        # Reasons only the server knows (driver died, could not start) go to the run's error log too.
        try:
            writer.write_lines(ERROR_LOG_GROUP, run.job_run_id, [message], local.region)
        except Exception:
            log.exception("could not write the error log of Glue job run %s", run.job_run_id)
    with _state_lock:
        if run.status in FINAL_STATES:
            return
        if local.running_since is not None:
            local.execution_time = round(time.monotonic() - local.running_since)
        local.error_message = message
        local.completed_on = utcnow()
        _set_state(run, state)
    # Conditional triggers and workflow runs react to the outcome (local_aws/glue/triggers.py).
    events.publish(events.RunFinished("JOB", run.job_name, state, run, local.job.backend))


def _is_current(run: FakeJobRun) -> bool:
    """False once /moto-api/reset or DeleteJob has dropped the run's job."""
    job = run.local.job
    return job.backend.jobs.get(job.name) is job and run in job.job_runs


def _interrupted_message(run: FakeJobRun, reason: str) -> str:
    local: LocalRun = run.local
    if reason == "TIMEOUT":
        seconds = local.timeout_minutes * config.settings.glue_minute_seconds
        return (
            f"Job run {run.job_run_id} of job {run.job_name} exceeded its Timeout of {local.timeout_minutes} "
            f"minute(s) ({seconds:g} s on local AWS) and was stopped; raise the job's or the run's Timeout"
        )
    if local.stop_requested:
        return f"Job run {run.job_run_id} of job {run.job_name} was stopped by BatchStopJobRun"
    return f"Job run {run.job_run_id} of job {run.job_name} was stopped because local AWS stopped or was reset"


def _request(run: FakeJobRun) -> RunRequest:
    job = run.local.job
    return RunRequest(
        run_id=run.job_run_id,
        job_name=job.name,
        job_id="j_" + hashlib.sha256(job.arn.encode()).hexdigest(),
        script_location=(job.command or {}).get("ScriptLocation") or "",
        arguments=dict(run.arguments or {}),
        region=run.local.region,
        glue_version=job_definitions.glue_version(job) or job_definitions.DEFAULT_GLUE_VERSION,
        bookmark=dict(bookmark.sources) if (bookmark := _job_bookmark(job)) else {},
        clock_offset_seconds=clock.offset().total_seconds(),
    )


class JobRunner:
    """Executes queued runs one at a time on the warm driver and keeps their moto state current."""

    def __init__(self):
        self._queue: queue.Queue = queue.Queue()
        self._driver: SparkWorker | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="glue-job-runner", daemon=True)
        self._thread.start()

    def submit(self, run: FakeJobRun) -> None:
        self._queue.put(run)

    def warm_up(self, wait: bool) -> None:
        started = threading.Event()
        self._queue.put(started)
        if wait:
            started.wait()

    def shutdown(self) -> None:
        self._closing = True
        self._queue.put(None)
        self._thread.join(timeout=HARD_STOP_GRACE_SECONDS + 20)
        self._stop_driver()

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                try:
                    self._ensure_driver()
                except DriverStartError as error:
                    log.error("%s", error)
                item.set()
                continue
            try:
                self._execute(item)
            except Exception as error:  # a bug here must not leave the run RUNNING forever
                log.exception("Glue job run %s failed in local AWS", item.job_run_id)
                _finish(item, "FAILED", f"local AWS could not execute the run: {type(error).__name__}: {error}")

    def _ensure_driver(self) -> SparkWorker:
        if self._driver is None or not self._driver.alive:
            self._driver = None
            driver = SparkWorker(config.settings)
            driver.start()
            self._driver = driver
        return self._driver

    def _stop_driver(self) -> None:
        if self._driver is not None:
            self._driver.stop()
            self._driver = None

    def _execute(self, run: FakeJobRun) -> None:
        local: LocalRun = run.local
        if not _is_current(run) or self._closing or run.status in FINAL_STATES:
            return
        request = _request(run)
        if request.arguments.get("--job-language", "python").strip().lower() == "scala":
            message = f"job {run.job_name} is a Scala job (--job-language scala); local AWS runs Python scripts only"
            _finish(run, "FAILED", message, to_error_log=True)
            return
        if not request.script_location.startswith("s3://"):
            message = (
                f"job {run.job_name} has Command.ScriptLocation {request.script_location!r}; "
                "set it to the s3:// URI of the script (UpdateJob)"
            )
            _finish(run, "FAILED", message, to_error_log=True)
            return
        try:
            driver = self._ensure_driver()
        except DriverStartError as error:
            _finish(run, "FAILED", str(error), to_error_log=True)
            return
        with _state_lock:
            if run.status in FINAL_STATES:  # stopped while the driver was starting
                return
            local.running_since = time.monotonic()
            _set_state(run, "RUNNING")
        driver.run(request)
        state, message, server_side = self._supervise(run, driver)
        _finish(run, state, message, to_error_log=server_side)

    def _supervise(self, run: FakeJobRun, driver: SparkWorker) -> tuple[str, str | None, bool]:
        """Wait for the driver's outcome, enforcing Timeout and stop requests: (state, message, server-side?)."""
        local: LocalRun = run.local
        deadline = local.running_since + local.timeout_minutes * config.settings.glue_minute_seconds
        cancel_reason, cancelled_at = None, 0.0
        while True:
            result = driver.result(POLL_SECONDS)
            if result is not None:
                if result.bookmark is not None and _is_current(run):  # Job.commit() saved it
                    _job_bookmark(local.job, create=True).commit(run.job_run_id, result.bookmark)
                if result.driver_exits:
                    self._stop_driver()
                if result.state in ("TIMEOUT", "STOPPED"):
                    return result.state, _interrupted_message(run, result.state), False
                return result.state, result.error_message, False
            if not driver.alive:
                self._driver = None
                return (
                    cancel_reason or "FAILED",
                    (
                        f"The Spark driver process exited with code {driver.exitcode} during job run {run.job_run_id} "
                        "(os._exit, a crash or out of memory); the next run starts a fresh driver. "
                        f"Driver log: {driver.log_path}"
                    ),
                    True,
                )
            now = time.monotonic()
            if cancel_reason is None:
                if now >= deadline:
                    cancel_reason = "TIMEOUT"
                elif local.stop_requested or self._closing or not _is_current(run):
                    cancel_reason = "STOPPED"
                if cancel_reason:
                    driver.cancel(run.job_run_id, cancel_reason)
                    cancelled_at = now
            elif now - cancelled_at > HARD_STOP_GRACE_SECONDS:
                # The script ignores the interrupt (blocked signals, a hung native call): lose the driver.
                driver.kill()
                self._driver = None
                return (
                    cancel_reason,
                    _interrupted_message(run, cancel_reason)
                    + (
                        f". The script did not stop within {HARD_STOP_GRACE_SECONDS} s, so its Spark driver was "
                        "killed; the next run starts a fresh one"
                    ),
                    True,
                )


_runner_instance: JobRunner | None = None
_runner_lock = threading.Lock()


def _runner() -> JobRunner:
    global _runner_instance
    with _runner_lock:
        if _runner_instance is None:
            _runner_instance = JobRunner()
        return _runner_instance


def warm_up(wait: bool = False) -> None:
    """Start the Spark driver now instead of on the first run (wait=True blocks until it is up)."""
    _runner().warm_up(wait)


def shutdown() -> None:
    """Stop the runner and its driver; runs still queued stay as they are."""
    global _runner_instance
    with _runner_lock:
        runner, _runner_instance = _runner_instance, None
    if runner is not None:
        runner.shutdown()

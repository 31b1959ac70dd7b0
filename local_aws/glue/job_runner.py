"""The Glue job engine: the runner that executes queued runs on the warm Spark driver.

jobs.py intercepts moto's calls (StartJobRun queues a run here; BatchStopJobRun, the bookmark APIs,
GetJobRun's fields); this module runs what was queued, one run at a time, in order, on the driver
(spark_worker.py), and keeps the run's state on moto's FakeJobRun as `.local` (LocalRun):
STARTING -> RUNNING -> SUCCEEDED | FAILED | TIMEOUT | STOPPED, with Timeout and stop requests
enforced and a crashed or stuck driver replaced. The runner is a worker of the server
(local_aws/workers.py): it starts with the first run (or warm_up()) and stops with the server.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from moto.glue.models import FakeJob, FakeJobRun

from local_aws import clock, config, workers
from local_aws.clock import utcnow_naive as utcnow
from local_aws.glue import bookmarks, events, job_definitions
from local_aws.glue.run_logs import ERROR_LOG_GROUP
from local_aws.glue.script_run import RunRequest
from local_aws.glue.spark_worker import DriverStartError, SparkWorker
from local_aws.logs import writer

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


# Serialises state changes between the runner thread and BatchStopJobRun requests.
state_lock = threading.RLock()


def job_bookmark(job: FakeJob, create: bool = False) -> bookmarks.JobBookmark | None:
    if create and getattr(job, "local_bookmark", None) is None:
        job.local_bookmark = bookmarks.JobBookmark(job.name)
    return getattr(job, "local_bookmark", None)


def set_state(run: FakeJobRun, state: str) -> None:
    run.status = state
    run.modified_on = utcnow()


def finish(run: FakeJobRun, state: str, message: str | None, to_error_log: bool = False) -> None:
    """Record the outcome once; fields first, state last, so a poller that sees the end sees everything."""
    local: LocalRun = run.local
    if to_error_log and message:
        # Reasons only the server knows (driver died, could not start) go to the run's error log too.
        try:
            writer.write_lines(ERROR_LOG_GROUP, run.job_run_id, [message], local.region)
        except Exception:
            log.exception("could not write the error log of Glue job run %s", run.job_run_id)
    with state_lock:
        if run.status in FINAL_STATES:
            return
        if local.running_since is not None:
            local.execution_time = round(time.monotonic() - local.running_since)
        local.error_message = message
        local.completed_on = utcnow()
        set_state(run, state)
    # Conditional triggers and workflow runs react to the outcome (local_aws/glue/triggers.py).
    events.publish(events.RunFinished("JOB", run.job_name, state, run, local.job.backend))


def is_current(run: FakeJobRun) -> bool:
    """False once /moto-api/reset or DeleteJob has dropped the run's job."""
    job = run.local.job
    return job.backend.jobs.get(job.name) is job and run in job.job_runs


def interrupted_message(run: FakeJobRun, reason: str) -> str:
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


def run_request(run: FakeJobRun) -> RunRequest:
    job = run.local.job
    return RunRequest(
        run_id=run.job_run_id,
        job_name=job.name,
        job_id="j_" + hashlib.sha256(job.arn.encode()).hexdigest(),
        script_location=(job.command or {}).get("ScriptLocation") or "",
        arguments=dict(run.arguments or {}),
        region=run.local.region,
        glue_version=job_definitions.glue_version(job) or job_definitions.DEFAULT_GLUE_VERSION,
        bookmark=dict(bookmark.sources) if (bookmark := job_bookmark(job)) else {},
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

    def stop(self) -> None:
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
                finish(item, "FAILED", f"local AWS could not execute the run: {type(error).__name__}: {error}")

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
        if not is_current(run) or self._closing or run.status in FINAL_STATES:
            return
        request = run_request(run)
        if request.arguments.get("--job-language", "python").strip().lower() == "scala":
            message = f"job {run.job_name} is a Scala job (--job-language scala); local AWS runs Python scripts only"
            finish(run, "FAILED", message, to_error_log=True)
            return
        if not request.script_location.startswith("s3://"):
            message = (
                f"job {run.job_name} has Command.ScriptLocation {request.script_location!r}; "
                "set it to the s3:// URI of the script (UpdateJob)"
            )
            finish(run, "FAILED", message, to_error_log=True)
            return
        try:
            driver = self._ensure_driver()
        except DriverStartError as error:
            finish(run, "FAILED", str(error), to_error_log=True)
            return
        with state_lock:
            if run.status in FINAL_STATES:  # stopped while the driver was starting
                return
            local.running_since = time.monotonic()
            set_state(run, "RUNNING")
        driver.run(request)
        state, message, server_side = self._supervise(run, driver)
        finish(run, state, message, to_error_log=server_side)

    def _supervise(self, run: FakeJobRun, driver: SparkWorker) -> tuple[str, str | None, bool]:
        """Wait for the driver's outcome, enforcing Timeout and stop requests: (state, message, server-side?)."""
        local: LocalRun = run.local
        deadline = local.running_since + local.timeout_minutes * config.settings.glue_minute_seconds
        cancel_reason, cancelled_at = None, 0.0
        while True:
            result = driver.result(POLL_SECONDS)
            if result is not None:
                if result.bookmark is not None and is_current(run):  # Job.commit() saved it
                    job_bookmark(local.job, create=True).commit(run.job_run_id, result.bookmark)
                if result.driver_exits:
                    self._stop_driver()
                if result.state in ("TIMEOUT", "STOPPED"):
                    return result.state, interrupted_message(run, result.state), False
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
                elif local.stop_requested or self._closing or not is_current(run):
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
                    interrupted_message(run, cancel_reason)
                    + (
                        f". The script did not stop within {HARD_STOP_GRACE_SECONDS} s, so its Spark driver was "
                        "killed; the next run starts a fresh one"
                    ),
                    True,
                )


def warm_up(wait: bool = False) -> None:
    """Start the Spark driver now instead of on the first run (wait=True blocks until it is up)."""
    workers.get(JobRunner).warm_up(wait)

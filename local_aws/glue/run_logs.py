"""Where a Glue job run's log lines go in CloudWatch Logs, as AWS documents it for the job's Glue version.

Glue 5.0 and later ("Logging for AWS Glue jobs"): the script's stdout and stderr go to the log
group /aws-glue/jobs/output; system logs, the Spark driver's log and GlueLogger lines go to
/aws-glue/jobs/error.
Glue 4.0 and earlier: stdout goes to /aws-glue/jobs/output, stderr and the driver's log to
/aws-glue/jobs/error; with `--enable-continuous-cloudwatch-log true` (continuous logging), the
driver's log also goes to /aws-glue/jobs/logs-v2 (or `--continuous-log-logGroup`) in the stream
`--continuous-log-logStreamPrefix` (default: the run id), and with the standard filter
(`--enable-continuous-log-filter`, default true) a progress bar goes every 5 s to the stream
`<prefix>-progress-bar` once the script has created a GlueContext.
Streams of /output and /error are named after the run id (what GlueJobHook.print_job_logs reads).

The driver's log is what the warm Spark driver's log4j writes during the run (Spark's INFO lines,
GlueLogger, local AWS's own notices): log4j appends it to a file (spark_worker.log4j_properties)
that is emptied when a run starts and read while it runs.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from local_aws.logs import writer

OUTPUT_LOG_GROUP = "/aws-glue/jobs/output"
ERROR_LOG_GROUP = "/aws-glue/jobs/error"
CONTINUOUS_LOG_GROUP = "/aws-glue/jobs/logs-v2"
FLUSH_SECONDS = 1.0
PROGRESS_BAR_SECONDS = 5.0

Destination = tuple[str, str]  # (log group, log stream)


@dataclass(frozen=True)
class LogPlan:
    stdout: list[Destination]
    stderr: list[Destination]
    driver: list[Destination]
    progress_bar: Destination | None = None


def _enabled(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _version(glue_version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in glue_version.split("."))
    except ValueError:
        return (0,)


def plan(run_id: str, glue_version: str, arguments: dict[str, str]) -> LogPlan:
    """Which CloudWatch streams get the run's stdout, stderr, driver log and progress bar."""
    output, error = (OUTPUT_LOG_GROUP, run_id), (ERROR_LOG_GROUP, run_id)
    if _version(glue_version) >= (5, 0):
        return LogPlan(stdout=[output], stderr=[output], driver=[error])
    if not _enabled(arguments.get("--enable-continuous-cloudwatch-log")):
        return LogPlan(stdout=[output], stderr=[error], driver=[error])
    group = arguments.get("--continuous-log-logGroup") or CONTINUOUS_LOG_GROUP
    # AWS puts the prefix "before the AWS Glue job run ID" (its docs name no separator: none here).
    stream = arguments.get("--continuous-log-logStreamPrefix", "") + run_id
    standard_filter = arguments.get("--enable-continuous-log-filter", "true").strip().lower() != "false"
    progress_bar = (group, f"{stream}-progress-bar") if standard_filter else None
    return LogPlan(stdout=[output], stderr=[error], driver=[error, (group, stream)], progress_bar=progress_bar)


class LineSink:
    """Lines waiting to go to one or more CloudWatch Logs streams."""

    def __init__(self, destinations: list[Destination], region: str):
        self.destinations, self.region = destinations, region
        self._lock = threading.Lock()
        self._pending: list[str] = []

    def add(self, lines: list[str]) -> None:
        with self._lock:
            self._pending.extend(lines)

    def send(self, create: bool = False) -> None:
        """Send the pending lines; with create=True, create the streams even if there are none."""
        with self._lock:
            lines, self._pending = self._pending, []
        if not lines and not create:
            return
        for group, stream in self.destinations:
            try:
                writer.write_lines(group, stream, lines, self.region)
            except Exception as error:  # losing log lines must not fail the run
                print(
                    f"local AWS: could not write {len(lines)} lines to {group}/{stream}: {error}", file=sys.__stderr__
                )


class CloudWatchStream(io.TextIOBase):
    """A text stream (the script's sys.stdout or sys.stderr) whose lines go to a LineSink, echoed to `echo`."""

    encoding = "utf-8"

    def __init__(self, sink: LineSink, echo):
        self.sink, self._echo = sink, echo
        self._lock = threading.Lock()
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._partial = (self._partial + text).split("\n")
        self.sink.add(lines)
        self._echo.write(text)
        return len(text)

    def end(self) -> None:
        with self._lock:
            partial, self._partial = self._partial, ""
        self.sink.add([partial] if partial else [])


class DriverLogTail:
    """The lines log4j appends to the driver log file while the run goes on (the file is emptied first)."""

    def __init__(self, path: Path, sink: LineSink):
        self.path, self.sink = path, sink
        self._offset, self._partial = 0, b""
        if path.exists():
            os.truncate(path, 0)  # log4j appends (O_APPEND): its next line lands at the new end

    def read(self, final: bool = False) -> None:
        try:
            with open(self.path, "rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        if final and self._partial:
            lines, self._partial = [*lines, self._partial], b""
        self.sink.add([line.decode("utf-8", "replace") for line in lines])


def progress_bar_lines(status_tracker) -> list[str]:
    """One line per active Spark stage, in the form AWS documents for the continuous-logging progress bar."""
    lines = []
    for stage_id in sorted(status_tracker.getActiveStageIds()):
        stage = status_tracker.getStageInfo(stage_id)
        if stage is not None:
            lines.append(
                f"Stage {stage_id} ({stage.name}): > ({stage.numCompletedTasks} + {stage.numActiveTasks}) "
                f"/ {stage.numTasks}]"
            )
    return lines


class RunLogs:
    """The run's log streams: the script's stdout/stderr, the driver log and the progress bar, sent every second."""

    def __init__(self, run_id: str, glue_version: str, arguments: dict[str, str], region: str, driver_log: Path):
        self.plan = plan(run_id, glue_version, arguments)
        sinks: dict[tuple[Destination, ...], LineSink] = {}

        def sink(destinations: list[Destination]) -> LineSink:  # stderr and the driver log may share streams
            return sinks.setdefault(tuple(destinations), LineSink(destinations, region))

        self.output = CloudWatchStream(sink(self.plan.stdout), sys.__stdout__)
        self.error = CloudWatchStream(sink(self.plan.stderr), sys.__stderr__)
        self.driver = DriverLogTail(driver_log, sink(self.plan.driver))
        self.driver.sink.send(create=True)  # AWS always writes system lines there: the streams exist from the start
        self._progress_sink = LineSink([self.plan.progress_bar], region) if self.plan.progress_bar else None
        self._sinks = [*sinks.values(), *([self._progress_sink] if self._progress_sink else [])]
        self._spark_context = None
        self._stop = threading.Event()
        self._sender = threading.Thread(target=self._send_periodically, name=f"logs-{run_id[:12]}", daemon=True)
        self._sender.start()

    def glue_context_created(self, spark_context) -> None:
        """The progress bar starts once the script has a GlueContext, as on AWS."""
        if self._progress_sink is not None and self._spark_context is None:
            self._spark_context = spark_context
            self._progress_sink.send(create=True)

    def _send_periodically(self) -> None:
        ticks_per_bar = round(PROGRESS_BAR_SECONDS / FLUSH_SECONDS)
        tick = 0
        while not self._stop.wait(FLUSH_SECONDS):
            tick += 1
            if self._spark_context is not None and tick % ticks_per_bar == 0:
                try:
                    self._progress_sink.add(progress_bar_lines(self._spark_context.statusTracker()))
                except Exception:  # the script stopped Spark: no more progress to show
                    self._spark_context = None
            self.driver.read()
            self._send()

    def _send(self) -> None:
        for line_sink in self._sinks:
            line_sink.send()

    def close(self) -> None:
        self._stop.set()
        self._sender.join()
        self.output.end()
        self.error.end()
        self.driver.read(final=True)
        self._send()


_current: RunLogs | None = None


def begin(logs: RunLogs) -> None:
    global _current
    _current = logs


def end() -> None:
    global _current
    _current = None


def glue_context_created(spark_context) -> None:
    """Called by awsglue's GlueContext(): starts the run's progress bar (continuous logging)."""
    if _current is not None:
        _current.glue_context_created(spark_context)

"""Lambda's own log lines (its platform events) in the function's log format, as AWS writes them.

LoggingConfig LogFormat Text (the default): INIT_START, START, END, REPORT lines (and INIT_REPORT
and "Task timed out" when they apply). LogFormat JSON: one JSON object per event, `{"time",
"type", "record"}` with the Telemetry API's record schemas (platform.initStart, platform.start,
platform.runtimeDone, platform.report, platform.initReport), written only at or above the
function's SystemLogLevel (platform.runtimeDone is DEBUG, the others INFO; the default is INFO).
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

LEVELS = {"DEBUG": 10, "INFO": 20, "WARN": 30}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Report:
    """What the REPORT line / platform.report event says about one invocation."""

    request_id: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    init_ms: float | None  # on cold starts
    status: str  # success | error (the handler or Init failed) | timeout | failure (the runtime exited)
    error_type: str | None = None
    init_failed: bool = False


class PlatformLog:
    def __init__(self, logging_config: dict):
        self.json = logging_config.get("LogFormat") == "JSON"
        self.level = LEVELS[logging_config.get("SystemLogLevel") or "INFO"]

    def _event(self, ms: int, kind: str, record: dict, level: str = "INFO") -> list[tuple[int, str]]:
        if LEVELS[level] < self.level:
            return []
        return [(ms, json.dumps({"time": iso(ms), "type": kind, "record": record}))]

    def init_start(self, ms: int, runtime: str, detail: str) -> list[tuple[int, str]]:
        if not self.json:
            return [(ms, f"INIT_START Runtime Version: {runtime}.local\tRuntime Version ARN: {detail}")]
        record = {"initializationType": "on-demand", "phase": "init", "runtimeVersion": f"{runtime}.local"}
        return self._event(ms, "platform.initStart", record)

    def init_failed(self, ms: int, init_ms: float, error_type: str) -> list[tuple[int, str]]:
        if not self.json:
            text = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: error\tError Type: {error_type}"
            return [(ms, text)]
        record = {"initializationType": "on-demand", "phase": "init", "status": "error", "errorType": error_type,
                  "metrics": {"durationMs": round(init_ms, 2)}}  # fmt: skip
        return self._event(ms, "platform.initReport", record)

    def start(self, ms: int, request_id: str, version: str) -> list[tuple[int, str]]:
        if not self.json:
            return [(ms, f"START RequestId: {request_id} Version: {version}")]
        return self._event(ms, "platform.start", {"requestId": request_id, "version": version})

    def timed_out(self, ms: int, request_id: str, seconds: float) -> list[tuple[int, str]]:
        # JSON: the report's status says it (AWS writes no separate line then).
        return [] if self.json else [(ms, f"{iso(ms)} {request_id} Task timed out after {seconds:.2f} seconds")]

    def end(self, ms: int, report: Report) -> list[tuple[int, str]]:
        if not self.json:
            return [(ms, f"END RequestId: {report.request_id}")]
        record = {"requestId": report.request_id, **self._status(report),
                  "metrics": {"durationMs": round(report.duration_ms, 2)}}  # fmt: skip
        return self._event(ms, "platform.runtimeDone", record, level="DEBUG")

    def report(self, ms: int, report: Report) -> list[tuple[int, str]]:
        if not self.json:
            text = (
                f"REPORT RequestId: {report.request_id}\tDuration: {report.duration_ms:.2f} ms\t"
                f"Billed Duration: {report.billed_ms} ms\tMemory Size: {report.memory_mb} MB\t"
                f"Max Memory Used: {report.max_memory_mb} MB"
            )
            if report.init_ms is not None:
                text += f"\tInit Duration: {report.init_ms:.2f} ms"
            if report.status == "timeout":
                text += "\tStatus: timeout"
            elif report.status == "failure" or report.init_failed:  # (not for the handler's own exceptions)
                text += f"\tStatus: error\tError Type: {report.error_type}"
            return [(ms, text)]
        metrics = {
            "durationMs": round(report.duration_ms, 2),
            "billedDurationMs": report.billed_ms,
            "memorySizeMB": report.memory_mb,
            "maxMemoryUsedMB": report.max_memory_mb,
        }
        if report.init_ms is not None:
            metrics["initDurationMs"] = round(report.init_ms, 2)
        record = {"requestId": report.request_id, "metrics": metrics, **self._status(report)}
        return self._event(ms, "platform.report", record)

    @staticmethod
    def _status(report: Report) -> dict:
        status = {"status": report.status}
        if report.error_type:
            status["errorType"] = report.error_type
        return status

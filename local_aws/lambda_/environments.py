"""Execution environments: where a function version's handler really runs, as on AWS.

One environment is one worker process (`python -u bootstrap.py`, see bootstrap.py) started with
the function's environment variables and its execution role's credentials, cwd = the task root
and TMPDIR = a temp directory of its own. It imports the handler once (Init: a cold start) and
then serves invocations one at a time, keeping module state between them (warm starts).

pool.py keeps them; runtime.py invokes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from moto.awslambda.models import LambdaFunction

from local_aws import config
from local_aws.lambda_ import code, execution_role
from local_aws.lambda_.execution_role import Credentials
from local_aws.lambda_.log_shipping import now_ms, shipper
from local_aws.lambda_.platform_log import PlatformLog

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
SEPARATOR = "\x1e"  # bootstrap.py writes SEPARATOR + tag on stdout when an invocation's output is complete
INIT_LIMIT_SECONDS = 10.0  # AWS's Init phase limit for on-demand functions
OUTPUT_GRACE_SECONDS = 2.0  # how long to wait for an invocation's last output lines after its result


def _endpoint_environment() -> dict[str, str]:
    """Where boto3 in a handler finds local AWS: https:// (trusting local AWS's CA) when it speaks TLS."""
    settings = config.settings
    if not settings.tls:
        return {"AWS_ENDPOINT_URL": settings.endpoint_url}
    return {
        "AWS_ENDPOINT_URL": settings.endpoint_url.replace("http://", "https://", 1),
        "AWS_CA_BUNDLE": str(settings.ca_bundle),
    }


class EnvironmentDied(Exception):
    pass


@dataclass
class Outcome:
    """What one invocation in an environment produced."""

    kind: str  # "result" | "error" | "timeout" | "crash"
    body: object  # JSON text for "result", the error document otherwise
    duration_ms: float
    max_rss_kb: int
    lines: list[tuple[int, str]] = field(default_factory=list)


def fingerprint(function: LambdaFunction) -> str:
    """What an environment was built from: any change (code, handler, variables, memory...) needs new ones."""
    described = [
        getattr(function, "code_digest", None),
        function.handler,
        function.run_time,
        function.environment_vars,
        function.memory_size,
        function.timeout,
        function.role,
        [layer["Arn"] for layer in function.layers],
        function.ephemeral_storage,
        function.logging_config,
    ]
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def environment_key(function: LambdaFunction) -> tuple[str, str, str, str]:
    return (function.account_id, function.region, function.function_name, str(function.version))


class Environment:
    """One worker process serving one function version's invocations, one at a time."""

    def __init__(self, function: LambdaFunction):
        self.function = function
        self.key = environment_key(function)
        self.fingerprint = fingerprint(function)
        self.id = uuid.uuid4().hex
        self.version = str(function.version)
        self.log_group = function.logging_config["LogGroup"]  # LoggingConfig: /aws/lambda/<name> unless set
        self.platform = PlatformLog(function.logging_config)
        self.log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[{self.version}]{self.id}"
        self.created = self.last_used = time.monotonic()
        self.generation = shipper().generation  # its logs belong to the world it started in (see LogShipper)
        self.busy = True  # created for the invocation that needs it
        self.retired = False
        self.init_ms: float | None = None
        self.init_error: dict | None = None
        self.max_rss_kb = 0
        self.process: subprocess.Popen | None = None
        self.tmp_dir = code.lambda_dir() / "tmp" / self.id
        self._output: list[tuple[int, str]] = []
        self._markers: set[str] = set()
        self._eof = False
        self._cond = threading.Condition()
        self._requests = None
        self._responses_fd: int | None = None
        self._buffer = b""

    # -- lifecycle --

    def start(self) -> list[tuple[int, str]]:
        """Start the worker and run Init; returns the Init log lines (init_error set if Init failed)."""
        function = self.function
        task_root = code.task_root(function)
        paths = code.layer_paths(function)
        credentials = execution_role.role_credentials(function)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        env = self._environment(task_root, paths, credentials)
        env["_LOCAL_AWS_LAMBDA_FDS"] = f"{request_read},{response_write}"
        started_ms = now_ms()
        started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-u", str(BOOTSTRAP)],
                cwd=task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(request_read, response_write),
                start_new_session=True,  # its own process group: a kill takes the handler's children too
            )
        finally:
            os.close(request_read)
            os.close(response_write)
        self._requests = os.fdopen(request_write, "wb", buffering=0)
        self._responses_fd = response_read
        threading.Thread(target=self._read_output, name=f"lambda-env-{self.id[:8]}", daemon=True).start()

        runtime_lines = self.platform.init_start(
            started_ms,
            function.run_time,
            f"local AWS runs {function.run_time} on the server's Python {sys.version.split()[0]}",
        )
        limit = max(INIT_LIMIT_SECONDS, float(function.timeout))
        try:
            message = self._read_message(started + limit)
        except EnvironmentDied:
            message = None
            self.init_error = self._exit_error("")
        if message is None and self.init_error is None:
            self.kill()
            self.init_error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"Init of function {function.function_name} did not finish within {limit:.2f} seconds",
            }
        # Init Duration as AWS reports it: from starting the runtime to the handler being imported.
        self.init_ms = (time.monotonic() - started) * 1000
        if message is not None:
            if message.get("error"):
                self.init_error = dict(message["error"], requestId="")
        return [*runtime_lines, *self._take_output("init")]

    def _environment(self, task_root: Path, paths: list[Path], credentials: Credentials) -> dict[str, str]:
        function = self.function
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            # boto3 inside the handler reaches local AWS, as it reaches AWS there: over TLS when
            # local AWS speaks it, so bucket policies on aws:SecureTransport treat it as on AWS.
            **_endpoint_environment(),
            # /tmp on AWS: a directory of this environment's own (tempfile and TMPDIR users get it).
            "TMPDIR": str(self.tmp_dir),
        }
        env.update({str(name): str(value) for name, value in (function.environment_vars or {}).items()})
        env.update(
            {
                "_HANDLER": function.handler,
                "AWS_REGION": function.region,
                "AWS_DEFAULT_REGION": function.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": self.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": self.log_group,
                "AWS_LAMBDA_LOG_FORMAT": function.logging_config["LogFormat"],
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "LAMBDA_TASK_ROOT": str(task_root),
                "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
                "AWS_ACCESS_KEY_ID": credentials.access_key_id,
                "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
                "AWS_SESSION_TOKEN": credentials.session_token,
                "_LOCAL_AWS_LAMBDA_PATHS": os.pathsep.join(str(path) for path in paths),
            }
        )
        if function.logging_config["LogFormat"] == "JSON":  # the runtime logs at the ApplicationLogLevel
            env["AWS_LAMBDA_LOG_LEVEL"] = function.logging_config["ApplicationLogLevel"]
        return env

    def kill(self) -> None:
        """Kill the worker and its process group (a running invocation then sees it exit)."""
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()

    def stop(self) -> None:
        """Kill the worker and release its pipes and temp directory (no invocation may be running)."""
        process = self.process
        self.kill()
        if process is not None:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log.warning("Lambda environment %s (pid %s) did not exit after SIGKILL", self.id, process.pid)
        # (The output reader closes the worker's stdout itself at end of file: closing it here could
        # block behind its read if a process that escaped the group still holds the pipe.)
        try:
            if self._requests is not None:
                self._requests.close()
        except OSError:
            pass
        if self._responses_fd is not None:
            try:
                os.close(self._responses_fd)
            except OSError:
                pass
            self._responses_fd = None
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # -- invocations --

    def invoke(self, request: dict, timeout_seconds: float) -> Outcome:
        started = time.monotonic()
        deadline = started + timeout_seconds
        try:
            self._requests.write(json.dumps(request).encode() + b"\n")
            message = self._read_message(deadline)
        except (EnvironmentDied, BrokenPipeError, OSError):
            duration = (time.monotonic() - started) * 1000
            return Outcome(
                "crash",
                self._exit_error(request["requestId"]),
                duration,
                self.max_rss_kb,
                self._take_output(None),
            )
        duration = (time.monotonic() - started) * 1000
        if message is None:
            self.kill()  # as AWS does: the environment is lost with whatever the handler was doing
            return Outcome("timeout", None, duration, self.max_rss_kb, self._take_output(None))
        self.max_rss_kb = max(self.max_rss_kb, message.get("maxRssKb", 0))
        return Outcome(
            message["type"], message["body"], duration, self.max_rss_kb, self._take_output(request["requestId"])
        )

    def _exit_error(self, request_id: str) -> dict:
        process = self.process
        try:
            code_ = process.wait(timeout=5) if process is not None else None
        except subprocess.TimeoutExpired:  # it closed its result pipe but lives on: end it
            self.kill()
            code_ = process.wait(timeout=5)
        status = f"signal: {signal.Signals(-code_).name}" if code_ is not None and code_ < 0 else f"exit status {code_}"
        prefix = f"RequestId: {request_id} Error: " if request_id else ""
        return {"errorType": "Runtime.ExitError", "errorMessage": f"{prefix}Runtime exited with error: {status}"}

    def _read_message(self, deadline: float) -> dict | None:
        """The worker's next message, None at the deadline; EnvironmentDied if its pipe closes."""
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._responses_fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._responses_fd, 1 << 20)
            if not chunk:
                raise EnvironmentDied()
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _read_output(self) -> None:
        stream = self.process.stdout
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                with self._cond:
                    if line.startswith(SEPARATOR):
                        self._markers.add(line[1:])
                    else:
                        # bootstrap.py writes a logging record's newlines as \r so it stays one event.
                        self._output.append((now_ms(), line.replace("\r", "\n")))
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        stream.close()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _take_output(self, tag: str | None, wait: float = OUTPUT_GRACE_SECONDS) -> list[tuple[int, str]]:
        """The output lines so far; with a tag, first wait for the worker's end-of-output marker."""
        with self._cond:
            if tag is not None:
                self._cond.wait_for(lambda: tag in self._markers or self._eof, timeout=wait)
                self._markers.discard(tag)
            elif wait:
                self._cond.wait_for(lambda: self._eof, timeout=wait)
            lines, self._output = self._output, []
            return lines

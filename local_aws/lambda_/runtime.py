"""Execution environments: where a function version's handler really runs, as on AWS.

One environment is one worker process (`python -u bootstrap.py`, see bootstrap.py) started with
the function's environment variables and its execution role's credentials, cwd = the task root
and TMPDIR = a temp directory of its own. It imports the handler once (Init: a cold start) and
then serves invocations one at a time, keeping module state between them (warm starts).

The pool keeps environments per function version:
- an invocation takes an idle environment of its version whose configuration is current, or
  starts a new one (up to settings.lambda_max_environments across all functions; beyond that an
  idle environment of another function is stopped, or the invocation waits for one);
- ReservedConcurrentExecutions caps a function's busy environments: beyond it Invoke is
  throttled (TooManyRequestsException, 429) as on AWS;
- a timeout or a crash kills the environment (the next invocation starts a fresh one); a
  handler's exception does not: AWS's Python runtime reports it and keeps serving, and so do we;
- code or configuration updates retire the function's environments (in-flight invocations finish
  first), idle environments are stopped after settings.lambda_idle_seconds, and /moto-api/reset
  or shutdown stops them all.

Every invocation's log (START, the handler's output, END, REPORT with Duration, Billed Duration,
Memory Size, Max Memory Used from the worker's peak RSS, Init Duration on cold starts) goes to
CloudWatch Logs group /aws/lambda/<name>, stream YYYY/MM/DD/[<version>]<environment id>, written
by a background thread so the log never slows an invocation down.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend, make_function_arn

from local_aws import clients, config
from local_aws.lambda_ import code, lifecycle
from local_aws.lambda_.invoke import InvokeError, InvokeResult
from local_aws.lambda_.platform_log import PlatformLog, Report

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
SEPARATOR = "\x1e"  # bootstrap.py writes SEPARATOR + tag on stdout when an invocation's output is complete
INIT_LIMIT_SECONDS = 10.0  # AWS's Init phase limit for on-demand functions
TAIL_BYTES = 4096  # LogType=Tail returns the last 4 KB of the log
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # Invoke's request and response payload limit (RequestResponse)
CREDENTIALS_SECONDS = 3600  # the role session of an environment; environments retire before it ends
MAX_ENVIRONMENT_AGE = CREDENTIALS_SECONDS - 600
OUTPUT_GRACE_SECONDS = 2.0  # how long to wait for an invocation's last output lines after its result


# ---- credentials ----


@dataclass
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires: float  # time.monotonic()


_credentials: dict[tuple, Credentials] = {}
_credentials_lock = threading.Lock()


def trusts_lambda(document) -> bool:
    """Whether a role's trust policy lets the Lambda service assume it (Allow statements only; no conditions)."""
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))

    def as_list(value) -> list:
        return value if isinstance(value, list) else [value]

    for statement in as_list((document or {}).get("Statement", [])):
        actions = as_list(statement.get("Action", []))
        if statement.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
            continue
        principal = statement.get("Principal", {})
        if principal == "*" or "lambda.amazonaws.com" in as_list(principal.get("Service", [])):
            return True
    return False


def role_credentials(function: LambdaFunction) -> Credentials:
    """Temporary credentials of the function's execution role (session name = function name), as AWS gives it.

    Taken with STS AssumeRole against local AWS, so whatever IAM enforcement local AWS applies
    to the role applies to the handler; cached until 10 minutes before they expire.
    """
    key = (function.account_id, function.region, function.role, function.function_name)
    with _credentials_lock:
        cached = _credentials.get(key)
        if cached is not None and cached.expires - time.monotonic() > 600:
            return cached

    def cannot_assume(reason: str) -> InvokeError:
        return InvokeError(
            "InvalidParameterValueException",
            f"The role defined for the function cannot be assumed by Lambda: function {function.function_name}, "
            f"role {function.role}: {reason}",
            400,
        )

    # moto's AssumeRole assumes any ARN; AWS's fails unless the role exists and trusts the caller (here Lambda).
    role_name = function.role.split(":role/", 1)[-1].rsplit("/", 1)[-1]
    try:
        role = clients.client("iam", function.region).get_role(RoleName=role_name)["Role"]
    except ClientError as error:
        raise cannot_assume(
            f"{error.response['Error']['Message']}; create the role, or update the function's Role"
        ) from None
    except BotoCoreError as error:
        raise cannot_assume(str(error)) from None
    if not trusts_lambda(role.get("AssumeRolePolicyDocument")):
        raise cannot_assume(
            "its trust policy does not allow lambda.amazonaws.com to sts:AssumeRole; add a statement "
            '{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}'
        )
    try:
        response = clients.client("sts", function.region).assume_role(
            RoleArn=function.role,
            RoleSessionName=function.function_name[:64].ljust(2, "_"),
            DurationSeconds=CREDENTIALS_SECONDS,
        )
    except (ClientError, BotoCoreError) as error:
        raise cannot_assume(f"AssumeRole failed: {error}") from None
    issued = response["Credentials"]
    credentials = Credentials(
        issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"], time.monotonic() + CREDENTIALS_SECONDS
    )
    with _credentials_lock:
        _credentials[key] = credentials
    return credentials


# ---- CloudWatch Logs ----


@dataclass
class LogBatch:
    generation: int
    region: str
    group: str
    stream: str
    events: list[tuple[int, str]]  # (epoch milliseconds, message)


class LogShipper:
    """Writes invocation logs to CloudWatch Logs in the background, in order."""

    def __init__(self):
        self.generation = 0  # bumped by /moto-api/reset: batches of a forgotten world are dropped
        self._queue: queue.Queue = queue.Queue()
        self._known: set[tuple] = set()  # (generation, region, group, stream) created already
        self._clients: dict = {}  # region -> logs client (only this thread uses them)
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name="lambda-log-shipper", daemon=True)
        self._thread.start()

    def ship(self, generation: int, region: str, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Queue an environment's log events; generation: the shipper's when the environment started.
        After stop() (local AWS shut down) they are dropped."""
        if self._stopped:
            return
        self._queue.put(LogBatch(generation, region, group, stream, events))

    def reset(self) -> None:
        self.generation += 1

    def flush(self, timeout: float = 10.0) -> None:
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def stop(self) -> None:
        if self._stopped:
            return
        self.flush()
        self._stopped = True
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            if item.generation != self.generation:
                continue
            try:
                self._write(item)
            except Exception:
                if item.generation != self.generation:  # /moto-api/reset raced with the write: nothing lost
                    continue
                log.exception("could not write the Lambda log stream %s %s", item.group, item.stream)

    def _write(self, batch: LogBatch) -> None:
        logs = self._clients.get(batch.region)
        if logs is None:
            logs = self._clients[batch.region] = clients.client("logs", batch.region)
        key = (batch.generation, batch.region, batch.group, batch.stream)
        if key not in self._known:
            for create in (
                lambda: logs.create_log_group(logGroupName=batch.group),
                lambda: logs.create_log_stream(logGroupName=batch.group, logStreamName=batch.stream),
            ):
                try:
                    create()
                except logs.exceptions.ResourceAlreadyExistsException:
                    pass
            self._known = {known for known in self._known if known[0] == batch.generation} | {key}
        events = [{"timestamp": ms, "message": message} for ms, message in batch.events if message]
        for start in range(0, len(events), 10_000):
            logs.put_log_events(
                logGroupName=batch.group, logStreamName=batch.stream, logEvents=events[start : start + 10_000]
            )


def _now_ms() -> int:
    return int(time.time() * 1000)


# ---- execution environments ----


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
        credentials = role_credentials(function)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        env = self._environment(task_root, paths, credentials)
        env["_LOCAL_AWS_LAMBDA_FDS"] = f"{request_read},{response_write}"
        started_ms = _now_ms()
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
                        self._output.append((_now_ms(), line.replace("\r", "\n")))
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


class Pool:
    """All execution environments of this server."""

    def __init__(self):
        self._cond = threading.Condition()
        self._environments: list[Environment] = []
        self._closed = False
        self._reaper = threading.Thread(target=self._reap, name="lambda-env-reaper", daemon=True)
        self._reaper.start()

    def acquire(self, function: LambdaFunction) -> tuple[Environment, bool, list[tuple[int, str]]]:
        """An environment for one invocation: (environment, cold start?, Init log lines)."""
        key, current = environment_key(function), fingerprint(function)
        to_stop: list[Environment] = []
        # Wait for a free environment at most as long as the function may run (a handler invoking
        # another function synchronously must not wait forever for an environment it holds).
        waited_seconds = max(float(function.timeout), 3.0)
        give_up = time.monotonic() + waited_seconds
        try:
            with self._cond:
                while True:
                    if self._closed:
                        raise InvokeError("ServiceException", "local AWS is shutting down", 503)
                    self._check_reserved_concurrency(function)
                    stale = [env for env in self._environments if env.key == key and env.fingerprint != current]
                    for env in stale:
                        to_stop += self._retire(env)
                    idle = [
                        env
                        for env in self._environments
                        if env.key == key
                        and not env.busy
                        and not env.retired
                        and env.alive
                        and time.monotonic() - env.created < MAX_ENVIRONMENT_AGE
                        and time.monotonic() - env.last_used <= config.settings.lambda_idle_seconds  # else being reaped
                    ]
                    if idle:
                        env = max(idle, key=lambda candidate: candidate.last_used)
                        env.busy = True
                        cold = False
                        break
                    if len(self._environments) < config.settings.lambda_max_environments:
                        env = Environment(function)
                        self._environments.append(env)
                        cold = True
                        break
                    others_idle = [env for env in self._environments if not env.busy]
                    if others_idle:
                        to_stop += self._retire(min(others_idle, key=lambda candidate: candidate.last_used))
                        continue
                    if time.monotonic() > give_up:
                        raise InvokeError(
                            "TooManyRequestsException",
                            f"Rate Exceeded. All {config.settings.lambda_max_environments} execution environments of "
                            f"local AWS stayed busy for {waited_seconds:g} s; raise --lambda-max-environments",
                            429,
                        )
                    self._cond.wait(timeout=1.0)
        finally:
            # Retired on the way (stale or evicted): stopped even when no environment was found.
            for old in to_stop:
                old.stop()
        if not cold:
            return env, False, []
        try:
            lines = env.start()
        except BaseException:
            self.release(env, keep=False)
            raise
        return env, True, lines

    def _check_reserved_concurrency(self, function: LambdaFunction) -> None:
        reserved = function.reserved_concurrency
        if reserved is None:
            return
        busy = sum(
            1
            for env in self._environments
            if env.busy and env.key[:3] == (function.account_id, function.region, function.function_name)
        )
        if busy >= int(reserved):
            raise InvokeError(
                "TooManyRequestsException",
                f"Rate Exceeded. Function {function.function_name} has ReservedConcurrentExecutions {reserved} and "
                f"{busy} invocation(s) running",
                429,
            )

    def _retire(self, env: Environment) -> list[Environment]:
        """Mark env retired; returns it (to stop outside the lock) when idle, else its invocation stops it."""
        env.retired = True
        if env.busy:
            return []
        self._environments.remove(env)
        return [env]

    def release(self, env: Environment, keep: bool) -> None:
        with self._cond:
            env.busy = False
            env.last_used = time.monotonic()
            stop = not keep or env.retired or not env.alive or self._closed
            if stop and env in self._environments:
                self._environments.remove(env)
            self._cond.notify_all()
        if stop:
            env.stop()

    def retire(self, predicate, kill_busy: bool = False) -> None:
        """Retire every environment predicate(env) selects; kill_busy stops running invocations too."""
        with self._cond:
            chosen = [env for env in self._environments if predicate(env)]
            to_stop, to_kill = [], []
            for env in chosen:
                if kill_busy and env.busy:
                    env.retired = True
                    to_kill.append(env)  # its invocation sees the worker exit, then releases and stops it
                else:
                    to_stop += self._retire(env)
            self._cond.notify_all()
        for env in to_kill:
            env.kill()
        for env in to_stop:
            env.stop()

    def environments(self) -> list[Environment]:
        with self._cond:
            return list(self._environments)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            everything, self._environments = self._environments, []
            self._cond.notify_all()
        for env in everything:
            env.stop()

    def _reap(self) -> None:
        while True:
            time.sleep(min(1.0, max(config.settings.lambda_idle_seconds / 4, 0.05)))
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                expired = [
                    env
                    for env in self._environments
                    if not env.busy
                    and (
                        now - env.last_used > config.settings.lambda_idle_seconds
                        or now - env.created > MAX_ENVIRONMENT_AGE
                    )
                ]
                for env in expired:
                    self._environments.remove(env)
            for env in expired:
                env.stop()


# ---- invocations ----

_pool: Pool | None = None
_shipper: LogShipper | None = None
# After shutdown() the closed pool and stopped shipper stay in place, so an invocation still running then
# releases its environment to a closed pool (which stops it) and its logs are dropped: nothing restarts.
_closed = False
_singletons_lock = threading.Lock()
_SHUTTING_DOWN = ("ServiceException", "local AWS is shutting down", 503)


def pool() -> Pool:
    global _pool
    with _singletons_lock:
        if _pool is None:
            if _closed:
                raise InvokeError(*_SHUTTING_DOWN)
            _pool = Pool()
        return _pool


def shipper() -> LogShipper:
    global _shipper
    with _singletons_lock:
        if _shipper is None:
            if _closed:
                raise InvokeError(*_SHUTTING_DOWN)
            _shipper = LogShipper()
        return _shipper


def resolve(function: LambdaFunction, qualifier: str | None) -> tuple[LambdaFunction, str]:
    """(the function version that runs, the ARN it was invoked by); during an update, the version before it."""
    if not qualifier:
        return lifecycle.serving(function), function.function_arn
    target = get_backend(function.account_id, function.region).get_function(function.function_name, qualifier)
    invoked = f"{make_function_arn(function.region, function.account_id, function.function_name)}:{qualifier}"
    return lifecycle.serving(target), invoked


def check_payload(payload: bytes, limit: int = MAX_SYNC_PAYLOAD) -> str:
    """The payload as JSON text ('{}' when empty); InvokeError when AWS would reject it."""
    if len(payload) > limit:
        raise InvokeError(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            413,
        )
    text = payload.decode("utf-8", "replace") if payload else "{}"
    if not text.strip():
        return "{}"
    try:
        json.loads(text)
    except ValueError as error:
        raise InvokeError(
            "InvalidRequestContentException", f"Could not parse request body into json: {error}", 400
        ) from None
    return text


def _decode_client_context(client_context: str | None) -> dict | None:
    if not client_context:
        return None
    import base64

    try:
        return json.loads(base64.b64decode(client_context))
    except ValueError:
        raise InvokeError(
            "InvalidRequestContentException", "Client context must be a base64-encoded JSON object", 400
        ) from None


def invoke(
    function: LambdaFunction, payload: bytes, *, qualifier: str | None, client_context: str | None, request_id: str
) -> InvokeResult:
    """See local_aws.lambda_.invoke.invoke."""
    target, invoked_arn = resolve(function, qualifier)
    code.check_runtime(target)
    event = check_payload(payload)
    context = _decode_client_context(client_context)
    env, cold, init_lines = pool().acquire(target)
    version = str(target.version)
    started_ms = _now_ms()
    timeout = float(target.timeout)
    keep = False
    try:
        if env.init_error is not None:
            # AWS reports a failed Init on the invocation that needed it; the next one tries Init again.
            outcome = Outcome("error", env.init_error, 0.0, 0)
        else:
            request = {
                "requestId": request_id,
                "payload": event,
                "invokedFunctionArn": invoked_arn,
                "deadlineMs": started_ms + int(timeout * 1000),
                "clientContext": context,
            }
            outcome = env.invoke(request, timeout)
            # A timeout or crash loses the environment; a handler's exception does not (AWS's runtime survives it).
            keep = outcome.kind in ("result", "error")
    finally:
        pool().release(env, keep=keep)

    end_ms = _now_ms()
    if env.init_error is not None:
        body, status, error_type = env.init_error, "error", env.init_error["errorType"]
    elif outcome.kind == "timeout":
        body = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
        }
        status, error_type = "timeout", "Sandbox.Timedout"
    elif outcome.kind == "crash":
        body, status, error_type = outcome.body, "failure", "Runtime.ExitError"
    elif outcome.kind == "error":
        body, status, error_type = outcome.body, "error", outcome.body["errorType"]
    else:
        body, status, error_type = outcome.body, "success", None
    # Since August 2025 AWS bills the Init phase of on-demand functions too.
    billed = math.ceil(outcome.duration_ms + ((env.init_ms or 0) if cold else 0))
    report = Report(
        request_id=request_id,
        duration_ms=outcome.duration_ms,
        billed_ms=billed,
        memory_mb=target.memory_size,
        max_memory_mb=math.ceil(outcome.max_rss_kb / 1024),
        init_ms=env.init_ms if cold else None,
        status=status,
        error_type=error_type,
        init_failed=env.init_error is not None,
    )
    platform = env.platform
    events = list(init_lines)
    if env.init_error is not None:
        events += platform.init_failed(started_ms, env.init_ms, error_type)
    events += platform.start(started_ms, request_id, version)
    events += outcome.lines
    if outcome.kind == "timeout":
        events += platform.timed_out(end_ms, request_id, timeout)
    events += platform.end(end_ms, report) + platform.report(end_ms, report)
    shipper().ship(env.generation, target.region, env.log_group, env.log_stream, events)

    if outcome.kind == "result":
        response, function_error = outcome.body.encode(), None
        if len(response) > MAX_SYNC_PAYLOAD:
            response = json.dumps(
                {
                    "errorMessage": f"Response payload size ({len(response)} bytes) exceeded maximum allowed payload "
                    f"size ({MAX_SYNC_PAYLOAD} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge",
                }
            ).encode()
            function_error = "Unhandled"
    else:
        response, function_error = json.dumps(body).encode(), "Unhandled"
    first = 0 if env.init_error is not None else len(init_lines)  # a failed Init is part of the invocation
    tail = "".join(message + "\n" for _, message in events[first:]).encode()[-TAIL_BYTES:]
    return InvokeResult(
        request_id=request_id,
        status_code=200,
        payload=response,
        function_error=function_error,
        log_tail=tail.decode("utf-8", "ignore"),
        executed_version=version,
    )


def retire_function(function: LambdaFunction) -> None:
    """Code or configuration changed: the function's environments finish what they run, then stop."""
    name = (function.account_id, function.region, function.function_name)
    pool().retire(lambda env: env.key[:3] == name)


def reset_backend(account_id: str, region: str) -> None:
    """/moto-api/reset: stop every environment of that backend now, drop its pending logs and credentials."""
    if _pool is not None:
        _pool.retire(lambda env: env.key[:2] == (account_id, region), kill_busy=True)
    if _shipper is not None:
        _shipper.reset()
    with _credentials_lock:
        for key in [key for key in _credentials if key[:2] == (account_id, region)]:
            del _credentials[key]


def quiesce() -> None:
    """Before /moto-api/reset: kill every environment and let the log writer finish what it is writing,
    so nothing of the old world (an environment, a late log batch) reaches the new one."""
    if _shipper is not None:
        _shipper.reset()
    if _pool is not None:
        _pool.retire(lambda env: True, kill_busy=True)
    if _shipper is not None:
        _shipper.flush()
    with _credentials_lock:
        _credentials.clear()


def reopen() -> None:
    """install(): the server starts again in this process, so the next invocation gets a new pool and shipper."""
    global _pool, _shipper, _closed
    with _singletons_lock:
        if _closed:
            _pool = _shipper = None
            _closed = False


def shutdown() -> None:
    global _closed
    with _singletons_lock:
        _closed = True
        pool_, shipper_ = _pool, _shipper
    if pool_ is not None:
        pool_.close()
    if shipper_ is not None:
        shipper_.stop()

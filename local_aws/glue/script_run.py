"""One Glue job run inside the warm Spark driver: fetch the script, set Glue's argv, run it isolated.

Isolation per run: its own SparkSession (spark.newSession(): own SQL conf, temp views, UDFs),
sys.argv, sys.path, working and temp directory, environment, root logging handlers, and the
modules it imported from its own files. Shared with later runs (documented): the SparkContext,
its Hadoop configuration and anything a script changes in the interpreter beyond the above.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from local_aws import clients
from local_aws.glue import bookmarks, run_logs

MAX_ERROR_MESSAGE = 2000
EXTRA_PY_SUFFIXES = (".py", ".zip", ".whl")


@dataclass(frozen=True)
class RunRequest:
    run_id: str
    job_name: str
    job_id: str
    script_location: str
    arguments: dict[str, str]  # DefaultArguments merged with the run's Arguments (run wins)
    region: str
    glue_version: str = "6.0"  # the job's GlueVersion (AWS's default when a job names none); decides where logs go
    bookmark: dict[str, dict] = field(default_factory=dict)  # the job's saved bookmark: transformation_ctx -> state
    clock_offset_seconds: float = 0.0  # local AWS's clock minus real time (S3's LastModified is clock time)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    state: str  # SUCCEEDED | FAILED | TIMEOUT | STOPPED
    error_message: str | None = None
    driver_exits: bool = False  # the run left Spark unusable: the driver exits after replying
    bookmark: dict[str, dict] | None = None  # what Job.commit() saved (job-bookmark-enable); None: keep the old


def glue_argv(script_path: str, request: RunRequest) -> list[str]:
    """sys.argv as Glue builds it: the script, Glue's ids, then every job argument as `--key value`."""
    argv = [script_path, "--JOB_NAME", request.job_name, "--JOB_ID", request.job_id, "--JOB_RUN_ID", request.run_id]
    for key, value in request.arguments.items():
        argv += [key, value]
    return argv


def error_summary(error: BaseException) -> str:
    """'ExceptionType: message' for ErrorMessage; Java errors by their Java class and message only."""
    message = str(error)
    java_exception = getattr(error, "java_exception", None)  # py4j's error text holds the whole Java stack
    if java_exception is not None:
        try:
            message = java_exception.toString()
        except Exception:
            message = message.strip().splitlines()[0] if message.strip() else message
    return f"{type(error).__name__}: {message}".strip()[:MAX_ERROR_MESSAGE]


class _InterpreterState:
    """What a run may change in the driver's interpreter, captured before and restored after it."""

    def __init__(self):
        self.argv, self.path, self.cwd = list(sys.argv), list(sys.path), os.getcwd()
        self.environ, self.tempdir = dict(os.environ), tempfile.tempdir
        self.modules = set(sys.modules)
        self.stdout, self.stderr = sys.stdout, sys.stderr
        root = logging.getLogger()
        self.log_handlers, self.log_level = list(root.handlers), root.level

    def restore(self, run_dir: Path) -> None:
        sys.stdout, sys.stderr = self.stdout, self.stderr
        sys.argv[:], sys.path[:] = self.argv, self.path
        os.chdir(self.cwd)
        os.environ.clear()
        os.environ.update(self.environ)
        tempfile.tempdir = self.tempdir
        root = logging.getLogger()
        root.handlers[:] = self.log_handlers
        root.setLevel(self.log_level)
        # Forget the run's own modules (script dir, --extra-py-files) so the next run imports its versions.
        for name in set(sys.modules) - self.modules:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if origin.startswith(str(run_dir)):
                del sys.modules[name]


def _use_session(session) -> None:
    """Make `session` what SparkSession.builder.getOrCreate() and getActiveSession() return."""
    from pyspark.sql import SparkSession, SQLContext

    SparkSession._instantiatedSession = session
    SparkSession._activeSession = session
    SQLContext._instantiatedContext = None
    session._jvm.SparkSession.setDefaultSession(session._jsparkSession)
    session._jvm.SparkSession.setActiveSession(session._jsparkSession)


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


_s3_clients: dict[str, object] = {}


def _s3(region: str):
    """One S3 client per region for the driver's life: a new boto3 client per run costs more than the downloads."""
    if region not in _s3_clients:
        _s3_clients[region] = clients.client("s3", region)
    return _s3_clients[region]


def _download(s3, uri: str, folder: Path, what: str) -> Path:
    try:
        bucket, key = clients.split_s3_uri(uri)
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(key).name
    try:
        # One GetObject: download_file's transfer manager adds a HEAD and a thread pool, for files of kilobytes.
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        with open(target, "wb") as file:
            shutil.copyfileobj(body, file)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        raise FileNotFoundError(
            f"{what} {uri} cannot be read from local S3 ({code}); upload it or fix the job"
        ) from None
    return target


def _driver_log(session, level: str, message: str) -> None:
    """A line of local AWS's own in the driver's log4j log (logger LocalAWS), which goes where AWS's system lines go."""
    getattr(session._jvm.org.apache.logging.log4j.LogManager.getLogger("LocalAWS"), level)(message)


def _apply_spark_conf(session, conf: str | None) -> None:
    """--conf 'k=v --conf k2=v2': set what a running driver can change, warn about the rest."""
    for item in re.split(r"\s*--conf\s+", (conf or "").strip()):
        key, sep, value = item.partition("=")
        if not sep:
            continue
        try:
            session.conf.set(key.strip(), value.strip())
        except Exception as error:
            _driver_log(session, "warn", f"--conf {key.strip()} is ignored: the warm driver cannot change it ({error})")


def _prepare(request: RunRequest, run_dir: Path, session) -> Path:
    """Download the script and extra files, then set argv, sys.path, cwd and temp dir for the run."""
    s3 = _s3(request.region)
    script = _download(s3, request.script_location, run_dir, "the job's Command.ScriptLocation")
    py_dir = run_dir / "py"
    for uri in _split(request.arguments.get("--extra-py-files")):
        if not uri.endswith(EXTRA_PY_SUFFIXES):
            raise ValueError(f"--extra-py-files: {uri} is not a {', '.join(EXTRA_PY_SUFFIXES)} file")
        local = _download(s3, uri, py_dir, "--extra-py-files")
        sys.path.insert(0, str(py_dir if local.suffix == ".py" else local))
    for uri in _split(request.arguments.get("--extra-files")):
        _download(s3, uri, run_dir, "--extra-files")
    if request.arguments.get("--additional-python-modules"):
        _driver_log(
            session,
            "warn",
            "--additional-python-modules is not installed at run time; the modules must already be in the "
            "local AWS virtualenv",
        )
    _apply_spark_conf(session, request.arguments.get("--conf"))
    sys.path.insert(0, str(run_dir))
    sys.argv[:] = glue_argv(str(script), request)
    (run_dir / "tmp").mkdir()
    os.chdir(run_dir)
    tempfile.tempdir = str(run_dir / "tmp")
    return script


def _script_traceback(error: BaseException, run_id: str) -> str:
    """The traceback from the script's first frame on (the driver's own frames say nothing to the user)."""
    frames = error.__traceback__
    while frames is not None and run_id not in frames.tb_frame.f_code.co_filename:
        frames = frames.tb_next
    return "".join(traceback.format_exception(type(error), error, frames or error.__traceback__))


def _spark_usable(spark) -> bool:
    try:
        return not spark.sparkContext._jsc.sc().isStopped()
    except Exception:  # stopped context (_jsc is None) or a dead JVM
        return False


def execute(spark, request: RunRequest, interrupter, runs_dir: Path, driver_log: Path) -> RunResult:
    """Run one job script on a new session of `spark`; never raises, always reports an outcome.

    `driver_log` is the file log4j appends the driver's log to (spark_worker.log4j_properties).
    """
    started = time.monotonic()
    run_dir = runs_dir / request.run_id
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    saved = _InterpreterState()
    logs = run_logs.RunLogs(request.run_id, request.glue_version, request.arguments, request.region, driver_log)
    run_logs.begin(logs)
    state, message = "SUCCEEDED", None
    interrupter.begin(request.run_id)
    bookmarks.begin(request.arguments, request.bookmark, request.region, request.clock_offset_seconds)
    try:
        sys.stdout, sys.stderr = logs.output, logs.error
        spark.sparkContext.setLogLevel("INFO")  # the driver log's level, whatever an earlier run set
        os.environ.update(AWS_REGION=request.region, AWS_DEFAULT_REGION=request.region)
        session = spark.newSession()
        _use_session(session)
        script = _prepare(request, run_dir, session)
        interrupter.run_script(script)
    except SystemExit as exit_:
        if interrupter.reason:
            state = interrupter.reason
        elif exit_.code not in (None, 0):
            print(f"SystemExit: {exit_.code!r}", file=sys.stderr)
            state, message = "FAILED", f"SystemExit: the script exited with code {exit_.code!r}"
    except BaseException as error:
        if interrupter.reason:  # local AWS stopped it: where the script was goes to the driver log, not its stderr
            state, message = interrupter.reason, None
            try:
                _driver_log(spark, "warn", _script_traceback(error, request.run_id).rstrip())
            except Exception:
                pass
        else:  # an uncaught exception: Python prints its traceback to stderr
            print(_script_traceback(error, request.run_id), end="", file=sys.stderr)
            state, message = "FAILED", error_summary(error)
    finally:
        interrupter.end()
        committed = bookmarks.end()
        saved.restore(run_dir)
        if _spark_usable(spark):
            _use_session(spark)
        run_logs.end()
        logs.close()
        shutil.rmtree(run_dir, ignore_errors=True)
    usable = _spark_usable(spark)
    if usable:
        spark.catalog.clearCache()  # the cache is shared by all sessions
    print(f"run {request.run_id} of {request.job_name}: {state} in {time.monotonic() - started:.2f} s", flush=True)
    return RunResult(request.run_id, state, message, driver_exits=not usable, bookmark=committed)

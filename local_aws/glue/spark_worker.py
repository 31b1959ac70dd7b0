"""The warm Spark driver: one long-lived process that holds a SparkSession and runs Glue job scripts.

The server starts it lazily (SparkWorker: a subprocess) and talks to it over a socket pair:
  server -> driver: ("run", RunRequest) | ("cancel", run_id, reason) | ("exit",)
  driver -> server: ("ready", None) | ("start_failed", message) | ("finished", RunResult)
Scripts run one at a time in the driver's main thread, so each run gets its own sys.argv and a
signal can interrupt it; a control thread reads the pipe meanwhile and handles cancels. A
script that kills the process (os._exit, a JVM crash) only loses this driver: the server sees
the process gone, fails the run and starts a fresh driver for the next one.
"""

from __future__ import annotations

import hashlib
import os
import queue
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from multiprocessing.connection import Connection
from pathlib import Path

from local_aws import clients, config
from local_aws.glue import script_run
from local_aws.glue.script_run import RunRequest, RunResult

REQUIRED_JARS = ("hadoop-aws-3.3.1.jar", "aws-java-sdk-bundle-1.11.901.jar")
RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"  # the local `awsglue` package
JVM_SOURCES = RUNTIME_DIR / "jvm"  # Java classes of local AWS's own, compiled when the driver starts
COMMIT_PROTOCOL = "localaws.glue.DirectWriteCommitProtocol"
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds local_aws/
STARTUP_TIMEOUT_SECONDS = 300
CANCEL_SIGNAL = signal.SIGUSR1
S3A = "org.apache.hadoop.fs.s3a.S3AFileSystem"


class DriverStartError(RuntimeError):
    """The Spark driver could not start; the message says why and what to do."""


class RunInterrupted(BaseException):
    """Raised in a script that is stopped (TIMEOUT/STOPPED); a BaseException, so `except Exception` lets it pass."""

    def __init__(self, reason: str):
        super().__init__(f"local AWS interrupted this job run ({reason})")
        self.reason = reason


def driver_dir(settings: config.Settings) -> Path:
    return settings.work_dir / "glue"


def driver_log_path(settings: config.Settings) -> Path:
    return driver_dir(settings) / "spark-driver.log"


def run_log_path(settings: config.Settings) -> Path:
    """The file log4j appends the driver's log to at INFO; each run sends what it wrote to CloudWatch (run_logs.py)."""
    return driver_dir(settings) / "run-driver-log4j.log"


def log4j_properties(settings: config.Settings) -> str:
    """log4j2 configuration of the driver JVM: Spark's default levels and pattern (also continuous logging's
    default conversion pattern), INFO into run_log_path, WARN and above to the console (spark-driver.log)."""
    pattern = "%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex"
    return f"""\
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
rootLogger.appenderRef.run.ref = run
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = {pattern}
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = warn
appender.run.type = File
appender.run.name = run
appender.run.fileName = {run_log_path(settings)}
appender.run.append = true
appender.run.layout.type = PatternLayout
appender.run.layout.pattern = {pattern}
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
logger.parquet1.name = org.apache.parquet
logger.parquet1.level = error
logger.parquet2.name = parquet
logger.parquet2.level = error
"""


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    return str(Path(java_home) / "bin" / "java") if java_home else "java"


def build_local_jar(settings: config.Settings) -> Path | None:
    """The jar of local AWS's own Java classes (JVM_SOURCES), compiled once per source version; None if it cannot be.

    Compiled with Janino, the compiler Spark itself ships, so a JRE is enough (no javac). The jar's
    name carries a hash of the sources and of Spark's version, so a changed class is compiled again.
    """
    import pyspark

    sources = sorted(JVM_SOURCES.rglob("*.java"))
    digest = hashlib.sha256(pyspark.__version__.encode())
    for source in sources:
        digest.update(source.relative_to(JVM_SOURCES).as_posix().encode() + b"\0" + source.read_bytes())
    jar = driver_dir(settings) / f"local-aws-glue-{digest.hexdigest()[:16]}.jar"
    if jar.is_file():
        return jar
    spark_jars = Path(pyspark.__file__).parent / "jars"
    janino = [str(next(spark_jars.glob(f"{name}-*.jar"))) for name in ("janino", "commons-compiler")]
    classes = Path(tempfile.mkdtemp(prefix="jvm-classes-", dir=driver_dir(settings)))
    try:
        compiled = subprocess.run(
            [_java(), "-cp", os.pathsep.join(janino), "org.codehaus.commons.compiler.samples.CompilerDemo",
             "-d", str(classes), "-classpath", os.pathsep.join(str(j) for j in sorted(spark_jars.glob("*.jar"))),
             *map(str, sources)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        failure = None if compiled.returncode == 0 else compiled.stdout + compiled.stderr
    except (OSError, subprocess.TimeoutExpired) as error:
        failure = str(error)
    if failure is not None or not any(classes.rglob("*.class")):
        shutil.rmtree(classes, ignore_errors=True)
        print(f"could not compile {JVM_SOURCES}, so S3 output is renamed into place: {failure}", flush=True)
        return None
    partial = jar.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for file in sorted(classes.rglob("*.class")):
            archive.write(file, file.relative_to(classes).as_posix())
    partial.replace(jar)
    shutil.rmtree(classes, ignore_errors=True)
    return jar


def spark_conf(settings: config.Settings, local_jar: Path | None = None) -> dict[str, str]:
    """The driver's Spark configuration: local[2], quiet, s3:// and s3a:// through S3A on local S3.

    With `local_jar` (build_local_jar), output to S3 is written in place (DirectWriteCommitProtocol);
    without it, Spark's FileOutputCommitter writes under _temporary/ and renames (the same objects, slower).
    """
    work = driver_dir(settings)
    jars = [settings.spark_jars_dir / jar for jar in REQUIRED_JARS] + ([local_jar] if local_jar else [])
    direct = {"spark.sql.sources.commitProtocolClass": COMMIT_PROTOCOL} if local_jar else {}
    return {
        "spark.master": "local[2]",
        "spark.app.name": "local-aws-glue",
        "spark.jars": ",".join(map(str, jars)),
        **direct,
        "spark.driver.memory": "4g",
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.local.dir": str(work / "spark-local"),
        "spark.sql.warehouse.dir": str(work / "spark-warehouse"),
        "spark.hadoop.fs.s3.impl": S3A,
        "spark.hadoop.fs.s3a.impl": S3A,
        "spark.hadoop.fs.s3a.endpoint": settings.endpoint_url,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        "spark.hadoop.fs.s3a.access.key": clients.ACCESS_KEY,
        "spark.hadoop.fs.s3a.secret.key": clients.SECRET_KEY,
        # Algorithm 2 commits task output in place: fewer S3 copies than v1's job-level rename.
        "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version": "2",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={work / 'log4j2.properties'}",
    }


def check_jars(settings: config.Settings) -> None:
    missing = [jar for jar in REQUIRED_JARS if not (settings.spark_jars_dir / jar).is_file()]
    if missing:
        raise DriverStartError(
            f"Spark's S3A jars {', '.join(missing)} are missing from {settings.spark_jars_dir}; "
            "run `make install` to fetch them (or point LOCAL_AWS_SPARK_JARS at a folder that has them)"
        )


class SparkWorker:
    """The server's handle on one driver process."""

    def __init__(self, settings: config.Settings):
        self.settings = settings
        self.log_path = driver_log_path(settings)
        self._process: subprocess.Popen | None = None
        self._conn = None

    def start(self) -> None:
        """Start the driver and wait until its SparkSession is up; DriverStartError if it cannot."""
        check_jars(self.settings)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # A subprocess rather than multiprocessing's spawn, which would re-import the server's __main__.
        ours, theirs = socket.socketpair()
        with theirs, open(self.log_path, "ab") as log_file:
            self._process = subprocess.Popen(
                [sys.executable, "-c", "from local_aws.glue.spark_worker import main; main()", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
                env={
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")])),
                },
            )
        self._conn = Connection(ours.detach())
        self._conn.send(self.settings)
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            message = self._receive(0.5)
            if message and message[0] == "ready":
                return
            if message or not self.alive:
                detail = message[1] if message else f"it exited with code {self.exitcode}"
                self.kill()
                raise DriverStartError(f"the Spark driver failed to start: {detail}; see {self.log_path}")
        self.kill()
        raise DriverStartError(
            f"the Spark driver did not start within {STARTUP_TIMEOUT_SECONDS} s; see {self.log_path}"
        )

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def exitcode(self) -> int | None:
        return self._process.poll() if self._process else None

    def run(self, request: RunRequest) -> None:
        self._send(("run", request))

    def cancel(self, run_id: str, reason: str) -> None:
        self._send(("cancel", run_id, reason))

    def result(self, timeout: float) -> RunResult | None:
        message = self._receive(timeout)
        return message[1] if message and message[0] == "finished" else None

    def _send(self, message) -> None:
        try:
            self._conn.send(message)
        except (OSError, ValueError):  # the driver is gone; the caller notices through `alive`
            pass

    def _receive(self, timeout: float):
        try:
            return self._conn.recv() if self._conn.poll(timeout) else None
        except (EOFError, OSError):
            return None

    def stop(self, timeout: float = 15) -> None:
        if self.alive:
            self._send(("exit",))
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def kill(self) -> None:
        if self.alive:
            self._process.kill()
            self._process.wait(10)
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# ---- inside the driver process ----


def _inside_py4j(frame) -> bool:
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("py4j"):
            return True
        frame = frame.f_back
    return False


class RunInterrupter:
    """Stops the running script on a cancel: cancels its Spark jobs, then raises RunInterrupted in it.

    The exception is raised only outside py4j calls: raising inside one would leave the Java
    gateway connection mid-reply. Cancelling the Spark jobs makes a blocking call return.
    """

    def __init__(self, spark_context):
        self._spark_context = spark_context
        self._main_thread = threading.main_thread().ident
        self.run_id: str | None = None
        self.reason: str | None = None
        self._in_script = False

    def begin(self, run_id: str) -> None:
        self.run_id, self.reason = run_id, None

    def end(self) -> None:
        self.run_id, self._in_script = None, False

    def run_script(self, path: Path) -> None:
        self._in_script = True
        try:
            if self.reason:
                raise RunInterrupted(self.reason)
            runpy.run_path(str(path), run_name="__main__")
        finally:
            self._in_script = False

    def cancel(self, run_id: str, reason: str) -> None:
        if run_id != self.run_id or self.reason:
            return
        self.reason = reason
        threading.Thread(target=self._interrupt, args=(run_id,), name="interrupt", daemon=True).start()

    def _interrupt(self, run_id: str) -> None:
        while self.run_id == run_id:
            try:
                self._spark_context.cancelAllJobs()  # runs go one at a time: every job is this run's
            except Exception:
                pass
            signal.pthread_kill(self._main_thread, CANCEL_SIGNAL)
            time.sleep(0.5)

    def on_signal(self, signum, frame) -> None:
        if self.reason and self._in_script and not _inside_py4j(frame):
            raise RunInterrupted(self.reason)


def _reuse_warm_context() -> None:
    """Let `SparkContext()` in a script return the warm context, as getOrCreate() does.

    Glue scripts often call SparkContext(); on AWS each run has a fresh driver, here a second
    context in the same JVM would fail with "Cannot run multiple SparkContexts at once".
    """
    from pyspark import SparkContext

    original_init = SparkContext.__init__

    def new(cls, *args, **kwargs):
        return SparkContext._active_spark_context or object.__new__(cls)

    def init(self, *args, **kwargs):
        if self is not SparkContext._active_spark_context:
            original_init(self, *args, **kwargs)

    SparkContext.__new__ = staticmethod(new)
    SparkContext.__init__ = init


PRIME_ROWS = 20_000


def _prime(spark, settings: config.Settings) -> None:
    """Run a small ETL job now (CSV in; cache, filter; partitioned Parquet and JSON out) and touch S3A.

    The first job runs then neither load these classes nor run Spark's hot paths in the JVM's
    interpreter: a Glue job run right after start took about twice as long as the third.
    Local files only: the driver leaves nothing in local S3.
    """
    scratch = f"file://{driver_dir(settings) / 'prime'}"
    session = spark.newSession()
    generated = session.range(PRIME_ROWS).selectExpr(
        "cast(2013 as string) as year", "cast(id % 12 + 1 as string) as month", "cast(id % 28 + 1 as string) as day",
        "cast(id % 2400 as string) as minute", "concat('N', id % 977) as code",
        "cast(timestamp'2013-01-01 00:00:00' + make_interval(0, 0, 0, 0, 0, id % 600, 0) as string) as at",
    )  # fmt: skip
    generated.write.mode("overwrite").option("header", "true").csv(f"{scratch}/csv")
    raw = session.read.option("header", "true").schema(generated.schema).csv(f"{scratch}/csv")
    typed = raw.selectExpr(
        "cast(year as int) as year", "cast(month as int) as month", "cast(day as int) as day",
        "cast(trim(minute) as int) as minute", "nullif(trim(code), '') as code",
        "try_to_timestamp(at, 'yyyy-MM-dd HH:mm:ss') as at",
    ).cache()  # fmt: skip
    good = typed.where("minute is not null")
    good.write.mode("overwrite").partitionBy("year", "month").parquet(f"{scratch}/parquet")
    typed.where("code is null").coalesce(1).write.mode("overwrite").json(f"{scratch}/json")
    typed.count()
    session.read.parquet(f"{scratch}/parquet").groupBy("month").count().collect()
    typed.unpersist()
    shutil.rmtree(driver_dir(settings) / "prime", ignore_errors=True)
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path("s3://local-aws-spark-prime/")
    try:
        path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(path)
    except Exception:  # the bucket need not exist: loading S3A and the AWS SDK is the point
        pass


def start_spark(settings: config.Settings):
    from pyspark.sql import SparkSession

    started = time.monotonic()
    os.environ["PYSPARK_PYTHON"] = sys.executable  # Python workers for UDFs use this venv
    _reuse_warm_context()
    work = driver_dir(settings)
    work.mkdir(parents=True, exist_ok=True)
    (work / "log4j2.properties").write_text(log4j_properties(settings))
    local_jar = build_local_jar(settings)
    builder = SparkSession.builder
    for key, value in spark_conf(settings, local_jar).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    print(f"SparkSession up in {time.monotonic() - started:.1f} s", flush=True)
    _prime(spark, settings)
    print(f"Spark primed in {time.monotonic() - started:.1f} s", flush=True)
    return spark


def _read_commands(conn, requests: queue.Queue, interrupter: RunInterrupter) -> None:
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            os._exit(0)  # the server is gone; the JVM exits when this process's pipe to it closes
        if message[0] == "run":
            requests.put(message[1])
        elif message[0] == "cancel":
            interrupter.cancel(message[1], message[2])
        else:
            requests.put(None)
            return


def main() -> None:
    """The driver process (started by SparkWorker.start): argv[1] is its end of the server's socket pair."""
    conn = Connection(int(sys.argv[1]))
    settings: config.Settings = conn.recv()
    config.settings = settings
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    print(f"local AWS Spark driver (pid {os.getpid()}) starting for {settings.endpoint_url}", flush=True)
    # Scripts' boto3 calls, and the local awsglue's catalog reads, go to local AWS.
    os.environ.update(
        AWS_ENDPOINT_URL=settings.endpoint_url,
        AWS_ACCESS_KEY_ID=clients.ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=clients.SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
    )
    sys.path.insert(0, str(RUNTIME_DIR))
    try:
        spark = start_spark(settings)
        import awsglue.context  # noqa: F401  (imported once here, so runs never re-import it)
    except BaseException as error:
        traceback.print_exc()
        conn.send(("start_failed", script_run.error_summary(error)))
        sys.stdout.flush()
        os._exit(1)
    interrupter = RunInterrupter(spark.sparkContext)
    signal.signal(CANCEL_SIGNAL, interrupter.on_signal)
    requests: queue.Queue = queue.Queue()
    threading.Thread(target=_read_commands, args=(conn, requests, interrupter), name="commands", daemon=True).start()
    conn.send(("ready", None))
    runs_dir = driver_dir(settings) / "runs"
    while (request := requests.get()) is not None:
        result = script_run.execute(spark, request, interrupter, runs_dir, run_log_path(settings))
        conn.send(("finished", result))
        if result.driver_exits:
            print(f"Spark is no longer usable after run {request.run_id}; this driver exits", flush=True)
            break
    else:
        spark.stop()
    sys.stdout.flush()
    os._exit(0)  # do not wait for py4j's and Spark's own threads

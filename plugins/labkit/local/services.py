"""Services the local harness (`make demo`, `make airflow`) needs: local AWS, reused or started; and for
`make airflow EXECUTOR=celery`, PostgreSQL and Redis, checked (and the metadata database created).

Not used by DAGs: they only ever see the `aws_default` connection, which `aws_connection()` builds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from labkit.core import paths

WORK_DIR = paths.PROJECT_ROOT / ".local_aws"


def serving(endpoint: str) -> bool:
    """True when local AWS answers at endpoint (its clock: cheap, and only local AWS has one)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_local_aws/clock", timeout=5) as response:
            return "offset_seconds" in json.loads(response.read())
    except (OSError, ValueError):
        return False


def start_local_aws(port: int, log_path: Path) -> subprocess.Popen:
    """Start `python -m local_aws` on port (warm Spark, TLS CA in .local_aws/tls), its output to log_path.

    Returns once it serves; raises RuntimeError with the end of its log when it exits or does not serve
    within a minute.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_aws", "--port", str(port), "--warm-spark"],
            cwd=paths.PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C goes to whoever started it, who stops it in order
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while not serving(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"local AWS did not start on port {port}:\n{tail(log_path)}")
            time.sleep(0.2)
    except BaseException:  # Ctrl-C while waiting too: its own session would outlive us
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen, seconds: float = 30) -> None:
    """SIGTERM the process group a start_new_session process leads; SIGKILL what is left after `seconds`."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            continue


def aws_connection(endpoint: str) -> str:
    """The `aws_default` connection (AIRFLOW_CONN_AWS_DEFAULT) for local AWS at endpoint, trusting its TLS CA."""
    extra = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    ca_bundle = WORK_DIR / "tls" / "ca.pem"
    if ca_bundle.exists():  # labs that prove HTTPS-only policies reach local AWS over TLS (docs/local-aws/iam.md)
        extra["verify"] = str(ca_bundle)
    return json.dumps({"conn_type": "aws", "login": "local", "password": "local", "extra": extra})


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, indented, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"    (no log at {path})"
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:])


def ensure_postgres_database(url: str, variable: str) -> bool:
    """Create the database of SQLAlchemy URL url on its PostgreSQL server when missing; True when it did.

    RuntimeError, in one line naming `variable` (what points at the server), when the server does not answer
    or refuses the login.
    """
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is None or parsed.get_backend_name() != "postgresql" or not parsed.database:
        raise RuntimeError(f"{variable} is not a PostgreSQL URL with a database: {url!r}")
    server = {
        "host": parsed.host or "localhost",
        "port": parsed.port or 5432,
        "user": parsed.username,
        "password": parsed.password,
        "connect_timeout": 5,
    }

    def unusable(error: BaseException) -> RuntimeError:
        return RuntimeError(
            f"PostgreSQL is not usable at {without_password(url)} ({one_line(error)}); start it or point "
            f"{variable} at another, e.g. {variable}=postgresql+psycopg://USER:PASSWORD@HOST:5432/DB"
        )

    try:
        psycopg.connect(dbname=parsed.database, **server).close()
        return False
    except psycopg.Error as error:
        failure = error
    try:  # the database may be missing: look for it from the server's maintenance database
        maintenance = psycopg.connect(dbname="postgres", autocommit=True, **server)
    except psycopg.Error:
        raise unusable(failure) from failure
    with maintenance:
        if maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [parsed.database]).fetchone():
            raise unusable(failure) from failure
        try:
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
        except psycopg.Error as error:
            raise unusable(error) from error
    return True


def check_redis(url: str, variable: str) -> None:
    """RuntimeError, in one line naming `variable`, when Redis does not answer a PING at url."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()
    except (redis.RedisError, ValueError) as error:  # ValueError: not a redis:// URL
        raise RuntimeError(
            f"Redis is not reachable at {without_password(url)} ({one_line(error)}); "
            f"start it or point {variable} at another, e.g. {variable}=redis://:PASSWORD@HOST:6379/1"
        ) from error


def one_line(error: BaseException) -> str:
    return re.sub(r"\s+", " ", str(error)).strip()


def without_password(url: str) -> str:
    """url with its password, if any, masked (for messages)."""
    return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", url)

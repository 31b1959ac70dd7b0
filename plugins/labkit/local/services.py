"""Local AWS for the local harness (`make demo`, `make airflow`): reuse one serving on a port, or start one.

Not used by DAGs: they only ever see the `aws_default` connection, which `aws_connection()` builds.
"""

from __future__ import annotations

import json
import os
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

"""`python -m local_aws` as users start it, with the AWS CLI talking to it through AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import REPO_ROOT

AWS_CLI = str(REPO_ROOT / ".venv" / "bin" / "aws")


def test_help_documents_the_options():
    result = subprocess.run(
        [sys.executable, "-m", "local_aws", "--help"], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert result.returncode == 0
    for option in ("--port", "--host", "--warm-spark", "--glue-minute-seconds", "--work-dir"):
        assert option in result.stdout


def test_server_serves_the_aws_cli_and_stops_cleanly(tmp_path):
    server = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "--port", "0", "--work-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = server.stdout.readline().strip()
        assert ready.startswith("local AWS ready at http://127.0.0.1:"), ready
        endpoint = ready.rsplit(" ", 1)[-1]
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "cli",
            "AWS_SECRET_ACCESS_KEY": "cli",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        (tmp_path / "hello.txt").write_text("hello\n")

        def aws(*args: str) -> str:
            done = subprocess.run([AWS_CLI, *args], env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            return done.stdout

        aws("s3", "mb", "s3://cli-bucket")
        aws("s3", "cp", str(tmp_path / "hello.txt"), "s3://cli-bucket/greetings/hello.txt")
        assert "greetings/hello.txt" in aws("s3", "ls", "--recursive", "s3://cli-bucket")
        assert '"Name": "lab"' in aws("glue", "create-database", "--database-input", "Name=lab") + aws(
            "glue", "get-databases"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0
    assert "local AWS stopping" in output

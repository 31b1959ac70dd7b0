"""`make airflow` the way a user runs it: from a plain shell (no venv on PATH), then Ctrl-C.

Each test gets an Airflow home of its own (AIRFLOW_HOME on make's command line), so the user's .airflow/
is never touched.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from labkit.local.services import serving
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.e2e

PLAIN_PATH = "/usr/local/bin:/usr/bin:/bin"


def free_ports(count: int) -> list[int]:
    """Distinct free ports (each socket stays bound until all are chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_of(home: Path) -> list[int]:
    """Pids of the processes running with this Airflow home (every component and its children)."""
    marker = f"AIRFLOW_HOME={home}".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except OSError:
            continue
    return pids


class MakeAirflow:
    """`make airflow` in a plain environment, in its own process group (as a terminal's foreground job)."""

    def __init__(self, home: Path, aws_port: int, airflow_port: int, env: dict[str, str] | None = None, **variables):
        """variables: more make variables (EXECUTOR="celery"); env: more environment."""
        self.home = home
        self.url = f"http://127.0.0.1:{airflow_port}"
        command = ["make", "-C", str(REPO_ROOT), "airflow", f"AIRFLOW_HOME={home}"]
        command += [f"PORT={aws_port}", f"AIRFLOW_PORT={airflow_port}"]
        command += [f"{name}={value}" for name, value in variables.items()]
        self.process = subprocess.Popen(
            command,
            env={"PATH": PLAIN_PATH, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line)
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, seconds: float) -> re.Match | None:
        """The first output line matching pattern; None when the command ends or time runs out first."""
        deadline = time.monotonic() + seconds
        for line in list(self.lines):
            if match := re.search(pattern, line):
                return match
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            if match := re.search(pattern, line):
                return match
        return None

    def ctrl_c(self, seconds: float = 120) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=seconds)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pid in processes_of(self.home):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # ended meanwhile
                pass


class Api:
    """Airflow's REST API with the login `make airflow` printed."""

    def __init__(self, url: str, username: str, password: str):
        self.url = url
        token = self._call("POST", "/auth/token", {"username": username, "password": password}, auth=False)
        self.token = token["access_token"]

    def _call(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def get(self, path: str) -> dict:
        return self._call("GET", path)

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, body)

    def unpause(self, dag_id: str) -> None:
        assert self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})["is_paused"] is False


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        if value := condition():
            return value
        assert time.monotonic() < deadline, f"{what} within {seconds}s"
        time.sleep(2)


def test_make_airflow_from_a_plain_shell_serves_the_ui_runs_a_dag_and_stops_on_ctrl_c(tmp_path):
    home, (aws_port, airflow_port) = tmp_path / "airflow", free_ports(2)
    make = MakeAirflow(home, aws_port, airflow_port)
    try:
        ready = make.wait_for_line(r"Airflow is ready: (\S+)", seconds=600)
        assert ready, f"make airflow did not get ready:\n{make.output}"
        assert ready.group(1) == make.url
        login = make.wait_for_line(r"Log in as (\S+) with password (\S+)", seconds=10)
        assert login, make.output
        assert make.wait_for_line(r"^LocalExecutor, 4 task slots$", seconds=10), make.output
        api = Api(make.url, login.group(1), login.group(2))

        dag_ids = wait_until(
            lambda: {d["dag_id"] for d in api.get("/api/v2/dags?limit=100")["dags"]} or None, 300, "DAGs parsed"
        )
        assert "lambda_lab1_basics" in dag_ids, dag_ids
        run = api.post("/api/v2/dags/lambda_lab1_basics/dagRuns", {"logical_date": None, "conf": {"teardown": True}})
        path = f"/api/v2/dags/lambda_lab1_basics/dagRuns/{urllib.parse.quote(run['dag_run_id'])}"
        state = wait_until(
            lambda: (state := api.get(path)["state"]) in ("success", "failed") and state, 600, "the run finished"
        )
        tasks = {t["task_id"]: t["state"] for t in api.get(f"{path}/taskInstances")["task_instances"]}
        assert state == "success", tasks

        make.ctrl_c()  # returns once make has ended
        assert "Stopping triggerer, dag-processor, scheduler, api-server, local AWS" in make.output
        assert processes_of(home) == []
        assert not port_open(airflow_port) and not port_open(aws_port)
    finally:
        make.kill()


def test_a_component_that_dies_stops_make_airflow_with_its_error(local_aws_server, tmp_path):
    """The API server cannot bind its port: the command fails with its error and stops the other components."""
    home, [airflow_port] = tmp_path / "airflow", free_ports(1)
    aws_port = int(local_aws_server.endpoint_url.rsplit(":", 1)[1])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", airflow_port))
        taken.listen()
        make = MakeAirflow(home, aws_port, airflow_port)
        try:
            code = make.process.wait(timeout=600)
        finally:
            make.kill()

    assert code != 0, make.output
    assert f"Using local AWS already serving at http://127.0.0.1:{aws_port}" in make.output
    assert re.search(r"error: api-server exited with code \d+; the last lines of .*api-server\.log", make.output)
    assert re.search(r"address already in use", make.output, re.IGNORECASE), make.output
    assert "Airflow is ready" not in make.output
    assert processes_of(home) == []
    # The local AWS it found serving was not its to stop.
    assert serving(local_aws_server.endpoint_url)

"""What the end-to-end tests of Airflow's own processes share: free ports, the command that serves Airflow in an
Airflow home of its own (`make airflow`, or `python -m labkit.local.airflow_ui` that it runs), waiting until it
prints "Airflow is ready" and the login, its REST API with that login, and waiting for a condition.

`from tests.e2e.airflow_support import AirflowUi, Api, MakeAirflow, free_ports, processes_of, wait_until`
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import NamedTuple

import psutil

from tests.conftest import REPO_ROOT

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


def wait_until(condition, seconds: float, what: str, every: float = 2):
    """condition()'s first true value, asking every `every` seconds; fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        if value := condition():
            return value
        assert time.monotonic() < deadline, f"{what} within {seconds}s"
        time.sleep(every)


class Login(NamedTuple):
    """What the command printed once ready: Airflow's URL and the login (Api(*login) logs in with it)."""

    url: str
    username: str
    password: str


class AirflowCommand:
    """A command serving Airflow, in a plain environment and its own process group (as a terminal's foreground
    job), its output read line by line."""

    def __init__(self, command: list[str], env: dict[str, str], home: Path, airflow_port: int):
        self.home = home
        self.url = f"http://127.0.0.1:{airflow_port}"
        self.name = " ".join(command[:3])
        self.process = subprocess.Popen(
            command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self.family: set[psutil.Process] = set()
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._note_family()  # each component it starts says so
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

    def wait_until_ready(self, seconds: float = 600) -> Login:
        """Until it prints "Airflow is ready: <url>" and then the login line; fails with its output otherwise."""
        ready = self.wait_for_line(r"Airflow is ready: (\S+)", seconds)
        assert ready, f"{self.name} did not get ready:\n{self.output}"
        login = self.wait_for_line(r"Log in as (\S+) with password (\S+)", seconds=10)
        assert login, self.output
        return Login(ready.group(1), *login.groups())

    def _note_family(self) -> None:
        """Remember every process the command has started so far. Airflow's components retitle themselves,
        which wipes their environment in /proc, so processes_of(home) does not find them."""
        try:
            self.family.update(psutil.Process(self.process.pid).children(recursive=True))
        except psutil.NoSuchProcess:  # it has ended
            pass

    def left_running(self) -> list[int]:
        """Pids of the processes it started that still run, and of any other left with its Airflow home."""
        alive = set(processes_of(self.home))
        for member in self.family:
            try:
                if member.is_running() and member.status() != psutil.STATUS_ZOMBIE:
                    alive.add(member.pid)
            except psutil.NoSuchProcess:
                pass
        return sorted(alive)

    def ctrl_c(self, seconds: float = 120) -> int:
        """Ctrl-C, as a user stops it; its exit code once it has ended."""
        self._note_family()
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=seconds)

    def stop(self, seconds: float = 120) -> None:
        """Ctrl-C if it still runs; whatever is left after `seconds` is killed."""
        if self.process.poll() is None:
            try:
                self.ctrl_c(seconds)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def kill(self) -> None:
        """The command's process group, if it still runs, and every process it started that is left."""
        self._note_family()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pid in self.left_running():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # ended meanwhile
                pass
        deadline = time.monotonic() + 10  # SIGKILL takes effect soon, not at once
        while self.left_running() and time.monotonic() < deadline:
            time.sleep(0.1)


class MakeAirflow(AirflowCommand):
    """`make airflow` from a plain shell (no venv on PATH), with its own Airflow home (on make's command line)."""

    def __init__(self, home: Path, aws_port: int, airflow_port: int, env: dict[str, str] | None = None, **variables):
        """variables: more make variables (EXECUTOR="celery"); env: more environment."""
        command = ["make", "-C", str(REPO_ROOT), "airflow", f"AIRFLOW_HOME={home}"]
        command += [f"PORT={aws_port}", f"AIRFLOW_PORT={airflow_port}"]
        command += [f"{name}={value}" for name, value in variables.items()]
        plain = {"PATH": PLAIN_PATH, "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8", **(env or {})}
        super().__init__(command, plain, home, airflow_port)


class AirflowUi(AirflowCommand):
    """`python -m labkit.local.airflow_ui` (what `make airflow` runs) of this interpreter, with its own Airflow
    home (migrated first, as `make install` does for .airflow/) and the local AWS serving on aws_port."""

    def __init__(self, home: Path, aws_port: int, airflow_port: int):
        env = {
            "PATH": f"{Path(sys.executable).parent}:{PLAIN_PATH}",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'plugins'}",
        }
        migrated = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        command = [sys.executable, "-m", "labkit.local.airflow_ui", "--aws-port", str(aws_port)]
        super().__init__([*command, "--port", str(airflow_port)], env, home, airflow_port)


class Api:
    """Airflow's REST API (/api/v2) with a JWT from /auth/token, for the login the command printed."""

    def __init__(self, url: str, username: str, password: str):
        self.url = url
        token = self.call("POST", "/auth/token", {"username": username, "password": password}, auth=False)
        self.token = token["access_token"]

    def call(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def get(self, path: str) -> dict:
        return self.call("GET", path)

    def post(self, path: str, body: dict) -> dict:
        return self.call("POST", path, body)

    def dag_ids(self) -> set[str]:
        return {d["dag_id"] for d in self.get("/api/v2/dags?limit=100")["dags"]}

    def wait_for_dags(self, dag_ids: set[str], seconds: float = 300) -> None:
        """Until the DAG processor has parsed every DAG of dag_ids."""
        wait_until(lambda: dag_ids <= self.dag_ids(), seconds, f"{sorted(dag_ids)} parsed")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        assert self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": paused})["is_paused"] is paused

    def unpause(self, dag_id: str) -> None:
        self.set_paused(dag_id, False)

    def trigger(self, dag_id: str, conf: dict) -> str:
        """A manual run of dag_id now, with conf; its run id."""
        return self.post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

    def run_path(self, dag_id: str, run_id: str) -> str:
        return f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"

    def finished(self, dag_id: str, run_id: str, seconds: float) -> str:
        """The run's final state (success or failed), waiting up to `seconds`."""
        path = self.run_path(dag_id, run_id)
        return wait_until(lambda: (s := self.get(path)["state"]) in ("success", "failed") and s, seconds, run_id)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        found = self.get(f"{self.run_path(dag_id, run_id)}/taskInstances?limit=100")["task_instances"]
        return {t["task_id"]: t["state"] for t in found}

    def asset_events(self, dag_id: str, run_id: str) -> dict[str, dict]:
        """The Asset events a run emitted: URI -> extra."""
        query = urllib.parse.urlencode({"source_dag_id": dag_id, "source_run_id": run_id, "limit": 100})
        return {e["uri"]: e["extra"] for e in self.get(f"/api/v2/assets/events?{query}")["asset_events"]}

    def xcom(self, dag_id: str, run_id: str, task_id: str):
        """The task's return value."""
        value = self.get(f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/return_value")["value"]
        return json.loads(value) if isinstance(value, str) else value

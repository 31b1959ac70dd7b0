"""Airflow on this machine, for the UI: local AWS, then Airflow's API server, scheduler, DAG processor and triggerer.

`make airflow` runs `python -m labkit.local.airflow_ui`. It reuses a local AWS already serving on
--aws-port or starts one, points `aws_default` at it, starts each Airflow component as
`python -m airflow <component>` of this interpreter (nothing is looked up on PATH), waits until
the API server reports every component healthy, then prints the URL and the login. Ctrl-C (or
SIGTERM) stops everything it started. When any component exits on its own, the others are
stopped too and the command fails with that component's last log lines. Each component's output
goes to $AIRFLOW_HOME/logs/components/<component>.log.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

from labkit.core import paths
from labkit.local import services

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# The API server's /monitor/health names these; all "healthy" means Airflow can run a DAG.
HEALTH_KEYS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
STARTUP_SECONDS = 300
STOP_SECONDS = 20


class ComponentExited(RuntimeError):
    """A component stopped on its own; the message names it and ends with its last log lines."""


@dataclass
class Component:
    name: str
    process: subprocess.Popen
    log: Path

    def exited(self) -> int | None:
        return self.process.poll()

    def signal(self, signum: int) -> None:
        # Each component leads its own process group: its children (task runners, API workers) stop with it.
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass


class Stack:
    """The processes this command started, in start order; stop() ends them in reverse order."""

    def __init__(self) -> None:
        self.components: list[Component] = []

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> Component:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        component = Component(name, process, log)
        self.components.append(component)
        return component

    def adopt(self, name: str, process: subprocess.Popen, log: Path) -> None:
        self.components.append(Component(name, process, log))

    def check(self) -> None:
        """Raise ComponentExited for the first component that is no longer running."""
        for component in self.components:
            code = component.exited()
            if code is not None:
                raise ComponentExited(
                    f"{component.name} exited with code {code}; the last lines of {component.log}:\n"
                    f"{services.tail(component.log)}"
                )

    def stop(self) -> None:
        for component in reversed(self.components):
            component.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for component in reversed(self.components):
            try:
                component.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{component.name} did not stop within {STOP_SECONDS}s; killing it", flush=True)
            component.signal(signal.SIGKILL)  # whatever of its group is left (task runners)
            component.process.wait()


def airflow_environment(aws_endpoint: str, host: str, port: int) -> dict[str, str]:
    """The environment every component gets: this project's DAGs and plugins, aws_default on local AWS."""
    env = dict(os.environ)
    root = str(paths.PROJECT_ROOT)
    env.setdefault("AIRFLOW_HOME", str(paths.PROJECT_ROOT / ".airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", f"{root}/dags")
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", f"{root}/plugins")
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, f"{root}/plugins", env.get("PYTHONPATH")) if p)
    # Anything a component spawns by name (the AWS CLI in a task, say) comes from this interpreter's venv.
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    env["AIRFLOW_CONN_AWS_DEFAULT"] = services.aws_connection(aws_endpoint)
    # Task runners report to the execution API of this API server (Airflow's default assumes localhost:8080).
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://{host}:{port}/execution/"
    # Sized for a 2-core machine: the heavy work runs in local AWS (Spark, DuckDB, Lambda workers).
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    env.setdefault("AIRFLOW__API__WORKERS", "1")
    env.setdefault("AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES", "1")
    # The labs are triggered by hand (schedule=None): unpaused, a trigger from the UI runs at once.
    env.setdefault("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "False")
    return env


def health(url: str) -> dict[str, str]:
    """Each component's status from the API server's health endpoint ({} while it does not answer)."""
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
            body = json.loads(response.read())
    except (OSError, ValueError, http.client.HTTPException):  # not up yet, or restarting
        return {}
    return {key: (body.get(key) or {}).get("status", "unknown") for key in HEALTH_KEYS}


def wait_until_healthy(stack: Stack, url: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        stack.check()
        statuses = health(url)
        if statuses and all(status == "healthy" for status in statuses.values()):
            return
        if time.monotonic() > deadline:
            raise ComponentExited(f"Airflow was not healthy within {STARTUP_SECONDS}s: {statuses or 'no answer'}")
        time.sleep(1)


def login_lines(env: dict[str, str]) -> list[str]:
    """How to log in, read from the configuration the components run with (they share this environment)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("AIRFLOW")})
    with warnings.catch_warnings():  # importing Airflow warns about its own dependencies
        warnings.simplefilter("ignore")
        from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
        from airflow.configuration import conf

    auth_manager = conf.get("core", "auth_manager")
    if auth_manager != f"{SimpleAuthManager.__module__}.{SimpleAuthManager.__name__}":
        return [f"Log in as the auth manager configured in [core] auth_manager ({auth_manager}) expects."]
    if conf.getboolean("core", "simple_auth_manager_all_admins"):
        return ["No login: [core] simple_auth_manager_all_admins is on, every visitor is an admin."]
    password_file = SimpleAuthManager.get_generated_password_file()
    try:
        passwords = json.loads(Path(password_file).read_text() or "{}")
    except (OSError, ValueError):
        passwords = {}
    lines = [f"Log in as {user} with password {password}" for user, password in passwords.items()]
    lines.append(
        f"(passwords are generated once and kept in {password_file}; users in [core] simple_auth_manager_users)"
    )
    return lines


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit.local.airflow_ui", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--aws-port", type=int, default=4566, help="local AWS's port, reused or started (default: 4566)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address of Airflow's API server (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port of Airflow's API server and UI (default: 8080)")
    args = parser.parse_args(argv)

    stack = Stack()
    # Stop in order on Ctrl-C and SIGTERM, also when started with SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        aws_endpoint = f"http://127.0.0.1:{args.aws_port}"
        if services.serving(aws_endpoint):
            print(f"Using local AWS already serving at {aws_endpoint}", flush=True)
        else:
            log = services.WORK_DIR / "airflow-local-aws.log"
            print(f"Starting local AWS at {aws_endpoint} (log: {log})", flush=True)
            stack.adopt("local AWS", services.start_local_aws(args.aws_port, log), log)
        env = airflow_environment(aws_endpoint, args.host, args.port)
        logs = Path(env["AIRFLOW_HOME"]) / "logs" / "components"
        print(f"Starting Airflow ({', '.join(COMPONENTS)}); their logs: {logs}/", flush=True)
        for name in COMPONENTS:
            argv_ = [sys.executable, "-m", "airflow", name]
            if name == "api-server":
                argv_ += ["--host", args.host, "--port", str(args.port)]
            stack.start(name, argv_, env, logs / f"{name}.log")
        url = f"http://{args.host}:{args.port}"
        wait_until_healthy(stack, url)
        print(
            "",
            f"Airflow is ready: {url}",
            *login_lines(env),
            "Ctrl-C stops what this command started.",
            sep="\n",
            flush=True,
        )
        while True:
            stack.check()
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:  # a component exited, or local AWS did not start
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    finally:  # whatever ended the command, nothing it started outlives it
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stopping short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if stack.components:
            print(f"Stopping {', '.join(c.name for c in reversed(stack.components))}", flush=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())

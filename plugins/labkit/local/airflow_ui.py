"""Airflow on this machine, for the UI: local AWS, then Airflow's API server, scheduler, DAG processor and triggerer.

`make airflow` runs `python -m labkit.local.airflow_ui`. It reuses a local AWS already serving on
--aws-port or starts one, points `aws_default` at it, starts each Airflow component as
`python -m airflow <component>` of this interpreter (nothing is looked up on PATH), waits until
the API server reports every component healthy, then prints the URL and the login. Ctrl-C (or
SIGTERM) stops everything it started. When any component exits on its own, the others are
stopped too and the command fails with that component's last log lines. Each component's output
goes to $AIRFLOW_HOME/logs/components/<component>.log.

With --executor celery (`make airflow EXECUTOR=celery`) the tasks run on CeleryExecutor: the metadata DB
and Celery's result backend on PostgreSQL (SQL_ALCHEMY_CONN; the database is created when missing and
migrated), Redis as the broker (CELERY_BROKER_URL), and two Celery workers, worker1 and worker2, started
and stopped with the other components. Each worker reports its own name as the hostname of the task
instances it runs (worker1.<this host's FQDN>), so the UI shows which worker ran a task.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
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
CELERY_WORKERS = ("worker1", "worker2")
# PostgreSQL and Redis on this machine, trust auth; a database and a Redis DB number of this project's own.
DEFAULT_SQL_ALCHEMY_CONN = "postgresql+psycopg://postgres@127.0.0.1:5432/airflow_labs"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/1"
# A Celery worker's name, in its environment: worker_hostname() reports it to Airflow.
WORKER_NAME_VARIABLE = "LABKIT_CELERY_WORKER"
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
    """The environment every component gets: this project's DAGs and plugins, aws_default on local AWS.

    Settings the shell's environment does not set are sized for a 2-core machine.
    """
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
    # Sized for 2 cores. Tasks mostly wait on local AWS, which does the heavy work (Spark, DuckDB, Lambda
    # workers): 4 task slots (Airflow's default, 32, would start 32 task processes of ~150 MB each).
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    # One API server process: the UI has one user (the default, 4, is one per core of a server).
    env.setdefault("AIRFLOW__API__WORKERS", "1")
    # One parsing process: a DAG file takes 0.2-0.6 s of CPU to parse (measured), no need for two.
    env.setdefault("AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES", "1")
    # Unchanged files are re-parsed every 5 minutes rather than every 30 s (21 files, 5.5 s a round: a fifth
    # of a core all the time); a file you edit is re-parsed at once all the same (by modification time).
    env.setdefault("AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL", "300")
    # New DAG files show up within a minute (listing dags/ is cheap; the default is 5 minutes).
    env.setdefault("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "60")
    # The scheduler looks for work every 2 s when idle rather than every second.
    env.setdefault("AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", "2")
    # The labs are triggered by hand (schedule=None): unpaused, a trigger from the UI runs at once.
    env.setdefault("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "False")
    return env


def celery_environment(env: dict[str, str], sql_alchemy_conn: str, broker_url: str) -> dict[str, str]:
    """env for CeleryExecutor: metadata DB and result backend on PostgreSQL, Redis as the broker."""
    conn = postgres_psycopg(sql_alchemy_conn)
    return {
        **env,
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": conn,
        # The API server's async engine on the same driver (Airflow would pick asyncpg, not installed).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": conn,
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{conn}",
        # 2 workers x 2 processes: the 4 task slots of [core] parallelism, across both workers.
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": env.get("AIRFLOW__CELERY__WORKER_CONCURRENCY", "2"),
        # One process polls Celery for task states (the default is one per core but one).
        "AIRFLOW__CELERY__SYNC_PARALLELISM": env.get("AIRFLOW__CELERY__SYNC_PARALLELISM", "1"),
        # Redis redelivers a task not acknowledged within this: Airflow's default (a day; no lab task runs that
        # long), set so that Airflow does not warn about it at every start.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": env.get(
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT", "86400"
        ),
    }


def postgres_psycopg(url: str) -> str:
    """A PostgreSQL URL without a driver (postgresql://...) on psycopg 3, the driver installed."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else url


def worker_hostname() -> str:
    """[core] hostname_callable of the Celery workers: worker1.<FQDN>, so a task instance names its worker."""
    name = os.environ.get(WORKER_NAME_VARIABLE)
    return f"{name}.{socket.getfqdn()}" if name else socket.getfqdn()


def prepare_celery(env: dict[str, str], log: Path) -> None:
    """Check Redis, create the metadata database when missing and migrate it; RuntimeError saying what failed."""
    conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    services.check_redis(env["AIRFLOW__CELERY__BROKER_URL"], "CELERY_BROKER_URL")
    if services.ensure_postgres_database(conn, "SQL_ALCHEMY_CONN"):
        print(f"Created the database {services.without_password(conn)}", flush=True)
    print(f"Migrating the metadata DB {services.without_password(conn)} (log: {log})", flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, stdout=out, stderr=out)
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed; the last lines of {log}:\n{services.tail(log)}")


def worker_command(name: str) -> tuple[list[str], dict[str, str]]:
    """argv and extra environment of Celery worker `name`."""
    argv = [sys.executable, "-m", "airflow", "celery", "worker", "--celery-hostname", f"{name}@%h"]
    # Logs go to the shared $AIRFLOW_HOME/logs, where the API server reads them: no log server (its one
    # port would be taken twice).
    argv.append("--skip-serve-logs")
    extra = {WORKER_NAME_VARIABLE: name, "AIRFLOW__CORE__HOSTNAME_CALLABLE": "labkit.local.airflow_ui.worker_hostname"}
    return argv, extra


def celery_workers_up() -> set[str]:
    """The names (worker1@host, ...) of the Celery workers answering a ping on the configured broker."""
    with warnings.catch_warnings():  # importing Airflow warns about its own dependencies
        warnings.simplefilter("ignore")
        from airflow.providers.celery.executors.celery_executor import app

    return {name for reply in app.control.ping(timeout=1) for name in reply}


def health(url: str) -> dict[str, str]:
    """Each component's status from the API server's health endpoint ({} while it does not answer)."""
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
            body = json.loads(response.read())
    except (OSError, ValueError, http.client.HTTPException):  # not up yet, or restarting
        return {}
    return {key: (body.get(key) or {}).get("status", "unknown") for key in HEALTH_KEYS}


def wait_until_ready(stack: Stack, url: str, workers: tuple[str, ...] = ()) -> None:
    """Until the API server reports every component healthy and each Celery worker of `workers` answers a ping."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        stack.check()
        statuses = health(url)
        if statuses and all(status == "healthy" for status in statuses.values()):
            answering = {name.split("@")[0] for name in celery_workers_up()} if workers else set()
            statuses |= {worker: "no answer to a ping" for worker in workers if worker not in answering}
            if all(status == "healthy" for status in statuses.values()):
                return
        if time.monotonic() > deadline:
            raise ComponentExited(f"Airflow was not healthy within {STARTUP_SECONDS}s: {statuses or 'no answer'}")
        time.sleep(1)


def api_connection(url: str) -> str:
    """The `airflow_api` connection, with which pipeline_report reads runs through the REST API: the first
    simple-auth user and its password, generated here (as the API server would) if it has none yet."""
    import secrets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
        from airflow.configuration import conf

    user = conf.get("core", "simple_auth_manager_users").split(",")[0].split(":")[0].strip()
    password_file = Path(SimpleAuthManager.get_generated_password_file())
    try:
        passwords = json.loads(password_file.read_text() or "{}")
    except (OSError, ValueError):
        passwords = {}
    if user not in passwords:
        passwords[user] = secrets.token_urlsafe(12)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(json.dumps(passwords))
    return json.dumps({"conn_type": "http", "host": url, "login": user, "password": passwords[user]})


def login_lines() -> list[str]:
    """How to log in, read from the configuration the components run with (they share this environment)."""
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
    parser.add_argument(
        "--executor", choices=("local", "celery"), default="local", help="LocalExecutor or CeleryExecutor"
    )
    parser.add_argument(
        "--sql-alchemy-conn",
        default=os.environ.get("SQL_ALCHEMY_CONN") or DEFAULT_SQL_ALCHEMY_CONN,
        help=f"celery: the PostgreSQL metadata DB (env SQL_ALCHEMY_CONN; default: {DEFAULT_SQL_ALCHEMY_CONN})",
    )
    parser.add_argument(
        "--broker-url",
        default=os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL,
        help=f"celery: Celery's Redis broker (env CELERY_BROKER_URL; default: {DEFAULT_BROKER_URL})",
    )
    args = parser.parse_args(argv)
    workers = CELERY_WORKERS if args.executor == "celery" else ()

    stack = Stack()
    # Stop in order on Ctrl-C and SIGTERM, also when started with SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        aws_endpoint = f"http://127.0.0.1:{args.aws_port}"
        env = airflow_environment(aws_endpoint, args.host, args.port)
        if workers:
            env = celery_environment(env, args.sql_alchemy_conn, args.broker_url)
        else:
            env["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
        # This process reads the configuration the components run with (login, Celery workers).
        os.environ.update({k: v for k, v in env.items() if k.startswith("AIRFLOW")})
        env["AIRFLOW_CONN_AIRFLOW_API"] = api_connection(f"http://{args.host}:{args.port}")
        logs = Path(env["AIRFLOW_HOME"]) / "logs" / "components"
        if workers:  # before anything starts: an unreachable PostgreSQL or Redis leaves nothing to stop
            prepare_celery(env, logs / "db-migrate.log")
        if services.serving(aws_endpoint):
            print(f"Using local AWS already serving at {aws_endpoint}", flush=True)
        else:
            log = services.WORK_DIR / "airflow-local-aws.log"
            print(f"Starting local AWS at {aws_endpoint} (log: {log})", flush=True)
            stack.adopt("local AWS", services.start_local_aws(args.aws_port, log), log)
        print(f"Starting Airflow ({', '.join(COMPONENTS + workers)}); their logs: {logs}/", flush=True)
        for name in COMPONENTS:
            argv_ = [sys.executable, "-m", "airflow", name]
            if name == "api-server":
                argv_ += ["--host", args.host, "--port", str(args.port)]
            stack.start(name, argv_, env, logs / f"{name}.log")
        for name in workers:
            argv_, extra = worker_command(name)
            stack.start(name, argv_, {**env, **extra}, logs / f"{name}.log")
        url = f"http://{args.host}:{args.port}"
        wait_until_ready(stack, url, workers)
        executor = [f"{env['AIRFLOW__CORE__EXECUTOR']}, {env['AIRFLOW__CORE__PARALLELISM']} task slots"]
        if workers:
            executor += [
                f"Celery workers {', '.join(workers)} ({env['AIRFLOW__CELERY__WORKER_CONCURRENCY']} slots each), "
                f"broker {services.without_password(args.broker_url)}",
                f"Metadata DB {services.without_password(env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'])}",
            ]
        print(
            "",
            f"Airflow is ready: {url}",
            *login_lines(),
            *executor,
            "Ctrl-C stops what this command started.",
            sep="\n",
            flush=True,
        )
        while True:
            stack.check()
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except RuntimeError as error:  # a component exited, local AWS did not start, PostgreSQL or Redis unusable
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

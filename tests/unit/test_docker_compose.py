"""docker-compose.yaml: the stack the issue names, after Airflow's official compose file; validated by a compose client.

The YAML checks need no client. `docker compose config` (or Debian's `docker-compose config`, compose 1.29)
resolves anchors, merge keys, variables and defaults as compose itself does, and refuses an invalid file.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
AIRFLOW_SERVICES = (
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
    "airflow-worker-1", "airflow-worker-2", "airflow-init",
)  # fmt: skip
WORKERS = ("airflow-worker-1", "airflow-worker-2")
SERVICES = {"postgres", "redis", "local-aws", *AIRFLOW_SERVICES}


def compose_client() -> list[str] | None:
    """The compose command this machine has: the docker CLI's plugin, else docker-compose; None for neither."""
    for command in (["docker", "compose"], ["docker-compose"]):
        try:
            if subprocess.run([*command, "version"], capture_output=True, timeout=60).returncode == 0:
                return command
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


def airflow_version() -> str:
    (version,) = re.findall(r"^apache-airflow==(\S+)$", (REPO_ROOT / "requirements.lock").read_text(), re.M)
    return version


@pytest.fixture(scope="module")
def written() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def resolved() -> dict:
    """The file as compose resolves it (`config`), in an environment without the shell's compose variables."""
    command = compose_client()
    if command is None:
        pytest.skip(
            "no compose client: `apt-get install docker-compose` (Debian's compose 1.29) or the docker CLI's "
            "compose plugin; the checks of the YAML itself ran"
        )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "_AIRFLOW", "COMPOSE"))}
    done = subprocess.run(
        [*command, "--project-directory", str(REPO_ROOT), "-f", str(COMPOSE_FILE), "config"],
        capture_output=True, text=True, env={**env, "AIRFLOW_UID": "1000"}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"{' '.join(command)} config refused docker-compose.yaml:\n{done.stderr}"
    return yaml.safe_load(done.stdout)


# ---- without a client --------------------------------------------------------------------


def test_every_service_the_issue_names_is_there(written):
    assert set(written["services"]) == SERVICES
    # MariaDB: local AWS starts a MariaDB server for each RDS instance (as on this machine), in its own
    # container, where its 127.0.0.1 endpoints are; the image has the servers.
    assert re.search(r"apt-get install .*\bmariadb-server\b.*\bpostgresql\b", DOCKERFILE.read_text())


def test_the_image_is_the_airflow_version_the_lock_pins(written):
    version = airflow_version()
    dockerfile = DOCKERFILE.read_text()
    assert re.search(rf"^ARG AIRFLOW_VERSION={re.escape(version)}$", dockerfile, re.M), "docker/Dockerfile's ARG"
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python3\.11$", dockerfile, re.M)
    images = {written["services"][name]["image"] for name in [*AIRFLOW_SERVICES, "local-aws"]}
    assert images == {f"${{AIRFLOW_IMAGE_NAME:-aws-data-engineering-labs:airflow-{version}}}"}


def test_the_workers_name_themselves_with_a_callable_that_exists(written):
    for name in WORKERS:
        environment = written["services"][name]["environment"]
        module, attribute = environment["AIRFLOW__CORE__HOSTNAME_CALLABLE"].rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), attribute))
        assert environment["LABKIT_CELERY_WORKER"] == name.replace("airflow-worker-", "worker")


# ---- as compose resolves it ----------------------------------------------------------------


def test_compose_accepts_the_file_with_its_services(resolved):
    assert set(resolved["services"]) == SERVICES


def test_airflow_runs_on_celery_with_postgres_and_redis(resolved):
    for name in AIRFLOW_SERVICES:
        environment = resolved["services"][name]["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:"), name
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow"), name
        assert environment["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0", name
        assert environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert environment["AIRFLOW__CORE__DAGS_FOLDER"] == "/project/dags", name
        assert resolved["services"][name]["user"] == "1000:0" or name == "airflow-init", name
        aws = json.loads(environment["AIRFLOW_CONN_AWS_DEFAULT"])
        assert aws["extra"]["endpoint_url"] == "http://local-aws:4566", name
        assert json.loads(environment["AIRFLOW_CONN_AIRFLOW_API"])["host"] == "http://airflow-apiserver:8080"


def test_components_and_workers(resolved):
    services = resolved["services"]
    commands = {name: " ".join(services[name]["command"]) if isinstance(services[name]["command"], list)
                else services[name]["command"] for name in AIRFLOW_SERVICES if name != "airflow-init"}  # fmt: skip
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
        "airflow-worker-1": "celery worker --celery-hostname worker1@%h --skip-serve-logs",
        "airflow-worker-2": "celery worker --celery-hostname worker2@%h --skip-serve-logs",
    }
    for name in WORKERS:
        assert services[name]["network_mode"] == "service:local-aws"  # local AWS's RDS endpoints are 127.0.0.1
        assert services[name]["depends_on"]["local-aws"]["condition"] == "service_healthy"
    assert services["local-aws"]["entrypoint"] == ["python", "-m", "local_aws"]
    assert "0.0.0.0" in services["local-aws"]["command"]
    init = services["airflow-init"]
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert (init["environment"]["_AIRFLOW_WWW_USER_USERNAME"], init["environment"]["_AIRFLOW_WWW_USER_PASSWORD"]) == (
        "airflow", "airflow",
    )  # fmt: skip
    # The login the API server accepts is the one airflow-init writes to the passwords file.
    passwords = services["airflow-apiserver"]["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert passwords.startswith("/opt/airflow/config/") and f"passwords={passwords}\n" in init["command"][-1]
    assert services["airflow-apiserver"]["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "airflow:admin"


def test_healthchecks_and_start_order(resolved):
    services = resolved["services"]
    for name, service in services.items():
        if name != "airflow-init":
            assert service["healthcheck"]["test"], f"{name} has no healthcheck"
    for name in AIRFLOW_SERVICES:
        if name != "airflow-init":
            conditions = {dependency: spec["condition"] for dependency, spec in services[name]["depends_on"].items()}
            assert conditions["postgres"] == conditions["redis"] == "service_healthy", name
            assert conditions["airflow-init"] == "service_completed_successfully", name


def test_ports_only_on_this_machine(resolved):
    published = [
        port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
        for service in resolved["services"].values()
        for port in service.get("ports", [])
    ]
    assert published and set(published) == {"127.0.0.1"}

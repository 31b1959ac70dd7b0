"""Shared fixtures: one local AWS server per test session, reset between tests that need isolation.

The tests run Airflow in a home of their own, new for each session (TEST_AIRFLOW_HOME names a
lasting one): their DAG runs never show up in the UI of `make airflow`, which serves .airflow/, nor in
a metadata DB the shell's AIRFLOW__DATABASE__SQL_ALCHEMY_CONN points at. tests/e2e/conftest.py
migrates it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_AIRFLOW_HOME = Path(os.environ.get("TEST_AIRFLOW_HOME") or tempfile.mkdtemp(prefix="ade-tests-airflow-"))
# Airflow reads these at import time: the tests' own home and metadata DB, the project's DAGs and plugins.
os.environ["AIRFLOW_HOME"] = str(TEST_AIRFLOW_HOME)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{TEST_AIRFLOW_HOME / 'airflow.db'}"
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO_ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import boto3  # noqa: E402 (Airflow's environment first)
import pytest  # noqa: E402 (Airflow's environment first)

from local_aws import config  # noqa: E402 (Airflow's environment first)
from local_aws.server import LocalAWS  # noqa: E402 (Airflow's environment first)

REGION = "us-east-1"

pytest_plugins = ["tests.lambda_support"]  # the Lambda tests' fixtures: lam, role_arn, provisioning

# py4j logs every connection's close at INFO, also from __del__ at interpreter exit: after pytest has
# closed the stream Airflow's root log handler writes to, that ends a clean run with "--- Logging error ---".
logging.getLogger("py4j").setLevel(logging.WARNING)


def pytest_unconfigure(config):
    if not os.environ.get("TEST_AIRFLOW_HOME"):
        shutil.rmtree(TEST_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def local_aws_server(tmp_path_factory):
    """Local AWS on a free port; boto3 in this process reaches it through AWS_ENDPOINT_URL."""
    settings = config.Settings(
        port=0,
        # One Glue "minute" of Timeout lasts this long, so TIMEOUT is testable in seconds.
        glue_minute_seconds=float(os.environ.get("TEST_GLUE_MINUTE_SECONDS", "4")),
        # Lambda's async retries wait this long (AWS: about 1 and 2 minutes), so retries are testable in seconds.
        lambda_retry_delay_seconds=float(os.environ.get("TEST_LAMBDA_RETRY_SECONDS", "0.5")),
        work_dir=tmp_path_factory.mktemp("local_aws"),
    )
    server = LocalAWS(settings).start()
    connection = (
        '{"conn_type": "aws", "login": "testing", "password": "testing", '
        f'"extra": {{"endpoint_url": "{server.endpoint_url}", "region_name": "{REGION}"}}}}'
    )
    env = {
        "AIRFLOW_CONN_AWS_DEFAULT": connection,
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def local_aws(local_aws_server):
    """The session's server with every resource forgotten before the test."""
    local_aws_server.reset()
    return local_aws_server


@pytest.fixture
def aws_client(local_aws):
    """boto3 client factory bound to local AWS: aws_client('s3')."""

    def make(service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=local_aws.endpoint_url)

    return make


@pytest.fixture
def trusting_connection(local_aws, monkeypatch):
    """aws_default as the tests configure it, plus the CA of local AWS's TLS certificate (calls over https)."""
    connection = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    connection["extra"]["verify"] = str(local_aws.settings.ca_bundle)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    return local_aws

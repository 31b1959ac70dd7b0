"""The end-to-end tests' Airflow metadata DB: migrated once per session in the tests' own home (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="session", autouse=True)
def airflow_db():
    """`airflow db migrate` in the tests' Airflow home, before any DAG runs."""
    home = os.environ["AIRFLOW_HOME"]
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, env=dict(os.environ)
    )
    assert done.returncode == 0, f"airflow db migrate in {home} failed:\n{done.stdout}\n{done.stderr}"
    return home

"""A clean `make test` ends with pytest's summary line: nothing logged after the session closed its streams."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT

# A py4j connection still alive at interpreter exit (as Spark's are after the unit tests' session) logs
# its close from __del__, after pytest closed the captured stdout that Airflow's root log handler holds.
OUTLIVING_CONNECTION = '''
from py4j.clientserver import ClientServerConnection, JavaParameters, PythonParameters
from py4j.java_gateway import GatewayProperty, PythonProxyPool

KEPT = []


def test_a_py4j_connection_outlives_the_session():
    import airflow.sdk  # noqa: F401 (configures Airflow's logging onto the captured stdout)

    gateway = GatewayProperty(False, PythonProxyPool())
    KEPT.append(ClientServerConnection(JavaParameters(), PythonParameters(), gateway, None))
'''


def test_a_session_with_spark_connections_alive_at_exit_ends_with_its_summary(tmp_path):
    test_file = tmp_path / "test_outliving_connection.py"
    test_file.write_text(OUTLIVING_CONNECTION)

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-q", str(test_file)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, output
    assert "Logging error" not in output, output
    assert output.splitlines()[-1].startswith("1 passed"), output

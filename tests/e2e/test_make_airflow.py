"""`make airflow` the way a user runs it: from a plain shell (no venv on PATH), then Ctrl-C.

Each test gets an Airflow home of its own (AIRFLOW_HOME on make's command line), so the user's .airflow/
is never touched.
"""

from __future__ import annotations

import re
import socket

import pytest

from labkit.local.services import serving
from tests.e2e.airflow_support import Api, MakeAirflow, free_ports

pytestmark = pytest.mark.e2e


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_airflow_from_a_plain_shell_serves_the_ui_runs_a_dag_and_stops_on_ctrl_c(tmp_path):
    home, (aws_port, airflow_port) = tmp_path / "airflow", free_ports(2)
    make = MakeAirflow(home, aws_port, airflow_port)
    try:
        login = make.wait_until_ready()
        assert login.url == make.url
        assert make.wait_for_line(r"^LocalExecutor, 4 task slots$", seconds=10), make.output
        api = Api(*login)

        api.wait_for_dags({"lambda_lab1_basics"})  # the DAG processor parses the files one after another
        run_id = api.trigger("lambda_lab1_basics", {"teardown": True})
        state = api.finished("lambda_lab1_basics", run_id, 600)
        assert state == "success", api.task_states("lambda_lab1_basics", run_id)

        make.ctrl_c()  # returns once make has ended
        assert "Stopping triggerer, dag-processor, scheduler, api-server, local AWS" in make.output
        assert make.left_running() == []
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
    assert make.left_running() == []
    # The local AWS it found serving was not its to stop.
    assert serving(local_aws_server.endpoint_url)

"""A second LocalAWS.start() in one process runs the executors again (tests, notebooks, the bench do this)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT

# Runs in its own interpreter: the session's server (tests/conftest.py) must not be stopped.
SCRIPT = textwrap.dedent(
    """
    import json, pathlib, sys, threading
    import boto3
    from local_aws import config
    from local_aws.server import LocalAWS
    from local_aws.glue import events
    from local_aws.s3 import lifecycle
    from tests.lambda_support import create_role, wait_until_active, zip_of

    work_dir = pathlib.Path(sys.argv[1])
    LocalAWS(config.Settings(port=0, work_dir=work_dir)).start().stop()
    stopped = {"ticker": lifecycle._ticker is not None, "glue_events_closed": events._closed}
    server = LocalAWS(config.Settings(port=0, work_dir=work_dir)).start()
    try:
        def client(name):
            return boto3.client(name, region_name="us-east-1", endpoint_url=server.endpoint_url,
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        role = create_role(client("iam"), "restart-role")
        package = zip_of({"app.py": "def handler(event, context):\\n    return {'twice': event['n'] * 2}\\n"})
        lam = client("lambda")
        lam.create_function(FunctionName="restart", Runtime="python3.11", Role=role, Handler="app.handler",
                            Code={"ZipFile": package})
        wait_until_active(lam, "restart")
        reply = lam.invoke(FunctionName="restart", Payload=json.dumps({"n": 21}))
        started = {
            "ticker_alive": lifecycle._ticker is not None and lifecycle._ticker.is_alive(),
            "ticker_threads": sum(t.name == "s3-lifecycle" for t in threading.enumerate()),
            "glue_events_closed": events._closed,
            "invoke": json.loads(reply["Payload"].read()),
        }
    finally:
        server.stop()
    print(json.dumps({"stopped": stopped, "started": started}))
    """
)


def test_a_second_start_in_one_process_runs_the_executors_again(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["stopped"] == {"ticker": False, "glue_events_closed": True}
    assert result["started"] == {
        "ticker_alive": True,
        "ticker_threads": 1,
        "glue_events_closed": False,
        "invoke": {"twice": 42},
    }


IN_FLIGHT = textwrap.dedent(
    """
    import json, pathlib, sys, threading, time
    import boto3
    from botocore.config import Config
    from local_aws import config
    from local_aws.server import LocalAWS
    from local_aws.lambda_ import log_shipping, runtime
    from tests.lambda_support import create_role, wait_for, wait_until_active, zip_of

    server = LocalAWS(config.Settings(port=0, work_dir=pathlib.Path(sys.argv[1]))).start()
    def client(name):
        return boto3.client(name, region_name="us-east-1", endpoint_url=server.endpoint_url,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"max_attempts": 1}, read_timeout=30))
    role = create_role(client("iam"), "in-flight-role")
    package = zip_of({"app.py": "import time\\ndef handler(event, context):\\n    time.sleep(3)\\n"})
    lam = client("lambda")
    lam.create_function(FunctionName="slow", Runtime="python3.11", Role=role, Handler="app.handler",
                        Code={"ZipFile": package}, Timeout=10)
    wait_until_active(lam, "slow")
    def invoke():
        try:
            lam.invoke(FunctionName="slow", Payload=b"{}")
        except Exception:
            pass  # the server went away under it
    caller = threading.Thread(target=invoke)
    caller.start()
    wait_for(lambda: runtime._pool is not None and any(env.busy for env in runtime._pool.environments()))
    server.stop()  # the invocation is still running
    caller.join(20)
    def lambda_threads():
        return sorted(t.name for t in threading.enumerate() if t.name.startswith("lambda-"))
    try:
        wait_for(lambda: not lambda_threads(), limit=5)  # the closed pool's reaper notices within a second
    except AssertionError:
        pass
    print(json.dumps({"threads": lambda_threads(), "pool_closed": getattr(runtime._pool, "_closed", None),
                      "shipper_stopped": getattr(log_shipping._shipper, "_stopped", None)}))
    """
)


def test_an_invocation_running_at_shutdown_does_not_restart_the_runtime(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", IN_FLIGHT, str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"threads": [], "pool_closed": True, "shipper_stopped": True}

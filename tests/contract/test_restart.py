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
    import json, pathlib, re, sys, threading
    import boto3
    from local_aws import config
    from local_aws.server import LocalAWS
    from local_aws.s3 import access_log_delivery
    from tests.lambda_support import create_role, wait_until_active, zip_of

    WORKER_THREADS = ("s3-lifecycle", "glue-trigger-scheduler", "glue-events", "s3-access-log-delivery", "lambda-",
                      "firehose-", "cloudformation-stacks")  # fmt: skip

    def worker_threads():
        return sorted(t.name for t in threading.enumerate() if t.name.startswith(WORKER_THREADS))

    def client(server, name):
        return boto3.client(name, region_name="us-east-1", endpoint_url=server.endpoint_url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def logged_keys(s3):
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="logs", Prefix="access/").get("Contents", [])]
        text = "".join(s3.get_object(Bucket="logs", Key=key)["Body"].read().decode() for key in keys)
        return sorted(re.findall(r"REST\\.PUT\\.OBJECT (\\S+)", text))

    work_dir = pathlib.Path(sys.argv[1])
    first = LocalAWS(config.Settings(port=0, work_dir=work_dir)).start()
    s3 = client(first, "s3")
    s3.create_bucket(Bucket="data")
    s3.create_bucket(Bucket="logs")
    s3.put_bucket_policy(Bucket="logs", Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs/access/*"}]}))
    s3.put_bucket_logging(Bucket="data", BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "logs",
                                                                                "TargetPrefix": "access/"}})
    s3.put_object(Bucket="data", Key="before-stop", Body=b"x")
    first_workers = first.workers.kinds()
    first.stop()  # its buffered access-log record is delivered by the stop
    stopped = {"threads": worker_threads(), "pending_records": access_log_delivery.pending()}

    server = LocalAWS(config.Settings(port=0, work_dir=work_dir)).start()
    try:
        s3 = client(server, "s3")
        s3.put_object(Bucket="data", Key="after-restart", Body=b"x")
        access_log_delivery.flush()
        role = create_role(client(server, "iam"), "restart-role")
        package = zip_of({"app.py": "def handler(event, context):\\n    return {'twice': event['n'] * 2}\\n"})
        lam = client(server, "lambda")
        lam.create_function(FunctionName="restart", Runtime="python3.11", Role=role, Handler="app.handler",
                            Code={"ZipFile": package})
        wait_until_active(lam, "restart")
        reply = lam.invoke(FunctionName="restart", Payload=json.dumps({"n": 21}))
        started = {
            "threads": sorted({name for name in worker_threads() if not name.startswith("lambda-")}),
            "invoke": json.loads(reply["Payload"].read()),
            "logged": logged_keys(s3),
        }
    finally:
        server.stop()
    print(json.dumps({"first_workers": first_workers, "stopped": stopped, "started": started,
                      "stopped_again": worker_threads()}))
    """
)


def test_a_second_start_in_one_process_runs_the_executors_again(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The server owns its workers: the schedulers start with it, the access-log flusher with the first record.
    assert {"local_aws.glue.scheduler.Scheduler", "local_aws.s3.lifecycle_runs.Ticker",
            "local_aws.s3.access_log_delivery.Flusher"} <= set(result["first_workers"])  # fmt: skip
    # Stopping leaves no worker thread, and delivers the records it held.
    assert result["stopped"] == {"threads": [], "pending_records": 0}
    assert result["stopped_again"] == []
    assert result["started"] == {
        "threads": ["glue-trigger-scheduler", "s3-access-log-delivery", "s3-lifecycle"],
        "invoke": {"twice": 42},
        "logged": ["after-restart", "before-stop"],
    }


IN_FLIGHT = textwrap.dedent(
    """
    import json, pathlib, sys, threading, time
    import boto3
    from botocore.config import Config
    from local_aws import config
    from local_aws.server import LocalAWS
    from local_aws import workers
    from local_aws.lambda_.log_shipping import LogShipper
    from local_aws.lambda_.pool import Pool
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
    wait_for(lambda: (pool := workers.find(Pool)) is not None and any(env.busy for env in pool.environments()))
    pool, shipper = workers.find(Pool), workers.find(LogShipper)
    server.stop()  # the invocation is still running
    caller.join(20)
    def lambda_threads():
        return sorted(t.name for t in threading.enumerate() if t.name.startswith("lambda-"))
    try:
        wait_for(lambda: not lambda_threads(), limit=5)  # the closed pool's reaper notices within a second
    except AssertionError:
        pass
    print(json.dumps({"threads": lambda_threads(), "pool_closed": pool._closed, "shipper_stopped": shipper._stopped,
                      "running_after_stop": workers.find(Pool) is not None}))
    """
)


def test_an_invocation_running_at_shutdown_does_not_restart_the_runtime(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", IN_FLIGHT, str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"threads": [], "pool_closed": True, "shipper_stopped": True, "running_after_stop": False}

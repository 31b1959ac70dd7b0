"""Run every lab DAG on local AWS, one after another, with progress and a summary.

Starts local AWS on --port unless one is already serving there, runs each DAG with
dag.test() in this process (one Airflow startup for all), prints each task as it finishes,
and ends with a table of DAG, state, duration and key figures. Airflow's own logs go to
.local_aws/demo-airflow.log. Exit status 1 when any DAG failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

SYMBOLS = {"success": "ok", "failed": "FAILED", "upstream_failed": "upstream failed", "skipped": "skipped"}


def serving(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def local_aws(port: int, log_dir: Path):
    """Yield the endpoint of a local AWS on port, starting one (and stopping it after) if needed."""
    endpoint = f"http://127.0.0.1:{port}"
    if serving(endpoint):
        print(f"using local AWS already serving at {endpoint}")
        yield endpoint
        return
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / "demo-local-aws.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "--port", str(port), "--warm-spark"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not serving(endpoint):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"local AWS did not start; see {log.name}")
            time.sleep(0.2)
        print(f"started local AWS at {endpoint} (log: {log.name})")
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextlib.contextmanager
def quiet_output(path: Path):
    """Send this process's stdout/stderr (Airflow's console logs) to a file; yield the real stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    real = os.fdopen(os.dup(1), "w", buffering=1)
    saved_err = os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield real
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(real.fileno(), 1)
            os.dup2(saved_err, 2)
            os.close(saved_err)


def format_figures(figures: dict | None) -> str:
    if not figures:
        return ""
    return ", ".join(f"{key}={value:,}" if isinstance(value, int) else f"{key}={value}" for key, value in figures.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 4566)))
    parser.add_argument("--dag", action="append", help="run only this DAG (repeatable)")
    parser.add_argument("--keep", action="store_true", help="skip teardown, keep what the DAGs created")
    args = parser.parse_args(argv)

    log_dir = ROOT / ".local_aws"
    with local_aws(args.port, log_dir) as endpoint:
        # Trust local AWS's TLS certificate (docs/local-aws/iam.md): labs that prove HTTPS-only policies use it.
        ca_bundle = log_dir / "tls" / "ca.pem"
        verify = f', "verify": "{ca_bundle}"' if ca_bundle.exists() else ""
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = (
            '{"conn_type": "aws", "login": "local", "password": "local", '
            f'"extra": {{"endpoint_url": "{endpoint}", "region_name": "us-east-1"{verify}}}}}'
        )
        from labkit import runner

        airflow_log = log_dir / "demo-airflow.log"
        airflow_log.write_text("")
        reports = []
        with quiet_output(airflow_log) as out:
            dag_ids = args.dag or runner.dag_ids()
            print(f"running {len(dag_ids)} DAG(s); Airflow's log: {airflow_log}", file=out)
            for dag_id in dag_ids:
                print(f"\n== {dag_id}", file=out)
                started = time.monotonic()

                def progress(task_id, state, duration, started=started):
                    if state in ("running", "queued", "scheduled"):
                        return
                    took = f"{duration:.1f}s" if duration is not None else ""
                    elapsed = time.monotonic() - started
                    print(f"  {elapsed:7.1f}s  {task_id:<32} {SYMBOLS.get(state, state):<16} {took}", file=out)

                try:
                    reports.append(runner.run_dag(dag_id, {"teardown": not args.keep}, on_task_state=progress))
                except Exception as error:  # a DAG that cannot even start still gets a summary row
                    reports.append(runner.RunReport(dag_id, f"error: {error}", time.monotonic() - started))
                report = reports[-1]
                print(f"  -> {report.state} in {report.seconds:.1f}s", file=out)

        print("\nSummary")
        width = max(len(r.dag_id) for r in reports)
        print(f"  {'DAG':<{width}}  {'state':<8} {'duration':>9}  key figures")
        for r in reports:
            print(f"  {r.dag_id:<{width}}  {r.state:<8} {r.seconds:>8.1f}s  {format_figures(r.figures)}")
            if r.failed_tasks:
                print(f"  {'':<{width}}  failed tasks: {', '.join(r.failed_tasks)} (see {airflow_log})")
        return 0 if all(r.state == "success" for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Run the aws_preflight DAG from a shell (`make aws-preflight`): would the DAGs work in this AWS account?

Runs the DAG with dag.test() in this process, as `make demo` runs the labs, against the `aws_default`
connection: AIRFLOW_CONN_AWS_DEFAULT when set, else the AWS SDK's own credentials and region (AWS_PROFILE,
AWS_REGION, ~/.aws/...). --local-aws checks the local AWS serving on --port instead (`make local-aws`).
Prints the report (also in artifacts/aws_preflight/report.md) or why the check could not run; exit
status 1 when anything would fail.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "scripts")]

from demo import quiet_output  # noqa: E402 (the demo's harness: sys.path and Airflow's environment)

from labkit.local import services  # noqa: E402

# How a task's error ends in Airflow's log: the exception's class and message.
ERROR_LINE = re.compile(r"^(?:\S+\.)?(PreflightError|AirflowFailException|ClientError|\w+Exception): (.+)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/aws_preflight.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dag", action="append", default=[], help="check only this DAG (repeatable)")
    parser.add_argument("--principal", default="", help="IAM user or role ARN to check (default: the caller)")
    parser.add_argument("--region", default="", help="region the DAGs will run in (default: the connection's)")
    parser.add_argument("--local-aws", action="store_true", help="check local AWS on --port instead of AWS")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 4566)))
    args = parser.parse_args(argv)
    conf = {"dags": args.dag, "principal": args.principal, "region": args.region}

    if args.local_aws:
        endpoint = f"http://127.0.0.1:{args.port}"
        if not services.serving(endpoint):
            parser.error(f"no local AWS serves at {endpoint}: start one with `make local-aws PORT={args.port}`")
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = services.aws_connection(endpoint)
    return run(conf)


def run(conf: dict) -> int:
    from labkit.labs import aws_preflight
    from labkit.local import runner

    log = services.WORK_DIR / "aws-preflight-airflow.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    started = time.time()
    with quiet_output(log) as out:
        print(f"checking {', '.join(conf['dags']) or 'every DAG'}; Airflow's log: {log}", file=out)
        report = runner.run_dag("aws_preflight", conf)
    path = aws_preflight.REPORT_PATH
    if path.exists() and path.stat().st_mtime >= started:
        print(path.read_text())
        print(f"(report: {path})")
    if report.state != "success":
        failed = ", ".join(report.failed_tasks) or report.state
        errors = [m.group(0) for line in log.read_text().splitlines() if (m := ERROR_LINE.match(line.strip()))]
        print(f"aws_preflight failed ({failed}): {errors[0] if errors else 'see ' + str(log)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

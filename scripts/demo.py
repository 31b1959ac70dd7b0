"""Run every lab DAG on local AWS, one after another, with progress and a summary.

Starts local AWS on --port unless one is already serving there, runs each DAG with
dag.test() in this process (one Airflow startup for all), prints each task as it finishes,
and ends with a table of DAG, state, duration and key figures, and artifacts/report.html (task
timeline, key figures, data quality, the clickstream chart, CDC latency, Glue job runs). Airflow's own
logs go to .local_aws/demo-airflow.log. Exit status 1 when any DAG failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / ".airflow"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from labkit.local import services  # noqa: E402 (after sys.path and Airflow's environment)

SYMBOLS = {"success": "ok", "failed": "FAILED", "upstream_failed": "upstream failed", "skipped": "skipped"}
# Shorter than the DAGs' defaults where those take long: the clickstream project with 2-second
# windows (the course's are 10 s: 300 s of warm-up alone) and a 5-second Firehose buffer.
DEMO_PARAMS = {"clickstream_project": {"window_seconds": 2, "archive_buffer_seconds": 5}}
# The report DAG reads runs through Airflow's REST API, which dag.test() has no server for: the demo
# writes the same report itself (labkit.local.demo_report). `--dag pipeline_report` runs it all the same
# (it needs an airflow_api connection to a running API server).
NOT_IN_DEMO = ("pipeline_report",)
# The nightly pipeline refreshes what Project 1 replicates, and its checks read what it curated: these run
# last, in this order, without teardown but the last (the demo's local AWS goes with the demo).
LAST = ("cdc_project", "nightly_pipeline", "curated_data_quality")


def in_demo_order(dag_ids: list[str]) -> list[str]:
    """The DAGs in the order the demo runs them: LAST ones at the end, in their order."""
    return [d for d in dag_ids if d not in LAST] + [d for d in LAST if d in dag_ids]


@contextlib.contextmanager
def local_aws(port: int):
    """Yield the endpoint of a local AWS on port, starting one (and stopping it after) if none serves there."""
    endpoint = f"http://127.0.0.1:{port}"
    if services.serving(endpoint):
        print(f"using local AWS already serving at {endpoint}")
        yield endpoint
        return
    log = services.WORK_DIR / "demo-local-aws.log"
    try:
        server = services.start_local_aws(port, log)
    except RuntimeError as error:
        raise SystemExit(str(error)) from None
    print(f"started local AWS at {endpoint} (log: {log})")
    try:
        yield endpoint
    finally:
        services.stop(server)


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
    return ", ".join(
        f"{key}={value:,}" if isinstance(value, int) else f"{key}={value}" for key, value in figures.items()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 4566)))
    parser.add_argument("--dag", action="append", help="run only this DAG (repeatable)")
    parser.add_argument("--keep", action="store_true", help="skip teardown, keep what the DAGs created")
    args = parser.parse_args(argv)

    with local_aws(args.port) as endpoint:
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = services.aws_connection(endpoint)
        import boto3

        from labkit.local import demo_report, runner
        from labkit.report import sources as report_sources

        airflow_log = services.WORK_DIR / "demo-airflow.log"
        airflow_log.write_text("")
        reports = []
        # Glue's GetJobRuns forgets a job's runs when the job is deleted (teardown): record them as they go.
        glue = boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
        since = datetime.now(UTC)
        with quiet_output(airflow_log) as out, report_sources.recording_glue_runs(glue, since) as glue_runs:
            dag_ids = in_demo_order(args.dag or [d for d in runner.dag_ids() if d not in NOT_IN_DEMO])
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
                    # What a later DAG of LAST reads stays: Project 1 for the nightly run, its curated data for the checks.
                    keep = args.keep or any(a == dag_id and b in dag_ids for a, b in zip(LAST, LAST[1:], strict=False))
                    conf = {"teardown": not keep, **DEMO_PARAMS.get(dag_id, {})}
                    reports.append(runner.run_dag(dag_id, conf, on_task_state=progress))
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
        with quiet_output(airflow_log):  # the ORM's and matplotlib's chatter to the log
            report = demo_report.write(reports, list(glue_runs.values()))
        print(f"\nReport: {report}")
        return 0 if all(r.state == "success" for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())

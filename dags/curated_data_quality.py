"""
### Curated data quality: Athena checks of what the nightly pipeline publishes

Scheduled on the nightly pipeline's Assets, not on time: it runs by itself once
`nightly_pipeline` has published all three of `s3://…-curated/curated/{flights,weather,cdc}`
(the aliases `nightly_curated_flights`, `nightly_curated_weather`, `nightly_curated_cdc`).

1. **Figures**: one Athena query per table (`sql/curated_data_quality/<table>.sql`) over
   `curated_flights`, `curated_weather` and the CDC tables `movies`, `ratings`, `customers`.
2. **Checks**, each named, with its figure and its bound: row counts; rows with NULL in a key column;
   keys held by more than one row (flights: carrier, flight, scheduled hour; weather: airport and local
   hour; the CDC tables: their primary keys); freshness (flights and weather: hours the newest curated
   row lags the newest raw one; ratings and customers: hours since the newest change merged); value
   ranges (delays and distances, temperatures, wind speed and humidity, ratings, balances, tiers).
3. **Results**, passed or not, as JSON in `s3://…-curated/quality/results/<run>.json` (and
   `latest.json`) and `artifacts/curated_data_quality/results.json`, with an Asset event for
   `s3://…-curated/quality/results` (alias `curated_quality_results`) that the report DAG runs on.
4. **Gate**: the run fails with a message naming every failed check, its figure and its bound, and
   that message goes to the SNS topic `<prefix>-nightly-alerts`; when all pass, its return value
   (XCom) is the list of checks.
5. **Teardown** (param `teardown`, off): the Athena query results of the checks.

Param `bounds` (JSON) replaces bounds for one run, e.g. `{"ratings.max_rating": 4.5}`; the Airflow
Variable `curated_quality_bounds` (same form) does so for the scheduled runs. Retries and SNS
notifications are the nightly pipeline's; a failed check is not retried (the data will not change by
waiting). Details: `docs/nightly-pipeline.md`.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.s3 import S3DeleteObjectsOperator
from airflow.sdk import chain, task

from labkit.core.dag import TEARDOWN, body_watcher, teardown_gate
from labkit.labs import nightly
from labkit.labs.nightly import CURATED, DATABASE, RESULTS

QUERY_RESULTS_PREFIX = "curated-data-quality/"

with nightly.pipeline_dag(
    "curated_data_quality",
    description="Athena data-quality checks of the curated data, run on the nightly pipeline's Assets",
    doc_md=__doc__,
    tags=["nightly", "athena", "data-quality", "assets"],
    schedule=list(nightly.CURATED_ALIASES.values()),
    params={"bounds": nightly.bounds_param()},
) as dag:
    figures = [
        AthenaOperator(
            task_id=f"figures_{table}",
            query=f"curated_data_quality/{table}.sql",
            database=DATABASE,
            output_location=f"s3://{RESULTS}/{QUERY_RESULTS_PREFIX}",
            sleep_time=1,
        )
        for table in nightly.QUALITY_TABLES
    ]

    @task(outlets=[nightly.QUALITY_RESULTS_ALIAS])
    def evaluate_checks(query_ids: dict, bucket: str, params=None, dag_run=None, outlet_events=None) -> list[dict]:
        """Each check's figure against its bound; the results to S3 and artifacts/, and their Asset event."""
        from airflow.sdk import Variable, timezone

        from labkit.labs.athena import fetch_rows

        overrides = {**Variable.get(nightly.BOUNDS_VARIABLE, default={}, deserialize_json=True), **params["bounds"]}
        rows = {table: fetch_rows(query_id)[0] for table, query_id in query_ids.items()}
        results = nightly.evaluate(rows, overrides)
        now = timezone.utcnow().isoformat()
        document = nightly.results_document(results, dag_run.dag_id, dag_run.run_id, now)
        written = nightly.write_results(document, bucket, dag_run.dag_id)
        outlet_events[nightly.QUALITY_RESULTS_ALIAS].add(
            nightly.results_asset(bucket),
            extra={"results_uri": written["uri"], "passed": document["passed"], "failed": document["failed"]},
        )
        return results

    results = evaluate_checks({query.task_id.removeprefix("figures_"): query.output for query in figures}, CURATED)

    @task(retries=0)
    def validate(results: list[dict]) -> dict:
        """Fails naming each failed check with its figure and bound; else the run's key figures."""
        return nightly.enforce(results)

    gate = teardown_gate()
    chain(
        figures,
        results,
        validate(results),
        gate,
        S3DeleteObjectsOperator(
            task_id="delete_query_results", bucket=RESULTS, prefix=QUERY_RESULTS_PREFIX, **TEARDOWN
        ),
    )
    body_watcher(dag, gate)
    nightly.quiet_watcher(dag)

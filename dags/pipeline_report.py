"""
### Pipeline report: one HTML page of what the DAGs did

Runs when the data-quality DAG publishes its results (its Asset alias `curated_quality_results`,
`s3://<prefix>-nightly-curated/quality/results`), or by hand. It writes a self-contained
`artifacts/report.html` (charts embedded as PNGs, nothing loaded from elsewhere) and the same page to
`s3://<prefix>-pipeline-report-artifacts/reports/<run id>.html` and `reports/latest.html`:

1. **DAG runs**: every DAG's latest run, each task as a bar on a timeline, with its key figures (the
   return value of its `validate` task) and per-task durations.
2. **Data quality**: the checks (check, table, figure, bound, passed) returned by the task that
   published the triggering asset event; "no data-quality run yet" without one.
3. **Clickstream**: the CTR / anomaly score chart the clickstream project drew in `artifacts/`.
4. **CDC latency**: from the cdc_project run's task times (last commit to every change in S3, and to
   the merges done; the DAG itself measures no per-change latency).
5. **Glue job runs**: GetJobRuns' StartedOn, CompletedOn and ExecutionTime for the jobs named with
   the prefix, since the earliest run on the page.

**Where the run times come from**: an Airflow 3 task cannot query the metadata DB, and the Task SDK
gives a task XComs (used here for the key figures and the checks) but not other runs' task times.
Those come from Airflow's REST API (`/api/v2`, a JWT from `/auth/token`) through the HTTP
connection `airflow_api` (host: the API server's URL; login and password: a user allowed to read
DAG runs). **Teardown** (param `teardown`) deletes the reports bucket.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.sdk import chain, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import nightly

BUCKET = "{{ names.bucket('artifacts') }}"

with lab_dag(
    "pipeline_report",
    lab="pipeline-report",
    description="Report: DAG and task timeline, key figures, data quality, clickstream chart, CDC latency, Glue job runs",
    doc_md=__doc__,
    tags=["report", "assets"],
    schedule=[nightly.QUALITY_RESULTS_ALIAS],
) as dag:
    create_reports_bucket = S3CreateBucketOperator(task_id="create_reports_bucket", bucket_name=BUCKET)

    @task
    def collect_runs(dag=None) -> list[dict]:
        """Every other DAG's latest run and its task instances, from the REST API."""
        from labkit.report import sources

        return sources.latest_runs(sources.AirflowApi.from_connection(), skip=(dag.dag_id,))

    @task
    def publish_report(runs: list[dict], bucket: str, ti=None, triggering_asset_events=None) -> dict:
        """Render the page with the runs' figures and the quality checks (XComs), write it locally and to S3."""
        from labkit.report import publish

        def pull(dag_id: str, run_id: str, task_id: str):
            return ti.xcom_pull(dag_id=dag_id, run_id=run_id, task_ids=task_id)

        return publish.publish(runs, bucket, ti.run_id, pull, triggering_asset_events)

    @task
    def validate(published: dict) -> dict:
        """The page in S3 names every DAG and its images are PNGs; the report's figures."""
        from labkit.report import publish

        return publish.check(published)

    published = publish_report(collect_runs(), BUCKET)
    checks = validate(published)

    gate = teardown_gate()
    delete_reports_bucket = S3DeleteBucketOperator(
        task_id="delete_reports_bucket", bucket_name=BUCKET, force_delete=True, **TEARDOWN
    )

    chain(create_reports_bucket, published, checks, gate, delete_reports_bucket)
    body_watcher(dag, gate)

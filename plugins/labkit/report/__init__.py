"""The pipeline report: one self-contained HTML page (artifacts/report.html) of what the DAGs did.

render (plain inputs -> HTML with its matplotlib charts embedded as PNG data URIs, nothing fetched
from elsewhere) and sources (where the inputs come from: Airflow's REST API, Glue's GetJobRuns,
the data-quality results, the clickstream chart, the CDC project's task times), and publish (the
pipeline_report DAG's work: render, write locally and to S3, check). Used by `make demo` (labkit.local)
and the pipeline_report DAG. Built on labkit.core; never imports labkit.local.
"""

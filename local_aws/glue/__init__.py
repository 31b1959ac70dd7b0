"""Glue: job runs on a warm local Spark driver, crawlers that write the Data Catalog, triggers.

What of moto is intercepted (the patches) and what really runs (the engine), per part:

- jobs: jobs.py, job_definitions.py (patches); job_runner.py (queue and runner),
  spark_worker.py (the driver process), script_run.py (one run inside it), run_logs.py,
  bookmarks.py, runtime/awsglue/ (the local awsglue package).
- crawlers: crawlers.py, crawler_requests.py (patches); crawl_run.py (one crawl),
  crawl_scan.py (S3 targets), crawl_layout.py, schema_inference.py, crawl_catalog.py (writes).
- Data Catalog: catalog.py (patches).
- triggers and workflows: triggers.py (patches and the scheduler), cron.py, events.py (run-finished
  notifications between the parts).

Workers (the job runner, crawls, the scheduler, event delivery) belong to the running server:
local_aws/workers.py.
"""

"""What every Glue lab DAG creates in setup and removes in teardown.

Each Glue lab has a data bucket, an Athena results bucket, a Glue service role that reads and
writes the data bucket, the job script and the `etl` package under `scripts/` in the data
bucket, a Glue database, a raw and a curated crawler and one job. The names are templates
(`{{ names... }}`) that render when a task runs, so call these functions inside a lab DAG
(`labkit.core.dag.lab_dag`), which provides the `names` macro.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.operators.glue_catalog import (
    GlueCatalogCreateDatabaseOperator,
    GlueCatalogDeleteDatabaseOperator,
)
from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerDeleteOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.providers.amazon.aws.transfers.local_to_s3 import LocalFilesystemToS3Operator
from airflow.sdk import BaseOperator, cross_downstream

from labkit.core import paths
from labkit.core.dag import TEARDOWN
from labkit.operators.glue import GlueDeleteJobOperator
from labkit.operators.iam import IamCreateRoleOperator, IamDeleteRoleOperator
from labkit.operators.packaging import S3UploadPythonPackageOperator

DATA = "{{ names.bucket('data') }}"
RESULTS = "{{ names.bucket('athena-results') }}"
DATABASE = "{{ names.database }}"
ROLE = "{{ names.resource('glue-role') }}"
ROLE_ARN = "{{ ti.xcom_pull(task_ids='create_glue_role') }}"
RAW_CRAWLER = "{{ names.resource('raw-crawler') }}"
CURATED_CRAWLER = "{{ names.resource('curated-crawler') }}"

ETL_PACKAGE_DIR = paths.GLUE_JOBS_DIR / "etl"
ETL_PACKAGE_KEY = "scripts/etl.zip"
GLUE_SERVICE_POLICY = "arn:aws:iam::aws:policy/service-role/AWSGlueServiceRole"
# Crawlers keep the catalog in step with the data: changed schemas update, vanished tables go.
SCHEMA_CHANGE_POLICY = {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DELETE_FROM_DATABASE"}


def script_key(script: Path) -> str:
    return f"scripts/{script.name}"


def script_location(script: Path) -> str:
    return f"s3://{DATA}/{script_key(script)}"


def glue_role_policy(bucket: str) -> dict[str, Any]:
    """Inline policy of the Glue role: read and write the lab's data bucket."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def job_definition(default_arguments: dict[str, str] | None = None, bucket: str = DATA) -> dict[str, Any]:
    """create_job_kwargs of a lab job: Glue 5.0 on two G.1X workers, the etl package, a temp dir."""
    return {
        "GlueVersion": "5.0",
        "WorkerType": "G.1X",
        "NumberOfWorkers": 2,
        "Timeout": 30,
        "DefaultArguments": {
            "--extra-py-files": f"s3://{bucket}/{ETL_PACKAGE_KEY}",
            "--TempDir": f"s3://{bucket}/tmp/",
            "--job-language": "python",
            **(default_arguments or {}),
        },
    }


def crawler_config(name: str, table_prefix: str, s3_paths: str | Sequence[str]) -> dict[str, Any]:
    """A crawler run by the lab's role into the lab's database, over one or more S3 prefixes."""
    targets = [s3_paths] if isinstance(s3_paths, str) else list(s3_paths)
    return {
        "Name": name,
        "Role": ROLE_ARN,
        "DatabaseName": DATABASE,
        "TablePrefix": table_prefix,
        "Targets": {"S3Targets": [{"Path": path} for path in targets]},
        "SchemaChangePolicy": SCHEMA_CHANGE_POLICY,
    }


def setup(*, script: Path, database_description: str, stage_data: BaseOperator | Any) -> list:
    """The buckets and the role first; then the lab's data, the job script, the etl package and the database.

    `stage_data` is the lab's own task that uploads its raw data to DATA. Returns the tasks that
    finish setup (what the lab's work comes after).
    """
    first = [
        S3CreateBucketOperator(task_id="create_data_bucket", bucket_name=DATA),
        S3CreateBucketOperator(task_id="create_results_bucket", bucket_name=RESULTS),
        IamCreateRoleOperator(
            task_id="create_glue_role",
            role_name=ROLE,
            service="glue.amazonaws.com",
            managed_policy_arns=[GLUE_SERVICE_POLICY],
            inline_policy=glue_role_policy(DATA),
        ),
    ]
    then = [
        stage_data,
        LocalFilesystemToS3Operator(
            task_id="upload_job_script",
            filename=str(script),
            dest_bucket=DATA,
            dest_key=script_key(script),
            replace=True,
        ),
        S3UploadPythonPackageOperator(
            task_id="upload_etl_package", package_dir=str(ETL_PACKAGE_DIR), bucket_name=DATA, key=ETL_PACKAGE_KEY
        ),
        GlueCatalogCreateDatabaseOperator(
            task_id="create_database", database_name=DATABASE, description=database_description
        ),
    ]
    cross_downstream(first, then)
    return then


def teardown(*, job: str, before: Sequence[BaseOperator] = ()) -> list[BaseOperator]:
    """Everything setup made plus the crawlers and the job; `before`: the lab's own teardown tasks."""
    return [
        *before,
        GlueCrawlerDeleteOperator(task_id="delete_raw_crawler", crawler_name=RAW_CRAWLER, **TEARDOWN),
        GlueCrawlerDeleteOperator(task_id="delete_curated_crawler", crawler_name=CURATED_CRAWLER, **TEARDOWN),
        GlueDeleteJobOperator(task_id="delete_job", job_name=job, **TEARDOWN),
        GlueCatalogDeleteDatabaseOperator(task_id="delete_database", database_name=DATABASE, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_data_bucket", bucket_name=DATA, force_delete=True, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_results_bucket", bucket_name=RESULTS, force_delete=True, **TEARDOWN),
        IamDeleteRoleOperator(task_id="delete_glue_role", role_name=ROLE, **TEARDOWN),
    ]


def count_json_lines(bucket: str, prefix: str, aws_conn_id: str = "aws_default") -> int:
    """Records in the JSON-lines files under a prefix (a Spark job's quarantine output)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=aws_conn_id)
    total = 0
    for key in hook.list_keys(bucket_name=bucket, prefix=prefix):
        if key.rsplit("/", 1)[-1].startswith(("_", ".")):
            continue  # _SUCCESS and friends
        body = hook.read_key(key, bucket_name=bucket)
        total += sum(1 for line in body.splitlines() if line.strip() and json.loads(line))
    return total

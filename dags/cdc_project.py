"""
### Project 1: change data capture from RDS MySQL through DMS into S3, merged to current state

The course's first project, end to end: an RDS MySQL database; DMS full-loads its tables into
S3 and then replicates every change; each new DMS file in S3 invokes a Lambda that starts a Glue
job; the PySpark job applies the inserts, updates and deletes so that S3 always holds the
database's current state, which Athena queries.

1. **Setup**: data and Athena-results buckets; a DB parameter group with the binary log DMS needs
   (`binlog_format=ROW`, `binlog_row_image=FULL`, `binlog_row_metadata=FULL`); the RDS MySQL
   instance (master password managed by RDS in Secrets Manager; backups on, so binary logging is
   on); the source tables from `sql/mysql/` with MovieLens `movies` and `ratings` and a
   `shop.customers` table (DECIMAL, DATETIME(6), ENUM, JSON, utf8mb4, NULLs); binlog retention;
   a replication user whose random password lives only in Secrets Manager; the DMS roles, the
   replication instance, the source (credentials from the secret) and S3 target endpoints (typed
   Parquet) and their connection tests; the Glue merge job (`glue_jobs/cdc_merge.py`,
   `MaxConcurrentRuns=1`, job bookmarks); the Lambda `lambdas/cdc_merge_trigger.py` and the
   bucket notification on `cdc/` that invokes it.
2. **Full load**: the DMS task (full load and ongoing replication) is created and started; its
   `LOAD` files trigger the first merges; a catch-up run of the job makes sure every file is in.
3. **Workload**: `workload_size` seeded inserts, updates and deletes over `workload_seconds`,
   with a key change (DELETE + INSERT) and a new column half-way; DMS writes them to S3 within
   seconds, each file starts (or is left to) a merge run.
4. **Validation**: DMS's table statistics moved by exactly the workload's counts; once the merges
   are done, each table's current state read through Athena equals the MySQL table row for row
   (count and checksum over every column).
5. **Teardown** (param `teardown`): task, endpoints, replication instance, DB instance, parameter
   group, secret, job, Lambda, catalog, buckets and roles (`dms-vpc-role`, shared by the account's
   DMS, stays).

A rerun without teardown finds the pipeline running: it reuses the instance, the task (resuming
it if stopped) and the current state, and pushes a new workload through. Names derive from the
Airflow Variable `aws_name_prefix` (default `ade`); the `aws_default` connection decides whether
this runs on local AWS or in an AWS account (README: what an account needs).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.dms import (
    DmsCreateTaskOperator,
    DmsStartTaskOperator,
)
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.glue_catalog import (
    GlueCatalogCreateDatabaseOperator,
    GlueCatalogDeleteDatabaseOperator,
)
from airflow.providers.amazon.aws.operators.rds import RdsCreateDbInstanceOperator, RdsDeleteDbInstanceOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.providers.amazon.aws.sensors.rds import RdsDbSensor
from airflow.providers.amazon.aws.transfers.local_to_s3 import LocalFilesystemToS3Operator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, TriggerRule, chain, cross_downstream, task

from labkit.core import paths
from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import aws_lambda, cdc, cdc_tasks
from labkit.labs import glue as glue_lab
from labkit.operators.dms import (
    DmsCreateEndpointOperator,
    DmsCreateReplicationInstanceOperator,
    DmsDeleteEndpointOperator,
    DmsDeleteReplicationInstanceOperator,
    DmsTestConnectionOperator,
)
from labkit.operators.glue import GlueDeleteJobOperator
from labkit.operators.iam import IamCreateRoleOperator, IamDeleteRoleOperator
from labkit.operators.lambda_function import LambdaAddPermissionOperator
from labkit.operators.packaging import S3UploadPythonPackageOperator
from labkit.operators.rds import RdsCreateDbParameterGroupOperator, RdsDeleteDbParameterGroupOperator
from labkit.operators.s3_notifications import S3PutBucketNotificationOperator

DATA = "{{ names.bucket('data') }}"
RESULTS = "{{ names.bucket('athena-results') }}"
DATABASE = "{{ names.database }}"
DB_INSTANCE = "{{ names.resource('source-db') }}"
PARAMETER_GROUP = "{{ names.resource('binlog') }}"
READER_SECRET = "{{ names.resource('dms-reader') }}"
DMS_ROLE = "{{ names.resource('dms-role') }}"
DMS_ROLE_ARN = "{{ ti.xcom_pull(task_ids='create_dms_role') }}"
REPLICATION_INSTANCE = "{{ names.resource('replication') }}"
REPLICATION_INSTANCE_ARN = "{{ ti.xcom_pull(task_ids='create_replication_instance') }}"
SOURCE_ENDPOINT = "{{ names.resource('mysql-source') }}"
TARGET_ENDPOINT = "{{ names.resource('s3-target') }}"
TASK = "{{ names.resource('cdc-task') }}"
TASK_ARN = "{{ ti.xcom_pull(task_ids='replication_task', key='arn') }}"
GLUE_ROLE = "{{ names.resource('glue-role') }}"
GLUE_ROLE_ARN = "{{ ti.xcom_pull(task_ids='create_glue_role') }}"
JOB = "{{ names.resource('merge') }}"
FUNCTION = "{{ names.resource('merge-trigger') }}"
SCRIPT = paths.GLUE_JOBS_DIR / "cdc_merge.py"
DMS_VPC_ROLE = "dms-vpc-role"  # the name AWS DMS looks for (account-wide)

with lab_dag(
    "cdc_project",
    lab="cdc-project",
    description="Project 1: RDS MySQL -> DMS (full load + CDC) -> S3 -> Lambda -> Glue merge to current state, checked with Athena",
    doc_md=__doc__,
    tags=["project", "rds", "dms", "lambda", "glue", "athena", "cdc"],
    params={
        "workload_size": Param(1000, type="integer", minimum=0, description="Changes the workload makes"),
        "workload_seconds": Param(30, type="integer", minimum=0, description="Seconds the workload is spread over"),
        "seed": Param(42, type="integer", description="Seed of the workload (same source state + seed: same changes)"),
    },
    dagrun_timeout=timedelta(hours=2),
) as dag:
    # --- setup: buckets, the source database
    create_buckets = [
        S3CreateBucketOperator(task_id="create_data_bucket", bucket_name=DATA),
        S3CreateBucketOperator(task_id="create_results_bucket", bucket_name=RESULTS),
    ]
    create_parameter_group = RdsCreateDbParameterGroupOperator(
        task_id="create_parameter_group",
        group_name=PARAMETER_GROUP,
        family="mysql8.0",
        description="CDC project: the binary log DMS reads",
        parameters=cdc.BINLOG_PARAMETERS,
    )

    @task.branch
    def db_instance_exists(identifier: str) -> str:
        """A rerun without teardown reuses the instance (the provider's create fails on an existing one)."""
        return "wait_for_db_instance" if cdc_tasks.db_instance(identifier) else "create_db_instance"

    create_db_instance = RdsCreateDbInstanceOperator(
        task_id="create_db_instance",
        db_instance_identifier=DB_INSTANCE,
        db_instance_class="db.t3.micro",
        engine="mysql",
        rds_kwargs={
            "EngineVersion": "8.0",  # the family of the parameter group; RDS picks the minor version
            "MasterUsername": "cdc_admin",
            "ManageMasterUserPassword": True,  # RDS keeps the password in Secrets Manager
            "AllocatedStorage": 20,
            "BackupRetentionPeriod": 1,  # turns binary logging on
            "DBParameterGroupName": PARAMETER_GROUP,
            "PubliclyAccessible": True,  # Airflow loads the tables and runs the workload (README: AWS)
        },
        wait_for_completion=False,
    )
    wait_for_db_instance = RdsDbSensor(
        task_id="wait_for_db_instance",
        db_identifier=DB_INSTANCE,
        target_statuses=["available"],
        poke_interval=5,
        timeout=1800,
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )

    @task
    def prepare_source(identifier: str, reader_secret: str) -> dict:
        """Tables and seed data (first run only), binlog retention, the replication user and its secret."""
        return cdc_tasks.prepare_source(identifier, reader_secret)

    source = prepare_source(DB_INSTANCE, READER_SECRET)

    # --- setup: DMS
    create_dms_vpc_role = IamCreateRoleOperator(
        task_id="create_dms_vpc_role",
        role_name=DMS_VPC_ROLE,
        service="dms.amazonaws.com",
        managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"],
        keep_existing=True,  # account-wide: created if missing, never changed
    )
    create_dms_role = IamCreateRoleOperator(
        task_id="create_dms_role",
        role_name=DMS_ROLE,
        service="dms.amazonaws.com",
        inline_policy=cdc.dms_role_policy(DATA, READER_SECRET),
    )
    create_replication_instance = DmsCreateReplicationInstanceOperator(
        task_id="create_replication_instance",
        identifier=REPLICATION_INSTANCE,
        instance_kwargs={"AllocatedStorage": 20, "MultiAZ": False, "PubliclyAccessible": False},
    )
    create_source_endpoint = DmsCreateEndpointOperator(
        task_id="create_source_endpoint",
        identifier=SOURCE_ENDPOINT,
        endpoint_type="source",
        endpoint_kwargs={
            "EngineName": "mysql",
            "MySQLSettings": {
                "SecretsManagerSecretId": "{{ ti.xcom_pull(task_ids='prepare_source')['reader_secret_arn'] }}",
                "SecretsManagerAccessRoleArn": DMS_ROLE_ARN,
            },
        },
    )
    create_target_endpoint = DmsCreateEndpointOperator(
        task_id="create_target_endpoint",
        identifier=TARGET_ENDPOINT,
        endpoint_type="target",
        endpoint_kwargs={"EngineName": "s3", "S3Settings": cdc.s3_settings(DATA, DMS_ROLE_ARN)},
    )
    test_connections = [
        DmsTestConnectionOperator(
            task_id=f"test_{end}_connection",
            replication_instance_arn=REPLICATION_INSTANCE_ARN,
            endpoint_arn=f"{{{{ ti.xcom_pull(task_ids='create_{end}_endpoint') }}}}",
        )
        for end in ("source", "target")
    ]

    # --- setup: the merge (Glue job, Lambda, bucket notification)
    create_glue_role = IamCreateRoleOperator(
        task_id="create_glue_role",
        role_name=GLUE_ROLE,
        service="glue.amazonaws.com",
        managed_policy_arns=[glue_lab.GLUE_SERVICE_POLICY],
        inline_policy=glue_lab.glue_role_policy(DATA),
    )
    upload_merge_script = LocalFilesystemToS3Operator(
        task_id="upload_merge_script",
        filename=str(SCRIPT),
        dest_bucket=DATA,
        dest_key=glue_lab.script_key(SCRIPT),
        replace=True,
    )
    upload_etl_package = S3UploadPythonPackageOperator(
        task_id="upload_etl_package",
        package_dir=str(glue_lab.ETL_PACKAGE_DIR),
        bucket_name=DATA,
        key=glue_lab.ETL_PACKAGE_KEY,
    )
    create_database = GlueCatalogCreateDatabaseOperator(
        task_id="create_database", database_name=DATABASE, description="CDC project: current state of the source"
    )
    merge_job = {
        "job_name": JOB,
        "script_location": glue_lab.script_location(SCRIPT),
        "iam_role_arn": GLUE_ROLE_ARN,
        "create_job_kwargs": glue_lab.job_definition(cdc.merge_arguments(DATA, DATABASE)),
        "job_desc": "CDC project: merge DMS's change files into the current state",
        "concurrent_run_limit": 1,
    }

    @task
    def create_merge_job(job: dict) -> str:
        """The job the Lambda starts (it must exist before DMS writes), created or brought up to date."""
        from airflow.providers.amazon.aws.hooks.glue import GlueJobHook

        return GlueJobHook(
            job_name=job["job_name"], desc=job["job_desc"], script_location=job["script_location"],
            iam_role_arn=job["iam_role_arn"], create_job_kwargs=job["create_job_kwargs"],
            concurrent_run_limit=job["concurrent_run_limit"], update_config=True,
        ).create_or_update_glue_job()  # fmt: skip

    job_created = create_merge_job(merge_job)
    create_function, wait_for_function_active = aws_lambda.setup(
        function=FUNCTION,
        module="cdc_merge_trigger",
        description="CDC project: start the Glue merge job for each new DMS file",
        timeout=30,
        memory_mb=128,
        environment={"JOB_NAME": JOB},
        inline_policy=cdc.trigger_policy(JOB),
    )
    allow_s3_to_invoke = LambdaAddPermissionOperator(
        task_id="allow_s3_to_invoke",
        function_name=FUNCTION,
        statement_id="s3-invoke",
        principal="s3.amazonaws.com",
        source_arn=f"arn:aws:s3:::{DATA}",
        source_account="{{ ti.xcom_pull(task_ids='create_function').split(':')[4] }}",
    )
    notify_merge_of_dms_files = S3PutBucketNotificationOperator(
        task_id="notify_merge_of_dms_files",
        bucket_name=DATA,
        notification_configuration={
            "LambdaFunctionConfigurations": [{
                "Id": "merge-dms-files", "LambdaFunctionArn": aws_lambda.FUNCTION_ARN, "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"{cdc.CDC_FOLDER}/"},
                                                   {"Name": "suffix", "Value": ".parquet"}]}},
            }]
        },
    )  # fmt: skip

    # --- work: the DMS task, full load
    @task.branch
    def replication_task(identifier: str, ti=None) -> str:
        """Create and start the task, resume it if it was stopped, or go on with the running one."""
        found = cdc_tasks.replication_task(identifier)
        if found:
            ti.xcom_push(key="arn", value=found["ReplicationTaskArn"])
        if found is None:
            return "create_replication_task"
        return "task_is_running" if found["Status"] in ("running", "starting") else "resume_replication_task"

    create_replication_task = DmsCreateTaskOperator(
        task_id="create_replication_task",
        replication_task_id=TASK,
        source_endpoint_arn="{{ ti.xcom_pull(task_ids='create_source_endpoint') }}",
        target_endpoint_arn="{{ ti.xcom_pull(task_ids='create_target_endpoint') }}",
        replication_instance_arn=REPLICATION_INSTANCE_ARN,
        table_mappings=cdc.table_mappings(),
        migration_type="full-load-and-cdc",
    )
    start_replication_task = DmsStartTaskOperator(
        task_id="start_replication_task",
        replication_task_arn="{{ ti.xcom_pull(task_ids='create_replication_task') }}",
        start_replication_task_type="start-replication",
    )
    resume_replication_task = DmsStartTaskOperator(
        task_id="resume_replication_task",
        replication_task_arn=TASK_ARN,
        start_replication_task_type="resume-processing",
    )
    task_is_running = EmptyOperator(task_id="task_is_running")

    @task.sensor(poke_interval=5, timeout=3600, mode="poke", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def wait_for_full_load(identifier: str):
        """Every table is loaded and the task is replicating; a failed task fails this with DMS's reason."""
        from airflow.sdk import PokeReturnValue

        return PokeReturnValue(is_done=cdc_tasks.full_load_done(identifier))

    full_load = wait_for_full_load(TASK)

    @task.sensor(poke_interval=5, timeout=1800, mode="poke")
    def wait_for_merges(job_name: str):
        """No merge run is going (the ones the Lambda started for the files so far are done)."""
        from airflow.sdk import PokeReturnValue

        return PokeReturnValue(is_done=cdc_tasks.merges_idle(job_name))

    def catch_up(task_id: str) -> GlueJobOperator:
        """A run of the merge job after the Lambda's: it merges any file no run has taken yet (usually none).

        Its retries cover a run the Lambda starts meanwhile (ConcurrentRunsExceededException).
        """
        return GlueJobOperator(
            task_id=task_id,
            **merge_job,
            script_args={"--source_key": f"the cdc_project DAG ({task_id}): files no run took yet"},
            wait_for_completion=True,
            verbose=True,
            job_poll_interval=2,
            retries=6,
            retry_delay=timedelta(seconds=15),
        )

    initial_merges_done = wait_for_merges.override(task_id="wait_for_initial_merges")(JOB)
    initial_merge = catch_up("initial_merge")

    # --- work: the workload, CDC, merges
    @task
    def statistics_before(identifier: str) -> dict:
        """DMS's table statistics before the workload (a rerun finds the counts of earlier runs)."""
        return cdc_tasks.task_statistics(identifier)

    before = statistics_before(TASK)

    @task
    def run_workload(identifier: str, params: dict) -> dict:
        """The seeded inserts, updates and deletes, committed in MySQL over workload_seconds."""
        return cdc_tasks.workload(identifier, params["workload_size"], params["seed"], params["workload_seconds"])

    workload = run_workload(DB_INSTANCE)

    @task.sensor(poke_interval=3, timeout=1800, mode="poke")
    def wait_for_cdc(identifier: str, before: dict, workload: dict):
        """DMS has written every change of the workload to S3 (its statistics moved by the workload's counts)."""
        from airflow.sdk import PokeReturnValue

        return PokeReturnValue(is_done=cdc_tasks.cdc_caught_up(identifier, before, workload["counts"]))

    cdc_done = wait_for_cdc(TASK, before, workload)
    merges_done = wait_for_merges.override(task_id="wait_for_merges")(JOB)
    final_merge = catch_up("final_merge")

    # --- checks
    current_state = [
        AthenaOperator(
            task_id=f"query_{name.split('.')[1]}",
            query=f'SELECT * FROM "{name.split(".")[1]}"',
            database=DATABASE,
            output_location=f"s3://{RESULTS}/cdc-project/",
            sleep_time=1,
        )
        for name in cdc.TABLES
    ]

    @task
    def validate(
        identifier: str, task_identifier: str, source: dict, before: dict, workload: dict, query_ids: dict
    ) -> dict:
        """The current state equals MySQL row for row; DMS counted exactly the workload's changes."""
        return cdc_tasks.validate(identifier, task_identifier, source, before, workload, query_ids)

    checks = validate(
        DB_INSTANCE, TASK, source, before, workload, {query.task_id: query.output for query in current_state}
    )

    # --- teardown
    gate = teardown_gate()

    @task(**TEARDOWN)
    def delete_replication_task(identifier: str) -> None:
        """Stopped first (a running task cannot be deleted), then deleted; a missing task is not an error.

        By identifier: the provider's DmsStopTaskOperator/DmsDeleteTaskOperator need an ARN, which a
        teardown after a failed setup does not have.
        """
        cdc_tasks.delete_replication_task(identifier)

    @task(**TEARDOWN)
    def delete_reader_secret(name: str) -> None:
        cdc_tasks.delete_secret(name)

    delete_task = delete_replication_task(TASK)
    delete_endpoints = [
        DmsDeleteEndpointOperator(task_id=f"delete_{end}_endpoint", identifier=identifier, **TEARDOWN)
        for end, identifier in (("source", SOURCE_ENDPOINT), ("target", TARGET_ENDPOINT))
    ]
    delete_replication_instance = DmsDeleteReplicationInstanceOperator(
        task_id="delete_replication_instance", identifier=REPLICATION_INSTANCE, **TEARDOWN
    )
    delete_db_instance = RdsDeleteDbInstanceOperator(
        task_id="delete_db_instance",
        db_instance_identifier=DB_INSTANCE,
        rds_kwargs={"SkipFinalSnapshot": True, "DeleteAutomatedBackups": True},
        wait_for_completion=True,
        waiter_delay=5,
        **TEARDOWN,
    )
    delete_parameter_group = RdsDeleteDbParameterGroupOperator(
        task_id="delete_parameter_group", group_name=PARAMETER_GROUP, **TEARDOWN
    )
    merge_teardown = [
        GlueDeleteJobOperator(task_id="delete_merge_job", job_name=JOB, **TEARDOWN),
        GlueCatalogDeleteDatabaseOperator(task_id="delete_database", database_name=DATABASE, **TEARDOWN),
        IamDeleteRoleOperator(task_id="delete_glue_role", role_name=GLUE_ROLE, **TEARDOWN),
        IamDeleteRoleOperator(task_id="delete_dms_role", role_name=DMS_ROLE, **TEARDOWN),
        delete_reader_secret(READER_SECRET),
        *aws_lambda.teardown(function=FUNCTION),
    ]
    delete_buckets = [
        S3DeleteBucketOperator(task_id="delete_data_bucket", bucket_name=DATA, force_delete=True, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_results_bucket", bucket_name=RESULTS, force_delete=True, **TEARDOWN),
    ]

    # --- order
    chain(create_parameter_group, db_instance_exists(DB_INSTANCE), [create_db_instance, wait_for_db_instance])
    chain(create_db_instance, wait_for_db_instance, source)
    chain(create_buckets, create_dms_role)
    chain(create_dms_role, create_target_endpoint)
    chain(create_dms_vpc_role, create_replication_instance)
    chain([source, create_dms_role], create_source_endpoint)
    cross_downstream([create_replication_instance, create_source_endpoint, create_target_endpoint], test_connections)
    cross_downstream(create_buckets, [create_glue_role, upload_merge_script, upload_etl_package, create_database])
    chain([create_glue_role, upload_merge_script, upload_etl_package, create_database], job_created)
    chain([job_created, *create_buckets], create_function)
    chain(wait_for_function_active, allow_s3_to_invoke, notify_merge_of_dms_files)
    branch = replication_task(TASK)
    chain([*test_connections, notify_merge_of_dms_files], branch)
    chain(branch, create_replication_task, start_replication_task, full_load)
    chain(branch, [resume_replication_task, task_is_running], full_load)
    chain(full_load, initial_merges_done, initial_merge, before, workload, cdc_done, merges_done, final_merge)
    chain(final_merge, current_state)
    chain(current_state, checks, gate)
    chain(gate, delete_task, delete_endpoints, delete_replication_instance)
    chain(gate, delete_db_instance, delete_parameter_group)
    chain(delete_task, merge_teardown)
    cross_downstream(merge_teardown, delete_buckets)
    body_watcher(dag, gate)

"""
### Project 2: real-time clickstream anomaly detection

The course's second project on today's AWS: impression and click events stream into Kinesis;
Firehose archives the raw stream to S3; every tumbling window's click-through rate (CTR = clicks /
impressions × 100) is scored with a random cut forest (the course's Kinesis Data Analytics SQL
application, retired by AWS, becomes a Lambda behind a Kinesis event source mapping with
`TumblingWindowInSeconds`, scoring with AWS's own RCF library); a score above the threshold sends
"Anomaly detected with a click through rate of X% and an anomaly score of Y" through SNS, by email
and to an SQS queue.

1. **Setup**: a code bucket with the detector's package (`lambdas/ctr_anomaly_detector.py` and the
   `krcf` wheel), then the CloudFormation stack `cloudformation/clickstream.yaml`: the stream,
   Firehose and its role, the data bucket, the SNS topic with its email and SQS subscriptions,
   the detector, its role and its event source mapping.
2. **Events**: the generator (`python -m labkit.clickstream`, the Kinesis Data Generator's job)
   sends `events_per_window` events per window through the phases: a warm-up the forest learns
   from, then normal / drop / normal / burst / normal (param `phases`, in windows; the drop comes
   first because a forest whose small sample still holds burst windows scores a later drop lower).
3. **Validation**: every window was reported and scored, the Firehose archive (through Athena)
   holds exactly the events sent, alerts arrived (read from the SQS subscription) within two
   windows of each anomaly and never in normal traffic.
4. **Chart**: CTR and score per window, phases shaded, alerts marked:
   `artifacts/clickstream_project/<run>.png`.
5. **Teardown** (param `teardown`): the data bucket emptied, the stack deleted, the code bucket and
   the Athena database removed.

The course's threshold is 2; this DAG's default is 2.8, which separates normal windows of 1,000
events from both anomalies (docs/clickstream-detector.md measures why). Names derive from the
Airflow Variable `aws_name_prefix` (default `ade`); the `aws_default` connection decides whether
this runs on local AWS or in an AWS account.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.amazon.aws.operators.athena import AthenaOperator
from airflow.providers.amazon.aws.operators.cloud_formation import (
    CloudFormationCreateStackOperator,
    CloudFormationDeleteStackOperator,
)
from airflow.providers.amazon.aws.operators.glue_catalog import (
    GlueCatalogCreateDatabaseOperator,
    GlueCatalogDeleteDatabaseOperator,
)
from airflow.providers.amazon.aws.operators.s3 import (
    S3CreateBucketOperator,
    S3DeleteBucketOperator,
    S3DeleteObjectsOperator,
)
from airflow.providers.amazon.aws.sensors.cloud_formation import (
    CloudFormationCreateStackSensor,
    CloudFormationDeleteStackSensor,
)
from airflow.sdk import Param, chain, task

from labkit.core import paths
from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import clickstream_project as project
from labkit.operators.packaging import S3UploadLambdaPackageOperator

STACK = "{{ names.resource('clickstream') }}"
CODE = "{{ names.bucket('code') }}"
CODE_KEY = "lambda/ctr_anomaly_detector.zip"
RESULTS = "{{ names.bucket('athena-results') }}"
DATABASE = "{{ names.database }}"
OUTPUTS = "{{ ti.xcom_pull(task_ids='stack_outputs') }}"
DATA = "{{ ti.xcom_pull(task_ids='stack_outputs')['DataBucket'] }}"

with lab_dag(
    "clickstream_project",
    lab="clickstream-project",
    description="Project 2: Kinesis clickstream, Firehose archive, CTR per tumbling window scored with a random cut forest, SNS alerts",
    doc_md=__doc__,
    tags=["project", "kinesis", "firehose", "lambda", "sns", "cloudformation", "athena"],
    params={
        "window_seconds": Param(
            10, type="integer", minimum=1, maximum=900, description="Tumbling window (the course's 10 s)"
        ),
        "events_per_window": Param(
            1000, type="integer", minimum=10, description="Events per window (rate = this / window_seconds)"
        ),
        "phases": Param(
            project.DEFAULT_PHASES,
            type="string",
            description="name:windows:ctr% ...; first 'warmup' (>= 24 windows), anomalies are any name but normal",
        ),
        "threshold": Param(
            2.8, type="number", minimum=0, description="Alert above this anomaly score (the course's 2)"
        ),
        "alert_email": Param(
            "alerts@example.com", type="string", description="Address the SNS email subscription sends to"
        ),
        "archive_buffer_seconds": Param(
            60, type="integer", minimum=0, maximum=900, description="Firehose's buffer interval"
        ),
        "seed": Param(7, type="integer", description="The generator's seed"),
    },  # fmt: skip
    dagrun_timeout=timedelta(hours=2),
) as dag:
    # --- setup
    create_code_bucket = S3CreateBucketOperator(task_id="create_code_bucket", bucket_name=CODE)
    create_results_bucket = S3CreateBucketOperator(task_id="create_results_bucket", bucket_name=RESULTS)
    upload_detector = S3UploadLambdaPackageOperator(
        task_id="upload_detector",
        module_file=str(paths.LAMBDAS_DIR / "ctr_anomaly_detector.py"),
        distributions=["krcf"],
        bucket_name=CODE,
        key=CODE_KEY,
    )

    @task
    def stack_request(stack: str, code_bucket: str, params: dict, ti=None) -> dict:
        """CreateStack's arguments: the template from cloudformation/ and the run's parameters."""
        from labkit.core import naming

        return {
            "TemplateBody": (paths.PROJECT_ROOT / project.TEMPLATE).read_text(),
            "Parameters": project.stack_parameters(
                naming.current_prefix().lower(), code_bucket, CODE_KEY,
                params["window_seconds"], params["threshold"], params["alert_email"], params["archive_buffer_seconds"],
            ),
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "OnFailure": "DELETE",
            "TimeoutInMinutes": 30,
        }  # fmt: skip

    request = stack_request(STACK, CODE)
    create_stack = CloudFormationCreateStackOperator(
        task_id="create_stack", stack_name=STACK, cloudformation_parameters=request
    )
    wait_for_stack = CloudFormationCreateStackSensor(
        task_id="wait_for_stack", stack_name=STACK, poke_interval=5, timeout=1800
    )

    @task
    def stack_outputs(stack: str) -> dict:
        from airflow.providers.amazon.aws.hooks.cloud_formation import CloudFormationHook

        (found,) = CloudFormationHook().conn.describe_stacks(StackName=stack)["Stacks"]
        return {output["OutputKey"]: output["OutputValue"] for output in found.get("Outputs", [])}

    outputs = stack_outputs(STACK)
    create_database = GlueCatalogCreateDatabaseOperator(
        task_id="create_database", database_name=DATABASE, description="Clickstream project: archive and windows"
    )

    # --- work: the events
    @task(execution_timeout=timedelta(hours=1))
    def send_events(outputs: dict, params: dict) -> dict:
        """The generator's phases into the stream; what was delivered per phase (with the phases' times)."""
        from airflow.providers.amazon.aws.hooks.kinesis import KinesisHook

        from labkit.clickstream.producer import send

        run = project.plan(params["phases"], params["window_seconds"], params["events_per_window"])
        kinesis = KinesisHook(aws_conn_id="aws_default").conn
        # Start on a window boundary: tumbling windows are aligned to the clock, so each phase then
        # fills whole windows (a window straddling two phases is half anomaly, and the forest learns it).
        start = project.next_window_start(run.window_seconds)
        return send(
            kinesis, outputs["StreamName"], run.phases, run.rate, params["seed"], start=start, progress=None
        ).to_dict()

    sent = send_events(outputs)

    @task.sensor(poke_interval=5, timeout=1800, mode="poke")
    def wait_for_windows(outputs: dict, summary: dict, params: dict):
        """The detector's windows count every event sent (windows close after their end)."""
        from airflow.sdk import PokeReturnValue

        return PokeReturnValue(is_done=project.windows_done(outputs["DataBucket"], summary, params["window_seconds"]))

    @task.sensor(poke_interval=5, timeout=1800, mode="poke")
    def wait_for_archive(outputs: dict, summary: dict):
        """Firehose has delivered every event to raw/ (it buffers up to archive_buffer_seconds)."""
        from airflow.sdk import PokeReturnValue

        return PokeReturnValue(is_done=project.archive_done(outputs["DataBucket"], summary))

    windows_done = wait_for_windows(outputs, sent)
    archive_done = wait_for_archive(outputs, sent)

    athena = {"database": DATABASE, "output_location": f"s3://{RESULTS}/clickstream/", "sleep_time": 1}
    tables = [
        AthenaOperator(task_id=f"{step}_{table}", query=f"clickstream_project/{step}_{table}.sql", **athena)
        for table in ("raw_events", "windows")
        for step in ("create", "repair")
    ]  # fmt: skip
    events_by_action = AthenaOperator(
        task_id="events_by_action", query="clickstream_project/events_by_action.sql", **athena
    )
    windows_in_order = AthenaOperator(
        task_id="windows_in_order", query="clickstream_project/windows_in_order.sql", **athena
    )

    # --- checks
    @task
    def validate(outputs: dict, summary: dict, archive_query: str, windows_query: str, params: dict) -> dict:
        """Archived = sent, every window scored, alerts within two windows of each anomaly and none in normal traffic."""
        return project.validate(outputs, summary, archive_query, windows_query, params)

    checks = validate(outputs, sent, events_by_action.output, windows_in_order.output)

    @task
    def draw_chart(summary: dict, windows_query: str, params: dict, dag_run=None) -> str:
        """CTR and score per window, phases shaded, alerts marked, as a PNG in artifacts/."""
        return project.chart(summary, windows_query, params, dag_run.run_id)

    chart = draw_chart(sent, windows_in_order.output)

    # --- teardown
    gate = teardown_gate()
    delete_data_bucket_objects = S3DeleteObjectsOperator(
        task_id="delete_data_bucket_objects", bucket=DATA, prefix="", **TEARDOWN
    )  # a stack cannot delete a bucket with objects
    delete_stack = CloudFormationDeleteStackOperator(task_id="delete_stack", stack_name=STACK, **TEARDOWN)
    wait_for_delete = CloudFormationDeleteStackSensor(
        task_id="wait_for_stack_deleted", stack_name=STACK, poke_interval=5, timeout=1800, **TEARDOWN
    )
    teardown = [
        S3DeleteBucketOperator(task_id="delete_code_bucket", bucket_name=CODE, force_delete=True, **TEARDOWN),
        S3DeleteBucketOperator(task_id="delete_results_bucket", bucket_name=RESULTS, force_delete=True, **TEARDOWN),
        GlueCatalogDeleteDatabaseOperator(task_id="delete_database", database_name=DATABASE, **TEARDOWN),
    ]

    chain([create_code_bucket, create_results_bucket], upload_detector, request, create_stack, wait_for_stack, outputs)
    chain(outputs, create_database, sent, [windows_done, archive_done], tables[0], tables[1], tables[2], tables[3])
    chain(tables[3], [events_by_action, windows_in_order], checks, chart, gate)
    chain(gate, delete_data_bucket_objects, delete_stack, wait_for_delete, teardown)
    body_watcher(dag, gate)

"""labkit's Glue trigger/workflow operators and sensors, executed against local AWS through aws_default."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException

from labkit.core.dag import lab_dag
from labkit.operators import glue_orchestration as ops

BUCKET = "lake"
DATABASE = "labdb"
ROLE = "arn:aws:iam::123456789012:role/glue"
SCRIPTS = {
    # Runs until the test uploads s3://lake/release (a minute at most): the test decides when it ends.
    "slow": (
        "import time, boto3\n"
        "s3, deadline = boto3.client('s3'), time.monotonic() + 60\n"
        "while time.monotonic() < deadline and not s3.list_objects_v2(Bucket='lake', Prefix='release').get('Contents'):\n"
        "    time.sleep(0.2)\n"
        "print('done')\n"
    ),
    "failing": 'raise ValueError("bad input row 7")\n',
}


@pytest.fixture
def glue(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="raw/flights.csv", Body=b"carrier,flight\nUA,1545\nAA,1141\n")
    for name, script in SCRIPTS.items():
        s3.put_object(Bucket=BUCKET, Key=f"scripts/{name}.py", Body=script.encode())
    client = aws_client("glue")
    client.create_database(DatabaseInput={"Name": DATABASE})
    return client


def define_job(name: str, concurrent_run_limit: int = 1, **kwargs) -> str:
    return ops.GlueCreateOrUpdateJobOperator(
        task_id=f"define_{name}",
        job_name=name,
        script_location=f"s3://{BUCKET}/scripts/{name}.py",
        iam_role_arn=ROLE,
        concurrent_run_limit=concurrent_run_limit,
        create_job_kwargs={"GlueVersion": "5.0", "WorkerType": "G.1X", "NumberOfWorkers": 2, **kwargs},
    ).execute({})


def define_crawler(name: str, path: str = f"s3://{BUCKET}/raw/") -> str:
    config = {"Name": name, "Role": ROLE, "DatabaseName": DATABASE, "Targets": {"S3Targets": [{"Path": path}]}}
    return ops.GlueCreateOrUpdateCrawlerOperator(task_id=f"define_{name}", config=config).execute({})


def create_trigger(name: str, trigger_type: str, actions: list, **kwargs) -> str:
    return ops.GlueCreateOrUpdateTriggerOperator(
        task_id=f"create_{name}", trigger_name=name, trigger_type=trigger_type, actions=actions, **kwargs
    ).execute({})


def poke_until_done(sensor, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = sensor.poke({})
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"{sensor.task_id} still waiting after {timeout}s")


def test_job_and_crawler_are_defined_without_running_and_updated_on_rerun(glue):
    assert define_job("slow", Timeout=10) == "slow"
    assert define_crawler("raw") == "raw"

    assert glue.get_job_runs(JobName="slow")["JobRuns"] == []
    crawler = glue.get_crawler(Name="raw")["Crawler"]
    assert (
        crawler["State"] == "READY"
        and "LastCrawl" not in crawler
        and glue.list_crawls(CrawlerName="raw")["Crawls"] == []
    )
    assert glue.get_job(JobName="slow")["Job"]["Timeout"] == 10

    define_crawler("raw", path=f"s3://{BUCKET}/elsewhere/")
    assert glue.get_crawler(Name="raw")["Crawler"]["Targets"]["S3Targets"][0]["Path"] == f"s3://{BUCKET}/elsewhere/"


def test_trigger_operator_creates_then_updates_and_activates(glue):
    define_job("slow")
    predicate = {"Conditions": [{"LogicalOperator": "EQUALS", "JobName": "slow", "State": "SUCCEEDED"}]}

    assert create_trigger("after-slow", "CONDITIONAL", [{"CrawlerName": "raw"}], predicate=predicate) == "after-slow"
    created = glue.get_trigger(Name="after-slow")["Trigger"]
    assert (created["Type"], created["State"], created["Actions"]) == (
        "CONDITIONAL",
        "CREATED",
        [{"CrawlerName": "raw"}],
    )

    create_trigger("after-slow", "CONDITIONAL", [{"CrawlerName": "curated"}], predicate=predicate,
                   description="crawl curated", start_on_creation=True)  # fmt: skip
    updated = glue.get_trigger(Name="after-slow")["Trigger"]
    assert (updated["State"], updated["Actions"], updated["Description"]) == (
        "ACTIVATED",
        [{"CrawlerName": "curated"}],
        "crawl curated",
    )
    assert updated["Predicate"]["Conditions"][0]["JobName"] == "slow"


def test_trigger_operator_refuses_to_change_type_or_workflow(glue):
    create_trigger("t", "ON_DEMAND", [{"JobName": "j"}])

    with pytest.raises(AirflowFailException) as raised:
        create_trigger("t", "SCHEDULED", [{"JobName": "j"}], schedule="cron(0 6 * * ? *)")

    assert "Glue trigger t exists as a ON_DEMAND trigger" in str(raised.value)
    assert "delete it (GlueDeleteTriggerOperator) or use another name" in str(raised.value)
    assert glue.get_trigger(Name="t")["Trigger"]["Type"] == "ON_DEMAND"


def test_start_trigger_and_the_sensor_for_the_job_run_it_caused(glue, aws_client):
    define_job("slow", concurrent_run_limit=2)
    define_job("failing")
    create_trigger("run-slow", "ON_DEMAND", [{"JobName": "slow"}])
    create_trigger("run-failing", "ON_DEMAND", [{"JobName": "failing"}])
    manual_run = glue.start_job_run(JobName="slow")["JobRunId"]  # not the trigger's: the sensor must skip it
    sensor = ops.GlueTriggeredJobRunSensor(task_id="wait", job_name="slow", trigger_name="run-slow")
    assert sensor.poke({}) is False  # the trigger has not started anything yet

    started = ops.GlueStartTriggerOperator(task_id="start", trigger_name="run-slow").execute({})

    assert started["TriggerName"] == "run-slow"
    sensor.started_after = started["StartedAt"]
    assert sensor.poke({}) is False  # queued behind the manual run, or running: both wait for the release
    aws_client("s3").put_object(Bucket=BUCKET, Key="release", Body=b"")
    result = poke_until_done(sensor)
    assert isinstance(result, PokeReturnValue)
    runs = {r["Id"]: r for r in glue.get_job_runs(JobName="slow")["JobRuns"]}
    assert result.xcom_value["JobRunId"] != manual_run and set(runs) == {manual_run, result.xcom_value["JobRunId"]}
    assert (result.xcom_value["JobRunState"], result.xcom_value["TriggerName"]) == ("SUCCEEDED", "run-slow")
    assert runs[result.xcom_value["JobRunId"]]["StartedOn"] >= datetime.fromisoformat(started["StartedAt"])

    # A run that started before started_after is not the one waited for.
    later = ops.GlueTriggeredJobRunSensor(task_id="later", job_name="slow", trigger_name="run-slow",
                                          started_after=datetime.now(UTC) + timedelta(hours=1))  # fmt: skip
    assert later.poke({}) is False

    ops.GlueStartTriggerOperator(task_id="start_failing", trigger_name="run-failing").execute({})
    failing = ops.GlueTriggeredJobRunSensor(task_id="wait_failing", job_name="failing", trigger_name="run-failing")
    with pytest.raises(AirflowFailException) as raised:
        poke_until_done(failing)
    assert "started by trigger run-failing, ended FAILED: ValueError: bad input row 7" in str(raised.value)


def test_triggered_crawl_sensor_waits_for_a_crawl_after_the_given_moment(glue):
    define_crawler("raw")
    define_crawler("broken", path="s3://no-such-bucket/raw/")
    glue.start_crawler(Name="raw")
    earlier = poke_until_done(
        ops.GlueTriggeredCrawlSensor(task_id="any", crawler_name="raw", started_after="2000-01-01T00:00:00+00:00")
    )
    create_trigger("crawl-raw", "ON_DEMAND", [{"CrawlerName": "raw"}])
    sensor = ops.GlueTriggeredCrawlSensor(task_id="wait", crawler_name="raw", started_after=datetime.now(UTC))
    assert sensor.poke({}) is False  # the earlier crawl succeeded, but it is not a crawl after that moment

    ops.GlueStartTriggerOperator(task_id="start", trigger_name="crawl-raw").execute({})
    result = poke_until_done(sensor)

    assert result.xcom_value["Status"] == "SUCCEEDED"
    assert result.xcom_value["StartTime"] > earlier.xcom_value["StartTime"]
    glue.start_crawler(Name="broken")
    with pytest.raises(AirflowFailException) as raised:
        poke_until_done(
            ops.GlueTriggeredCrawlSensor(task_id="broken", crawler_name="broken", started_after="2000-01-01")
        )
    assert "Crawl of crawler broken ended FAILED" in str(raised.value) and "no-such-bucket" in str(raised.value)


def test_workflow_operators_and_the_run_sensor(glue, aws_client):
    define_job("slow")
    define_job("failing")
    name = ops.GlueCreateOrUpdateWorkflowOperator(
        task_id="create", workflow_name="flow", default_run_properties={"stage": "dev"}
    ).execute({})
    ops.GlueCreateOrUpdateWorkflowOperator(
        task_id="update", workflow_name="flow", description="nightly", default_run_properties={"stage": "prod"}
    ).execute({})
    workflow = glue.get_workflow(Name="flow")["Workflow"]
    assert (name, workflow["Description"], workflow["DefaultRunProperties"]) == ("flow", "nightly", {"stage": "prod"})
    create_trigger("start", "ON_DEMAND", [{"JobName": "slow"}], workflow_name="flow")

    run_id = ops.GlueStartWorkflowRunOperator(task_id="run", workflow_name="flow", run_properties={"day": "1"}).execute(
        {}
    )

    assert glue.get_workflow_run_properties(Name="flow", RunId=run_id)["RunProperties"] == {"stage": "prod", "day": "1"}
    sensor = ops.GlueWorkflowRunSensor(task_id="wait", workflow_name="flow", run_id=run_id)
    assert sensor.poke({}) is False  # the job waits for the release
    aws_client("s3").put_object(Bucket=BUCKET, Key="release", Body=b"")
    result = poke_until_done(sensor)
    assert result.xcom_value["TotalActions"] == result.xcom_value["SucceededActions"] == 1

    ops.GlueCreateOrUpdateWorkflowOperator(task_id="create_broken", workflow_name="broken").execute({})
    create_trigger("start-broken", "ON_DEMAND", [{"JobName": "failing"}], workflow_name="broken")
    broken_run = ops.GlueStartWorkflowRunOperator(task_id="run_broken", workflow_name="broken").execute({})
    with pytest.raises(AirflowFailException) as raised:
        poke_until_done(ops.GlueWorkflowRunSensor(task_id="wait_broken", workflow_name="broken", run_id=broken_run))
    message = str(raised.value)
    assert f"Glue workflow broken run {broken_run} ended COMPLETED" in message
    assert "job failing: run jr_" in message and "FAILED: ValueError: bad input row 7" in message
    # Told not to fail on failed actions, the sensor just reports them.
    lenient = ops.GlueWorkflowRunSensor(task_id="lenient", workflow_name="broken", run_id=broken_run,
                                        fail_on_failed_actions=False)  # fmt: skip
    assert lenient.poke({}).xcom_value["FailedActions"] == 1


def test_delete_operators_remove_and_accept_what_is_already_gone(glue):
    create_trigger("t", "ON_DEMAND", [{"JobName": "j"}])
    glue.create_workflow(Name="flow")

    for _ in range(2):
        ops.GlueDeleteTriggerOperator(task_id="delete_trigger", trigger_name="t").execute({})
        ops.GlueDeleteWorkflowOperator(task_id="delete_workflow", workflow_name="flow").execute({})

    assert glue.get_triggers()["Triggers"] == []
    assert glue.list_workflows()["Workflows"] == []


def test_names_and_definitions_render_from_a_lab_dags_templates(monkeypatch):
    """Rendered as a task run renders them: the lab DAG's Jinja environment (its `names` macro) and a context."""
    monkeypatch.setenv("AIRFLOW_VAR_AWS_NAME_PREFIX", "acme")  # the Variable `names` reads
    job, data = "{{ names.resource('csv-to-parquet') }}", "s3://{{ names.bucket('data') }}"
    aws = {"aws_conn_id": "{{ params.conn }}", "region_name": "{{ params.region }}"}
    with lab_dag("render_glue_lab", lab="glue-lab2", description="", doc_md=None, tags=[]):
        trigger = ops.GlueCreateOrUpdateTriggerOperator(
            task_id="trigger",
            trigger_name="{{ names.resource('after-job') }}",
            trigger_type="CONDITIONAL",
            actions=[{"JobName": job, "Arguments": {"--source_path": f"{data}/raw/"}}, {"CrawlerName": "c"}],
            predicate={"Conditions": [{"LogicalOperator": "EQUALS", "JobName": job, "State": "SUCCEEDED"}]},
            schedule="cron(0 {{ params.hour }} * * ? *)",
            workflow_name="{{ names.resource('flow') }}",
        )
        job_run = ops.GlueTriggeredJobRunSensor(
            task_id="job_run", job_name=job, trigger_name="{{ names.resource('on-demand') }}",
            started_after="{{ params.started['StartedAt'] }}",
        )  # fmt: skip
        workflow_run = ops.GlueWorkflowRunSensor(task_id="run", workflow_name="{{ names.resource('flow') }}",
                                                 run_id="{{ params.run_id }}")  # fmt: skip
        start = ops.GlueStartWorkflowRunOperator(
            task_id="start", workflow_name="{{ names.resource('flow') }}", run_properties={"day": "{{ ds }}"}
        )
        fire = ops.GlueStartTriggerOperator(task_id="fire", trigger_name="{{ names.resource('on-demand') }}", **aws)
        define = ops.GlueCreateOrUpdateJobOperator(
            task_id="define", job_name=job, script_location=f"{data}/scripts/job.py",
            iam_role_arn="{{ params.role }}", create_job_kwargs={"DefaultArguments": {"--TempDir": f"{data}/tmp/"}},
            **aws,
        )  # fmt: skip
        delete = ops.GlueDeleteWorkflowOperator(task_id="delete", workflow_name="{{ names.resource('flow') }}", **aws)
    params = {"conn": "aws_lab", "region": "eu-west-1", "hour": 6, "run_id": "wr_1", "role": "arn:role/glue",
              "started": {"StartedAt": "2026-01-02T06:00:00+00:00"}}  # fmt: skip
    for operator in (trigger, job_run, workflow_run, start, fire, define, delete):
        operator.render_template_fields({"params": params, "ds": "2026-01-02"})

    assert (trigger.trigger_name, trigger.workflow_name) == ("acme-glue-lab2-after-job", "acme-glue-lab2-flow")
    assert trigger.actions == [
        {"JobName": "acme-glue-lab2-csv-to-parquet", "Arguments": {"--source_path": "s3://acme-glue-lab2-data/raw/"}},
        {"CrawlerName": "c"},
    ]
    assert trigger.predicate["Conditions"][0]["JobName"] == "acme-glue-lab2-csv-to-parquet"
    assert trigger.schedule == "cron(0 6 * * ? *)"
    assert (job_run.job_name, job_run.trigger_name) == ("acme-glue-lab2-csv-to-parquet", "acme-glue-lab2-on-demand")
    assert job_run.started_after == "2026-01-02T06:00:00+00:00"
    assert (workflow_run.workflow_name, workflow_run.run_id) == ("acme-glue-lab2-flow", "wr_1")
    assert (start.workflow_name, start.run_properties) == ("acme-glue-lab2-flow", {"day": "2026-01-02"})
    assert fire.trigger_name == "acme-glue-lab2-on-demand"
    assert (define.job_name, define.script_location, define.iam_role_arn) == (
        "acme-glue-lab2-csv-to-parquet", "s3://acme-glue-lab2-data/scripts/job.py", "arn:role/glue",
    )  # fmt: skip
    assert define.create_job_kwargs == {"DefaultArguments": {"--TempDir": "s3://acme-glue-lab2-data/tmp/"}}
    assert delete.workflow_name == "acme-glue-lab2-flow"
    for operator in (fire, define, delete):
        assert (operator.aws_conn_id, operator.region_name) == ("aws_lab", "eu-west-1")

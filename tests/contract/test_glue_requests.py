"""Glue requests answered as AWS answers them (issue 8, item 8): the defaults GetJob reports, what
CreateJob refuses and in which words, Data Catalog expressions in any case and paged answers."""

from __future__ import annotations

import time

import pytest

from tests.contract import test_glue_crawlers as crawler_tests
from tests.contract.test_glue_aws_inputs import error_of

ROLE = "arn:aws:iam::123456789012:role/glue"
# Not an s3:// URI: a run of such a job fails at once with a reason, without starting Spark.
LOCAL_SCRIPT = {"Name": "glueetl", "ScriptLocation": "scripts/etl.py"}


@pytest.fixture
def glue(aws_client):
    return aws_client("glue")


def finished_run(glue, job: str, run_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        if run["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} of {job} still {run['JobRunState']} after {timeout}s")


# ---- GetJob: what AWS reports for fields a definition leaves out ----


def defaults(job: dict) -> dict:
    keys = ("GlueVersion", "Timeout", "MaxCapacity", "AllocatedCapacity", "MaxRetries", "ExecutionClass",
            "ExecutionProperty", "JobMode")  # fmt: skip
    return {key: job.get(key) for key in keys}


def test_get_job_reports_the_documented_defaults(glue):
    glue.create_job(Name="bare", Role=ROLE, Command=LOCAL_SCRIPT)
    glue.create_job(Name="glue4", Role=ROLE, Command=LOCAL_SCRIPT, GlueVersion="4.0")
    glue.create_job(Name="workers", Role=ROLE, Command=LOCAL_SCRIPT, GlueVersion="5.0", WorkerType="G.2X",
                    NumberOfWorkers=5, Timeout=60, MaxRetries=2, ExecutionProperty={"MaxConcurrentRuns": 3})  # fmt: skip
    glue.create_job(Name="shell", Role=ROLE, Command={"Name": "pythonshell", "ScriptLocation": "s3://b/s.py"})

    jobs = {job["Name"]: job for job in glue.get_jobs()["Jobs"]}

    assert (
        defaults(glue.get_job(JobName="bare")["Job"])
        == defaults(jobs["bare"])
        == {
            "GlueVersion": "6.0",  # "default to Glue 6.0"
            "Timeout": 480,  # Glue 5.0 and later
            "MaxCapacity": 10.0,  # Spark jobs: "The default is 10 DPUs"
            "AllocatedCapacity": 10,
            "MaxRetries": 0,
            "ExecutionClass": "STANDARD",
            "ExecutionProperty": {"MaxConcurrentRuns": 1},
            "JobMode": "SCRIPT",
        }
    )
    assert (jobs["glue4"]["GlueVersion"], jobs["glue4"]["Timeout"]) == ("4.0", 2880)  # Glue 4.0 and earlier
    assert defaults(jobs["workers"]) == {
        "GlueVersion": "5.0",
        "Timeout": 60,
        "MaxCapacity": 10.0,  # 5 workers of 2 DPUs
        "AllocatedCapacity": 10,
        "MaxRetries": 2,
        "ExecutionClass": "STANDARD",
        "ExecutionProperty": {"MaxConcurrentRuns": 3},
        "JobMode": "SCRIPT",
    }
    assert (jobs["workers"]["WorkerType"], jobs["workers"]["NumberOfWorkers"]) == ("G.2X", 5)
    shell = jobs["shell"]
    assert (shell["MaxCapacity"], shell["AllocatedCapacity"], shell["Timeout"]) == (0.0625, 0, 2880)
    assert "GlueVersion" not in shell  # the Spark default does not apply to Python shell jobs


def test_job_runs_get_the_default_timeout_and_glue_version(glue):
    glue.create_job(Name="bare", Role=ROLE, Command=LOCAL_SCRIPT)
    run_id = glue.start_job_run(JobName="bare")["JobRunId"]

    run = finished_run(glue, "bare", run_id)

    assert (run["JobRunState"], run["GlueVersion"], run["Timeout"]) == ("FAILED", "6.0", 480)


# ---- CreateJob: refusals in AWS's words; an existing job is never replaced ----


@pytest.mark.parametrize(
    "capacity, message",
    [
        ({"WorkerType": "G.1X", "NumberOfWorkers": 2, "MaxCapacity": 2.0},
         "Please do not set Max Capacity if using Worker Type and Number of Workers."),
        ({"WorkerType": "G.1X", "NumberOfWorkers": 2, "AllocatedCapacity": 2},
         "Please do not set Allocated Capacity if using Worker Type and Number of Workers"),
        ({"WorkerType": "G.1X"}, "Please set both Worker Type and Number of Workers."),
        ({"NumberOfWorkers": 2}, "Please set both Worker Type and Number of Workers."),
    ],
)  # fmt: skip
def test_create_and_update_job_refuse_dpus_with_workers(glue, capacity, message):
    assert error_of(glue.create_job, Name="etl", Role=ROLE, Command=LOCAL_SCRIPT, **capacity) == (
        "InvalidInputException",
        message,
    )
    assert error_of(glue.get_job, JobName="etl")[0] == "EntityNotFoundException"

    glue.create_job(Name="etl", Role=ROLE, Command=LOCAL_SCRIPT)
    assert error_of(glue.update_job, JobName="etl", JobUpdate={"Role": ROLE, "Command": LOCAL_SCRIPT, **capacity}) == (
        "InvalidInputException",
        message,
    )


def test_create_job_with_an_existing_name_keeps_the_job_and_its_runs(glue):
    definition = {"Name": "etl", "Role": ROLE, "Command": LOCAL_SCRIPT, "GlueVersion": "5.0", "Timeout": 30}
    glue.create_job(**definition)
    created = glue.get_job(JobName="etl")["Job"]
    run_id = glue.start_job_run(JobName="etl")["JobRunId"]
    finished_run(glue, "etl", run_id)

    # The same definition again is accepted, as AWS's idempotent CreateJob does ...
    assert glue.create_job(**definition)["Name"] == "etl"
    # ... another definition under the same name is refused.
    assert error_of(glue.create_job, **{**definition, "Timeout": 60}) == (
        "IdempotentParameterMismatchException",
        "Job already submitted with different configuration",
    )

    job = glue.get_job(JobName="etl")["Job"]
    assert (job["Timeout"], job["CreatedOn"]) == (30, created["CreatedOn"])
    assert [run["Id"] for run in glue.get_job_runs(JobName="etl")["JobRuns"]] == [run_id]


def test_get_job_run_of_an_unknown_run_names_the_run_and_the_job(glue):
    glue.create_job(Name="etl", Role=ROLE, Command=LOCAL_SCRIPT)

    assert error_of(glue.get_job_run, JobName="etl", RunId="jr_nope") == (
        "EntityNotFoundException",
        "Job run jr_nope of job etl does not exist; GetJobRuns(JobName=etl) lists its runs",
    )


# ---- Data Catalog: expressions in any case, pages ----


@pytest.fixture
def flights(glue):
    """Table labdb.flights partitioned by year and month, with three partitions."""
    glue.create_database(DatabaseInput={"Name": "labdb"})
    columns = [{"Name": "carrier", "Type": "string"}]
    glue.create_table(DatabaseName="labdb", TableInput={
        "Name": "flights",
        "StorageDescriptor": {"Columns": columns, "Location": "s3://lake/flights/"},
        "PartitionKeys": [{"Name": "year", "Type": "string"}, {"Name": "month", "Type": "string"}],
    })  # fmt: skip
    values = [["2013", "1"], ["2013", "2"], ["2014", "1"]]
    glue.batch_create_partition(DatabaseName="labdb", TableName="flights", PartitionInputList=[
        {"Values": v, "StorageDescriptor": {"Columns": columns, "Location": f"s3://lake/flights/year={v[0]}/month={v[1]}/"}}
        for v in values
    ])  # fmt: skip
    return glue


def partition_values(response: dict) -> list[list[str]]:
    return [p["Values"] for p in response["Partitions"]]


def test_get_partitions_expression_names_columns_in_any_case(flights):
    found = flights.get_partitions(DatabaseName="labdb", TableName="flights", Expression="Year='2013' AND MONTH='2'")

    assert partition_values(found) == [["2013", "2"]]


def test_get_partitions_pages_with_max_results_and_next_token(flights):
    first = flights.get_partitions(DatabaseName="labdb", TableName="flights", MaxResults=2)
    second = flights.get_partitions(DatabaseName="labdb", TableName="flights", MaxResults=2,
                                    NextToken=first["NextToken"])  # fmt: skip
    pages = flights.get_paginator("get_partitions").paginate(
        DatabaseName="labdb", TableName="flights", PaginationConfig={"PageSize": 1}
    )

    assert partition_values(first) == [["2013", "1"], ["2013", "2"]]
    assert partition_values(second) == [["2014", "1"]] and "NextToken" not in second
    assert [partition_values(page) for page in pages] == [[["2013", "1"]], [["2013", "2"]], [["2014", "1"]]]


def test_get_partitions_segments_split_the_partitions_and_columns_can_be_left_out(flights):
    segments = [
        partition_values(flights.get_partitions(DatabaseName="labdb", TableName="flights",
                                                Segment={"SegmentNumber": n, "TotalSegments": 2}))
        for n in (0, 1)
    ]  # fmt: skip
    lean = flights.get_partitions(DatabaseName="labdb", TableName="flights", ExcludeColumnSchema=True)

    assert segments == [[["2013", "1"], ["2014", "1"]], [["2013", "2"]]]
    assert [p["StorageDescriptor"] for p in lean["Partitions"]] == [
        {"Location": "s3://lake/flights/year=2013/month=1/"},
        {"Location": "s3://lake/flights/year=2013/month=2/"},
        {"Location": "s3://lake/flights/year=2014/month=1/"},
    ]


def test_get_tables_expression_in_any_case_and_pages(flights):
    for name in ("flights_2013", "airports"):
        flights.create_table(DatabaseName="labdb", TableInput={"Name": name})

    matched = flights.get_tables(DatabaseName="labdb", Expression="FLIGHTS*")
    first = flights.get_tables(DatabaseName="labdb", MaxResults=2)
    rest = flights.get_tables(DatabaseName="labdb", MaxResults=2, NextToken=first["NextToken"])

    assert [t["Name"] for t in matched["TableList"]] == ["flights", "flights_2013"]
    assert [t["Name"] for t in first["TableList"]] == ["flights", "flights_2013"]
    assert [t["Name"] for t in rest["TableList"]] == ["airports"] and "NextToken" not in rest


# ---- crawlers: definitions AWS refuses, messages in AWS's words ----

S3_TARGETS = {"S3Targets": [{"Path": "s3://lake/raw/flights/"}]}
gate = crawler_tests.gate  # holds crawls in RUNNING until released


def create_crawler_error(glue, **fields) -> tuple[str, str]:
    return error_of(glue.create_crawler, Name="raw", Role=ROLE, DatabaseName="labdb", **fields)


@pytest.mark.parametrize("targets", [{}, {"S3Targets": []}, {"S3Targets": [], "JdbcTargets": []}])
def test_create_crawler_without_a_target_is_refused(glue, targets):
    assert create_crawler_error(glue, Targets=targets) == (
        "InvalidInputException",
        "Crawler raw has no target: at least one crawl target must be specified "
        "(S3Targets, JdbcTargets, DynamoDBTargets, CatalogTargets, ...)",
    )
    assert error_of(glue.get_crawler, Name="raw")[0] == "EntityNotFoundException"


def test_create_and_update_crawler_refuse_a_schedule_that_is_not_aws_cron(glue):
    assert create_crawler_error(glue, Targets=S3_TARGETS, Schedule="cron(0 12 * * *)") == (
        "InvalidInputException",
        "Crawler raw: Schedule 'cron(0 12 * * *)' is not a valid cron expression: it has 5 fields; AWS cron has 6: "
        "Minutes Hours Day-of-month Month Day-of-week Year. Example: cron(15 12 * * ? *) fires every day at 12:15 UTC",
    )
    glue.create_crawler(Name="raw", Role=ROLE, DatabaseName="labdb", Targets=S3_TARGETS)
    assert error_of(glue.update_crawler, Name="raw", Schedule="cron(61 * * * ? *)") == (
        "InvalidInputException",
        "Crawler raw: Schedule 'cron(61 * * * ? *)' is not a valid cron expression: Minutes field: 61 is outside "
        "0-59. Example: cron(15 12 * * ? *) fires every day at 12:15 UTC",
    )
    assert "Schedule" not in glue.get_crawler(Name="raw")["Crawler"]


@pytest.mark.parametrize("configuration", ['{"Version": 1.0,', "[1, 2]"])
def test_create_crawler_refuses_a_configuration_that_is_not_a_json_object(glue, configuration):
    code, message = create_crawler_error(glue, Targets=S3_TARGETS, Configuration=configuration)

    assert code == "InvalidInputException"
    assert message.startswith(
        'Crawler raw: Configuration must be a JSON object such as {"Version": 1.0, "Grouping": '
        '{"TableGroupingPolicy": "CombineCompatibleSchemas"}} ('
    )


def test_crawl_new_folders_only_needs_the_log_schema_change_policy(glue):
    new_folders_only = {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    refusal = (
        "InvalidInputException",
        'The SchemaChangePolicy for "Crawl new folders only" Amazon S3 target can have only LOG DeleteBehavior '
        "value and LOG UpdateBehavior value.",
    )
    assert create_crawler_error(glue, Targets=S3_TARGETS, RecrawlPolicy=new_folders_only) == refusal

    log_only = {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"}
    glue.create_crawler(Name="raw", Role=ROLE, DatabaseName="labdb", Targets=S3_TARGETS,
                        RecrawlPolicy=new_folders_only, SchemaChangePolicy=log_only)  # fmt: skip
    assert error_of(glue.update_crawler, Name="raw",
                    SchemaChangePolicy={**log_only, "UpdateBehavior": "UPDATE_IN_DATABASE"}) == refusal  # fmt: skip
    assert glue.get_crawler(Name="raw")["Crawler"]["SchemaChangePolicy"] == log_only


def test_delete_crawler_while_it_runs_or_stops_is_refused_in_aws_words(glue, aws_client, gate):
    entered, release = gate
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="raw/flights/flights.csv", Body=crawler_tests.FLIGHTS_CSV)
    glue.create_crawler(Name="raw", Role=ROLE, DatabaseName="labdb", Targets=S3_TARGETS)
    glue.start_crawler(Name="raw")
    assert entered.wait(10)
    refusal = ("CrawlerRunningException", "Cannot delete crawlerraw while it's running")

    assert error_of(glue.delete_crawler, Name="raw") == refusal
    glue.stop_crawler(Name="raw")
    assert glue.get_crawler(Name="raw")["Crawler"]["State"] == "STOPPING"
    assert error_of(glue.delete_crawler, Name="raw") == refusal

    release.set()
    crawler_tests.wait_ready(glue, "raw")
    glue.delete_crawler(Name="raw")
    assert error_of(glue.get_crawler, Name="raw")[0] == "EntityNotFoundException"

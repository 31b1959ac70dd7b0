"""Glue job runs against local AWS through boto3: scripts really run on the warm Spark driver."""

from __future__ import annotations

import io
import json
import textwrap
import time
import zipfile

import pyarrow.dataset as ds
import pytest
from pyarrow import fs

BUCKET = "glue-lab"
FINAL_STATES = {"SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"}
OUTPUT_LOG, ERROR_LOG = "/aws-glue/jobs/output", "/aws-glue/jobs/error"

FLIGHTS_CSV = textwrap.dedent(
    """\
    year,month,carrier,flight,dep_delay
    2013,1,UA,1545,2
    2013,1,AA,1141,-4
    2013,2,B6,725,13
    2013,2,UA,1696,-1
    2014,1,DL,461,0
    """
)

CSV_TO_PARQUET = """
import sys
from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_path", "target_path"])
glue_context = GlueContext(SparkContext())
spark = glue_context.spark_session
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
flights = spark.read.options(header="true", inferSchema="true").csv(args["source_path"])
frame = DynamicFrame.fromDF(flights.where("dep_delay >= 0"), glue_context, "on_time")
glue_context.write_dynamic_frame.from_options(
    frame=frame,
    connection_type="s3",
    connection_options={"path": args["target_path"], "partitionKeys": ["year"]},
    format="parquet",
)
print(f"wrote {frame.count()} rows")
glue_context.get_logger().info("csv_to_parquet done")
job.commit()
"""


# ---- helpers ----


def put(s3, key: str, body: str | bytes) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode() if isinstance(body, str) else body)
    return f"s3://{BUCKET}/{key}"


def create_job(glue, s3, name: str, script: str, **job_fields) -> str:
    location = put(s3, f"scripts/{name}.py", textwrap.dedent(script))
    glue.create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/GlueLabRole",
        Command={"Name": "glueetl", "ScriptLocation": location, "PythonVersion": "3"},
        GlueVersion="5.0",
        WorkerType="G.1X",
        NumberOfWorkers=2,
        **job_fields,
    )
    return name


def wait_for_run(glue, job_name: str, run_id: str, limit_seconds: float = 600) -> dict:
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        run = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
        if run["JobRunState"] in FINAL_STATES:
            return run
        time.sleep(0.2)
    raise AssertionError(f"job run {run_id} of {job_name} did not finish within {limit_seconds} s")


def run_job(glue, job_name: str, arguments: dict | None = None, **run_fields) -> dict:
    run_id = glue.start_job_run(JobName=job_name, Arguments=arguments or {}, **run_fields)["JobRunId"]
    return wait_for_run(glue, job_name, run_id)


def log_lines(logs, group: str, run_id: str) -> list[str]:
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, logStreamNames=[run_id])
    return [event["message"] for page in pages for event in page["events"]]


def output_json(logs, run: dict) -> dict:
    """The last output line that is a JSON object: how the test scripts report what they saw."""
    lines = [line for line in log_lines(logs, OUTPUT_LOG, run["Id"]) if line.startswith("{")]
    assert lines, f"run {run['Id']} printed no JSON line; error log: {run.get('ErrorMessage')}"
    return json.loads(lines[-1])


def read_parquet(endpoint_url: str, prefix: str) -> list[dict]:
    s3fs = fs.S3FileSystem(
        access_key="testing", secret_key="testing", region="us-east-1", endpoint_override=endpoint_url, scheme="http"
    )
    table = ds.dataset(f"{BUCKET}/{prefix}", filesystem=s3fs, format="parquet", partitioning="hive").to_table()
    return sorted(table.to_pylist(), key=lambda row: (row["year"], row["flight"]))


@pytest.fixture
def clients(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3, aws_client("glue"), aws_client("logs")


# ---- tests ----


def test_csv_to_parquet_run_writes_the_rows_and_reports_the_run(clients, local_aws):
    s3, glue, logs = clients
    source = put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    create_job(glue, s3, "csv-to-parquet", CSV_TO_PARQUET)

    run = run_job(glue, "csv-to-parquet", {"--source_path": source, "--target_path": f"s3://{BUCKET}/curated/"})

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert read_parquet(local_aws.endpoint_url, "curated/") == [
        {"month": 2, "carrier": "B6", "flight": 725, "dep_delay": 13, "year": 2013},
        {"month": 1, "carrier": "UA", "flight": 1545, "dep_delay": 2, "year": 2013},
        {"month": 1, "carrier": "DL", "flight": 461, "dep_delay": 0, "year": 2014},
    ]
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix="curated/")["Contents"]]
    assert any(key.startswith("curated/year=2013/") for key in keys)
    assert run["StartedOn"] <= run["CompletedOn"]
    assert (
        isinstance(run["ExecutionTime"], int)
        and 0 <= run["ExecutionTime"] <= (run["CompletedOn"] - run["StartedOn"]).total_seconds() + 1
    )
    assert (run["Attempt"], run["GlueVersion"], run["WorkerType"], run["NumberOfWorkers"]) == (0, "5.0", "G.1X", 2)
    assert run["LogGroupName"] == "/aws-glue/jobs"
    assert "ErrorMessage" not in run
    assert log_lines(logs, OUTPUT_LOG, run["Id"]) == ["wrote 3 rows"]
    assert any(line.endswith("INFO GlueLogger: csv_to_parquet done") for line in log_lines(logs, ERROR_LOG, run["Id"]))


def test_script_error_fails_the_run_with_the_python_error(clients):
    s3, glue, logs = clients
    create_job(
        glue,
        s3,
        "broken",
        """
        print("reading input")
        rows = {"ok": 1}
        raise ValueError(f"bad input row 7 of {len(rows)}")
    """,
    )

    run = run_job(glue, "broken")

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == "ValueError: bad input row 7 of 1"
    assert run["CompletedOn"] >= run["StartedOn"]
    # Glue 5.0 sends the script's stdout and stderr (where Python prints the traceback) to the output log.
    output = log_lines(logs, OUTPUT_LOG, run["Id"])
    assert output[:2] == ["reading input", "Traceback (most recent call last):"]
    assert any("broken.py" in line and "line 4" in line for line in output)
    assert output[-1] == "ValueError: bad input row 7 of 1"


def test_spark_error_names_the_missing_path(clients):
    s3, glue, _ = clients
    create_job(
        glue,
        s3,
        "missing-input",
        f"""
        from pyspark.sql import SparkSession
        SparkSession.builder.getOrCreate().read.parquet("s3://{BUCKET}/no/such/prefix/").count()
    """,
    )

    run = run_job(glue, "missing-input")

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith("AnalysisException:")
    assert f"s3://{BUCKET}/no/such/prefix" in run["ErrorMessage"]


@pytest.mark.parametrize(("exit_code", "state"), [(0, "SUCCEEDED"), (2, "FAILED")])
def test_sys_exit_code_decides_the_outcome(clients, exit_code, state):
    s3, glue, _ = clients
    create_job(glue, s3, f"exits-{exit_code}", f"import sys\nsys.exit({exit_code})\n")

    run = run_job(glue, f"exits-{exit_code}")

    assert run["JobRunState"] == state
    if state == "FAILED":
        assert run["ErrorMessage"] == "SystemExit: the script exited with code 2"


def test_default_arguments_merge_with_run_arguments_in_glue_argv(clients):
    s3, glue, logs = clients
    create_job(
        glue,
        s3,
        "show-args",
        """
        import json, sys
        from awsglue.utils import getResolvedOptions
        args = getResolvedOptions(sys.argv, ["JOB_NAME", "source", "mode"])
        print(json.dumps({"args": args, "argv": sys.argv[1:]}))
        """,
        DefaultArguments={"--source": "s3://glue-lab/raw/", "--mode": "default", "--TempDir": "s3://glue-lab/tmp/"},
    )

    run = run_job(glue, "show-args", {"--mode": "from-run"})

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    seen = output_json(logs, run)
    args, argv = seen["args"], seen["argv"]
    assert argv[:6] == ["--JOB_NAME", "show-args", "--JOB_ID", args["JOB_ID"], "--JOB_RUN_ID", run["Id"]]
    assert args["JOB_ID"].startswith("j_")
    assert (args["JOB_NAME"], args["JOB_RUN_ID"]) == ("show-args", run["Id"])
    assert (args["source"], args["mode"], args["TempDir"]) == ("s3://glue-lab/raw/", "from-run", "s3://glue-lab/tmp/")
    assert args["job_bookmark_option"] == "job-bookmark-disable"


def test_missing_required_argument_fails_with_glue_argument_error(clients):
    s3, glue, _ = clients
    create_job(
        glue,
        s3,
        "needs-target",
        """
        import sys
        from awsglue.utils import getResolvedOptions
        getResolvedOptions(sys.argv, ["JOB_NAME", "target_path"])
    """,
    )

    run = run_job(glue, "needs-target")

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == "GlueArgumentError: the following arguments are required: --target_path"


def test_extra_py_files_are_importable_and_not_kept_between_runs(clients):
    s3, glue, logs = clients
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("etl/__init__.py", "")
        archive.writestr("etl/transform.py", "def double(x):\n    return 2 * x\n")
    zip_uri = put(s3, "libs/etl.zip", package.getvalue())
    put(s3, "libs/settings.py", "VERSION = 'v1'\n")
    create_job(
        glue,
        s3,
        "uses-libs",
        """
        import json
        import settings
        from etl.transform import double
        print(json.dumps({"version": settings.VERSION, "doubled": double(21)}))
    """,
        DefaultArguments={"--extra-py-files": f"{zip_uri},s3://{BUCKET}/libs/settings.py"},
    )

    first = run_job(glue, "uses-libs")
    put(s3, "libs/settings.py", "VERSION = 'v2'\n")
    second = run_job(glue, "uses-libs")

    assert first["JobRunState"] == second["JobRunState"] == "SUCCEEDED", first.get("ErrorMessage")
    assert output_json(logs, first) == {"version": "v1", "doubled": 42}
    assert output_json(logs, second) == {"version": "v2", "doubled": 42}


def test_missing_extra_py_file_fails_with_its_uri(clients):
    s3, glue, _ = clients
    create_job(
        glue, s3, "lib-missing", "print('never')", DefaultArguments={"--extra-py-files": f"s3://{BUCKET}/libs/none.py"}
    )

    run = run_job(glue, "lib-missing")

    assert run["JobRunState"] == "FAILED"
    assert f"s3://{BUCKET}/libs/none.py" in run["ErrorMessage"]
    assert run["ErrorMessage"].startswith("FileNotFoundError: --extra-py-files")


def test_runs_are_isolated_from_each_other(clients):
    s3, glue, logs = clients
    create_job(
        glue,
        s3,
        "leaves-traces",
        """
        import os
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.getOrCreate()
        spark.conf.set("spark.sql.shuffle.partitions", "7")
        spark.range(3).createOrReplaceTempView("leftover")
        os.environ["LEFTOVER"] = "yes"
        open("leftover.txt", "w").write("x")
    """,
    )
    create_job(
        glue,
        s3,
        "checks-traces",
        """
        import json, os, sys
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext
        spark = GlueContext(SparkContext.getOrCreate()).spark_session
        print(json.dumps({
            "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions"),
            "views": [table.name for table in spark.catalog.listTables()],
            "env": os.environ.get("LEFTOVER"),
            "file": os.path.exists("leftover.txt"),
            "job_name": sys.argv[sys.argv.index("--JOB_NAME") + 1],
        }))
    """,
    )

    assert run_job(glue, "leaves-traces")["JobRunState"] == "SUCCEEDED"
    run = run_job(glue, "checks-traces")

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert output_json(logs, run) == {
        "shuffle_partitions": "4",
        "views": [],
        "env": None,
        "file": False,
        "job_name": "checks-traces",
    }


def test_timeout_stops_a_sleeping_script(clients):
    s3, glue, logs = clients
    create_job(glue, s3, "sleeps", "import time\nprint('sleeping')\ntime.sleep(120)\n", Timeout=1)

    run = run_job(glue, "sleeps")

    assert run["JobRunState"] == "TIMEOUT"
    assert "exceeded its Timeout of 1 minute(s)" in run["ErrorMessage"]
    assert (run["CompletedOn"] - run["StartedOn"]).total_seconds() < 120  # stopped, not slept out
    assert log_lines(logs, OUTPUT_LOG, run["Id"]) == ["sleeping"]


def test_timeout_cancels_a_long_spark_job_and_the_driver_stays_warm(clients):
    s3, glue, logs = clients
    pid_script = "import json, os\nprint(json.dumps({'pid': os.getpid()}))\n"
    create_job(glue, s3, "pid-before", pid_script)
    create_job(
        glue,
        s3,
        "long-spark-job",
        """
        import json, os
        from pyspark.sql import SparkSession
        print(json.dumps({"pid": os.getpid()}))
        SparkSession.builder.getOrCreate().range(10**12).selectExpr("sum(id * id)").collect()
    """,
    )
    create_job(glue, s3, "pid-after", pid_script)

    before = run_job(glue, "pid-before")
    run = run_job(glue, "long-spark-job", Timeout=1)
    after = run_job(glue, "pid-after")

    assert run["JobRunState"] == "TIMEOUT"
    assert after["JobRunState"] == "SUCCEEDED"
    assert output_json(logs, before) == output_json(logs, run) == output_json(logs, after)


def test_failed_run_leaves_the_warm_driver_for_the_next_run(clients):
    s3, glue, logs = clients
    create_job(
        glue, s3, "fails", "import os, json\nprint(json.dumps({'pid': os.getpid()}))\nraise KeyError('flight')\n"
    )
    create_job(glue, s3, "follows", "import os, json\nprint(json.dumps({'pid': os.getpid()}))\n")

    failed = run_job(glue, "fails")
    follows = run_job(glue, "follows")

    assert (failed["JobRunState"], failed["ErrorMessage"]) == ("FAILED", "KeyError: 'flight'")
    assert follows["JobRunState"] == "SUCCEEDED"
    assert output_json(logs, failed) == output_json(logs, follows)  # same driver process: no restart


def test_driver_crash_fails_the_run_and_the_next_run_gets_a_fresh_driver(clients):
    s3, glue, logs = clients
    create_job(glue, s3, "crashes", "import os\nos._exit(3)\n")
    create_job(glue, s3, "recovers", "import os, json\nprint(json.dumps({'pid': os.getpid()}))\n")

    crashed = run_job(glue, "crashes")
    recovered = run_job(glue, "recovers")

    assert crashed["JobRunState"] == "FAILED"
    assert "exited with code 3" in crashed["ErrorMessage"]
    assert "next run starts a fresh driver" in crashed["ErrorMessage"]
    assert "exited with code 3" in log_lines(logs, ERROR_LOG, crashed["Id"])[-1]
    assert recovered["JobRunState"] == "SUCCEEDED", recovered.get("ErrorMessage")


def test_batch_stop_job_run_stops_running_and_queued_runs(clients):
    s3, glue, _ = clients
    create_job(glue, s3, "long-running", "import time\ntime.sleep(120)\n")
    create_job(glue, s3, "queued", "print('never runs')\n")
    running_id = glue.start_job_run(JobName="long-running")["JobRunId"]
    queued_id = glue.start_job_run(JobName="queued")["JobRunId"]
    deadline = time.monotonic() + 300
    while glue.get_job_run(JobName="long-running", RunId=running_id)["JobRun"]["JobRunState"] != "RUNNING":
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    assert glue.get_job_run(JobName="queued", RunId=queued_id)["JobRun"]["JobRunState"] == "STARTING"

    stopped_queued = glue.batch_stop_job_run(JobName="queued", JobRunIds=[queued_id, "jr_unknown"])
    stopped_running = glue.batch_stop_job_run(JobName="long-running", JobRunIds=[running_id])

    assert stopped_queued["SuccessfulSubmissions"] == [{"JobName": "queued", "JobRunId": queued_id}]
    assert stopped_queued["Errors"][0]["JobRunId"] == "jr_unknown"
    assert stopped_queued["Errors"][0]["ErrorDetail"]["ErrorCode"] == "EntityNotFoundException"
    assert stopped_running["SuccessfulSubmissions"] == [{"JobName": "long-running", "JobRunId": running_id}]
    assert wait_for_run(glue, "long-running", running_id)["JobRunState"] == "STOPPED"
    assert wait_for_run(glue, "queued", queued_id)["JobRunState"] == "STOPPED"
    again = glue.batch_stop_job_run(JobName="long-running", JobRunIds=[running_id])
    assert again["Errors"][0]["ErrorDetail"]["ErrorCode"] == "InvalidInputException"


def test_from_catalog_reads_a_partitioned_csv_table(clients, local_aws):
    s3, glue, logs = clients
    header = "carrier|flight|dep_delay\n"
    put(s3, "raw/flights_by_year/year=2013/part-1.csv", header + "UA|1545|2\nAA|1141|-4\n")
    put(s3, "raw/flights_by_year/year=2014/part-1.csv", header + "DL|461|0\n")
    glue.create_database(DatabaseInput={"Name": "lab"})
    storage = {
        "Columns": [
            {"Name": "carrier", "Type": "string"},
            {"Name": "flight", "Type": "int"},
            {"Name": "dep_delay", "Type": "double"},
        ],
        "Location": f"s3://{BUCKET}/raw/flights_by_year/",
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            "Parameters": {"field.delim": "|"},
        },
    }
    glue.create_table(
        DatabaseName="lab",
        TableInput={
            "Name": "flights_by_year",
            "StorageDescriptor": storage,
            "PartitionKeys": [{"Name": "year", "Type": "int"}],
            "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
        },
    )
    for year in ("2013", "2014"):
        glue.create_partition(
            DatabaseName="lab",
            TableName="flights_by_year",
            PartitionInput={
                "Values": [year],
                "StorageDescriptor": {**storage, "Location": f"{storage['Location']}year={year}/"},
            },
        )
    create_job(
        glue,
        s3,
        "reads-catalog",
        """
        import json
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext
        glue_context = GlueContext(SparkContext.getOrCreate())
        everything = glue_context.create_dynamic_frame.from_catalog(database="lab", table_name="flights_by_year")
        recent = glue_context.create_dynamic_frame.from_catalog(
            database="lab", table_name="flights_by_year", push_down_predicate="year >= 2014")
        rows = sorted(everything.toDF().collect(), key=lambda row: row["flight"])
        print(json.dumps({
            "schema": everything.toDF().dtypes,
            "rows": [row.asDict() for row in rows],
            "recent": [row.asDict() for row in recent.toDF().collect()],
        }))
    """,
    )

    run = run_job(glue, "reads-catalog")

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    seen = output_json(logs, run)
    assert seen["schema"] == [["carrier", "string"], ["flight", "int"], ["dep_delay", "double"], ["year", "int"]]
    assert seen["rows"] == [
        {"carrier": "DL", "flight": 461, "dep_delay": 0.0, "year": 2014},
        {"carrier": "AA", "flight": 1141, "dep_delay": -4.0, "year": 2013},
        {"carrier": "UA", "flight": 1545, "dep_delay": 2.0, "year": 2013},
    ]
    assert seen["recent"] == [{"carrier": "DL", "flight": 461, "dep_delay": 0.0, "year": 2014}]


def test_from_catalog_names_a_missing_table(clients):
    s3, glue, _ = clients
    glue.create_database(DatabaseInput={"Name": "lab"})
    create_job(
        glue,
        s3,
        "reads-nothing",
        """
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext
        GlueContext(SparkContext.getOrCreate()).create_dynamic_frame.from_catalog(database="lab", table_name="nope")
    """,
    )

    run = run_job(glue, "reads-nothing")

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"].startswith("ValueError: table lab.nope is not in the Glue Data Catalog")


def test_glue_job_hook_runs_and_waits_like_the_operator(clients, local_aws, monkeypatch, capfd):
    s3, glue, _ = clients
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": local_aws.endpoint_url, "region_name": "us-east-1"},
            }
        ),
    )
    from airflow.providers.amazon.aws.hooks.glue import GlueJobHook
    from airflow.providers.common.compat.sdk import AirflowException

    source = put(s3, "raw/flights/flights.csv", FLIGHTS_CSV)
    script = put(s3, "scripts/hook_csv_to_parquet.py", CSV_TO_PARQUET)
    broken = put(s3, "scripts/hook_broken.py", "raise RuntimeError('no flights today')\n")

    def hook(job_name: str, script_location: str) -> GlueJobHook:
        return GlueJobHook(
            job_name=job_name,
            desc="Glue lab job",
            script_location=script_location,
            s3_bucket=BUCKET,
            iam_role_arn="arn:aws:iam::123456789012:role/GlueLabRole",
            job_poll_interval=0.5,
            create_job_kwargs={"GlueVersion": "5.0", "WorkerType": "G.1X", "NumberOfWorkers": 2},
        )

    good = hook("hook-csv-to-parquet", script)
    run_id = good.initialize_job({"--source_path": source, "--target_path": f"s3://{BUCKET}/hook/"})["JobRunId"]
    outcome = good.job_completion("hook-csv-to-parquet", run_id, verbose=True)

    assert outcome == {"JobRunState": "SUCCEEDED", "JobRunId": run_id}
    assert good.get_job_state("hook-csv-to-parquet", run_id) == "SUCCEEDED"
    assert "Glue Job Run /aws-glue/jobs/output Logs:\n\twrote 3 rows" in capfd.readouterr().out  # verbose=True
    assert len(read_parquet(local_aws.endpoint_url, "hook/")) == 3

    bad = hook("hook-broken", broken)
    bad_run_id = bad.initialize_job({})["JobRunId"]
    with pytest.raises(AirflowException, match="Run State: FAILED"):
        bad.job_completion("hook-broken", bad_run_id)
    assert glue.get_job_run(JobName="hook-broken", RunId=bad_run_id)["JobRun"]["ErrorMessage"] == (
        "RuntimeError: no flights today"
    )


def test_conf_argument_sets_what_a_running_driver_can_change(clients):
    s3, glue, logs = clients
    create_job(
        glue,
        s3,
        "tuned",
        """
        import json
        from pyspark.sql import SparkSession
        print(json.dumps({"partitions": SparkSession.builder.getOrCreate().conf.get("spark.sql.shuffle.partitions")}))
        """,
        DefaultArguments={"--conf": "spark.sql.shuffle.partitions=3 --conf spark.executor.memory=10g"},
    )

    run = run_job(glue, "tuned")

    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert output_json(logs, run) == {"partitions": "3"}
    assert any(
        " WARN LocalAWS: --conf spark.executor.memory is ignored: the warm driver cannot change it" in line
        for line in log_lines(logs, ERROR_LOG, run["Id"])
    )

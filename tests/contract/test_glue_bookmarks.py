"""Glue job bookmarks on local AWS: reruns read only S3 objects that no committed run has read."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from local_aws import clock
from tests.contract.test_glue_jobs import BUCKET, clients, create_job, output_json, put, run_job  # noqa: F401

JOB = "incremental"
ENABLE = {"--job-bookmark-option": "job-bookmark-enable"}
PAUSE = {"--job-bookmark-option": "job-bookmark-pause"}
HEADER = "station,reading\n"

# Reads the readings with transformation_ctx "readings" and prints which files it saw.
READ_FROM_OPTIONS = """
import json, sys
from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_path", "fail"])
glue_context = GlueContext(SparkContext.getOrCreate())
job = Job(glue_context)
job.init(args["JOB_NAME"], args)
frame = glue_context.create_dynamic_frame.from_options(
    connection_type="s3",
    connection_options={"paths": [args["source_path"]]},
    format="csv",
    format_options={"withHeader": True},
    transformation_ctx="readings",
).toDF()
files = sorted({row[0].rsplit("/", 1)[-1] for row in frame.select(F.input_file_name()).collect()})
print(json.dumps({"files": files, "rows": frame.count()}))
if args["fail"] == "true":
    raise RuntimeError("failing before job.commit()")
job.commit()
"""


@pytest.fixture
def job(clients):  # noqa: F811
    s3, glue, logs = clients
    put(s3, "raw/readings/a.csv", HEADER + "EWR,1\nJFK,2\n")
    put(s3, "raw/readings/b.csv", HEADER + "LGA,3\n")
    put(s3, "raw/readings/_SUCCESS", "")
    create_job(
        glue,
        s3,
        JOB,
        READ_FROM_OPTIONS,
        DefaultArguments={"--source_path": f"s3://{BUCKET}/raw/readings/", "--fail": "false"},
    )

    def run(arguments: dict | None = None) -> dict:
        """Run the job; its state, id and the files it read."""
        finished = run_job(glue, JOB, arguments)
        seen = output_json(logs, finished)
        return {"state": finished["JobRunState"], "id": finished["Id"], "files": seen["files"], "rows": seen["rows"]}

    return s3, glue, run


def bookmark_of(glue) -> dict:
    entry = glue.get_job_bookmark(JobName=JOB)["JobBookmarkEntry"]
    return {**entry, "JobBookmark": json.loads(entry["JobBookmark"])}


def test_rerun_reads_only_files_added_since_the_committed_run(job):
    s3, glue, run = job

    first = run(ENABLE)
    put(s3, "raw/readings/c.csv", HEADER + "EWR,4\n")
    second = run(ENABLE)
    third = run(ENABLE)

    assert (first["state"], first["files"], first["rows"]) == ("SUCCEEDED", ["a.csv", "b.csv"], 3)
    assert (second["state"], second["files"], second["rows"]) == ("SUCCEEDED", ["c.csv"], 1)
    assert (third["state"], third["files"], third["rows"]) == ("SUCCEEDED", [], 0)
    entry = bookmark_of(glue)
    assert (entry["JobName"], entry["Run"], entry["Version"]) == (JOB, 3, 3)
    assert (entry["RunId"], entry["PreviousRunId"]) == (third["id"], second["id"])
    readings = entry["JobBookmark"]["sources"]["readings"]
    assert readings["source"] == [f"s3://{BUCKET}/raw/readings/"]
    assert sorted(readings["filesInBand"]) == [
        f"s3://{BUCKET}/raw/readings/{name}" for name in ("a.csv", "b.csv", "c.csv")
    ]


def test_a_rewritten_file_is_read_again(job):
    s3, _, run = job
    run(ENABLE)

    put(s3, "raw/readings/b.csv", HEADER + "LGA,30\n")

    assert run(ENABLE)["files"] == ["b.csv"]


def test_failed_run_does_not_advance_the_bookmark(job):
    s3, glue, run = job
    first = run(ENABLE)
    put(s3, "raw/readings/c.csv", HEADER + "EWR,4\n")

    failed = run({**ENABLE, "--fail": "true"})
    retried = run(ENABLE)

    assert (failed["state"], failed["files"]) == ("FAILED", ["c.csv"])
    assert (retried["state"], retried["files"]) == ("SUCCEEDED", ["c.csv"])
    assert bookmark_of(glue)["PreviousRunId"] == first["id"]


def test_reset_reads_everything_again_and_rewind_goes_back_to_a_run(job):
    s3, glue, run = job
    first = run(ENABLE)
    put(s3, "raw/readings/c.csv", HEADER + "EWR,4\n")
    run(ENABLE)

    reset = glue.reset_job_bookmark(JobName=JOB)["JobBookmarkEntry"]
    after_reset = run(ENABLE)
    rewound = glue.reset_job_bookmark(JobName=JOB, RunId=first["id"])["JobBookmarkEntry"]
    after_rewind = run(ENABLE)

    assert json.loads(reset["JobBookmark"])["sources"] == {}
    assert after_reset["files"] == ["a.csv", "b.csv", "c.csv"]
    assert sorted(json.loads(rewound["JobBookmark"])["sources"]["readings"]["filesInBand"]) == [
        f"s3://{BUCKET}/raw/readings/a.csv",
        f"s3://{BUCKET}/raw/readings/b.csv",
    ]
    assert after_rewind["files"] == ["c.csv"]


def test_pause_reads_from_the_bookmark_without_advancing_it(job):
    s3, glue, run = job
    run(ENABLE)
    put(s3, "raw/readings/c.csv", HEADER + "EWR,4\n")
    version = bookmark_of(glue)["Version"]

    paused = [run(PAUSE)["files"], run(PAUSE)["files"]]

    assert paused == [["c.csv"], ["c.csv"]]
    assert bookmark_of(glue)["Version"] == version
    assert run(ENABLE)["files"] == ["c.csv"]
    assert run(ENABLE)["files"] == []


def test_disabled_bookmarks_read_everything_and_save_nothing(job):
    _, glue, run = job

    runs = [run()["files"], run({"--job-bookmark-option": "job-bookmark-disable"})["files"]]

    assert runs == [["a.csv", "b.csv"], ["a.csv", "b.csv"]]
    with pytest.raises(ClientError, match=f"Continuation for job {JOB} not found") as error:
        glue.get_job_bookmark(JobName=JOB)
    assert error.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_unknown_run_and_unknown_job_are_named(job):
    _, glue, run = job
    run(ENABLE)

    with pytest.raises(ClientError, match=f"job {JOB} has no bookmark saved by run jr_nope"):
        glue.get_job_bookmark(JobName=JOB, RunId="jr_nope")
    with pytest.raises(ClientError, match="Job nope not found"):
        glue.reset_job_bookmark(JobName="nope")


def test_deleting_the_job_deletes_its_bookmark(job):
    s3, glue, run = job
    run(ENABLE)

    glue.delete_job(JobName=JOB)
    create_job(glue, s3, JOB, READ_FROM_OPTIONS, DefaultArguments={"--source_path": f"s3://{BUCKET}/raw/readings/"})

    assert run({**ENABLE, "--fail": "false"})["files"] == ["a.csv", "b.csv"]


def test_from_catalog_reads_only_new_files_of_a_partitioned_table(clients):  # noqa: F811
    s3, glue, logs = clients
    put(s3, "raw/by_day/day=1/part-0.csv", "EWR|1\nJFK|2\n")
    glue.create_database(DatabaseInput={"Name": "lab"})
    storage = {
        "Columns": [{"Name": "station", "Type": "string"}, {"Name": "reading", "Type": "int"}],
        "Location": f"s3://{BUCKET}/raw/by_day/",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            "Parameters": {"field.delim": "|"},
        },
    }
    glue.create_table(
        DatabaseName="lab",
        TableInput={
            "Name": "by_day",
            "StorageDescriptor": storage,
            "PartitionKeys": [{"Name": "day", "Type": "int"}],
            "Parameters": {"classification": "csv"},
        },
    )

    def add_partition(day: int) -> None:
        location = f"{storage['Location']}day={day}/"
        glue.create_partition(
            DatabaseName="lab",
            TableName="by_day",
            PartitionInput={"Values": [str(day)], "StorageDescriptor": {**storage, "Location": location}},
        )

    add_partition(1)
    create_job(
        glue,
        s3,
        "catalog-increments",
        """
        import json, sys
        from awsglue.context import GlueContext
        from awsglue.job import Job
        from awsglue.utils import getResolvedOptions
        from pyspark.context import SparkContext
        args = getResolvedOptions(sys.argv, ["JOB_NAME"])
        glue_context = GlueContext(SparkContext.getOrCreate())
        job = Job(glue_context)
        job.init(args["JOB_NAME"], args)
        frame = glue_context.create_dynamic_frame.from_catalog(
            database="lab", table_name="by_day", transformation_ctx="by_day").toDF()
        print(json.dumps({"schema": frame.dtypes, "rows": sorted(tuple(row) for row in frame.collect())}))
        job.commit()
        """,
    )

    def rows_read() -> dict:
        finished = run_job(glue, "catalog-increments", ENABLE)
        assert finished["JobRunState"] == "SUCCEEDED", finished.get("ErrorMessage")
        return output_json(logs, finished)

    first = rows_read()
    put(s3, "raw/by_day/day=1/part-1.csv", "LGA|3\n")
    put(s3, "raw/by_day/day=2/part-0.csv", "EWR|4\n")
    add_partition(2)
    second = rows_read()
    third = rows_read()

    assert first["rows"] == [["EWR", 1, 1], ["JFK", 2, 1]]
    assert second["rows"] == [["EWR", 4, 2], ["LGA", 3, 1]]
    # Nothing new: no rows, but the table's columns, so the script's transforms still apply.
    assert third == {"schema": [["station", "string"], ["reading", "int"], ["day", "int"]], "rows": []}


def test_files_written_after_the_clock_moved_forward_are_read(job):
    """S3's LastModified is local AWS clock time (make clock); the bookmark's "now" must be too."""
    s3, _, run = job
    run(ENABLE)
    clock.advance(days=2)
    put(s3, "raw/readings/c.csv", HEADER + "EWR,4\n")

    assert run(ENABLE)["files"] == ["c.csv"]

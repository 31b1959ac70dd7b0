"""Inputs AWS Glue accepts (or refuses) that DAGs written for AWS send unchanged: local AWS must
accept what AWS accepts and refuse what AWS refuses, with AWS's words (issue 8, item 8)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.contract import test_glue_jobs as jobs
from tests.contract.test_glue_crawlers import crawl

BUCKET = "lake"
ROLE = "arn:aws:iam::123456789012:role/glue"
FLIGHTS_CSV = b"year,month,carrier,flight,dep_delay\n2013,1,UA,1545,2.5\n2013,1,AA,1141,-4.0\n2013,2,B6,725,13.0\n"


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="raw/flights/flights.csv", Body=FLIGHTS_CSV)
    return client


@pytest.fixture
def glue(aws_client):
    return aws_client("glue")


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


# ---- crawlers ----


def test_crawler_creates_its_missing_database_and_crawls_into_it(glue, s3):
    glue.create_crawler(Name="raw", Role=ROLE, DatabaseName="not_yet_there",
                        Targets={"S3Targets": [{"Path": f"s3://{BUCKET}/raw/flights/"}]})  # fmt: skip

    crawler = crawl(glue, "raw")

    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"].get("ErrorMessage")
    assert glue.get_database(Name="not_yet_there")["Database"]["Name"] == "not_yet_there"
    table = glue.get_table(DatabaseName="not_yet_there", Name="flights")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/raw/flights/"
    assert table["Parameters"]["recordCount"] == "3"


def test_s3_target_path_without_scheme_is_read_as_s3(glue, s3):
    glue.create_database(DatabaseInput={"Name": "labdb"})
    glue.create_crawler(Name="raw", Role=ROLE, DatabaseName="labdb",
                        Targets={"S3Targets": [{"Path": f"{BUCKET}/raw/flights"}]})  # fmt: skip

    crawler = crawl(glue, "raw")

    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED", crawler["LastCrawl"].get("ErrorMessage")
    table = glue.get_table(DatabaseName="labdb", Name="flights")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/raw/flights/"
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == [
        "year", "month", "carrier", "flight", "dep_delay",
    ]  # fmt: skip


def test_unknown_crawler_errors_use_aws_words(glue):
    assert error_of(glue.start_crawler, Name="nope") == (
        "EntityNotFoundException",
        "Crawler with name nope does not exist",
    )
    assert error_of(glue.get_crawler, Name="nope") == (
        "EntityNotFoundException",
        "Crawler entry with name nope does not exist",
    )


# ---- Data Catalog ----


def test_database_and_table_names_are_folded_to_lowercase(glue):
    glue.create_database(DatabaseInput={"Name": "LabDB"})
    glue.create_table(
        DatabaseName="LabDB",
        TableInput={"Name": "Flights", "StorageDescriptor": {"Columns": [{"Name": "carrier", "Type": "string"}]}},
    )

    table = glue.get_table(DatabaseName="labdb", Name="flights")["Table"]
    assert (table["DatabaseName"], table["Name"]) == ("labdb", "flights")
    assert glue.get_table(DatabaseName="LABDB", Name="FLIGHTS")["Table"]["Name"] == "flights"
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == ["labdb"]
    assert [t["Name"] for t in glue.get_tables(DatabaseName="labdb")["TableList"]] == ["flights"]
    assert error_of(glue.create_table, DatabaseName="labdb", TableInput={"Name": "FLIGHTS"})[0] == (
        "AlreadyExistsException"
    )

    glue.update_table(DatabaseName="LabDb", TableInput={"Name": "FLIGHTS", "Description": "nycflights13"})
    assert glue.get_table(DatabaseName="labdb", Name="flights")["Table"]["Name"] == "flights"
    glue.delete_table(DatabaseName="LABDB", Name="Flights")
    glue.delete_database(Name="LabDB")
    assert glue.get_databases()["DatabaseList"] == []


# ---- jobs ----


@pytest.fixture
def job_bucket(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=jobs.BUCKET)
    return client


def test_start_job_run_beyond_max_concurrent_runs_is_refused_in_aws_words(glue, job_bucket):
    jobs.create_job(glue, job_bucket, "sleeper", "import time\ntime.sleep(120)\n")  # MaxConcurrentRuns: 1
    first = glue.start_job_run(JobName="sleeper")["JobRunId"]

    assert error_of(glue.start_job_run, JobName="sleeper") == (
        "ConcurrentRunsExceededException",
        "Concurrent runs exceeded for sleeper",
    )
    glue.batch_stop_job_run(JobName="sleeper", JobRunIds=[first])
    assert jobs.wait_for_run(glue, "sleeper", first)["JobRunState"] == "STOPPED"
    second = glue.start_job_run(JobName="sleeper")["JobRunId"]  # the stopped run no longer counts
    glue.batch_stop_job_run(JobName="sleeper", JobRunIds=[second])
    assert jobs.wait_for_run(glue, "sleeper", second)["JobRunState"] == "STOPPED"


def test_scala_job_fails_saying_local_aws_runs_python_only(glue, job_bucket):
    jobs.create_job(glue, job_bucket, "scala-etl", "object GlueApp { def main(args: Array[String]) = () }\n",
                    DefaultArguments={"--job-language": "scala", "--class": "GlueApp"})  # fmt: skip

    run = jobs.run_job(glue, "scala-etl")

    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == (
        "job scala-etl is a Scala job (--job-language scala); local AWS runs Python scripts only"
    )

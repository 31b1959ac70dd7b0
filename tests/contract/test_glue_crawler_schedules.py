"""Crawler schedules against local AWS: a scheduled crawler crawls at its cron minute while its
schedule is SCHEDULED; StopCrawlerSchedule, StartCrawlerSchedule and UpdateCrawlerSchedule."""

from __future__ import annotations

from datetime import timedelta

import pytest

from local_aws import clock
from tests.contract.test_glue_aws_inputs import error_of
from tests.contract.test_glue_crawlers import FLIGHTS_CSV
from tests.contract.test_glue_triggers import when

ROLE = "arn:aws:iam::123456789012:role/glue"
NIGHTLY = "cron(0 2 * * ? *)"


@pytest.fixture
def glue(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="raw/flights/flights.csv", Body=FLIGHTS_CSV)
    client = aws_client("glue")
    client.create_database(DatabaseInput={"Name": "labdb"})
    return client


def create_crawler(glue, name: str, **fields) -> None:
    glue.create_crawler(Name=name, Role=ROLE, DatabaseName="labdb", TablePrefix=f"{name}_",
                        Targets={"S3Targets": [{"Path": "s3://lake/raw/flights/"}]}, **fields)  # fmt: skip


def schedule(glue, name: str) -> dict | None:
    return glue.get_crawler(Name=name)["Crawler"].get("Schedule")


def test_schedule_state_follows_stop_start_and_update(glue):
    create_crawler(glue, "nightly", Schedule=NIGHTLY)
    create_crawler(glue, "manual")
    assert schedule(glue, "nightly") == {"ScheduleExpression": NIGHTLY, "State": "SCHEDULED"}
    assert schedule(glue, "manual") is None

    assert error_of(glue.start_crawler_schedule, CrawlerName="nightly") == (
        "SchedulerRunningException",
        "The schedule of crawler nightly is already SCHEDULED",
    )
    glue.stop_crawler_schedule(CrawlerName="nightly")
    assert schedule(glue, "nightly") == {"ScheduleExpression": NIGHTLY, "State": "NOT_SCHEDULED"}
    assert error_of(glue.stop_crawler_schedule, CrawlerName="nightly") == (
        "SchedulerNotRunningException",
        "The schedule of crawler nightly is not SCHEDULED",
    )
    glue.update_crawler_schedule(CrawlerName="nightly", Schedule="cron(30 3 ? * MON-FRI *)")
    assert schedule(glue, "nightly") == {"ScheduleExpression": "cron(30 3 ? * MON-FRI *)", "State": "NOT_SCHEDULED"}
    glue.start_crawler_schedule(CrawlerName="nightly")
    assert schedule(glue, "nightly")["State"] == "SCHEDULED"

    assert error_of(glue.start_crawler_schedule, CrawlerName="manual") == (
        "NoScheduleException",
        "Crawler manual has no schedule; give it one with UpdateCrawlerSchedule",
    )
    assert error_of(glue.update_crawler_schedule, CrawlerName="manual", Schedule="daily") == (
        "InvalidInputException",
        "Crawler manual: Schedule 'daily' is not a valid cron expression: it must look like cron(Minutes Hours "
        "Day-of-month Month Day-of-week Year). Example: cron(15 12 * * ? *) fires every day at 12:15 UTC",
    )
    glue.update_crawler_schedule(CrawlerName="manual", Schedule=NIGHTLY)
    assert schedule(glue, "manual") == {"ScheduleExpression": NIGHTLY, "State": "SCHEDULED"}
    assert error_of(glue.stop_crawler_schedule, CrawlerName="nope") == (
        "EntityNotFoundException",
        "Crawler entry with name nope does not exist",
    )


def test_scheduled_crawler_crawls_at_its_minute_unless_its_schedule_is_stopped(glue):
    # A minute at least 10 s ahead (and the next, should a slow machine create the crawlers after it
    # began): no crawl may start before it.
    due = (clock.now() + timedelta(seconds=70)).replace(second=0, microsecond=0)
    cron = f"cron({due.minute},{(due.minute + 1) % 60} * * * ? *)"
    # "paused" comes first, so the scheduler's pass over the minute that starts "scheduled" went over it.
    create_crawler(glue, "paused", Schedule=cron)
    glue.stop_crawler_schedule(CrawlerName="paused")
    create_crawler(glue, "scheduled", Schedule=cron)

    assert glue.list_crawls(CrawlerName="scheduled")["Crawls"] == []
    clock.advance(seconds=(due - clock.now()).total_seconds() + 1)  # to the minute, instead of waiting for it

    last_crawl = when(lambda: glue.get_crawler(Name="scheduled")["Crawler"].get("LastCrawl"), "the scheduled crawl")

    assert last_crawl["Status"] == "SUCCEEDED", last_crawl.get("ErrorMessage")
    assert last_crawl["StartTime"] >= due  # not before its minute
    assert glue.get_table(DatabaseName="labdb", Name="scheduled_flights")["Table"]["Parameters"]["recordCount"] == "3"
    assert glue.list_crawls(CrawlerName="paused")["Crawls"] == []
    assert glue.get_crawler(Name="paused")["Crawler"]["State"] == "READY"

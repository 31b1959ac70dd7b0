"""Firehose's S3 object keys: prefix expressions, their rules, the default prefix and object names (local_aws/firehose/prefixes.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from local_aws.firehose import prefixes
from local_aws.firehose.prefixes import PrefixError, data_prefix, error_prefix, format_java, object_name

# The guide's examples are evaluated "at 10:30 AM UTC on Aug 27, 2018".
MOMENT = datetime(2018, 8, 27, 10, 30, 5, 123456, tzinfo=UTC)


def test_no_prefix_is_the_utc_hour():
    assert data_prefix("", MOMENT) == "2018/08/27/10/"
    assert data_prefix(None, MOMENT) == "2018/08/27/10/"


def test_a_prefix_without_a_timestamp_expression_gets_the_hour_appended_as_is():
    assert data_prefix("logs/", MOMENT) == "logs/2018/08/27/10/"
    # AWS appends !{timestamp:yyyy/MM/dd/HH/} to the value: no slash is added in between.
    assert data_prefix("myFirehosePrefix", MOMENT) == "myFirehosePrefix2018/08/27/10/"
    assert re.fullmatch(r"raw/[0-9a-f-]{11}/2018/08/27/10/", data_prefix("raw/!{firehose:random-string}/", MOMENT))


def test_the_guides_examples():
    assert (
        data_prefix(
            "myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/", MOMENT
        )
        == "myPrefix/year=2018/month=08/day=27/hour=10/"
    )
    assert (
        error_prefix(
            "myErrorPrefix/!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/!{firehose:error-output-type}",
            "",
            "processing-failed",
            MOMENT,
        )
        == "myErrorPrefix/year=2018/month=08/day=27/hour=10/processing-failed"
    )
    evaluated = data_prefix(
        "myFirehose/DeliveredYear=!{timestamp:yyyy}/anyMonth/rand=!{firehose:random-string}", MOMENT
    )
    assert re.fullmatch(r"myFirehose/DeliveredYear=2018/anyMonth/rand=[0-9a-f-]{11}", evaluated)
    assert (
        error_prefix("myFirehoseFailures/!{firehose:error-output-type}/", "", "processing-failed", MOMENT)
        == "myFirehoseFailures/processing-failed/"
    )


def test_without_an_error_output_prefix_failures_go_under_the_prefix_and_error_type():
    assert error_prefix("", "", "format-conversion-failed", MOMENT) == "format-conversion-failed/2018/08/27/10/"
    assert error_prefix(None, "archive/", "format-conversion-failed", MOMENT) == (
        "archive/format-conversion-failed/2018/08/27/10/"
    )


def test_every_random_string_is_new_and_every_timestamp_the_same_instant():
    evaluated = prefixes.evaluate(
        "!{firehose:random-string}/!{firehose:random-string}/!{timestamp:ss}!{timestamp:ss}", MOMENT
    )
    first, second, seconds = evaluated.split("/")
    assert first != second and len(first) == len(second) == 11
    assert seconds == "0505"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("yyyy-MM-dd'T'HH:mm:ss.SSS", "2018-08-27T10:30:05.123"),
        ("yy/M/d H:m", "18/8/27 10:30"),
        ("MMM MMMM EEE EEEE a hh KK kk", "Aug August Mon Monday AM 10 10 10"),
        ("D DDD Q QQQ", "239 239 3 Q3"),
        ("'it''s' ''", "it's '"),
        ("YYYY-ww e", "2018-35 2"),
        ("X Z xxx VV", "Z +0000 +00:00 UTC"),
    ],
)
def test_java_date_time_formatter_patterns(pattern, expected):
    assert format_java(MOMENT, pattern) == expected


def test_week_based_year_is_the_next_one_in_the_week_of_january_first():
    # Sunday 30 December 2018 starts the week holding 1 January 2019: week 1 of 2019 (US weeks).
    assert format_java(datetime(2018, 12, 30), "YYYY-ww") == "2019-01"
    assert format_java(datetime(2018, 12, 29), "YYYY-ww") == "2018-52"


def test_a_custom_time_zone_shifts_the_hour():
    tokyo = MOMENT.astimezone(ZoneInfo("Asia/Tokyo"))
    assert data_prefix("", tokyo) == "2018/08/27/19/"
    assert format_java(tokyo, "XXX") == "+09:00"


def test_object_names_follow_the_stream_version_and_time():
    name = object_name("clicks", "3", MOMENT, ".gz")
    assert re.fullmatch(r"clicks-3-2018-08-27-10-30-05-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\.gz", name)


@pytest.mark.parametrize(
    ("prefix", "error_output_prefix", "reason"),
    [
        ("a/!{timestamp:yyyy}/", None, "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions"),
        ("a/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}", "Prefix cannot contain"),
        ("a/", "e/!{timestamp:yyyy}/", "must contain at least one !{firehose:error-output-type}"),
        ("a/!{foo:bar}/", "e/!{firehose:error-output-type}", "unknown namespace 'foo'"),
        ("a/!{firehose:uuid}/", "e/!{firehose:error-output-type}", "the firehose namespace takes"),
        ("a/!{timestamp:yyyy/", "e/!{firehose:error-output-type}", "can only appear in !{namespace:value}"),
        ("a/!{timestamp:pppp}/", "e/!{firehose:error-output-type}", "pattern letter 'p' is not supported"),
        ("a/!{timestamp:yyyy[MM]}/", "e/!{firehose:error-output-type}", "reserved"),
        ("a/!{partitionKeyFromQuery:id}/", "e/!{firehose:error-output-type}", "needs dynamic partitioning"),
    ],
)
def test_prefixes_that_break_the_rules_are_refused(prefix, error_output_prefix, reason):
    with pytest.raises(PrefixError) as refused:
        prefixes.validate(prefix, error_output_prefix)
    assert reason in str(refused.value)


def test_prefixes_that_keep_the_rules_pass():
    prefixes.validate(None, None)
    prefixes.validate("plain/", None)  # no expressions: the error prefix may be left out
    prefixes.validate("p/!{timestamp:yyyy}/", "e/!{firehose:error-output-type}/!{timestamp:yyyy}/")
    prefixes.validate("", "errors/")  # a literal error prefix

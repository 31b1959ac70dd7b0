"""AWS six-field cron expressions (Glue SCHEDULED triggers): which UTC minutes they fire in."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from local_aws.glue.cron import CronError, parse


def firing_minutes(expression: str, start: datetime, days: int) -> list[datetime]:
    schedule = parse(expression)
    minutes = (start + timedelta(minutes=i) for i in range(days * 24 * 60))
    return [minute for minute in minutes if schedule.matches(minute)]


def test_daily_at_a_fixed_time():
    assert firing_minutes("cron(15 12 * * ? *)", datetime(2026, 3, 1), days=2) == [
        datetime(2026, 3, 1, 12, 15),
        datetime(2026, 3, 2, 12, 15),
    ]


def test_steps_ranges_lists_and_names():
    # Every 20 minutes from :10 between 08:00 and 09:59 on weekdays; 2026-03-06 is a Friday.
    assert firing_minutes("cron(10/20 8-9 ? * MON-FRI *)", datetime(2026, 3, 6), days=3) == [
        datetime(2026, 3, 6, 8, 10), datetime(2026, 3, 6, 8, 30), datetime(2026, 3, 6, 8, 50),
        datetime(2026, 3, 6, 9, 10), datetime(2026, 3, 6, 9, 30), datetime(2026, 3, 6, 9, 50),
    ]  # fmt: skip
    assert [m.month for m in firing_minutes("cron(0 0 1 JAN,JUL ? 2026)", datetime(2026, 1, 1), days=365)] == [1, 7]
    assert firing_minutes("cron(0 0 1 1 ? 2027)", datetime(2026, 1, 1), days=40) == []


@pytest.mark.parametrize(
    ("expression", "day"),
    [
        ("cron(0 0 L * ? *)", 28),  # the last day of February 2026
        ("cron(0 0 LW * ? *)", 27),  # its last weekday (the 28th is a Saturday)
        ("cron(0 0 15W * ? *)", 16),  # the weekday nearest the 15th (a Sunday): Monday the 16th
        ("cron(0 0 1W * ? *)", 2),  # the 1st is a Sunday; the nearest weekday in the month is Monday the 2nd
        ("cron(0 0 ? * 6L *)", 27),  # the last Friday
        ("cron(0 0 ? * 3#2 *)", 10),  # the second Tuesday
        ("cron(0 0 ? * L *)", None),  # Saturdays: every one of the month
    ],
)
def test_special_day_wildcards(expression, day):
    days = [m.day for m in firing_minutes(expression, datetime(2026, 2, 1), days=28)]
    assert days == ([day] if day else [7, 14, 21, 28])


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("rate(5 minutes)", "must look like cron("),
        ("cron(0 12 * * *)", "it has 5 fields"),
        ("cron(0 12 * * * *)", "exactly one of Day-of-month and Day-of-week must be '?'"),
        ("cron(0 12 ? * ? *)", "exactly one of Day-of-month and Day-of-week must be '?'"),
        ("cron(60 * * * ? *)", "Minutes field: 60 is outside 0-59"),
        ("cron(0 0 ? * FUNDAY *)", "Day-of-week field: 'FUNDAY' is not a number or a name"),
        ("cron(0 10-2 * * ? *)", "Hours field: range '10-2' runs backwards"),
        ("cron(0 0 1 1 ? 1969)", "Year field: 1969 is outside 1970-2199"),
    ],
)
def test_invalid_expressions_say_what_is_wrong(expression, reason):
    with pytest.raises(CronError) as raised:
        parse(expression)
    assert reason in str(raised.value)

"""AWS's six-field cron expressions, as Glue triggers (and EventBridge) take them.

    cron(Minutes Hours Day-of-month Month Day-of-week Year)

Minutes 0-59, Hours 0-23, Day-of-month 1-31, Month 1-12 or JAN-DEC, Day-of-week 1-7 or SUN-SAT
(1 = Sunday), Year 1970-2199; all in UTC. Every field takes `,` lists, `-` ranges, `*` and `/`
steps (`0/15`, `*/5`, `10-40/10`). One of Day-of-month and Day-of-week must be `?`, the other
decides the day: Day-of-month also takes `L` (last day), `nW` (weekday nearest day n, within the
month) and `LW` (last weekday); Day-of-week also takes `L` (Saturday), `nL` (last day n of the
month) and `n#k` (k-th day n of the month).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import date, datetime

MONTHS = {name: number for number, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_EXPRESSION = re.compile(r"^cron\((.*)\)$", re.IGNORECASE)


class CronError(ValueError):
    """The expression is not valid AWS cron; the message says which field and why."""


def _aws_weekday(day: date) -> int:
    """1 = Sunday ... 7 = Saturday, as AWS numbers them."""
    return (day.isoweekday() % 7) + 1


def _number(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.upper()) if names else None
    if value is None:
        if not text.isdigit():
            raise CronError(f"{field} field: {text!r} is not a number{' or a name' if names else ''}")
        value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field} field: {value} is outside {low}-{high}")
    return value


def _values(text: str, field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """The values a field of `,` `-` `*` `/` parts allows."""
    allowed: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = _number(step_text, field, 1, high, {}) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, field, low, high, names or {}), _number(last, field, low, high, names or {})
            if start > end:
                raise CronError(f"{field} field: range {base!r} runs backwards")
        else:
            start = _number(base, field, low, high, names or {})
            end = high if step_text else start  # "5/10": from 5 every 10
        allowed.update(range(start, end + 1, step))
    return allowed


def _day_of_month_rule(text: str) -> Callable[[date], bool]:
    field = "Day-of-month"
    if text == "L":
        return lambda day: day.day == calendar.monthrange(day.year, day.month)[1]
    if text == "LW":
        return lambda day: day.day == _nearest_weekday(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
    if text.endswith("W"):
        target = _number(text[:-1], field, 1, 31, {})
        return lambda day: day.day == _nearest_weekday(day.year, day.month, target)
    days = _values(text, field, 1, 31)
    return lambda day: day.day in days


def _nearest_weekday(year: int, month: int, target: int) -> int:
    """The weekday (Mon-Fri) nearest `target` in the same month; `target` past month end -> last day."""
    last = calendar.monthrange(year, month)[1]
    target = min(target, last)
    weekday = date(year, month, target).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: Friday before, or Monday after when Friday is in the previous month
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: Monday after, or Friday before when Monday is in the next month
        return target + 1 if target < last else target - 2
    return target


def _day_of_week_rule(text: str) -> Callable[[date], bool]:
    field = "Day-of-week"
    if text == "L":
        return lambda day: _aws_weekday(day) == 7
    if text.endswith("L"):
        weekday = _number(text[:-1], field, 1, 7, DAYS)
        return lambda day: _aws_weekday(day) == weekday and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    if "#" in text:
        weekday_text, _, nth_text = text.partition("#")
        weekday, nth = _number(weekday_text, field, 1, 7, DAYS), _number(nth_text, field, 1, 5, {})
        return lambda day: _aws_weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth
    weekdays = _values(text, field, 1, 7, DAYS)
    return lambda day: _aws_weekday(day) in weekdays


class CronSchedule:
    """A parsed `cron(...)` expression; `matches(minute)` says whether it fires in that UTC minute."""

    def __init__(self, expression: str):
        self.expression = expression
        found = _EXPRESSION.match((expression or "").strip())
        if not found:
            raise CronError("it must look like cron(Minutes Hours Day-of-month Month Day-of-week Year)")
        fields = found.group(1).split()
        if len(fields) != 6:
            raise CronError(
                f"it has {len(fields)} fields; AWS cron has 6: Minutes Hours Day-of-month Month Day-of-week Year"
            )
        minutes, hours, days_of_month, months, days_of_week, years = fields
        if (days_of_month == "?") == (days_of_week == "?"):
            raise CronError("exactly one of Day-of-month and Day-of-week must be '?'")
        self.minutes = _values(minutes, "Minutes", 0, 59)
        self.hours = _values(hours, "Hours", 0, 23)
        self.months = _values(months, "Month", 1, 12, MONTHS)
        self.years = _values(years, "Year", 1970, 2199)
        if days_of_month == "?":
            self.day_matches = _day_of_week_rule(days_of_week.upper())
        else:
            self.day_matches = _day_of_month_rule(days_of_month.upper())

    def matches(self, minute: datetime) -> bool:
        return (
            minute.minute in self.minutes
            and minute.hour in self.hours
            and minute.month in self.months
            and minute.year in self.years
            and self.day_matches(minute.date())
        )


def parse(expression: str) -> CronSchedule:
    return CronSchedule(expression)


def check(expression: str, owner: str) -> None:
    """Raise CronError with a message naming the owner ("Trigger nightly"), the field and an example."""
    try:
        parse(expression)
    except CronError as error:
        raise CronError(
            f"{owner}: Schedule {expression!r} is not a valid cron expression: {error}. "
            f"Example: cron(15 12 * * ? *) fires every day at 12:15 UTC"
        ) from None

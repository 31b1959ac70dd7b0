"""S3 object keys as Firehose names them: `<evaluated prefix><suffix>`.

Custom prefixes (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html) hold expressions
`!{namespace:value}`:
- `!{timestamp:<Java DateTimeFormatter pattern>}`: the approximate arrival time of the oldest record in
  the object, in UTC (or the destination's CustomTimeZone); every instance in one prefix is the same instant;
- `!{firehose:random-string}`: 11 random characters, a new one for each instance;
- `!{firehose:error-output-type}`: why the records failed (`format-conversion-failed`, ...), only in
  ErrorOutputPrefix.

The semantic rules checked here, as the guide lists them: `!{` only opens an expression; a Prefix without
a timestamp expression gets `!{timestamp:yyyy/MM/dd/HH/}` appended (no Prefix: `YYYY/MM/dd/HH/`);
ErrorOutputPrefix may be left out only when Prefix has no expressions, and then is
`<Prefix><error-output-type>/YYYY/MM/dd/HH/`; an ErrorOutputPrefix with expressions names
`!{firehose:error-output-type}`; Prefix never does. partitionKeyFromQuery / partitionKeyFromLambda belong
to dynamic partitioning, which local AWS does not run.

The suffix is `<stream name>-<stream version>-yyyy-MM-dd-HH-mm-ss-<uuid><file extension>`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

TIMESTAMP, FIREHOSE = "timestamp", "firehose"
ERROR_OUTPUT_TYPE, RANDOM_STRING = "error-output-type", "random-string"
DYNAMIC_PARTITIONING_NAMESPACES = ("partitionKeyFromQuery", "partitionKeyFromLambda")
DEFAULT_TIME_PATTERN = "yyyy/MM/dd/HH/"

_EXPRESSION = re.compile(r"!\{([^:{}]*):([^{}]*)\}")


class PrefixError(ValueError):
    """A Prefix or ErrorOutputPrefix that breaks the rules; the message is the reason AWS would give."""


@dataclass(frozen=True)
class Expression:
    namespace: str
    value: str


Part = str | Expression


def parse(prefix: str) -> list[Part]:
    """The literal text and `!{namespace:value}` expressions of a prefix, in order."""
    parts: list[Part] = []
    position = 0
    for match in _EXPRESSION.finditer(prefix):
        literal = prefix[position : match.start()]
        if "!{" in literal:
            raise PrefixError(f"The sequence !{{ in '{prefix}' can only appear in !{{namespace:value}} expressions")
        if literal:
            parts.append(literal)
        parts.append(Expression(match.group(1), match.group(2)))
        position = match.end()
    rest = prefix[position:]
    if "!{" in rest:
        raise PrefixError(f"The sequence !{{ in '{prefix}' can only appear in !{{namespace:value}} expressions")
    if rest:
        parts.append(rest)
    return parts


def expressions(prefix: str | None) -> list[Expression]:
    return [part for part in parse(prefix or "") if isinstance(part, Expression)]


def validate(prefix: str | None, error_prefix: str | None, dynamic_partitioning: bool = False) -> None:
    """Raise PrefixError when Prefix and ErrorOutputPrefix break Firehose's semantic rules."""
    in_prefix, in_error_prefix = expressions(prefix), expressions(error_prefix)
    for field, found in (("Prefix", in_prefix), ("ErrorOutputPrefix", in_error_prefix)):
        for expression in found:
            _check_expression(field, expression, dynamic_partitioning)
    if any(e.namespace == FIREHOSE and e.value == ERROR_OUTPUT_TYPE for e in in_prefix):
        raise PrefixError(
            "Prefix cannot contain !{firehose:error-output-type}; it can only be used in ErrorOutputPrefix"
        )
    if in_prefix and not error_prefix:
        raise PrefixError("ErrorOutputPrefix cannot be null or empty when Prefix contains expressions")
    if in_error_prefix and not any(e.namespace == FIREHOSE and e.value == ERROR_OUTPUT_TYPE for e in in_error_prefix):
        raise PrefixError(
            "ErrorOutputPrefix must contain at least one !{firehose:error-output-type} expression when it "
            "contains expressions"
        )


def _check_expression(field: str, expression: Expression, dynamic_partitioning: bool) -> None:
    if expression.namespace == TIMESTAMP:
        try:
            format_java(datetime(2018, 8, 27, 10, 30), expression.value)
        except PrefixError as error:
            raise PrefixError(f"Invalid {field} expression !{{timestamp:{expression.value}}}: {error}") from None
    elif expression.namespace == FIREHOSE:
        if expression.value not in (ERROR_OUTPUT_TYPE, RANDOM_STRING):
            raise PrefixError(
                f"Invalid {field} expression !{{firehose:{expression.value}}}: the firehose namespace takes "
                f"'{ERROR_OUTPUT_TYPE}' or '{RANDOM_STRING}'"
            )
    elif expression.namespace in DYNAMIC_PARTITIONING_NAMESPACES:
        if not dynamic_partitioning:
            raise PrefixError(
                f"{field} expression !{{{expression.namespace}:{expression.value}}} needs dynamic partitioning "
                f"(DynamicPartitioningConfiguration) enabled"
            )
    else:
        raise PrefixError(
            f"Invalid {field} expression !{{{expression.namespace}:{expression.value}}}: unknown namespace "
            f"'{expression.namespace}' (use timestamp or firehose)"
        )


def evaluate(prefix: str | None, moment: datetime, error_output_type: str | None = None) -> str:
    """A prefix with its expressions evaluated at `moment` (the oldest record's arrival, in the stream's zone)."""
    out = []
    for part in parse(prefix or ""):
        if isinstance(part, str):
            out.append(part)
        elif part.namespace == TIMESTAMP:
            out.append(format_java(moment, part.value))
        elif part.value == RANDOM_STRING:
            out.append(random_string())
        elif part.value == ERROR_OUTPUT_TYPE:
            out.append(error_output_type or "")
    return "".join(out)


def data_prefix(prefix: str | None, moment: datetime) -> str:
    """Where delivered records go: Prefix evaluated, `yyyy/MM/dd/HH/` appended when it has no timestamp."""
    prefix = prefix or ""
    if not any(e.namespace == TIMESTAMP for e in expressions(prefix)):
        prefix += f"!{{{TIMESTAMP}:{DEFAULT_TIME_PATTERN}}}"
    return evaluate(prefix, moment)


def error_prefix(error_output_prefix: str | None, prefix: str | None, error_output_type: str, moment: datetime) -> str:
    """Where failed records go: ErrorOutputPrefix evaluated, or `<Prefix><error-output-type>/yyyy/MM/dd/HH/`."""
    if error_output_prefix:
        return evaluate(error_output_prefix, moment, error_output_type)
    return f"{prefix or ''}{error_output_type}/{format_java(moment, DEFAULT_TIME_PATTERN)}"


def object_name(stream_name: str, version: str | int, moment: datetime, extension: str = "") -> str:
    """`<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><extension>`, the suffix AWS gives every object."""
    return f"{stream_name}-{version}-{moment:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{extension}"


def random_string() -> str:
    """11 random characters, shaped like AWS's (`046b6c7f-0b`)."""
    return str(uuid.uuid4())[:11]


# --- Java DateTimeFormatter patterns ------------------------------------------------------------

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_RESERVED = set("#{}[]")


def format_java(moment: datetime, pattern: str) -> str:
    """`moment` formatted with a java.time DateTimeFormatter pattern (the letters prefixes use; quotes for literals).

    Supported letters: G u y Y D M L d Q q E e c w W a h K k H m s S A n N V z O X x Z; week-based fields
    (Y w W e c) as the US locale counts them. Another letter raises PrefixError.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "'":
            end = i + 1
            literal = []
            while True:
                if end >= n:
                    raise PrefixError(f"unterminated quote in pattern '{pattern}'")
                if pattern[end] == "'":
                    if end + 1 < n and pattern[end + 1] == "'":
                        literal.append("'")
                        end += 2
                        continue
                    break
                literal.append(pattern[end])
                end += 1
            out.append("'" if end == i + 1 else "".join(literal))
            i = end + 1
            continue
        if char.isascii() and char.isalpha():
            count = 1
            while i + count < n and pattern[i + count] == char:
                count += 1
            out.append(_field(moment, char, count))
            i += count
            continue
        if char in _RESERVED:
            raise PrefixError(f"'{char}' is reserved in pattern '{pattern}'; quote it ('{char}') to use it literally")
        out.append(char)
        i += 1
    return "".join(out)


def _pad(value: int, count: int) -> str:
    return str(value).zfill(count)


def _field(moment: datetime, letter: str, count: int) -> str:
    if letter in "uy":
        if count == 2:
            return _pad(moment.year % 100, 2)
        return _pad(moment.year, count)
    if letter in "ML":
        if count <= 2:
            return _pad(moment.month, count)
        name = _MONTHS[moment.month - 1]
        return {3: name[:3], 4: name, 5: name[0]}.get(count) or _too_many(letter, count)
    simple = {
        "d": (moment.day, 2),
        "D": (moment.timetuple().tm_yday, 3),
        "H": (moment.hour, 2),
        "k": (moment.hour or 24, 2),
        "K": (moment.hour % 12, 2),
        "h": ((moment.hour % 12) or 12, 2),
        "m": (moment.minute, 2),
        "s": (moment.second, 2),
    }
    if letter in simple:
        value, most = simple[letter]
        return _pad(value, count) if count <= most else _too_many(letter, count)
    if letter == "S":
        return f"{moment.microsecond:06d}000"[:count] if count <= 9 else _too_many(letter, count)
    if letter == "n":
        return str(moment.microsecond * 1000)
    if letter == "A":
        return str(((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000 + moment.microsecond // 1000)
    if letter == "N":
        return str((((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1_000_000 + moment.microsecond) * 1000)
    if letter in "Qq":
        quarter = (moment.month - 1) // 3 + 1
        return {1: str(quarter), 2: _pad(quarter, 2), 3: f"Q{quarter}",
                4: f"{quarter}{('st', 'nd', 'rd', 'th')[quarter - 1]} quarter", 5: str(quarter)}.get(count) \
            or _too_many(letter, count)  # fmt: skip
    if letter == "E":
        name = _DAYS[moment.weekday()]
        return {1: name[:3], 2: name[:3], 3: name[:3], 4: name, 5: name[0]}.get(count) or _too_many(letter, count)
    if letter == "a":
        return ("AM" if moment.hour < 12 else "PM") if count == 1 else _too_many(letter, count)
    if letter == "G":
        return {1: "AD", 2: "AD", 3: "AD", 4: "Anno Domini", 5: "A"}.get(count) or _too_many(letter, count)
    if letter in "VzOXxZ":
        return _zone(moment, letter, count)
    if letter in "YwWec":
        return _week_field(moment, letter, count)
    raise PrefixError(f"pattern letter '{letter}' is not supported")


def _week_field(moment: datetime, letter: str, count: int) -> str:
    """Week-based fields as Java's default (US) locale counts them: weeks start on Sunday, week 1 holds January 1."""
    day = moment.date()
    sunday = day - timedelta(days=(day.weekday() + 1) % 7)
    if letter in "ec":
        if count <= 2:
            return _pad((day.weekday() + 1) % 7 + 1, count)  # Sunday is 1
        return _field(moment, "E", count)
    if letter == "W":
        first = day.replace(day=1)
        return _pad((day.day + (first.weekday() + 1) % 7 - 1) // 7 + 1, count)
    year = day.year + 1 if (sunday + timedelta(days=6)).year > day.year else day.year
    if letter == "Y":
        return _pad(year % 100, 2) if count == 2 else _pad(year, count)
    january_first = date(year, 1, 1)
    week_one = january_first - timedelta(days=(january_first.weekday() + 1) % 7)
    return _pad((sunday - week_one).days // 7 + 1, count) if count <= 2 else _too_many(letter, count)


def _too_many(letter: str, count: int) -> str:
    raise PrefixError(f"too many pattern letters: {letter * count}")


def _zone(moment: datetime, letter: str, count: int) -> str:
    offset = moment.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    sign = "+" if seconds >= 0 else "-"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    zone_name = getattr(moment.tzinfo, "key", None) or "UTC"
    if letter == "V":
        return zone_name if count == 2 else _too_many(letter, count)
    if letter == "z":
        return (moment.tzname() or "UTC") if count <= 4 else _too_many(letter, count)
    if letter == "O":
        return "GMT" if not seconds else f"GMT{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
    if letter in "Xx" and not seconds and letter == "X":
        return "Z"
    if letter == "Z":
        return f"{sign}{hours:02d}{minutes:02d}" if count <= 3 else f"GMT{sign}{hours:02d}:{minutes:02d}"
    compact = {1: f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else ""), 2: f"{sign}{hours:02d}{minutes:02d}"}
    return compact.get(count) or f"{sign}{hours:02d}:{minutes:02d}"

"""What a replication task is asked to do, checked as DMS checks it: its task settings and where CDC starts.

Pure: tasks.py refuses a request whose options do not parse with OptionError's code and message.

- `TaskSettings.parse(ReplicationTaskSettings)`: the settings local AWS applies ("Specifying task
  settings for AWS DMS tasks"): FullLoadSettings.TargetTablePrepMode (DROP_AND_CREATE by default),
  ChangeProcessingDdlHandlingPolicy.HandleSourceTableAltered (true by default) and
  ValidationSettings.EnableValidation (local AWS does not validate; ReloadTables' validate-only
  says so). Other settings are kept on the task, not applied.
- `cdc_start(CdcStartPosition, CdcStartTime)`: StartReplicationTask / ModifyReplicationTask's start
  of CDC. A position is a date ("2018-03-08T12:12:12"), a checkpoint ("checkpoint:V1#...") or a
  binlog position ("mysql-bin-changelog.000024:373"); "Specifying both values results in an error."
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_aws.dms.s3_target import TABLE_PREP_MODES
from local_aws.dms.source_mysql import Position, SourceError

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([+-]\d{2}:?\d{2}|Z)?$")


class OptionError(ValueError):
    """A request's option DMS would refuse; `code` is the error code to answer with."""

    def __init__(self, message: str, code: str = "InvalidParameterValueException"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TaskSettings:
    target_table_prep_mode: str = "DROP_AND_CREATE"
    handle_source_table_altered: bool = True
    validation: bool = False

    @classmethod
    def parse(cls, raw: str | None) -> TaskSettings:
        if not raw:
            return cls()
        try:
            document = json.loads(raw)
        except ValueError as error:
            raise OptionError(f"Invalid ReplicationTaskSettings: not a JSON document ({error})") from None
        if not isinstance(document, dict):
            raise OptionError("Invalid ReplicationTaskSettings: not a JSON object")
        mode = _section(document, "FullLoadSettings").get("TargetTablePrepMode", "DROP_AND_CREATE")
        if mode not in TABLE_PREP_MODES:
            raise OptionError(f"Invalid TargetTablePrepMode {mode}; valid values: {', '.join(TABLE_PREP_MODES)}")
        altered = _section(document, "ChangeProcessingDdlHandlingPolicy").get("HandleSourceTableAltered", True)
        if not isinstance(altered, bool):
            raise OptionError(f"Invalid HandleSourceTableAltered {altered!r}: true or false")
        validation = _section(document, "ValidationSettings").get("EnableValidation", False) is True
        return cls(mode, altered, validation)


def _section(document: dict, name: str) -> dict:
    section = document.get(name) or {}
    if not isinstance(section, dict):
        raise OptionError(f"Invalid ReplicationTaskSettings: {name} is not a JSON object")
    return section


@dataclass(frozen=True)
class CdcStart:
    """Where CDC starts: a binlog position, or the first change written at or after a time."""

    position: Position | None = None
    time: datetime | None = None
    text: str | None = None  # the CdcStartPosition as given: DescribeReplicationTasks shows it


def cdc_start(position: str | None, time: Any = None) -> CdcStart | None:
    """The CDC start a request asks for (None: it names none)."""
    if position and time is not None:
        raise OptionError("Specify either CdcStartPosition or CdcStartTime, not both",
                          "InvalidParameterCombinationException")  # fmt: skip
    if time is not None:
        return CdcStart(time=moment(time))
    if not position:
        return None
    if DATE.match(position.strip()):
        return CdcStart(time=moment(position), text=position)
    try:
        return CdcStart(position=Position.parse(position), text=position)
    except SourceError as error:
        raise OptionError(f"Invalid CdcStartPosition: {error}; or a date 2018-03-08T12:12:12") from None


def moment(value: Any) -> datetime:
    """CdcStartTime as boto3 sends it (seconds since the epoch) or a date text; a time without zone is UTC."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        found = value
    else:
        try:
            found = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise OptionError(f"Invalid CdcStartTime {value!r}: expected a time such as 2018-03-08T12:12:12") from None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)

"""What a DMS task is asked to do: its task settings, where CDC starts (positions, checkpoints, times), and
which table an ALTER TABLE in the binlog changes. Pure functions, no server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from local_aws.dms.source_mysql import Position, SourceError, altered_table
from local_aws.dms.task_options import CdcStart, OptionError, TaskSettings, cdc_start

DMS_CHECKPOINT = "checkpoint:V1#27#mysql-bin-changelog.157832:1975:-1:2002:677883278264080:mysql-bin-changelog.157832:1876#0#0#*#0#93"


def test_task_settings_defaults_and_the_settings_applied():
    assert TaskSettings.parse(None) == TaskSettings("DROP_AND_CREATE", True, False)
    settings = TaskSettings.parse(json.dumps({
        "FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING", "MaxFullLoadSubTasks": 8},
        "ChangeProcessingDdlHandlingPolicy": {"HandleSourceTableAltered": False},
        "ValidationSettings": {"EnableValidation": True}, "Logging": {"EnableLogging": False},
    }))  # fmt: skip
    assert settings == TaskSettings("DO_NOTHING", False, True)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not a JSON document"),
        ("[]", "not a JSON object"),
        ('{"FullLoadSettings": {"TargetTablePrepMode": "TRUNCATE"}}', "Invalid TargetTablePrepMode TRUNCATE"),
        ('{"FullLoadSettings": 3}', "FullLoadSettings is not a JSON object"),
        ('{"ChangeProcessingDdlHandlingPolicy": {"HandleSourceTableAltered": "yes"}}', "HandleSourceTableAltered"),
    ],
)
def test_invalid_task_settings_are_refused(raw, message):
    with pytest.raises(OptionError, match=message) as raised:
        TaskSettings.parse(raw)
    assert raised.value.code == "InvalidParameterValueException"


def test_binlog_positions_and_checkpoints():
    assert Position.parse("mysql-bin-changelog.000024:373") == Position("mysql-bin-changelog.000024", 373)
    assert Position.parse("checkpoint:V1#mysql-bin-changelog.000002:4706") == Position(
        "mysql-bin-changelog.000002", 4706
    )
    # DMS's own checkpoint names two positions: the earlier one (a change may repeat, never go missing)
    assert Position.parse(DMS_CHECKPOINT) == Position("mysql-bin-changelog.157832", 1876)
    for wrong in ("mysql-bin-changelog.000024", "checkpoint:V1#27#0#0", "x:y"):
        with pytest.raises(SourceError):
            Position.parse(wrong)


def test_cdc_start_position_time_or_date():
    assert cdc_start(None, None) is None
    assert cdc_start("mysql-bin-changelog.000024:373") == CdcStart(
        position=Position("mysql-bin-changelog.000024", 373), text="mysql-bin-changelog.000024:373"
    )
    assert cdc_start(DMS_CHECKPOINT).position == Position("mysql-bin-changelog.157832", 1876)
    assert cdc_start("2018-03-08T12:12:12") == CdcStart(time=datetime(2018, 3, 8, 12, 12, 12, tzinfo=UTC),
                                                        text="2018-03-08T12:12:12")  # fmt: skip
    assert cdc_start(None, 1520511132.0).time == datetime(2018, 3, 8, 12, 12, 12, tzinfo=UTC)  # boto3 sends seconds
    offset = datetime(2018, 3, 8, 14, 12, 12, tzinfo=timezone(timedelta(hours=2)))
    assert cdc_start(None, offset.isoformat()).time == datetime(2018, 3, 8, 12, 12, 12, tzinfo=UTC)


def test_cdc_start_refuses_both_and_nonsense():
    with pytest.raises(OptionError, match="either CdcStartPosition or CdcStartTime") as raised:
        cdc_start("mysql-bin-changelog.000024:373", 1520511132)
    assert raised.value.code == "InvalidParameterCombinationException"
    with pytest.raises(OptionError, match="Invalid CdcStartPosition"):
        cdc_start("yesterday")
    with pytest.raises(OptionError, match="Invalid CdcStartTime"):
        cdc_start(None, "noon")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ALTER TABLE ratings ADD COLUMN note VARCHAR(20)", ("movielens", "ratings")),
        ("alter online table `movie``s`.`rat ings` add c int", ("movie`s", "rat ings")),
        ("  ALTER IGNORE TABLE IF EXISTS shop.orders DROP COLUMN x", ("shop", "orders")),
        ("ALTER TABLE movielens . ratings ADD c INT", ("movielens", "ratings")),
        ("BEGIN", None),
        ("ALTER USER admin IDENTIFIED BY 'x'", None),
        ("CREATE TABLE t (a INT)", None),
    ],
)
def test_the_table_an_alter_table_changes(query, expected):
    assert altered_table(query, "movielens") == expected

"""labkit.operators.s3_lifecycle: when an object's lifecycle actions fall due, and its state at a given time."""

from __future__ import annotations

from datetime import UTC, datetime

from labkit.operators.s3_lifecycle import EXPIRED, expected_state, midnight_after, schedule

CREATED = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
BIG = 200 * 1024
LAB = {
    "Rules": [
        {
            "ID": "tiering",
            "Filter": {"Prefix": "logs/"},
            "Status": "Enabled",
            "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 60, "StorageClass": "GLACIER"}],
            "Expiration": {"Days": 365},
        }
    ]
}


def obj(key="logs/a", size=BIG, **extra):
    return {"Key": key, "Size": size, "LastModified": CREATED, "StorageClass": "STANDARD", **extra}


def at(month, day, year=2026):
    return datetime(year, month, day, tzinfo=UTC)


def test_actions_fall_due_at_the_midnight_after_creation_plus_days():
    assert midnight_after(datetime(2026, 1, 18, 10, 30, tzinfo=UTC)) == at(1, 19)
    assert [(e["date"], e["action"]) for e in schedule(LAB, obj())] == [
        (at(2, 15), "STANDARD_IA"),
        (at(3, 17), "GLACIER"),
        (at(1, 16, 2027), EXPIRED),
    ]


def test_expected_state_walks_down_the_waterfall_then_expires():
    assert expected_state(LAB, obj(), datetime(2026, 2, 14, 23, 59, tzinfo=UTC)) == "STANDARD"
    assert expected_state(LAB, obj(), at(2, 15)) == "STANDARD_IA"
    assert expected_state(LAB, obj(), at(6, 1)) == "GLACIER"
    assert expected_state(LAB, obj(), at(1, 16, 2027)) == EXPIRED


def test_objects_outside_the_filter_or_small_or_already_colder_stay():
    assert expected_state(LAB, obj(key="data/a"), at(6, 1)) == "STANDARD"
    assert expected_state(LAB, obj(size=1000), at(6, 1)) == "STANDARD"  # under 128 KB
    assert expected_state(LAB, obj(StorageClass="DEEP_ARCHIVE"), at(6, 1)) == "DEEP_ARCHIVE"


def test_small_objects_may_go_to_glacier_when_the_configuration_allows_it():
    configuration = {**LAB, "TransitionDefaultMinimumObjectSize": "varies_by_storage_class"}
    assert expected_state(configuration, obj(size=1000), at(2, 20)) == "STANDARD"
    assert expected_state(configuration, obj(size=1000), at(6, 1)) == "GLACIER"


def test_tag_and_size_filters_and_disabled_rules():
    rule = {
        "ID": "cold",
        "Filter": {"And": {"Prefix": "", "Tags": [{"Key": "tier", "Value": "cold"}], "ObjectSizeGreaterThan": 10}},
        "Status": "Enabled",
        "Transitions": [{"Days": 0, "StorageClass": "GLACIER_IR"}],
    }
    configuration = {"Rules": [rule]}
    assert expected_state(configuration, obj(size=100, Tags={"tier": "cold"}), at(1, 16)) == "GLACIER_IR"
    assert expected_state(configuration, obj(size=100, Tags={"tier": "hot"}), at(1, 16)) == "STANDARD"
    assert expected_state(configuration, obj(size=5, Tags={"tier": "cold"}), at(1, 16)) == "STANDARD"
    disabled = {"Rules": [{**rule, "Status": "Disabled"}]}
    assert expected_state(disabled, obj(size=100, Tags={"tier": "cold"}), at(1, 16)) == "STANDARD"


def test_date_actions_apply_from_their_date():
    configuration = {
        "Rules": [
            {
                "ID": "d",
                "Prefix": "",
                "Status": "Enabled",
                "Transitions": [{"Date": at(3, 1), "StorageClass": "GLACIER"}],
            }
        ]
    }
    assert expected_state(configuration, obj(), at(2, 28)) == "STANDARD"
    assert expected_state(configuration, obj(), at(3, 1)) == "GLACIER"

"""DMS table mappings: selection with wildcards, transformations of names, and the documents refused."""

from __future__ import annotations

import json

import pytest

from local_aws.dms.table_mappings import MappingError, parse


def rules(*rules: dict) -> str:
    return json.dumps({"rules": [{"rule-id": str(i), "rule-name": str(i), **r} for i, r in enumerate(rules, 1)]})


def select(schema: str, table: str, action: str = "include", **extra) -> dict:
    locator = {"schema-name": schema, "table-name": table}
    return {"rule-type": "selection", "object-locator": locator, "rule-action": action, **extra}


def transform(target: str, action: str, locator: dict, **extra) -> dict:
    return {"rule-type": "transformation", "rule-target": target, "rule-action": action, "object-locator": locator,
            **extra}  # fmt: skip


# ---- selection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "selected"),
    [
        ("%", "orders", True),
        ("ord%", "orders", True),
        ("ord%", "customers", False),
        ("%ers", "orders", True),
        ("order_", "orders", True),  # _ is one character
        ("order_", "order", False),
        ("order_", "orders1", False),
        ("order[_]s", "order_s", True),  # [_] is a literal underscore
        ("order[_]s", "orderXs", False),
        ("t[ab]", "ta", True),
        ("t[ab]", "tc", False),
        ("t[a-d]", "tc", True),
        ("t[a-d]", "te", False),
        ("a.b", "aXb", False),  # regex characters are literal
        ("Orders", "orders", False),  # names are case-sensitive
    ],
)
def test_wildcards(pattern, name, selected):
    assert parse(rules(select("shop", pattern))).selected("shop", name) is selected


def test_schema_wildcard_and_other_schemas():
    mappings = parse(rules(select("sho%", "%")))
    assert mappings.selected("shop", "orders")
    assert not mappings.selected("crm", "orders")


def test_exclude_wins_over_include_whatever_the_rule_order():
    for document in (
        rules(select("shop", "%"), select("shop", "DMS%", "exclude")),
        rules(select("shop", "DMS%", "exclude"), select("shop", "%")),
    ):
        mappings = parse(document)
        assert mappings.selected("shop", "orders")
        assert not mappings.selected("shop", "DMS_audit")


def test_exclude_alone_selects_nothing():
    assert not parse(rules(select("shop", "%", "exclude"))).selected("shop", "orders")


def test_explicit_names_one_table_literally():
    mappings = parse(rules(select("NewCust", "Customer", "explicit"), select("NewCust", "Cust_mer", "explicit")))
    assert mappings.selected("NewCust", "Customer")
    assert not mappings.selected("NewCust", "Customers")
    assert not mappings.selected("NewCust", "CustXmer")  # no wildcards in an explicit rule


def test_load_order_higher_first():
    mappings = parse(
        rules(select("Test", "loadsecond", **{"load-order": "1"}), select("Test", "loadfirst", **{"load-order": 2}))
    )
    tables = sorted(["loadsecond", "loadfirst", "other"], key=lambda t: -mappings.load_order("Test", t))
    assert tables == ["loadfirst", "loadsecond", "other"]


# ---- transformations -------------------------------------------------------------------------


def test_rename_schema_table_and_column():
    mappings = parse(
        rules(
            select("test", "%"),
            transform("schema", "rename", {"schema-name": "test"}, value="test1"),
            transform("table", "rename", {"schema-name": "test", "table-name": "Actor"}, value="Actor1"),
            transform(
                "column",
                "rename",
                {"schema-name": "test", "table-name": "Actor", "column-name": "first_name"},
                value="fname",
            ),  # fmt: skip
        )
    )
    assert mappings.target_name("test", "Actor") == ("test1", "Actor1")
    assert mappings.target_name("test", "Film") == ("test1", "Film")
    assert mappings.columns("test", "Actor", ["id", "first_name"]) == [("id", "id"), ("first_name", "fname")]
    assert mappings.columns("test", "Film", ["first_name"]) == [("first_name", "first_name")]


def test_remove_column_with_wildcard():
    mappings = parse(rules(select("test", "%"), transform("column", "remove-column",
                                                          {"schema-name": "test", "table-name": "Actor",
                                                           "column-name": "col%"})))  # fmt: skip
    assert mappings.columns("test", "Actor", ["id", "col1", "col2", "name"]) == [("id", "id"), ("name", "name")]


def test_prefixes_suffixes_and_case():
    everything = {"schema-name": "%", "table-name": "%"}
    mappings = parse(
        rules(
            select("%", "%"),
            transform("table", "add-prefix", everything, value="DMS_"),
            transform("schema", "convert-uppercase", {"schema-name": "%"}),
            transform(
                "column",
                "replace-prefix",
                {**everything, "column-name": "Pre_%"},
                value="NewPre_",
                **{"old-value": "Pre_"},
            ),  # fmt: skip
            transform("column", "remove-suffix", {**everything, "column-name": "%"}, value="_old"),
        )
    )
    assert mappings.target_name("shop", "orders") == ("SHOP", "DMS_orders")
    assert mappings.columns("shop", "orders", ["Pre_id", "price_old", "qty"]) == [
        ("Pre_id", "NewPre_id"),
        ("price_old", "price"),
        ("qty", "qty"),
    ]


def test_lowercase_and_suffix_actions():
    mappings = parse(
        rules(
            select("%", "%"),
            transform("table", "convert-lowercase", {"schema-name": "test", "table-name": "ACTOR"}),
            transform("table", "add-suffix", {"schema-name": "test", "table-name": "FILM"}, value="_v2"),
            transform(
                "table",
                "replace-suffix",
                {"schema-name": "test", "table-name": "%_tmp"},
                value="_final",
                **{"old-value": "_tmp"},
            ),  # fmt: skip
            transform("table", "remove-prefix", {"schema-name": "test", "table-name": "stg_%"}, value="stg_"),
        )
    )
    assert mappings.target_name("test", "ACTOR") == ("test", "actor")
    assert mappings.target_name("test", "FILM") == ("test", "FILM_v2")
    assert mappings.target_name("test", "sales_tmp") == ("test", "sales_final")
    assert mappings.target_name("test", "stg_users") == ("test", "users")


def test_one_action_per_object_the_lower_rule_id():
    document = {
        "rules": [
            select("test", "%") | {"rule-id": "1"},
            transform("table", "add-prefix", {"schema-name": "test", "table-name": "%"}, value="B_") | {"rule-id": "9"},
            transform("table", "rename", {"schema-name": "test", "table-name": "Actor"}, value="A") | {"rule-id": "3"},
        ]
    }
    mappings = parse(json.dumps(document))
    assert mappings.target_name("test", "Actor") == ("test", "A")
    assert mappings.target_name("test", "Film") == ("test", "B_Film")


def test_rules_without_effect_on_s3_are_accepted():
    mappings = parse(
        rules(
            select("shop", "%"),
            {
                "rule-type": "table-settings",
                "object-locator": {"schema-name": "shop", "table-name": "orders"},
                "parallel-load": {"type": "partitions-auto"},
            },  # fmt: skip
            transform("table", "define-primary-key", {"schema-name": "shop", "table-name": "orders"}),
        )
    )
    assert mappings.target_name("shop", "orders") == ("shop", "orders")


# ---- refused documents -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "TableMappings is not valid JSON"),
        ("[]", 'must be a JSON object with a "rules" list'),
        (json.dumps({"rules": []}), "no selection rule"),
        (rules({"rule-type": "selection", "rule-action": "include"}), "rule 1: object-locator is missing"),
        (rules(select("shop", "%", "keep")), "rule 1: rule-action 'keep' is not valid for a selection rule"),
        (
            rules({"rule-type": "selection", "rule-action": "include", "object-locator": {"schema-name": "s"}}),
            "rule 1: object-locator has no table-name",
        ),  # fmt: skip
        (rules(select("shop", "%"), {"rule-type": "mapping"}), "rule 2: unknown rule-type 'mapping'"),
        (json.dumps({"rules": [select("s", "t") | {"rule-id": "x"}]}), "rule 1: rule-id must be a number"),
        (
            json.dumps({"rules": [select("s", "t") | {"rule-id": 1}, select("s", "u") | {"rule-id": "1"}]}),
            "rule-id 1 is used by more than one rule",
        ),  # fmt: skip
        (
            rules(select("s", "%"), transform("table", "rename", {"schema-name": "s", "table-name": "t"})),
            "rule 2: rule-action rename needs a value",
        ),  # fmt: skip
        (
            rules(select("s", "%"), transform("table", "explode", {"schema-name": "s", "table-name": "t"})),
            "rule 2: unknown rule-action 'explode'",
        ),  # fmt: skip
        (
            rules(select("s", "%"), transform("row", "rename", {"schema-name": "s"}, value="x")),
            "rule 2: rule-target 'row' is not valid",
        ),  # fmt: skip
        (
            rules(select("s", "%"), transform("table", "remove-column", {"schema-name": "s", "table-name": "t"})),
            "rule 2: remove-column needs rule-target column",
        ),  # fmt: skip
        (
            rules(select("s", "%"), transform("column", "rename", {"schema-name": "s", "table-name": "t"}, value="x")),
            "rule 2: object-locator has no column-name",
        ),  # fmt: skip
        (
            rules(
                select("s", "%"),
                transform(
                    "column", "replace-prefix", {"schema-name": "s", "table-name": "t", "column-name": "c"}, value="x"
                ),
            ),
            "rule 2: rule-action replace-prefix needs an old-value",
        ),  # fmt: skip
        (
            rules(
                select("s", "%"), transform("column", "add-column", {"schema-name": "s", "table-name": "t"}, value="x")
            ),
            "rule 2: rule-action add-column is not implemented by local AWS",
        ),  # fmt: skip
        (
            rules(select("s", "%", filters=[{"filter-type": "source", "column-name": "id"}])),
            "rule 1: selection filters are not implemented by local AWS",
        ),  # fmt: skip
    ],
)
def test_invalid_documents_say_what_is_wrong(document, message):
    with pytest.raises(MappingError) as raised:
        parse(document)
    assert message in str(raised.value)

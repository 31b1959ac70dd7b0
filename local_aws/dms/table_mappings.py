"""A replication task's TableMappings: which source tables it selects and how it names them on the target.

`parse(text)` reads the JSON document of CreateReplicationTask's TableMappings into `TableMappings`,
or raises `MappingError` saying what is wrong. Pure: no AWS calls, no source access.

What AWS documents and this follows (DMS User Guide):
- "Selection rules and actions": `rule-action` include, exclude or explicit on an `object-locator`
  (`schema-name`, `table-name`); a table is migrated when an include (or explicit) rule matches it
  and no exclude rule does; `load-order` (higher loads first) only orders the full load.
- "Wildcards in table mapping": `%` any run of characters, `_` one character, `[_]` a literal
  underscore, `[ab]` a set, `[a-d]` a range. An explicit rule names its object literally.
- "Transformation rules and actions": rule-target schema, table or column; rule-action rename,
  remove-column, convert-lowercase, convert-uppercase, add-/remove-/replace-prefix and -suffix
  (`value`, and `old-value` for the replace actions). Names are case-sensitive. One action applies
  to an object: of the rules that match it, AWS applies the one with the lower rule-id.

Rule types and actions that do not change which rows or names reach an S3 target (table-settings,
post-processing, define-primary-key, tablespace targets) are accepted and ignored. Those that would
change the data but are not implemented here (selection filters, add-column, change-data-type, ...)
are refused with a MappingError naming the rule, rather than silently producing other data than AWS.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache

SELECTION_ACTIONS = ("include", "exclude", "explicit")
TABLE_TYPES = ("table", "view", "all")
NAME_ACTIONS = (
    "rename",
    "convert-lowercase",
    "convert-uppercase",
    "add-prefix",
    "remove-prefix",
    "replace-prefix",
    "add-suffix",
    "remove-suffix",
    "replace-suffix",
)
NAME_TARGETS = ("schema", "table", "column")
# Accepted, no effect on an S3 target's rows or names.
IGNORED_RULE_TYPES = ("table-settings", "post-processing")
IGNORED_TARGETS = ("table-tablespace", "index-tablespace")
IGNORED_ACTIONS = ("define-primary-key",)
# Would change the data; refused rather than ignored.
UNSUPPORTED_ACTIONS = (
    "add-column",
    "include-column",
    "change-data-type",
    "add-before-image-columns",
    "data-masking-digits-mask",
    "data-masking-digits-randomize",
    "data-masking-hash-mask",
)


class MappingError(ValueError):
    """The TableMappings document is invalid or uses what local AWS does not implement; says which rule."""


@cache
def _wildcard(pattern: str) -> re.Pattern[str]:
    """A table-mapping name pattern as a regex ("Wildcards in table mapping")."""
    parts, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        end = pattern.find("]", i + 1) if char == "[" else -1
        if end > i + 1:
            body = pattern[i + 1 : end]
            ranges = re.fullmatch(r"(.)-(.)", body)
            parts.append(f"[{re.escape(ranges[1])}-{re.escape(ranges[2])}]" if ranges else f"[{re.escape(body)}]")
            i = end + 1
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def _matches(pattern: str, name: str, literal: bool = False) -> bool:
    return pattern == name if literal else _wildcard(pattern).fullmatch(name) is not None


@dataclass(frozen=True)
class SelectionRule:
    rule_id: int
    action: str  # include | exclude | explicit
    schema: str
    table: str
    load_order: int = 0

    def matches(self, schema: str, table: str) -> bool:
        literal = self.action == "explicit"
        return _matches(self.schema, schema, literal) and _matches(self.table, table, literal)


@dataclass(frozen=True)
class TransformationRule:
    rule_id: int
    target: str  # schema | table | column
    action: str
    schema: str
    table: str | None = None
    column: str | None = None
    value: str | None = None
    old_value: str | None = None

    def matches(self, schema: str, table: str | None = None, column: str | None = None) -> bool:
        return (
            _matches(self.schema, schema)
            and (self.table is None or _matches(self.table, table or ""))
            and (self.column is None or _matches(self.column, column or ""))
        )

    def apply(self, name: str) -> str:
        value, old = self.value or "", self.old_value or ""
        match self.action:
            case "rename":
                return value
            case "convert-lowercase":
                return name.lower()
            case "convert-uppercase":
                return name.upper()
            case "add-prefix":
                return value + name
            case "add-suffix":
                return name + value
            case "remove-prefix":
                return name[len(value) :] if value and name.startswith(value) else name
            case "remove-suffix":
                return name[: -len(value)] if value and name.endswith(value) else name
            case "replace-prefix":
                return value + name[len(old) :] if name.startswith(old) else name
            case "replace-suffix":
                return name[: len(name) - len(old)] + value if name.endswith(old) else name
        return name


@dataclass(frozen=True)
class TableMappings:
    selection: tuple[SelectionRule, ...]
    transformations: tuple[TransformationRule, ...] = ()

    def selected(self, schema: str, table: str) -> bool:
        """Migrated: an include or explicit rule matches and no exclude rule does."""
        matching = [rule for rule in self.selection if rule.matches(schema, table)]
        return any(r.action != "exclude" for r in matching) and not any(r.action == "exclude" for r in matching)

    def load_order(self, schema: str, table: str) -> int:
        """The table's load-order (0 when none): tables with a higher one are loaded first."""
        orders = [r.load_order for r in self.selection if r.action != "exclude" and r.matches(schema, table)]
        return max(orders, default=0)

    def target_name(self, schema: str, table: str) -> tuple[str, str]:
        """The (schema, table) the source table is written as."""
        schema_rule = self._rule("schema", schema)
        table_rule = self._rule("table", schema, table)
        return (schema_rule.apply(schema) if schema_rule else schema, table_rule.apply(table) if table_rule else table)

    def columns(self, schema: str, table: str, source_columns: list[str]) -> list[tuple[str, str]]:
        """(source column, target column) in source order; removed columns are left out."""
        kept = []
        for column in source_columns:
            rule = self._rule("column", schema, table, column)
            if rule is None:
                kept.append((column, column))
            elif rule.action != "remove-column":
                kept.append((column, rule.apply(column)))
        return kept

    def _rule(self, target: str, schema: str, table: str | None = None, column: str | None = None):
        # "Transformation rules and actions": one action per object, the lower rule-id's.
        for rule in self.transformations:  # sorted by rule-id
            if rule.target == target and rule.matches(schema, table, column):
                return rule
        return None


def parse(text: str) -> TableMappings:
    """The TableMappings JSON document, checked; MappingError says what is wrong and where."""
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as error:
        raise MappingError(f"TableMappings is not valid JSON: {error}") from None
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, list):
        raise MappingError('TableMappings must be a JSON object with a "rules" list')
    selection: list[SelectionRule] = []
    transformations: list[TransformationRule] = []
    seen_ids: set[int] = set()
    for position, rule in enumerate(rules, 1):
        if not isinstance(rule, dict):
            raise MappingError(f"rule {position} is not a JSON object")
        rule_id = _rule_id(rule, position)
        if rule_id in seen_ids:
            raise MappingError(f"rule-id {rule_id} is used by more than one rule; each rule needs its own")
        seen_ids.add(rule_id)
        rule_type = rule.get("rule-type")
        if rule_type == "selection":
            selection.append(_selection(rule, rule_id))
        elif rule_type == "transformation":
            if (parsed := _transformation(rule, rule_id)) is not None:
                transformations.append(parsed)
        elif rule_type not in IGNORED_RULE_TYPES:
            raise MappingError(
                f"rule {rule_id}: unknown rule-type {rule_type!r}; expected selection, transformation, "
                f"{', '.join(IGNORED_RULE_TYPES)}"
            )
    if not selection:
        raise MappingError("TableMappings has no selection rule; at least one rule-type selection is required")
    return TableMappings(
        tuple(sorted(selection, key=lambda r: r.rule_id)), tuple(sorted(transformations, key=lambda r: r.rule_id))
    )


def _rule_id(rule: dict, position: int) -> int:
    rule_id = rule.get("rule-id")
    if isinstance(rule_id, int) and not isinstance(rule_id, bool):
        return rule_id
    if isinstance(rule_id, str) and rule_id.strip().isdigit():
        return int(rule_id)
    raise MappingError(f"rule {position}: rule-id must be a number, got {rule_id!r}")


def _locator(rule: dict, rule_id: int, *required: str) -> dict:
    locator = rule.get("object-locator")
    if not isinstance(locator, dict):
        raise MappingError(f"rule {rule_id}: object-locator is missing; it names the {' and '.join(required)}")
    for key in required:
        if not isinstance(locator.get(key), str) or not locator[key]:
            raise MappingError(f"rule {rule_id}: object-locator has no {key}")
    return locator


def _selection(rule: dict, rule_id: int) -> SelectionRule:
    action = rule.get("rule-action")
    if action not in SELECTION_ACTIONS:
        raise MappingError(
            f"rule {rule_id}: rule-action {action!r} is not valid for a selection rule; "
            f"expected {', '.join(SELECTION_ACTIONS)}"
        )
    locator = _locator(rule, rule_id, "schema-name", "table-name")
    if locator.get("table-type", "table") not in TABLE_TYPES:
        raise MappingError(f"rule {rule_id}: table-type must be one of {', '.join(TABLE_TYPES)}")
    if rule.get("filters"):
        raise MappingError(f"rule {rule_id}: selection filters are not implemented by local AWS; remove them")
    load_order = rule.get("load-order", 0)
    try:
        load_order = int(load_order)
    except (TypeError, ValueError):
        raise MappingError(f"rule {rule_id}: load-order must be a number, got {load_order!r}") from None
    return SelectionRule(rule_id, action, locator["schema-name"], locator["table-name"], load_order)


def _transformation(rule: dict, rule_id: int) -> TransformationRule | None:
    action, target = rule.get("rule-action"), rule.get("rule-target")
    if action in UNSUPPORTED_ACTIONS:
        raise MappingError(f"rule {rule_id}: rule-action {action} is not implemented by local AWS; remove the rule")
    if target in IGNORED_TARGETS or action in IGNORED_ACTIONS:
        return None
    if target not in NAME_TARGETS:
        raise MappingError(f"rule {rule_id}: rule-target {target!r} is not valid; expected schema, table or column")
    if action not in (*NAME_ACTIONS, "remove-column"):
        raise MappingError(
            f"rule {rule_id}: unknown rule-action {action!r} for a transformation rule; "
            f"expected remove-column, {', '.join(NAME_ACTIONS)}"
        )
    if action == "remove-column" and target != "column":
        raise MappingError(f"rule {rule_id}: remove-column needs rule-target column, not {target}")
    required = {"schema": ("schema-name",), "table": ("schema-name", "table-name")}.get(
        target, ("schema-name", "table-name", "column-name")
    )
    locator = _locator(rule, rule_id, *required)
    if "data-type" in locator:
        raise MappingError(f"rule {rule_id}: object-locator data-type is not implemented by local AWS")
    value, old_value = rule.get("value"), rule.get("old-value")
    if action in ("rename", "add-prefix", "add-suffix", "remove-prefix", "remove-suffix", "replace-prefix",
                  "replace-suffix") and not isinstance(value, str):  # fmt: skip
        raise MappingError(f"rule {rule_id}: rule-action {action} needs a value")
    if action == "rename" and not value:
        raise MappingError(f"rule {rule_id}: rule-action rename needs a non-empty value")
    if action in ("replace-prefix", "replace-suffix") and not isinstance(old_value, str):
        raise MappingError(f"rule {rule_id}: rule-action {action} needs an old-value (what is replaced)")
    return TransformationRule(
        rule_id,
        target,
        action,
        locator["schema-name"],
        locator.get("table-name") if target != "schema" else None,
        locator.get("column-name") if target == "column" else None,
        value,
        old_value,
    )

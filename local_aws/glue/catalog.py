"""Data Catalog requests as AWS answers them: names in any case, expressions, pages.

- Names: the Glue API reference says of DatabaseInput.Name and TableInput.Name: "For Hive
  compatibility, this is folded to lowercase when it is stored"; requests name them in any case.
  moto 5.2.5 keeps the name as given and looks it up case-sensitively, so `CreateTable(Name="Flights")`
  followed by `GetTable(Name="flights")` (what Athena and crawlers ask for) failed with
  EntityNotFoundException. `patches` makes moto's database and table maps fold their keys and names.
- GetPartitions: column names in `Expression` match partition keys in any case, as Hive's names do
  (moto refused `Year='2013'` for key `year`); `MaxResults`/`NextToken` page the answer, `Segment`
  splits it for parallel readers and `ExcludeColumnSchema` leaves out the columns (moto ignored all four).
- GetTables: `Expression` matches table names in any case (they are stored lowercase) and
  `MaxResults`/`NextToken` page the answer (moto returned every table).
BatchGetPartition needs nothing: AWS leaves missing partitions out of the answer, as moto does
(getmoto/moto#2320, from AWS's observed response).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

from moto.core.responses import ActionResult
from moto.glue import utils as moto_glue_utils
from moto.glue.exceptions import InvalidInputException
from moto.glue.models import FakeDatabase, FakeTable, GlueBackend
from moto.glue.responses import GlueResponse

from local_aws.patching import Patches

# Backends created once the patches are applied fold names (GlueBackend.__init__ below).
patches = Patches(__name__)


class FoldedNames(OrderedDict):
    """name -> object, with every name folded to lowercase on the way in and on lookup."""

    def __setitem__(self, name: str, value) -> None:
        super().__setitem__(name.lower(), value)

    def __getitem__(self, name: str):
        return super().__getitem__(name.lower() if isinstance(name, str) else name)

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name.lower())

    def __contains__(self, name) -> bool:
        return super().__contains__(name.lower() if isinstance(name, str) else name)

    def get(self, name, default=None):
        return super().get(name.lower() if isinstance(name, str) else name, default)

    def pop(self, name, *default):
        return super().pop(name.lower() if isinstance(name, str) else name, *default)


def _fold_input_name(table_input: dict[str, Any]) -> dict[str, Any]:
    if isinstance(table_input.get("Name"), str):
        table_input = {**table_input, "Name": table_input["Name"].lower()}
    return table_input


@patches.wrap(GlueBackend, "__init__")
def _backend_init(original, self: GlueBackend, *args, **kwargs) -> None:
    original(self, *args, **kwargs)
    self.databases = FoldedNames(self.databases)


@patches.wrap(FakeDatabase, "__init__")
def _database_init(
    original, self: FakeDatabase, database_name: str, database_input: dict[str, Any], catalog_id: str
) -> None:
    original(self, database_name.lower(), database_input, catalog_id)
    self.tables = FoldedNames(self.tables)


@patches.wrap(FakeTable, "__init__")
def _table_init(
    original, self: FakeTable, database_name: str, table_name: str, table_input: dict[str, Any], *args, **kwargs
):
    original(self, database_name.lower(), table_name.lower(), _fold_input_name(table_input), *args, **kwargs)


@patches.wrap(FakeTable, "update")
def _table_update(original, self: FakeTable, table_input: dict[str, Any]) -> None:
    original(self, _fold_input_name(table_input))


# ---- partition expressions: names in any case ----


def _partition_key_type(ident: Any, part_keys: list[dict[str, str]]) -> str:
    for key in part_keys:
        if ident.ident.lower() == key["Name"].lower():
            return key["Type"]
    raise InvalidInputException("GetPartitions", "Invalid partition expression!")  # moto's words, kept


def _partition_key_value(ident: Any, part_keys: list[dict[str, str]], part_input: dict[str, Any]) -> Any:
    for key, value in zip(part_keys, part_input["Values"], strict=False):
        if ident.ident.lower() == key["Name"].lower():
            return moto_glue_utils._cast(key["Type"], value)
    raise InvalidInputException("GetPartitions", "Invalid partition expression!")


patches.replace(moto_glue_utils._Ident, "type_", _partition_key_type)
patches.replace(moto_glue_utils._Ident, "_eval", _partition_key_value)


# ---- pages ----


def _page(items: list, fields: dict[str, Any]) -> tuple[list, str | None]:
    """One page of items from NextToken (the offset, as a string) on, MaxResults long; the next token."""
    token = fields.get("NextToken")
    if token is not None and not str(token).isdigit():
        raise InvalidInputException("Get", f"NextToken {token!r} was not returned by this call")  # local words
    start = int(token or 0)
    size = fields.get("MaxResults") or len(items)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _get_partitions_response(self: GlueResponse) -> ActionResult:
    fields = self.parameters
    partitions = self.glue_backend.get_partitions(fields.get("DatabaseName"), fields.get("TableName"),
                                                  fields.get("Expression"))  # fmt: skip
    segment = fields.get("Segment")
    if segment:
        number, total = segment["SegmentNumber"], segment["TotalSegments"]
        if number >= total:  # local words
            raise InvalidInputException(
                "GetPartitions", f"Segment.SegmentNumber {number} must be below TotalSegments {total}"
            )
        partitions = partitions[number::total]
    page, next_token = _page(partitions, fields)
    described = [partition.as_dict() for partition in page]
    if fields.get("ExcludeColumnSchema"):
        for partition in described:
            partition["StorageDescriptor"] = {k: v for k, v in partition.get("StorageDescriptor", {}).items()
                                              if k != "Columns"}  # fmt: skip
    return ActionResult({"Partitions": described, "NextToken": next_token})


def _table_pattern(expression: str) -> re.Pattern[str]:
    """Glue's table-name pattern: a regular expression where a bare `*` means any characters (moto's reading),
    matched in any case since names are stored lowercase."""
    return re.compile(re.sub(r"(?<!\.)\*", ".*", expression), re.IGNORECASE)


def _get_tables_response(self: GlueResponse) -> ActionResult:
    fields = self.parameters
    tables = self.glue_backend.get_tables(fields.get("DatabaseName"), None)
    if fields.get("Expression"):
        pattern = _table_pattern(fields["Expression"])
        tables = [table for table in tables if pattern.match(table.name)]
    page, next_token = _page(tables, fields)
    return ActionResult({"TableList": [table.as_dict() for table in page], "NextToken": next_token})


patches.replace(GlueResponse, "get_partitions", _get_partitions_response)
patches.replace(GlueResponse, "get_tables", _get_tables_response)

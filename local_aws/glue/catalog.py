"""Data Catalog names as AWS stores them: database and table names folded to lowercase.

The Glue API reference says of DatabaseInput.Name and TableInput.Name: "For Hive compatibility,
this is folded to lowercase when it is stored"; requests name them in any case. moto 5.2.5 keeps
the name as given and looks it up case-sensitively, so `CreateTable(Name="Flights")` followed by
`GetTable(Name="flights")` (what Athena and crawlers ask for) failed with EntityNotFoundException.
install() makes moto's database and table maps fold their keys and the stored names.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from moto.glue.models import FakeDatabase, FakeTable, GlueBackend

_originals: dict[str, Any] = {}


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


def _backend_init(self: GlueBackend, *args, **kwargs) -> None:
    _originals["backend_init"](self, *args, **kwargs)
    self.databases = FoldedNames(self.databases)


def _database_init(self: FakeDatabase, database_name: str, database_input: dict[str, Any], catalog_id: str) -> None:
    _originals["database_init"](self, database_name.lower(), database_input, catalog_id)
    self.tables = FoldedNames(self.tables)


def _table_init(self: FakeTable, database_name: str, table_name: str, table_input: dict[str, Any], *args, **kwargs):
    _originals["table_init"](
        self, database_name.lower(), table_name.lower(), _fold_input_name(table_input), *args, **kwargs
    )


def _table_update(self: FakeTable, table_input: dict[str, Any]) -> None:
    _originals["table_update"](self, _fold_input_name(table_input))


def install() -> None:
    """Patch moto's catalog models (idempotent); backends created from now on fold names."""
    if _originals:
        return
    _originals.update(
        backend_init=GlueBackend.__init__,
        database_init=FakeDatabase.__init__,
        table_init=FakeTable.__init__,
        table_update=FakeTable.update,
    )
    GlueBackend.__init__ = _backend_init
    FakeDatabase.__init__ = _database_init
    FakeTable.__init__ = _table_init
    FakeTable.update = _table_update


def shutdown() -> None:
    """Nothing runs here."""

"""Writing the Data Catalog at the end of a crawl: the half of a crawl that writes Glue.

`CatalogWrites` is mixed into crawl_run.CrawlRun: it creates and updates tables and partitions per
the crawler's SchemaChangePolicy (UpdateBehavior, DeleteBehavior) and CrawlerOutput configuration,
deprecates or deletes tables whose data is gone, and builds the TableInput / PartitionInput in the
shape AWS crawlers write.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pyarrow as pa

from local_aws.glue import crawl_layout
from local_aws.glue.crawl_layout import CrawledFile, PlannedPartition, PlannedTable
from local_aws.glue.crawl_scan import CrawlError
from local_aws.glue.schema_inference import FileSchema, glue_type

BATCH = 100  # BatchCreatePartition / BatchUpdatePartition / BatchDeletePartition take 100 at most
TABLE_INPUT_KEYS = (
    "Name", "Description", "Owner", "LastAccessTime", "LastAnalyzedTime", "Retention", "StorageDescriptor",
    "PartitionKeys", "ViewOriginalText", "ViewExpandedText", "TableType", "Parameters", "TargetTable",
)  # fmt: skip


class CatalogWrites:
    """The catalog-writing methods of crawl_run.CrawlRun; that class sets the attributes they use
    (name, database, glue, crawl, update_behavior, delete_behavior, merge_new_columns,
    inherit_from_table) and provides log() and _check_stop()."""

    # -- writing the catalog -------------------------------------------------------------------

    def _write_catalog(self, tables: list[PlannedTable], include_uris: list[str]) -> None:
        self.log(
            "INFO",
            f"Crawler configured with SchemaChangePolicy UpdateBehavior {self.update_behavior}, "
            f"DeleteBehavior {self.delete_behavior}",
        )
        existing = {t["Name"]: t for t in self._get_tables()}
        planned_names = set()
        for planned in tables:
            self._check_stop()
            current = existing.get(planned.name)
            if current is not None and _location(current) != planned.location and not self._ours(current):
                # Another table has this name elsewhere: AWS keeps it and suffixes the new table's name.
                planned.name = crawl_layout.table_name(f"{planned.name}_{_short_hash(planned.location)}")
                current = existing.get(planned.name)
            planned_names.add(planned.name)
            table_input = self._table_input(planned)
            if current is None:
                self.glue.create_table(DatabaseName=self.database, TableInput=table_input)
                self.crawl.counts["TABLE"]["ADD"] += 1
                self.log("INFO", f"Created table {planned.name} in database {self.database}")
                self._sync_partitions(planned, table_input, existing={})
            else:
                self._update_table(current, planned, table_input)
        for name, table in existing.items():
            if name in planned_names or not self._ours(table):
                continue
            if any(_location(table).startswith(uri) for uri in include_uris):
                self._check_stop()
                self._table_vanished(table)

    def _update_table(self, current: dict[str, Any], planned: PlannedTable, table_input: dict[str, Any]) -> None:
        changed = False
        if self.merge_new_columns:
            # MergeNewColumns: keep existing columns and their types, append the new ones.
            old_columns = current["StorageDescriptor"].get("Columns", [])
            known = {c["Name"] for c in old_columns}
            new_columns = [c for c in table_input["StorageDescriptor"]["Columns"] if c["Name"] not in known]
            table_input["StorageDescriptor"]["Columns"] = old_columns + new_columns
        if self.update_behavior == "UPDATE_IN_DATABASE" or self.merge_new_columns:
            if _differs(current, table_input):
                self.glue.update_table(DatabaseName=self.database, TableInput=table_input)
                changed = True
                self.log("INFO", f"Updated table {planned.name} in database {self.database}")
            catalog_table = table_input
        else:
            if _differs(current, table_input, keys=("StorageDescriptor", "PartitionKeys")):
                self.log(
                    "WARN",
                    f"Table {planned.name} changed in the data (columns "
                    f"{_column_list(table_input)}) but SchemaChangePolicy.UpdateBehavior is LOG: not updated",
                )
            catalog_table = _table_input_of(current)
        partitions = self._get_partitions(planned.name)
        changed |= self._sync_partitions(planned, catalog_table, existing=partitions)
        if changed:
            self.crawl.counts["TABLE"]["UPDATE"] += 1

    def _sync_partitions(self, planned: PlannedTable, table_input: dict[str, Any], existing: dict) -> bool:
        """Add new partitions, update changed ones, handle vanished ones; True if anything changed."""
        wanted = {tuple(p.values): self._partition_input(planned, p, table_input) for p in planned.partitions}
        new = [p for values, p in wanted.items() if values not in existing]
        changed = []
        if self.update_behavior == "UPDATE_IN_DATABASE":
            changed = [p for values, p in wanted.items() if values in existing and _differs(existing[values], p)]
        vanished = [list(values) for values in existing if values not in wanted]
        name = planned.name
        for start in range(0, len(new), BATCH):
            self._check_stop()
            response = self.glue.batch_create_partition(
                DatabaseName=self.database, TableName=name, PartitionInputList=new[start : start + BATCH]
            )
            _raise_batch_errors(response, f"create partitions of table {name}")
        for start in range(0, len(changed), BATCH):
            entries = [{"PartitionValueList": p["Values"], "PartitionInput": p} for p in changed[start : start + BATCH]]
            response = self.glue.batch_update_partition(DatabaseName=self.database, TableName=name, Entries=entries)
            _raise_batch_errors(response, f"update partitions of table {name}")
        if vanished and self.delete_behavior == "DELETE_FROM_DATABASE":
            for start in range(0, len(vanished), BATCH):
                response = self.glue.batch_delete_partition(
                    DatabaseName=self.database,
                    TableName=name,
                    PartitionsToDelete=[{"Values": v} for v in vanished[start : start + BATCH]],
                )
                _raise_batch_errors(response, f"delete partitions of table {name}")
        elif vanished:
            self.log(
                "INFO", f"Partitions {vanished} of table {name} have no data any more; kept ({self.delete_behavior})"
            )
        deleted = vanished if self.delete_behavior == "DELETE_FROM_DATABASE" else []
        if new:
            self.log("INFO", f"Created partitions with values {[p['Values'] for p in new]} for table {name}")
        if changed:
            self.log("INFO", f"Updated partitions with values {[p['Values'] for p in changed]} for table {name}")
        if deleted:
            self.log("INFO", f"Deleted partitions with values {deleted} of table {name}")
        self.crawl.counts["PARTITION"]["ADD"] += len(new)
        self.crawl.counts["PARTITION"]["UPDATE"] += len(changed)
        self.crawl.counts["PARTITION"]["DELETE"] += len(deleted)
        return bool(new or changed or deleted)

    def _table_vanished(self, table: dict[str, Any]) -> None:
        name = table["Name"]
        if self.delete_behavior == "DELETE_FROM_DATABASE":
            self.glue.delete_table(DatabaseName=self.database, Name=name)
            self.crawl.counts["TABLE"]["DELETE"] += 1
            self.log("INFO", f"Deleted table {name}: its data is gone from {_location(table)}")
        elif self.delete_behavior == "DEPRECATE_IN_DATABASE":
            if "DEPRECATED_BY_CRAWLER" in (table.get("Parameters") or {}):
                return
            table_input = _table_input_of(table)
            stamp = str(int(time.time() * 1000))  # AWS stores the deprecation time in epoch milliseconds
            table_input.setdefault("Parameters", {})["DEPRECATED_BY_CRAWLER"] = stamp
            table_input["StorageDescriptor"].setdefault("Parameters", {})["DEPRECATED_BY_CRAWLER"] = stamp
            self.glue.update_table(DatabaseName=self.database, TableInput=table_input)
            self.crawl.counts["TABLE"]["DELETE"] += 1
            self.log("INFO", f"Marked table {name} as deprecated: its data is gone from {_location(table)}")
        else:
            self.log("INFO", f"Table {name} has no data at {_location(table)} any more; kept (DeleteBehavior LOG)")

    def _ours(self, table: dict[str, Any]) -> bool:
        return (table.get("Parameters") or {}).get("UPDATED_BY_CRAWLER") == self.name

    def _get_tables(self) -> list[dict[str, Any]]:
        tables: list[dict[str, Any]] = []
        for page in self.glue.get_paginator("get_tables").paginate(DatabaseName=self.database):
            tables.extend(page.get("TableList", []))
        return tables

    def _get_partitions(self, table: str) -> dict[tuple[str, ...], dict[str, Any]]:
        found = {}
        for page in self.glue.get_paginator("get_partitions").paginate(DatabaseName=self.database, TableName=table):
            for partition in page.get("Partitions", []):
                found[tuple(partition["Values"])] = partition
        return found

    # -- the shape AWS crawlers write ----------------------------------------------------------

    def _table_input(self, planned: PlannedTable) -> dict[str, Any]:
        parameters = self._parameters(planned.schema, planned.files, planned.fields)
        return {
            "Name": planned.name,
            "Owner": "owner",
            "Retention": 0,
            "StorageDescriptor": self._storage_descriptor(planned.schema, planned.fields, planned.location, parameters),
            "PartitionKeys": [{"Name": key, "Type": "string"} for key in planned.partition_keys],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": dict(parameters),
        }

    def _partition_input(
        self, planned: PlannedTable, partition: PlannedPartition, table_input: dict[str, Any]
    ) -> dict[str, Any]:
        schema = partition.files[0].schema
        fields = [f for f in partition.fields if f.name not in planned.partition_keys]
        parameters = self._parameters(schema, partition.files, fields)
        if self.inherit_from_table:  # InheritFromTable: the table's schema, formats and SerDe
            descriptor = json.loads(json.dumps(table_input["StorageDescriptor"]))
            descriptor["Location"] = partition.location
            descriptor["Parameters"] = dict(parameters)
        else:
            descriptor = self._storage_descriptor(schema, fields, partition.location, parameters)
        return {"Values": partition.values, "StorageDescriptor": descriptor, "Parameters": dict(parameters)}

    def _storage_descriptor(
        self, schema: FileSchema, fields: list[pa.Field], location: str, parameters: dict[str, str]
    ) -> dict[str, Any]:
        serde_parameters = dict(schema.serde_parameters)
        if schema.classification == "json":  # JsonSerDe's paths: every top-level field
            serde_parameters["paths"] = ",".join(f.name for f in fields)
        return {
            "Columns": [{"Name": f.name, "Type": glue_type(f.type)} for f in fields],
            "Location": location,
            "InputFormat": schema.input_format,
            "OutputFormat": schema.output_format,
            "Compressed": schema.compression != "none",
            "NumberOfBuckets": -1,
            "SerdeInfo": {"SerializationLibrary": schema.serde, "Parameters": serde_parameters},
            "BucketColumns": [],
            "SortColumns": [],
            "Parameters": dict(parameters),
            "StoredAsSubDirectories": False,
        }

    def _parameters(self, schema: FileSchema, files: list[CrawledFile], fields: list[pa.Field]) -> dict[str, str]:
        size = sum(f.size for f in files)
        records = sum(f.records for f in files)
        return {
            "CrawlerSchemaDeserializerVersion": "1.0",
            "CrawlerSchemaSerializerVersion": "1.0",
            "UPDATED_BY_CRAWLER": self.name,
            "averageRecordSize": str(size // records if records else 0),
            "classification": schema.classification,
            "compressionType": schema.compression,
            "objectCount": str(len(files)),
            "recordCount": str(records),
            "sizeKey": str(size),
            "typeOfData": "file",
            **schema.format_parameters,
        }


def _location(table: dict[str, Any]) -> str:
    return (table.get("StorageDescriptor") or {}).get("Location", "")


def _short_hash(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()[:8]


def _differs(current: dict[str, Any], wanted: dict[str, Any], keys: tuple[str, ...] | None = None) -> bool:
    return any(current.get(k) != wanted.get(k) for k in (keys or wanted.keys()) if k != "Name")


def _table_input_of(table: dict[str, Any]) -> dict[str, Any]:
    """A GetTable result as a TableInput for UpdateTable (a deep copy)."""
    return json.loads(json.dumps({k: v for k, v in table.items() if k in TABLE_INPUT_KEYS}, default=str))


def _column_list(table_input: dict[str, Any]) -> str:
    return ", ".join(f"{c['Name']}:{c['Type']}" for c in table_input["StorageDescriptor"]["Columns"])


def _raise_batch_errors(response: dict[str, Any], what: str) -> None:
    errors = response.get("Errors") or []
    if errors:
        first = errors[0].get("ErrorDetail", {})
        raise CrawlError(f"Could not {what}: {first.get('ErrorCode')}: {first.get('ErrorMessage')}")

"""Which tables and partitions a crawler makes of the files under one include path.

Pure functions (no I/O), following AWS's documented rules
(https://docs.aws.amazon.com/glue/latest/dg/crawler-s3-folder-table-partition.html):

- A folder whose files are compatible (same format, compression, SerDe settings), similar (at
  least 70 % of the smaller schema's column names in the other one, unless the crawler combines
  compatible schemas) and at the same depth is one table rooted at that folder; the folders below
  it are its partitions.
- A partition level whose folders are all `key=value` with one key is a partition key named `key`
  (value: the text after '='); any other level is `partition_N` with the folder name as value.
  Partition keys are strings.
- Otherwise each subfolder is considered on its own, and files directly in the folder are grouped
  by compatibility into tables named after their first file.
- A table rooted at the include path is named after the include path's last folder (the bucket
  for a bucket root); other tables after their folder or file. Names are lower-cased with every
  character but a-z, 0-9 and _ replaced by _, then prefixed with the crawler's TablePrefix.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass, field

import pyarrow as pa

from local_aws.glue.schema_inference import FileSchema, merge_fields, similarity

SIMILARITY_THRESHOLD = 0.7
_HIVE_FOLDER = re.compile(r"^([^=]+)=(.*)$")


@dataclass
class CrawledFile:
    relative_path: str  # below the include path, e.g. "year=2013/month=1/part-0.parquet"
    size: int
    schema: FileSchema
    records: int  # recordCount estimate for this file

    @property
    def folders(self) -> tuple[str, ...]:
        return tuple(self.relative_path.split("/")[:-1])

    @property
    def file_name(self) -> str:
        return self.relative_path.rsplit("/", 1)[-1]


@dataclass
class PlannedPartition:
    values: list[str]
    location: str
    files: list[CrawledFile]

    @property
    def fields(self) -> list[pa.Field]:
        return merge_fields([f.schema.fields for f in self.files])


@dataclass
class PlannedTable:
    name: str
    location: str
    files: list[CrawledFile]
    partition_keys: list[str] = field(default_factory=list)
    partitions: list[PlannedPartition] = field(default_factory=list)

    @property
    def schema(self) -> FileSchema:
        """Format and SerDe of the table: those of its first file (all its files are compatible)."""
        return self.files[0].schema

    @property
    def fields(self) -> list[pa.Field]:
        names = set(self.partition_keys)
        return [f for f in merge_fields([f.schema.fields for f in self.files]) if f.name not in names]


def table_name(raw: str, prefix: str = "") -> str:
    return re.sub(r"[^a-z0-9_]", "_", f"{prefix}{raw}".lower())


def plan_tables(
    include_uri: str,
    files: list[CrawledFile],
    *,
    table_prefix: str = "",
    combine_compatible_schemas: bool = False,
) -> list[PlannedTable]:
    """Tables for the files under one include path (a folder URI ending in '/', or one file's URI)."""
    if not files:
        return []
    if not include_uri.endswith("/"):  # the include path is a single file
        name = table_name(include_uri.rsplit("/", 1)[-1], table_prefix)
        return [PlannedTable(name, include_uri, files)]
    bucket_and_prefix = include_uri[len("s3://") :].rstrip("/")
    root_name = bucket_and_prefix.rsplit("/", 1)[-1]
    planner = _Planner(include_uri, table_prefix, combine_compatible_schemas)
    return planner.plan(_Folder.tree(files), root_name)


def unique_names(tables: list[PlannedTable]) -> None:
    """Tables of one crawl with the same name get a suffix from their location, as AWS does."""
    seen: dict[str, int] = {}
    for table in tables:
        seen[table.name] = seen.get(table.name, 0) + 1
    for table in tables:
        if seen[table.name] > 1:
            table.name = f"{table.name}_{hashlib.md5(table.location.encode()).hexdigest()[:8]}"


@dataclass
class _Folder:
    path: tuple[str, ...]
    files: list[CrawledFile] = field(default_factory=list)
    children: dict[str, _Folder] = field(default_factory=dict)

    @classmethod
    def tree(cls, files: list[CrawledFile]) -> _Folder:
        root = cls(())
        for crawled in files:
            folder = root
            for name in crawled.folders:
                folder = folder.children.setdefault(name, cls(folder.path + (name,)))
            folder.files.append(crawled)
        return root

    def all_files(self) -> list[CrawledFile]:
        found = list(self.files)
        for child in self.children.values():
            found.extend(child.all_files())
        return found


@dataclass
class _Planner:
    include_uri: str
    table_prefix: str
    combine_compatible_schemas: bool

    def plan(self, folder: _Folder, raw_name: str) -> list[PlannedTable]:
        files = folder.all_files()
        if not files:
            return []
        if self._one_table(folder, files):
            return [self._table(table_name(raw_name, self.table_prefix), folder, files)]
        tables: list[PlannedTable] = []
        for child_name, child in folder.children.items():
            tables.extend(self.plan(child, child_name))
        for group in self._compatible_groups(folder.files):
            name = table_name(group[0].file_name, self.table_prefix)
            location = self._uri(group[0].folders) + (group[0].file_name if len(group) == 1 else "")
            tables.append(PlannedTable(name, location, group))
        return tables

    def _one_table(self, folder: _Folder, files: list[CrawledFile]) -> bool:
        first = files[0]
        depth = len(first.folders)
        for crawled in files:
            if len(crawled.folders) != depth or not crawled.schema.compatible_with(first.schema):
                return False
            if not self.combine_compatible_schemas and (
                similarity(first.schema.column_names, crawled.schema.column_names) < SIMILARITY_THRESHOLD
            ):
                return False
        return True

    def _compatible_groups(self, files: list[CrawledFile]) -> list[list[CrawledFile]]:
        groups: list[list[CrawledFile]] = []
        for crawled in files:
            for group in groups:
                if crawled.schema.compatible_with(group[0].schema) and (
                    self.combine_compatible_schemas
                    or similarity(group[0].schema.column_names, crawled.schema.column_names) >= SIMILARITY_THRESHOLD
                ):
                    group.append(crawled)
                    break
            else:
                groups.append([crawled])
        return groups

    def _table(self, name: str, folder: _Folder, files: list[CrawledFile]) -> PlannedTable:
        table = PlannedTable(name, self._uri(folder.path), files)
        depth = len(files[0].folders) - len(folder.path)
        if depth == 0:
            return table
        levels = [sorted({f.folders[len(folder.path) + level] for f in files}) for level in range(depth)]
        table.partition_keys = [_partition_key(names, level) for level, names in enumerate(levels)]
        by_folder: dict[tuple[str, ...], list[CrawledFile]] = {}
        for crawled in files:
            by_folder.setdefault(crawled.folders, []).append(crawled)
        for folders, members in sorted(by_folder.items()):
            below = folders[len(folder.path) :]
            values = [_partition_value(name, key) for name, key in zip(below, table.partition_keys, strict=True)]
            table.partitions.append(PlannedPartition(values, self._uri(folders), members))
        return table

    def _uri(self, folders: tuple[str, ...]) -> str:
        return self.include_uri + "".join(f"{name}/" for name in folders)


def _partition_key(folder_names: list[str], level: int) -> str:
    keys = {m.group(1) if (m := _HIVE_FOLDER.match(name)) else None for name in folder_names}
    if len(keys) == 1 and None not in keys:
        return table_name(keys.pop())
    return f"partition_{level}"


def _partition_value(folder_name: str, key: str) -> str:
    match = _HIVE_FOLDER.match(folder_name)
    if match and table_name(match.group(1)) == key:
        return urllib.parse.unquote(match.group(2))  # Hive escapes special characters as %XX
    return folder_name

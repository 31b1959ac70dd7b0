"""Scanning one crawler's S3 targets: the half of a crawl that reads S3.

`TargetScan` is mixed into crawl_run.CrawlRun: it lists each S3Target, skips hidden, empty and
excluded objects, reads the first bytes of each file (Parquet footers through pyarrow's S3
filesystem), classifies them (schema_inference) and plans tables and partitions (crawl_layout).
Also CrawlError, which ends a crawl as FAILED wherever it is raised.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from local_aws import clients
from local_aws.glue import crawl_layout, schema_inference
from local_aws.glue.crawl_layout import CrawledFile, PlannedTable
from local_aws.glue.schema_inference import FileSchema


class CrawlError(Exception):
    """Ends a crawl as FAILED; the message becomes LastCrawl.ErrorMessage."""


class TargetScan:
    """The scanning methods of crawl_run.CrawlRun; that class sets the attributes they use (name,
    region, targets, other_targets, table_prefix, combine_schemas, s3, _s3fs) and provides log()
    and _check_stop()."""

    # -- scanning S3 ---------------------------------------------------------------------------

    def _scan(self) -> tuple[list[PlannedTable], list[str]]:
        if self.other_targets:
            self.log("WARN", f"Only S3 targets are crawled locally; ignoring {', '.join(self.other_targets)}")
        tables: list[PlannedTable] = []
        include_uris: list[str] = []
        for target in self.targets:
            include_uri, files = self._crawl_target(target)
            include_uris.append(include_uri)
            tables.extend(
                crawl_layout.plan_tables(
                    include_uri,
                    files,
                    table_prefix=self.table_prefix,
                    combine_compatible_schemas=self.combine_schemas,
                )
            )
        crawl_layout.unique_names(tables)
        return tables, include_uris

    def _crawl_target(self, target: dict[str, Any]) -> tuple[str, list[CrawledFile]]:
        path = target.get("Path") or ""
        if path and "://" not in path:  # AWS reads a Path without a scheme (bucket/prefix) as s3://bucket/prefix
            path = f"s3://{path}"
        try:
            bucket, key = clients.split_s3_uri(path)
        except ValueError as error:
            raise CrawlError(f"S3 target {path!r} of crawler {self.name} is not valid: {error}") from None
        prefix = key.strip("/")
        objects = self._list_objects(path, bucket, f"{prefix}/" if prefix else "")
        include_uri = f"s3://{bucket}/{prefix}/" if prefix else f"s3://{bucket}/"
        base = f"{prefix}/" if prefix else ""
        if not objects and prefix and (single := self._head_object(bucket, prefix)) is not None:
            # The include path is one file: one table named after it, located at the file.
            objects, include_uri, base = [single], f"s3://{bucket}/{prefix}", prefix[: prefix.rfind("/") + 1]
        exclusions = [_glob_regex(p) for p in target.get("Exclusions") or []]
        sample_size = target.get("SampleSize")
        files: list[CrawledFile] = []
        skipped = 0
        sampled_per_folder: dict[str, list[CrawledFile]] = {}
        for obj in objects:
            self._check_stop()
            relative = obj["Key"][len(base) :]
            if _ignored(relative, obj["Size"]) or _excluded(relative, exclusions):
                skipped += 1
                continue
            folder = relative.rsplit("/", 1)[0] if "/" in relative else ""
            siblings = sampled_per_folder.setdefault(folder, [])
            if sample_size and len(siblings) >= sample_size:
                # SampleSize: only the first files of each folder are read; the others are assumed alike.
                like = siblings[0]
                records = round(obj["Size"] * sum(f.records for f in siblings) / max(sum(f.size for f in siblings), 1))
                files.append(CrawledFile(relative, obj["Size"], like.schema, records))
                continue
            crawled = self._classify(bucket, obj["Key"], obj["Size"], relative)
            if crawled is None:
                skipped += 1
                continue
            siblings.append(crawled)
            files.append(crawled)
        self.log(
            "INFO",
            f"Crawled {path}: {len(files)} files classified, {skipped} skipped (hidden, empty, excluded or unrecognised)",
        )
        return include_uri, files

    def _list_objects(self, path: str, bucket: str, prefix: str) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                objects.extend(page.get("Contents", []))
        except ClientError as error:
            if error_code(error) == "NoSuchBucket":
                raise CrawlError(
                    f"S3 target {path} of crawler {self.name}: bucket {bucket} does not exist (NoSuchBucket); "
                    f"create the bucket or fix the target's Path"
                ) from None
            raise CrawlError(f"S3 target {path} of crawler {self.name}: cannot list objects: {error}") from None
        return sorted(objects, key=lambda o: o["Key"])

    def _head_object(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            head = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            return None
        return {"Key": key, "Size": head["ContentLength"]}

    def _classify(self, bucket: str, key: str, size: int, relative: str) -> CrawledFile | None:
        uri = f"s3://{bucket}/{key}"
        try:
            last_byte = min(size, schema_inference.SAMPLE_BYTES) - 1
            head = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{last_byte}")["Body"].read()
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                self.log("WARN", f"{uri} vanished during the crawl; skipped")
                return None
            raise CrawlError(f"Cannot read {uri}: {error}") from None
        if head[:4] == schema_inference.PARQUET_MAGIC:
            schema = self._parquet_schema(bucket, key, size, head, uri)
            return CrawledFile(relative, size, schema, schema.sample_records)
        try:
            sample = schema_inference.text_sample(head, size, uri)
        except schema_inference.UnreadableFile as error:
            raise CrawlError(
                f"Unreadable file: {error}. Remove it or exclude it with the target's Exclusions"
            ) from None
        schema = schema_inference.classify_text(sample)
        if schema is None:
            # AWS: would create a table with classification UNKNOWN; we skip the file and say so.
            self.log("WARN", f"{uri} is not Parquet, JSON or CSV (2+ columns, 2+ rows); skipped")
            return None
        return CrawledFile(relative, size, schema, schema_inference.estimate_records(schema, sample, size))

    def _parquet_schema(self, bucket: str, key: str, size: int, head: bytes, uri: str) -> FileSchema:
        try:
            if len(head) >= size:  # we already have the whole file
                metadata = pq.read_metadata(pa.BufferReader(head))
            else:  # read only the footer, with ranged reads
                if self._s3fs is None:
                    self._s3fs = clients.s3_filesystem(self.region)
                metadata = pq.read_metadata(f"{bucket}/{key}", filesystem=self._s3fs)
            return schema_inference.parquet_schema(metadata.schema.to_arrow_schema(), metadata.num_rows)
        except (pa.ArrowException, OSError) as error:
            raise CrawlError(
                f"Unreadable file: {uri} starts like Parquet but its footer cannot be read ({error}). "
                f"Remove it or exclude it with the target's Exclusions"
            ) from None


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _ignored(relative: str, size: int) -> bool:
    """Folder markers, empty objects and hidden files or folders (_SUCCESS, _temporary/, .keep).

    AWS: crawlers skip Spark's _SUCCESS and similar markers; we skip every name starting with _ or .
    like Athena and Hive do, so the crawler and queries see the same files."""
    if not relative or relative.endswith("/") or relative.endswith("_$folder$") or size == 0:
        return True
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def _excluded(relative: str, patterns: list[re.Pattern[str]]) -> bool:
    """An object is excluded if a pattern matches its path or one of its folders (below the include path)."""
    parts = relative.split("/")
    candidates = [relative] + ["/".join(parts[:i]) for i in range(1, len(parts))]
    return any(p.match(c) for p in patterns for c in candidates)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Glue's exclude globs: * within a folder, ** across folders, ?, [abc], {a,b}."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in pattern[i:]:
            end = pattern.index("]", i)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        elif char == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            out.append("(?:" + "|".join(re.escape(a) for a in pattern[i + 1 : end].split(",")) + ")")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")

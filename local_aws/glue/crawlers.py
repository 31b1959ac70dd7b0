"""Glue crawlers that really crawl.

StartCrawler starts a background thread that lists the crawler's S3Targets and reads the first
bytes of each file through the API (boto3, and pyarrow's S3 filesystem for Parquet footers, both
against this server), infers schemas (schema_inference), groups files into tables and partitions
(crawl_layout) and writes them with the Glue API (create_table, update_table,
batch_create_partition, ...) in the shape AWS crawlers write. Log lines go to CloudWatch Logs
group /aws-glue/crawlers, stream = crawler name.

moto 5.2.5 only records crawls, and that breaks the Amazon provider: a crawl's state advances only
when ListCrawls is called (state manager "manual"), so GetCrawler says RUNNING forever and
GlueCrawlerHook's crawler_ready waiter and GlueCrawlerSensor poll until they time out; once
advanced, LastCrawl.Status is "COMPLETED" (a ListCrawls state; AWS says SUCCEEDED), so the
sensor raises; GetCrawlerMetrics (called by wait_for_crawler_completion) and UpdateCrawler
(called by GlueCrawlerOperator when the crawler exists) are not implemented (HTTP 500).
`patches` changes FakeCrawler/GlueBackend/GlueResponse so that crawl state lives on moto's models
(moto's reset clears it) and follows AWS: State RUNNING -> STOPPING -> READY, LastCrawl.Status
SUCCEEDED / FAILED / CANCELLED with ErrorMessage, ListCrawls states RUNNING / COMPLETED / FAILED /
STOPPED, GetCrawlerMetrics from the real crawls. UpdateCrawler, what CreateCrawler/UpdateCrawler
refuse and how schedules fire: crawler_requests.py, installed after these patches.
Differences from AWS are listed in docs/local-aws/glue-crawlers.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import statistics
import threading
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError
from moto.core.responses import ActionResult
from moto.glue import exceptions as moto_errors
from moto.glue.models import FakeCrawl, FakeCrawler, GlueBackend, glue_backends
from moto.glue.responses import GlueResponse

from local_aws import clients
from local_aws.clock import utcnow_naive as utcnow
from local_aws.glue import crawl_layout, crawler_requests, events, schema_inference
from local_aws.glue.crawl_layout import CrawledFile, PlannedPartition, PlannedTable
from local_aws.glue.schema_inference import FileSchema, glue_type
from local_aws.logs.writer import write_lines
from local_aws.patching import Patches

logger = logging.getLogger(__name__)

LOG_GROUP = "/aws-glue/crawlers"
# ListCrawls reports a crawl's history state; GetCrawler's LastCrawl.Status uses other words.
LAST_CRAWL_STATUS = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED", "STOPPED": "CANCELLED"}
BATCH = 100  # BatchCreatePartition / BatchUpdatePartition / BatchDeletePartition take 100 at most
TABLE_INPUT_KEYS = (
    "Name", "Description", "Owner", "LastAccessTime", "LastAnalyzedTime", "Retention", "StorageDescriptor",
    "PartitionKeys", "ViewOriginalText", "ViewExpandedText", "TableType", "Parameters", "TargetTable",
)  # fmt: skip

_workers: dict[str, tuple[ExecutedCrawl, threading.Thread]] = {}
_workers_lock = threading.Lock()


class CrawlError(Exception):
    """Ends a crawl as FAILED; the message becomes LastCrawl.ErrorMessage."""


class CrawlCancelled(Exception):
    """StopCrawler was called (or the crawler vanished): end the crawl as CANCELLED."""


class ExecutedCrawl(FakeCrawl):
    """One crawl run by our worker thread; its state is set by the worker, not moto's state manager."""

    def __init__(self, crawler_name: str):
        super().__init__(crawler_name)
        self.history_state = "RUNNING"  # RUNNING | COMPLETED | FAILED | STOPPED, as ListCrawls says
        self.stopping = False  # the crawler shows State STOPPING while this crawl winds down
        self.stop_requested = threading.Event()
        self.error_message: str | None = None
        self.dpu_hour = 0.0  # nothing is billed locally
        self.counts = {"TABLE": {"ADD": 0, "UPDATE": 0, "DELETE": 0}, "PARTITION": {"ADD": 0, "UPDATE": 0, "DELETE": 0}}

    @property  # type: ignore[override]
    def status(self) -> str:
        return self.history_state

    @status.setter
    def status(self, value: str) -> None:
        self.history_state = value

    def advance(self) -> None:
        """moto's ListCrawls advances its simulated crawls; ours advance by really running."""

    def finish(self, state: str, error_message: str | None = None) -> None:
        self.error_message = error_message
        self.end_time = utcnow()
        self.history_state = state

    @property
    def runtime_seconds(self) -> float:
        end = self.end_time or utcnow()
        return (end - self.start_time).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "CrawlId": self.crawl_id,
            "State": self.history_state,
            "StartTime": self.start_time,
            "LogGroup": self.log_group,
            "LogStream": self.log_stream,
            "MessagePrefix": self.message_prefix,
            "DPUHour": self.dpu_hour,
        }
        if self.end_time:
            data["EndTime"] = self.end_time
            summary = {
                kind: {action: {"Count": n} for action, n in actions.items() if n}
                for kind, actions in self.counts.items()
            }
            data["Summary"] = json.dumps({kind: actions for kind, actions in summary.items() if actions})
        if self.error_message:
            data["ErrorMessage"] = self.error_message
        return data


# ---------------------------------------------------------------------------------------------
# moto patches
# ---------------------------------------------------------------------------------------------

patches = Patches(__name__)


def shutdown() -> None:
    """Cancel running crawls and wait for their threads."""
    with _workers_lock:
        workers = list(_workers.values())
        _workers.clear()
    for crawl, _ in workers:
        crawl.stop_requested.set()
    for _, thread in workers:
        thread.join(timeout=30)


def _current_crawl(crawler: FakeCrawler) -> ExecutedCrawl | None:
    crawl = crawler.crawls[-1] if crawler.crawls else None
    return crawl if crawl is not None and crawl.status == "RUNNING" else None


def _crawler_state(crawler: FakeCrawler) -> str:
    crawl = _current_crawl(crawler)
    if crawl is None:
        return "READY"
    return "STOPPING" if getattr(crawl, "stopping", False) else "RUNNING"


patches.replace(FakeCrawler, "status", property(_crawler_state))


@patches.wrap(FakeCrawler, "as_dict")
def _crawler_as_dict(original, crawler: FakeCrawler) -> dict[str, Any]:
    data = original(crawler)
    # LastCrawl describes the last finished crawl (absent during the first one), as on AWS.
    data.pop("LastCrawl", None)
    finished = [crawl for crawl in crawler.crawls if crawl.status != "RUNNING"]
    if finished:
        last = finished[-1]
        data["LastCrawl"] = {
            "Status": LAST_CRAWL_STATUS.get(last.status, last.status),
            "LogGroup": last.log_group,
            "LogStream": last.log_stream,
            "MessagePrefix": last.message_prefix,
            "StartTime": last.start_time,
        }
        if getattr(last, "error_message", None):
            data["LastCrawl"]["ErrorMessage"] = last.error_message
    running = _current_crawl(crawler)
    data["CrawlElapsedTime"] = int(running.runtime_seconds * 1000) if running else 0
    if crawler.schedule:
        data["Schedule"] = {"ScheduleExpression": crawler.schedule, "State": crawler_requests.schedule_state(crawler)}
    return data


def _start_crawler(crawler: FakeCrawler) -> None:
    if crawler.status != "READY":
        raise moto_errors.CrawlerRunningException(f"Crawler with name {crawler.name} has already started")
    crawl = ExecutedCrawl(crawler.name)
    crawler.crawls.append(crawl)
    thread = threading.Thread(target=_CrawlRun(crawler, crawl).run, name=f"glue-crawler-{crawler.name}", daemon=True)
    with _workers_lock:
        for crawl_id in [i for i, (c, _) in _workers.items() if c.status != "RUNNING"]:
            del _workers[crawl_id]
        _workers[crawl.crawl_id] = (crawl, thread)
    thread.start()


patches.replace(FakeCrawler, "start_crawler", _start_crawler)


@patches.wrap(GlueBackend, "get_crawler")
def _get_crawler(original, backend: GlueBackend, name: str) -> FakeCrawler:
    if name not in backend.crawlers:  # AWS's words (moto says "Crawler X not found.")
        raise moto_errors.EntityNotFoundException(f"Crawler entry with name {name} does not exist")
    return original(backend, name)


def _start_crawler_by_name(backend: GlueBackend, name: str) -> None:
    if name not in backend.crawlers:  # StartCrawler words it differently from GetCrawler on AWS
        raise moto_errors.EntityNotFoundException(f"Crawler with name {name} does not exist")
    backend.crawlers[name].start_crawler()


patches.replace(GlueBackend, "start_crawler", _start_crawler_by_name)


def _stop_crawler(crawler: FakeCrawler) -> None:
    crawl = _current_crawl(crawler)
    if crawl is None:
        raise moto_errors.CrawlerNotRunningException(f"Crawler with name {crawler.name} isn't running")
    if crawl.stopping:
        raise moto_errors.GlueClientError("CrawlerStoppingException", f"Crawler with name {crawler.name} is stopping")
    crawl.stopping = True
    crawl.stop_requested.set()


patches.replace(FakeCrawler, "stop_crawler", _stop_crawler)


@patches.wrap(GlueBackend, "delete_crawler")
def _delete_crawler(original, backend: GlueBackend, name: str) -> None:
    crawler = backend.crawlers.get(name)
    if crawler is not None and crawler.status != "READY":
        # AWS's words, also while STOPPING, quoted in aws/aws-sdk-java#1549 as "Cannot delete
        # crawlerglueTest while it's running": no space between "crawler" and the name.
        raise moto_errors.CrawlerRunningException(f"Cannot delete crawler{name} while it's running")
    original(backend, name)


def _get_crawler_metrics(backend: GlueBackend, names: list[str] | None) -> list[dict[str, Any]]:
    # AWS: unknown names are left out of the list rather than failing the call.
    return [_crawler_metrics(backend.crawlers[n]) for n in (names or list(backend.crawlers)) if n in backend.crawlers]


def _crawler_metrics(crawler: FakeCrawler) -> dict[str, Any]:
    finished = [c for c in crawler.crawls if c.status != "RUNNING" and c.end_time]
    runtimes = [(c.end_time - c.start_time).total_seconds() for c in finished]
    median = statistics.median(runtimes) if runtimes else 0.0
    running = _current_crawl(crawler)
    counts = finished[-1].counts["TABLE"] if finished and hasattr(finished[-1], "counts") else {}
    return {
        "CrawlerName": crawler.name,
        "TimeLeftSeconds": max(0.0, median - running.runtime_seconds) if running else 0.0,
        "StillEstimating": False,
        "LastRuntimeSeconds": runtimes[-1] if runtimes else 0.0,
        "MedianRuntimeSeconds": median,
        "TablesCreated": counts.get("ADD", 0),
        "TablesUpdated": counts.get("UPDATE", 0),
        "TablesDeleted": counts.get("DELETE", 0),
    }


def _respond_get_crawler_metrics(response: GlueResponse) -> ActionResult:
    metrics = response.glue_backend.get_crawler_metrics(response.parameters.get("CrawlerNameList"))
    return ActionResult({"CrawlerMetricsList": metrics})


patches.add(GlueBackend, "get_crawler_metrics", _get_crawler_metrics)
patches.add(GlueResponse, "get_crawler_metrics", _respond_get_crawler_metrics)


# ---------------------------------------------------------------------------------------------
# One crawl
# ---------------------------------------------------------------------------------------------


class _CrawlRun:
    """Scans the targets of one crawler and writes the catalog, as one StartCrawler does."""

    def __init__(self, crawler: FakeCrawler, crawl: ExecutedCrawl):
        self.crawler = crawler
        self.crawl = crawl
        self.name = crawler.name
        self.region = crawler.backend.region_name
        self.account = crawler.backend.account_id
        # Snapshot of the definition: UpdateCrawler during a crawl does not change it (AWS refuses it anyway).
        self.database = crawler.database_name
        self.targets = list((crawler.targets or {}).get("S3Targets") or [])
        self.other_targets = [k for k, v in (crawler.targets or {}).items() if v and k != "S3Targets"]
        self.table_prefix = crawler.table_prefix or ""
        policy = crawler.schema_change_policy or {}
        self.update_behavior = policy.get("UpdateBehavior") or "UPDATE_IN_DATABASE"
        self.delete_behavior = policy.get("DeleteBehavior") or "DEPRECATE_IN_DATABASE"
        configuration = _parse_configuration(crawler.configuration)
        output = configuration.get("CrawlerOutput") or {}
        self.merge_new_columns = (output.get("Tables") or {}).get("AddOrUpdateBehavior") == "MergeNewColumns"
        self.inherit_from_table = (output.get("Partitions") or {}).get("AddOrUpdateBehavior") == "InheritFromTable"
        grouping = configuration.get("Grouping") or {}
        self.combine_schemas = grouping.get("TableGroupingPolicy") == "CombineCompatibleSchemas"
        self.lines: list[str] = []
        self.glue = self.s3 = self._s3fs = None

    # -- lifecycle ---------------------------------------------------------------------------

    def run(self) -> None:
        self.log("BENCHMARK", f"Running Start Crawl for Crawler {self.name}")
        state, error = "COMPLETED", None
        try:
            self.glue = clients.client("glue", self.region)
            self.s3 = clients.client("s3", self.region)
            self._ensure_database()
            tables, include_uris = self._scan()
            self._check_stop()
            self.log("BENCHMARK", f"Classification complete, writing results to database {self.database}")
            self._write_catalog(tables, include_uris)
            self.log("BENCHMARK", "Finished writing to Catalog")
        except CrawlCancelled:
            state = "STOPPED"
            self.log("INFO", "Crawl cancelled by StopCrawler; catalog changes made before the stop are kept")
        except CrawlError as failure:
            state, error = "FAILED", str(failure)
        except Exception as failure:  # a bug of ours must still end the crawl, with the reason
            logger.exception("crawler %s failed", self.name)
            state, error = "FAILED", f"Internal error of the local crawler: {type(failure).__name__}: {failure}"
        if error:
            self.log("ERROR", error)
        # Like AWS, the crawler shows STOPPING while it wraps up (writes logs), then READY.
        self.crawl.stopping = True
        self.log("BENCHMARK", f"Crawler has finished running and is in state READY ({state})")
        if self._still_current():
            try:
                write_lines(LOG_GROUP, self.name, self.lines, self.region)
            except Exception:
                logger.warning("could not write the log of crawler %s to CloudWatch Logs", self.name, exc_info=True)
        self.crawl.finish(state, error)
        if self._still_current():  # conditional triggers and workflow runs react (local_aws/glue/triggers.py)
            outcome = LAST_CRAWL_STATUS[state]
            events.publish(events.RunFinished("CRAWLER", self.name, outcome, self.crawl, self.crawler.backend))

    def log(self, level: str, message: str) -> None:
        self.lines.append(f"[{self.crawl.crawl_id}] {level} : {message}")

    def _still_current(self) -> bool:
        """False once the crawler was deleted or moto reset: then we must not touch the new state."""
        try:
            return glue_backends[self.account][self.region].crawlers.get(self.name) is self.crawler
        except Exception:
            return False

    def _check_stop(self) -> None:
        if self.crawl.stop_requested.is_set() or not self._still_current():
            raise CrawlCancelled()

    def _ensure_database(self) -> None:
        """AWS crawlers create their DatabaseName when it does not exist, then crawl into it."""
        try:
            self.glue.get_database(Name=self.database)
        except ClientError as error:
            if _code(error) != "EntityNotFoundException":
                raise
            try:
                self.glue.create_database(DatabaseInput={"Name": self.database})
            except ClientError as create_error:
                if _code(create_error) != "AlreadyExistsException":  # created meanwhile: fine
                    raise
            self.log("INFO", f"Created database {self.database}")

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
            if _code(error) == "NoSuchBucket":
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
            if _code(error) in ("NoSuchKey", "404"):
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


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _parse_configuration(configuration: str | None) -> dict[str, Any]:
    if not configuration:
        return {}
    try:
        parsed = json.loads(configuration)
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


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

"""Glue crawlers that really crawl.

StartCrawler starts a background thread that lists the crawler's S3Targets and reads the first
bytes of each file through the API (boto3, and pyarrow's S3 filesystem for Parquet footers, both
against this server), infers schemas (schema_inference), groups files into tables and partitions
(crawl_layout) and writes them with the Glue API (create_table, update_table,
batch_create_partition, ...) in the shape AWS crawlers write. Log lines go to CloudWatch Logs
group /aws-glue/crawlers, stream = crawler name.
This module keeps the moto patches and the crawl's lifecycle (worker thread, stop, logs, final
state); _CrawlRun gets its S3 scanning from crawl_scan.py and its catalog writes (SchemaChangePolicy,
tables, partitions, deprecation) from crawl_catalog.py.

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

import json
import logging
import statistics
import threading
from typing import Any

from botocore.exceptions import ClientError
from moto.core.responses import ActionResult
from moto.glue import exceptions as moto_errors
from moto.glue.models import FakeCrawl, FakeCrawler, GlueBackend, glue_backends
from moto.glue.responses import GlueResponse

from local_aws import clients
from local_aws.clock import utcnow_naive as utcnow
from local_aws.glue import crawler_requests, events
from local_aws.glue.crawl_catalog import CatalogWrites
from local_aws.glue.crawl_scan import CrawlError, TargetScan, error_code
from local_aws.logs.writer import write_lines
from local_aws.patching import Patches

logger = logging.getLogger(__name__)

LOG_GROUP = "/aws-glue/crawlers"
# ListCrawls reports a crawl's history state; GetCrawler's LastCrawl.Status uses other words.
LAST_CRAWL_STATUS = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED", "STOPPED": "CANCELLED"}

_workers: dict[str, tuple[ExecutedCrawl, threading.Thread]] = {}
_workers_lock = threading.Lock()


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


class _CrawlRun(TargetScan, CatalogWrites):
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
            if error_code(error) != "EntityNotFoundException":
                raise
            try:
                self.glue.create_database(DatabaseInput={"Name": self.database})
            except ClientError as create_error:
                if error_code(create_error) != "AlreadyExistsException":  # created meanwhile: fine
                    raise
            self.log("INFO", f"Created database {self.database}")


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

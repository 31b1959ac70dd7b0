"""The Glue crawl engine: one crawl, run on a thread of its own.

crawlers.py intercepts moto's crawler calls; StartCrawler hands the crawl to `Crawls` (a worker
of the server, local_aws/workers.py), which runs a `CrawlRun` on its own thread: it lists the
crawler's S3Targets and reads the first bytes of each file through the API (boto3, and pyarrow's
S3 filesystem for Parquet footers, both against this server), infers schemas (schema_inference),
groups files into tables and partitions (crawl_layout) and writes them with the Glue API
(create_table, update_table, batch_create_partition, ...) in the shape AWS crawlers write. Its
S3 scanning comes from crawl_scan.py, its catalog writes (SchemaChangePolicy, tables,
partitions, deprecation) from crawl_catalog.py. Log lines go to CloudWatch Logs group
/aws-glue/crawlers, stream = crawler name; the crawl's state lives on moto's FakeCrawler.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from botocore.exceptions import ClientError
from moto.glue.models import FakeCrawl, FakeCrawler, glue_backends

from local_aws import clients
from local_aws.clock import utcnow_naive as utcnow
from local_aws.glue import events
from local_aws.glue.crawl_catalog import CatalogWrites
from local_aws.glue.crawl_scan import CrawlError, TargetScan, error_code
from local_aws.logs.writer import write_lines

logger = logging.getLogger(__name__)

LOG_GROUP = "/aws-glue/crawlers"
# ListCrawls reports a crawl's history state; GetCrawler's LastCrawl.Status uses other words.
LAST_CRAWL_STATUS = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED", "STOPPED": "CANCELLED"}


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


class Crawls:
    """The threads running crawls, one per crawl; a worker (local_aws.workers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, tuple[ExecutedCrawl, threading.Thread]] = {}

    def start(self, crawler: FakeCrawler, crawl: ExecutedCrawl) -> None:
        thread = threading.Thread(target=CrawlRun(crawler, crawl).run, name=f"glue-crawler-{crawler.name}", daemon=True)
        with self._lock:
            for crawl_id in [i for i, (c, _) in self._running.items() if c.status != "RUNNING"]:
                del self._running[crawl_id]
            self._running[crawl.crawl_id] = (crawl, thread)
        thread.start()

    def stop(self) -> None:
        """Cancel running crawls and wait for their threads."""
        with self._lock:
            running = list(self._running.values())
            self._running.clear()
        for crawl, _ in running:
            crawl.stop_requested.set()
        for _, thread in running:
            thread.join(timeout=30)


# ---------------------------------------------------------------------------------------------
# One crawl
# ---------------------------------------------------------------------------------------------


class CrawlRun(TargetScan, CatalogWrites):
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

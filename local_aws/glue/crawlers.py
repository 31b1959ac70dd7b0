"""Glue crawlers that really crawl: what of moto's crawler API is intercepted.

StartCrawler starts a crawl on a thread of its own (crawl_run.py, the engine: it scans the
crawler's S3Targets, infers schemas and writes tables and partitions to the Data Catalog as AWS
crawlers do). This module keeps the moto patches: state, start, stop, delete, metrics.

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

import statistics
from typing import Any

from moto.core.responses import ActionResult
from moto.glue import exceptions as moto_errors
from moto.glue.models import FakeCrawler, GlueBackend
from moto.glue.responses import GlueResponse

from local_aws import workers
from local_aws.glue import crawler_requests
from local_aws.glue.crawl_run import LAST_CRAWL_STATUS, Crawls, ExecutedCrawl
from local_aws.patching import Patches

# ---------------------------------------------------------------------------------------------
# moto patches
# ---------------------------------------------------------------------------------------------

patches = Patches(__name__)


def shutdown() -> None:
    workers.stop(Crawls)


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
    crawls = workers.get(Crawls)
    crawl = ExecutedCrawl(crawler.name)
    crawler.crawls.append(crawl)
    crawls.start(crawler, crawl)


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

"""Crawler definitions checked as AWS checks them, and crawler schedules that fire.

moto 5.2.5 stores any crawler definition, reports every Schedule as SCHEDULED and never runs it,
and lacks UpdateCrawler, StartCrawlerSchedule, StopCrawlerSchedule and UpdateCrawlerSchedule.
`patches` (applied after crawlers.py's) changes moto so that
- UpdateCrawler changes the fields it names, and is refused while the crawler is not READY;
- CreateCrawler and UpdateCrawler refuse, with InvalidInputException, a crawler without a target
  (API reference: "At least one crawl target must be specified"), a Schedule that is not AWS cron
  (cron.py, as for triggers), a Configuration that is not a JSON object, and RecrawlPolicy
  CRAWL_NEW_FOLDERS_ONLY with a SchemaChangePolicy other than LOG/LOG (AWS's words, below);
- a crawler with a Schedule is SCHEDULED (GetCrawler's Schedule.State) and starts in every UTC
  minute its cron matches, on the Glue scheduler thread (scheduler.py) that fires SCHEDULED triggers too;
  StopCrawlerSchedule sets NOT_SCHEDULED, StartCrawlerSchedule SCHEDULED, UpdateCrawlerSchedule
  changes the expression.
State lives on moto's FakeCrawler, so /moto-api/reset forgets it. Differences from AWS and which
messages are local wording: docs/local-aws/glue-crawlers.md.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import EmptyResult
from moto.glue.exceptions import GlueClientError, InvalidInputException
from moto.glue.models import FakeCrawler, GlueBackend, glue_backends
from moto.glue.responses import GlueResponse

from local_aws.clock import utcnow_naive as utcnow
from local_aws.glue import cron, scheduler
from local_aws.patching import Patches

log = logging.getLogger(__name__)

# quoted from an UpdateCrawler refusal (InvalidInputException) in LBHackney-IT/Data-Platform#2418
NEW_FOLDERS_ONLY_NEEDS_LOG = (
    'The SchemaChangePolicy for "Crawl new folders only" Amazon S3 target can have only LOG DeleteBehavior '
    "value and LOG UpdateBehavior value."
)
# After crawlers.py: UpdateCrawler is refused by the crawl State (FakeCrawler.status) that it patches in.
patches = Patches(__name__, after=("local_aws.glue.crawlers",))


def check_definition(name: str, definition: dict[str, Any], operation: str) -> None:
    """Refuse what AWS refuses in a crawler's Targets, Schedule, Configuration, RecrawlPolicy."""
    if not any((definition.get("Targets") or {}).values()):
        raise InvalidInputException(  # local wording, from the API reference's sentence
            operation,
            f"Crawler {name} has no target: at least one crawl target must be specified "
            f"(S3Targets, JdbcTargets, DynamoDBTargets, CatalogTargets, ...)",
        )
    if definition.get("Schedule"):
        try:
            cron.check(definition["Schedule"], f"Crawler {name}")
        except cron.CronError as error:  # local wording, as for triggers
            raise InvalidInputException(operation, str(error)) from None
    if definition.get("Configuration"):
        try:
            configuration = json.loads(definition["Configuration"])
        except json.JSONDecodeError as error:
            configuration = error
        if not isinstance(configuration, dict):  # local wording
            raise InvalidInputException(
                operation,
                f"Crawler {name}: Configuration must be a JSON object such as "
                f'{{"Version": 1.0, "Grouping": {{"TableGroupingPolicy": "CombineCompatibleSchemas"}}}}'
                f" ({configuration})",
            )
    if (definition.get("RecrawlPolicy") or {}).get("RecrawlBehavior") == "CRAWL_NEW_FOLDERS_ONLY":
        policy = definition.get("SchemaChangePolicy") or {}
        if (policy.get("UpdateBehavior"), policy.get("DeleteBehavior")) != ("LOG", "LOG"):
            raise InvalidInputException(operation, NEW_FOLDERS_ONLY_NEEDS_LOG)


def _definition_of(crawler: FakeCrawler) -> dict[str, Any]:
    return {
        "Targets": crawler.targets,
        "Schedule": crawler.schedule,
        "Configuration": crawler.configuration,
        "RecrawlPolicy": crawler.recrawl_policy,
        "SchemaChangePolicy": crawler.schema_change_policy,
    }


# ---- schedules ----


def schedule_state(crawler: FakeCrawler) -> str:
    return getattr(crawler, "local_schedule_state", "SCHEDULED")


def _set_schedule_state(crawler: FakeCrawler, state: str) -> None:
    crawler.local_schedule_state = state


def fire_scheduled_crawlers(minute: datetime) -> None:
    """Start every SCHEDULED crawler whose cron matches this UTC minute, once per minute."""
    for account in list(glue_backends.values()):
        for backend in list(account.values()):
            for crawler in list(backend.crawlers.values()):
                if not crawler.schedule or schedule_state(crawler) != "SCHEDULED":
                    continue
                if getattr(crawler, "local_last_fired", None) == minute or not cron.parse(crawler.schedule).matches(
                    minute
                ):
                    continue
                crawler.local_last_fired = minute
                if backend.crawlers.get(crawler.name) is not crawler:
                    continue  # deleted meanwhile
                try:
                    backend.start_crawler(crawler.name)
                except JsonRESTError as error:  # still running from the last time: this start is skipped
                    log.info("Scheduled crawl of %s at %s skipped: %s", crawler.name, minute, error.message)


# Local wording: AWS's words for these refusals are not known.
_ALREADY = {
    "SCHEDULED": ("SchedulerRunningException", "The schedule of crawler {} is already SCHEDULED"),
    "NOT_SCHEDULED": ("SchedulerNotRunningException", "The schedule of crawler {} is not SCHEDULED"),
}


def _crawler_named_in(response: GlueResponse) -> FakeCrawler:
    return response.glue_backend.get_crawler(response.parameters.get("CrawlerName"))  # GetCrawler's words if unknown


def _respond_schedule_state(response: GlueResponse, state: str) -> EmptyResult:
    """StartCrawlerSchedule (state SCHEDULED) and StopCrawlerSchedule (NOT_SCHEDULED)."""
    crawler = _crawler_named_in(response)
    if state == "SCHEDULED" and not crawler.schedule:
        raise GlueClientError(
            "NoScheduleException", f"Crawler {crawler.name} has no schedule; give it one with UpdateCrawlerSchedule"
        )
    if not crawler.schedule or schedule_state(crawler) == state:
        code, message = _ALREADY[state]
        raise GlueClientError(code, message.format(crawler.name))
    _set_schedule_state(crawler, state)
    return EmptyResult()


def _respond_update_crawler_schedule(response: GlueResponse) -> EmptyResult:
    crawler = _crawler_named_in(response)
    schedule = response.parameters.get("Schedule")
    check_definition(crawler.name, {**_definition_of(crawler), "Schedule": schedule}, "UpdateCrawlerSchedule")
    had_schedule, crawler.schedule = bool(crawler.schedule), schedule
    _set_schedule_state(crawler, schedule_state(crawler) if had_schedule else "SCHEDULED")
    return EmptyResult()


patches.add(GlueResponse, "start_crawler_schedule", lambda response: _respond_schedule_state(response, "SCHEDULED"))
patches.add(GlueResponse, "stop_crawler_schedule", lambda response: _respond_schedule_state(response, "NOT_SCHEDULED"))
patches.add(GlueResponse, "update_crawler_schedule", _respond_update_crawler_schedule)


# ---- CreateCrawler / UpdateCrawler ----


@patches.wrap(GlueBackend, "create_crawler")
def _create_crawler(original, backend: GlueBackend, name: str, **fields: Any) -> None:
    definition = {
        "Targets": fields.get("targets"),
        "Schedule": fields.get("schedule"),
        "Configuration": fields.get("configuration"),
        "RecrawlPolicy": fields.get("recrawl_policy"),
        "SchemaChangePolicy": fields.get("schema_change_policy"),
    }
    check_definition(name, definition, "CreateCrawler")
    original(backend, name=name, **fields)
    _set_schedule_state(backend.crawlers[name], "SCHEDULED")


# UpdateCrawler request fields -> FakeCrawler attributes
_UPDATABLE = {
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "Schedule": "schedule",
    "Classifiers": "classifiers",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration",
    "Configuration": "configuration",
    "CrawlerSecurityConfiguration": "crawler_security_configuration",
}


def _update_crawler(backend: GlueBackend, name: str, changes: dict[str, Any]) -> None:
    crawler = backend.get_crawler(name)
    current = _definition_of(crawler)
    check_definition(name, {**current, **{k: v for k, v in changes.items() if k in current}}, "UpdateCrawler")
    had_schedule = bool(crawler.schedule)
    if crawler.status != "READY":
        raise InvalidInputException(
            "UpdateCrawler",
            "Cannot update Crawler while running. Please stop crawl or wait until it completes to update.",
        )
    for key, attribute in _UPDATABLE.items():
        if key in changes:
            setattr(crawler, attribute, changes[key])
    crawler.version += 1
    crawler.last_updated = utcnow()
    if crawler.schedule and not had_schedule:
        _set_schedule_state(crawler, "SCHEDULED")


def _respond_update_crawler(response: GlueResponse) -> EmptyResult:
    params = response.parameters
    response.glue_backend.update_crawler(params.get("Name"), params)
    return EmptyResult()


patches.add(GlueBackend, "update_crawler", _update_crawler)
patches.add(GlueResponse, "update_crawler", _respond_update_crawler)


def install() -> None:
    """Have the Glue scheduler thread (scheduler.py) start crawlers whose schedule is due."""
    scheduler.every_minute(fire_scheduled_crawlers)

"""Glue job bookmarks for S3 sources, as AWS Glue 5.0 keeps them.

AWS semantics (docs: "Tracking processed data using job bookmarks"), mirrored here:
- A bookmark belongs to a job. Within it, each source read with a `transformation_ctx` has its
  own state; reads without one are not tracked.
- S3 sources are tracked by object last-modified time. A run lists the source at time T and
  reads objects modified after the previous run's T (the "high" timestamp) and up to T. Objects
  modified within `maxBand` (default 900,000 ms) before a listing time are also remembered by
  name, so an object that shows up late with an older timestamp is still read exactly once.
  Local difference: they are remembered with their ETag, because S3 lists last-modified times in
  whole seconds; an object rewritten within the second of a listing is then still read again.
- `job.init` starts bookmark use and `job.commit` saves the new state; a run that fails before
  `job.commit` saves nothing, so the next run reads the same objects again.
- `job-bookmark-enable` reads from the bookmark and saves it; `job-bookmark-pause` reads from
  it without saving; `job-bookmark-disable` (the default) reads everything and saves nothing.
- ResetJobBookmark forgets every source's state (or rewinds to the state a given run saved);
  DeleteJob deletes the bookmark.

Two halves: JobBookmark is the server's record (kept on moto's FakeJob, so /moto-api/reset and
DeleteJob drop it); RunBookmarks is one run's view inside the Spark driver, which gets the
saved sources with the run request and returns the committed ones with the run result.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime

ENABLE, PAUSE, DISABLE = "job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable"
OPTIONS = (ENABLE, PAUSE, DISABLE)
DEFAULT_MAX_BAND_MS = 900_000


@dataclass(frozen=True)
class S3Object:
    uri: str
    last_modified_ms: int
    etag: str


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def select_new(
    previous: dict | None, source: list[str], objects: list[S3Object], now_ms: int, max_band_ms: int
) -> tuple[list[str], dict]:
    """(URIs to read, the source's next state) for one tracked source listed at now_ms.

    `previous` is the state the last committed run saved for this transformation_ctx; a state
    saved for another source (other paths or table) does not apply, as on AWS.
    """
    if previous and previous.get("source") != source:
        previous = None
    listed = [o for o in objects if o.last_modified_ms <= now_ms]  # later ones belong to the next run
    if previous:
        high, remembered = previous["highTimestamp"], previous["filesInBand"]
        band_start = high - previous["maxBand"]
        new = [
            o.uri
            for o in listed
            if o.last_modified_ms > high or (o.last_modified_ms > band_start and remembered.get(o.uri) != o.etag)
        ]
    else:
        new = [o.uri for o in listed]
    # Every listed object up to now_ms is processed after this run: remember those in the band.
    state = {
        "source": source,
        "lowTimestamp": previous["highTimestamp"] if previous else 0,
        "highTimestamp": now_ms,
        "maxBand": max_band_ms,
        "filesInBand": {
            o.uri: o.etag for o in sorted(listed, key=lambda o: o.uri) if o.last_modified_ms > now_ms - max_band_ms
        },
    }
    return sorted(new), state


def list_s3_objects(uris: list[str], region: str) -> list[S3Object]:
    """Data files under S3 prefixes (or the files themselves), recursively, as Spark reads them:
    names starting with '_' or '.' (such as _SUCCESS) at any level are not data."""
    from local_aws import clients

    s3 = clients.client("s3", region)
    found: dict[str, S3Object] = {}
    for uri in uris:
        bucket, key = clients.split_s3_uri(uri)
        prefix = key if not key or key.endswith("/") else key + "/"
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"]
                if name != key and not name.startswith(prefix):
                    continue  # s3://b/raw/a matched s3://b/raw/ab.csv
                relative = name[len(prefix) :] if name != key else name.rsplit("/", 1)[-1]
                if name.endswith("/") or any(part.startswith(("_", ".")) for part in relative.split("/")):
                    continue
                uri = f"s3://{bucket}/{name}"
                found[uri] = S3Object(uri, _millis(item["LastModified"]), item["ETag"].strip('"'))
    return list(found.values())


class RunBookmarks:
    """One run's bookmarks inside the driver: reads filter through it, Job.commit() saves it."""

    def __init__(self, arguments: dict[str, str], saved: dict[str, dict], region: str, clock_offset_seconds: float):
        self.option = arguments.get("--job-bookmark-option", DISABLE)
        self.arguments, self.saved, self.region = arguments, saved, region
        self.clock_offset_seconds = clock_offset_seconds
        self.pending: dict[str, dict] = {}
        self.initialized = False
        self.committed: dict[str, dict] | None = None

    def init(self, job_name: str) -> None:
        if self.option not in OPTIONS:
            raise ValueError(f"--job-bookmark-option {self.option!r} of job {job_name} is not one of {OPTIONS}")
        if "--job-bookmark-from" in self.arguments or "--job-bookmark-to" in self.arguments:
            raise ValueError(
                f"job {job_name}: --job-bookmark-from/--job-bookmark-to are not supported by local AWS; "
                "use job-bookmark-pause without them, or ResetJobBookmark with a RunId to rewind"
            )
        self.initialized = True

    def tracks(self, transformation_ctx: str) -> bool:
        return bool(transformation_ctx) and self.initialized and self.option in (ENABLE, PAUSE)

    def new_files(
        self, transformation_ctx: str, source: list[str], locations: list[str], max_band_ms: int
    ) -> list[str]:
        """List the locations now and return the objects this run should read for the source."""
        # Local AWS's time, in which S3 stamps LastModified; before listing: objects written during it go to the next run.
        now_ms = int((time.time() + self.clock_offset_seconds) * 1000)
        objects = list_s3_objects(locations, self.region)
        new, state = select_new(self.saved.get(transformation_ctx), source, objects, now_ms, max_band_ms)
        self.pending[transformation_ctx] = state
        return new

    def commit(self) -> None:
        if self.initialized and self.option == ENABLE:
            self.committed = {**self.saved, **self.pending}


_current: RunBookmarks | None = None


def begin(arguments: dict[str, str], saved: dict[str, dict], region: str, clock_offset_seconds: float = 0.0) -> None:
    global _current
    _current = RunBookmarks(arguments, saved, region, clock_offset_seconds)


def end() -> dict[str, dict] | None:
    """The sources the run committed (None: nothing to save), and forget the run."""
    global _current
    run, _current = _current, None
    return run.committed if run else None


def current() -> RunBookmarks | None:
    """The running job's bookmarks; None outside a local Glue run (bookmarks then do nothing)."""
    return _current


@dataclass
class JobBookmark:
    """The server's record of one job's bookmark (GetJobBookmark's JobBookmarkEntry)."""

    job_name: str
    version: int = 0
    run: int = 0
    run_id: str | None = None
    previous_run_id: str | None = None
    sources: dict[str, dict] = field(default_factory=dict)
    saved_by_run: dict[str, dict[str, dict]] = field(default_factory=dict)

    def commit(self, run_id: str, sources: dict[str, dict]) -> None:
        self.version += 1
        self.run += 1
        self.previous_run_id, self.run_id = self.run_id, run_id
        self.sources = sources
        self.saved_by_run[run_id] = sources

    def reset(self, run_id: str | None = None) -> None:
        """Forget every source (the next run reads everything), or rewind to what run_id saved."""
        self.sources = {} if run_id is None else self._saved_by(run_id)
        self.version += 1

    def entry(self, run_id: str | None = None) -> dict:
        sources = self.sources if run_id is None else self._saved_by(run_id)
        return {
            "JobName": self.job_name,
            "Version": self.version,
            "Run": self.run,
            "Attempt": 0,
            "PreviousRunId": self.previous_run_id or "",
            "RunId": run_id or self.run_id or "",
            "JobBookmark": json.dumps({"version": self.version, "sources": sources}, sort_keys=True),
        }

    def _saved_by(self, run_id: str) -> dict[str, dict]:
        if run_id not in self.saved_by_run:
            raise KeyError(f"job {self.job_name} has no bookmark saved by run {run_id}")
        return self.saved_by_run[run_id]

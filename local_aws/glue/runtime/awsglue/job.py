"""awsglue.job.Job: the job's init/commit pair (job bookmarks are not kept locally)."""

from __future__ import annotations

import sys


class Job:
    def __init__(self, glue_context):
        self._glue_context = glue_context
        self._name: str | None = None
        self._args: dict = {}
        self._committed = False

    def init(self, job_name: str, args: dict | None = None) -> None:
        if not job_name:
            raise ValueError("Job.init needs the job name: job.init(args['JOB_NAME'], args)")
        self._name, self._args = job_name, dict(args or {})
        if self._args.get("job_bookmark_option") == "job-bookmark-enable":
            # Local difference from AWS: no bookmark state, so every run reads all its input.
            print(
                f"local AWS: job bookmarks are not kept for job {job_name}; this run reads all input",
                file=sys.stderr,
            )

    def isInitialized(self) -> bool:
        return self._name is not None

    def commit(self) -> None:
        if self._name is None:
            raise RuntimeError("Job.commit() before Job.init(): call job.init(args['JOB_NAME'], args) first")
        self._committed = True

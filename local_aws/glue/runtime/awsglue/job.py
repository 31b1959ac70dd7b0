"""awsglue.job.Job: init/commit around a run; they start and save the job bookmark (local_aws/glue/bookmarks.py)."""

from __future__ import annotations

from local_aws.glue import bookmarks


class Job:
    def __init__(self, glue_context):
        self._glue_context = glue_context
        self._name: str | None = None
        self._args: dict = {}

    def init(self, job_name: str, args: dict | None = None) -> None:
        """Starts bookmark use: reads with a transformation_ctx skip what committed runs read."""
        if not job_name:
            raise ValueError("Job.init needs the job name: job.init(args['JOB_NAME'], args)")
        self._name, self._args = job_name, dict(args or {})
        if (run := bookmarks.current()) is not None:
            run.init(job_name)

    def isInitialized(self) -> bool:
        return self._name is not None

    def commit(self) -> None:
        """Saves the bookmark of what this run read (with job-bookmark-enable; pause and disable save nothing)."""
        if self._name is None:
            raise RuntimeError("Job.commit() before Job.init(): call job.init(args['JOB_NAME'], args) first")
        if (run := bookmarks.current()) is not None:
            run.commit()

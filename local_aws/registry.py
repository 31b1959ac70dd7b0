"""Wires the executors into moto's backends: each service module patches what it executes."""

from __future__ import annotations

import importlib

import moto

from local_aws import MOTO_VERSION

# Each module has install() (patch moto, idempotent) and shutdown() (stop its workers).
# Triggers come first so they stop firing before the job runner and crawls wind down.
EXECUTOR_MODULES = (
    "local_aws.glue.triggers",
    "local_aws.glue.jobs",
    "local_aws.glue.job_definitions",
    "local_aws.glue.catalog",
    "local_aws.glue.crawlers",
    "local_aws.athena.executor",
    # Lambda event sources before the Lambda runtime, so pollers stop before execution environments do.
    "local_aws.lambda_.event_sources.mappings",
    "local_aws.lambda_.event_sources.kinesis",
    "local_aws.lambda_.event_sources.sns",
    "local_aws.lambda_.service",
    "local_aws.clock",
    "local_aws.s3.lifecycle",
    "local_aws.s3.versioning",
    # After versioning: S3 notifications wrap its DeleteObject, so suspended buckets' deletes notify too.
    "local_aws.lambda_.event_sources.s3",
    "local_aws.kms.key_state",
    "local_aws.s3.encryption",
    "local_aws.iam.managed_policies",
    "local_aws.iam.s3",
    "local_aws.s3.access_logging",
)

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"local_aws patches moto {MOTO_VERSION} but moto {moto.__version__} is installed; "
            f"run `make install` to get the pinned version"
        )
    for name in EXECUTOR_MODULES:
        importlib.import_module(name).install()
    _installed = True


def shutdown() -> None:
    """Stop every executor; the next install() (a second LocalAWS.start()) starts them again."""
    global _installed
    for name in EXECUTOR_MODULES:
        module = importlib.import_module(name)
        module.shutdown()
    _installed = False

"""Wires the executors into moto: applies each one's patches, starts it, and undoes both on shutdown.

An executor is a module with
- `patches`: its `local_aws.patching.Patches` (what of moto it wraps, replaces or adds), whose
  `after` names the executors that must be installed before it;
- optionally `install()`: start what must run from the start (a scheduler), after its patches apply;
- optionally `shutdown()`: stop its workers in the order that matters (`workers.stop(Kind)`).

Long-lived workers belong to the server's `local_aws.workers.Workers`, not to the modules.

install() goes through the executors in dependency order (an executor after those it names),
shutdown() in the reverse order: dependants stop first (triggers before the job runner, pollers
before the Lambda runtime), then any worker still running, then every patch is undone, leaving
moto as it was.
See docs/local-aws/adding-an-executor.md.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import moto

from local_aws import MOTO_VERSION, workers

EXECUTOR_MODULES = (
    "local_aws.athena.api",
    "local_aws.athena.executor",
    "local_aws.clock",
    "local_aws.cloudformation.resources",
    "local_aws.cloudformation.stacks",
    "local_aws.dms.tasks",
    "local_aws.firehose.delivery_streams",
    "local_aws.glue.catalog",
    "local_aws.glue.crawler_requests",
    "local_aws.glue.crawlers",
    "local_aws.glue.job_definitions",
    "local_aws.glue.jobs",
    "local_aws.glue.triggers",
    "local_aws.iam.managed_policies",
    "local_aws.iam.principals",
    "local_aws.iam.s3",
    "local_aws.kinesis.limits",
    "local_aws.kms.key_state",
    "local_aws.lambda_.event_sources.kinesis",
    "local_aws.lambda_.event_sources.mappings",
    "local_aws.lambda_.event_sources.s3",
    "local_aws.lambda_.event_sources.sns",
    "local_aws.lambda_.service",
    "local_aws.rds.instances",
    "local_aws.s3.access_logging",
    "local_aws.s3.encryption",
    "local_aws.s3.lifecycle",
    "local_aws.s3.ranged_reads",
    "local_aws.s3.versioning",
    "local_aws.sns.email_subscriptions",
)

_installed: list[ModuleType] = []


def ordered(names: tuple[str, ...] = EXECUTOR_MODULES) -> list[ModuleType]:
    """The executor modules, each after every executor its patches name in `after` (else in the given order)."""
    modules = {name: importlib.import_module(name) for name in names}
    done: dict[str, ModuleType] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in path:
            raise RuntimeError(f"executors wait for each other in a cycle: {' -> '.join((*path, name))}")
        if name not in modules:
            raise RuntimeError(f"{path[-1]} is to install after {name}, which is not an executor in {__name__}")
        for before in modules[name].patches.after:
            visit(before, (*path, name))
        done[name] = modules[name]

    for name in names:
        visit(name, ())
    return list(done.values())


def install(server_workers: workers.Workers | None = None) -> None:
    """Apply every executor's patches and start it, its workers owned by server_workers (idempotent until shutdown())."""
    if _installed:
        return
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"local_aws patches moto {MOTO_VERSION} but moto {moto.__version__} is installed; "
            f"run `make install` to get the pinned version"
        )
    modules = ordered()
    for module in modules:
        module.patches.check()  # every mismatch with moto is reported before anything is patched
    workers.attach(server_workers or workers.Workers())
    for module in modules:
        module.patches.apply()
        _installed.append(module)
        if hasattr(module, "install"):
            module.install()


def shutdown() -> None:
    """Stop every executor, dependants first, then restore moto; the next install() starts afresh."""
    if not _installed:
        return
    running = workers.running()
    running.close()  # nothing starts while the executors wind down
    for module in reversed(_installed):
        if hasattr(module, "shutdown"):
            module.shutdown()
    running.stop()
    workers.detach()
    while _installed:
        _installed.pop().patches.restore()

"""Job definitions as AWS keeps them: CreateJob's checks, UpdateJob (moto 5.2.5 lacks it), GetJob's defaults.

- CreateJob refuses capacity settings AWS refuses, in AWS's words, and never replaces an existing
  job (moto silently replaced it and dropped its runs): the same definition again is accepted as
  AWS's idempotent CreateJob does, another one is IdempotentParameterMismatchException.
- UpdateJob (the provider's GlueJobOperator(update_config=True) calls it on reruns) replaces the
  whole definition, as on AWS: fields the JobUpdate leaves out are reset. Name, creation time, tags,
  runs and anything executors keep on the job stay.
- GetJob/GetJobs report what AWS reports for fields a definition leaves out (see job_defaults()).
Sources are quoted next to each rule; differences are in docs/local-aws/glue-jobs.md.
"""

from __future__ import annotations

import re
from typing import Any

from moto.core.responses import ActionResult
from moto.glue.exceptions import EntityNotFoundException, GlueClientError, InvalidInputException
from moto.glue.models import FakeJob, GlueBackend
from moto.glue.responses import GlueResponse

from local_aws.clock import utcnow_naive as utcnow
from local_aws.patching import Patches

patches = Patches(__name__)

# CreateJob API reference (GlueVersion): "Jobs that are created without specifying a Glue version
# default to Glue 6.0" (botocore 1.44 service model; the JobRun shape's copy still says 5.1).
DEFAULT_GLUE_VERSION = "6.0"
# Timeout: "When the value is left blank, the timeout is defaulted to 2,880 minutes for Glue version
# 4.0 and earlier, or 480 minutes for Glue version 5.0 and later."
TIMEOUT_UP_TO_GLUE_4 = 2880
TIMEOUT_FROM_GLUE_5 = 480
# MaxCapacity: Spark jobs (glueetl, gluestreaming) "can allocate from 2 to 100 DPUs. The default is
# 10 DPUs"; Python shell jobs "either 0.0625 or 1 DPU. The default is 0.0625 DPU".
SPARK_COMMANDS = ("glueetl", "gluestreaming")
DEFAULT_SPARK_DPUS = 10.0
DEFAULT_PYTHON_SHELL_DPUS = 0.0625
# WorkerType: the DPUs each worker maps to (G.1X "maps to 1 DPU", G.025X "to 0.25 DPU", ...).
DPUS_PER_WORKER = {"G.025X": 0.25, "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8, "G.12X": 12, "G.16X": 16,
                   "R.1X": 1, "R.2X": 2, "R.4X": 4, "R.8X": 8, "Z.2X": 2}  # fmt: skip

# JobUpdate field -> its value when the update leaves it out (the FakeJob attribute is its snake_case)
_FIELDS: dict[str, Any] = {
    "JobMode": None,
    "Description": None,
    "LogUri": None,
    "Role": None,
    "ExecutionProperty": {},
    "Command": None,
    "DefaultArguments": {},
    "NonOverridableArguments": None,
    "Connections": None,
    "MaxRetries": None,
    "AllocatedCapacity": None,
    "Timeout": None,
    "MaxCapacity": None,
    "WorkerType": None,
    "NumberOfWorkers": None,
    "SecurityConfiguration": None,
    "NotificationProperty": None,
    "GlueVersion": None,
    "CodeGenConfigurationNodes": None,
    "ExecutionClass": "STANDARD",
    "SourceControlDetails": None,
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _definition(fields: dict[str, Any]) -> dict[str, Any]:
    """What CreateJob or UpdateJob define: every definition field, the left-out ones at their default."""
    return {field: fields.get(field, default) for field, default in _FIELDS.items()}


def check_capacity(operation: str, fields: dict[str, Any]) -> None:
    """Worker settings and DPU settings exclude each other, in AWS's words."""
    worker_type, workers = fields.get("WorkerType"), fields.get("NumberOfWorkers")
    if worker_type is None and workers is None:
        return
    if worker_type is None or workers is None:
        # quoted by aws/aws-cdk#26241 (CloudFormation passing Glue's error on)
        raise InvalidInputException(operation, "Please set both Worker Type and Number of Workers.")
    if fields.get("MaxCapacity") is not None:
        # quoted from a StartJobRun refusal (InvalidInputException) in a public Airflow DAG
        raise InvalidInputException(
            operation, "Please do not set Max Capacity if using Worker Type and Number of Workers."
        )
    if fields.get("AllocatedCapacity") is not None:
        # quoted by apache/airflow#25996 (CreateJob)
        raise InvalidInputException(
            operation, "Please do not set Allocated Capacity if using Worker Type and Number of Workers"
        )


def _is_spark(job: FakeJob) -> bool:
    return (job.command or {}).get("Name", "glueetl") in SPARK_COMMANDS


def glue_version(job: FakeJob) -> str | None:
    """The job's GlueVersion, or AWS's default for Spark jobs."""
    return job.glue_version or (DEFAULT_GLUE_VERSION if _is_spark(job) else None)


def _at_least_glue_5(version: str | None) -> bool:
    if version == "auto":  # automatic upgrades: the latest stable version
        return True
    try:
        return float(version or 0) >= 5.0
    except ValueError:
        return False


def timeout_minutes(job: FakeJob) -> int:
    if job.timeout:
        return job.timeout
    return TIMEOUT_FROM_GLUE_5 if _at_least_glue_5(glue_version(job)) else TIMEOUT_UP_TO_GLUE_4


def _max_capacity(job: FakeJob) -> float | None:
    if job.worker_type and job.number_of_workers:
        per_worker = DPUS_PER_WORKER.get(job.worker_type)
        return float(per_worker * job.number_of_workers) if per_worker is not None else None
    if job.max_capacity is not None:
        return float(job.max_capacity)
    if job.allocated_capacity is not None:
        return float(job.allocated_capacity)
    return DEFAULT_SPARK_DPUS if _is_spark(job) else DEFAULT_PYTHON_SHELL_DPUS


def job_defaults(job: FakeJob) -> dict[str, Any]:
    """Job fields AWS fills in when a definition leaves them out."""
    defaults: dict[str, Any] = {
        "JobMode": "SCRIPT",  # "When the JobMode field is missing or null, SCRIPT is assigned"
        "ExecutionProperty": {"MaxConcurrentRuns": 1},  # MaxConcurrentRuns: "The default is 1."
        "MaxRetries": 0,
        "Timeout": timeout_minutes(job),
        "GlueVersion": glue_version(job),
        "ExecutionClass": "STANDARD",
    }
    dpus = _max_capacity(job)
    if dpus is not None:
        # AWS computes MaxCapacity from the workers and reports the deprecated AllocatedCapacity with it
        defaults.update(MaxCapacity=dpus, AllocatedCapacity=int(dpus))
    return defaults


@patches.wrap(FakeJob, "as_dict")
def _job_as_dict(original, job: FakeJob) -> dict[str, Any]:
    described = original(job)
    described["JobMode"] = getattr(job, "job_mode", None)
    for field, value in job_defaults(job).items():
        if described.get(field) in (None, {}):
            described[field] = value
    return described


@patches.wrap(GlueResponse, "create_job")
def _create_job_response(original, self: GlueResponse) -> ActionResult:
    fields, backend = self.parameters, self.glue_backend
    name = fields.get("Name")
    check_capacity("CreateJob", fields)
    existing = backend.jobs.get(name)
    if existing is not None:
        # A second CreateJob of the same definition succeeds; another definition is refused. The
        # words are quoted from a public Terraform configuration that hit it (AWS's Glue blueprint
        # guide quotes the trigger form: "Trigger with name '...' already submitted with different
        # configuration").
        if getattr(existing, "local_definition", None) != _definition(fields):
            raise GlueClientError(
                "IdempotentParameterMismatchException", "Job already submitted with different configuration"
            )
        return ActionResult({"Name": name})
    result = original(self)
    job = backend.jobs[name]
    job.job_mode, job.local_definition = fields.get("JobMode"), _definition(fields)
    return result


def update_job(backend: GlueBackend, name: str, job_update: dict[str, Any]) -> str:
    if "Role" not in job_update or "Command" not in job_update:
        raise InvalidInputException("UpdateJob", "JobUpdate needs Role and Command (the definition is replaced whole)")
    job = backend.jobs.get(name)
    if job is None:
        raise EntityNotFoundException(f"Job {name} not found; create it with CreateJob first")
    check_capacity("UpdateJob", job_update)
    job.local_definition = _definition(job_update)
    for field, value in job.local_definition.items():
        setattr(job, _snake(field), value)
    job.last_modified_on = utcnow()
    return name


def _update_job_response(self: GlueResponse) -> ActionResult:
    name = update_job(self.glue_backend, self._get_param("JobName"), self._get_param("JobUpdate") or {})
    return ActionResult({"JobName": name})


patches.add(GlueResponse, "update_job", _update_job_response)

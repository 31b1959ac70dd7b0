"""UpdateJob, which moto 5.2.5 lacks: the provider's GlueJobOperator(update_config=True) calls it on reruns.

As on AWS, the JobUpdate replaces the whole definition: fields it leaves out are reset.
Name, creation time, tags, runs and anything executors keep on the job stay.
"""

from __future__ import annotations

import re
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.glue.exceptions import EntityNotFoundException, InvalidInputException
from moto.glue.models import GlueBackend
from moto.glue.responses import GlueResponse

# JobUpdate field -> its value when the update leaves it out (the FakeJob attribute is its snake_case)
_FIELDS: dict[str, Any] = {
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


def update_job(backend: GlueBackend, name: str, job_update: dict[str, Any]) -> str:
    if "Role" not in job_update or "Command" not in job_update:
        raise InvalidInputException("UpdateJob", "JobUpdate needs Role and Command (the definition is replaced whole)")
    job = backend.jobs.get(name)
    if job is None:
        raise EntityNotFoundException(f"Job {name} not found; create it with CreateJob first")
    for field, default in _FIELDS.items():
        setattr(job, _snake(field), job_update.get(field, default))
    job.last_modified_on = utcnow()
    return name


def _update_job_response(self: GlueResponse) -> ActionResult:
    name = update_job(self.glue_backend, self._get_param("JobName"), self._get_param("JobUpdate") or {})
    return ActionResult({"JobName": name})


def install() -> None:
    GlueResponse.update_job = _update_job_response


def shutdown() -> None:
    """Nothing runs here."""

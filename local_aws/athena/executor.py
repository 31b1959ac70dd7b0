"""Athena executor: the moto calls local Athena intercepts so that StartQueryExecution really runs.

moto records query executions; these patches hand each one to the engine (engine.py), which runs
it on DuckDB over local S3 in a worker thread, and answer the calls about it from the run's state
(runs.py): GetQueryExecution, GetQueryResults (paged), GetQueryRuntimeStatistics,
StopQueryExecution. UpdateWorkGroup, which moto lacks, is added. api.py patches the other
requests whose handling differs from moto's.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from moto.athena.models import AthenaBackend
from moto.athena.responses import AthenaResponse
from moto.core.exceptions import JsonRESTError

from local_aws import workers
from local_aws.athena import api, engine
from local_aws.athena.runs import CANCELLED, QUEUED, RUNNING, SUCCEEDED, QueryRun
from local_aws.patching import Patches

patches = Patches(__name__)

MAX_RESULTS = 1000  # GetQueryResults' page size limit on AWS


class InvalidRequestException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__("InvalidRequestException", message)


def output_base(backend: AthenaBackend, result_configuration: dict | None, workgroup_name: str | None) -> str:
    """Where results go: the workgroup's location when it enforces its settings, else the request's, else the workgroup's."""
    workgroup = backend.work_groups.get(workgroup_name or "primary")
    settings = workgroup.configuration if workgroup else {}
    workgroup_location = (settings.get("ResultConfiguration") or {}).get("OutputLocation")
    requested = (result_configuration or {}).get("OutputLocation")
    location = (
        workgroup_location
        if workgroup_location and settings.get("EnforceWorkGroupConfiguration")
        else requested or workgroup_location
    )
    if not location:
        raise InvalidRequestException(
            "No output location provided. An output location is required either through the Workgroup result "
            "configuration setting or as an API input."
        )
    if not location.startswith("s3://"):
        raise InvalidRequestException(f"OutputLocation {location!r} is not an S3 URI (expected s3://bucket/prefix/)")
    return location if location.endswith("/") else location + "/"


def _run_of(response: AthenaResponse) -> tuple[str, QueryRun | None]:
    execution_id = response._get_param("QueryExecutionId")
    execution = response.athena_backend.executions.get(execution_id)
    return execution_id, getattr(execution, "local_run", None)


def _page_token(execution_id: str, start: int) -> str:
    return base64.urlsafe_b64encode(f"{execution_id}:{start}".encode()).decode()


def _page_start(execution_id: str, token: str | None) -> int:
    if not token:
        return 0
    try:
        owner, _, start = base64.urlsafe_b64decode(token.encode()).decode().rpartition(":")
        if owner == execution_id:
            return int(start)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidRequestException(f"NextToken {token!r} is not a token of query {execution_id}'s results")


@patches.wrap(AthenaBackend, "start_query_execution")
def _start_query_execution(original, self: AthenaBackend, query, context, config, workgroup, execution_parameters):
    workgroup = workgroup or api.PRIMARY  # a query naming no workgroup runs in primary, as on AWS
    base = output_base(self, config, workgroup)
    execution_id = original(self, query, context, config, workgroup, execution_parameters)
    engine.submit(self, self.executions[execution_id], base, workgroup)
    return execution_id


@patches.wrap(AthenaBackend, "stop_query_execution")
def _stop_query_execution(original, self: AthenaBackend, exec_id):
    execution = self.executions.get(exec_id)
    if execution is None:
        raise InvalidRequestException(f"QueryExecution {exec_id} was not found")
    run = getattr(execution, "local_run", None)
    if run is None:
        return original(self, exec_id)
    run.move_to(CANCELLED, "Query cancelled by user")  # a finished query stays as it is, as on AWS


def _get_query_execution(self: AthenaResponse):
    execution_id = self._get_param("QueryExecutionId")
    described = api.describe(self.athena_backend, execution_id)
    if described is None:
        return self.error(f"QueryExecution {execution_id} was not found", 400)
    return json.dumps({"QueryExecution": described})


patches.replace(AthenaResponse, "get_query_execution", _get_query_execution)


@patches.wrap(AthenaResponse, "get_query_results")
def _get_query_results(original, self: AthenaResponse):
    execution_id, run = _run_of(self)
    if execution_id not in self.athena_backend.executions:
        return self.error(f"QueryExecution {execution_id} was not found", 400)
    if run is None:
        return original(self)
    if run.state != SUCCEEDED:
        if run.state in (QUEUED, RUNNING):
            return self.error(f"Query has not yet finished. Current state: {run.state}", 400)
        return self.error(f"Query did not finish successfully. Final query state: {run.state} ({run.reason})", 400)
    max_results = int(self._get_param("MaxResults") or MAX_RESULTS)
    if not 1 <= max_results <= MAX_RESULTS:
        return self.error(f"MaxResults must be between 1 and {MAX_RESULTS}, got {max_results}", 400)
    start = _page_start(execution_id, self._get_param("NextToken"))
    rows = run.result.page(start, max_results)
    body: dict[str, Any] = {
        "UpdateCount": run.result.update_count,
        "ResultSet": {
            "Rows": [{"Data": [{} if value is None else {"VarCharValue": value} for value in row]} for row in rows],
            "ResultSetMetadata": {"ColumnInfo": run.result.column_info},
        },
    }
    if start + max_results < run.result.listed_rows:
        body["NextToken"] = _page_token(execution_id, start + max_results)
    return json.dumps(body)


@patches.wrap(AthenaResponse, "get_query_runtime_statistics")
def _get_query_runtime_statistics(original, self: AthenaResponse):
    _, run = _run_of(self)
    if run is None:
        return original(self)
    timeline = run.describe()["Statistics"]
    rows = run.result.row_count if run.result is not None else 0
    return json.dumps(
        {
            "QueryRuntimeStatistics": {
                "Timeline": {k: v for k, v in timeline.items() if k.endswith("InMillis")},
                "Rows": {"InputBytes": run.bytes_scanned, "OutputBytes": run.output_bytes, "OutputRows": rows},
            }
        }
    )


def _update_work_group(self: AthenaResponse):
    """UpdateWorkGroup (moto lacks it): description, state and the result settings queries use."""
    if error := api.missing_workgroup(self, self._get_param("WorkGroup")):
        return error
    workgroup = self.athena_backend.work_groups[self._get_param("WorkGroup")]
    updates = self._get_param("ConfigurationUpdates") or {}
    configuration = workgroup.configuration
    result_updates = updates.get("ResultConfigurationUpdates") or {}
    result = configuration.setdefault("ResultConfiguration", {})
    if "OutputLocation" in result_updates:
        result["OutputLocation"] = result_updates["OutputLocation"]
    if result_updates.get("RemoveOutputLocation"):
        result.pop("OutputLocation", None)
    for key in ("EnforceWorkGroupConfiguration", "PublishCloudWatchMetricsEnabled", "BytesScannedCutoffPerQuery"):
        if key in updates:
            configuration[key] = updates[key]
    if self._get_param("Description") is not None:
        workgroup.description = self._get_param("Description")
    if self._get_param("State"):
        workgroup.state = self._get_param("State")
    return "{}"


patches.add(AthenaResponse, "update_work_group", _update_work_group)


def shutdown() -> None:
    """Stop the query threads (queued queries cancelled, running ones interrupted) and forget the clients."""
    workers.stop(engine.QueryPool)
    engine.forget_clients()

"""Athena's request handling where moto's differs from AWS: workgroups as AWS applies them,
idempotent StartQueryExecution, BatchGetQueryExecution and prepared statements per workgroup.

Nothing here runs queries (engine.py does); these are moto response patches. What each call
answers follows the Athena API reference.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from moto.athena.models import AthenaBackend, PreparedStatement
from moto.athena.responses import AthenaResponse

from local_aws.patching import Patches

patches = Patches(__name__)

PRIMARY = "primary"  # the workgroup of a request that names none
LIST_MAX_RESULTS = 50  # ListQueryExecutions/ListPreparedStatements: default and maximum page size


def _error(code: str, message: str) -> tuple[str, dict[str, int]]:
    return json.dumps({"__type": code, "Message": message}), {"status": 400}


def missing_workgroup(response: AthenaResponse, name: str | None) -> tuple[str, dict[str, int]] | None:
    """AWS's answer when a named workgroup does not exist, else None. Real Athena answers GetWorkGroup and
    StartQueryExecution so, without the name; the other calls taking a workgroup answer the same here."""
    if name and name not in response.athena_backend.work_groups:
        return _error("InvalidRequestException", "WorkGroup is not found.")
    return None


def _page(items: list[Any], response: AthenaResponse, what: str) -> tuple[list[Any], str | None]:
    """One page of items for MaxResults/NextToken (AWS's tokens are opaque; these encode the offset)."""
    size = int(response._get_param("MaxResults") or LIST_MAX_RESULTS)
    token = response._get_param("NextToken")
    start = 0
    if token:
        try:
            kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
            start = int(offset) if kind == what else -1
        except (binascii.Error, UnicodeDecodeError, ValueError):
            start = -1
        if start < 0:
            raise ValueError(f"Invalid NextToken {token!r}")
    end = start + size
    following = base64.urlsafe_b64encode(f"{what}:{end}".encode()).decode() if end < len(items) else None
    return items[start:end], following


def _statements(backend: AthenaBackend) -> dict[tuple[str, str], PreparedStatement]:
    """Prepared statements keyed by (workgroup, name): AWS keeps a namespace per workgroup (moto keys by name)."""
    return backend.__dict__.setdefault("local_prepared_statements", {})


def prepared_statement(backend: AthenaBackend, workgroup: str, name: str) -> PreparedStatement | None:
    return _statements(backend).get((workgroup, name))


def store_prepared_statement(
    backend: AthenaBackend, workgroup: str, name: str, sql: str, description: str = ""
) -> None:
    _statements(backend)[workgroup, name] = PreparedStatement(
        statement_name=name, workgroup=workgroup, query_statement=sql, description=description
    )


def remove_prepared_statement(backend: AthenaBackend, workgroup: str, name: str) -> bool:
    return _statements(backend).pop((workgroup, name), None) is not None


def describe(backend: AthenaBackend, execution_id: str) -> dict[str, Any] | None:
    """GetQueryExecution's QueryExecution (also BatchGetQueryExecution's), None for an unknown id."""
    execution = backend.executions.get(execution_id)
    if execution is None:
        return None
    described = {
        "QueryExecutionId": execution_id,
        "Query": execution.query,
        "ResultReuseConfiguration": getattr(execution, "result_reuse", None)
        or {"ResultReuseByAgeConfiguration": {"Enabled": False}},
        **execution.local_run.describe(),  # every execution is submitted with its run (engine.submit)
    }
    if execution.execution_parameters is not None:
        described["ExecutionParameters"] = execution.execution_parameters
    return described


@patches.wrap(AthenaResponse, "start_query_execution")
def _start_query_execution(original, self: AthenaResponse):
    if error := missing_workgroup(self, self._get_param("WorkGroup")):
        return error
    # Same ClientRequestToken and same request: the same query (boto3 sends a new token per call).
    token = self._get_param("ClientRequestToken")
    request = {
        key: self._get_param(key)
        for key in (
            "QueryString",
            "QueryExecutionContext",
            "ResultConfiguration",
            "WorkGroup",
            "ExecutionParameters",
            "ResultReuseConfiguration",
        )
    }
    tokens = self.athena_backend.__dict__.setdefault("local_request_tokens", {})
    if token and token in tokens:
        earlier, execution_id = tokens[token]
        if earlier != request:
            return _error("InvalidRequestException", "Idempotent parameters do not match")
        return json.dumps({"QueryExecutionId": execution_id})
    body = original(self)
    if isinstance(body, str):
        execution_id = json.loads(body)["QueryExecutionId"]
        execution = self.athena_backend.executions[execution_id]
        execution.result_reuse = request["ResultReuseConfiguration"]
        if token:
            tokens[token] = (request, execution_id)
    return body


def _list_query_executions(self: AthenaResponse):
    workgroup = self._get_param("WorkGroup") or PRIMARY
    if error := missing_workgroup(self, workgroup):
        return error
    executions = [
        e
        for e in self.athena_backend.executions.values()
        if (e.workgroup.name if e.workgroup else PRIMARY) == workgroup
    ]
    executions.sort(key=lambda e: e.start_time, reverse=True)  # newest first, as the console lists them
    try:
        page, token = _page([e.id for e in executions], self, "executions")
    except ValueError as error:
        return _error("InvalidRequestException", str(error))
    return json.dumps({"QueryExecutionIds": page, **({"NextToken": token} if token else {})})


patches.replace(AthenaResponse, "list_query_executions", _list_query_executions)


def _batch_get_query_execution(self: AthenaResponse):
    found, unprocessed = [], []
    for execution_id in self._get_param("QueryExecutionIds") or []:
        described = describe(self.athena_backend, execution_id)
        if described is not None:
            found.append(described)
            continue
        unprocessed.append(
            {
                "QueryExecutionId": execution_id,
                "ErrorCode": "INVALID_INPUT",
                "ErrorMessage": f"QueryExecution {execution_id} was not found",
            }
        )
    return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": unprocessed})


patches.add(AthenaResponse, "batch_get_query_execution", _batch_get_query_execution)


@patches.wrap(AthenaResponse, "get_work_group")
def _get_work_group(original, self: AthenaResponse):
    name = self._get_param("WorkGroup")
    return missing_workgroup(self, name) or original(self)


@patches.wrap(AthenaResponse, "delete_work_group")
def _delete_work_group(original, self: AthenaResponse):
    name = self._get_param("WorkGroup")
    return missing_workgroup(self, name) or original(self)


@patches.wrap(AthenaResponse, "list_named_queries")
def _list_named_queries(original, self: AthenaResponse):
    return missing_workgroup(self, self._get_param("WorkGroup")) or original(self)


def _create_prepared_statement(self: AthenaResponse):
    workgroup, name = self._get_param("WorkGroup"), self._get_param("StatementName")
    if error := missing_workgroup(self, workgroup):
        return error
    if prepared_statement(self.athena_backend, workgroup, name):
        return _error("InvalidRequestException", f"Prepared statement {name} already exists in WorkGroup {workgroup}")
    store_prepared_statement(
        self.athena_backend,
        workgroup,
        name,
        self._get_param("QueryStatement"),
        self._get_param("Description") or "",
    )
    return "{}"


patches.replace(AthenaResponse, "create_prepared_statement", _create_prepared_statement)


def _existing_statement(self: AthenaResponse):
    workgroup, name = self._get_param("WorkGroup"), self._get_param("StatementName")
    if error := missing_workgroup(self, workgroup):
        return None, error
    statement = prepared_statement(self.athena_backend, workgroup, name)
    if statement is None:
        return None, _error(
            "ResourceNotFoundException", f"Prepared statement {name} not found in WorkGroup {workgroup}"
        )
    return statement, None


def _get_prepared_statement(self: AthenaResponse):
    statement, error = _existing_statement(self)
    if error:
        return error
    return json.dumps(
        {
            "PreparedStatement": {
                "StatementName": statement.statement_name,
                "QueryStatement": statement.query_statement,
                "WorkGroupName": statement.workgroup,
                "Description": statement.description,
                "LastModifiedTime": statement.last_modified_time.timestamp(),
            }
        }
    )


patches.replace(AthenaResponse, "get_prepared_statement", _get_prepared_statement)


def _update_prepared_statement(self: AthenaResponse):
    statement, error = _existing_statement(self)
    if error:
        return error
    statement.query_statement = self._get_param("QueryStatement")
    statement.description = self._get_param("Description") or ""
    statement.last_modified_time = datetime.now()
    return "{}"


patches.add(AthenaResponse, "update_prepared_statement", _update_prepared_statement)


def _delete_prepared_statement(self: AthenaResponse):
    statement, error = _existing_statement(self)
    if error:
        return error
    remove_prepared_statement(self.athena_backend, statement.workgroup, statement.statement_name)
    return "{}"


patches.add(AthenaResponse, "delete_prepared_statement", _delete_prepared_statement)


def _list_prepared_statements(self: AthenaResponse):
    workgroup = self._get_param("WorkGroup")
    if error := missing_workgroup(self, workgroup):
        return error
    statements = sorted(
        (s for (group, _), s in _statements(self.athena_backend).items() if group == workgroup),
        key=lambda s: s.statement_name,
    )
    try:
        page, token = _page(statements, self, "statements")
    except ValueError as error:
        return _error("InvalidRequestException", str(error))
    summaries = [
        {"StatementName": s.statement_name, "LastModifiedTime": s.last_modified_time.timestamp()} for s in page
    ]
    return json.dumps({"PreparedStatements": summaries, **({"NextToken": token} if token else {})})


patches.add(AthenaResponse, "list_prepared_statements", _list_prepared_statements)

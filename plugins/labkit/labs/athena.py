"""Reading Athena results in tasks (through the provider's hook)."""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.athena import AthenaHook


def fetch_rows(query_execution_id: str, aws_conn_id: str = "aws_default") -> list[dict[str, str | None]]:
    """All rows of a finished SELECT as dicts of strings (NULL -> None), paging through the results."""
    hook = AthenaHook(aws_conn_id=aws_conn_id)
    rows: list[dict[str, str | None]] = []
    columns: list[str] | None = None
    pages = hook.get_query_results_paginator(query_execution_id)
    if pages is None:
        state = hook.check_query_status(query_execution_id)
        reason = hook.get_state_change_reason(query_execution_id)
        raise ValueError(f"Athena query {query_execution_id} has no results: state {state}, reason: {reason}")
    for page in pages:
        for row in page["ResultSet"]["Rows"]:
            values = [datum.get("VarCharValue") for datum in row["Data"]]
            if columns is None:
                columns = [c["Name"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
                if values == columns:  # Athena repeats the column names as the first row of a SELECT
                    continue
            rows.append(dict(zip(columns, values, strict=True)))
    return rows

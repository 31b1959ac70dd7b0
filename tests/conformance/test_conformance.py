"""The Athena conformance suite (cases.py) against local Athena, through boto3 like any client."""

from __future__ import annotations

import io
import re
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conformance.cases import (
    CASES,
    CUSTOMERS_JSON,
    DATA_BUCKET,
    DATABASE,
    EVENTS,
    ORDERS_CSV,
    RESULTS_BUCKET,
    SETUP,
)

TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


class Athena:
    def __init__(self, client):
        self.client = client

    def execute(self, sql: str, parameters: list[str] | None = None) -> dict:
        request = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": DATABASE},
            "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS_BUCKET}/results/"},
        }
        if parameters:
            request["ExecutionParameters"] = parameters
        query_id = self.client.start_query_execution(**request)["QueryExecutionId"]
        deadline = time.monotonic() + 60
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            if execution["Status"]["State"] in TERMINAL:
                return execution
            assert time.monotonic() < deadline, f"{sql!r} still {execution['Status']['State']} after 60 s"
            time.sleep(0.02)

    def rows(self, execution: dict) -> list[list[str | None]]:
        pages = self.client.get_paginator("get_query_results").paginate(QueryExecutionId=execution["QueryExecutionId"])
        rows = [
            [cell.get("VarCharValue") for cell in row["Data"]] for page in pages for row in page["ResultSet"]["Rows"]
        ]
        return rows[1:] if execution["StatementType"] == "DML" else rows  # SELECT results start with the header

    def must_succeed(self, sql: str, parameters: list[str] | None = None) -> dict:
        execution = self.execute(sql, parameters)
        assert execution["Status"]["State"] == "SUCCEEDED", f"{sql!r}: {execution['Status'].get('StateChangeReason')}"
        return execution


def prepare(endpoint_url: str) -> Athena:
    """Buckets, data files and tables of the cases on the local AWS at endpoint_url (also used by bench/)."""
    import boto3

    session = boto3.Session(region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=endpoint_url)
    for bucket in (DATA_BUCKET, RESULTS_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=DATA_BUCKET, Key="raw/orders/orders.csv", Body=ORDERS_CSV.encode())
    s3.put_object(Bucket=DATA_BUCKET, Key="raw/customers/customers.json", Body=CUSTOMERS_JSON.encode())
    for key, rows in EVENTS.items():
        table = pa.table(
            {
                "event": [r[0] for r in rows],
                "user_id": pa.array([r[1] for r in rows], pa.int64()),
                "value": [r[2] for r in rows],
            }
        )
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=buffer.getvalue())
    client = Athena(session.client("athena", endpoint_url=endpoint_url))
    for sql in SETUP:
        client.must_succeed(sql)
    return client


def failure(athena: Athena, case: dict) -> str | None:
    """Why the case does not hold on this Athena, or None when it does."""
    statements = case["sql"] if isinstance(case["sql"], list) else [case["sql"]]
    for sql in statements[:-1]:
        execution = athena.execute(sql)
        if execution["Status"]["State"] != "SUCCEEDED":
            return f"{sql!r}: {execution['Status'].get('StateChangeReason')}"
    execution = athena.execute(statements[-1], case["parameters"])
    status = execution["Status"]
    if case["error"] is not None:
        if status["State"] != "FAILED":
            return f"expected an error matching {case['error']!r}, query {status['State']}"
        if not re.search(case["error"], status["StateChangeReason"]):
            return f"error {status['StateChangeReason']!r} does not match {case['error']!r}"
        return None
    if status["State"] != "SUCCEEDED":
        return f"{status['State']}: {status.get('StateChangeReason')}"
    got = athena.rows(execution)
    return None if got == case["rows"] else f"rows {got} != expected {case['rows']}"


@pytest.fixture(scope="module")
def athena(local_aws_server):
    local_aws_server.reset()
    return prepare(local_aws_server.endpoint_url)


def test_there_are_at_least_60_cases_with_unique_names():
    names = [case["name"] for case in CASES]
    assert len(names) >= 60 and len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case(athena, case):
    assert failure(athena, case) is None

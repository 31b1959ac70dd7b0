"""Athena's request paths as AWS answers them: workgroups in listings and lookups, idempotent starts,
BatchGetQueryExecution, prepared statements per workgroup, table locations with empty path segments."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.contract import test_athena as base
from tests.contract.test_athena import FLIGHTS_FEB, FLIGHTS_JAN, OUTPUT, query, rows, run, wait

# test_athena's fixtures: local AWS with the lake and results buckets, and labdb.flights over two CSV files.
s3, athena, glue, flights = base.s3, base.athena, base.glue, base.flights


# Real Athena's answer to GetWorkGroup and StartQueryExecution naming a missing workgroup (no name in it).
WORKGROUP_NOT_FOUND = ("InvalidRequestException", "WorkGroup is not found.")


def error_of(call, **request) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**request)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_list_query_executions_lists_the_primary_workgroup_unless_another_is_named(athena, flights):
    athena.create_work_group(Name="analysts", Configuration={"ResultConfiguration": {"OutputLocation": OUTPUT}})
    in_primary = [
        run(athena, "SELECT 1")["QueryExecutionId"],
        run(athena, "SELECT 2", WorkGroup="primary")["QueryExecutionId"],
    ]
    in_analysts = run(athena, "SELECT 3", WorkGroup="analysts")["QueryExecutionId"]

    listed = athena.list_query_executions()["QueryExecutionIds"]
    assert in_analysts not in listed and set(in_primary) <= set(listed)
    assert athena.list_query_executions(WorkGroup="primary")["QueryExecutionIds"] == listed
    assert athena.list_query_executions(WorkGroup="analysts")["QueryExecutionIds"] == [in_analysts]
    assert athena.get_query_execution(QueryExecutionId=in_primary[0])["QueryExecution"]["WorkGroup"] == "primary"
    assert error_of(athena.list_query_executions, WorkGroup="nope") == WORKGROUP_NOT_FOUND


def test_list_query_executions_pages_with_next_token(athena, flights):
    ids = [run(athena, f"SELECT {n}")["QueryExecutionId"] for n in range(3)]  # 5 in primary with the fixture's DDL
    pages, token = [], None
    while True:
        page = athena.list_query_executions(MaxResults=2, **({"NextToken": token} if token else {}))
        pages.append(page["QueryExecutionIds"])
        if not (token := page.get("NextToken")):
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    paged = [i for p in pages for i in p]
    assert len(set(paged)) == 5 and paged[:3] == ids[::-1]  # newest first
    everything = [
        i for page in athena.get_paginator("list_query_executions").paginate() for i in page["QueryExecutionIds"]
    ]
    assert everything == paged


def test_batch_get_query_execution_answers_known_ids_and_lists_unknown_ones(athena, flights):
    done = run(athena, "SELECT count(*) FROM flights")
    answer = athena.batch_get_query_execution(QueryExecutionIds=[done["QueryExecutionId"], "no-such-query"])
    (execution,) = answer["QueryExecutions"]
    assert execution["QueryExecutionId"] == done["QueryExecutionId"]
    assert execution["Status"]["State"] == "SUCCEEDED" and execution["StatementType"] == "DML"
    assert execution["Statistics"]["DataScannedInBytes"] == len(FLIGHTS_JAN) + len(FLIGHTS_FEB)
    assert execution == athena.get_query_execution(QueryExecutionId=done["QueryExecutionId"])["QueryExecution"]
    assert [u["QueryExecutionId"] for u in answer["UnprocessedQueryExecutionIds"]] == ["no-such-query"]


def test_missing_workgroups_and_queries_are_refused_in_athenas_words(athena, flights):
    calls = [
        (athena.get_work_group, {}),
        (athena.start_query_execution, {"QueryString": "SELECT 1"}),
        (athena.update_work_group, {"Description": "x"}),
        (athena.delete_work_group, {}),
        (athena.list_named_queries, {}),
        (athena.get_prepared_statement, {"StatementName": "by_carrier"}),
    ]
    for call, request in calls:
        assert error_of(call, WorkGroup="nope", **request) == WORKGROUP_NOT_FOUND, call.__name__
    code, message = error_of(athena.get_query_results, QueryExecutionId="no-such-query")
    assert (code, message) == ("InvalidRequestException", "QueryExecution no-such-query was not found")


def test_client_request_token_makes_start_idempotent(athena, flights):
    request = {
        "QueryString": "SELECT count(*) FROM flights",
        "QueryExecutionContext": {"Database": "labdb"},
        "ResultConfiguration": {"OutputLocation": OUTPUT},
        "ClientRequestToken": "retry-of-the-same-call-0000000001",
    }
    first = athena.start_query_execution(**request)["QueryExecutionId"]
    assert athena.start_query_execution(**request)["QueryExecutionId"] == first
    assert athena.list_query_executions()["QueryExecutionIds"].count(first) == 1
    changed = {**request, "QueryString": "SELECT 2"}
    assert error_of(athena.start_query_execution, **changed) == (
        "InvalidRequestException",
        "Idempotent parameters do not match",
    )


def test_result_reuse_configuration_is_accepted_and_reported(athena, flights):
    reuse = {"ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 60}}
    execution = run(athena, "SELECT count(*) FROM flights", ResultReuseConfiguration=reuse)
    assert execution["ResultReuseConfiguration"] == reuse
    assert execution["Statistics"]["ResultReuseInformation"] == {"ReusedPreviousResult": False}
    assert rows(athena, execution["QueryExecutionId"]) == [["_col0"], ["5"]]


def test_query_context_catalog_and_an_output_location_without_trailing_slash(athena, s3, flights):
    query_id = athena.start_query_execution(
        QueryString="SELECT count(*) FROM flights",
        ResultConfiguration={"OutputLocation": "s3://athena-results/no-slash"},
        QueryExecutionContext={"Database": "labdb", "Catalog": "AwsDataCatalog"},
    )["QueryExecutionId"]
    execution = wait(athena, query_id)
    assert execution["QueryExecutionContext"] == {"Database": "labdb", "Catalog": "AwsDataCatalog"}
    key = f"no-slash/{execution['QueryExecutionId']}.csv"
    assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://athena-results/{key}"
    assert s3.get_object(Bucket="athena-results", Key=key)["Body"].read() == b'"_col0"\n"5"\n'


def test_prepared_statements_belong_to_their_workgroup(athena, flights):
    athena.create_work_group(Name="analysts", Configuration={"ResultConfiguration": {"OutputLocation": OUTPUT}})
    for workgroup, carrier in (("primary", "AA"), ("analysts", "UA")):
        athena.create_prepared_statement(
            StatementName="by_carrier",
            WorkGroup=workgroup,
            QueryStatement=f"SELECT count(*) FROM flights WHERE carrier = '{carrier}'",
        )
    assert query(athena, "EXECUTE by_carrier") == [["_col0"], ["2"]]  # AA, in primary
    analysts = run(athena, "EXECUTE by_carrier", WorkGroup="analysts")["QueryExecutionId"]
    assert rows(athena, analysts) == [["_col0"], ["2"]]  # UA, in analysts
    got = athena.get_prepared_statement(StatementName="by_carrier", WorkGroup="analysts")["PreparedStatement"]
    assert got["QueryStatement"].endswith("'UA'") and got["WorkGroupName"] == "analysts"
    listed = athena.list_prepared_statements(WorkGroup="analysts")["PreparedStatements"]
    assert [s["StatementName"] for s in listed] == ["by_carrier"]

    athena.update_prepared_statement(
        StatementName="by_carrier", WorkGroup="analysts", QueryStatement="SELECT count(*) FROM flights"
    )
    assert rows(athena, run(athena, "EXECUTE by_carrier", WorkGroup="analysts")["QueryExecutionId"]) == [
        ["_col0"],
        ["5"],
    ]
    athena.delete_prepared_statement(StatementName="by_carrier", WorkGroup="analysts")
    assert athena.list_prepared_statements(WorkGroup="analysts")["PreparedStatements"] == []
    assert (
        athena.list_prepared_statements(WorkGroup="primary")["PreparedStatements"][0]["StatementName"] == "by_carrier"
    )
    code, _ = error_of(athena.get_prepared_statement, StatementName="by_carrier", WorkGroup="analysts")
    assert code == "ResourceNotFoundException"


def test_a_location_with_an_empty_path_segment_reads_the_folder_without_it(athena, s3, glue, flights):
    # AWS: "s3://bucket/prefix//prefix/ ... Athena does not allow it and changes it to s3://bucket/prefix/prefix/".
    run(athena, "CREATE EXTERNAL TABLE doubled (flight int, carrier string) ROW FORMAT DELIMITED "
                "FIELDS TERMINATED BY ',' LOCATION 's3://lake//raw//flights/' TBLPROPERTIES ('skip.header.line.count'='1')")  # fmt: skip
    assert query(athena, "SELECT carrier, count(*) FROM doubled GROUP BY carrier ORDER BY carrier") == [
        ["carrier", "_col1"],
        ["AA", "2"],
        ["B6", "1"],
        ["UA", "2"],
    ]
    run(
        athena,
        "CREATE TABLE doubled_copy WITH (external_location = 's3://lake//copies//doubled/') AS SELECT * FROM doubled",
    )
    assert query(athena, "SELECT count(*) FROM doubled_copy") == [["_col0"], ["5"]]
    assert [o["Key"].rsplit("/", 1)[0] for o in s3.list_objects_v2(Bucket="lake", Prefix="copies/")["Contents"]] == [
        "copies/doubled"
    ]

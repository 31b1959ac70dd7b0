"""What Athena client libraries read besides GetQueryResults: the data manifest of CTAS, INSERT INTO and
UNLOAD (Statistics.DataManifestLocation, <QueryID>-manifest.csv), and so awswrangler's and PyAthena's
default ways of reading a query, which go through it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.contract import test_athena as base
from tests.contract.test_athena import OUTPUT, RESULTS, run

# test_athena's fixtures: local AWS with the lake and results buckets, and labdb.flights over two CSV files.
s3, athena, glue, flights = base.s3, base.athena, base.glue, base.flights

BY_CARRIER = "SELECT carrier, count(*) AS n, sum(distance) AS miles FROM flights GROUP BY carrier ORDER BY carrier"
BY_CARRIER_ROWS = [["AA", 2, 1851], ["B6", 1, 1576], ["UA", 2, 2976]]
CLIENTS_PYTHON = REPO_ROOT / ".venv-clients" / "bin" / "python"


def manifest(s3, execution: dict) -> list[str]:
    location = execution["Statistics"]["DataManifestLocation"]
    bucket, _, key = location.removeprefix("s3://").partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()


def data_files(s3, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(f"s3://{bucket}/{o['Key']}" for o in listed)


def test_ctas_insert_and_unload_write_a_data_manifest_of_their_files(athena, s3, flights):
    ctas = run(athena, "CREATE TABLE by_carrier WITH (partitioned_by = ARRAY['carrier']) AS "
                       "SELECT flight, distance, carrier FROM flights")  # fmt: skip
    query_id = ctas["QueryExecutionId"]
    # CTAS files are in the tables/ sub-folder of the result location, the table's data in tables/<id>/.
    assert ctas["ResultConfiguration"]["OutputLocation"] == f"{OUTPUT}tables/{query_id}"
    assert ctas["Statistics"]["DataManifestLocation"] == f"{OUTPUT}tables/{query_id}-manifest.csv"
    written = data_files(s3, RESULTS, f"queries/tables/{query_id}/")
    assert len(written) == 3 and sorted(manifest(s3, ctas)) == written  # one partition each: AA, B6, UA
    s3.head_object(Bucket=RESULTS, Key=f"queries/tables/{query_id}.metadata")

    insert = run(athena, "INSERT INTO by_carrier SELECT flight, distance, carrier FROM flights WHERE carrier = 'UA'")
    insert_id = insert["QueryExecutionId"]
    assert insert["ResultConfiguration"]["OutputLocation"] == f"{OUTPUT}{insert_id}"
    assert insert["Statistics"]["DataManifestLocation"] == f"{OUTPUT}{insert_id}-manifest.csv"
    (inserted,) = manifest(s3, insert)
    assert inserted.startswith(f"s3://{RESULTS}/queries/tables/{query_id}/carrier=UA/") and inserted not in written

    unload = run(athena, "UNLOAD (SELECT carrier, flight FROM flights) TO 's3://lake/unloaded/' WITH (format = 'JSON')")
    assert manifest(s3, unload) == data_files(s3, "lake", "unloaded/") != []
    assert athena.get_query_results(QueryExecutionId=unload["QueryExecutionId"])["UpdateCount"] == 5

    select = run(athena, "SELECT 1")
    assert "DataManifestLocation" not in select["Statistics"]


# -- PyAthena (requirements.lock) ------------------------------------------------------------------------


@pytest.fixture
def pyathena_connection(local_aws, flights):
    from pyathena import connect

    return connect(s3_staging_dir=OUTPUT, region_name="us-east-1", schema_name="labdb")


def test_pyathena_pandas_cursor_reads_unload_results(pyathena_connection):
    from pyathena.pandas.cursor import PandasCursor

    # (PyAthena's ArrowCursor reads with a pyarrow S3FileSystem that it gives no endpoint: it reaches AWS only.)
    frame = pyathena_connection.cursor(PandasCursor, unload=True).execute(BY_CARRIER).as_pandas()
    assert list(frame.columns) == ["carrier", "n", "miles"]
    assert frame.values.tolist() == BY_CARRIER_ROWS


# -- awswrangler (its own environment: requirements-clients.lock) -----------------------------------------


def awswrangler_read(sql: str, s3_output: str, approach: str) -> dict:
    if not CLIENTS_PYTHON.exists():
        pytest.fail(
            f"{CLIENTS_PYTHON} is missing: create it with `python3.11 -m venv .venv-clients && "
            ".venv-clients/bin/pip install -r requirements-clients.lock`"
        )
    script = Path(__file__).parents[1] / "clients" / "awswrangler_read.py"
    args = [str(CLIENTS_PYTHON), str(script), sql, "--database", "labdb", "--s3-output", s3_output]
    done = subprocess.run(
        [*args, "--approach", approach], capture_output=True, text=True, timeout=120, env=os.environ.copy()
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("approach", ["ctas", "unload", "csv"])
def test_awswrangler_read_sql_query_returns_the_rows(athena, glue, flights, approach):
    frame = awswrangler_read(BY_CARRIER, f"s3://{RESULTS}/wrangler-{approach}/", approach)
    assert frame["columns"] == ["carrier", "n", "miles"]
    assert frame["rows"] == BY_CARRIER_ROWS
    # CTAS makes a temporary table and drops it once read, as on AWS.
    assert [t["Name"] for t in glue.get_tables(DatabaseName="labdb")["TableList"]] == ["flights"]

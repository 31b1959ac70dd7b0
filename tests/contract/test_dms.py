"""DMS against local AWS with boto3: a task full-loads a MySQL database into S3 and captures its changes."""

from __future__ import annotations

import csv
import io
import json
import random
import time
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pymysql
import pytest
from botocore.exceptions import ClientError

from tests.contract.test_rds import PASSWORD, binlog_parameter_group, create_mysql, wait_available
from tests.lambda_support import wait_for

BUCKET = "cdc-target"
MAPPINGS = json.dumps({"rules": [{
    "rule-type": "selection", "rule-id": "1", "rule-name": "movielens",
    "object-locator": {"schema-name": "movielens", "table-name": "%"}, "rule-action": "include",
}]})  # fmt: skip
TRUST_DMS = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "dms.amazonaws.com"}, "Action": "sts:AssumeRole"}]})  # fmt: skip


RATINGS = {"SchemaName": "movielens", "TableName": "ratings"}


def mappings(table: str = "%", rename: str | None = None) -> str:
    rules = [{"rule-type": "selection", "rule-id": "1", "rule-name": "movielens",
              "object-locator": {"schema-name": "movielens", "table-name": table}, "rule-action": "include"}]  # fmt: skip
    if rename:
        rules.append({"rule-type": "transformation", "rule-id": "2", "rule-name": "rename", "rule-target": "table",
                      "object-locator": {"schema-name": "movielens", "table-name": "ratings"},
                      "rule-action": "rename", "value": rename})  # fmt: skip
    return json.dumps({"rules": rules})


@pytest.fixture
def source(aws_client, request):
    """An RDS MySQL instance with binary logging in ROW format, a ratings table and three rows (indirect
    parametrization: more parameters of its parameter group)."""
    rds = aws_client("rds")
    parameters = getattr(request, "param", {})
    create_mysql(rds, DBParameterGroupName=binlog_parameter_group(rds, **parameters), BackupRetentionPeriod=1)
    endpoint = wait_available(rds, "source")["Endpoint"]
    connection = pymysql.connect(host=endpoint["Address"], port=endpoint["Port"], user="admin", password=PASSWORD,
                                 database="movielens", autocommit=True)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE ratings (user_id INT, movie_id INT, rating DECIMAL(2,1), "
                       "PRIMARY KEY (user_id, movie_id))")  # fmt: skip
        cursor.execute("INSERT INTO ratings VALUES (1, 31, 2.5), (1, 1029, 3.0), (2, 10, 4.0)")
    yield endpoint, connection
    connection.close()
    rds.delete_db_instance(DBInstanceIdentifier="source", SkipFinalSnapshot=True)


def dms_role(
    iam, name: str = "dms-s3", actions: tuple[str, ...] = ("s3:PutObject", "s3:DeleteObject", "s3:ListBucket")
):
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_DMS)
    iam.put_role_policy(RoleName=name, PolicyName="target", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}
    ]}))  # fmt: skip
    return iam.get_role(RoleName=name)["Role"]["Arn"]


@pytest.fixture
def dms(aws_client, source):
    """A replication instance and the source and S3 target endpoints."""
    endpoint, _ = source
    client = aws_client("dms")
    aws_client("s3").create_bucket(Bucket=BUCKET)
    role = dms_role(aws_client("iam"))
    instance = client.create_replication_instance(ReplicationInstanceIdentifier="ri",
                                                  ReplicationInstanceClass="dms.t3.micro")["ReplicationInstance"]  # fmt: skip
    source_arn = client.create_endpoint(
        EndpointIdentifier="mysql", EndpointType="source", EngineName="mysql", ServerName=endpoint["Address"],
        Port=endpoint["Port"], Username="admin", Password=PASSWORD,
    )["Endpoint"]["EndpointArn"]  # fmt: skip
    target_arn = client.create_endpoint(
        EndpointIdentifier="s3", EndpointType="target", EngineName="s3",
        S3Settings={"BucketName": BUCKET, "BucketFolder": "dms", "ServiceAccessRoleArn": role,
                    "CdcMaxBatchInterval": 1, "CdcMinFileSize": 32000, "TimestampColumnName": "commit_ts"},
    )["Endpoint"]["EndpointArn"]  # fmt: skip
    return client, instance["ReplicationInstanceArn"], source_arn, target_arn


def wait_task(client, waiter: str, arn: str) -> None:
    """boto3's DMS waiter (the provider's DmsHook uses them), polling every 0.2 s."""
    client.get_waiter(waiter).wait(Filters=[{"Name": "replication-task-arn", "Values": [arn]}],
                                   WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})  # fmt: skip


def task_status(client, arn: str) -> dict:
    return client.describe_replication_tasks(Filters=[{"Name": "replication-task-arn", "Values": [arn]}])[
        "ReplicationTasks"
    ][0]


def create_task(client, instance: str, source: str, target: str, migration_type: str = "full-load-and-cdc",
                identifier: str = "cdc", **extra) -> str:  # fmt: skip
    created = client.create_replication_task(
        ReplicationTaskIdentifier=identifier, SourceEndpointArn=source, TargetEndpointArn=target,
        ReplicationInstanceArn=instance, MigrationType=migration_type, TableMappings=extra.pop("TableMappings", MAPPINGS),
        **extra,
    )["ReplicationTask"]  # fmt: skip
    assert created["Status"] == "creating"
    wait_task(client, "replication_task_ready", created["ReplicationTaskArn"])
    return created["ReplicationTaskArn"]


def objects(s3, prefix: str = "dms/movielens/ratings/") -> dict[str, list[list[str]]]:
    found = {}
    for listed in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
        try:
            body = s3.get_object(Bucket=BUCKET, Key=listed["Key"])["Body"].read().decode()
        except s3.exceptions.NoSuchKey:  # deleted since listed: a load's TargetTablePrepMode
            continue
        found[listed["Key"].rsplit("/", 1)[-1]] = list(csv.reader(io.StringIO(body)))
    return found


def cdc_rows(s3, prefix: str = "dms/movielens/ratings/") -> list[list[str]]:
    """The rows of the CDC files under prefix, file after file (the names are times)."""
    return [row for name, rows in sorted(objects(s3, prefix).items()) if not name.startswith("LOAD") for row in rows]


def s3_target(client, identifier: str, folder: str, **settings) -> str:
    """Another S3 target endpoint on the bucket, as the fixture's role, under its own folder."""
    role = next(e for e in client.describe_endpoints()["Endpoints"] if e["EndpointIdentifier"] == "s3")
    return client.create_endpoint(
        EndpointIdentifier=identifier, EndpointType="target", EngineName="s3",
        S3Settings={"BucketName": BUCKET, "BucketFolder": folder, "CdcMaxBatchInterval": 1,
                    "ServiceAccessRoleArn": role["S3Settings"]["ServiceAccessRoleArn"], **settings},
    )["Endpoint"]["EndpointArn"]  # fmt: skip


def table_statistics(client, arn: str) -> dict:
    return client.describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"][0]


def stop(client, arn: str) -> None:
    client.stop_replication_task(ReplicationTaskArn=arn)
    wait_task(client, "replication_task_stopped", arn)


def test_test_connection_really_connects(dms, aws_client, source):
    client, instance, source_arn, target_arn = dms
    endpoint, _ = source
    wrong = client.create_endpoint(
        EndpointIdentifier="wrong", EndpointType="source", EngineName="mysql", ServerName=endpoint["Address"],
        Port=endpoint["Port"], Username="admin", Password="not-the-password",
    )["Endpoint"]["EndpointArn"]  # fmt: skip
    for arn in (source_arn, target_arn, wrong):
        assert (
            client.test_connection(ReplicationInstanceArn=instance, EndpointArn=arn)["Connection"]["Status"]
            == "testing"
        )
    connections = {c["EndpointIdentifier"]: c for c in client.describe_connections()["Connections"]}
    assert connections["mysql"]["Status"] == "successful" and connections["s3"]["Status"] == "successful"
    assert connections["wrong"]["Status"] == "failed"
    assert "Access denied for user 'admin'" in connections["wrong"]["LastFailureMessage"]
    both = [{"Name": "endpoint-arn", "Values": [wrong]}, {"Name": "replication-instance-arn", "Values": [instance]}]
    assert [c["EndpointIdentifier"] for c in client.describe_connections(Filters=both)["Connections"]] == ["wrong"]


def test_full_load_then_cdc_writes_dms_files_and_counts_the_changes(dms, aws_client, source):
    client, instance, source_arn, target_arn = dms
    _, connection = source
    s3 = aws_client("s3")
    arn = create_task(client, instance, source_arn, target_arn)
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    wait_task(client, "replication_task_running", arn)
    loaded = wait_for(lambda: objects(s3).get("LOAD00000001.csv"))
    assert sorted(row[1:4] for row in loaded) == [["1", "1029", "3.0"], ["1", "31", "2.5"], ["2", "10", "4.0"]]

    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ratings VALUES (3, 50, 5.0)")
        cursor.execute("UPDATE ratings SET rating = 3.5 WHERE user_id = 1 AND movie_id = 31")
        cursor.execute("DELETE FROM ratings WHERE user_id = 2")
    changes = wait_for(lambda: len(cdc := [row for name, rows in sorted(objects(s3).items())
                                           if not name.startswith("LOAD") for row in rows]) == 3 and cdc)  # fmt: skip
    assert [(row[0], row[2:5]) for row in changes] == [("I", ["3", "50", "5.0"]), ("U", ["1", "31", "3.5"]),
                                                       ("D", ["2", "10", "4.0"])]  # fmt: skip

    statistics = client.describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"]
    assert [(s["TableName"], s["FullLoadRows"], s["Inserts"], s["Updates"], s["Deletes"], s["TableState"])
            for s in statistics] == [("ratings", 3, 1, 1, 1, "Table completed")]  # fmt: skip

    assert client.stop_replication_task(ReplicationTaskArn=arn)["ReplicationTask"]["Status"] == "stopping"
    wait_task(client, "replication_task_stopped", arn)
    stopped = task_status(client, arn)
    assert stopped["RecoveryCheckpoint"].startswith("checkpoint:V1#mysql-bin-changelog.")

    # Changes made while the task is stopped arrive when it resumes from its checkpoint.
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ratings VALUES (4, 60, 1.0)")
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
    resumed = wait_for(lambda: any(row[0] == "I" and row[2:4] == ["4", "60"]
                                   for name, rows in objects(s3).items() if not name.startswith("LOAD")
                                   for row in rows))  # fmt: skip
    assert resumed
    client.stop_replication_task(ReplicationTaskArn=arn)
    wait_task(client, "replication_task_stopped", arn)
    assert len([k for k in objects(s3) if k.startswith("LOAD")]) == 1  # resuming does not load again
    # Nothing before the checkpoint is written again; the figures go on from the last run's.
    assert [(row[0], row[2:4]) for row in cdc_rows(s3)] == [("I", ["3", "50"]), ("U", ["1", "31"]),
                                                            ("D", ["2", "10"]), ("I", ["4", "60"])]  # fmt: skip
    assert (table_statistics(client, arn)["Inserts"], table_statistics(client, arn)["FullLoadRows"]) == (2, 3)


def test_modify_endpoint_merges_settings_and_the_next_task_start_uses_them(dms, aws_client, source):
    client, instance, source_arn, target_arn = dms

    def described(identifier: str) -> dict:
        return next(e for e in client.describe_endpoints()["Endpoints"] if e["EndpointIdentifier"] == identifier)

    role = described("s3")["S3Settings"]["ServiceAccessRoleArn"]
    moved = client.modify_endpoint(EndpointArn=target_arn, EndpointType="target",
                                   S3Settings={"BucketFolder": "moved"})["Endpoint"]  # fmt: skip
    assert (moved["EndpointArn"], moved["Status"]) == (target_arn, "active")
    assert moved["S3Settings"] == {"BucketName": BUCKET, "BucketFolder": "moved", "ServiceAccessRoleArn": role,
                                   "CdcMaxBatchInterval": 1, "CdcMinFileSize": 32000,
                                   "TimestampColumnName": "commit_ts"}  # fmt: skip
    arn = create_task(client, instance, source_arn, target_arn, migration_type="full-load")
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    wait_task(client, "replication_task_stopped", arn)
    s3 = aws_client("s3")
    assert len(objects(s3, "moved/movielens/ratings/")["LOAD00000001.csv"]) == 3
    assert not objects(s3)

    exact = client.modify_endpoint(EndpointArn=target_arn, ExactSettings=True,
                                   S3Settings={"BucketName": BUCKET, "ServiceAccessRoleArn": role})["Endpoint"]  # fmt: skip
    assert exact["S3Settings"] == {"BucketName": BUCKET, "ServiceAccessRoleArn": role}
    with pytest.raises(ClientError) as refused:
        client.modify_endpoint(EndpointArn=target_arn, S3Settings={"DataFormat": "xml"})
    assert refused.value.response["Error"] == {
        "Code": "InvalidParameterValueException", "Message": "Invalid S3Settings: Invalid DataFormat 'xml'; valid values: csv, parquet"}  # fmt: skip
    for refused_change, code in (
        ({"EndpointIdentifier": "mysql", "S3Settings": {"BucketFolder": "x"}}, "ResourceAlreadyExistsFault"),
        ({"EndpointIdentifier": "", "S3Settings": {"BucketFolder": "x"}}, "InvalidParameterValueException"),
        ({"EndpointIdentifier": "s3--2"}, "InvalidParameterValueException"),
        ({"EndpointType": "sideways", "S3Settings": {"BucketFolder": "x"}}, "InvalidParameterValueException"),
    ):
        with pytest.raises(ClientError, match=code):
            client.modify_endpoint(EndpointArn=target_arn, **refused_change)
    assert described("s3")["S3Settings"] == exact["S3Settings"]  # refused: nothing changed
    with pytest.raises(ClientError, match="ResourceNotFoundFault"):
        client.modify_endpoint(EndpointArn=target_arn.replace(":endpoint:", ":endpoint:X"), Port=1)

    # Refused while a task using the endpoint runs (stop it first).
    running = create_task(client, instance, source_arn, target_arn, identifier="running")
    client.start_replication_task(ReplicationTaskArn=running, StartReplicationTaskType="start-replication")
    wait_task(client, "replication_task_running", running)
    with pytest.raises(ClientError) as refused:
        client.modify_endpoint(EndpointArn=target_arn, S3Settings={"BucketFolder": "elsewhere"})
    assert refused.value.response["Error"] == {"Code": "InvalidResourceStateFault", "Message": (
        "Endpoint s3 cannot be modified while replication task running using it is running; stop it first")}  # fmt: skip
    stop(client, running)
    client.delete_replication_task(ReplicationTaskArn=running)

    # A source's new password is what the next connection test uses; renamed, it keeps its ARN.
    def tested() -> dict:
        client.test_connection(ReplicationInstanceArn=instance, EndpointArn=source_arn)
        return client.describe_connections(Filters=[{"Name": "endpoint-arn", "Values": [source_arn]}])["Connections"][0]

    client.modify_endpoint(EndpointArn=source_arn, Password="not-the-password")
    assert "Access denied for user 'admin'" in tested()["LastFailureMessage"]
    renamed = client.modify_endpoint(EndpointArn=source_arn, EndpointIdentifier="ratings-db", Password=PASSWORD)
    assert (renamed["Endpoint"]["EndpointIdentifier"], renamed["Endpoint"]["EndpointArn"]) == ("ratings-db", source_arn)
    assert tested()["Status"] == "successful"
    assert sorted(e["EndpointIdentifier"] for e in client.describe_endpoints()["Endpoints"]) == ["ratings-db", "s3"]
    assert tested()["EndpointIdentifier"] == "ratings-db"
    client.create_endpoint(EndpointIdentifier="mysql", EndpointType="source", EngineName="mysql")  # the old name is free
    client.delete_endpoint(EndpointArn=source_arn)  # found under its new name
    assert sorted(e["EndpointIdentifier"] for e in client.describe_endpoints()["Endpoints"]) == ["mysql", "s3"]


def test_labkits_endpoint_operator_creates_then_changes_only_what_differs(dms, capsys):
    from labkit.operators.dms import DmsCreateEndpointOperator

    client, _, _, target_arn = dms
    role = client.describe_endpoints(Filters=[{"Name": "endpoint-arn", "Values": [target_arn]}])["Endpoints"][0]
    settings = {"BucketName": BUCKET, "BucketFolder": "lake", "ServiceAccessRoleArn": role["S3Settings"]["ServiceAccessRoleArn"]}

    def run(**s3_settings) -> str:
        kwargs = {"EngineName": "s3", "S3Settings": {**settings, **s3_settings}}
        return DmsCreateEndpointOperator(task_id="t", identifier="lake", endpoint_type="target",
                                         endpoint_kwargs=kwargs).execute({})  # fmt: skip

    arn = run()
    assert "Created target endpoint" in capsys.readouterr().out  # the task's log
    assert run() == arn and "exists with these settings" in capsys.readouterr().out  # a rerun changes nothing
    assert run(CdcMaxBatchInterval=30) == arn and "brought up to date" in capsys.readouterr().out

    def described() -> dict:
        return client.describe_endpoints(Filters=[{"Name": "endpoint-id", "Values": ["lake"]}])["Endpoints"][0]

    assert (described()["EndpointArn"], described()["S3Settings"]) == (arn, {**settings, "CdcMaxBatchInterval": 30})
    # A change makes the settings exactly the operator's (ExactSettings), not a merge with the old ones.
    assert run(BucketFolder="lake2") == arn and "brought up to date" in capsys.readouterr().out
    assert described()["S3Settings"] == {**settings, "BucketFolder": "lake2"}


def test_a_full_load_task_stops_by_itself(dms, aws_client):
    client, instance, source_arn, target_arn = dms
    arn = create_task(client, instance, source_arn, target_arn, migration_type="full-load")
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    wait_task(client, "replication_task_stopped", arn)
    task = task_status(client, arn)
    assert task["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    assert task["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100
    assert len(objects(aws_client("s3"))["LOAD00000001.csv"]) == 3


def test_a_source_without_row_binlog_fails_the_cdc_task_with_the_reason(dms, aws_client):
    client, instance, _, target_arn = dms
    rds = aws_client("rds")
    create_mysql(rds, "mixed", BackupRetentionPeriod=1)  # no parameter group: MariaDB's MIXED binlog format
    endpoint = wait_available(rds, "mixed")["Endpoint"]
    source_arn = client.create_endpoint(
        EndpointIdentifier="mixed", EndpointType="source", EngineName="mysql", ServerName=endpoint["Address"],
        Port=endpoint["Port"], Username="admin", Password=PASSWORD,
    )["Endpoint"]["EndpointArn"]  # fmt: skip
    arn = create_task(client, instance, source_arn, target_arn)
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    failed = wait_for(lambda: (task := task_status(client, arn))["Status"] == "failed" and task)
    assert "binlog_format is MIXED" in failed["LastFailureMessage"]
    rds.delete_db_instance(DBInstanceIdentifier="mixed", SkipFinalSnapshot=True)


def test_a_role_that_cannot_write_fails_the_task_with_the_reason(dms, aws_client):
    client, instance, source_arn, _ = dms
    reader = dms_role(aws_client("iam"), "dms-read-only", actions=("s3:ListBucket",))
    target = client.create_endpoint(EndpointIdentifier="s3-ro", EndpointType="target", EngineName="s3",
                                    S3Settings={"BucketName": BUCKET, "ServiceAccessRoleArn": reader})  # fmt: skip
    arn = create_task(client, instance, source_arn, target["Endpoint"]["EndpointArn"], migration_type="full-load")
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    failed = wait_for(lambda: (task := task_status(client, arn))["Status"] == "failed" and task)
    assert "AccessDenied" in failed["LastFailureMessage"]


def test_invalid_table_mappings_are_refused(dms):
    client, instance, source_arn, target_arn = dms
    with pytest.raises(ClientError, match="Invalid table mappings"):
        client.create_replication_task(
            ReplicationTaskIdentifier="bad", SourceEndpointArn=source_arn, TargetEndpointArn=target_arn,
            ReplicationInstanceArn=instance, MigrationType="full-load", TableMappings="{not json",
        )  # fmt: skip


def test_a_reader_crashing_at_random_points_loses_no_committed_change(dms, aws_client, source, monkeypatch):
    from pymysqlreplication import BinLogStreamReader

    client, instance, source_arn, target_arn = dms
    endpoint, connection = source
    s3 = aws_client("s3")
    # The binlog reader loses its connection at random events (seeded): mid-transaction, between transactions,
    # while a batch waits to be written. Each time the task reads again from its checkpoint.
    randomness, crashes = random.Random(7), []
    fetch = BinLogStreamReader.fetchone

    def crashing_fetchone(self):
        event = fetch(self)
        if event is not None and len(crashes) < 6 and randomness.random() < 0.02:
            crashes.append(self.log_pos)
            raise pymysql.err.OperationalError(2013, "Lost connection to server during query")
        return event

    monkeypatch.setattr(BinLogStreamReader, "fetchone", crashing_fetchone)
    arn = create_task(client, instance, source_arn, target_arn)
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    wait_task(client, "replication_task_running", arn)
    wait_for(lambda: objects(s3).get("LOAD00000001.csv"))  # from here on every change is captured, not loaded
    with connection.cursor() as cursor:
        for user in range(100, 300):
            cursor.execute("INSERT INTO ratings VALUES (%s, 1, 1.0)", (user,))
            if user % 3 == 0:
                cursor.execute("UPDATE ratings SET rating = 2.0 WHERE user_id = %s", (user,))

    def captured() -> set[tuple[str, str]]:
        return {(row[0], row[2]) for name, rows in objects(s3).items() if not name.startswith("LOAD") for row in rows}

    expected = {("I", str(user)) for user in range(100, 300)} | {("U", str(u)) for u in range(100, 300) if u % 3 == 0}
    wait_for(lambda: expected <= captured(), limit=60)
    assert len(crashes) >= 3  # the reader did crash, several times, and came back each time
    assert task_status(client, arn)["Status"] == "running"
    client.stop_replication_task(ReplicationTaskArn=arn)
    wait_task(client, "replication_task_stopped", arn)


def test_reload_tables_loads_a_table_again_while_cdc_goes_on(dms, aws_client, source):
    client, instance, source_arn, target_arn = dms
    _, connection = source
    s3 = aws_client("s3")
    arn = create_task(client, instance, source_arn, target_arn)
    with pytest.raises(ClientError, match="InvalidResourceStateFault"):  # only a running task reloads
        client.reload_tables(ReplicationTaskArn=arn, TablesToReload=[RATINGS])
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    wait_for(lambda: objects(s3).get("LOAD00000001.csv"))
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ratings VALUES (3, 50, 5.0)")
    wait_for(lambda: cdc_rows(s3))

    with pytest.raises(ClientError, match="local DMS does not implement data validation"):
        client.reload_tables(ReplicationTaskArn=arn, TablesToReload=[RATINGS], ReloadOption="validate-only")
    with pytest.raises(ClientError, match="does not migrate movielens.nope"):
        client.reload_tables(ReplicationTaskArn=arn, TablesToReload=[{"SchemaName": "movielens", "TableName": "nope"}])
    answer = client.reload_tables(ReplicationTaskArn=arn, TablesToReload=[RATINGS], ReloadOption="data-reload")
    assert answer["ReplicationTaskArn"] == arn
    reloaded = wait_for(lambda: (t := table_statistics(client, arn))["FullLoadReloaded"]
                        and t["TableState"] == "Table completed" and t)  # fmt: skip
    assert (reloaded["FullLoadRows"], reloaded["Inserts"]) == (4, 1)
    # TargetTablePrepMode DROP_AND_CREATE (the default): the table's objects go, LOAD00000001 again.
    assert list(objects(s3)) == ["LOAD00000001.csv"]
    assert sorted(row[1:3] for row in objects(s3)["LOAD00000001.csv"]) == [["1", "1029"], ["1", "31"], ["2", "10"],
                                                                          ["3", "50"]]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ratings VALUES (5, 70, 2.0)")
    assert [(row[0], row[2:4]) for row in wait_for(lambda: cdc_rows(s3))] == [("I", ["5", "70"])]
    assert task_status(client, arn)["Status"] == "running"
    stop(client, arn)


def test_modify_replication_task_changes_what_the_next_start_does(dms, aws_client, source):
    client, instance, source_arn, target_arn = dms
    _, connection = source
    s3 = aws_client("s3")
    arn = create_task(client, instance, source_arn, target_arn)
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    wait_for(lambda: objects(s3).get("LOAD00000001.csv"))
    with pytest.raises(ClientError) as refused:
        client.modify_replication_task(ReplicationTaskArn=arn, MigrationType="cdc")
    assert refused.value.response["Error"] == {
        "Code": "InvalidResourceStateFault",
        "Message": "Replication Task, excluding logging severity task settings, cannot be modified while it is "
                   "running state",
    }  # fmt: skip
    stop(client, arn)
    checkpoint = task_status(client, arn)["RecoveryCheckpoint"]
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ratings VALUES (7, 70, 3.5)")  # while stopped: after the checkpoint

    settings = json.dumps({"FullLoadSettings": {"TargetTablePrepMode": "DO_NOTHING"}})
    modified = client.modify_replication_task(
        ReplicationTaskArn=arn, MigrationType="cdc", TableMappings=mappings(rename="scores"),
        ReplicationTaskSettings=settings, CdcStartPosition=checkpoint,
    )["ReplicationTask"]  # fmt: skip
    assert modified["Status"] == "modifying"
    described = task_status(client, arn)
    assert (described["Status"], described["MigrationType"], described["CdcStartPosition"]) == (
        "stopped", "cdc", checkpoint)  # fmt: skip
    assert (described["TableMappings"], described["ReplicationTaskSettings"]) == (mappings(rename="scores"), settings)
    with pytest.raises(ClientError, match="InvalidParameterCombinationException"):
        client.modify_replication_task(
            ReplicationTaskArn=arn, CdcStartPosition=checkpoint, CdcStartTime=datetime.now(UTC)
        )

    # A cdc task starts with start-replication from its CdcStartPosition (DMS's checkpoint format here).
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    captured = wait_for(lambda: cdc_rows(s3, "dms/movielens/scores/"))
    assert [(row[0], row[2:5]) for row in captured] == [("I", ["7", "70", "3.5"])]
    assert not [k for k in objects(s3, "dms/movielens/scores/") if k.startswith("LOAD")]  # cdc: no full load
    stop(client, arn)


def test_start_types_reload_target_and_a_cdc_task_from_a_position_or_a_time(dms, aws_client, source):
    client, instance, source_arn, target_arn = dms
    _, connection = source
    s3 = aws_client("s3")
    arn = create_task(client, instance, source_arn, target_arn)
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    wait_for(lambda: objects(s3).get("LOAD00000001.csv"))
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ratings VALUES (3, 50, 5.0)")
    wait_for(lambda: cdc_rows(s3))
    stop(client, arn)
    with pytest.raises(ClientError, match="START_REPLICATION, valid only for tasks running for the first time"):
        client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")

    # reload-target: everything is loaded again (the table's objects dropped first), then CDC.
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ratings VALUES (4, 60, 1.0)")
        cursor.execute("INSERT INTO ratings VALUES (8, 1, 1.0)")
        cursor.execute("SHOW MASTER STATUS")
        file, position = cursor.fetchone()[:2]
        cursor.execute("INSERT INTO ratings VALUES (9, 1, 1.0)")
    client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="reload-target")
    loaded = wait_for(lambda: (rows := objects(s3).get("LOAD00000001.csv")) and len(rows) == 7 and rows)
    assert {row[1] for row in loaded} == {"1", "2", "3", "4", "8", "9"} and not cdc_rows(s3)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ratings VALUES (5, 70, 2.0)")
    last_commit = time.time()
    assert [row[2:4] for row in wait_for(lambda: cdc_rows(s3))] == [["5", "70"]]
    assert table_statistics(client, arn)["FullLoadRows"] == 7
    stop(client, arn)

    # A cdc task from a binlog position (the LSN format) gets only what was committed after it.
    by_position = create_task(client, instance, source_arn, s3_target(client, "s3-position", "by-position"),
                              migration_type="cdc", identifier="by-position")  # fmt: skip
    client.start_replication_task(ReplicationTaskArn=by_position, StartReplicationTaskType="start-replication",
                                  CdcStartPosition=f"{file}:{position}")  # fmt: skip
    assert task_status(client, by_position)["CdcStartPosition"] == f"{file}:{position}"
    from_position = wait_for(lambda: len(rows := cdc_rows(s3, "by-position/movielens/ratings/")) >= 2 and rows)
    assert [row[1:3] for row in from_position] == [["9", "1"], ["5", "70"]]  # no timestamp column on this endpoint

    # ... and from a time (CreateReplicationTask's CdcStartTime; the binlog's times are whole seconds).
    time.sleep(max(0.0, int(last_commit) + 1.05 - time.time()))
    since = datetime.fromtimestamp(int(time.time()), UTC)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ratings VALUES (10, 1, 1.0)")
    by_time = create_task(client, instance, source_arn, s3_target(client, "s3-time", "by-time"),
                          migration_type="cdc", identifier="by-time", CdcStartTime=since)  # fmt: skip
    client.start_replication_task(ReplicationTaskArn=by_time, StartReplicationTaskType="start-replication")
    from_time = wait_for(lambda: cdc_rows(s3, "by-time/movielens/ratings/"))
    assert [row[1:3] for row in from_time] == [["10", "1"]]
    for task in (by_position, by_time):
        stop(client, task)


def test_a_wrong_password_or_no_table_fails_the_task_with_the_reason(dms, aws_client, source):
    client, instance, _, target_arn = dms
    endpoint, _ = source
    wrong = client.create_endpoint(
        EndpointIdentifier="wrong", EndpointType="source", EngineName="mysql", ServerName=endpoint["Address"],
        Port=endpoint["Port"], Username="admin", Password="not-the-password",
    )["Endpoint"]["EndpointArn"]  # fmt: skip
    denied = create_task(client, instance, wrong, target_arn, identifier="denied")
    client.start_replication_task(ReplicationTaskArn=denied, StartReplicationTaskType="start-replication")
    failed = wait_for(lambda: (task := task_status(client, denied))["Status"] == "failed" and task)
    assert "[MySQL error 1045] Access denied for user 'admin'" in failed["LastFailureMessage"]

    right = next(
        e["EndpointArn"] for e in client.describe_endpoints()["Endpoints"] if e["EndpointIdentifier"] == "mysql"
    )
    nothing = create_task(client, instance, right, target_arn, identifier="nothing", TableMappings=mappings("nope%"))
    client.start_replication_task(ReplicationTaskArn=nothing, StartReplicationTaskType="start-replication")
    failed = wait_for(lambda: (task := task_status(client, nothing))["Status"] == "failed" and task)
    assert failed["LastFailureMessage"].startswith("No tables were found at task initialization.")


@pytest.mark.parametrize(
    "source", [{"binlog_row_metadata": "FULL"}, {}], indirect=True, ids=["row-metadata-full", "row-metadata-off"]
)
def test_a_column_added_during_cdc_is_in_later_csv_and_parquet_files(dms, aws_client, source, request):
    client, instance, source_arn, _ = dms
    _, connection = source
    s3 = aws_client("s3")
    with connection.cursor() as cursor:  # FULL: the binlog names the columns; else (MariaDB's NO_LOG) by position
        cursor.execute("SELECT @@binlog_row_metadata")
        assert cursor.fetchone()[0] == request.node.callspec.params["source"].get("binlog_row_metadata", "NO_LOG")
    tasks = {
        data_format: create_task(client, instance, source_arn,
                                 s3_target(client, f"s3-{data_format}", data_format, DataFormat=data_format,
                                           AddColumnName=True), identifier=data_format)
        for data_format in ("csv", "parquet")
    }  # fmt: skip
    for arn in tasks.values():
        client.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
    for arn in tasks.values():
        wait_for(lambda arn=arn: [t["TableState"] for t in client.describe_table_statistics(
            ReplicationTaskArn=arn)["TableStatistics"]] == ["Table completed"])  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO ratings VALUES (3, 50, 5.0)")
        cursor.execute("ALTER TABLE ratings ADD COLUMN note VARCHAR(20)")
        cursor.execute("BEGIN")  # one transaction: one CDC file
        cursor.execute("INSERT INTO ratings VALUES (4, 60, 1.0, 'seen twice')")
        cursor.execute("UPDATE ratings SET rating = 3.5 WHERE user_id = 1 AND movie_id = 31")
        cursor.execute("COMMIT")

    def csv_files() -> list[list[list[str]]]:
        return [rows for name, rows in sorted(objects(s3, "csv/movielens/ratings/").items())
                if not name.startswith("LOAD")]  # fmt: skip

    files = wait_for(lambda: sum(len(rows) - 1 for rows in csv_files()) == 3 and csv_files())
    assert files == [
        [["Op", "user_id", "movie_id", "rating"], ["I", "3", "50", "5.0"]],
        [["Op", "user_id", "movie_id", "rating", "note"], ["I", "4", "60", "1.0", "seen twice"],
         ["U", "1", "31", "3.5", ""]],
    ]  # fmt: skip

    def parquet_files() -> list[list[dict]]:
        listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="parquet/movielens/ratings/").get("Contents", [])
        return [pq.read_table(io.BytesIO(s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())).to_pylist()
                for o in sorted(listing, key=lambda o: o["Key"]) if "/LOAD" not in o["Key"]]  # fmt: skip

    tables = wait_for(lambda: sum(map(len, parquet_files())) == 3 and parquet_files())
    assert [[(row["Op"], row["user_id"], row.get("note", "-")) for row in rows] for rows in tables] == [
        [("I", 3, "-")], [("I", 4, "seen twice"), ("U", 1, None)]]  # fmt: skip
    assert [table_statistics(client, arn)["Ddls"] for arn in tasks.values()] == [1, 1]
    for arn in tasks.values():
        stop(client, arn)


def test_describing_by_a_filter_that_matches_nothing_is_not_found_so_delete_waiters_end(dms):
    client, instance, _, _ = dms
    for describe, name in (
        (client.describe_replication_tasks, "replication-task-id"),
        (client.describe_endpoints, "endpoint-id"),
        (client.describe_replication_instances, "replication-instance-id"),
    ):
        with pytest.raises(client.exceptions.ResourceNotFoundFault, match="found matching provided filters"):
            describe(Filters=[{"Name": name, "Values": ["nothing-by-this-name"]}])
    client.delete_replication_instance(ReplicationInstanceArn=instance)
    client.get_waiter("replication_instance_deleted").wait(
        Filters=[{"Name": "replication-instance-arn", "Values": [instance]}], WaiterConfig={"Delay": 0.2, "MaxAttempts": 10}
    )


def test_the_providers_task_operators_and_sensor_work_unchanged(dms, aws_client):
    from airflow.providers.amazon.aws.operators.dms import (
        DmsCreateTaskOperator,
        DmsDeleteTaskOperator,
        DmsDescribeTasksOperator,
        DmsStartTaskOperator,
        DmsStopTaskOperator,
    )
    from airflow.providers.amazon.aws.sensors.dms import DmsTaskCompletedSensor

    client, instance, source_arn, target_arn = dms
    endpoints = {"source_endpoint_arn": source_arn, "target_endpoint_arn": target_arn, "replication_instance_arn": instance}
    rules = json.loads(MAPPINGS)
    load = DmsCreateTaskOperator(task_id="c", replication_task_id="load", table_mappings=rules, **endpoints).execute({})
    DmsStartTaskOperator(task_id="s", replication_task_arn=load).execute({})
    sensor = DmsTaskCompletedSensor(task_id="w", replication_task_arn=load, poke_interval=0.2, timeout=60)
    deadline = time.monotonic() + 60
    while not sensor.poke({}):  # fails at once on a terminal status other than stopped (e.g. failed, ready)
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert len(objects(aws_client("s3"))["LOAD00000001.csv"]) == 3

    cdc = DmsCreateTaskOperator(
        task_id="c2", replication_task_id="cdc", table_mappings=rules, migration_type="full-load-and-cdc", **endpoints
    ).execute({})
    DmsStartTaskOperator(task_id="s2", replication_task_arn=cdc).execute({})
    wait_task(client, "replication_task_running", cdc)
    described = DmsDescribeTasksOperator(
        task_id="d", describe_tasks_kwargs={"Filters": [{"Name": "replication-task-arn", "Values": [cdc]}]}
    ).execute({})
    assert [(t["ReplicationTaskIdentifier"], t["Status"]) for t in described[1]] == [("cdc", "running")]
    DmsStopTaskOperator(task_id="st", replication_task_arn=cdc).execute({})
    wait_task(client, "replication_task_stopped", cdc)
    for arn in (load, cdc):
        DmsDeleteTaskOperator(task_id="del", replication_task_arn=arn).execute({})
    assert client.describe_replication_tasks()["ReplicationTasks"] == []

"""DMS against local AWS with boto3: a task full-loads a MySQL database into S3 and captures its changes."""

from __future__ import annotations

import csv
import io
import json
import random

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


@pytest.fixture
def source(aws_client):
    """An RDS MySQL instance with binary logging in ROW format, a ratings table and three rows."""
    rds = aws_client("rds")
    create_mysql(rds, DBParameterGroupName=binlog_parameter_group(rds), BackupRetentionPeriod=1)
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


def create_task(client, instance: str, source: str, target: str, migration_type: str = "full-load-and-cdc") -> str:
    created = client.create_replication_task(
        ReplicationTaskIdentifier="cdc", SourceEndpointArn=source, TargetEndpointArn=target,
        ReplicationInstanceArn=instance, MigrationType=migration_type, TableMappings=MAPPINGS,
    )["ReplicationTask"]  # fmt: skip
    assert created["Status"] == "creating"
    wait_task(client, "replication_task_ready", created["ReplicationTaskArn"])
    return created["ReplicationTaskArn"]


def objects(s3, prefix: str = "dms/movielens/ratings/") -> dict[str, list[list[str]]]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"].rsplit("/", 1)[-1]: list(csv.reader(io.StringIO(
        s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read().decode()))) for o in listing}  # fmt: skip


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

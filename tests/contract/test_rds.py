"""RDS against local AWS with boto3: a DB instance is a real server that clients connect to."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pymysql
import pytest
from botocore.exceptions import ClientError

PASSWORD = "local-only-Secret1"  # a test fixture's password, for a server that lives for one test


@pytest.fixture
def rds(aws_client):
    client = aws_client("rds")
    yield client
    for instance in client.describe_db_instances()["DBInstances"]:
        client.delete_db_instance(DBInstanceIdentifier=instance["DBInstanceIdentifier"], SkipFinalSnapshot=True)


def wait_available(rds, identifier: str) -> dict:
    rds.get_waiter("db_instance_available").wait(
        DBInstanceIdentifier=identifier, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def binlog_parameter_group(rds, name: str = "cdc-mysql", **extra: str) -> str:
    rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily="mysql8.0", Description="CDC")
    values = {"binlog_format": "ROW", "binlog_row_image": "FULL", **extra}
    rds.modify_db_parameter_group(
        DBParameterGroupName=name,
        Parameters=[{"ParameterName": k, "ParameterValue": v, "ApplyMethod": "immediate"} for k, v in values.items()],
    )
    return name


def create_mysql(rds, identifier: str = "source", **kwargs) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t3.micro",
        Engine="mysql",
        MasterUsername="admin",
        MasterUserPassword=PASSWORD,
        DBName="movielens",
        AllocatedStorage=20,
        **kwargs,
    )


def connect(endpoint: dict, password: str = PASSWORD, user: str = "admin"):
    return pymysql.connect(
        host=endpoint["Address"], port=endpoint["Port"], user=user, password=password, database="movielens",
        autocommit=True,
    )  # fmt: skip


def query(connection, sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_a_mysql_instance_is_a_server_with_the_master_user_and_the_parameter_group(rds):
    create_mysql(rds, DBParameterGroupName=binlog_parameter_group(rds), BackupRetentionPeriod=1)
    assert rds.describe_db_instances(DBInstanceIdentifier="source")["DBInstances"][0]["DBInstanceStatus"] == "creating"
    instance = wait_available(rds, "source")
    assert instance["Endpoint"]["Address"] == "127.0.0.1"
    with connect(instance["Endpoint"]) as connection:
        variables = dict(query(connection, "SHOW GLOBAL VARIABLES WHERE Variable_name IN "
                                           "('log_bin', 'binlog_format', 'binlog_row_image')"))  # fmt: skip
        assert variables == {"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL"}
        grants = " ".join(row[0] for row in query(connection, "SHOW GRANTS"))
        assert "REPLICATION SLAVE" in grants and "SUPER" not in grants
        query(connection, "CREATE TABLE ratings (user_id INT, movie_id INT, rating DECIMAL(2,1), "
                          "PRIMARY KEY (user_id, movie_id))")  # fmt: skip
        query(connection, "INSERT INTO ratings VALUES (1, 31, 2.5)")
        assert query(connection, "SELECT * FROM ratings") == [(1, 31, pytest.approx(2.5))]
        # The setup SQL DMS's guide gives for RDS runs as written.
        query(connection, "CALL mysql.rds_set_configuration('binlog retention hours', 24)")
        shown = {name: value for name, value, _ in query(connection, "CALL mysql.rds_show_configuration")}
        assert shown["binlog retention hours"] == "24"
        assert query(connection, "SELECT @@binlog_expire_logs_seconds") == [(24 * 3600,)]


def test_binary_logging_is_off_without_backups_and_the_format_is_not_row_without_a_parameter_group(rds):
    create_mysql(rds, BackupRetentionPeriod=0)
    with connect(wait_available(rds, "source")["Endpoint"]) as connection:
        assert query(connection, "SELECT @@log_bin") == [(0,)]


def test_a_wrong_password_is_refused(rds):
    create_mysql(rds)
    endpoint = wait_available(rds, "source")["Endpoint"]
    with pytest.raises(pymysql.err.OperationalError) as refused:
        connect(endpoint, password="wrong")
    assert refused.value.args[0] == 1045  # Access denied for user 'admin'


def test_a_managed_master_password_is_a_random_one_in_the_secret_rds_makes(rds, aws_client):
    rds.create_db_instance(
        DBInstanceIdentifier="managed", DBInstanceClass="db.t3.micro", Engine="mysql", MasterUsername="cdc_admin",
        ManageMasterUserPassword=True, DBName="movielens", AllocatedStorage=20,
    )  # fmt: skip
    instance = wait_available(rds, "managed")
    secret_arn = instance["MasterUserSecret"]["SecretArn"]
    credentials = json.loads(aws_client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"])
    assert credentials["username"] == "cdc_admin"
    assert len(credentials["password"]) >= 24 and credentials["password"] != "P@55w0rd!"
    with connect(instance["Endpoint"], credentials["password"], user="cdc_admin") as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT CURRENT_USER()")
            assert cursor.fetchone()[0].startswith("cdc_admin@")


def test_a_parameter_the_server_refuses_leaves_the_instance_incompatible(rds):
    create_mysql(rds, DBParameterGroupName=binlog_parameter_group(rds, "bad", no_such_setting="1"))
    for _ in range(300):  # it never becomes available: poll its status
        status = rds.describe_db_instances(DBInstanceIdentifier="source")["DBInstances"][0]["DBInstanceStatus"]
        if status != "creating":
            break
        time.sleep(0.2)
    assert status == "incompatible-parameters"
    events = rds.describe_events(SourceIdentifier="source", SourceType="db-instance")["Events"]
    assert any("could not be started" in e["Message"] and "no_such_setting" in e["Message"] for e in events)


def test_delete_stops_the_server_and_removes_its_data(rds, local_aws):
    create_mysql(rds)
    endpoint = wait_available(rds, "source")["Endpoint"]
    data_dir = local_aws.settings.work_dir / "rds" / "123456789012-us-east-1-source"
    assert (data_dir / "mysql").is_dir()
    deleted = rds.delete_db_instance(DBInstanceIdentifier="source", SkipFinalSnapshot=True)["DBInstance"]
    assert deleted["DBInstanceStatus"] == "deleting"
    with pytest.raises(ClientError, match="DBInstanceNotFound"):
        rds.describe_db_instances(DBInstanceIdentifier="source")
    assert not data_dir.exists()
    with pytest.raises(OSError), socket.create_connection((endpoint["Address"], endpoint["Port"]), timeout=2):
        pass


def test_stop_and_start_keep_the_data(rds):
    create_mysql(rds)
    endpoint = wait_available(rds, "source")["Endpoint"]
    with connect(endpoint) as connection:
        query(connection, "CREATE TABLE kept (id INT PRIMARY KEY)")
        query(connection, "INSERT INTO kept VALUES (7)")
    rds.stop_db_instance(DBInstanceIdentifier="source")
    with pytest.raises(pymysql.err.OperationalError):
        connect(endpoint)
    rds.start_db_instance(DBInstanceIdentifier="source")
    with connect(wait_available(rds, "source")["Endpoint"]) as connection:
        assert query(connection, "SELECT id FROM kept") == [(7,)]


def test_a_postgres_instance_is_a_postgresql_server(rds):
    rds.create_db_instance(DBInstanceIdentifier="pg", DBInstanceClass="db.t3.micro", Engine="postgres",
                           MasterUsername="master", MasterUserPassword=PASSWORD, DBName="analytics",
                           AllocatedStorage=20)  # fmt: skip
    endpoint = wait_available(rds, "pg")["Endpoint"]
    done = subprocess.run(
        ["psql", "-h", endpoint["Address"], "-p", str(endpoint["Port"]), "-U", "master", "-d", "analytics", "-tAc",
         "SELECT current_database(), current_user"],
        env={**os.environ, "PGPASSWORD": PASSWORD}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "analytics|master"
    wrong = subprocess.run(
        ["psql", "-h", endpoint["Address"], "-p", str(endpoint["Port"]), "-U", "master", "-d", "analytics", "-c", ""],
        env={**os.environ, "PGPASSWORD": "wrong"}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "password authentication failed" in wrong.stderr


def test_the_providers_operators_and_sensor_create_wait_for_and_delete_an_instance(rds):
    from airflow.providers.amazon.aws.operators.rds import RdsCreateDbInstanceOperator, RdsDeleteDbInstanceOperator
    from airflow.providers.amazon.aws.sensors.rds import RdsDbSensor

    created = json.loads(RdsCreateDbInstanceOperator(
        task_id="create", db_instance_identifier="source", db_instance_class="db.t3.micro", engine="mysql",
        rds_kwargs={"MasterUsername": "admin", "MasterUserPassword": PASSWORD, "DBName": "movielens",
                    "AllocatedStorage": 20},
        waiter_delay=1,
    ).execute({}))  # fmt: skip
    assert created["DBInstance"]["DBInstanceStatus"] == "creating"  # the CreateDBInstance response, before the wait
    assert RdsDbSensor(task_id="ready", db_identifier="source").poke({}) is True
    endpoint = rds.describe_db_instances(DBInstanceIdentifier="source")["DBInstances"][0]["Endpoint"]
    with connect(endpoint) as connection:
        assert query(connection, "SELECT DATABASE()") == [("movielens",)]
    RdsDeleteDbInstanceOperator(
        task_id="delete", db_instance_identifier="source", rds_kwargs={"SkipFinalSnapshot": True}, waiter_delay=1
    ).execute({})
    assert rds.describe_db_instances()["DBInstances"] == []


def test_reset_stops_every_server_and_removes_its_data(rds, local_aws):
    create_mysql(rds)
    endpoint = wait_available(rds, "source")["Endpoint"]
    local_aws.reset()
    assert not (local_aws.settings.work_dir / "rds" / "123456789012-us-east-1-source").exists()
    with pytest.raises(OSError), socket.create_connection((endpoint["Address"], endpoint["Port"]), timeout=2):
        pass

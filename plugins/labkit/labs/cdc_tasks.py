"""The CDC project DAG's task bodies that talk to AWS, through the provider's hooks (one connection).

The source database is reached at the RDS instance's endpoint with the master credentials RDS
keeps in Secrets Manager (ManageMasterUserPassword); the replication user's password is made
here, once, and lives only in its own secret, which the DMS source endpoint reads.
"""

from __future__ import annotations

import json
import secrets
import time
from contextlib import contextmanager
from typing import Any

from airflow.providers.amazon.aws.hooks.dms import DmsHook
from airflow.providers.amazon.aws.hooks.glue import GlueJobHook
from airflow.providers.amazon.aws.hooks.rds import RdsHook
from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook

from labkit.core.validation import ValidationError
from labkit.labs import cdc
from labkit.labs.athena import fetch_rows

ACTIVE_RUNS = ("STARTING", "RUNNING", "STOPPING", "WAITING")


# ---- the source database -------------------------------------------------------------------


def db_instance(identifier: str) -> dict | None:
    rds = RdsHook().conn
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    except rds.exceptions.DBInstanceNotFoundFault:
        return None


@contextmanager
def source_connection(identifier: str):
    """A pymysql connection to the instance as its master user (credentials from RDS's secret)."""
    import pymysql

    instance = db_instance(identifier)
    if instance is None:
        raise ValidationError(f"RDS instance {identifier} does not exist")
    credentials = SecretsManagerHook().get_secret_as_dict(instance["MasterUserSecret"]["SecretArn"])
    connection = pymysql.connect(
        host=instance["Endpoint"]["Address"], port=instance["Endpoint"]["Port"], user=credentials["username"],
        password=credentials["password"], charset="utf8mb4", connect_timeout=30,
    )  # fmt: skip
    try:
        yield connection
    finally:
        connection.close()


def prepare_source(identifier: str, reader_secret: str) -> dict[str, Any]:
    """Tables and seed, binlog retention, the replication user (its password in its own secret)."""
    instance = db_instance(identifier)
    with source_connection(identifier) as connection:
        rows = cdc.seed_source(connection)
        with connection.cursor() as cursor:
            for statement in cdc.sql_statements("binlog_retention"):
                cursor.execute(statement)
            secret_arn, password = _reader_secret(reader_secret, instance["Endpoint"])
            for statement in cdc.sql_statements("replication_user"):
                # bound by hand: pymysql's own binding would read the '%' of 'dms_reader'@'%' as a placeholder
                cursor.execute(statement.replace("%(password)s", connection.escape(password)))
        connection.commit()
    print(f"source tables: {rows}")
    return {"rows": rows, "reader_secret_arn": secret_arn}


def _reader_secret(name: str, endpoint: dict) -> tuple[str, str]:
    """The replication user's secret as DMS reads it (username, password, host, port): kept, or made."""
    manager = SecretsManagerHook().conn
    try:
        found = manager.get_secret_value(SecretId=name)
        value = json.loads(found["SecretString"])
        if value.get("host") != endpoint["Address"] or int(value.get("port", 0)) != endpoint["Port"]:
            value.update(host=endpoint["Address"], port=endpoint["Port"])
            manager.put_secret_value(SecretId=name, SecretString=json.dumps(value))
        return found["ARN"], value["password"]
    except manager.exceptions.ResourceNotFoundException:
        password = secrets.token_urlsafe(24)
        value = {"username": cdc.REPLICATION_USER, "password": password, "host": endpoint["Address"],
                 "port": endpoint["Port"], "engine": "mysql"}  # fmt: skip
        created = manager.create_secret(
            Name=name, SecretString=json.dumps(value), Description="CDC project: the user DMS reads MySQL as"
        )
        return created["ARN"], password


def delete_secret(name: str) -> None:
    manager = SecretsManagerHook().conn
    try:
        manager.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    except manager.exceptions.ResourceNotFoundException:
        print(f"secret {name} does not exist")


def workload(identifier: str, size: int, seed: int, seconds: float) -> dict[str, Any]:
    with source_connection(identifier) as connection:
        work = cdc.plan_workload(connection, size, seed)
        committed = cdc.run_workload(connection, work, seconds)
    print(f"workload: {committed} transactions committed; changes per table: {work.counts}")
    return {"transactions": committed, "counts": work.counts}


# ---- DMS -----------------------------------------------------------------------------------


def replication_task(identifier: str) -> dict | None:
    dms = DmsHook().conn
    try:
        found = dms.describe_replication_tasks(
            Filters=[{"Name": "replication-task-id", "Values": [identifier]}], WithoutSettings=True
        )["ReplicationTasks"]
    except dms.exceptions.ResourceNotFoundFault:
        return None
    return found[0] if found else None


def _running_task(identifier: str) -> dict:
    task = replication_task(identifier)
    if task is None:
        raise ValidationError(f"DMS task {identifier} does not exist")
    if task["Status"] in ("failed", "stopped") and task.get("StopReason") != "Stop Reason FULL_LOAD_ONLY_FINISHED":
        reason = task.get("LastFailureMessage") or task.get("StopReason") or "no reason given"
        raise ValidationError(f"DMS task {identifier} is {task['Status']}: {reason}")
    return task


def task_statistics(identifier: str) -> dict[str, dict[str, Any]]:
    return cdc.table_statistics(DmsHook().conn, _running_task(identifier)["ReplicationTaskArn"])


def full_load_done(identifier: str) -> bool:
    task = _running_task(identifier)
    stats = cdc.table_statistics(DmsHook().conn, task["ReplicationTaskArn"])
    loading = sorted(name for name in cdc.TABLES if stats.get(name, {}).get("TableState") != "Table completed")
    print(f"task {task['Status']}; tables not loaded yet: {loading or 'none'}")
    return task["Status"] == "running" and not loading


def cdc_caught_up(identifier: str, before: dict, counts: dict) -> bool:
    problems = cdc.check_statistics(before, task_statistics(identifier), counts)
    print("; ".join(problems) if problems else "DMS has written every change of the workload")
    return not problems


def delete_replication_task(identifier: str) -> None:
    dms = DmsHook().conn
    task = replication_task(identifier)
    if task is None:
        print(f"DMS task {identifier} does not exist")
        return
    arn = task["ReplicationTaskArn"]
    if task["Status"] in ("running", "starting"):
        dms.stop_replication_task(ReplicationTaskArn=arn)
        dms.get_waiter("replication_task_stopped").wait(
            Filters=[{"Name": "replication-task-arn", "Values": [arn]}], WaiterConfig={"Delay": 5, "MaxAttempts": 120}
        )
    dms.delete_replication_task(ReplicationTaskArn=arn)
    dms.get_waiter("replication_task_deleted").wait(
        Filters=[{"Name": "replication-task-arn", "Values": [arn]}], WaiterConfig={"Delay": 5, "MaxAttempts": 120}
    )
    print(f"deleted DMS task {arn}")


# ---- the merge -----------------------------------------------------------------------------


def merges_idle(job_name: str) -> bool:
    """No run of the merge job is going; failed runs so far are named (their files wait for the next run)."""
    runs = GlueJobHook().conn.get_job_runs(JobName=job_name, MaxResults=20)["JobRuns"]
    active = [run["Id"] for run in runs if run["JobRunState"] in ACTIVE_RUNS]
    failed = [
        f"{run['Id']}: {run.get('ErrorMessage')}"
        for run in runs
        if run["JobRunState"] in ("FAILED", "ERROR", "TIMEOUT")
    ]
    if failed:
        print(f"failed merge runs (their files are merged by a later run): {failed}")
    print(f"merge runs going: {active or 'none'}; runs so far: {len(runs)}")
    return not active


# ---- validation ----------------------------------------------------------------------------


def validate(identifier: str, task_identifier: str, source: dict, before: dict, workload: dict,
             query_ids: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """Every table's current state (Athena) equals MySQL row for row; DMS counted the workload."""
    started = time.monotonic()
    problems = cdc.check_statistics(before, task_statistics(task_identifier), workload["counts"])
    figures: dict[str, Any] = {"workload_transactions": workload["transactions"], "seed_rows": source["rows"]}
    with source_connection(identifier) as connection:
        for name, spec in cdc.TABLES.items():
            table = name.split(".")[1]
            columns = cdc.source_columns(connection, name)
            keys = [next(i for i, c in enumerate(columns) if c.name == key) for key in spec["keys"]]
            try:
                current = cdc.athena_rows(fetch_rows(query_ids[f"query_{table}"]), columns)
                compared = cdc.compare(name, cdc.source_rows(connection, name, columns), current, keys)
                figures[f"{table}_rows"] = compared["rows"]
                figures[f"{table}_checksum"] = compared["checksum"][:16]
            except ValidationError as error:
                problems.append(str(error))
    for name, counts in workload["counts"].items():
        figures[f"{name.split('.')[1]}_changes"] = counts
    if problems:
        raise ValidationError("the current state does not match the source: " + " | ".join(problems))
    figures["validation_seconds"] = round(time.monotonic() - started, 1)
    return figures

"""DMS replication tasks that move data: what of moto's DMS API is intercepted.

moto 5.2.5 records endpoints (status `creating` forever), tasks (`creating` forever; start only
flips a state) and connections (TestConnection connects nowhere, and fails when repeated).
`patches` changes it so that
- endpoints are `active`; a MySQL source's password may come from Secrets Manager
  (MySQLSettings.SecretsManagerSecretId), never from code; ModifyEndpoint (moto lacks it) changes
  them, merging settings as AWS does unless ExactSettings, refused while a task using them runs;
- TestConnection really connects (the source with its user and password, the S3 target as its
  ServiceAccessRoleArn) and DescribeConnections says `successful` or `failed` with the reason;
- CreateReplicationTask checks the table mappings and task settings and answers `creating`; the
  task is `ready` right after; StartReplicationTask (start-replication, resume-processing,
  reload-target, CdcStartPosition, CdcStartTime) runs it (replication.py): `starting` ->
  `running` -> `stopped` (a full load alone stops by itself, StopReason FULL_LOAD_ONLY_FINISHED)
  or `failed` with LastFailureMessage; StopReplicationTask -> `stopping` -> `stopped`;
  DeleteReplicationTask stops it first;
- ModifyReplicationTask (moto lacks it) changes a task that is not running; the next start uses
  it. ReloadTables (moto lacks it) loads tables of a running task again;
- DescribeReplicationTasks reports the run's ReplicationTaskStats, StopReason,
  LastFailureMessage and RecoveryCheckpoint; DescribeTableStatistics (moto lacks it) the
  tables' inserts, updates, deletes, DDLs and full-load rows;
- DescribeReplicationTasks / DescribeReplicationInstances / DescribeEndpoints with Filters that
  match nothing raise ResourceNotFoundFault "No ... found matching provided filters" as AWS does
  (moto answers an empty list), which boto3's `*_deleted` waiters wait for; DescribeConnections
  applies every filter (moto only the last).
Differences from AWS: docs/local-aws/dms.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from moto.core.exceptions import JsonRESTError
from moto.core.utils import camelcase_to_underscores
from moto.dms.models import DatabaseMigrationServiceBackend, Endpoint, FakeConnection, FakeReplicationTask
from moto.dms.responses import DatabaseMigrationServiceResponse

from local_aws import clients, workers
from local_aws.dms import s3_target, table_mappings
from local_aws.dms.replication import RunPlan, Runs, TargetError, TaskRun
from local_aws.dms.source_mysql import MySQLSource, Position, SourceError
from local_aws.dms.task_options import CdcStart, OptionError, TaskSettings, cdc_start
from local_aws.iam.trust import trusts_service
from local_aws.patching import Patches

patches = Patches(__name__)

MYSQL_ENGINES = ("mysql", "mariadb", "aurora")
START_TYPES = ("start-replication", "resume-processing", "reload-target")
MIGRATION_TYPES = ("full-load", "cdc", "full-load-and-cdc")
RELOAD_OPTIONS = ("data-reload", "validate-only")
MAX_TABLES_TO_RELOAD = 10  # "You can reload up to 10 tables from a task."
MODIFIABLE = ("ready", "stopped", "failed")


class DmsError(JsonRESTError):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


@dataclass
class LocalTask:
    """What local AWS adds to a moto FakeReplicationTask; kept on it as `.local`."""

    mappings: Any
    answer: str | None = "creating"  # what the next response says, once (the request's own answer)
    run: TaskRun | None = None
    runs: int = 0
    cdc_start_position: str | None = None  # CreateReplicationTask / ModifyReplicationTask / the last start
    cdc_start_time: datetime | None = None
    checkpoint: str | None = None  # kept across stops: resume-processing continues from it
    checkpoint_since: datetime | None = None  # a CdcStartTime the checkpoint has not moved past yet
    failure: str | None = None


# ---- endpoints -----------------------------------------------------------------------------


@patches.wrap(DatabaseMigrationServiceBackend, "create_endpoint")
def _create_endpoint(original, backend, **kwargs) -> Endpoint:
    _check_target(kwargs.get("engine_name"), kwargs.get("s3_settings"), kwargs.get("extra_connection_attributes"))
    endpoint = original(backend, **kwargs)
    endpoint.status = "active"
    return endpoint


def _check_target(engine: str | None, s3_settings: dict | None, extra_connection_attributes: str | None) -> None:
    """An S3 target's settings as the writer reads them; InvalidParameterValueException with the reason."""
    if str(engine).lower() == "s3":
        try:
            s3_target.S3TargetSettings.from_endpoint(s3_settings, extra_connection_attributes)
        except s3_target.S3SettingsError as error:
            raise DmsError("InvalidParameterValueException", f"Invalid S3Settings: {error}") from None


# ModifyEndpoint's parameters beside EndpointArn and ExactSettings; each is the Endpoint attribute of its
# name in snake case (MySQLSettings -> my_sql_settings). The *Settings ones merge unless ExactSettings.
ENDPOINT_FIELDS = (
    "EndpointIdentifier", "EndpointType", "EngineName", "Username", "Password", "ServerName", "Port",
    "DatabaseName", "ExtraConnectionAttributes", "CertificateArn", "SslMode", "ServiceAccessRoleArn",
    "ExternalTableDefinition", "ExternalId",
)  # fmt: skip
ENDPOINT_IDENTIFIER = re.compile(r"[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?")
ENDPOINT_SETTINGS = (
    "DynamoDbSettings", "S3Settings", "DmsTransferSettings", "MongoDbSettings", "KinesisSettings",
    "KafkaSettings", "ElasticsearchSettings", "NeptuneSettings", "RedshiftSettings", "PostgreSQLSettings",
    "MySQLSettings", "OracleSettings", "SybaseSettings", "MicrosoftSQLServerSettings", "IBMDb2Settings",
    "DocDbSettings", "RedisSettings", "GcpMySQLSettings", "TimestreamSettings",
)  # fmt: skip


def _modify_endpoint_response(response: DatabaseMigrationServiceResponse) -> str:
    """ModifyEndpoint (moto lacks it): the given fields change; settings merge into the endpoint's, or replace
    them with ExactSettings. Refused while a task using the endpoint runs; the next start reads the changes.
    Everything is checked before anything changes."""
    backend, params = response.dms_backend, json.loads(response.body)
    endpoint = _endpoint(backend, params.get("EndpointArn"))
    busy = [task.id for task in backend.replication_tasks.values()
            if endpoint.endpoint_arn in (task.source_endpoint_arn, task.target_endpoint_arn)
            and task.status in ("starting", "running", "stopping")]  # fmt: skip
    if busy:
        raise DmsError("InvalidResourceStateFault", f"Endpoint {endpoint.endpoint_identifier} cannot be modified "
                                                    f"while replication task {busy[0]} using it is running; stop it first")  # fmt: skip
    old, renamed = endpoint.endpoint_identifier, params.get("EndpointIdentifier", endpoint.endpoint_identifier)
    if not ENDPOINT_IDENTIFIER.fullmatch(str(renamed)) or "--" in renamed:
        raise DmsError("InvalidParameterValueException", f"Invalid EndpointIdentifier {renamed!r}: it must begin with "
                       "a letter, hold only letters, digits and hyphens, and not end with a hyphen or hold two in a row")  # fmt: skip
    if renamed != old and renamed in backend.endpoints:
        raise DmsError("ResourceAlreadyExistsFault", f"Endpoint {renamed} already exists")
    changes = {camelcase_to_underscores(name): params[name] for name in ENDPOINT_FIELDS if name in params}
    if "endpoint_type" in changes:
        changes["endpoint_type"] = str(changes["endpoint_type"]).lower()
        if changes["endpoint_type"] not in ("source", "target"):
            raise DmsError("InvalidParameterValueException",
                           f"Invalid EndpointType {params['EndpointType']}; valid values: source, target")  # fmt: skip
    if "engine_name" in changes:
        changes["engine_display_name"] = changes["engine_name"]  # as moto's CreateEndpoint
    for name in ENDPOINT_SETTINGS:
        if name in params:
            attribute = camelcase_to_underscores(name)
            kept = {} if params.get("ExactSettings") else dict(getattr(endpoint, attribute) or {})
            changes[attribute] = {**kept, **(params[name] or {})}
    _check_target(
        changes.get("engine_name", endpoint.engine_name),
        changes.get("s3_settings", endpoint.s3_settings),
        changes.get("extra_connection_attributes", endpoint.extra_connection_attributes),
    )
    for attribute, value in changes.items():
        setattr(endpoint, attribute, value)
    if renamed != old:
        backend.endpoints[renamed] = backend.endpoints.pop(old)
        for connection in backend.connections:
            if connection.endpoint_arn == endpoint.endpoint_arn:
                connection.endpoint_identifier = renamed
    return json.dumps({"Endpoint": endpoint.to_dict()}, default=str)


patches.add(DatabaseMigrationServiceResponse, "modify_endpoint", _modify_endpoint_response)


def _mysql_source(backend, endpoint: Endpoint) -> MySQLSource:
    settings = endpoint.my_sql_settings or {}
    host, port = endpoint.server_name or settings.get("ServerName"), endpoint.port or settings.get("Port")
    user, password = endpoint.username or settings.get("Username"), endpoint.password or settings.get("Password")
    if settings.get("SecretsManagerSecretId"):
        secret = _secret(backend, settings["SecretsManagerSecretId"])
        host, port = secret.get("host", host), secret.get("port", port)
        user, password = secret.get("username", user), secret.get("password", password)
    if not host or not user:
        raise SourceError(f"Endpoint {endpoint.endpoint_identifier} has no server name or user name")
    return MySQLSource(str(host), int(port or 3306), str(user), str(password or ""), endpoint.database_name)


def _secret(backend, secret_id: str) -> dict:
    from moto.secretsmanager.models import secretsmanager_backends

    try:
        value = secretsmanager_backends[backend.account_id][backend.region_name].get_secret_value(
            secret_id, version_id=None, version_stage=None
        )
        return json.loads(value["SecretString"])
    except Exception as error:  # noqa: BLE001 (the reason becomes the task's or connection's failure)
        raise SourceError(f"Cannot read the secret {secret_id} from Secrets Manager: {error}") from None


def _role_s3(backend, endpoint: Endpoint):
    """An S3 client acting as the endpoint's ServiceAccessRoleArn, as DMS writes."""
    settings = endpoint.s3_settings or {}
    role_arn = endpoint.service_access_role_arn or settings.get("ServiceAccessRoleArn")
    if not role_arn:
        raise TargetError("The S3 target endpoint has no ServiceAccessRoleArn")
    role_name = role_arn.split(":role/", 1)[-1].rsplit("/", 1)[-1]
    try:
        role = clients.client("iam", backend.region_name).get_role(RoleName=role_name)["Role"]
        if not trusts_service(role.get("AssumeRolePolicyDocument"), "dms.amazonaws.com"):
            raise TargetError(f"The IAM role {role_arn} does not trust dms.amazonaws.com (sts:AssumeRole)")
        issued = clients.client("sts", backend.region_name).assume_role(
            RoleArn=role_arn, RoleSessionName="dms-s3-target"
        )["Credentials"]
    except (ClientError, BotoCoreError) as error:
        raise TargetError(f"Cannot assume the IAM role {role_arn}: {error}") from None
    return clients.client("s3", backend.region_name, access_key=issued["AccessKeyId"],
                          secret_key=issued["SecretAccessKey"], session_token=issued["SessionToken"])  # fmt: skip


def _s3_writer(backend, endpoint: Endpoint, mappings, table_prep_mode: str):
    try:
        settings = s3_target.S3TargetSettings.from_endpoint(endpoint.s3_settings, endpoint.extra_connection_attributes)
    except s3_target.S3SettingsError as error:
        raise TargetError(f"Invalid S3 settings of endpoint {endpoint.endpoint_identifier}: {error}") from None
    s3 = _role_s3(backend, endpoint)

    def refused(what: str, error: ClientError) -> TargetError:
        return TargetError(f"Failed to {what} as the endpoint's service access role: "
                           f"{error.response['Error']['Code']}: {error.response['Error']['Message']}")  # fmt: skip

    def put_object(bucket: str, key: str, body: bytes) -> None:
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        except ClientError as error:
            raise refused(f"upload file {key} to bucket {bucket}", error) from None

    def list_keys(bucket: str, prefix: str) -> list[str]:
        try:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return [item["Key"] for page in pages for item in page.get("Contents", [])]
        except ClientError as error:
            raise refused(f"list the objects of bucket {bucket} under {prefix}", error) from None

    def delete_keys(bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects' limit per request
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            try:
                answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            except ClientError as error:
                raise refused(f"delete objects of bucket {bucket} ({batch[0]['Key']}, ...)", error) from None
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise TargetError(f"Failed to delete file {first['Key']} from bucket {bucket} as the endpoint's "
                                  f"service access role: {first['Code']}: {first['Message']}")  # fmt: skip

    writer = s3_target.S3TargetWriter(settings, put_object=put_object, mappings=mappings,
                                      table_prep_mode=table_prep_mode, list_keys=list_keys, delete_keys=delete_keys)  # fmt: skip
    return writer, s3_target.CdcBatcher(settings)


# ---- TestConnection --------------------------------------------------------------------------


def _test_connection(backend, replication_instance_arn: str, endpoint_arn: str) -> FakeConnection:
    if replication_instance_arn not in backend.replication_instances:
        raise DmsError("ResourceNotFoundFault", "Replication instance could not be found.")
    endpoint = next((e for e in backend.endpoints.values() if e.endpoint_arn == endpoint_arn), None)
    if endpoint is None:
        raise DmsError("ResourceNotFoundFault", "Endpoint could not be found.")
    instance = backend.replication_instances[replication_instance_arn]
    connection = next((c for c in backend.connections
                       if (c.replication_instance_arn, c.endpoint_arn) == (replication_instance_arn, endpoint_arn)),
                      None)  # fmt: skip
    if connection is None:
        connection = FakeConnection(replication_instance_arn, endpoint_arn, instance.id, endpoint.endpoint_identifier)
        backend.connections.append(connection)
    connection.local_status, connection.local_failure = "successful", ""
    try:
        if str(endpoint.engine_name).lower() in MYSQL_ENGINES:
            _mysql_source(backend, endpoint).connect().close()
        elif str(endpoint.engine_name).lower() == "s3":
            bucket = (endpoint.s3_settings or {}).get("BucketName")
            _role_s3(backend, endpoint).head_bucket(Bucket=bucket)
    except (SourceError, TargetError) as error:
        connection.local_status, connection.local_failure = "failed", str(error)
    except ClientError as error:
        connection.local_status = "failed"
        connection.local_failure = f"Cannot reach bucket {bucket}: {error.response['Error']['Message']}"
    connection.local_answer = "testing"
    return connection


patches.replace(DatabaseMigrationServiceBackend, "test_connection", _test_connection)


@patches.wrap(FakeConnection, "to_dict")
def _connection_as_dict(original, connection: FakeConnection) -> dict:
    described = original(connection)
    if hasattr(connection, "local_status"):
        described["Status"] = getattr(connection, "local_answer", None) or connection.local_status
        connection.local_answer = None
        described["LastFailureMessage"] = connection.local_failure
    return described


# ---- tasks ---------------------------------------------------------------------------------


@patches.wrap(DatabaseMigrationServiceBackend, "create_replication_task")
def _create_replication_task(original, backend, **kwargs) -> FakeReplicationTask:
    mappings = _mappings(kwargs.get("table_mappings") or "")
    _settings(kwargs.get("replication_task_settings"))
    for name in ("source_endpoint_arn", "target_endpoint_arn"):
        if not any(e.endpoint_arn == kwargs.get(name) for e in backend.endpoints.values()):
            raise DmsError("ResourceNotFoundFault", f"Endpoint {kwargs.get(name)} could not be found.")
    if kwargs.get("replication_instance_arn") not in backend.replication_instances:
        raise DmsError("ResourceNotFoundFault", "Replication instance could not be found.")
    task = original(backend, **kwargs)
    task.local = LocalTask(mappings=mappings)
    task.status = "ready"
    return task


@patches.wrap(DatabaseMigrationServiceResponse, "create_replication_task")
def _create_replication_task_response(original, response: DatabaseMigrationServiceResponse) -> str:
    begins = _cdc_start(response._get_param("CdcStartPosition"), response._get_param("CdcStartTime"))  # moto drops them
    answer = original(response)
    if begins is not None:
        task = response.dms_backend.replication_tasks[json.loads(answer)["ReplicationTask"]["ReplicationTaskArn"]]
        task.local.cdc_start_position, task.local.cdc_start_time = begins.text, begins.time
    return answer


def _mappings(raw: str) -> table_mappings.TableMappings:
    try:
        return table_mappings.parse(raw)
    except table_mappings.MappingError as error:
        raise DmsError("InvalidParameterValueException", f"Invalid table mappings: {error}") from None


def _settings(raw: str | None) -> TaskSettings:
    try:
        return TaskSettings.parse(raw)
    except OptionError as error:
        raise DmsError(error.code, str(error)) from None


def _cdc_start(position: str | None, time: Any) -> CdcStart | None:
    try:
        return cdc_start(position, time)
    except OptionError as error:
        raise DmsError(error.code, str(error)) from None


def _task(backend, arn: str | None) -> FakeReplicationTask:
    task = backend.replication_tasks.get(arn)
    if task is None:
        raise DmsError("ResourceNotFoundFault", "Replication task could not be found.")
    return task


def _endpoint(backend, arn: str) -> Endpoint:
    endpoint = next((e for e in backend.endpoints.values() if e.endpoint_arn == arn), None)
    if endpoint is None:
        raise DmsError("ResourceNotFoundFault", f"Endpoint {arn} could not be found.")
    return endpoint


def start(backend, task: FakeReplicationTask, start_type: str, begins: CdcStart | None = None) -> None:
    """StartReplicationTask. CDC starts at `begins` (this request's CdcStartPosition / CdcStartTime); else
    resume-processing continues from the checkpoint, start-replication from the task's own CdcStartPosition /
    CdcStartTime, or from the binlog's position when the run starts (before its full load)."""
    local: LocalTask = task.local
    if start_type not in START_TYPES:
        raise DmsError("InvalidParameterValueException", f"Invalid StartReplicationTaskType {start_type}; "
                                                         f"valid values: {', '.join(START_TYPES)}")  # fmt: skip
    if task.status in ("starting", "running", "stopping"):
        raise DmsError("InvalidResourceStateFault", f"Replication task is {task.status}; stop it first")
    if start_type == "resume-processing" and local.runs == 0:
        start_type = "start-replication"  # AWS: resuming a task that never ran starts it
    if start_type == "start-replication" and local.runs and task.migration_type != "cdc":
        raise DmsError("InvalidResourceStateFault",
                       "Start Type : START_REPLICATION, valid only for tasks running for the first time")  # fmt: skip
    if begins is not None:
        local.cdc_start_position, local.cdc_start_time = begins.text, begins.time
    elif start_type == "resume-processing" and local.checkpoint:
        begins = CdcStart(position=Position.parse(local.checkpoint), time=local.checkpoint_since)
    elif start_type == "start-replication" and (local.cdc_start_position or local.cdc_start_time):
        begins = _cdc_start(None if local.cdc_start_time else local.cdc_start_position, local.cdc_start_time)
    settings = _settings(task.replication_task_settings)
    source = _mysql_source(backend, _endpoint(backend, task.source_endpoint_arn))
    writer, batcher = _s3_writer(backend, _endpoint(backend, task.target_endpoint_arn), local.mappings,
                                 settings.target_table_prep_mode)  # fmt: skip
    plan = RunPlan(
        migration_type=task.migration_type, start_type=start_type, source=source,
        selected=local.mappings.selected, writer=writer, batcher=batcher, load_order=local.mappings.load_order,
        checkpoint=begins.position if begins else None, start_time=begins.time if begins else None,
        handle_altered=settings.handle_source_table_altered,
        previous=local.run.tables if start_type == "resume-processing" and local.run else None,
    )  # fmt: skip

    def ended(run: TaskRun) -> None:
        if (checkpoint := run.checkpoint or run.start_position) is not None:
            local.checkpoint = str(checkpoint)  # stopped during its full load: CDC resumes from before it
            local.checkpoint_since = plan.start_time if checkpoint == run.start_position else None
        local.failure = run.failure
        task.status = run.status
        task.stop_date = run.stopped

    run = TaskRun(plan, on_end=ended)
    local.run, local.runs, local.failure, local.answer = run, local.runs + 1, None, "starting"
    task.status, task.start_date, task.stop_date = "running", run.started, None
    workers.get(Runs).start(task.arn, run)


def _start_replication_task_response(response: DatabaseMigrationServiceResponse) -> str:
    backend = response.dms_backend
    task = _task(backend, response._get_param("ReplicationTaskArn"))
    begins = _cdc_start(response._get_param("CdcStartPosition"), response._get_param("CdcStartTime"))
    try:
        start(backend, task, response._get_param("StartReplicationTaskType") or "start-replication", begins)
    except (SourceError, TargetError) as error:
        task.status, task.local.failure = "failed", str(error)
    return json.dumps({"ReplicationTask": task.to_dict()}, default=str)


patches.replace(DatabaseMigrationServiceResponse, "start_replication_task", _start_replication_task_response)


def _modify_replication_task_response(response: DatabaseMigrationServiceResponse) -> str:
    """ModifyReplicationTask: a task that is not running takes new settings; the next start uses them."""
    task = _task(response.dms_backend, response._get_param("ReplicationTaskArn"))
    if task.status not in MODIFIABLE:
        raise DmsError("InvalidResourceStateFault", "Replication Task, excluding logging severity task settings, "
                                                    f"cannot be modified while it is {task.status} state")  # fmt: skip
    migration_type, raw_mappings = response._get_param("MigrationType"), response._get_param("TableMappings")
    if migration_type is not None and migration_type not in MIGRATION_TYPES:
        raise DmsError("InvalidParameterValueException", f"Invalid MigrationType {migration_type}; "
                                                         f"valid values: {', '.join(MIGRATION_TYPES)}")  # fmt: skip
    mappings = _mappings(raw_mappings) if raw_mappings is not None else None
    raw_settings = response._get_param("ReplicationTaskSettings")
    if raw_settings is not None:
        _settings(raw_settings)
    begins = _cdc_start(response._get_param("CdcStartPosition"), response._get_param("CdcStartTime"))
    local: LocalTask = task.local
    task.id = response._get_param("ReplicationTaskIdentifier") or task.id
    task.migration_type = migration_type or task.migration_type
    if mappings is not None:
        task.table_mappings, local.mappings = raw_mappings, mappings
    if raw_settings is not None:
        task.replication_task_settings = raw_settings
    if begins is not None:
        local.cdc_start_position, local.cdc_start_time = begins.text, begins.time
    local.answer = "modifying"  # then back to what it was: stopped, ready or failed
    return json.dumps({"ReplicationTask": task.to_dict()}, default=str)


patches.add(DatabaseMigrationServiceResponse, "modify_replication_task", _modify_replication_task_response)


def _reload_tables_response(response: DatabaseMigrationServiceResponse) -> str:
    """ReloadTables: tables of a running full-load or full-load-and-cdc task are loaded again; CDC goes on."""
    task = _task(response.dms_backend, response._get_param("ReplicationTaskArn"))
    option = response._get_param("ReloadOption") or "data-reload"
    if option not in RELOAD_OPTIONS:
        raise DmsError("InvalidParameterValueException", f"Invalid ReloadOption {option}; "
                                                         f"valid values: {', '.join(RELOAD_OPTIONS)}")  # fmt: skip
    if option == "validate-only":
        raise DmsError("InvalidParameterValueException", "ReloadOption validate-only re-validates tables, which "
                       "needs data validation (ValidationSettings.EnableValidation); local DMS does not implement "
                       "data validation: use data-reload")  # fmt: skip
    run: TaskRun | None = task.local.run
    if task.status != "running" or run is None or run.status != "running":
        state = task.status if task.status != "running" else "starting"
        raise DmsError("InvalidResourceStateFault",
                       f"Replication task {task.id} is {state}: tables can be reloaded only while it is running")  # fmt: skip
    if task.migration_type == "cdc":
        raise DmsError("InvalidParameterCombinationException", "Tables can be reloaded only for a task of migration "
                                                               "type full-load or full-load-and-cdc; this one is cdc")  # fmt: skip
    tables = [(t.get("SchemaName"), t.get("TableName")) for t in response._get_param("TablesToReload") or []]
    if not tables or len(tables) > MAX_TABLES_TO_RELOAD:
        raise DmsError("InvalidParameterValueException",
                       f"TablesToReload names {len(tables)} tables; a task reloads 1 to {MAX_TABLES_TO_RELOAD}")  # fmt: skip
    if len(set(tables)) < len(tables):
        raise DmsError("InvalidParameterValueException", "TablesToReload names a table more than once")
    if unknown := [f"{schema}.{table}" for schema, table in tables if (schema, table) not in run.tables]:
        raise DmsError("InvalidParameterValueException", f"The task does not migrate {', '.join(unknown)}")
    if not run.reload(tables):
        raise DmsError("InvalidResourceStateFault", f"Replication task {task.id} has finished its full load")
    return json.dumps({"ReplicationTaskArn": task.arn})


patches.add(DatabaseMigrationServiceResponse, "reload_tables", _reload_tables_response)


def _stop_replication_task(backend, replication_task_arn: str) -> FakeReplicationTask:
    task = backend.replication_tasks.get(replication_task_arn)
    if task is None:
        raise DmsError("ResourceNotFoundFault", "Replication task could not be found.")
    if task.status != "running":
        raise DmsError("InvalidResourceStateFault", "Replication task is not running")
    task.local.answer = "stopping"
    if (runs := workers.find(Runs)) is not None:
        runs.stop_run(task.arn)  # the run ends: `stopped`
    return task


patches.replace(DatabaseMigrationServiceBackend, "stop_replication_task", _stop_replication_task)


@patches.wrap(DatabaseMigrationServiceBackend, "delete_replication_task")
def _delete_replication_task(original, backend, replication_task_arn: str) -> FakeReplicationTask:
    task = backend.replication_tasks.get(replication_task_arn)
    if task is not None and task.status in ("running", "starting", "stopping"):
        raise DmsError("InvalidResourceStateFault", "The task must be stopped before it can be deleted.")
    if (runs := workers.find(Runs)) is not None:
        runs.remove(replication_task_arn)
    return original(backend, replication_task_arn)


@patches.wrap(FakeReplicationTask, "to_dict")
def _task_as_dict(original, task: FakeReplicationTask) -> dict:
    described = original(task)
    local: LocalTask | None = getattr(task, "local", None)
    if local is None:
        return described
    if local.answer:
        described["Status"], local.answer = local.answer, None
    run = local.run
    if run is not None:
        described["ReplicationTaskStats"] = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                             for k, v in run.task_stats().items()}  # fmt: skip
        if run.stop_reason:
            described["StopReason"] = run.stop_reason
        if run.checkpoint is not None:
            described["RecoveryCheckpoint"] = f"checkpoint:V1#{run.checkpoint}"
    else:
        described.pop("ReplicationTaskStats", None)
    if local.failure:
        described["LastFailureMessage"] = local.failure
    if local.cdc_start_position:
        described["CdcStartPosition"] = local.cdc_start_position
    return described


def _describe_table_statistics_response(response: DatabaseMigrationServiceResponse) -> str:
    task = _task(response.dms_backend, response._get_param("ReplicationTaskArn"))
    run = task.local.run if getattr(task, "local", None) else None
    statistics = [stats.as_dict() for stats in (run.tables.values() if run else [])]
    return json.dumps({"ReplicationTaskArn": task.arn, "TableStatistics": statistics}, default=str)


patches.add(DatabaseMigrationServiceResponse, "describe_table_statistics", _describe_table_statistics_response)


@patches.wrap(DatabaseMigrationServiceBackend, "reset")
def _reset(original, backend) -> None:
    if (runs := workers.find(Runs)) is not None:
        for arn in list(backend.replication_tasks):
            runs.remove(arn)
    original(backend)


def shutdown() -> None:
    workers.stop(Runs)


def _none_match(what: str):
    def describe(original, backend, filters=None, *args, **kwargs):
        found = list(original(backend, filters, *args, **kwargs))
        if filters and not found:
            raise DmsError("ResourceNotFoundFault", f"No {what} found matching provided filters")
        return found

    return describe


for _method, _what in (
    ("describe_replication_tasks", "Replication Tasks"),
    ("describe_replication_instances", "Replication Instances"),
    ("describe_endpoints", "Endpoints"),
):
    patches.wrap(DatabaseMigrationServiceBackend, _method)(_none_match(_what))


@patches.wrap(DatabaseMigrationServiceBackend, "describe_connections")
def _describe_connections(original, backend, filters, *args, **kwargs) -> list[FakeConnection]:
    """Every filter applies (moto 5.2.5 keeps only the last one's matches, so an endpoint-arn filter is lost)."""
    found = original(backend, filters, *args, **kwargs)
    wanted = {f.get("Name"): set(f.get("Values", [])) for f in filters or []}
    return [
        connection for connection in found
        if connection.endpoint_arn in wanted.get("endpoint-arn", {connection.endpoint_arn})
        and connection.replication_instance_arn in wanted.get("replication-instance-arn", {connection.replication_instance_arn})
    ]  # fmt: skip

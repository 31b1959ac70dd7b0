"""RDS DB instances that run a database: what of moto's RDS API is intercepted.

moto 5.2.5 records a DB instance as `available` at once, with an endpoint nothing listens on.
`patches` changes it so that, for engines mysql, mariadb and postgres (not cluster members):
- CreateDBInstance answers `creating` and starts a real server (servers.py) with the master user,
  password and DBName given, the DB parameter group's values and, when BackupRetentionPeriod > 0,
  binary logging (with ManageMasterUserPassword, the password of the Secrets Manager secret RDS
  makes, which holds the master user name and a random password as on AWS; moto's has fixed
  ones); DescribeDBInstances reports `available` once it accepts connections, with
  Endpoint.Address 127.0.0.1 and the server's own Port; `failed` or `incompatible-parameters`
  (a parameter the server refuses) when it cannot start, the reason in an event (DescribeEvents);
- StopDBInstance / StartDBInstance / RebootDBInstance stop and start the process (data kept);
- DeleteDBInstance answers `deleting`, stops the server and deletes its data; moto's reset and the
  server's stop do the same for every instance.
Differences from AWS: docs/local-aws/rds.md.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from moto.rds.models import DBInstance, Event, RDSBackend

from local_aws import config, workers
from local_aws.patching import Patches
from local_aws.rds.servers import ENGINES, Servers, Spec

patches = Patches(__name__)


@dataclass
class LocalInstance:
    """What local AWS adds to a moto DBInstance; kept on it as `.local`."""

    key: tuple[str, str, str]  # (account, region, identifier)
    server: Any = None
    error: str | None = None


def _key(database: DBInstance) -> tuple[str, str, str]:
    return (database.account_id, database.region, database.db_instance_identifier)


def _runs_locally(database: DBInstance) -> bool:
    return str(database.engine).lower() in ENGINES and database.db_cluster_identifier is None


def _parameters(database: DBInstance) -> dict[str, str]:
    """The values set in the instance's DB parameter group (ModifyDBParameterGroup), by name."""
    values: dict[str, str] = {}
    for group in database.db_parameter_groups():
        for name, parameter in group.parameters.items():
            if parameter.get("ParameterValue") is not None:
                values[name] = str(parameter["ParameterValue"])
    return values


def _managed_password(backend: RDSBackend, database: DBInstance) -> str:
    """A random password in the secret RDS manages for the instance, with the master user's name."""
    password = secrets.token_urlsafe(24)
    secret = database.master_user_secret.secret
    credentials = json.dumps({"username": database.master_username or "admin", "password": password})
    backend.secretsmanager.put_secret_value(secret.arn, credentials, None, str(uuid.uuid4()), ["AWSCURRENT"])
    return password


@patches.wrap(RDSBackend, "create_db_instance")
def _create_db_instance(original, backend: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
    database = original(backend, db_kwargs)
    if not _runs_locally(database):
        return database
    password = db_kwargs.get("master_user_password") or ""
    if database.manage_master_user_password:
        password = _managed_password(backend, database)
    local = database.local = LocalInstance(key=_key(database))
    database.status = "creating"
    account, region, identifier = local.key
    spec = Spec(
        engine=str(database.engine).lower(),
        master_username=database.master_username or "admin",
        master_password=password,
        db_name=database.db_name,
        data_dir=config.settings.work_dir / "rds" / f"{account}-{region}-{identifier}",
        parameters=_parameters(database),
        binlog=int(database.backup_retention_period or 0) > 0,
    )

    def done(server, error: str | None) -> None:
        if backend.databases.get(identifier) is not database:
            return  # deleted or reset meanwhile
        if server is None:
            local.error = error
            database.status = "incompatible-parameters" if "unknown variable" in (error or "") else "failed"
            _failure_event(backend, database, f"The DB instance could not be started: {error}")
            return
        local.server = server
        database.port = server.port
        database.status = "available"

    workers.get(Servers).start(local.key, spec, done)
    return database


def _failure_event(backend: RDSBackend, database: DBInstance, message: str) -> None:
    """An event DescribeEvents lists, in the category AWS files such events under (local wording)."""
    event = Event("DB_INSTANCE_CREATE", database)
    event.message, event.event_categories = message, ["failure"]
    backend.events.append(event)


def _address(database: DBInstance) -> str:
    if getattr(database, "local", None) is not None:
        return "127.0.0.1"
    return f"{database.db_instance_identifier}.aaaaaaaaaa.{database.region}.rds.amazonaws.com"


patches.replace(DBInstance, "address", property(_address))


@patches.wrap(RDSBackend, "delete_db_instance")
def _delete_db_instance(original, backend: RDSBackend, db_instance_identifier: str, *args, **kwargs) -> DBInstance:
    database = original(backend, db_instance_identifier, *args, **kwargs)
    local: LocalInstance | None = getattr(database, "local", None)
    if local is not None:
        database.status = "deleting"
        if (servers := workers.find(Servers)) is not None:
            servers.remove(local.key)
    return database


def _server(database: DBInstance):
    local: LocalInstance | None = getattr(database, "local", None)
    return local.server if local is not None else None


@patches.wrap(RDSBackend, "stop_db_instance")
def _stop_db_instance(original, backend: RDSBackend, db_instance_identifier: str, *args, **kwargs) -> DBInstance:
    database = original(backend, db_instance_identifier, *args, **kwargs)
    if (server := _server(database)) is not None:
        server.stop()
    return database


@patches.wrap(RDSBackend, "start_db_instance")
def _start_db_instance(original, backend: RDSBackend, db_instance_identifier: str) -> DBInstance:
    database = original(backend, db_instance_identifier)
    if (server := _server(database)) is not None and not server.alive:
        server.spec.parameters = _parameters(database)  # the group as it is now, as a start on RDS does
        server.start()
    return database


@patches.wrap(RDSBackend, "reboot_db_instance")
def _reboot_db_instance(original, backend: RDSBackend, db_instance_identifier: str) -> DBInstance:
    database = original(backend, db_instance_identifier)
    if (server := _server(database)) is not None:
        server.stop()
        server.spec.parameters = _parameters(database)
        server.start()
    return database


@patches.wrap(RDSBackend, "reset")
def _reset(original, backend: RDSBackend) -> None:
    if (servers := workers.find(Servers)) is not None:
        servers.remove_where(lambda key: key[:2] == (backend.account_id, backend.region_name))
    original(backend)

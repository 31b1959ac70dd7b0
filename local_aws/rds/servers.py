"""The RDS engine: database servers that really run, one process per DB instance.

Engine "mysql" or "mariadb" runs a MariaDB server (mariadbd), "postgres" a PostgreSQL server
(initdb + pg_ctl), each with its own data directory under the work dir, its own socket directory
and a free port on 127.0.0.1. The master user gets the privileges the RDS master user has; on
MariaDB the procedures `mysql.rds_set_configuration` / `mysql.rds_show_configuration` exist, so
setup SQL written for RDS runs unchanged. `Servers` (a worker of the running local AWS,
local_aws/workers.py) starts them in the background and stops them with the server.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
MYSQL_ENGINES = ("mysql", "mariadb")
ENGINES = (*MYSQL_ENGINES, "postgres")

# What RDS grants its MySQL master user (AWS: "Master user account privileges"); no SUPER.
MYSQL_MASTER_PRIVILEGES = (
    "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES, "
    "CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, REPLICATION CLIENT, CREATE VIEW, "
    "SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER"
)

# RDS's stored procedures for its configuration, as far as DMS setups use them.
MYSQL_RDS_PROCEDURES = (
    """CREATE TABLE IF NOT EXISTS mysql.rds_configuration (
        name VARCHAR(100) PRIMARY KEY, value VARCHAR(100), description VARCHAR(300))""",
    """INSERT IGNORE INTO mysql.rds_configuration VALUES
        ('binlog retention hours', NULL,
         'binlog retention hours specifies the duration in hours before binary logs are automatically deleted.'),
        ('source delay', '0', 'source delay specifies replication delay in seconds between current instance and its master.'),
        ('target delay', '0', 'target delay specifies replication delay in seconds between current instance and its future read-replica.')""",
    """CREATE OR REPLACE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_configuration(
        IN name VARCHAR(30), IN value INT) SQL SECURITY DEFINER
    BEGIN
        IF name NOT IN (SELECT c.name FROM mysql.rds_configuration c) THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Invalid configuration name';
        END IF;
        IF name = 'binlog retention hours' AND (value < 1 OR value > 2160) THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'binlog retention hours must be between 1 and 2160';
        END IF;
        UPDATE mysql.rds_configuration c SET c.value = value WHERE c.name = name;
        IF name = 'binlog retention hours' THEN
            SET GLOBAL binlog_expire_logs_seconds = value * 3600;
        END IF;
    END""",
    """CREATE OR REPLACE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_show_configuration() SQL SECURITY DEFINER
        SELECT name, value, description FROM mysql.rds_configuration""",
)


class ServerError(Exception):
    """The server could not be created or started; the message says why (its log's last lines)."""


@dataclass
class Spec:
    """What CreateDBInstance asked for, as the server needs it."""

    engine: str
    master_username: str
    master_password: str
    db_name: str | None
    data_dir: Path
    parameters: dict[str, str] = field(default_factory=dict)  # the DB parameter group's values set by the user
    binlog: bool = False  # BackupRetentionPeriod > 0: binary logging on, as on RDS


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


class _Server:
    """One database server process: start() creates the data directory on first use; stop(); remove()."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self.socket_dir = Path(tempfile.mkdtemp(prefix="rds-"))  # short: a socket path is limited to 108 bytes
        self.process: subprocess.Popen | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def remove(self) -> None:
        shutil.rmtree(self.spec.data_dir, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def _wait_until(self, ready: Callable[[], bool], log_path: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(f"the server exited with code {self.process.returncode}: {_tail(log_path)}")
            if ready():
                return
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"the server did not accept connections within {START_TIMEOUT_SECONDS} s: {_tail(log_path)}")


class MariaDBServer(_Server):
    """Engine mysql or mariadb: a mariadbd with binary logging when spec.binlog, the parameter group's values."""

    def __init__(self, spec: Spec):
        super().__init__(spec)
        self._root_password = secrets.token_urlsafe(24)  # only local AWS uses root, over the socket
        self.error_log = spec.data_dir.parent / f"{spec.data_dir.name}.err"

    @property
    def socket_path(self) -> str:
        return str(self.socket_dir / "mysqld.sock")

    def start(self) -> None:
        fresh = not (self.spec.data_dir / "mysql").is_dir()
        if fresh:
            self.spec.data_dir.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                ["mariadb-install-db", "--no-defaults", f"--datadir={self.spec.data_dir}", "--skip-test-db",
                 "--auth-root-authentication-method=normal", "--skip-name-resolve", *self._user()],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            if done.returncode != 0:
                raise ServerError(f"mariadb-install-db failed: {(done.stderr or done.stdout).strip()[-500:]}")
        command = [
            shutil.which("mariadbd", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") or "mariadbd", "--no-defaults", *self._user(), f"--datadir={self.spec.data_dir}",
            f"--socket={self.socket_path}", f"--port={self.port}", f"--bind-address={self.host}",
            f"--pid-file={self.socket_dir / 'mysqld.pid'}", f"--log-error={self.error_log}",
            "--skip-name-resolve", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
        ]  # fmt: skip
        if self.spec.binlog:
            command += ["--log-bin=mysql-bin-changelog", f"--server-id={secrets.randbelow(2**31 - 2) + 1}"]
        command += [f"--{name}={value}" for name, value in self.spec.parameters.items()]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        password = "" if fresh else self._root_password
        self._wait_until(lambda: self._can_connect(password), self.error_log)
        if fresh:
            self._bootstrap()

    def _user(self) -> list[str]:
        return ["--user=root"] if os.geteuid() == 0 else []

    def _connect(self, password: str, database: str | None = None):
        import pymysql

        return pymysql.connect(unix_socket=self.socket_path, user="root", password=password, database=database,
                               connect_timeout=5, autocommit=True)  # fmt: skip

    def _can_connect(self, password: str) -> bool:
        try:
            self._connect(password).close()
            return True
        except Exception:
            return False

    def _bootstrap(self) -> None:
        spec = self.spec
        with self._connect("") as connection, connection.cursor() as cursor:
            cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (spec.master_username, spec.master_password))
            cursor.execute(f"GRANT {MYSQL_MASTER_PRIVILEGES} ON *.* TO %s@'%%' WITH GRANT OPTION",
                           (spec.master_username,))  # fmt: skip
            if spec.db_name:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{spec.db_name}`")
            for statement in MYSQL_RDS_PROCEDURES:
                cursor.execute(statement)
            for procedure in ("rds_set_configuration", "rds_show_configuration"):
                cursor.execute(f"GRANT EXECUTE ON PROCEDURE mysql.{procedure} TO %s@'%%'", (spec.master_username,))
            cursor.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (self._root_password,))
            cursor.execute("DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1'")

    def stop(self) -> None:
        if not self.alive:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)  # mariadbd shuts down cleanly on SIGTERM
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class PostgresServer(_Server):
    """Engine postgres: initdb with the master user as superuser (password auth), then pg_ctl."""

    def __init__(self, spec: Spec):
        super().__init__(spec)
        self.bin_dir = _postgres_bin_dir()
        if os.geteuid() == 0:
            # As root the server runs as the postgres user, who may not reach the work dir (pytest's
            # tmp dirs are 0700): its data goes into its own directory beside the socket instead.
            self._own(self.socket_dir)
            spec.data_dir = self.socket_dir / "data"
        self.log_path = spec.data_dir.parent / f"{spec.data_dir.name}.log"

    def _run(self, *command: str, capture: bool = True) -> subprocess.CompletedProcess:
        # PostgreSQL refuses to run as root: as root, run it as the postgres user.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if capture:
            environment = {**os.environ, "PGPASSWORD": self.spec.master_password}  # psql would ask on the terminal
            return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120, env=environment)
        # pg_ctl start: the server it leaves running would hold a captured pipe open forever.
        return subprocess.run([*prefix, *command], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=120)  # fmt: skip

    def _own(self, *paths: Path) -> None:
        if os.geteuid() == 0:
            for path in paths:
                shutil.chown(path, "postgres", "postgres")

    def start(self) -> None:
        data = self.spec.data_dir
        if not (data / "PG_VERSION").is_file():
            data.mkdir(parents=True, exist_ok=True)
            password_file = self.socket_dir / "pw"
            password_file.write_text(self.spec.master_password + "\n")
            self._own(data, self.socket_dir, password_file)
            done = self._run(str(self.bin_dir / "initdb"), "-D", str(data), "-U", self.spec.master_username,
                             f"--pwfile={password_file}", "-A", "scram-sha-256", "-E", "UTF8")  # fmt: skip
            password_file.unlink()
            if done.returncode != 0:
                raise ServerError(f"initdb failed: {(done.stderr or done.stdout).strip()[-500:]}")
        self._own(self.socket_dir)
        if not self.log_path.exists():
            self.log_path.touch()
        self._own(self.log_path)
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses={self.host}"
        options += "".join(f" -c {name}={value}" for name, value in self.spec.parameters.items())
        done = self._run(str(self.bin_dir / "pg_ctl"), "-D", str(data), "-l", str(self.log_path), "-o", options,
                         "-w", "-t", str(START_TIMEOUT_SECONDS), "start", capture=False)  # fmt: skip
        if done.returncode != 0:
            raise ServerError(f"the server did not start: {_tail(self.log_path)}")
        if self.spec.db_name:
            self._create_database(self.spec.db_name)

    def _create_database(self, name: str) -> None:
        done = self._run(str(self.bin_dir / "psql"), "-h", str(self.socket_dir), "-p", str(self.port), "-U",
                         self.spec.master_username, "-d", "postgres", "-tAc",
                         f"SELECT 1 FROM pg_database WHERE datname = '{name}'")  # fmt: skip
        if done.stdout.strip() != "1":
            done = self._run(str(self.bin_dir / "createdb"), "-h", str(self.socket_dir), "-p", str(self.port),
                             "-U", self.spec.master_username, name)  # fmt: skip
            if done.returncode != 0:
                raise ServerError(f"could not create database {name}: {done.stderr.strip()}")

    @property
    def alive(self) -> bool:
        return (self.spec.data_dir / "postmaster.pid").is_file()

    def stop(self) -> None:
        if self.alive:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.spec.data_dir), "-m", "fast", "-w", "stop")


def _postgres_bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise ServerError("PostgreSQL's server binaries are not installed (Debian: apt-get install postgresql)")
    return found[-1].parent


def server_for(spec: Spec) -> _Server:
    if spec.engine in MYSQL_ENGINES:
        if shutil.which("mariadbd", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") is None:
            raise ServerError("MariaDB's server is not installed (Debian: apt-get install mariadb-server)")
        return MariaDBServer(spec)
    if spec.engine == "postgres":
        return PostgresServer(spec)
    raise ServerError(f"engine {spec.engine} does not run locally; local AWS runs {', '.join(ENGINES)}")


class Servers:
    """The running database servers by key; a worker (local_aws.workers): all stop, and their data goes, with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[tuple, _Server] = {}

    def start(self, key: tuple, spec: Spec, done: Callable[[_Server | None, str | None], None]) -> None:
        """Create and start a server in the background; done(server, None) when it accepts connections,
        done(None, reason) when it could not start."""

        def run() -> None:
            try:
                server = server_for(spec)
                with self._lock:
                    self._servers[key] = server
                server.start()
            except Exception as error:  # noqa: BLE001 (reported on the instance)
                log.warning("RDS instance %s did not start: %s", key[-1], error)
                done(None, str(error))
                return
            if self.get(key) is not server:  # deleted (or reset) while it was starting
                server.stop()
                server.remove()
                return
            done(server, None)

        threading.Thread(target=run, name=f"rds-start-{key[-1]}", daemon=True).start()

    def get(self, key: tuple) -> _Server | None:
        with self._lock:
            return self._servers.get(key)

    def remove(self, key: tuple) -> None:
        """Stop the server and delete its data (DeleteDBInstance, moto's reset)."""
        with self._lock:
            server = self._servers.pop(key, None)
        if server is not None:
            server.stop()
            server.remove()

    def remove_where(self, predicate: Callable[[tuple], bool]) -> None:
        with self._lock:
            keys = [key for key in self._servers if predicate(key)]
        for key in keys:
            self.remove(key)

    def stop(self) -> None:
        self.remove_where(lambda key: True)

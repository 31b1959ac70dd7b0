"""The CDC project end to end on local AWS while its binlog reader keeps crashing (issue 10).

RDS MySQL (the project's tables, a small seed) -> a DMS full-load-and-cdc task with the project's
S3 settings (Parquet) -> the Glue merge job (job bookmarks) -> the current state in S3 and the
Glue catalog. The DMS task's binlog reader loses its connection at seeded random points of the
project's seeded workload, several times; the task reads again from its checkpoint (a change may
be written twice, never lost) or the reader reconnects where it was. The merged current state
must still equal MySQL row for row, after a merge in the middle of the workload and at its end.
"""

from __future__ import annotations

import json
import logging
import random
import socket

import pymysql
import pytest

from labkit.labs import cdc, datasets
from labkit.operators.packaging import zip_package
from tests.conftest import REPO_ROOT
from tests.contract.test_dms import TRUST_DMS, create_task, task_status, wait_task
from tests.contract.test_glue_cdc_merge import athena_query, read_rows, summaries
from tests.contract.test_glue_jobs import BUCKET, OUTPUT_LOG, clients, create_job, log_lines, put, run_job  # noqa: F401
from tests.contract.test_rds import PASSWORD, binlog_parameter_group, create_mysql, wait_available
from tests.lambda_support import wait_for

SEED = 10
RATINGS = 3000  # of MovieLens's 100,004, sampled (seeded): every user bucket has some
WORKLOAD_SIZE = 400  # changes over the three tables
# The workload's two parts are spread over these: the first while the Spark driver starts anyway.
PART_SECONDS = (12, 4)
CRASHES = 6  # alternately: a read fails (DMS reads again from its checkpoint), the socket goes (the library reconnects)
# The reader crashes at seeded ordinals in this window of the binlog events it hands to DMS, counting each
# event once (not again when it is read again after a crash). The workload's ~800 events go past the window,
# so every crash happens while the workload runs.
CRASH_WINDOW = range(10, 780)
JOB, DATABASE = "cdc-merge", "cdc"
TABLES = {name: name.split(".")[1] for name in cdc.TABLES}  # schema.table -> current-state folder


def connect(endpoint: dict, autocommit: bool) -> pymysql.Connection:
    return pymysql.connect(host=endpoint["Address"], port=endpoint["Port"], user="admin", password=PASSWORD,
                           charset="utf8mb4", autocommit=autocommit)  # fmt: skip


def seed(connection) -> dict[str, int]:
    """The project's schema (sql/mysql/schema.sql) with a sample of MovieLens's ratings, the movies they
    rate (and those without a title: NULLs), and the generated customers. Rows per table."""
    movies, ratings = datasets.movielens_frames()
    ratings = ratings.sample(n=RATINGS, random_state=SEED)
    movies = movies[movies["movieId"].isin(ratings["movieId"]) | movies["title"].isna()]
    tables = {
        "movielens.movies": (datasets.MOVIES_COLUMNS, movies.astype(object).where(movies.notna(), None)),
        "movielens.ratings": (datasets.RATINGS_COLUMNS, ratings.astype(object)),
    }
    with connection.cursor() as cursor:
        for statement in cdc.sql_statements("schema"):
            cursor.execute(statement)
        for table, (columns, frame) in tables.items():
            insert(cursor, table, columns, [tuple(_plain(v) for v in row) for row in frame.itertuples(index=False)])
        insert(cursor, "shop.customers", cdc.CUSTOMER_COLUMNS, cdc.generate_customers())
        connection.commit()
        counts = {}
        for table in cdc.TABLES:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        return counts


def insert(cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    names, marks = ", ".join(f"`{c}`" for c in columns), ", ".join(["%s"] * len(columns))
    cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


def _plain(value):
    return value.item() if hasattr(value, "item") else value  # numpy scalars -> Python


@pytest.fixture
def warm_spark(local_aws):
    """The Spark driver the merge job runs on, started now (in the background) rather than by the first run."""
    from local_aws.glue import job_runner

    job_runner.warm_up()


@pytest.fixture
def source(aws_client, warm_spark):
    """An RDS MySQL instance with the project's binlog parameters and seeded tables; its endpoint, the row
    counts, and an autocommit connection for the checks."""
    rds = aws_client("rds")
    create_mysql(rds, DBParameterGroupName=binlog_parameter_group(rds, **cdc.BINLOG_PARAMETERS),
                 BackupRetentionPeriod=1)  # fmt: skip
    try:
        endpoint = wait_available(rds, "source")["Endpoint"]
        with connect(endpoint, autocommit=False) as connection:
            counts = seed(connection)
        with connect(endpoint, autocommit=True) as connection:
            yield endpoint, counts, connection
    finally:
        rds.delete_db_instance(DBInstanceIdentifier="source", SkipFinalSnapshot=True)


@pytest.fixture
def pipeline(aws_client, source, clients):  # noqa: F811
    """The DMS task (the project's table mappings and S3 settings, a CDC file at most every second) and the
    merge job; the task is stopped and deleted, with its replication instance, afterwards."""
    endpoint, _, _ = source
    s3, glue, logs = clients
    iam, dms = aws_client("iam"), aws_client("dms")
    iam.create_role(RoleName="cdc-dms", AssumeRolePolicyDocument=TRUST_DMS)
    iam.put_role_policy(
        RoleName="cdc-dms", PolicyName="cdc", PolicyDocument=json.dumps(cdc.dms_role_policy(BUCKET, "none"))
    )
    role = iam.get_role(RoleName="cdc-dms")["Role"]["Arn"]
    instance = dms.create_replication_instance(ReplicationInstanceIdentifier="cdc-ri",
                                               ReplicationInstanceClass="dms.t3.micro")["ReplicationInstance"]  # fmt: skip
    instance_arn = instance["ReplicationInstanceArn"]
    source_arn = dms.create_endpoint(
        EndpointIdentifier="cdc-mysql", EndpointType="source", EngineName="mysql", ServerName=endpoint["Address"],
        Port=endpoint["Port"], Username="admin", Password=PASSWORD,
    )["Endpoint"]["EndpointArn"]  # fmt: skip
    target_arn = dms.create_endpoint(
        EndpointIdentifier="cdc-s3", EndpointType="target", EngineName="s3",
        S3Settings={**cdc.s3_settings(BUCKET, role), "CdcMaxBatchInterval": 1},
    )["Endpoint"]["EndpointArn"]  # fmt: skip
    task_arn = create_task(dms, instance_arn, source_arn, target_arn, identifier="cdc-project",
                           TableMappings=json.dumps(cdc.table_mappings()))  # fmt: skip

    etl_zip = put(s3, "scripts/etl.zip", zip_package(REPO_ROOT / "glue_jobs/etl"))
    create_job(glue, s3, JOB, (REPO_ROOT / "glue_jobs/cdc_merge.py").read_text(),
               DefaultArguments={"--extra-py-files": etl_zip, **cdc.merge_arguments(BUCKET, DATABASE)})  # fmt: skip
    glue.create_database(DatabaseInput={"Name": DATABASE})

    def merge() -> dict:
        """A run of the merge job; its summary line per table that had new files."""
        finished = run_job(glue, JOB)
        assert finished["JobRunState"] == "SUCCEEDED", finished.get("ErrorMessage")
        return summaries(log_lines(logs, OUTPUT_LOG, finished["Id"]))

    yield dms, task_arn, s3, merge
    if task_status(dms, task_arn)["Status"] in ("starting", "running"):
        dms.stop_replication_task(ReplicationTaskArn=task_arn)
        wait_task(dms, "replication_task_stopped", task_arn)
    dms.delete_replication_task(ReplicationTaskArn=task_arn)
    dms.delete_replication_instance(ReplicationInstanceArn=instance_arn)


def crash_points(randomness: random.Random) -> list[int]:
    """One point in the first half of each of CRASHES equal parts of CRASH_WINDOW: 1/2 to 3/2 parts apart, so
    that DMS writes a CDC file between some crashes (its checkpoint moves on) and not between others."""
    part = len(CRASH_WINDOW) // CRASHES
    return [CRASH_WINDOW[i * part + randomness.randrange(part // 2)] for i in range(CRASHES)]


def merged_matches_mysql(connection, s3=None, athena=None) -> dict[str, dict]:
    """Each table's current state against MySQL: count and checksum over every column in cdc.canonical's text
    (cdc.compare's ValidationError naming the first differing keys otherwise). The state is read from its live
    Parquet files (s3), or through Athena on the catalog table the merge keeps, as the project's check does."""
    figures = {}
    for name, folder in TABLES.items():
        columns = cdc.source_columns(connection, name)
        if athena is not None:
            header, *values = athena_query(athena, f"SELECT * FROM {folder}")
            current = cdc.athena_rows([dict(zip(header, row, strict=True)) for row in values], columns)
        else:
            rows = read_rows(s3, f"current/{folder}/")
            current = [tuple(cdc.canonical(row.get(c.name), c) for c in columns) for row in rows]
        keys = [[c.name for c in columns].index(key) for key in cdc.TABLES[name]["keys"]]
        figures[name] = cdc.compare(name, cdc.source_rows(connection, name, columns), current, keys)
    return figures


def test_a_reader_crashing_during_a_workload_leaves_the_merged_state_equal_to_mysql(
    pipeline, source, aws_client, monkeypatch, caplog
):
    from pymysqlreplication import BinLogStreamReader

    dms, task_arn, s3, merge = pipeline
    athena = aws_client("athena")
    endpoint, seeded, connection = source
    # The binlog reader loses its connection at seeded random events: mid-transaction, at a commit, while a
    # batch waits to be written, right after one was. Alternately, a read fails with MySQL's "lost connection"
    # error (the fault of test_dms's crash test): the task reads again from its checkpoint. Or the socket is
    # really shut: python-mysql-replication reconnects by itself, from the last event it read.
    crash_at = crash_points(random.Random(SEED))
    handed, newest, crashes = [0], [("", 0)], []
    fetch = BinLogStreamReader.fetchone

    def crashing_fetchone(self):
        event = fetch(self)
        if event is not None and (self.log_file, self.log_pos) > newest[0]:  # not handed before a crash
            newest[0] = (self.log_file, self.log_pos)
            handed[0] += 1
            if len(crashes) < CRASHES and handed[0] == crash_at[len(crashes)]:
                crashes.append((handed[0], type(event).__name__, f"{self.log_file}:{self.log_pos}"))
                if len(crashes) % 2:
                    raise pymysql.err.OperationalError(2013, "Lost connection to server during query")
                self._stream_connection._sock.shutdown(socket.SHUT_RDWR)
        return event

    monkeypatch.setattr(BinLogStreamReader, "fetchone", crashing_fetchone)
    caplog.set_level(logging.WARNING, logger="local_aws.dms.replication")
    dms.start_replication_task(ReplicationTaskArn=task_arn, StartReplicationTaskType="start-replication")

    def loaded() -> dict | None:
        tables = cdc.table_statistics(dms, task_arn)
        done = len(tables) == len(TABLES) and all(t["TableState"] == "Table completed" for t in tables.values())
        return tables if done else None

    assert {name: figures["FullLoadRows"] for name, figures in wait_for(loaded, limit=60).items()} == seeded

    def caught_up() -> dict:
        """DMS's table statistics once its checkpoint is past the source's last commit (all of it is in S3)."""
        with connection.cursor() as cursor:
            cursor.execute("SHOW MASTER STATUS")
            file, position = cursor.fetchone()[:2]
        end = f"checkpoint:V1#{file}:{position}"
        return wait_for(
            lambda: task_status(dms, task_arn).get("RecoveryCheckpoint") == end and cdc.table_statistics(dms, task_arn),
            limit=30,
        )

    # The workload (a transaction per change; a key change is a DELETE and an INSERT) in two parts. Up to its
    # ALTER TABLE: merged with DMS's full load (the merge's full-load path) and checked. Then the rest: merged
    # incrementally (the partitions it touches, tombstones, the new column) and checked.
    with connect(endpoint, autocommit=False) as writer:
        work = cdc.plan_workload(writer, WORKLOAD_SIZE, SEED)
        transactions = work.transactions
        alter = next(i for i, t in enumerate(transactions) if t[0][0].startswith("ALTER TABLE"))
        cdc.run_workload(writer, cdc.Workload(transactions[:alter]), PART_SECONDS[0])
        caught_up()
        first = merge()
        first_state = merged_matches_mysql(connection, s3)
        cdc.run_workload(writer, cdc.Workload(transactions[alter:]), PART_SECONDS[1])
    statistics = caught_up()
    second = merge()
    final_state = merged_matches_mysql(connection, s3)
    assert merged_matches_mysql(connection, athena=athena) == final_state

    # The reader crashed at each point; after each failed read the task read again from its checkpoint, which
    # had moved on in between (DMS wrote CDC files); the task never failed.
    assert [point for point, _, _ in crashes] == crash_at, crashes
    resumed = [r.getMessage() for r in caplog.records if "reading again from" in r.getMessage()]
    assert len(resumed) == (CRASHES + 1) // 2, resumed
    assert len({message.partition("reading again from ")[2] for message in resumed}) == len(resumed), resumed
    task = task_status(dms, task_arn)
    assert (task["Status"], task.get("LastFailureMessage")) == ("running", None)
    # DMS counted every change of the workload (a change may repeat after a crash, never go missing).
    for name, counts in work.counts.items():
        for what, count in counts.items():
            assert statistics[name][what.capitalize()] >= count, (name, what, statistics[name], counts)
    # The merged state equalled MySQL after each run (cdc.compare raises otherwise); at the end it has the
    # seeded rows plus the workload's inserts minus its deletes.
    assert {name: figures["rows"] for name, figures in final_state.items()} == {
        name: seeded[name] + counts["inserts"] - counts["deletes"] for name, counts in work.counts.items()
    }
    assert all(first_state[name]["checksum"] != final_state[name]["checksum"] for name in TABLES)
    # The job bookmarks: the first run merged the full load and the first changes, the second only the changes
    # since; each of DMS's files was read by exactly one of them.
    assert {name: (first[name]["full_load"], second[name]["full_load"]) for name in TABLES} == dict.fromkeys(
        TABLES, (True, False)
    )
    for name in TABLES:
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{cdc.CDC_FOLDER}/{name.replace('.', '/')}/")["Contents"]
        figures = statistics[name]
        written = figures["FullLoadRows"] + figures["Inserts"] + figures["Updates"] + figures["Deletes"]
        assert (first[name]["files"] + second[name]["files"], first[name]["changes"] + second[name]["changes"]) == (
            len(listed),
            written,
        ), (name, first[name], second[name])

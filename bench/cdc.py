"""The CDC project's measurements (issue 10), for bench/__main__.py's cdc section.

`DmsBench`: a local RDS MySQL instance (MariaDB, binlog ROW/FULL) with the project's source tables
(sql/mysql/schema.sql, MovieLens ratings and movies, the customers), a replication instance, the
MySQL source endpoint and two S3 target endpoints; `close()` deletes all of it, tasks first.
- `commit_latency`: a `cdc` task with CdcMaxBatchInterval=1 (CSV); the client commits one row at a
  time and polls S3 for the object holding it.
- `full_load` / `select_to_csv`: a `full-load` task of movielens.ratings from StartReplicationTask
  to stopped, and the baseline: the same SELECT with pymysql's streaming cursor into a local CSV file.

`MergeBench`: glue_jobs/cdc_merge.py as a Glue job (etl package from --extra-py-files, bookmarks on)
over DMS-shaped Parquet files (`Op`, `_cdc_commit_ts`, the columns of movielens.ratings as DMS types
them for Parquet) that this module writes: a LOAD file of a generated current state, then CDC files
of 1,000 changes each. `ExpectedState` keeps what the state must be after each file, so the job's
figures (inserted, updated, deleted, partitions) are checked against it and a full reload can be
given exactly the state the merge produced.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-only-Secret1"  # a server that lives for one bench run, on 127.0.0.1
TRUST_DMS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "dms.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
FINAL_TASK_STATES = ("stopped", "failed")
FINAL_RUN_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR")


def _session():
    import boto3

    return boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")


def _selection(schema: str, table: str) -> str:
    return json.dumps({"rules": [{
        "rule-type": "selection", "rule-id": "1", "rule-name": "bench",
        "object-locator": {"schema-name": schema, "table-name": table}, "rule-action": "include",
    }]})  # fmt: skip


# ---- RDS MySQL and DMS ---------------------------------------------------------------------------


class DmsBench:
    """The source database and DMS resources of the DMS lines; use as a context manager (deletes all)."""

    def __init__(self, endpoint_url: str, bucket: str, prefix: str = "bench-cdc"):
        session = _session()
        self.endpoint_url, self.bucket, self.prefix = endpoint_url, bucket, prefix
        self.rds = session.client("rds", endpoint_url=endpoint_url)
        self.dms = session.client("dms", endpoint_url=endpoint_url)
        self.iam = session.client("iam", endpoint_url=endpoint_url)
        self.s3 = session.client("s3", endpoint_url=endpoint_url)
        self.db: dict | None = None  # Endpoint of the DB instance
        self.instance_arn = self.source_arn = None
        self.targets: dict[str, str] = {}  # name -> target endpoint ARN
        self.tasks: list[str] = []
        self.ratings_rows = 0

    def __enter__(self) -> DmsBench:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- setup ---------------------------------------------------------------------------------

    def setup(self) -> None:
        """The instance (available), the project's source tables loaded, a probe table, the DMS resources."""
        from labkit.labs import cdc

        group = f"{self.prefix}-binlog"
        self.rds.create_db_parameter_group(DBParameterGroupName=group, DBParameterGroupFamily="mysql8.0",
                                           Description="bench: binlog for CDC")  # fmt: skip
        self.rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[
            {"ParameterName": name, "ParameterValue": value, "ApplyMethod": "immediate"}
            for name, value in {"binlog_format": "ROW", "binlog_row_image": "FULL"}.items()
        ])  # fmt: skip
        self.rds.create_db_instance(
            DBInstanceIdentifier=self.prefix, DBInstanceClass="db.t3.micro", Engine="mysql",
            MasterUsername="admin", MasterUserPassword=PASSWORD, DBName="movielens", AllocatedStorage=20,
            DBParameterGroupName=group, BackupRetentionPeriod=1,
        )  # fmt: skip
        self.rds.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=self.prefix, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600}
        )
        self.db = self.rds.describe_db_instances(DBInstanceIdentifier=self.prefix)["DBInstances"][0]["Endpoint"]
        with self.connect() as connection:
            rows = cdc.seed_source(connection)  # the project's own loader: schema.sql, MovieLens, customers
            self.ratings_rows = rows["movielens.ratings"]
            with connection.cursor() as cursor:
                cursor.execute("CREATE DATABASE bench")
                cursor.execute("CREATE TABLE bench.probe (id INT NOT NULL PRIMARY KEY, marker VARCHAR(40) NOT NULL)")
            connection.commit()

        self.iam.create_role(RoleName=f"{self.prefix}-dms", AssumeRolePolicyDocument=json.dumps(TRUST_DMS))
        actions = ["s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
        resources = [f"arn:aws:s3:::{self.bucket}", f"arn:aws:s3:::{self.bucket}/*"]
        self.iam.put_role_policy(RoleName=f"{self.prefix}-dms", PolicyName="target", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}
        ))  # fmt: skip
        role = self.iam.get_role(RoleName=f"{self.prefix}-dms")["Role"]["Arn"]
        self.instance_arn = self.dms.create_replication_instance(
            ReplicationInstanceIdentifier=self.prefix, ReplicationInstanceClass="dms.t3.micro"
        )["ReplicationInstance"]["ReplicationInstanceArn"]
        self.source_arn = self.dms.create_endpoint(
            EndpointIdentifier=f"{self.prefix}-mysql", EndpointType="source", EngineName="mysql",
            ServerName=self.db["Address"], Port=self.db["Port"], Username="admin", Password=PASSWORD,
        )["Endpoint"]["EndpointArn"]  # fmt: skip
        for name, settings in {"load": {}, "latency": {"CdcMaxBatchInterval": 1}}.items():
            self.targets[name] = self.dms.create_endpoint(
                EndpointIdentifier=f"{self.prefix}-{name}", EndpointType="target", EngineName="s3",
                S3Settings={"BucketName": self.bucket, "BucketFolder": f"{self.prefix}/{name}",
                            "ServiceAccessRoleArn": role, **settings},
            )["Endpoint"]["EndpointArn"]  # fmt: skip

    def connect(self, **kwargs):
        import pymysql

        return pymysql.connect(host=self.db["Address"], port=self.db["Port"], user="admin", password=PASSWORD,
                               **kwargs)  # fmt: skip

    # -- tasks ---------------------------------------------------------------------------------

    def _task(self, arn: str) -> dict:
        filters = [{"Name": "replication-task-arn", "Values": [arn]}]
        return self.dms.describe_replication_tasks(Filters=filters)["ReplicationTasks"][0]

    def create_task(self, identifier: str, migration_type: str, target: str, mappings: str) -> str:
        arn = self.dms.create_replication_task(
            ReplicationTaskIdentifier=identifier, SourceEndpointArn=self.source_arn, TargetEndpointArn=target,
            ReplicationInstanceArn=self.instance_arn, MigrationType=migration_type, TableMappings=mappings,
        )["ReplicationTask"]["ReplicationTaskArn"]  # fmt: skip
        self.tasks.append(arn)
        self.dms.get_waiter("replication_task_ready").wait(
            Filters=[{"Name": "replication-task-arn", "Values": [arn]}], WaiterConfig={"Delay": 0.2, "MaxAttempts": 150}
        )
        return arn

    def wait_status(self, arn: str, wanted: tuple[str, ...], poll: float, limit: float = 300) -> dict:
        deadline = time.monotonic() + limit
        while (task := self._task(arn))["Status"] not in wanted:
            if task["Status"] == "failed":
                raise RuntimeError(
                    f"DMS task {task['ReplicationTaskIdentifier']} failed: {task.get('LastFailureMessage')}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"DMS task {task['ReplicationTaskIdentifier']} still {task['Status']} after {limit} s"
                )
            time.sleep(poll)
        return task

    def delete_task(self, arn: str) -> None:
        task = self._task(arn)
        if task["Status"] in ("starting", "running"):
            self.dms.stop_replication_task(ReplicationTaskArn=arn)
            self.wait_status(arn, FINAL_TASK_STATES, 0.1, limit=60)
        self.dms.delete_replication_task(ReplicationTaskArn=arn)
        self.tasks.remove(arn)

    # -- line 1: commit -> CDC object ----------------------------------------------------------

    def commit_latency(self, commits: int, spacing: float = 0.5, poll: float = 0.02) -> list[float]:
        """Seconds from each COMMIT returning until an S3 object under the table's prefix holds the row.

        A `cdc` task on bench.probe writes CSV batches (CdcMaxBatchInterval=1). One row per commit,
        `spacing` seconds apart; a thread lists the prefix every `poll` seconds and reads each new
        object, noting when each row's marker first shows."""
        arn = self.create_task(f"{self.prefix}-latency", "cdc", self.targets["latency"], _selection("bench", "probe"))
        self.dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
        self.wait_status(arn, ("running",), 0.1)
        prefix = f"{self.prefix}/latency/bench/probe/"
        seen: dict[str, float] = {}
        done = threading.Event()
        errors: list[BaseException] = []
        poller_s3 = _session().client("s3", endpoint_url=self.endpoint_url)

        def poll_s3() -> None:
            read: set[str] = set()
            try:
                while not done.is_set():
                    listed = poller_s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
                    for key in [o["Key"] for o in listed if o["Key"] not in read]:
                        body = poller_s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
                        now = time.perf_counter()
                        read.add(key)
                        for row in csv.reader(io.StringIO(body)):
                            seen.setdefault(row[-1], now)  # Op, id, marker
                    time.sleep(poll)
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                errors.append(error)

        poller = threading.Thread(target=poll_s3, name="bench-cdc-poller", daemon=True)
        poller.start()
        committed: dict[str, float] = {}
        try:
            with self.connect(database="bench", autocommit=False) as connection, connection.cursor() as cursor:
                first = time.perf_counter() + 0.2
                for i in range(commits):
                    time.sleep(max(0.0, first + i * spacing - time.perf_counter()))
                    marker = f"probe-{i:05d}-{time.time_ns()}"
                    cursor.execute("INSERT INTO probe (id, marker) VALUES (%s, %s)", (i, marker))
                    connection.commit()
                    committed[marker] = time.perf_counter()
            deadline = time.monotonic() + 30
            while not errors and not committed.keys() <= seen.keys() and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            done.set()
            poller.join(10)
            self.delete_task(arn)
        if errors:
            raise errors[0]
        missing = sorted(committed.keys() - seen.keys())
        if missing:
            raise AssertionError(f"{len(missing)} of {commits} committed rows never reached S3 (first: {missing[0]})")
        return [seen[marker] - at for marker, at in committed.items()]

    # -- line 2: full load vs SELECT * ---------------------------------------------------------

    def full_load(self, run: int, poll: float = 0.02) -> float:
        """Seconds from StartReplicationTask to `stopped` of a full-load task of movielens.ratings (created,
        ready, before the clock starts); checks it loaded every row."""
        arn = self.create_task(f"{self.prefix}-full-load-{run}", "full-load", self.targets["load"],
                               _selection("movielens", "ratings"))  # fmt: skip
        start = time.perf_counter()
        self.dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="start-replication")
        task = self.wait_status(arn, ("stopped",), poll)
        seconds = time.perf_counter() - start
        loaded = self.dms.describe_table_statistics(ReplicationTaskArn=arn)["TableStatistics"][0]["FullLoadRows"]
        if task.get("StopReason") != "Stop Reason FULL_LOAD_ONLY_FINISHED" or loaded != self.ratings_rows:
            raise AssertionError(f"full load: {task.get('StopReason')}, {loaded} of {self.ratings_rows} rows")
        self.delete_task(arn)
        return seconds

    def select_to_csv(self, path: Path) -> float:
        """The baseline: seconds to connect, `SELECT * FROM movielens.ratings` through pymysql's streaming
        cursor (SSCursor, as local DMS reads) and write every row to a local CSV file."""
        import pymysql.cursors

        start = time.perf_counter()
        rows = 0
        with (
            self.connect(cursorclass=pymysql.cursors.SSCursor) as connection,
            connection.cursor() as cursor,
            open(path, "w", newline="") as file,
        ):
            cursor.execute("SELECT * FROM movielens.ratings")
            writer = csv.writer(file)
            for row in cursor:
                writer.writerow(row)
                rows += 1
        seconds = time.perf_counter() - start
        if rows != self.ratings_rows:
            raise AssertionError(f"SELECT * gave {rows} of {self.ratings_rows} rows")
        return seconds

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Delete what setup made, each step on its own (one failing does not keep the others)."""
        steps = [lambda arn=arn: self.delete_task(arn) for arn in list(self.tasks)]
        steps += [lambda arn=arn: self.dms.delete_endpoint(EndpointArn=arn) for arn in self.targets.values()]
        if self.source_arn:
            steps.append(lambda: self.dms.delete_endpoint(EndpointArn=self.source_arn))
        if self.instance_arn:
            steps.append(lambda: self.dms.delete_replication_instance(ReplicationInstanceArn=self.instance_arn))
        steps.append(lambda: self.rds.delete_db_instance(DBInstanceIdentifier=self.prefix, SkipFinalSnapshot=True))
        failures = []
        for step in steps:
            try:
                step()
            except Exception as error:  # noqa: BLE001 - teardown goes on
                failures.append(error)
        missing = [f for f in failures if "NotFound" not in type(f).__name__ and "NotFound" not in str(f)]
        if missing:
            print(f"  (cleanup: {len(missing)} step(s) failed; first: {missing[0]})")


# ---- the merge: data -----------------------------------------------------------------------------

RATING_COLUMNS = ("userId", "movieId", "rating", "timestamp")


def dms_parquet(frame, op: list[str] | str, commit_ts: list[str] | str) -> bytes:
    """A DMS Parquet file of movielens.ratings rows (IncludeOpForFullLoad, TimestampColumnName=_cdc_commit_ts):
    Op, _cdc_commit_ts, then userId INT -> int32, movieId INT -> int32, rating DECIMAL(2,1) -> decimal(2,1),
    timestamp BIGINT -> int64; DMS's defaults: Parquet 1.0, no compression, 10,024-row row groups."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    count = len(frame)
    ops = pa.array([op] * count if isinstance(op, str) else op, pa.string())
    stamps = pa.array([commit_ts] * count if isinstance(commit_ts, str) else commit_ts, pa.string())
    table = pa.table({
        "Op": ops, "_cdc_commit_ts": stamps,
        "userId": pa.array(frame["userId"].to_numpy(), pa.int32()),
        "movieId": pa.array(frame["movieId"].to_numpy(), pa.int32()),
        "rating": pc.cast(pa.array(frame["rating"].to_numpy(), pa.float64()), pa.decimal128(2, 1)),
        "timestamp": pa.array(frame["timestamp"].to_numpy(), pa.int64()),
    })  # fmt: skip
    sink = io.BytesIO()
    pq.write_table(table, sink, version="1.0", compression="NONE", row_group_size=10_024)
    return sink.getvalue()


def generate_state(path: Path, users: int, per_user: int, seed: int = 42):
    """`users` x `per_user` ratings (users 1..N, each rating `per_user` distinct movies), sampled from the
    real MovieLens ratings: movies by their popularity there, ratings and timestamps from theirs. Sorted by
    key, as a full load reads InnoDB. Kept as a DMS LOAD file at `path` (made once); returns the frame."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    if path.exists():
        frame = pq.read_table(path, columns=list(RATING_COLUMNS)).to_pandas()
        frame["rating"] = frame["rating"].astype(float)
        return frame
    from labkit.labs import datasets

    _, real = datasets.movielens_frames()
    rng = np.random.default_rng(seed)
    draws = per_user + per_user // 2  # enough to find per_user distinct movies among popularity draws
    movies = real["movieId"].to_numpy()[rng.integers(0, len(real), size=(users, draws))]
    # First occurrences in draw order: sort each row stably, drop repeats, keep the first per_user per user.
    order = np.argsort(movies, axis=1, kind="stable")
    ordered = np.take_along_axis(movies, order, axis=1)
    first = np.ones_like(ordered, dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    keep = np.zeros_like(first)
    np.put_along_axis(keep, order, first, axis=1)
    keep &= np.cumsum(keep, axis=1) <= per_user
    if (keep.sum(axis=1) < per_user).any():
        raise RuntimeError("too few distinct movies drawn for a user; raise `draws`")
    frame = pd.DataFrame({
        "userId": np.repeat(np.arange(1, users + 1), per_user),
        "movieId": movies[keep],
        "rating": real["rating"].to_numpy()[rng.integers(0, len(real), users * per_user)],
        "timestamp": real["timestamp"].to_numpy()[rng.integers(0, len(real), users * per_user)],
    }).sort_values(["userId", "movieId"], ignore_index=True)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(dms_parquet(frame, "I", "2026-01-01 00:00:00.000000"))
    partial.replace(path)
    return frame


class ExpectedState:
    """The current state as it must be after each file given to the job (pandas, indexed by key)."""

    def __init__(self, frame):
        self.frame = frame.set_index(["userId", "movieId"]).sort_index()
        self.popular = frame["movieId"].to_numpy()  # insert movies drawn by popularity, as the state was
        self.real_ratings = frame["rating"].to_numpy()

    def changes(self, users, rng, mix=(0.4, 0.4, 0.2)):
        """One change (insert, update, delete by `mix`) per entry of `users`, in that order: updates and deletes
        of keys the user has (each key changed once), inserts of movies the user has not rated. Applied here;
        returns (the changes as a frame with Op, expected figures)."""
        import numpy as np
        import pandas as pd

        index = self.frame.index
        wanted = np.unique(users)
        rated = {int(u): list(movies) for u, movies in
                 self.frame.loc[index.get_level_values(0).isin(wanted)].reset_index().groupby("userId")["movieId"]}  # fmt: skip
        for movies in rated.values():
            rng.shuffle(movies)
        have = {user: set(movies) for user, movies in rated.items()}
        rows, counts = [], {"inserted": 0, "updated": 0, "deleted": 0}
        now = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
        for position, user in enumerate(int(u) for u in users):
            op = rng.choice(["I", "U", "D"], p=mix)
            if op != "I" and not rated.get(user):
                op = "I"  # the user has nothing left to change
            if op == "I":
                while (movie := int(self.popular[rng.integers(len(self.popular))])) in have.setdefault(user, set()):
                    pass
                have[user].add(movie)
                rating = float(self.real_ratings[rng.integers(len(self.real_ratings))])
                rows.append(("I", user, movie, rating, now + position))
                counts["inserted"] += 1
            else:
                movie = int(rated[user].pop())
                old = self.frame.loc[(user, movie)]
                if op == "U":
                    rating = float(rng.choice([r for r in np.arange(0.5, 5.5, 0.5) if r != old["rating"]]))
                    rows.append(("U", user, movie, rating, now + position))
                    counts["updated"] += 1
                else:  # a delete carries the row before it
                    rows.append(("D", user, movie, float(old["rating"]), int(old["timestamp"])))
                    counts["deleted"] += 1
        changes = pd.DataFrame(rows, columns=["Op", *RATING_COLUMNS])
        self._apply(changes)
        return changes, counts

    def _apply(self, changes) -> None:
        import pandas as pd

        keyed = changes.set_index(["userId", "movieId"])
        frame = self.frame.drop(index=keyed.index[keyed["Op"] != "I"])
        kept = keyed.loc[keyed["Op"] != "D", ["rating", "timestamp"]]
        self.frame = pd.concat([frame, kept]).sort_index()

    def partitions(self, changes=None) -> int:
        """user_bucket partitions the changes touch (without: the state has)."""
        if changes is None:
            return int((self.frame.index.get_level_values(0) // 100).nunique())
        return int(changes["userId"].floordiv(100).nunique())

    def rows(self) -> int:
        return len(self.frame)


# ---- the merge: the job ------------------------------------------------------------------------

TABLES = {
    "movielens.ratings": {
        "keys": ["userId", "movieId"],
        "partition": {"column": "user_bucket", "expression": "floor(userId / 100)"},
    }
}


class MergeBench:
    """glue_jobs/cdc_merge.py as a Glue job on local AWS over DMS files under s3://<bucket>/<prefix>/cdc/."""

    def __init__(self, endpoint_url: str, bucket: str, prefix: str = "bench-merge", job: str = "bench-cdc-merge"):
        from labkit.operators.packaging import zip_package

        session = _session()
        self.s3 = session.client("s3", endpoint_url=endpoint_url)
        self.glue = session.client("glue", endpoint_url=endpoint_url)
        self.logs = session.client("logs", endpoint_url=endpoint_url)
        self.bucket, self.prefix, self.job = bucket, prefix, job
        self.cdc_prefix = f"{prefix}/cdc/movielens/ratings/"
        self.s3.upload_file(str(ROOT / "glue_jobs/cdc_merge.py"), bucket, f"{prefix}/cdc_merge.py")
        self.s3.put_object(Bucket=bucket, Key=f"{prefix}/etl.zip", Body=zip_package(ROOT / "glue_jobs/etl"))
        self.glue.create_database(DatabaseInput={"Name": "bench_cdc"})
        self.glue.create_job(
            Name=job, Role="arn:aws:iam::123456789012:role/bench", GlueVersion="5.0",
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{bucket}/{prefix}/cdc_merge.py", "PythonVersion": "3"},
            ExecutionProperty={"MaxConcurrentRuns": 1},
            DefaultArguments={
                "--extra-py-files": f"s3://{bucket}/{prefix}/etl.zip",
                "--job-bookmark-option": "job-bookmark-enable",
                "--cdc_path": f"s3://{bucket}/{prefix}/cdc/",
                "--target_path": f"s3://{bucket}/{prefix}/current/",
                "--tombstone_path": f"s3://{bucket}/{prefix}/cdc-state/tombstones/",
                "--database": "bench_cdc",
                "--tables": json.dumps(TABLES),
            },
        )  # fmt: skip
        self._clock = datetime.now(UTC)

    def _name(self) -> str:
        """A CDC file name: the batch time in milliseconds, later than every earlier one."""
        self._clock = max(self._clock + timedelta(milliseconds=1), datetime.now(UTC))
        return self._clock.strftime("%Y%m%d-%H%M%S") + f"{self._clock.microsecond // 1000:03d}.parquet"

    def put_load(self, number: int, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=f"{self.cdc_prefix}LOAD{number:08X}.parquet", Body=body)

    def put_changes(self, changes) -> None:
        name = self._name()
        stamp = self._clock.isoformat(" ", "microseconds").removesuffix("+00:00")
        body = dms_parquet(changes, changes["Op"].tolist(), stamp)
        self.s3.put_object(Bucket=self.bucket, Key=f"{self.cdc_prefix}{name}", Body=body)

    def run(self) -> tuple[float, dict]:
        """Seconds from StartJobRun to SUCCEEDED (polled every 50 ms); the job's figures for the table."""
        start = time.perf_counter()
        run_id = self.glue.start_job_run(JobName=self.job)["JobRunId"]
        while (run := self.glue.get_job_run(JobName=self.job, RunId=run_id)["JobRun"])["JobRunState"] not in (
            FINAL_RUN_STATES
        ):
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        if run["JobRunState"] != "SUCCEEDED":
            raise RuntimeError(f"merge run {run_id} {run['JobRunState']}: {run.get('ErrorMessage')}")
        pages = self.logs.get_paginator("filter_log_events").paginate(
            logGroupName="/aws-glue/jobs/output", logStreamNames=[run_id]
        )
        marker = "cdc_merge movielens.ratings: "
        for page in pages:
            for event in page["events"]:
                if event["message"].startswith(marker + "{"):
                    return seconds, json.loads(event["message"][len(marker) :])
        raise RuntimeError(f"merge run {run_id} printed no figures for movielens.ratings")


def checked(figures: dict, expected: dict, partitions: int | None = None) -> dict:
    """The job's figures, after checking they are what the changes must give."""
    got = {key: figures.get(key) for key in expected}
    if got != expected or (partitions is not None and figures.get("partitions_rewritten") != partitions):
        raise AssertionError(f"the merge did not do what the changes ask: {figures}, expected {expected}, "
                             f"{partitions} partitions")  # fmt: skip
    return figures

"""python -m bench: local AWS timings side by side with their baselines.

1. Glue job warm run (StartJobRun -> SUCCEEDED) on a small CSV against the same script on a
   SparkSession in this process over local files (no S3A, no run lifecycle), taking turns, medians.
   Both drop cached data after each run (the script caches its typed rows; a fresh Glue driver has none).
2. CSV -> Parquet of N generated flights: the Glue job vs DuckDB's COPY of the same file.
3. An Athena GROUP BY through the API (start -> results) vs the same SQL on DuckDB directly
   over the same Parquet files in local S3.
4. The Athena conformance suite (tests/conformance: setup, then every case in order).
5. Glue lab 5's join job (ratings x movies -> per movie, per genre, top N, as Parquet) on 10x
   the MovieLens ratings vs the same SQL on DuckDB directly over the same CSV files.
6. Lambda Invoke latency through the API, cold (a new execution environment) vs warm (reused),
   medians of --lambda-invokes calls, against calling the same handler directly in-process.
7. S3 notification -> handler start latency (PutObject until the handler's first line), median
   of --notifications uploads, against a direct Event invoke of the same (warm) function.
8. S3 with IAM enforcement: GetObject as an IAM user under a bucket policy, enforced vs not.
9. S3 data plane: PUT and GET of one --s3-object-mb object and --ranged-gets ranged GETs of 64 KiB,
   through local AWS vs moto alone (moto's ThreadedMotoServer in a fresh interpreter, none of local
   AWS's patches) vs the local file system. Both servers run in processes of their own, so neither
   shares an interpreter with this client.
10. CDC project (bench/cdc.py), on a local RDS MySQL instance with the project's source tables:
    commit -> CDC object in S3: p50 and p95 over --cdc-commits single-row commits 0.5 s apart, from the
    client's COMMIT returning until an object under the table's prefix holds the row (a `cdc` task,
    CSV, CdcMaxBatchInterval=1; S3 polled every 20 ms), against the interval itself.
11. DMS full load of MovieLens ratings (a `full-load` task, StartReplicationTask -> stopped) vs
    `SELECT *` through pymysql's streaming cursor into a local CSV file; taking turns, best of 2.
12. The CDC merge job (glue_jobs/cdc_merge.py) applying 1,000 changes concentrated on 10 users to a
    current state of 100 ratings each for --cdc-users users (2M rows, user_bucket = floor(userId / 100):
    201 partitions) vs the same job rewriting the whole state (a full reload: a LOAD file of the state
    the merge gives); taking turns, best of 2. Also 1,000 changes scattered over random users (no target).
13. Clickstream project (bench/clickstream.py), the project's CloudFormation stack on local AWS: events/s
    from the first PutRecords until every event is counted in a scored window (--click-events events on
    --click-shards shards, Kinesis write limits on, 2-second windows) vs the generator sending them to a
    client that accepts every record at once.
14. Anomaly onset -> alert in the SQS subscription: after a warm-up, a CTR drop and a burst (1,000 events
    per 2-second window, threshold 2.8), seconds from the anomaly's first event to its alert, in windows.
15. Firehose Direct PUT of --firehose-mb MB of clickstream records (PutRecordBatch, 5 MiB buffers, uncompressed),
    one buffer at a time: from the call that fills a buffer until a listing shows its object, vs PutObject of the
    same bytes until a listing shows it; medians. The PutRecordBatch ingest rate beside it (no target).
    Firehose's Direct PUT quota (5 MiB/s in us-east-1) is off for the bench: it would measure AWS's quota, not
    local AWS's work.

--only glue|athena|join|lambda|s3|cdc|clickstream runs one section (1-2, 3-4, 5, 6-7, 8-9, 10-12, 13-15); repeat it for several.

Targets (from the project's issues): warm job <= 1.3x the script on a local SparkSession,
Glue/DuckDB <= 3x, Athena/DuckDB <= 1.3x, local AWS's S3 data plane no slower than moto alone,
commit -> CDC object <= 2 s, full load <= 1.5x SELECT * to CSV, local merge <= 0.2x a whole rewrite,
clickstream >= 5,000 events/s to scored windows, anomaly -> alert <= 2 windows, Firehose <= 1.5x PutObject.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

GROUP_BY = """
SELECT carrier, count(*) AS flights, round(avg(arr_delay), 2) AS avg_arr_delay, sum(distance) AS distance
FROM {table} GROUP BY carrier ORDER BY flights DESC
"""


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


class Bench:
    def __init__(self, endpoint: str, region: str = "us-east-1"):
        import boto3

        session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name=region)
        self.s3 = session.client("s3", endpoint_url=endpoint)
        self.glue = session.client("glue", endpoint_url=endpoint)
        self.athena = session.client("athena", endpoint_url=endpoint)
        self.bucket = "bench-data"
        self.s3.create_bucket(Bucket=self.bucket)

    def setup_job(self) -> str:
        from labkit.operators.packaging import zip_package

        self.s3.upload_file(str(ROOT / "glue_jobs/flights_csv_to_parquet.py"), self.bucket, "scripts/job.py")
        self.s3.put_object(Bucket=self.bucket, Key="scripts/etl.zip", Body=zip_package(ROOT / "glue_jobs/etl"))
        self.glue.create_job(
            Name="bench-csv-to-parquet",
            Role="arn:aws:iam::123456789012:role/bench",
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{self.bucket}/scripts/job.py", "PythonVersion": "3"},
            GlueVersion="5.0",
            DefaultArguments={"--extra-py-files": f"s3://{self.bucket}/scripts/etl.zip"},
            ExecutionProperty={"MaxConcurrentRuns": 4},
        )
        return "bench-csv-to-parquet"

    def run_job(self, job: str, source: str, target: str) -> float:
        """Seconds from StartJobRun to SUCCEEDED, polled every 50 ms."""
        start = time.perf_counter()
        run_id = self.glue.start_job_run(
            JobName=job,
            Arguments={
                "--source_path": f"s3://{self.bucket}/{source}",
                "--target_path": f"s3://{self.bucket}/{target}",
                "--bad_records_path": f"s3://{self.bucket}/bad/{target}",
            },
        )["JobRunId"]
        while True:
            run = self.glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
            if run["JobRunState"] in ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"):
                break
            time.sleep(0.05)
        if run["JobRunState"] != "SUCCEEDED":
            raise RuntimeError(f"job run {run_id} {run['JobRunState']}: {run.get('ErrorMessage')}")
        return time.perf_counter() - start

    def crawl(self, database: str, path: str) -> None:
        self.glue.create_crawler(
            Name="bench-crawler", Role="bench", DatabaseName=database, Targets={"S3Targets": [{"Path": path}]}
        )
        self.glue.start_crawler(Name="bench-crawler")
        while self.glue.get_crawler(Name="bench-crawler")["Crawler"]["State"] != "READY":
            time.sleep(0.1)
        last = self.glue.get_crawler(Name="bench-crawler")["Crawler"]["LastCrawl"]
        if last["Status"] != "SUCCEEDED":
            raise RuntimeError(f"crawl failed: {last.get('ErrorMessage')}")

    def athena_query(self, sql: str, database: str) -> tuple[float, list]:
        start = time.perf_counter()
        query_id = self.athena.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": database},
            ResultConfiguration={"OutputLocation": f"s3://{self.bucket}/athena/"},
        )["QueryExecutionId"]
        while True:
            status = self.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                break
            time.sleep(0.02)
        if status["State"] != "SUCCEEDED":
            raise RuntimeError(f"query failed: {status.get('StateChangeReason')}")
        rows = []
        for page in self.athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
            rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
        return time.perf_counter() - start, rows[1:]


class LocalSpark:
    """The Glue job's own script on a SparkSession of this process, on local files (the warm run's baseline).

    What the job costs without the emulator (S3A through local S3, the run's lifecycle and logs), so the
    Glue warm run's ratio to it is local AWS's overhead. The script runs as Glue would, with the local
    awsglue package (local_aws/glue/runtime) and the same Spark settings as the driver's that matter.
    """

    def __init__(self, csv_path: Path, out_dir: Path):
        from pyspark.sql import SparkSession

        self.csv_path, self.out_dir = csv_path, out_dir
        sys.path[:0] = [str(ROOT / "local_aws/glue/runtime"), str(ROOT / "glue_jobs")]
        self.spark = (
            SparkSession.builder.master("local[2]")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "4g")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )

    def run(self) -> float:
        """Seconds the script takes."""
        import runpy

        argv = sys.argv
        sys.argv = ["flights_csv_to_parquet.py", "--JOB_NAME", "local-spark", "--source_path", f"file://{self.csv_path}",
                    "--target_path", f"file://{self.out_dir}/good", "--bad_records_path", f"file://{self.out_dir}/bad"]  # fmt: skip
        try:
            return timed(runpy.run_path, str(ROOT / "glue_jobs/flights_csv_to_parquet.py"), run_name="__main__")[0]
        finally:
            sys.argv = argv
            # The script caches its typed rows; a later run would reuse them (same plan) and skip reading
            # and typing the CSV. The Glue driver drops cached data after every run, as a fresh driver on AWS
            # starts without any: so does the baseline, or it would not do the same work.
            self.spark.catalog.clearCache()

    def stop(self) -> None:
        self.spark.stop()


def duckdb_copy(csv_path: Path, out_dir: Path) -> float:
    import duckdb

    con = duckdb.connect()
    start = time.perf_counter()
    con.execute(
        f"COPY (SELECT *, make_date(year, month, day) AS flight_date FROM read_csv('{csv_path}', header=true)) "
        f"TO '{out_dir}' (FORMAT parquet, PARTITION_BY (year, month), OVERWRITE_OR_IGNORE)"
    )
    return time.perf_counter() - start


def duckdb_group_by(endpoint: str, bucket: str, prefix: str) -> tuple[float, list]:
    """The same GROUP BY on DuckDB directly, over the same Parquet objects through pyarrow's S3 filesystem."""
    import duckdb
    import pyarrow.dataset as ds
    from pyarrow import fs

    s3 = fs.S3FileSystem(
        access_key="bench", secret_key="bench", region="us-east-1", endpoint_override=endpoint, scheme="http"
    )
    start = time.perf_counter()
    dataset = ds.dataset(f"{bucket}/{prefix}", filesystem=s3, format="parquet", partitioning="hive")
    con = duckdb.connect()
    con.register("flights", dataset)
    rows = con.execute(GROUP_BY.format(table="flights")).fetchall()
    return time.perf_counter() - start, rows


# Glue lab 5's job (glue_jobs/etl/movie_ratings.py) as DuckDB SQL, written to Parquet like the job.
LAB5_SQL = {
    "movie_ratings": """
        SELECT m.movieId AS movie_id, m.title, m.year, m.genres, count(*) AS rating_count, avg(r.rating) AS avg_rating
        FROM ratings r JOIN movies m ON r.movieId = m.movieId GROUP BY ALL""",
    "genre_ratings": """
        SELECT genre, count(DISTINCT movie_id) AS movie_count, count(*) AS rating_count, avg(rating) AS avg_rating
        FROM (SELECT unnest(string_split(m.genres, '|')) AS genre, m.movieId AS movie_id, r.rating
              FROM ratings r JOIN movies m ON r.movieId = m.movieId)
        GROUP BY genre""",
    "top_movies": """
        SELECT row_number() OVER (ORDER BY avg_rating DESC, rating_count DESC, movie_id) AS rank, *
        FROM movie_ratings WHERE rating_count >= {min_ratings} QUALIFY rank <= {top_n}""",
}


LAB5_PREFIX = "lab5"


def lab5_setup(bench: Bench, movies_csv: Path, ratings_csv: Path) -> None:
    """The lab 5 CSVs in local S3, crawled into database bench_lab5, and the job."""
    from labkit.operators.packaging import zip_package

    prefix = LAB5_PREFIX
    bench.s3.upload_file(str(movies_csv), bench.bucket, f"{prefix}/raw/movies/movies.csv")
    bench.s3.upload_file(str(ratings_csv), bench.bucket, f"{prefix}/raw/ratings/ratings.csv")
    bench.s3.upload_file(str(ROOT / "glue_jobs/movie_ratings_joins.py"), bench.bucket, f"{prefix}/job.py")
    bench.s3.put_object(Bucket=bench.bucket, Key=f"{prefix}/etl.zip", Body=zip_package(ROOT / "glue_jobs/etl"))
    bench.glue.create_database(DatabaseInput={"Name": "bench_lab5"})
    bench.glue.create_crawler(
        Name="bench-lab5-crawler",
        Role="bench",
        DatabaseName="bench_lab5",
        TablePrefix="raw_",
        Targets={
            "S3Targets": [{"Path": f"s3://{bench.bucket}/{prefix}/raw/{name}/"} for name in ("movies", "ratings")]
        },
    )
    bench.glue.start_crawler(Name="bench-lab5-crawler")
    while (crawler := bench.glue.get_crawler(Name="bench-lab5-crawler")["Crawler"])["State"] != "READY":
        time.sleep(0.1)
    if crawler["LastCrawl"]["Status"] != "SUCCEEDED":
        raise RuntimeError(f"lab 5 crawl failed: {crawler['LastCrawl'].get('ErrorMessage')}")
    bench.glue.create_job(
        Name="bench-lab5-joins",
        Role="arn:aws:iam::123456789012:role/bench",
        Command={"Name": "glueetl", "ScriptLocation": f"s3://{bench.bucket}/{prefix}/job.py", "PythonVersion": "3"},
        GlueVersion="5.0",
        DefaultArguments={"--extra-py-files": f"s3://{bench.bucket}/{prefix}/etl.zip"},
    )


def lab5_glue_join(bench: Bench, top_n: int, min_ratings: int) -> tuple[float, list]:
    """Seconds from StartJobRun to SUCCEEDED of the lab 5 job; its top movie ids."""
    import pyarrow.parquet as pq
    from pyarrow import fs

    prefix = LAB5_PREFIX
    start = time.perf_counter()
    run_id = bench.glue.start_job_run(
        JobName="bench-lab5-joins",
        Arguments={
            "--database": "bench_lab5",
            "--movies_table": "raw_movies",
            "--ratings_table": "raw_ratings",
            "--target_path": f"s3://{bench.bucket}/{prefix}/curated/",
            "--top_n": str(top_n),
            "--min_ratings": str(min_ratings),
        },
    )["JobRunId"]
    while (run := bench.glue.get_job_run(JobName="bench-lab5-joins", RunId=run_id)["JobRun"])["JobRunState"] not in (
        "SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR"
    ):  # fmt: skip
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if run["JobRunState"] != "SUCCEEDED":
        raise RuntimeError(f"lab 5 job run {run_id} {run['JobRunState']}: {run.get('ErrorMessage')}")
    s3 = fs.S3FileSystem(
        access_key="bench", secret_key="bench", region="us-east-1",
        endpoint_override=bench.s3.meta.endpoint_url, scheme="http",
    )  # fmt: skip
    top = pq.read_table(f"{bench.bucket}/{prefix}/curated/top_movies/", filesystem=s3).sort_by("rank")
    return seconds, top.column("movie_id").to_pylist()


def lab5_duckdb_join(
    movies_csv: Path, ratings_csv: Path, out_dir: Path, top_n: int, min_ratings: int
) -> tuple[float, list]:
    """The same figures with DuckDB over the same CSV files, written as Parquet; its top movie ids."""
    import duckdb

    con = duckdb.connect()
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    con.execute(f"CREATE VIEW movies AS SELECT * FROM read_csv('{movies_csv}', header=true)")
    con.execute(f"CREATE VIEW ratings AS SELECT * FROM read_csv('{ratings_csv}', header=true)")
    for name, sql in LAB5_SQL.items():
        query = sql.format(top_n=top_n, min_ratings=min_ratings)
        con.execute(f"COPY ({query}) TO '{out_dir / name}.parquet' (FORMAT parquet)")
        if name == "movie_ratings":  # top_movies ranks what was just written, as the job does with its cache
            con.execute(f"CREATE VIEW movie_ratings AS SELECT * FROM '{out_dir / name}.parquet'")
    seconds = time.perf_counter() - start
    top = con.execute(f"SELECT movie_id FROM '{out_dir}/top_movies.parquet' ORDER BY rank").fetchall()
    return seconds, [movie_id for (movie_id,) in top]


def conformance_suite(endpoint: str) -> tuple[float, int, list[str]]:
    """Seconds to run every Athena conformance case (after its setup); the case count and failed cases."""
    from tests.conformance.cases import CASES
    from tests.conformance.test_conformance import failure, prepare

    athena = prepare(endpoint)
    start = time.perf_counter()
    failed = [case["name"] for case in CASES if failure(athena, case) is not None]
    return time.perf_counter() - start, len(CASES), failed


LAMBDA_HANDLER = """
def handler(event, context):
    values = event["values"]
    return {"count": len(values), "total": sum(values)}
"""


def python_function(session, endpoint: str, name: str, role_name: str, source: str, **fields) -> str:
    """Creates the python3.12 function `name` (`source` as app.py, app.handler) under a new execution role
    `role_name` that Lambda may assume, waits until it is Active and returns its ARN."""
    import io
    import json
    import zipfile

    iam, lam = session.client("iam", endpoint_url=endpoint), session.client("lambda", endpoint_url=endpoint)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("app.py", source)
    arn = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
        Code={"ZipFile": package.getvalue()}, **fields,
    )["FunctionArn"]  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)  # Pending until provisioned, as on AWS
    return arn


def lambda_latency(endpoint: str, invokes: int) -> tuple[float, float, float]:
    """Median seconds of a cold Invoke, a warm Invoke and a direct in-process call of the same handler."""
    import json

    import boto3

    session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")
    lam = session.client("lambda", endpoint_url=endpoint)
    python_function(session, endpoint, "bench-sum", "bench-lambda", LAMBDA_HANDLER)
    event = {"values": list(range(1000))}
    payload = json.dumps(event).encode()
    expected = {"count": 1000, "total": sum(range(1000))}

    def call() -> float:
        seconds, response = timed(lam.invoke, FunctionName="bench-sum", Payload=payload)
        assert json.loads(response["Payload"].read()) == expected, "the Lambda handler returned something else"
        return seconds

    cold = []
    for run in range(invokes):
        # A configuration change retires the environment: the next Invoke starts a new one, as on AWS.
        lam.update_function_configuration(FunctionName="bench-sum", Environment={"Variables": {"RUN": str(run)}})
        lam.get_waiter("function_updated_v2").wait(FunctionName="bench-sum", WaiterConfig={"Delay": 0.1})
        cold.append(call())
    warm = [call() for _ in range(invokes)]
    namespace: dict = {}
    exec(LAMBDA_HANDLER, namespace)  # the baseline: the same handler, called directly
    direct = [timed(namespace["handler"], event, None)[0] for _ in range(invokes)]
    return statistics.median(cold), statistics.median(warm), statistics.median(direct)


NOTIFIED_HANDLER = """
import json, os, time
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    started = time.time()
    sqs.send_message(QueueUrl=os.environ["STARTS"], MessageBody=json.dumps({"started": started}))
"""


def notification_latency(endpoint: str, uploads: int) -> tuple[float, float]:
    """Median seconds from PutObject to the notified handler's start, and from an Event Invoke to it."""
    import json

    import boto3

    session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")
    lam = session.client("lambda", endpoint_url=endpoint)
    s3, sqs = session.client("s3", endpoint_url=endpoint), session.client("sqs", endpoint_url=endpoint)
    starts = sqs.create_queue(QueueName="bench-handler-starts")["QueueUrl"]
    function = python_function(
        session, endpoint, "bench-on-upload", "bench-notified", NOTIFIED_HANDLER,
        Environment={"Variables": {"STARTS": starts}},
    )  # fmt: skip
    s3.create_bucket(Bucket="bench-notified")
    lam.add_permission(  # S3 invokes only a function whose resource-based policy allows it, as on AWS
        FunctionName=function, StatementId="s3-invoke", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bench-notified",
    )  # fmt: skip
    s3.put_bucket_notification_configuration(
        Bucket="bench-notified",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": function, "Events": ["s3:ObjectCreated:Put"]}]
        },
    )

    def started_after(trigger) -> float:
        sent = time.time()
        trigger()
        while not (messages := sqs.receive_message(QueueUrl=starts, WaitTimeSeconds=1).get("Messages")):
            pass
        sqs.delete_message(QueueUrl=starts, ReceiptHandle=messages[0]["ReceiptHandle"])
        return json.loads(messages[0]["Body"])["started"] - sent

    def upload(i: int):
        return lambda: s3.put_object(Bucket="bench-notified", Key=f"uploads/{i}.csv", Body=b"a,b\n1,2\n")

    def event(i: int):
        return lambda: lam.invoke(FunctionName="bench-on-upload", InvocationType="Event", Payload=json.dumps({"i": i}))

    started_after(event(-1))  # the cold start is not what this measures
    notified, direct = [], []
    for i in range(uploads):  # interleaved, so both see the same machine
        notified.append(started_after(upload(i)))
        direct.append(started_after(event(i)))
    return statistics.median(notified), statistics.median(direct)


def s3_policy_overhead(endpoint: str, requests: int) -> tuple[float, float]:
    """Median GetObject seconds as an IAM user whose access a bucket policy with conditions decides,
    with IAM enforcement on and off (the baseline: the same request, nothing evaluated)."""
    import json

    import boto3

    from local_aws import config

    root = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")
    s3, iam = root.client("s3", endpoint_url=endpoint), root.client("iam", endpoint_url=endpoint)
    bucket = "bench-policies"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="reports/q1.csv", Body=b"region,revenue\nnorth,120\n")
    arn = iam.create_user(UserName="bench-analyst")["User"]["Arn"]
    iam.put_user_policy(
        UserName="bench-analyst",
        PolicyName="read-reports",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/reports/*"}
                ],
            }
        ),
    )
    statements = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": arn},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/shared/*",
        },
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}},
        },
        {
            "Effect": "Deny",
            "Principal": {"AWS": arn},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/home/${{aws:username}}/private/*",
        },
    ]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName="bench-analyst")["AccessKey"]
    user = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )

    def get() -> float:
        return timed(lambda: user.get_object(Bucket=bucket, Key="reports/q1.csv")["Body"].read())[0]

    get()  # warm the connection pool and the router
    # Interleaved, so load on the machine weighs on both sides alike.
    enforced, unenforced = [], []
    try:
        for _ in range(requests):
            config.settings.iam_enforcement = True
            enforced.append(get())
            config.settings.iam_enforcement = False
            unenforced.append(get())
    finally:
        config.settings.iam_enforcement = True
    enforced, unenforced = statistics.median(enforced), statistics.median(unenforced)
    return enforced, unenforced


# A server in a process of its own, on a free port: `local` is local AWS as the bench runs it (without
# the warm Spark driver), `moto` is moto's ThreadedMotoServer in a fresh interpreter, so none of local
# AWS's patches (which apply to moto's process-global backends) are installed. Both print their port.
SERVER_PROCESS = """
import logging, shutil, sys, tempfile
from pathlib import Path
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # as local AWS does: no line per request
work_dir = Path(tempfile.mkdtemp())
if sys.argv[1] == "local":
    from local_aws import config
    from local_aws.server import LocalAWS
    server = LocalAWS(config.Settings(port=0, work_dir=work_dir / "local_aws")).start()
    port = server.settings.port
else:
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
print(port, flush=True)
sys.stdin.read()  # serve until the bench closes our stdin
server.stop()
shutil.rmtree(work_dir, ignore_errors=True)
"""


class ServerProcess:
    """`python -c SERVER_PROCESS kind` while in the with block; .endpoint_url is where it serves."""

    def __init__(self, kind: str):
        import subprocess

        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER_PROCESS, kind],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
        port = self.process.stdout.readline().strip()
        if not port:
            self.process.kill()
            raise RuntimeError(f"the {kind} S3 server did not start (exit code {self.process.wait()})")
        self.endpoint_url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(30)
        except Exception:
            self.process.kill()
            self.process.wait()


def s3_data_plane(
    endpoints: dict[str, str], folder: Path, megabytes: int, ranged_gets: int, range_bytes: int, repeat: int
) -> dict[str, dict[str, float]]:
    """Seconds to PUT one object of `megabytes` and GET it whole (medians of `repeat` rounds), and to GET
    `ranged_gets` ranges of it at seeded offsets (one pass), per S3 endpoint and on the local file system
    (write, read, pread): {side: {"put", "get", "ranged"}}. The sides take turns, so load on the machine
    weighs on all alike."""
    import random

    import boto3

    body = os.urandom(megabytes << 20)
    rng = random.Random(42)
    offsets = [rng.randrange(0, len(body) - range_bytes) for _ in range(ranged_gets)]
    clients = {
        side: boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="bench", aws_secret_access_key="bench")
        for side, endpoint in endpoints.items()
    }  # fmt: skip
    for s3 in clients.values():
        s3.create_bucket(Bucket="bench-data-plane")
        # Warm the connection pool and what a server builds on its first object request (local AWS: IAM's
        # managed policies, about a second), which no later request pays again.
        s3.put_object(Bucket="bench-data-plane", Key="warm-up", Body=b"x")
        s3.get_object(Bucket="bench-data-plane", Key="warm-up", Range="bytes=0-0")["Body"].read()
    path = folder / "data-plane.bin"

    def s3_put_get(s3) -> tuple[float, float]:
        put = timed(s3.put_object, Bucket="bench-data-plane", Key="big.bin", Body=body)[0]
        get, read = timed(lambda: s3.get_object(Bucket="bench-data-plane", Key="big.bin")["Body"].read())
        assert read == body, "the object read back differs from the one written"
        return put, get

    def s3_ranges(s3) -> None:
        for offset in offsets:
            last = offset + range_bytes - 1
            chunk = s3.get_object(Bucket="bench-data-plane", Key="big.bin", Range=f"bytes={offset}-{last}")
            assert chunk["Body"].read() == body[offset : last + 1]

    def file_put_get() -> tuple[float, float]:
        put = timed(path.write_bytes, body)[0]
        get, read = timed(path.read_bytes)
        assert read == body
        return put, get

    def file_ranges() -> None:
        with open(path, "rb", buffering=0) as file:
            for offset in offsets:
                assert os.pread(file.fileno(), range_bytes, offset) == body[offset : offset + range_bytes]

    sides = {side: (lambda s3=s3: s3_put_get(s3), lambda s3=s3: s3_ranges(s3)) for side, s3 in clients.items()}
    sides["file system"] = (file_put_get, file_ranges)
    rounds: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
    order = list(sides)
    for turn in range(repeat):
        for side in order[turn % len(order) :] + order[: turn % len(order)]:  # each side goes first in turn
            rounds[side].append(sides[side][0]())
    results = {
        side: {
            "put": statistics.median(put for put, _ in rounds[side]),
            "get": statistics.median(get for _, get in rounds[side]),
            "ranged": timed(ranges)[0],
        }
        for side, (_, ranges) in sides.items()
    }
    path.unlink(missing_ok=True)
    return results


def report(name: str, ours: float, baseline: float | None, target: str, baseline_name: str = "") -> None:
    if baseline is None:
        print(f"  {name:<44} {ours:8.2f}s  {'':>24}  target {target}")
    else:
        print(
            f"  {name:<44} {ours:8.2f}s  {baseline_name} {baseline:6.2f}s  ratio {ours / baseline:5.2f}x  target {target}"
        )


SECTIONS = ("glue", "athena", "join", "lambda", "s3", "cdc", "clickstream")


def glue_section(bench: Bench, job: str, args, small: Path, large: Path, scratch: Path) -> None:
    print("\nGlue jobs")
    local = LocalSpark(small, scratch / "local-spark-out")
    try:
        first = bench.run_job(job, "small/", "out-small/")
        # Two runs each before timing: the JVMs' JIT compilers are still at work on the first runs of both.
        bench.run_job(job, "small/", "out-small/")
        local.run(), local.run()
        # Taking turns, so load on the machine weighs on both alike.
        glue_runs, local_runs = [], []
        for _ in range(args.repeat):
            glue_runs.append(bench.run_job(job, "small/", "out-small/"))
            local_runs.append(local.run())
    finally:
        local.stop()
    report("first run (the driver starts with the server)", first, None, "-")
    report(
        f"warm run, {args.small_rows:,} rows (median of {args.repeat})",
        statistics.median(glue_runs),
        statistics.median(local_runs),
        "<= 1.3x",
        "local Spark",
    )
    print(
        f"  {'':<44} runs: Glue {' '.join(f'{t:.2f}' for t in glue_runs)}, local {' '.join(f'{t:.2f}' for t in local_runs)}"
    )

    glue_large = bench.run_job(job, "large/", "out-large/")
    duck_large = duckdb_copy(large, scratch / "duckdb-out")
    report(f"CSV -> Parquet, {args.rows:,} rows", glue_large, duck_large, "<= 3x", "DuckDB COPY")


def athena_section(bench: Bench, endpoint: str, args) -> None:
    print("\nAthena")
    bench.glue.create_database(DatabaseInput={"Name": "bench"})
    bench.crawl("bench", f"s3://{bench.bucket}/out-large/")  # -> table out_large, one partition per month
    sql = GROUP_BY.format(table="out_large")
    ours, our_rows = zip(*(bench.athena_query(sql, "bench") for _ in range(args.repeat)), strict=True)
    theirs, their_rows = zip(
        *(duckdb_group_by(endpoint, bench.bucket, "out-large/") for _ in range(args.repeat)),
        strict=True,
    )
    assert len(our_rows[0]) == len(their_rows[0]), "Athena and DuckDB disagree on the number of groups"
    report(
        f"GROUP BY carrier over {args.rows:,} rows (median)",
        statistics.median(ours),
        statistics.median(theirs),
        "<= 1.3x",
        "DuckDB",
    )

    seconds, cases, failed = conformance_suite(endpoint)
    report(f"conformance suite, {cases} queries ({len(failed)} failed)", seconds, None, "-")
    if failed:
        print(f"    failed: {', '.join(failed)}")


def join_section(
    bench: Bench, args, movielens: dict[str, Path], ratings_csv: Path, ratings: int, scratch: Path
) -> None:
    print("\nGlue lab 5 join")
    lab5_setup(bench, movielens["movies"], ratings_csv)
    ours, our_tops = zip(*(lab5_glue_join(bench, 10, 50) for _ in range(args.repeat)), strict=True)
    theirs, their_tops = zip(
        *(
            lab5_duckdb_join(movielens["movies"], ratings_csv, scratch / "duckdb-lab5", 10, 50)
            for _ in range(args.repeat)
        ),
        strict=True,
    )
    if our_tops[0] != their_tops[0]:
        raise AssertionError(f"Glue and DuckDB disagree on the top movies: {our_tops[0]} vs {their_tops[0]}")
    report(
        f"ratings x movies, {ratings:,} ratings (median)",
        statistics.median(ours),
        statistics.median(theirs),
        "-",
        "DuckDB",
    )


def lambda_section(endpoint: str, args) -> None:
    print("\nLambda")
    cold, warm, direct = lambda_latency(endpoint, args.lambda_invokes)
    print(
        f"  {'Invoke latency (median of ' + str(args.lambda_invokes) + ')':<44} cold {cold * 1000:7.1f} ms  "
        f"warm {warm * 1000:6.1f} ms  cold/warm {cold / warm:5.1f}x"
    )
    print(
        f"  {'warm Invoke vs the handler called directly':<44} direct {direct * 1e6:6.1f} us  "
        f"warm/direct {warm / direct:8.0f}x  target -"
    )
    notified, direct_event = notification_latency(endpoint, args.notifications)
    print(
        f"  {'S3 upload -> handler start (median of ' + str(args.notifications) + ')':<44} "
        f"{notified * 1000:7.1f} ms  Event Invoke {direct_event * 1000:6.1f} ms  "
        f"ratio {notified / direct_event:5.2f}x  target <= 1.5x"
    )


def s3_section(endpoint: str, args, scratch: Path) -> None:
    print("\nS3 with IAM enforcement")
    enforced, unenforced = s3_policy_overhead(endpoint, args.s3_requests)
    report(
        f"GetObject as an IAM user under a bucket policy (median of {args.s3_requests})",
        enforced,
        unenforced,
        "<= 1.2x",
        "not enforced",
    )

    print(
        f"\nS3 data plane: one {args.s3_object_mb} MB object (PUT and GET: median of {args.repeat}), "
        f"{args.ranged_gets:,} ranged GETs of 64 KiB; each server in a process of its own"
    )
    with ServerProcess("local") as ours, ServerProcess("moto") as moto:
        sides = s3_data_plane(
            {"local AWS": ours.endpoint_url, "moto alone": moto.endpoint_url},
            scratch, args.s3_object_mb, args.ranged_gets, 64 << 10, args.repeat,
        )  # fmt: skip
    names = {"put": f"PutObject, {args.s3_object_mb} MB", "get": f"GetObject, {args.s3_object_mb} MB",
             "ranged": f"{args.ranged_gets:,} ranged GetObject"}  # fmt: skip
    for measure, name in names.items():
        ours, moto, files = (sides[side][measure] for side in ("local AWS", "moto alone", "file system"))
        report(name, ours, moto, "<= 1.0x", "moto alone")
        print(f"  {'':<44} {'':>9}  file system {files:6.3f}s  local AWS / file system {ours / files:,.0f}x")


def cdc_section(bench: Bench, args, data_dir: Path, scratch: Path) -> None:
    import numpy as np

    from bench import cdc
    from local_aws.glue import job_runner

    print("\nCDC project: RDS MySQL -> DMS -> S3 -> Glue merge")
    job_runner.warm_up(wait=True)  # the Spark driver starts with the server: up before DMS is timed
    endpoint = bench.s3.meta.endpoint_url
    with cdc.DmsBench(endpoint, bench.bucket) as dms:
        dms.setup()
        loads, selects = [], []
        for run in range(2):  # taking turns, so load on the machine weighs on both alike
            loads.append(dms.full_load(run))
            selects.append(dms.select_to_csv(scratch / "ratings-select.csv"))
        latencies = dms.commit_latency(args.cdc_commits)
    p50, p95 = np.percentile(latencies, [50, 95])
    interval = 1.0
    print(
        f"  {f'commit -> CDC object in S3 ({args.cdc_commits} commits)':<44} p50 {p50:5.2f}s  p95 {p95:5.2f}s  "
        f"CdcMaxBatchInterval {interval:4.2f}s  p50 {p50 / interval:4.2f}x  p95 {p95 / interval:4.2f}x  target <= 2 s"
    )
    rows = dms.ratings_rows
    report(f"full load, {rows:,} ratings (best of 2)", min(loads), min(selects), "<= 1.5x", "SELECT * to CSV")
    print(
        f"  {'':<44} rows/s: DMS {rows / min(loads):,.0f}, SELECT * {rows / min(selects):,.0f}; "
        f"runs: DMS {' '.join(f'{t:.2f}' for t in loads)}, SELECT {' '.join(f'{t:.2f}' for t in selects)}"
    )

    users = args.cdc_users
    rng = np.random.default_rng(7)
    state = cdc.ExpectedState(cdc.generate_state(data_dir / f"cdc_ratings_{users * 100}.parquet", users, 100))
    merge = cdc.MergeBench(endpoint, bench.bucket)
    merge.put_load(1, (data_dir / f"cdc_ratings_{users * 100}.parquet").read_bytes())
    build, figures = merge.run()
    cdc.checked(figures, {"inserted": state.rows(), "full_load": True}, state.partitions())

    def local_merge() -> float:
        active = rng.choice(np.arange(1, users + 1), 10, replace=False)  # 10 active users
        changes, counts = state.changes(rng.choice(active, 1000), rng)
        merge.put_changes(changes)
        seconds, figures = merge.run()
        cdc.checked(figures, {**counts, "changes": 1000, "full_load": False}, state.partitions(changes))
        return seconds

    def reload(number: int) -> float:
        merge.put_load(number, cdc.dms_parquet(state.frame.reset_index(), "I", "2026-06-01 00:00:00.000000"))
        seconds, figures = merge.run()
        cdc.checked(figures, {"inserted": state.rows(), "full_load": True}, state.partitions())
        return seconds

    local_merge()  # warm-up: the first merge that reads and rewrites some partitions
    merges, rewrites = [], []
    for number in (2, 3):
        merges.append(local_merge())
        rewrites.append(reload(number))
    scattered = rng.integers(1, users + 1, 1000)
    changes, counts = state.changes(scattered, rng)
    merge.put_changes(changes)
    spread, figures = merge.run()
    cdc.checked(figures, {**counts, "changes": 1000, "full_load": False}, state.partitions(changes))
    print(f"  {f'build: full load of {users * 100:,} ratings':<44} {build:8.2f}s  (untimed setup, first run)")
    report(
        f"merge 1,000 changes of 10 users ({state.rows():,} rows; best of 2)",
        min(merges), min(rewrites), "<= 0.2x", "whole rewrite",
    )  # fmt: skip
    print(
        f"  {'':<44} runs: merge {' '.join(f'{t:.2f}' for t in merges)}, "
        f"whole rewrite {' '.join(f'{t:.2f}' for t in rewrites)}"
    )
    report(
        f"merge 1,000 changes of random users ({figures['partitions_rewritten']} partitions)",
        spread, min(rewrites), "-", "whole rewrite",
    )  # fmt: skip


def clickstream_section(bench: Bench, args) -> None:
    from bench import clickstream

    print("\nClickstream project: Kinesis -> Lambda tumbling windows -> SNS; Firehose")
    with clickstream.ClickstreamBench(bench.s3.meta.endpoint_url, bench.bucket) as click:
        rate, no_op, details = click.throughput(args.click_events, args.click_shards, window_seconds=2)
        print(
            f"  {f'PutRecords -> scored windows ({args.click_shards} shards)':<44} {rate:8,.0f}/s  "
            f"no-op client {no_op:8,.0f}/s  ratio {rate / no_op:5.2f}x  target >= 5,000/s"
        )
        print(
            f"  {'':<44} {details['events']:,} events in {details['windows']} windows; PutRecords "
            f"{details['put_seconds']:.1f} s ({details['calls']:,} calls, {details['retried']:,} records retried "
            f"after throttling), last window scored {details['after_last_put']:.1f} s after the last put"
        )
        result = click.alert_latency(window_seconds=2, events_per_window=1000, threshold=2.8)
        for name, seconds in result["latency"].items():
            figure = "no alert" if seconds is None else f"{seconds:6.2f}s  {seconds / 2:4.2f} windows"
            print(f"  {f'{name} onset -> alert in SQS (2-s windows)':<44} {figure}  target <= 2 windows")
        print(f"  {'':<44} {result['alerts']} alerts, {result['stray_alerts']} outside the anomalies")
        fh = click.firehose_delivery(args.firehose_mb)
        report(
            f"Firehose buffer full -> object listed (5 MiB, median of {fh['objects']})",
            fh["delivery"], fh["put_object"], "<= 1.5x", "PutObject",
        )  # fmt: skip
        print(
            f"  {'':<44} ingest: {fh['records']:,} records, {fh['bytes'] / 2**20:,.0f} MiB in {fh['calls']:,} "
            f"PutRecordBatch calls, {fh['records'] / fh['ingest_seconds']:,.0f} records/s, "
            f"{fh['bytes'] / 2**20 / fh['ingest_seconds']:.1f} MiB/s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run only this section (repeatable): glue (warm run, CSV -> Parquet), athena (GROUP BY, "
        "conformance suite; runs the large Glue job first for its data), join (Glue lab 5), lambda, "
        "s3 (IAM enforcement, data plane), cdc (DMS latency and full load, CDC merge), clickstream "
        "(events/s to scored windows, anomaly -> alert, Firehose delivery); default: all",
    )
    parser.add_argument("--rows", type=int, default=10_000_000, help="flights for the CSV -> Parquet comparison")
    parser.add_argument("--small-rows", type=int, default=10_000, help="flights for the warm job run")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs, queries and S3 rounds to take the median of")
    parser.add_argument("--join-scale", type=int, default=10, help="lab 5 join on N times the MovieLens ratings")
    parser.add_argument(
        "--lambda-invokes", type=int, default=20, help="cold and warm Lambda invokes to take the median of"
    )
    parser.add_argument(
        "--notifications", type=int, default=20, help="S3 uploads (and Event invokes) to take the latency median of"
    )
    parser.add_argument("--s3-requests", type=int, default=200, help="S3 GETs to take the policy-overhead median of")
    parser.add_argument("--s3-object-mb", type=int, default=256, help="size of the S3 data plane's object in MB")
    parser.add_argument("--ranged-gets", type=int, default=1000, help="ranged GETs of the S3 data plane's object")
    parser.add_argument("--cdc-commits", type=int, default=40, help="commits to take the CDC latency p50/p95 of")
    parser.add_argument(
        "--cdc-users", type=int, default=20_000, help="users of the CDC merge's current state (100 ratings each)"
    )
    parser.add_argument("--click-events", type=int, default=120_000, help="events of the clickstream throughput run")
    parser.add_argument("--click-shards", type=int, default=8, help="shards of the clickstream throughput run")
    parser.add_argument("--firehose-mb", type=int, default=50, help="MB of records the Firehose line delivers")
    args = parser.parse_args(argv)
    only = set(args.only or SECTIONS)

    from labkit.core import paths
    from labkit.labs import datasets
    from local_aws import config
    from local_aws.server import LocalAWS

    data_dir = paths.DATA_DIR / "bench"
    print(f"generating data in {data_dir} (kept for the next run)")
    small = datasets.generate_flights_csv(data_dir / f"flights_{args.small_rows}.csv", args.small_rows)
    large = data_dir / f"flights_{args.rows}.csv"
    if only & {"glue", "athena"} and not large.exists():
        datasets.generate_flights_csv(large, args.rows)
    if "join" in only:
        movielens = datasets.export_movielens_csvs(paths.DATA_DIR / "movielens")
        join_ratings = args.join_scale * datasets.RATINGS_ROWS
        ratings_csv = data_dir / f"ratings_{join_ratings}.csv"
        if not ratings_csv.exists():
            datasets.generate_ratings_csv(ratings_csv, join_ratings)

    spark = bool(only & {"glue", "athena", "join", "cdc"})
    with (
        tempfile.TemporaryDirectory() as scratch,
        LocalAWS(
            config.Settings(
                port=0, warm_spark=spark, work_dir=Path(scratch) / "local_aws", firehose_throughput_limits=False
            )
        ) as server,
    ):
        # Clients made without explicit credentials (the conformance cases') get dummy ones.
        for variable, value in {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            os.environ.setdefault(variable, value)
        bench = Bench(server.endpoint_url)
        if only & {"glue", "athena"}:
            job = bench.setup_job()
            bench.s3.upload_file(str(small), bench.bucket, "small/flights.csv")
            bench.s3.upload_file(str(large), bench.bucket, "large/flights.csv")
        if "glue" in only:
            glue_section(bench, job, args, small, large, Path(scratch))
        elif "athena" in only:
            bench.run_job(job, "large/", "out-large/")  # the Parquet the Athena section queries
        if "athena" in only:
            athena_section(bench, server.endpoint_url, args)
        if "join" in only:
            join_section(bench, args, movielens, ratings_csv, join_ratings, Path(scratch))
        if "lambda" in only:
            lambda_section(server.endpoint_url, args)
        if "s3" in only:
            s3_section(server.endpoint_url, args, Path(scratch))
        if "cdc" in only:
            cdc_section(bench, args, data_dir, Path(scratch))
        if "clickstream" in only:
            clickstream_section(bench, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

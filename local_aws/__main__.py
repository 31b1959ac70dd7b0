"""python -m local_aws: serve local AWS in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from local_aws import DEFAULT_PORT, config
from local_aws.server import LocalAWS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws",
        description=(
            "Serve local AWS: moto's server for every service moto has, plus executors that run "
            "Glue jobs on a warm local Spark, Glue crawlers, Athena queries (DuckDB) and Python Lambda handlers. "
            "Point boto3, the AWS CLI or Airflow at it with AWS_ENDPOINT_URL=http://HOST:PORT."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on, 0 for a free one (default: %(default)s)"
    )
    parser.add_argument(
        "--warm-spark",
        action="store_true",
        help="start the Spark driver now rather than on the first Glue job run",
    )
    parser.add_argument("--log-requests", action="store_true", help="log every HTTP request")
    parser.add_argument(
        "--no-iam-enforcement",
        dest="iam_enforcement",
        action="store_false",
        help="let every S3 request through whatever IAM and bucket policies say, and let S3 and SNS invoke "
        "functions without a resource-based permission (default: enforce them; "
        "keys not issued by IAM/STS act as the account root either way)",
    )
    parser.add_argument(
        "--no-kinesis-limits",
        dest="kinesis_limits",
        action="store_false",
        help="let Kinesis shards take any write rate (default: 1,000 records and 1 MiB per second per shard, "
        "over which PutRecord is throttled and PutRecords fails those records)",
    )
    parser.add_argument(
        "--no-tls",
        dest="tls",
        action="store_false",
        help="serve plain HTTP only (default: HTTPS on the same port too, CA in WORK_DIR/tls/ca.pem)",
    )
    parser.add_argument(
        "--glue-minute-seconds",
        type=float,
        default=60.0,
        help="length in seconds of one minute of a Glue job's Timeout; lower it only for tests (default: %(default)s)",
    )
    parser.add_argument(
        "--lambda-retry-delay-seconds",
        type=float,
        default=60.0,
        help="wait before the first retry of a failed Event invocation, twice that before the second "
        "(AWS: about 1 and 2 minutes; default: %(default)s)",
    )
    parser.add_argument(
        "--lambda-max-environments",
        type=int,
        default=8,
        help="most Lambda execution environments (worker processes) running at once (default: %(default)s)",
    )
    parser.add_argument(
        "--lambda-idle-seconds",
        type=float,
        default=300.0,
        help="stop a Lambda execution environment idle this long (default: %(default)s)",
    )
    parser.add_argument(
        "--s3-access-log-flush-seconds",
        type=float,
        default=3.0,
        help="deliver buffered S3 server access log records this often (AWS: best effort, minutes; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="folder for the Spark driver's scratch files and logs (default: .local_aws/ in the repo)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = config.Settings(
        host=args.host,
        port=args.port,
        warm_spark=args.warm_spark,
        log_requests=args.log_requests,
        iam_enforcement=args.iam_enforcement,
        kinesis_limits=args.kinesis_limits,
        tls=args.tls,
        glue_minute_seconds=args.glue_minute_seconds,
        lambda_retry_delay_seconds=args.lambda_retry_delay_seconds,
        lambda_max_environments=args.lambda_max_environments,
        lambda_idle_seconds=args.lambda_idle_seconds,
        s3_access_log_flush_seconds=args.s3_access_log_flush_seconds,
    )
    if args.work_dir is not None:
        settings.work_dir = args.work_dir
    server = LocalAWS(settings).start()
    print(f"local AWS ready at {server.endpoint_url}", flush=True)
    if settings.tls:
        print(f"  also https:// on the same port; trust {settings.ca_bundle}", flush=True)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    print("local AWS stopping", flush=True)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m labkit.clickstream: send impression and click events to a Kinesis stream, phase by phase.

Progress goes to stderr once a second; the summary (delivered impressions and clicks per phase,
retries, failures by error code) is printed to stdout as JSON. Exit status 1 when records were
lost after every retry (the summary is printed all the same).
"""

from __future__ import annotations

import argparse
import json
import sys

from labkit.clickstream.events import DEFAULT_PHASES, parse_phases
from labkit.clickstream.producer import RecordsLost, Retry, send


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m labkit.clickstream",
        description="Send the course's clickstream (Impression and Click events, JSON) to a Kinesis data stream "
        "at a target rate, phase by phase, each phase with its click-through rate. Works against AWS as is; "
        "for local AWS pass --endpoint-url or set AWS_ENDPOINT_URL.",
    )
    parser.add_argument("--stream", required=True, help="the Kinesis data stream's name or ARN")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second (default: %(default)s)")
    parser.add_argument(
        "--phases",
        default=DEFAULT_PHASES,
        help="comma-separated name:seconds:ctr_percent, in order (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="the same seed sends the same events (default: %(default)s)"
    )
    parser.add_argument("--region", default=None, help="AWS region (default: the AWS configuration's)")
    parser.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:4566 for local AWS")
    parser.add_argument(
        "--max-attempts",
        type=int,
        default=Retry.attempts,
        help="PutRecords calls per record before it counts as lost (default: %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    try:
        args.phases = parse_phases(args.phases)
    except ValueError as error:
        parser.error(str(error))
    if args.rate <= 0 or args.max_attempts < 1:
        parser.error("--rate must be > 0 and --max-attempts at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import boto3  # after --help, which needs no AWS library

    client = boto3.client("kinesis", region_name=args.region, endpoint_url=args.endpoint_url)
    try:
        summary = send(
            client,
            args.stream,
            args.phases,
            args.rate,
            args.seed,
            retry=Retry(attempts=args.max_attempts),
            progress=None if args.quiet else sys.stderr,
        )
    except RecordsLost as lost:
        print(json.dumps(lost.summary.to_dict(), indent=2))
        print(f"error: {lost}", file=sys.stderr)
        return 1
    print(json.dumps(summary.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

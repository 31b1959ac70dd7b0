"""The clickstream project's measurements (issue 11), for bench/__main__.py's clickstream section.

Each measurement deploys cloudformation/clickstream.yaml (stream, Firehose archive, detector
function and its event source mapping, SNS topic with the SQS queue) on local AWS as the DAG does,
sends the generator's events (labkit.clickstream.send, the DAG's producer) and deletes the stack.

- `throughput`: events/s from the first PutRecords until every event is counted in a scored
  window's record under processed/ (the detector's output), on a stream of several shards with
  Kinesis's write limits on; against the generator sending the same events to a client that
  accepts every record at once (its own ceiling).
- `alert_latency`: a warm-up, then a CTR drop and a burst; the time from an anomaly's first event
  being due until its alert is in the SQS subscription (polled every 50 ms), in windows.
- `firehose_delivery`: a Direct PUT delivery stream (uncompressed, 5 MiB buffers) fed the
  generator's records in PutRecordBatch calls, one buffer at a time: from the call that fills a
  buffer until a listing shows its object, against the client's PutObject of the same bytes until a
  listing shows it (the same observer for both: a listing every 5 ms); medians over the objects. The records are cut where
  a buffer seals by size, so no object waits for the buffering interval. The ingest rate of
  PutRecordBatch (500 records a call) is reported beside it, without a target: it is the API's
  cost per record, which Firehose has on AWS too.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "cloudformation/clickstream.yaml"
MIB = 1024 * 1024


def _session():
    import boto3

    return boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")


class NoOpKinesis:
    """A Kinesis client that accepts every record at once: the generator's own ceiling."""

    def put_records(self, Records, **target):  # noqa: N803 (boto3's argument name)
        return {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "0", "ShardId": "s"}] * len(Records)}


class ClickstreamBench:
    """Deploys the project's stack for one measurement; use as a context manager (deletes the stacks)."""

    def __init__(self, endpoint_url: str, code_bucket: str):
        from labkit.operators.packaging import zip_module

        session = _session()
        self.clients = {name: session.client(name, endpoint_url=endpoint_url)
                        for name in ("cloudformation", "kinesis", "firehose", "s3", "sqs", "iam")}  # fmt: skip
        self.code_bucket = code_bucket
        self.clients["s3"].put_object(
            Bucket=code_bucket,
            Key="clickstream/detector.zip",
            Body=zip_module(ROOT / "lambdas/ctr_anomaly_detector.py", distributions=["krcf"]),
        )
        self.stacks: list[str] = []

    def __enter__(self) -> ClickstreamBench:
        return self

    def __exit__(self, *exc) -> None:
        for stack in self.stacks:
            self.delete(stack)

    # -- the stack ------------------------------------------------------------------------------

    def deploy(self, prefix: str, shards: int, window_seconds: int, threshold: float) -> dict[str, str]:
        from labkit.labs.clickstream_project import stack_parameters

        cloudformation = self.clients["cloudformation"]
        parameters = stack_parameters(
            prefix, self.code_bucket, "clickstream/detector.zip", window_seconds, threshold, "bench@example.com", 60
        )
        parameters.append({"ParameterKey": "ShardCount", "ParameterValue": str(shards)})
        cloudformation.create_stack(
            StackName=prefix,
            TemplateBody=TEMPLATE.read_text(),
            Parameters=parameters,
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        self.stacks.append(prefix)
        stack = self._wait(prefix, "CREATE_IN_PROGRESS")
        if stack["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(f"stack {prefix}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
        return {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}

    def delete(self, prefix: str) -> None:
        s3 = self.clients["s3"]
        bucket = f"{prefix}-clickstream-data"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):  # the stack leaves a full bucket
            if page.get("Contents"):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": o["Key"]} for o in page["Contents"]]})
        self.clients["cloudformation"].delete_stack(StackName=prefix)
        stack = self._wait(prefix, "DELETE_IN_PROGRESS")
        if stack and stack["StackStatus"] != "DELETE_COMPLETE":
            print(f"  (stack {prefix} not deleted: {stack['StackStatus']} {stack.get('StackStatusReason', '')})")

    def _wait(self, prefix: str, while_status: str) -> dict | None:
        from botocore.exceptions import ClientError

        while True:
            try:
                stack = self.clients["cloudformation"].describe_stacks(StackName=prefix)["Stacks"][0]
            except ClientError:  # deleted and gone
                return None
            if stack["StackStatus"] != while_status:
                return stack
            time.sleep(0.2)

    # -- measurements ---------------------------------------------------------------------------

    def throughput(self, events: int, shards: int, window_seconds: int) -> tuple[float, float, dict]:
        """(events/s PutRecords -> scored windows, events/s to a no-op client, details)."""
        from labkit.clickstream import Phase, send

        phases = [Phase("normal", events / 100_000, 10)]  # due within 10 ms: sent as fast as the stream takes them
        started = time.perf_counter()
        send(NoOpKinesis(), "no-op", phases, rate=100_000, seed=3, progress=None)
        no_op = events / (time.perf_counter() - started)

        outputs = self.deploy("bench-clicks-rate", shards, window_seconds, threshold=2.8)
        started = time.perf_counter()
        summary = send(self.clients["kinesis"], outputs["StreamName"], phases, rate=100_000, seed=3, progress=None)
        sent = time.perf_counter()
        counted, windows = 0, 0
        seen: set[str] = set()
        while counted < summary.sent:
            if time.perf_counter() - sent > 120:
                raise RuntimeError(f"only {counted:,} of {summary.sent:,} events in scored windows after 120 s")
            for record in self._new_windows(outputs["DataBucket"], seen):
                counted += record["clicks"] + record["impressions"] + record["ignored_records"]
                windows += 1
            time.sleep(0.05)
        done = time.perf_counter()
        details = {
            "events": summary.sent, "retried": summary.retried, "calls": summary.calls, "windows": windows,
            "put_seconds": sent - started, "after_last_put": done - sent,
        }  # fmt: skip
        return summary.sent / (done - started), no_op, details

    def _new_windows(self, bucket: str, seen: set[str]):
        s3 = self.clients["s3"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="processed/"):
            for item in page.get("Contents", []):
                if item["Key"] not in seen:
                    seen.add(item["Key"])
                    yield json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())

    def alert_latency(self, window_seconds: int, events_per_window: int, threshold: float) -> dict:
        """Seconds from each anomaly's first due event to its first alert in SQS; alerts outside anomalies."""
        from labkit.clickstream import send
        from labkit.labs.clickstream_project import next_window_start, plan

        run = plan("warmup:30:10,normal:5:10,drop:3:1,normal:10:10,burst:3:40,normal:3:10", window_seconds,
                   events_per_window)  # fmt: skip
        outputs = self.deploy("bench-clicks-alert", 1, window_seconds, threshold)
        alerts: list[tuple[float, datetime]] = []  # (time.time() it was received, its window start)
        stop = threading.Event()
        poller = threading.Thread(target=self._poll_alerts, args=(outputs["AlertQueueUrl"], alerts, stop))
        poller.start()
        try:
            start = next_window_start(window_seconds)
            send(self.clients["kinesis"], outputs["StreamName"], run.phases, run.rate, seed=11, start=start,
                 progress=None)  # fmt: skip
            time.sleep(3 * window_seconds)  # the last windows close, their alerts arrive
        finally:
            stop.set()
            poller.join()
        onsets, offset = {}, 0.0
        spans = []  # (phase name, start, end) in event time
        for phase in run.phases:
            spans.append(
                (phase.name, start + timedelta(seconds=offset), start + timedelta(seconds=offset + phase.seconds))
            )
            offset += phase.seconds
        for name, begin, end in spans:
            if name in ("drop", "burst"):
                first = [received for received, window in alerts if begin <= window < end]
                onsets[name] = min(first) - begin.timestamp() if first else None
        stray = [window for _, window in alerts
                 if not any(name in ("drop", "burst") and begin <= window < end + timedelta(seconds=2 * window_seconds)
                            for name, begin, end in spans)]  # fmt: skip
        return {"latency": onsets, "stray_alerts": len(stray), "alerts": len(alerts)}

    def _poll_alerts(self, queue_url: str, alerts: list, stop: threading.Event) -> None:
        sqs = self.clients["sqs"]
        while not stop.is_set():
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            received = time.time()
            for message in messages:
                body = json.loads(message["Body"])
                window = body["MessageAttributes"]["window_start"]["Value"]
                alerts.append((received, datetime.fromisoformat(window.replace("Z", "+00:00"))))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not messages:
                time.sleep(0.05)

    @staticmethod
    def _listed(s3, bucket: str, count: int, since: float) -> float:
        """Seconds from `since` until a listing of the bucket shows `count` objects (listed every 5 ms)."""
        while s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) < count:
            if time.perf_counter() - since > 60:
                raise RuntimeError(f"s3://{bucket} does not list {count} objects after 60 s")
            time.sleep(0.005)  # the listings share the server with the delivery: not back to back
        return time.perf_counter() - since

    def firehose_delivery(self, megabytes: int) -> dict:
        """Per 5 MiB object: seconds from the PutRecordBatch call that fills a buffer to its object in S3,
        and of a PutObject of the same bytes; the PutRecordBatch ingest rate."""
        import statistics

        from labkit.clickstream import Phase, generate

        s3, firehose, iam = self.clients["s3"], self.clients["firehose"], self.clients["iam"]
        buffer_bytes = 5 * MIB
        objects: list[list[bytes]] = []  # each buffer's records, up to the one that seals it
        pending, size = [], 0
        events = generate([Phase("normal", 10_000, 10)], 100, 5, datetime(2026, 1, 5, tzinfo=UTC))
        while len(objects) * buffer_bytes < megabytes * MIB:
            event = next(events)
            pending.append(event.data)
            size += len(event.data)
            if size >= buffer_bytes:
                objects.append(pending)
                pending, size = [], 0
        for bucket in ("bench-firehose-out", "bench-direct-out"):
            s3.create_bucket(Bucket=bucket)
        role = iam.create_role(RoleName="bench-firehose", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }))["Role"]["Arn"]  # fmt: skip
        iam.put_role_policy(RoleName="bench-firehose", PolicyName="write", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bench-firehose-out/*"}],
        }))  # fmt: skip
        firehose.create_delivery_stream(
            DeliveryStreamName="bench-archive",
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "BucketARN": "arn:aws:s3:::bench-firehose-out", "RoleARN": role, "CompressionFormat": "UNCOMPRESSED",
                "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 900},
            },
        )  # fmt: skip
        deliveries, directs, ingest, calls = [], [], 0.0, 0
        for number, records in enumerate(objects):
            started = time.perf_counter()
            for batch in _record_batches(records):
                calls += 1
                response = firehose.put_record_batch(
                    DeliveryStreamName="bench-archive", Records=[{"Data": d} for d in batch]
                )
                if response["FailedPutCount"]:
                    raise RuntimeError(f"PutRecordBatch refused {response['FailedPutCount']} records")
            sealed = time.perf_counter()
            ingest += sealed - started
            deliveries.append(self._listed(s3, "bench-firehose-out", number + 1, sealed))
            body = b"".join(records)
            started = time.perf_counter()
            s3.put_object(Bucket="bench-direct-out", Key=f"direct/{number:05d}", Body=body)
            directs.append(self._listed(s3, "bench-direct-out", number + 1, started))
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="bench-firehose-out")["Contents"]]
        delivered = {s3.get_object(Bucket="bench-firehose-out", Key=key)["Body"].read() for key in keys}
        if delivered != {b"".join(records) for records in objects}:
            raise RuntimeError("Firehose's objects are not the records concatenated as sent")
        firehose.delete_delivery_stream(DeliveryStreamName="bench-archive")
        total = sum(len(d) for records in objects for d in records)
        return {
            "delivery": statistics.median(deliveries), "put_object": statistics.median(directs),
            "objects": len(objects), "bytes": total, "records": sum(map(len, objects)), "calls": calls,
            "ingest_seconds": ingest,
        }  # fmt: skip


def _record_batches(records: list[bytes]):
    """PutRecordBatch calls: at most 500 records and 4 MiB each."""
    batch, size = [], 0
    for data in records:
        if batch and (len(batch) == 500 or size + len(data) > 4 * MIB):
            yield batch
            batch, size = [], 0
        batch.append(data)
        size += len(data)
    if batch:
        yield batch

"""What a delivery stream reports: CloudWatch metrics in AWS/Firehose and delivery errors in CloudWatch Logs.

Metrics (dimension DeliveryStreamName), summed per stream and published every second (AWS: every minute):
IncomingBytes, IncomingRecords, IncomingPutRequests, PutRecord.Bytes / .Requests, PutRecordBatch.Bytes /
.Records / .Requests, DataReadFromKinesisStream.Bytes / .Records, DeliveryToS3.Bytes / .Records /
.Success (1 or 0 per attempt) / .DataFreshness, SucceedConversion.Records / .Bytes and
FailedConversion.Records / .Bytes. They go to moto's CloudWatch backend in process, so GetMetricStatistics
and ListMetrics show them.

Delivery errors are logged, when the destination's CloudWatchLoggingOptions are enabled, to its log group
and stream as JSON lines carrying deliveryStreamARN, destination, deliveryStreamVersionId, message and
errorCode (S3.AccessDenied, S3.NoSuchBucket, ...).
"""

from __future__ import annotations

import json
import logging
import threading
import time

from local_aws.firehose.buffering import StreamState

log = logging.getLogger(__name__)

NAMESPACE = "AWS/Firehose"
UNITS = {"Bytes": "Bytes", "Records": "Count", "Requests": "Count", "Success": "Count", "DataFreshness": "Seconds"}


PUBLISH_EVERY = 1.0  # seconds: values are summed per stream and published at most this often

_lock = threading.Lock()


def publish(state: StreamState, values: dict[str, float]) -> None:
    """Count metric values (by name) for the stream; published within PUBLISH_EVERY seconds (flush())."""
    with _lock:
        for name, value in values.items():
            found = state.metrics.get(name)
            if found is None:
                state.metrics[name] = [float(value), 1, float(value), float(value)]  # sum, count, min, max
            else:
                found[0] += value
                found[1] += 1
                found[2] = min(found[2], value)
                found[3] = max(found[3], value)
        due = time.monotonic() - state.metrics_published >= PUBLISH_EVERY
    if due:
        flush(state)


def flush(state: StreamState) -> None:
    """Publish what publish() counted as one aggregated datum per metric; a metric never fails what it measures.

    Aggregated so that moto's CloudWatch, which keeps every datum, does not grow with every PutRecord.
    """
    from moto.cloudwatch.models import cloudwatch_backends

    with _lock:
        pending, state.metrics = state.metrics, {}
        state.metrics_published = time.monotonic()
    if not pending:
        return
    data = []
    for name, (total, count, least, most) in pending.items():
        unit = UNITS.get(name.rsplit(".", 1)[-1].removeprefix("Incoming"), "Count")
        data.append({"MetricName": name, "Unit": unit,
                     "StatisticValues": {"Sum": total, "SampleCount": count, "Minimum": least, "Maximum": most},
                     "Dimensions": [{"Name": "DeliveryStreamName", "Value": state.name}]})  # fmt: skip
    try:
        cloudwatch_backends[state.account_id][state.region].put_metric_data(NAMESPACE, data)
    except Exception:  # noqa: BLE001
        log.exception("Firehose %s: metrics not published", state.name)


def log_error(state: StreamState, group: str | None, stream: str | None, destination: str, version: str,
              code: str, message: str, first: bool = True) -> None:  # fmt: skip
    """Append a delivery error to the destination's CloudWatch Logs stream (when logging is enabled).

    first: the batch's first failure with this error; retries failing alike log here at debug level only.
    """
    log.log(logging.WARNING if first else logging.DEBUG, "Firehose %s: delivery to %s failed: %s: %s",
            state.name, destination, code, message)  # fmt: skip
    if not group or not stream:
        return
    from local_aws.logs.writer import write_lines

    line = json.dumps({"deliveryStreamARN": state.arn, "destination": destination,
                       "deliveryStreamVersionId": int(version) if str(version).isdigit() else version,
                       "message": message, "errorCode": code})  # fmt: skip
    try:
        write_lines(group, stream, [line], region=state.region)
    except Exception:  # noqa: BLE001
        log.exception("Firehose %s: error log not written to %s/%s", state.name, group, stream)

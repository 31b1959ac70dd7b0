"""Delivery of sealed batches to S3, as the destination's role, and the worker that runs it on time.

A batch becomes one object `<evaluated prefix><stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><extension>`
(prefixes.py), the timestamps being the arrival of its oldest record in the destination's time zone. Its
body is the records concatenated exactly as sent, GZIP-compressed when CompressionFormat is GZIP, or with
format conversion a Parquet / ORC object of the records that convert (conversion.py) plus, under the
error output prefix (`format-conversion-failed`), one JSON line per record that does not, in AWS's error
document shape.

Objects are written with the S3 API as the destination's RoleARN (assumed through STS once it trusts
firehose.amazonaws.com), so IAM policies and bucket policies decide as on AWS, and SSE-KMS is applied
when EncryptionConfiguration names a key. A failed write (S3.AccessDenied, S3.NoSuchBucket, ...) keeps the
batch at the head of the queue; it is retried every `Settings.firehose_retry_seconds`, later batches
waiting behind it, and dropped once 24 hours old, as AWS documents. Each failure is logged to the
destination's CloudWatch Logs stream when logging is enabled, and counts in DeliveryToS3.Success.

The Deliverer worker wakes when a put seals a batch, when the open buffer's interval ends and when a
failed batch is due again; DeleteDeliveryStream and the server's stop deliver what is buffered at once
(final_flush), one attempt each.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_aws import clients, clock, config, workers
from local_aws.firehose import conversion, monitoring, prefixes
from local_aws.firehose.buffering import RETENTION, Batch, StreamState, find_state, state_of
from local_aws.firehose.configuration import ConfigError, S3Destination, s3_destination_of
from local_aws.iam.trust import trusts_service

log = logging.getLogger(__name__)

FIREHOSE_PRINCIPAL = "firehose.amazonaws.com"
FORMAT_CONVERSION_FAILED = "format-conversion-failed"
ROLE_CACHE_SECONDS = 30.0  # assumed-role credentials are reused this long (a trust policy change shows after it)

# The error codes and messages Firehose logs for S3 deliveries (monitoring-with-cloudwatch-logs).
MESSAGES = {
    "S3.AccessDenied": "Access was denied. Ensure that the trust policy for the provided IAM role allows Firehose "
    "to assume the role, and the access policy allows access to the S3 bucket.",
    "S3.NoSuchBucket": "The specified bucket does not exist. Create the bucket or use a different bucket that does exist.",
    "S3.KMS.NotFoundException": "The provided AWS KMS key was not found. If you are using what you believe to be a "
    "valid AWS KMS key with the correct role, check if there is a problem with the account to which the AWS KMS key "
    "is attached.",
    "InternalError": "An internal error occurred while attempting to deliver data. Delivery will be retried; if the "
    "error persists, then it will be reported to AWS for resolution.",
}
S3_CODES = {"AccessDenied": "S3.AccessDenied", "NoSuchBucket": "S3.NoSuchBucket", "InvalidAccessKeyId": "S3.AccessDenied",
            "KMS.NotFoundException": "S3.KMS.NotFoundException", "NotFoundException": "S3.KMS.NotFoundException",
            "KMS.DisabledException": "S3.KMS.NotFoundException"}  # fmt: skip
SCHEMA_ERROR = "DataFormatConversion.InvalidSchema"


class DeliveryError(Exception):
    """A delivery attempt that failed; retried later. code and message are what Firehose logs."""

    def __init__(self, code: str, detail: str = ""):
        message = MESSAGES.get(code, "")
        if detail:
            message = f"{message} ({detail})" if message else detail
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# --- the destination's role ----------------------------------------------------------------------

_roles: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}
_roles_lock = threading.Lock()


def role_credentials(role_arn: str, region: str, code: str = "S3.AccessDenied") -> dict[str, str]:
    """Credentials of role_arn as Firehose assumes it (the role must trust firehose.amazonaws.com)."""
    key = (role_arn, region)
    with _roles_lock:
        cached = _roles.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
    role_name = role_arn.split(":role/", 1)[-1].rsplit("/", 1)[-1]
    try:
        role = clients.client("iam", region).get_role(RoleName=role_name)["Role"]
    except ClientError as error:
        raise DeliveryError(code, f"cannot assume {role_arn}: {error.response['Error']['Message']}") from None
    if not trusts_service(role.get("AssumeRolePolicyDocument"), FIREHOSE_PRINCIPAL):
        raise DeliveryError(code, f"the trust policy of {role_arn} does not let {FIREHOSE_PRINCIPAL} sts:AssumeRole")
    try:
        issued = clients.client("sts", region).assume_role(RoleArn=role_arn, RoleSessionName="firehose-delivery")
    except (ClientError, BotoCoreError) as error:
        raise DeliveryError(code, f"cannot assume {role_arn}: {error}") from None
    credentials = {"access_key": issued["Credentials"]["AccessKeyId"],
                   "secret_key": issued["Credentials"]["SecretAccessKey"],
                   "session_token": issued["Credentials"]["SessionToken"]}  # fmt: skip
    with _roles_lock:
        _roles[key] = (time.monotonic() + ROLE_CACHE_SECONDS, credentials)
    return credentials


def forget_roles() -> None:
    with _roles_lock:
        _roles.clear()
        _s3_clients.clear()


_s3_clients: dict[tuple[str, ...], Any] = {}


def _s3_as(destination: S3Destination, region: str):
    """An S3 client with the destination role's credentials (one per set of credentials: clients are costly)."""
    credentials = role_credentials(destination.role_arn, region)
    key = (region, *credentials.values())
    with _roles_lock:
        found = _s3_clients.get(key)
    if found is None:
        found = clients.client("s3", region, **credentials)
        with _roles_lock:
            if len(_s3_clients) > 64:  # expired credentials' clients
                _s3_clients.clear()
            _s3_clients[key] = found
    return found


def _put(s3, destination: S3Destination, key: str, body: bytes) -> None:
    extra: dict[str, Any] = {}
    if destination.kms_key_arn:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": destination.kms_key_arn}
    try:
        s3.put_object(Bucket=destination.bucket, Key=key, Body=body, **extra)
    except ClientError as error:
        found = error.response["Error"]
        code = S3_CODES.get(found.get("Code", ""), "InternalError")
        raise DeliveryError(
            code, f"PutObject s3://{destination.bucket}/{key}: {found.get('Code')}: {found.get('Message')}"
        ) from None
    except BotoCoreError as error:
        raise DeliveryError("InternalError", str(error)) from None


# --- one batch ----------------------------------------------------------------------------------


def destination_of(stream) -> S3Destination | None:
    """The S3 destination local AWS delivers for this moto DeliveryStream (None: another destination type)."""
    state = state_of(stream)
    entry = stream.destinations[0]
    key = (stream.version_id, id(entry.get("ExtendedS3") or entry.get("S3")))
    if state.destination_key == key:
        return state.destination
    try:
        destination = s3_destination_of(entry)
    except ConfigError as error:  # changed behind the API's back; the API refuses such configurations
        log.warning("Firehose %s: its destination cannot be delivered: %s", stream.delivery_stream_name, error)
        destination = None
    state.destination_key, state.destination = key, destination
    return destination


def deliver(state: StreamState, destination: S3Destination, version: str, batch: Batch) -> None:
    """Write one batch to S3 (data object, and error object with format conversion); DeliveryError if not."""
    moment = batch.oldest.astimezone(destination.zone())
    s3 = _s3_as(destination, state.region)
    records = batch.records
    if destination.conversion is None:
        body = b"".join(record.data for record in records)
        if destination.compression == "GZIP":
            body = gzip.compress(body)
        if "data" not in batch.written:
            key = prefixes.data_prefix(destination.prefix, moment) + prefixes.object_name(
                state.name, version, moment, destination.extension
            )
            _put(s3, destination, key, body)
            batch.written.add("data")
        _delivered(state, batch, len(records), len(body))
        return
    schema = _schema(destination, state.region)
    serializer = conversion.Serializer(destination.conversion.serializer, destination.conversion.serializer_options)
    deserializer = conversion.Deserializer.of(destination.conversion.deserializer,
                                              destination.conversion.deserializer_options)  # fmt: skip
    converted = conversion.convert([record.data for record in records], schema, deserializer, serializer)
    if converted.body is not None and "data" not in batch.written:
        key = prefixes.data_prefix(destination.prefix, moment) + prefixes.object_name(
            state.name, version, moment, destination.extension
        )
        _put(s3, destination, key, converted.body)
        batch.written.add("data")
    if converted.failed and "errors" not in batch.written:
        failed_at = min(records[index].arrival for index, _ in converted.failed).astimezone(destination.zone())
        key = prefixes.error_prefix(destination.error_output_prefix, destination.prefix, FORMAT_CONVERSION_FAILED,
                                    failed_at) + prefixes.object_name(state.name, version, failed_at)  # fmt: skip
        lines = [_error_document(destination, state, records[index], error) for index, error in converted.failed]
        _put(s3, destination, key, "".join(line + "\n" for line in lines).encode())
        batch.written.add("errors")
    good_bytes = sum(len(records[index].data) for index in converted.converted)
    bad_bytes = sum(len(records[index].data) for index, _ in converted.failed)
    monitoring.publish(state, {"SucceedConversion.Records": len(converted.converted),
                               "SucceedConversion.Bytes": good_bytes,
                               "FailedConversion.Records": len(converted.failed),
                               "FailedConversion.Bytes": bad_bytes})  # fmt: skip
    _delivered(state, batch, len(converted.converted), len(converted.body or b""))


def _delivered(state: StreamState, batch: Batch, records: int, size: int) -> None:
    freshness = max(0.0, (clock.now() - batch.oldest).total_seconds())
    monitoring.publish(state, {"DeliveryToS3.Records": records, "DeliveryToS3.Bytes": size,
                               "DeliveryToS3.Success": 1, "DeliveryToS3.DataFreshness": freshness})  # fmt: skip


def _schema(destination: S3Destination, region: str):
    """The Arrow schema of the conversion's Glue table, read as its SchemaConfiguration.RoleARN would."""
    table = destination.conversion.schema
    role_credentials(table.role_arn, region, code=SCHEMA_ERROR)  # the role must exist and trust Firehose
    glue = clients.client("glue", table.region or region)
    ids = {"CatalogId": table.catalog_id} if table.catalog_id else {}
    try:
        if table.version_id in ("", "LATEST"):
            found = glue.get_table(DatabaseName=table.database, Name=table.table, **ids)["Table"]
        else:
            found = glue.get_table_version(DatabaseName=table.database, TableName=table.table,
                                           VersionId=table.version_id, **ids)["TableVersion"]["Table"]  # fmt: skip
    except ClientError as error:
        raise DeliveryError(SCHEMA_ERROR, f"Glue table {table.database}.{table.table}: "
                                          f"{error.response['Error']['Message']}") from None  # fmt: skip
    columns = (found.get("StorageDescriptor") or {}).get("Columns") or []
    if not columns:
        raise DeliveryError(SCHEMA_ERROR, f"Glue table {table.database}.{table.table} has no columns")
    try:
        return conversion.arrow_schema(columns)
    except conversion.SchemaError as error:
        raise DeliveryError(SCHEMA_ERROR, f"Glue table {table.database}.{table.table}: {error}") from None


def _error_document(destination: S3Destination, state: StreamState, record, error: conversion.RecordError) -> str:
    table = destination.conversion.schema
    region = table.region or state.region
    catalog = table.catalog_id or state.account_id
    return json.dumps({
        "attemptsMade": 1,
        "arrivalTimestamp": conversion.epoch_millis(record.arrival),
        "ErrorCode": error.code,
        "ErrorMessage": error.message,
        "attemptEndingTimestamp": conversion.epoch_millis(clock.now()),
        "rawData": base64.b64encode(record.data).decode(),
        "sequenceNumber": record.sequence_number,
        "subSequenceNumber": 0 if record.sequence_number is not None else None,
        "dataCatalogTable": {"catalogId": catalog, "databaseName": table.database, "tableName": table.table,
                             "region": region, "versionId": table.version_id,
                             "catalogArn": f"arn:aws:glue:{region}:{catalog}:catalog"},
    })  # fmt: skip


# --- running the queue --------------------------------------------------------------------------


def run_due(stream, state: StreamState, final: bool = False) -> None:
    """Seal what is due and deliver the stream's batches in order, each when its (re)try is due.

    final: seal and try everything once (DeleteDeliveryStream, the server's stop); what fails is dropped.
    """
    with state.delivering:
        destination = destination_of(stream)
        if destination is None:
            return
        now = clock.now()
        if final:
            state.seal_all()
        else:
            state.seal_if_due(now, destination.interval_seconds)
        while (batch := state.head()) is not None:
            if state.deleted and not final:
                return
            if not final and batch.next_attempt is not None and batch.next_attempt > now:
                return
            if now - batch.oldest > RETENTION:
                log.warning("Firehose %s: %d records could not be delivered for 24 hours and are dropped",
                            state.name, len(batch.records))  # fmt: skip
                state.done(batch)
                continue
            try:
                deliver(state, destination, stream.version_id, batch)
            except DeliveryError as error:
                batch.attempts += 1
                first = batch.last_error is None or batch.last_error[0] != error.code
                batch.last_error = (error.code, error.message)
                batch.next_attempt = clock.now() + timedelta(seconds=config.settings.firehose_retry_seconds)
                monitoring.publish(state, {"DeliveryToS3.Success": 0})
                monitoring.log_error(state, destination.log_group, destination.log_stream, destination.bucket_arn,
                                     stream.version_id, error.code, error.message, first)  # fmt: skip
                if not final:
                    return
                log.warning("Firehose %s: %d records dropped as the stream goes: %s", state.name,
                            len(batch.records), error)  # fmt: skip
            except Exception:  # noqa: BLE001 (a bug must not stop every other stream's deliveries)
                log.exception("Firehose %s: delivery failed", state.name)
                batch.attempts += 1
                batch.next_attempt = clock.now() + timedelta(seconds=config.settings.firehose_retry_seconds)
                if not final:
                    return
            state.done(batch)


def final_flush(stream) -> None:
    """Deliver everything the stream buffered now, once (DeleteDeliveryStream, server stop)."""
    state = find_state(stream)
    if state is None:
        return
    try:
        if state.pending:
            run_due(stream, state, final=True)
    except Exception:  # noqa: BLE001
        log.exception("Firehose %s: final delivery failed", stream.delivery_stream_name)
    monitoring.flush(state)


def streams() -> Iterator[tuple[Any, Any]]:
    """(backend, DeliveryStream) of every delivery stream moto holds, in every account and region."""
    from moto.firehose.models import firehose_backends

    for regions in list(dict.values(firehose_backends)):
        for backend in list(dict.values(regions)):
            for stream in list(getattr(backend, "delivery_streams", {}).values()):
                yield backend, stream


class Deliverer:
    """Delivers every stream's batches when due (size reached, interval over, retry due); a worker."""

    MAX_SLEEP = 1.0  # look again at least this often (a clock reset, a stream updated to a shorter interval)

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="firehose-delivery", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            next_due: datetime | None = None
            for _, stream in streams():
                if self._stop.is_set():
                    return
                state = find_state(stream)
                if state is None or state.deleted:
                    continue
                try:
                    run_due(stream, state)
                    monitoring.flush(state)
                    destination = destination_of(stream)
                    due = state.next_due(destination.interval_seconds) if destination else None
                except Exception:  # noqa: BLE001
                    log.exception("Firehose %s: delivery round failed", stream.delivery_stream_name)
                    continue
                if due is not None and (next_due is None or due < next_due):
                    next_due = due
            sleep = self.MAX_SLEEP
            if next_due is not None:
                sleep = min(sleep, max(0.0, (next_due - clock.now()).total_seconds()))
            if sleep > 0:
                self._wake.wait(sleep)


def buffer(stream, records: list) -> None:
    """Add records to the stream's buffer and let the delivery worker look at it."""
    destination = destination_of(stream)
    if destination is None:
        return
    state_of(stream).add(records, destination.size_bytes)
    wake()


def wake() -> None:
    """Have the delivery worker look at the buffers now (started on first use)."""
    try:
        workers.get(Deliverer).wake()
    except workers.NotRunning:
        pass  # the server is stopping: its final flush delivers, or the next server's worker does

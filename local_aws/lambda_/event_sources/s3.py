"""S3 event notifications that invoke Lambda asynchronously, with AWS's event record.

moto 5.2.5 invokes the function synchronously inside the PUT (and swallows every error), sends a
record without userIdentity, requestParameters, responseElements, ownerIdentity, versionId or
sequencer, and misses deletes on versioned buckets. This module replaces moto's
`notifications.send_event` so that
- LambdaFunctionConfigurations matching the event name (exact or `s3:ObjectCreated:*` style) and
  the prefix/suffix filter rules queue an Event invocation (invoke_async): the S3 request returns
  before the handler runs, and the runtime's retries, destinations and DLQ apply;
- queue and topic configurations get the same, complete record (moto's delivery otherwise);
- CompleteMultipartUpload sends only ObjectCreated:CompleteMultipartUpload (moto adds a Put);
- a delete on a versioned bucket sends ObjectRemoved:DeleteMarkerCreated (no VersionId) or
  ObjectRemoved:Delete (a version removed for good), with the version id; deletes of local AWS's
  lifecycle rules (local_aws/s3/lifecycle.py) send LifecycleExpiration:Delete /
  LifecycleExpiration:DeleteMarkerCreated instead, as on AWS;
- PutBucketNotificationConfiguration refuses a Lambda destination that does not exist or whose
  resource-based policy does not let s3.amazonaws.com invoke it for this bucket and account
  (local_aws/lambda_/permissions.py), and configurations that overlap (a common event type with
  overlapping prefix and suffix), as AWS does; an event whose function no longer allows S3 is
  dropped (logged), as on AWS.
Differences from AWS: docs/local-aws/lambda-event-sources.md.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote_plus

from moto.s3 import notifications
from moto.s3.exceptions import InvalidArgumentError
from moto.s3.models import OWNER, FakeBucket, NotificationConfiguration, S3Backend

from local_aws import clock
from local_aws.arns import Arn
from local_aws.lambda_.event_sources import delivery
from local_aws.lambda_.permissions import Source, refusal
from local_aws.patching import Patches
from local_aws.s3 import lifecycle_runs

log = logging.getLogger(__name__)

patches = Patches(
    __name__,
    after=(
        "local_aws.lambda_.service",  # like every event source: shut down before the Lambda runtime
        # S3 notifications wrap versioning's DeleteObject, so suspended buckets' deletes notify too.
        "local_aws.s3.versioning",
    ),
)
_local = threading.local()  # .suppressed: our delete_object sends its own events
_sequence_lock = threading.Lock()
_last_sequence = [0]
S3_PRINCIPAL = "s3.amazonaws.com"


@contextmanager
def _suppressed(*event_names: str):
    """Send no events (or only not these) from moto's code inside: we send the right ones ourselves."""
    _local.suppressed = set(event_names) or True
    try:
        yield
    finally:
        _local.suppressed = None


def _sequencer() -> str:
    """AWS's sequencer: hexadecimal, growing for later events on a key (here: on any key)."""
    with _sequence_lock:
        _last_sequence[0] = max(_last_sequence[0] + 1, time.time_ns())
        return f"{_last_sequence[0]:018X}"


def _source_ip() -> str:
    try:
        from flask import has_request_context, request

        if has_request_context() and request.remote_addr:
            return request.remote_addr
    except ImportError:
        pass
    return "127.0.0.1"


def event_record(event_name: str, bucket: FakeBucket, key: Any, configuration_id: str,
                 version_id: str | None = None, removed: bool = False) -> dict[str, Any]:  # fmt: skip
    """One record of an S3 event as AWS documents it (notification-content-structure.html)."""
    obj: dict[str, Any] = {"key": quote_plus(key.name, safe="/")}  # AWS form-encodes keys: a b=c -> a+b%3Dc
    if not removed:
        obj["size"] = key.size
        obj["eTag"] = key.etag.strip('"')
    if bucket.versioning_status:  # versioned (or once versioned) buckets report the version
        obj["versionId"] = version_id or getattr(key, "version_id", None) or "null"
    obj["sequencer"] = _sequencer()
    now = clock.now()  # local AWS's clock, like the objects' own timestamps (it runs ahead once advanced)
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": bucket.region_name,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "eventName": str(event_name).removeprefix("s3:"),
        "userIdentity": {"principalId": f"AWS:{bucket.account_id}"},
        "requestParameters": {"sourceIPAddress": _source_ip()},
        "responseElements": {
            "x-amz-request-id": secrets.token_hex(8).upper(),
            "x-amz-id-2": secrets.token_urlsafe(48),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": bucket.name, "ownerIdentity": {"principalId": OWNER}, "arn": bucket.arn},
            "object": obj,
        },
    }


def _send_event(account_id: str, event_name: Any, bucket: Any, key: Any, version_id: str | None = None,
                removed: bool | None = None) -> None:  # fmt: skip
    name = str(getattr(event_name, "value", event_name))
    suppressed = getattr(_local, "suppressed", None)
    if suppressed is True or (suppressed and name in suppressed) or key is None:
        return
    configuration = bucket.notification_configuration
    if configuration is None:
        return
    if removed is None:
        removed = name.startswith(("s3:ObjectRemoved:", "s3:LifecycleExpiration:"))
    source = Source(S3_PRINCIPAL, bucket.arn, bucket.account_id)
    for target in configuration.cloud_function:
        if target.matches(name, key.name):
            event = {"Records": [event_record(name, bucket, key, target.id, version_id, removed)]}
            delivery.invoke_async(account_id, Arn.parse(target.arn).region, target.arn, event, source=source)
    for target in configuration.queue:
        if target.matches(name, key.name):
            event = {"Records": [event_record(name, bucket, key, target.id, version_id, removed)]}
            queue = Arn.parse(target.arn)
            notifications._send_sqs_message(account_id, event, queue.resource, queue.region)
    for target in configuration.topic:
        if target.matches(name, key.name):
            event = {"Records": [event_record(name, bucket, key, target.id, version_id, removed)]}
            notifications._send_sns_message(account_id, event, target.arn, Arn.parse(target.arn).region)
    if configuration.event_bridge is not None:
        notifications._send_event_bridge_message(account_id, bucket, name, key)


patches.replace(notifications, "send_event", _send_event)


@patches.wrap(S3Backend, "delete_object")
def _delete_object(original, backend: S3Backend, bucket_name: str, key_name: str, version_id: str | None = None,
                   bypass: bool = False) -> tuple[bool, dict[str, Any]]:  # fmt: skip
    """moto's delete, with the events AWS sends for versioned buckets too."""
    bucket = backend.get_bucket(bucket_name)
    versions = list(bucket.keys.getlist(key_name, [])) if hasattr(bucket.keys, "getlist") else []
    with _suppressed():
        deleted, meta = original(backend, bucket_name, key_name, version_id=version_id, bypass=bypass)
    if not deleted or not versions:
        return deleted, meta
    # Lifecycle expirations have event types of their own; they never send ObjectRemoved events.
    kind = "s3:LifecycleExpiration:" if getattr(_local, "lifecycle", False) else "s3:ObjectRemoved:"
    if version_id is None and meta.get("delete-marker") == "true":
        event, version = f"{kind}DeleteMarkerCreated", meta["version-id"]
    else:
        event, version = f"{kind}Delete", version_id
    removed = next((k for k in versions if version_id is None or str(k.version_id) == str(version_id)), versions[-1])
    _send_event(backend.account_id, event, bucket, removed, version_id=version, removed=True)
    return deleted, meta


@patches.wrap(S3Backend, "complete_multipart_upload")
def _complete_multipart_upload(original, backend: S3Backend, *args: Any, **kwargs: Any) -> Any:
    """moto sends ObjectCreated:Put before CompleteMultipartUpload; AWS sends only the latter."""
    with _suppressed(notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT.value):
        return original(backend, *args, **kwargs)


@patches.wrap(lifecycle_runs, "evaluate")  # local AWS's lifecycle rules delete through S3Backend.delete_object
def _lifecycle_run(original, *args: Any, **kwargs: Any) -> Any:
    """local_aws.s3.lifecycle_runs.evaluate, its deletes marked as lifecycle expirations for _delete_object."""
    _local.lifecycle = True
    try:
        return original(*args, **kwargs)
    finally:
        _local.lifecycle = False


def _overlap(a: Any, b: Any) -> bool:
    """AWS refuses two configurations with a common event type whose prefix and suffix rules overlap."""

    def rules(n: Any) -> dict[str, str]:
        return {r["Name"].lower(): r["Value"] for r in (n.filters.get("S3Key") or {}).get("FilterRule", [])}

    def common_event(x: str, y: str) -> bool:
        return x == y or (x.endswith(":*") and y.startswith(x[:-1])) or (y.endswith(":*") and x.startswith(y[:-1]))

    if not any(common_event(x, y) for x in a.events for y in b.events):
        return False
    ra, rb = rules(a), rules(b)
    pa, pb = ra.get("prefix", ""), rb.get("prefix", "")
    sa, sb = ra.get("suffix", ""), rb.get("suffix", "")
    return (pa.startswith(pb) or pb.startswith(pa)) and (sa.endswith(sb) or sb.endswith(sa))


def _unable_to_validate(arn: str, configuration_id: str | None, why: str) -> InvalidArgumentError:
    """AWS's error (its ArgumentName1/ArgumentValue1 here ArgumentName/ArgumentValue), with why after its message."""
    return InvalidArgumentError(
        f"Unable to validate the following destination configurations: {why}",
        f"{arn}, {configuration_id or 'null'}",
        f"Not authorized to invoke function [{arn}]",
    )


@patches.wrap(S3Backend, "put_bucket_notification_configuration")
def _put_notification_configuration(original, backend: S3Backend, bucket_name: str,
                                    notification_config: dict[str, Any]) -> None:  # fmt: skip
    config = notification_config or {}
    source = Source(S3_PRINCIPAL, f"arn:aws:s3:::{bucket_name}", backend.account_id)
    for target in config.get("CloudFunctionConfiguration") or []:
        arn = target["CloudFunction"]
        try:
            function, _ = delivery.find_function(backend.account_id, Arn.parse(arn).region, arn)
        except Exception:  # noqa: BLE001 (any lookup failure means S3 cannot validate the destination)
            raise _unable_to_validate(
                arn, target.get("Id"), f"{arn} does not exist; create the function first (CreateFunction)"
            ) from None
        # S3 checks that it may invoke the function, as it will for every event (AddPermission).
        if denied := refusal(function, arn, source):
            raise _unable_to_validate(
                arn, target.get("Id"), f"{denied}; allow it first: {source.add_permission_hint(arn)}"
            )
    if config:
        proposed = NotificationConfiguration(
            topic=config.get("TopicConfiguration"),
            queue=config.get("QueueConfiguration"),
            cloud_function=config.get("CloudFunctionConfiguration"),
        )
        targets = [*proposed.topic, *proposed.queue, *proposed.cloud_function]
        for a, b in itertools.combinations(targets, 2):
            if _overlap(a, b):
                raise InvalidArgumentError(
                    "Configurations overlap. Configurations on the same bucket cannot share a common event type "
                    f"(configurations {a.id} and {b.id}); give them disjoint prefix or suffix filters",
                    "Event",
                    ",".join(a.events),
                )
    original(backend, bucket_name, notification_config)

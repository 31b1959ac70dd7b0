"""S3 lifecycle rules that take effect: moto 5.2.5 stores a lifecycle configuration and never applies it.

AWS evaluates each bucket's rules once a day and applies what fell due since. Here the same daily
evaluation runs for every midnight (UTC, local AWS clock) that passes, whether real time passes
it or the clock is advanced (`local_aws.clock`): advancing 61 days applies those 61 daily runs at
once, skipping days on which nothing can fall due.

Timing as on AWS: an action N days after an object's creation falls due at the midnight UTC that
follows creation + N days (created 15 Jan 10:30, 3 days -> 19 Jan 00:00); a noncurrent version's
days count from when its successor was written; Date actions apply from that midnight on to every
matching object. Timestamps (LastModified of objects and delete markers) are in clock time.

Implemented: Filter (Prefix, Tag, ObjectSizeGreaterThan/LessThan, And; the deprecated top-level
Prefix), Status, Transitions (Days/Date; the storage-class waterfall; objects under 128 KB are not
transitioned unless the rule has a size filter or the bucket's TransitionDefaultMinimumObjectSize
is varies_by_storage_class, which lets them go to GLACIER/DEEP_ARCHIVE), Expiration (Days/Date:
unversioned objects are deleted, versioned ones get a delete marker; ExpiredObjectDeleteMarker and,
with Days, the automatic clean-up of expired delete markers), NoncurrentVersionTransitions and
NoncurrentVersionExpiration (NoncurrentDays, NewerNoncurrentVersions),
AbortIncompleteMultipartUpload. PutBucketLifecycleConfiguration validates as AWS does
(`lifecycle_rules.py`), and GetBucketLifecycleConfiguration returns what was stored, with the size
filters moto drops. HeadObject/GetObject carry
x-amz-expiration for objects an Expiration rule will delete. A restored copy of a GLACIER or
DEEP_ARCHIVE object lasts its Days, rounded to the next midnight, and then is gone again.

This module holds the moto patches (clock timestamps, Put/Get/DeleteBucketLifecycleConfiguration,
x-amz-expiration, multipart initiation times, restore expiry) and starts the runs; the daily runs
themselves are lifecycle_runs.py, the rules' parsing and validation lifecycle_rules.py.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.s3 import models as s3_models
from moto.s3.exceptions import NoSuchLifecycleConfiguration
from moto.s3.models import FakeKey, FakeMultipart, S3Backend, s3_backends
from moto.s3.responses import S3Response

from local_aws import clock, workers
from local_aws.patching import Patches
from local_aws.s3.lifecycle_rules import as_utc, configuration_of, midnight_after, parse_configuration
from local_aws.s3.lifecycle_runs import Ticker, daily, expiration_due, object_tags

# After the clock: its admin endpoint and moto's reset drive the daily runs (clock.on_advance / on_reset).
patches = Patches(__name__, after=("local_aws.clock",))


# Object, delete-marker, restore and lock timestamps follow local AWS's clock.
patches.replace(s3_models, "utcnow", clock.utcnow_naive)


def expiration_header(key: FakeKey) -> str | None:
    """x-amz-expiration for the current version of key, when an Expiration rule applies to it."""
    try:
        backend = s3_backends[key.account_id][key.partition]
        bucket = backend.buckets.get(key.bucket_name)
    except KeyError:
        return None
    configuration = configuration_of(bucket) if bucket else None
    if configuration is None or bucket.keys.get(key.name) is not key:
        return None
    tags, created = object_tags(backend, key), as_utc(key.last_modified)
    dues = [
        (due, rule.id)
        for rule in configuration.rules
        if rule.enabled
        and rule.filter.matches(key.name, tags, key.size)
        and (due := expiration_due(rule, created)) is not None
    ]
    if not dues:
        return None
    due, rule_id = min(dues)
    return f'expiry-date="{due.strftime("%a, %d %b %Y %H:%M:%S GMT")}", rule-id="{rule_id}"'


def _put_lifecycle(self: S3Response, request: Any, bucket_name: str) -> Any:
    if not request.headers.get("Content-Length"):
        return 411, {}, "Content-Length required"
    self._set_action("BUCKET", "PUT", {"lifecycle": [""]})
    self._authenticate_and_authorize_s3_action(bucket_name=bucket_name)
    bucket = self.backend.get_bucket(bucket_name)
    minimum_size = request.headers.get("x-amz-transition-default-minimum-object-size")
    configuration = parse_configuration(self.body, minimum_size)
    bucket.rules = []  # moto's own (lossy) copy stays empty: ours is the configuration
    bucket.local_lifecycle = configuration
    return 200, {"x-amz-transition-default-minimum-object-size": configuration.minimum_size}, ""


@patches.wrap(S3Response, "_bucket_response_put")
def _bucket_response_put(original, self: S3Response, request: Any, bucket_name: str, querystring: Any) -> Any:
    if "lifecycle" in querystring:
        return _put_lifecycle(self, request, bucket_name)
    return original(self, request, bucket_name, querystring)


def _get_lifecycle(self: S3Response) -> Any:
    self.data["Action"] = "GetBucketLifecycleConfiguration"
    bucket = self.backend.get_bucket(self.bucket_name)
    configuration = configuration_of(bucket)
    if configuration is None:
        raise NoSuchLifecycleConfiguration(bucket_name=self.bucket_name)
    result = {
        "Rules": [rule.api for rule in configuration.rules],
        "TransitionDefaultMinimumObjectSize": configuration.minimum_size,
    }
    return self.serialized(ActionResult(result))


patches.replace(S3Response, "get_bucket_lifecycle", _get_lifecycle)


@patches.wrap(S3Backend, "delete_bucket_lifecycle")
def _delete_bucket_lifecycle(original, self: S3Backend, bucket_name: str) -> None:
    original(self, bucket_name)
    self.get_bucket(bucket_name).local_lifecycle = None


@patches.wrap(FakeMultipart, "__init__")
def _multipart_with_initiated(original, self: FakeMultipart, *args: Any, **kwargs: Any) -> None:
    original(self, *args, **kwargs)
    self.initiated = clock.now()


@patches.wrap(FakeKey, "restore")
def _restore_until_midnight(original, self: FakeKey, days: int) -> None:
    original(self, days)
    # AWS rounds a restored copy's expiry to the next midnight UTC.
    self._expiry = midnight_after(as_utc(self._expiry)).replace(tzinfo=None)


@patches.wrap(FakeKey, "response_dict")  # a property: its getter is wrapped
def _response_dict_with_expiration(original, self: FakeKey) -> dict[str, Any]:
    headers = original(self)
    header = expiration_header(self)
    if header:
        headers["x-amz-expiration"] = header
    return headers


def install() -> None:
    """Start the daily runs: on every move (and reset) of the clock, and a ticker for the midnights real time passes."""
    clock.on_advance("s3_lifecycle", daily.catch_up)
    clock.on_reset("s3_lifecycle", daily.reset)
    workers.get(Ticker)


def shutdown() -> None:
    workers.stop(Ticker)

"""Suspended versioning as S3 does it: moto 5.2.5 drops every version of a key once versioning is suspended.

On AWS, suspending versioning keeps the versions a key already has. From then on a write replaces
only the key's "null" version, a delete replaces it with a "null" delete marker, and deleting
by VersionId removes that one version. moto treats a suspended bucket like one that never had
versioning: a put or delete throws away (and closes) all earlier versions. These patches give
suspended buckets AWS's behaviour; enabled and never-versioned buckets go through moto unchanged.
"""

from __future__ import annotations

from typing import Any

from moto.s3.exceptions import AccessDeniedByLock
from moto.s3.models import FakeBucket, FakeDeleteMarker, FakeKey, S3Backend

from local_aws.patching import Patches

SUSPENDED = "Suspended"

patches = Patches(__name__)


def _suspended(backend: S3Backend, bucket_name: str) -> FakeBucket | None:
    bucket = backend.get_bucket(bucket_name)
    return bucket if bucket.versioning_status == SUSPENDED else None


def _replace_null_version(bucket: FakeBucket, key_name: str, previous: list[Any], new: Any) -> None:
    """previous versions minus the null one, then new on top; the replaced null version is closed."""
    kept = [version for version in previous if version.version_id != "null"]
    for version in previous:
        if version not in kept and hasattr(version, "dispose"):
            version.dispose()
    dict.__setitem__(bucket.keys, key_name, [*kept, new])


@patches.wrap(S3Backend, "put_object")
def _put_object_keeping_versions(original, self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any):
    bucket = _suspended(self, bucket_name)
    if bucket is None:
        return original(self, bucket_name, key_name, *args, **kwargs)
    # Take the versions out of moto's reach (it would close them all), then put them back.
    previous = list(bucket.keys.getlist(key_name, []))
    dict.pop(bucket.keys, key_name, None)
    new_key = original(self, bucket_name, key_name, *args, **kwargs)
    _replace_null_version(bucket, key_name, previous, new_key)
    return new_key


@patches.wrap(S3Backend, "delete_object")
def _delete_object_keeping_versions(
    original, self: S3Backend, bucket_name: str, key_name: str, version_id: str | None = None, bypass: bool = False
) -> tuple[bool, dict[str, Any]]:
    bucket = _suspended(self, bucket_name)
    if bucket is None:
        return original(self, bucket_name, key_name, version_id, bypass)
    previous = list(bucket.keys.getlist(key_name, []))
    if version_id is None:
        if not previous:
            return True, {}
        marker = FakeDeleteMarker(key=previous[-1])
        marker._version_id = "null"
        _replace_null_version(bucket, key_name, previous, marker)
        return True, {"version-id": "null", "delete-marker": "true"}
    removed = [version for version in previous if str(version.version_id) == str(version_id)]
    if not removed:
        return False, {"version-id": version_id}
    version = removed[0]
    if isinstance(version, FakeKey) and version.is_locked(governance_bypass=bypass):
        raise AccessDeniedByLock
    remaining = [v for v in previous if v is not version]
    if remaining:
        dict.__setitem__(bucket.keys, key_name, remaining)
    else:
        dict.pop(bucket.keys, key_name)
    if isinstance(version, FakeKey):
        version.dispose()
        return True, {"version-id": version_id}
    return True, {"version-id": version_id, "delete-marker": "true"}

"""A GetObject with a Range reads only the bytes it asks for.

moto 5.2.5 answers GetObject with all of the object's bytes (FakeKey.value reads its whole buffer)
and cuts the requested range out afterwards, so each ranged read costs as much as reading the whole
object: 1,000 reads of 64 KiB from a 256 MB object moved 256 GB. Readers that work in ranges (Spark
through S3A on Parquet, Athena's DuckDB, boto3's multipart downloads) paid that on every read. Here
moto's range handling slices a stand-in for the bytes that reads only the slice from the buffer.
Responses are unchanged: same status, headers, Content-Range and bytes.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.s3.models import FakeKey
from moto.s3.responses import S3Response

from local_aws.patching import Patches

patches = Patches(__name__)

_request = threading.local()  # set while S3Response.get_object answers a ranged GET on this thread


class ObjectBytes:
    """An object's bytes as moto's range handling uses them (len() and one slice), read on slicing."""

    def __init__(self, key: FakeKey):
        self._key, self._size = key, key.size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, part: slice) -> bytes:
        start, stop, _ = part.indices(self._size)
        with self._key.lock:
            buffer = self._key._value_buffer
            buffer.seek(start)
            return buffer.read(max(0, stop - start))

    def __bytes__(self) -> bytes:
        return self[:]


def _one_range(header: str | None) -> bool:
    return bool(header) and header.strip().startswith("bytes=") and "," not in header


@patches.wrap(S3Response, "get_object")
def _get_object(original, self: S3Response):
    if not _one_range(self.headers.get("range")) or "partNumber" in self.querystring:
        return original(self)
    _request.ranged = True
    try:
        status, headers, body = original(self)
    finally:
        _request.ranged = False
    if isinstance(body, ObjectBytes) and status != 200:  # only a 200 goes on to moto's range handling
        body = bytes(body)
    return status, headers, body


@patches.wrap(FakeKey, "value")  # a property: its getter is wrapped
def _value(original, self: FakeKey) -> Any:
    if getattr(_request, "ranged", False):
        _request.ranged = False  # the response body only: get_object reads .value once, last
        return ObjectBytes(self)
    return original(self)


@patches.wrap(S3Response, "_handle_range_header")
def _handle_range_header(original, self: S3Response, request: Any, response_headers: dict, response_content: Any):
    status, headers, content = original(self, request, response_headers, response_content)
    if isinstance(content, ObjectBytes):  # a range moto serves as the whole object (invalid or unsatisfiable ones)
        content = bytes(content)
    return status, headers, content

"""Local S3 as queries see it: listing a table's files and a byte-counting filesystem for DuckDB.

DuckDB 2.x has no offline httpfs, so each query's DuckDB connection reads s3:// paths through
an fsspec view of pyarrow's S3 filesystem on local S3. The view counts the bytes DuckDB reads,
which is what Athena bills and reports as DataScannedInBytes.

Every request to local S3 costs milliseconds whatever its size, so what grows with a table Spark
wrote (a file per task in every partition) is the requests per file, not the bytes. The view
answers DuckDB's many info/glob/exists/modified calls from the listing it made, opens each file
once per query although DuckDB opens a Parquet file twice (footer, then column chunks), and
keeps opened files across queries (OpenFiles), so a file costs only DuckDB's ranged GETs, as
with pyarrow's own dataset reader.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from fsspec.implementations.arrow import ArrowFile, ArrowFSWrapper
from pyarrow import fs as pafs

from local_aws.athena.translate import AthenaError
from local_aws.clients import split_s3_uri


def _hidden(relative_path: str) -> bool:
    """Hadoop (and so Athena) skips files and folders named _* or .* (_SUCCESS, .crc, _temporary/)."""
    return any(part.startswith(("_", ".")) for part in relative_path.split("/")) or relative_path.endswith("_$folder$")


def split_location(location: str) -> tuple[str, str]:
    """(bucket, key prefix) of a table, partition or write location as Athena reads it.

    Athena drops empty path segments: 's3://bucket/prefix//prefix/' is read as
    's3://bucket/prefix/prefix/' (AWS's "Specify a table location in Amazon S3").
    """
    bucket, key = split_s3_uri(location)
    return bucket, re.sub("/{2,}", "/", key).lstrip("/")


def list_data_files(s3: pafs.FileSystem, location: str) -> list[pafs.FileInfo]:
    """The data files under location (recursively, sorted by path), as Athena reads a table or partition."""
    try:
        bucket, prefix = split_location(location)
    except ValueError as error:
        raise AthenaError("HIVE_INVALID_METADATA", f"table location {location!r} is not an S3 URI: {error}") from None
    base = f"{bucket}/{prefix}".rstrip("/")
    try:
        infos = s3.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except OSError as error:
        raise AthenaError("HIVE_FILESYSTEM_ERROR", f"cannot list {location}: {error}") from None
    files = [
        info
        for info in infos
        if info.type == pafs.FileType.File and info.size and not _hidden(info.path[len(base) :].lstrip("/"))
    ]
    return sorted(files, key=lambda info: info.path)


class CountingFile(ArrowFile):
    """A file DuckDB reads from several threads at once.

    DuckDB reads at an offset as seek(offset) then read(n) on a handle shared by its threads,
    so another thread's seek could slip in between and hand Parquet's reader the wrong bytes:
    a seek is therefore remembered per thread and used by that thread's next read. Reads
    without a seek (compressed text is read as a stream) continue from the shared position.
    """

    def __init__(self, fs, stream, path, mode, block_size=None, **kwargs):
        super().__init__(fs, stream, path, mode, block_size, **kwargs)
        self._thread = threading.local()
        self._position = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Only this handle closes: its stream is shared by every handle on the file and kept (OpenFiles)."""
        self._closed = True

    def tell(self) -> int:
        pending = getattr(self._thread, "seeked", None)
        return self._position if pending is None else pending

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.tell(), 2: self.stream.size()}[whence]
        self._thread.seeked = self._position = base + offset
        return base + offset

    def read(self, length=-1):
        position = self.tell()
        self._thread.seeked = None
        if length is None or length < 0:
            length = self.stream.size() - position
        data = self.stream.read_at(length, position)
        self._position = position + len(data)
        self.fs.count(len(data))
        return data

    def readinto(self, buffer):
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)


class OpenFiles:
    """Input files of local S3 kept open across queries, by key, for as long as the size listed is theirs.

    pyarrow opens an S3 file by path only, and every open is a HEAD request for its size; its own
    dataset reader, which knows sizes from its listing, makes none. A file opened once is kept here
    and a later query whose listing gives the same size reads through it without a HEAD. Only the
    size is kept: every read is a ranged GET of the object as it is then, so an object rewritten
    with the same size is read as rewritten, and one of another size is opened again.
    """

    def __init__(self, s3: pafs.FileSystem, limit: int = 10_000):
        self.s3 = s3
        self.limit = limit  # the least recently used beyond it are dropped
        self._files: OrderedDict[str, pafs.NativeFile] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, key: str, size: int) -> pafs.NativeFile:
        """bucket/key, which the caller's listing says is size bytes, open for reading."""
        with self._lock:
            kept = self._files.get(key)
            if kept is not None and kept.size() == size:
                self._files.move_to_end(key)
                return kept
        stream = self.s3.open_input_file(key)  # a HEAD request: outside the lock, other files open meanwhile
        with self._lock:
            self._files[key] = stream
            self._files.move_to_end(key)
            while len(self._files) > self.limit:
                self._files.popitem(last=False)
        return stream


class CountingS3FileSystem(ArrowFSWrapper):
    """s3:// for one query's DuckDB connection; bytes_read is what the query scanned."""

    protocol = "s3"
    cachable = False  # fsspec would hand every query the same cached instance, and so the same counter

    def __init__(self, s3: pafs.S3FileSystem, opened: OpenFiles | None = None):
        super().__init__(s3)
        self.bytes_read = 0
        self.listed: dict[str, pafs.FileInfo] = {}  # bucket/key -> what the listing said about it
        self.opened = opened or OpenFiles(s3)  # the listed files, opened once (a HEAD) for as long as they stay
        self._streams: dict[str, pafs.NativeFile] = {}  # bucket/key -> its input file in this query
        self._lock = threading.Lock()

    def count(self, size: int) -> None:
        with self._lock:
            self.bytes_read += size

    def data_files(self, location: str) -> list[str]:
        """s3:// URIs of the data files under location, remembered so that DuckDB opens them cheaply."""
        infos = list_data_files(self.fs, location)
        self.listed.update((info.path, info) for info in infos)
        return [f"s3://{info.path}" for info in infos]

    def info(self, path, **kwargs):
        listed = self.listed.get(self._strip_protocol(path))
        return self._make_entry(listed) if listed else super().info(path, **kwargs)

    def exists(self, path, **kwargs):
        return self._strip_protocol(path) in self.listed or super().exists(path)

    def glob(self, path, **kwargs):
        stripped = self._strip_protocol(path)
        return [stripped] if stripped in self.listed else super().glob(path, **kwargs)

    def modified(self, path):
        listed = self.listed.get(self._strip_protocol(path))
        return listed.mtime if listed else super().modified(path)

    def _open(self, path, mode="rb", block_size=None, seekable=True, **kwargs):
        if mode != "rb":
            raise PermissionError(f"queries read S3, they do not write it: {path}")
        key = self._strip_protocol(path)
        with self._lock:
            stream = self._streams.get(key)
        if stream is None:
            listed = self.listed.get(key)
            stream = self.opened.open(key, listed.size) if listed else self.fs.open_input_file(key)
            with self._lock:
                stream = self._streams.setdefault(key, stream)
        return CountingFile(self, stream, path, mode, block_size)

"""What a query's DuckDB connection asks of S3 through storage.CountingS3FileSystem (here over local files)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs as pafs

from local_aws.athena.engine import connect
from local_aws.athena.storage import CountingS3FileSystem, OpenFiles


class RecordingFileSystem(pafs.SubTreeFileSystem):
    """A folder as a bucket, recording the calls that are requests on S3 (an open is a HEAD)."""

    def __init__(self, root: str):
        super().__init__(root, pafs.LocalFileSystem())
        self.opened: list[str] = []
        self.looked_up: list[str] = []

    def open_input_file(self, path):
        self.opened.append(path)
        return super().open_input_file(path)

    def get_file_info(self, paths_or_selector):
        if not isinstance(paths_or_selector, pafs.FileSelector):
            self.looked_up.append(paths_or_selector)
        return super().get_file_info(paths_or_selector)


def write_sales(root, month: int, part: int, ids: list[int], label: str = "s") -> str:
    path = f"lake/sales/month={month}/part-{part}.parquet"
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": ids, "label": [f"{label}{i}" for i in ids]}), root / path)
    return path


@pytest.fixture
def sales(tmp_path):
    """Six Parquet files in three partition folders (ids 100-119, 200-219, 300-319), and Hadoop's _SUCCESS."""
    paths = [
        write_sales(tmp_path, month, part, list(range(100 * month + 10 * part, 100 * month + 10 * part + 10)))
        for month in (1, 2, 3)
        for part in range(2)
    ]
    (tmp_path / "lake/sales/month=1/_SUCCESS").write_bytes(b"")
    return tmp_path, paths


def query(s3: pafs.FileSystem, opened: OpenFiles) -> tuple[list[tuple], CountingS3FileSystem]:
    """count(*), sum(id) and max(label) over the listed files, as one query's connection reads them."""
    scanned = CountingS3FileSystem(s3, opened)
    files = scanned.data_files("s3://lake/sales/")
    con = connect()
    con.register_filesystem(scanned)
    listed = ", ".join(f"'{file}'" for file in files)
    try:
        return con.sql(f"SELECT count(*), sum(id), max(label) FROM read_parquet([{listed}])").fetchall(), scanned
    finally:
        con.close()


def test_each_listed_file_is_opened_once_and_nothing_the_listing_said_is_asked_again(sales):
    root, paths = sales
    s3 = RecordingFileSystem(str(root))
    rows, scanned = query(s3, OpenFiles(s3))

    assert sorted(scanned.listed) == sorted(paths)  # _SUCCESS is Hadoop's, not data
    assert rows == [(60, sum(range(100, 120)) + sum(range(200, 220)) + sum(range(300, 320)), "s319")]
    # DuckDB opens a Parquet file twice (its footer, then its column chunks); S3 sees one HEAD a file.
    assert sorted(s3.opened) == sorted(paths)
    assert s3.looked_up == []  # sizes and modification times come from the listing
    assert 0 < scanned.bytes_read < sum((root / path).stat().st_size for path in paths) * 2


def test_files_stay_open_for_the_next_query_while_their_listed_size_holds(sales):
    root, paths = sales
    s3 = RecordingFileSystem(str(root))
    opened = OpenFiles(s3)
    first, first_scan = query(s3, opened)
    s3.opened.clear()

    again, again_scan = query(s3, opened)
    assert (again, again_scan.bytes_read) == (first, first_scan.bytes_read)
    assert s3.opened == []  # no HEAD at all

    # Rewritten with the same size: read as it is now, still without a HEAD (every read is a GET).
    size = (root / paths[0]).stat().st_size
    write_sales(root, 1, 0, list(range(100, 110)), label="t")
    assert (root / paths[0]).stat().st_size == size
    rewritten, _ = query(s3, opened)
    assert rewritten == [(60, first[0][1], "t109")]
    assert s3.opened == []

    # Rewritten with another size: opened again.
    write_sales(root, 1, 0, list(range(100, 130)))
    grown, _ = query(s3, opened)
    assert grown == [(80, first[0][1] + sum(range(110, 130)), "s319")]
    assert s3.opened == [paths[0]]

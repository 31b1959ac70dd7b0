"""GetObject with a Range: the bytes, status and headers S3 answers, read without reading the whole object."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError
from moto.s3.models import s3_backends

BUCKET = "ranged-reads"
SIZE = 1 << 20
DATA = os.urandom(SIZE)


@pytest.fixture
def s3(aws_client):
    client = aws_client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="data.bin", Body=DATA)
    return client


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-99", 10, 99),
        ("bytes=1000-", 1000, SIZE - 1),
        ("bytes=-500", SIZE - 500, SIZE - 1),
        (f"bytes={SIZE - 10}-{SIZE + 5000}", SIZE - 10, SIZE - 1),  # an end past the object is the object's end
    ],
)
def test_a_range_answers_206_with_its_bytes(s3, header, first, last):
    response = s3.get_object(Bucket=BUCKET, Key="data.bin", Range=header)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert response["Body"].read() == DATA[first : last + 1]
    assert response["ContentRange"] == f"bytes {first}-{last}/{SIZE}"
    assert response["ContentLength"] == last - first + 1


def test_a_range_past_the_end_is_invalid(s3):
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket=BUCKET, Key="data.bin", Range=f"bytes={SIZE}-")
    assert error.value.response["Error"]["Code"] == "InvalidRange"


def test_several_ranges_answer_the_whole_object(s3):
    response = s3.get_object(Bucket=BUCKET, Key="data.bin", Range="bytes=0-1,5-6")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["Body"].read() == DATA


def test_a_range_of_an_older_version_reads_that_version(s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=BUCKET, Key="v.txt", Body=b"0123456789")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="v.txt", Body=b"abcdefghij")
    assert s3.get_object(Bucket=BUCKET, Key="v.txt", Range="bytes=2-4", VersionId=first)["Body"].read() == b"234"
    assert s3.get_object(Bucket=BUCKET, Key="v.txt", Range="bytes=2-4")["Body"].read() == b"cde"


def test_a_range_reads_only_its_bytes_from_the_stored_object(s3):
    key = s3_backends["123456789012"]["aws"].buckets[BUCKET].keys["data.bin"]
    reads: list[int] = []
    buffer = key._value_buffer
    original_read = buffer.read

    def counting_read(size: int = -1) -> bytes:
        data = original_read(size)
        reads.append(len(data))
        return data

    buffer.read = counting_read
    try:
        assert s3.get_object(Bucket=BUCKET, Key="data.bin", Range="bytes=4096-8191")["Body"].read() == DATA[4096:8192]
    finally:
        del buffer.read
    assert reads and max(reads) == 4096  # moto alone reads all 1 MiB for it

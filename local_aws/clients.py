"""Clients the executors use to reach the server they run in, like any other AWS client.

Executors read and write data and catalog entries through the public API (boto3 and
pyarrow's S3 filesystem against our own endpoint), so they see exactly what users see.
Only run state that the API cannot set is changed on moto's models directly.
"""

from __future__ import annotations

import boto3
from botocore.config import Config

from local_aws import config

# Any credentials work: moto maps unknown access keys to the default account.
ACCESS_KEY = "local-aws-executor"
SECRET_KEY = "local-aws-executor"


def client(
    service: str,
    region: str = "us-east-1",
    *,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    session_token: str | None = None,
):
    """A boto3 client on local AWS; by default as the executors (the account root), or with the
    credentials given (e.g. a Lambda function's role, with which AWS delivers its destinations)."""
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=config.settings.endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        # No SHA-256 of the payload for the signature and no CRC32 unless the operation needs one: the
        # server, in this same interpreter, hashes each body anyway (a quarter less time per 5 MiB PUT).
        config=Config(
            retries={"max_attempts": 2, "mode": "standard"},
            s3={"addressing_style": "path", "payload_signing_enabled": False},
            request_checksum_calculation="when_required",
        ),
    )


def s3_filesystem(region: str = "us-east-1"):
    """A pyarrow S3 filesystem on local S3 (DuckDB and pyarrow datasets read through it)."""
    from pyarrow import fs

    return fs.S3FileSystem(
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=region,
        endpoint_override=config.settings.endpoint_url,
        scheme="http",
        allow_bucket_creation=True,
        allow_bucket_deletion=True,
        # Fail fast rather than retry for minutes when the server is gone (e.g. during shutdown).
        connect_timeout=5,
        retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=3),
    )


def split_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b'); s3a:// and s3n:// too."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("s3", "s3a", "s3n"):
        raise ValueError(f"not an S3 URI: {uri!r} (expected s3://bucket/key)")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ValueError(f"S3 URI has no bucket: {uri!r}")
    return bucket, key

"""Runtime settings of one local AWS server, shared by its executors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_work_dir() -> Path:
    return Path(os.environ.get("LOCAL_AWS_WORK_DIR", REPO_ROOT / ".local_aws"))


def _default_spark_jars_dir() -> Path:
    return Path(
        os.environ.get(
            "LOCAL_AWS_SPARK_JARS",
            REPO_ROOT / ".tools" / "sagemaker_pyspark" / "sagemaker_pyspark" / "jars",
        )
    )


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    # Glue's Timeout is in minutes; tests shorten the minute so TIMEOUT can be exercised quickly.
    glue_minute_seconds: float = 60.0
    # Start the Spark driver when the server starts instead of on the first job run.
    warm_spark: bool = False
    log_requests: bool = False
    # S3 server access logs are buffered and delivered in batches this often (AWS: best effort, minutes).
    s3_access_log_flush_seconds: float = 3.0
    # Lambda: an Event invocation's first retry waits this long, the second twice as long (AWS: ~1 and ~2 minutes).
    lambda_retry_delay_seconds: float = 60.0
    # Lambda: at most this many execution environments (worker processes) across all functions.
    lambda_max_environments: int = 8
    # Lambda: an environment idle this long is stopped (AWS keeps them for minutes, unspecified).
    lambda_idle_seconds: float = 300.0
    # How often Lambda event source mappings poll an idle Kinesis shard or SQS queue, and wait
    # before retrying a failed batch (AWS: about once a second, with backoff); tests shorten it.
    lambda_poll_seconds: float = 0.5
    # Enforce IAM identity policies and bucket policies on S3 requests (docs/local-aws/iam.md), and
    # functions' resource-based policies when S3 and SNS invoke them (docs/local-aws/lambda-event-sources.md).
    iam_enforcement: bool = True
    # Kinesis: refuse writes over a shard's 1,000 records/s and 1 MiB/s (docs/local-aws/kinesis.md).
    kinesis_limits: bool = True
    # Firehose: refuse Direct PUT records over a delivery stream's throughput quota (docs/local-aws/firehose.md).
    firehose_throughput_limits: bool = True
    # Firehose: a failed S3 delivery is retried this often, for up to 24 hours (AWS: retries, interval unstated).
    firehose_retry_seconds: float = 10.0
    # Firehose: how often a KinesisStreamAsSource delivery stream reads its shards (AWS: GetRecords once a second).
    firehose_kinesis_poll_seconds: float = 1.0
    # Also speak TLS on the same port (self-signed CA in work_dir/tls/ca.pem), so aws:SecureTransport is real.
    tls: bool = True
    work_dir: Path = field(default_factory=_default_work_dir)
    spark_jars_dir: Path = field(default_factory=_default_spark_jars_dir)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ca_bundle(self) -> Path:
        """The CA that signed the server's TLS certificate: pass it as `verify` to reach https://HOST:PORT."""
        return self.work_dir / "tls" / "ca.pem"


# The one Settings object of this process; the server replaces it on start.
settings = Settings()

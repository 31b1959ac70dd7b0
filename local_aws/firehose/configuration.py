"""A delivery stream's S3 destination as local AWS delivers it, checked as AWS checks it at creation.

`S3Destination.parse()` reads an ExtendedS3DestinationConfiguration or S3DestinationConfiguration (as moto
stores it: the request's dict) into what the buffer and the delivery need, and raises ConfigError with the
error AWS answers for what it refuses: BufferingHints out of range (SizeInMBs 1-128, IntervalInSeconds
0-900), a Prefix / ErrorOutputPrefix that breaks the prefix rules, record format conversion without its
schema, deserializer or serializer, with a compression other than UNCOMPRESSED or a buffer under 64 MiB.

What local AWS does not run is refused with a ConfigError that says so, rather than accepted and ignored:
ZIP / Snappy / HADOOP_SNAPPY compression, Lambda processing (ProcessingConfiguration), dynamic
partitioning and S3 backup (docs/local-aws/firehose.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from local_aws.firehose import prefixes

MIB = 1024 * 1024
RECORD_MAX_BYTES = 1_024_000  # "The maximum size of a record sent to Firehose, before base64-encoding, is 1,000 KiB"
BATCH_MAX_RECORDS = 500  # PutRecordBatch: "up to 500 records per call or 4 MiB per call, whichever is smaller"
BATCH_MAX_BYTES = 4 * MIB
DEFAULT_SIZE_MB, DEFAULT_INTERVAL_SECONDS = 5, 300
CONVERSION_DEFAULT_SIZE_MB, CONVERSION_MIN_SIZE_MB = 128, 64
SIZE_RANGE, INTERVAL_RANGE = (1, 128), (0, 900)

# CompressionFormat -> the file extension AWS gives the objects; the others are not implemented locally.
EXTENSIONS = {"UNCOMPRESSED": "", "GZIP": ".gz"}
NOT_IMPLEMENTED_COMPRESSION = ("ZIP", "Snappy", "HADOOP_SNAPPY")
BUCKET_ARN = re.compile(r"arn:[^:]*:s3:::([\w.\-]{1,255})$")


class ConfigError(Exception):
    """A destination configuration AWS (or local AWS) refuses; code is the API error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _invalid(message: str) -> ConfigError:
    return ConfigError("InvalidArgumentException", message)


def _range_error(path: str, value: Any, low: int, high: int) -> ConfigError:
    bound = f"greater than or equal to {low}" if value < low else f"less than or equal to {high}"
    return ConfigError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: Member must have value {bound}",
    )


@dataclass(frozen=True)
class SchemaTable:
    """SchemaConfiguration: the Glue table whose columns the records are converted to."""

    database: str
    table: str
    role_arn: str
    region: str | None = None
    catalog_id: str | None = None
    version_id: str = "LATEST"


@dataclass(frozen=True)
class Conversion:
    """DataFormatConversionConfiguration, enabled: JSON records to Parquet or ORC with a Glue table's schema."""

    schema: SchemaTable
    deserializer: str  # "OpenXJsonSerDe" or "HiveJsonSerDe"
    deserializer_options: dict[str, Any]
    serializer: str  # "ParquetSerDe" or "OrcSerDe"
    serializer_options: dict[str, Any]

    @property
    def extension(self) -> str:
        return ".parquet" if self.serializer == "ParquetSerDe" else ".orc"


@dataclass(frozen=True)
class S3Destination:
    kind: str  # "ExtendedS3" or "S3"
    bucket: str
    role_arn: str
    prefix: str = ""
    error_output_prefix: str = ""
    size_bytes: int = DEFAULT_SIZE_MB * MIB
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS
    compression: str = "UNCOMPRESSED"
    extension: str = ""
    time_zone: str | None = None
    kms_key_arn: str | None = None
    conversion: Conversion | None = None
    log_group: str | None = None
    log_stream: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}"

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone or "UTC")

    @classmethod
    def parse(cls, config: dict[str, Any], kind: str = "ExtendedS3") -> S3Destination:
        """The destination of a create or update request (or as moto stores it); ConfigError if AWS refuses it."""
        path = "extendedS3DestinationConfiguration" if kind == "ExtendedS3" else "s3DestinationConfiguration"
        match = BUCKET_ARN.match(str(config.get("BucketARN") or ""))
        if not match:
            raise ConfigError(
                "ValidationException",
                f"1 validation error detected: Value '{config.get('BucketARN')}' at '{path}.bucketARN' failed to "
                f"satisfy constraint: Member must satisfy regular expression pattern: arn:.*:s3:::[\\w\\.\\-]{{1,255}}",
            )
        conversion = (
            _conversion(config.get("DataFormatConversionConfiguration"), path) if kind == "ExtendedS3" else None
        )
        hints = config.get("BufferingHints") or {}
        size_mb = hints.get("SizeInMBs")
        interval = hints.get("IntervalInSeconds")
        if size_mb is not None and not SIZE_RANGE[0] <= int(size_mb) <= SIZE_RANGE[1]:
            raise _range_error(f"{path}.bufferingHints.sizeInMBs", size_mb, *SIZE_RANGE)
        if interval is not None and not INTERVAL_RANGE[0] <= int(interval) <= INTERVAL_RANGE[1]:
            raise _range_error(f"{path}.bufferingHints.intervalInSeconds", interval, *INTERVAL_RANGE)
        if size_mb is None:
            size_mb = CONVERSION_DEFAULT_SIZE_MB if conversion else DEFAULT_SIZE_MB
        if interval is None:
            interval = DEFAULT_INTERVAL_SECONDS
        compression = config.get("CompressionFormat") or "UNCOMPRESSED"
        if compression in NOT_IMPLEMENTED_COMPRESSION:
            raise _invalid(
                f"CompressionFormat {compression} is not implemented by local AWS (UNCOMPRESSED and GZIP are); "
                f"see docs/local-aws/firehose.md"
            )
        if compression not in EXTENSIONS:
            raise ConfigError(
                "ValidationException",
                f"1 validation error detected: Value '{compression}' at '{path}.compressionFormat' failed to satisfy "
                f"constraint: Member must satisfy enum value set: [UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]",
            )
        if conversion is not None:
            if compression != "UNCOMPRESSED":
                raise _invalid(
                    "CompressionFormat must be UNCOMPRESSED when data format conversion is enabled; the serializer "
                    "compresses the data (Snappy by default)"
                )
            if int(size_mb) < CONVERSION_MIN_SIZE_MB:
                raise _invalid(
                    f"BufferingHints.SizeInMBs must be at least {CONVERSION_MIN_SIZE_MB} when data format "
                    f"conversion is enabled (got {size_mb})"
                )
        for unsupported, what in (("ProcessingConfiguration", "data transformation with Lambda"),
                                  ("DynamicPartitioningConfiguration", "dynamic partitioning")):  # fmt: skip
            if (config.get(unsupported) or {}).get("Enabled"):
                raise _invalid(
                    f"{unsupported} ({what}) is not implemented by local AWS; see docs/local-aws/firehose.md"
                )
        if (config.get("S3BackupMode") or "Disabled") != "Disabled":
            raise _invalid("S3BackupMode Enabled (source record backup) is not implemented by local AWS")
        try:
            prefixes.validate(config.get("Prefix"), config.get("ErrorOutputPrefix"))
        except prefixes.PrefixError as error:
            raise _invalid(str(error)) from None
        time_zone = config.get("CustomTimeZone") or None
        if time_zone:
            try:
                ZoneInfo(time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise _invalid(f"CustomTimeZone {time_zone} is not a time zone Firehose supports") from None
        extension = config.get("FileExtension")
        if extension is None or extension == "":
            extension = conversion.extension if conversion else EXTENSIONS[compression]
        kms = ((config.get("EncryptionConfiguration") or {}).get("KMSEncryptionConfig") or {}).get("AWSKMSKeyARN")
        logging_options = config.get("CloudWatchLoggingOptions") or {}
        logging_on = bool(logging_options.get("Enabled")) and logging_options.get("LogGroupName")
        return cls(
            kind=kind,
            bucket=match.group(1),
            role_arn=str(config.get("RoleARN") or ""),
            prefix=config.get("Prefix") or "",
            error_output_prefix=config.get("ErrorOutputPrefix") or "",
            size_bytes=int(size_mb) * MIB,
            interval_seconds=int(interval),
            compression=compression,
            extension=extension,
            time_zone=time_zone,
            kms_key_arn=kms,
            conversion=conversion,
            log_group=logging_options.get("LogGroupName") if logging_on else None,
            log_stream=(logging_options.get("LogStreamName") or "DestinationDelivery") if logging_on else None,
            raw=config,
        )


def _conversion(config: dict[str, Any] | None, path: str) -> Conversion | None:
    if not config or config.get("Enabled") is False:
        return None
    schema = config.get("SchemaConfiguration") or {}
    missing = [name for name in ("RoleARN", "DatabaseName", "TableName") if not schema.get(name)]
    if missing:
        raise _invalid(
            f"DataFormatConversionConfiguration.SchemaConfiguration needs {', '.join(missing)} when format "
            f"conversion is enabled"
        )
    deserializers = {k: v for k, v in ((config.get("InputFormatConfiguration") or {}).get("Deserializer") or {}).items()
                     if v is not None}  # fmt: skip
    serializers = {k: v for k, v in ((config.get("OutputFormatConfiguration") or {}).get("Serializer") or {}).items()
                   if v is not None}  # fmt: skip
    if len(deserializers) != 1:
        raise _invalid(
            "DataFormatConversionConfiguration.InputFormatConfiguration.Deserializer must name exactly one of "
            "OpenXJsonSerDe and HiveJsonSerDe"
        )
    if len(serializers) != 1:
        raise _invalid(
            "DataFormatConversionConfiguration.OutputFormatConfiguration.Serializer must name exactly one of "
            "ParquetSerDe and OrcSerDe"
        )
    (deserializer, deserializer_options), = deserializers.items()  # fmt: skip
    (serializer, serializer_options), = serializers.items()  # fmt: skip
    version = schema.get("VersionId") or "LATEST"
    return Conversion(
        schema=SchemaTable(
            database=schema["DatabaseName"],
            table=schema["TableName"],
            role_arn=schema["RoleARN"],
            region=schema.get("Region") or None,
            catalog_id=schema.get("CatalogId") or None,
            version_id=version,
        ),
        deserializer=deserializer,
        deserializer_options=dict(deserializer_options or {}),
        serializer=serializer,
        serializer_options=dict(serializer_options or {}),
    )


def s3_destination_of(destination: dict[str, Any]) -> S3Destination | None:
    """The S3 destination of a moto delivery stream's destination entry (None for other destination types)."""
    if destination.get("ExtendedS3"):
        return S3Destination.parse(destination["ExtendedS3"], "ExtendedS3")
    if destination.get("S3") and len([key for key in destination if key != "destination_id"]) == 1:
        return S3Destination.parse(destination["S3"], "S3")
    return None

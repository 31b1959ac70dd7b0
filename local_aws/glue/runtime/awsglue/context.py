"""awsglue.context.GlueContext: Spark session, logger, and DynamicFrame reads/writes on S3 and the catalog.

Reads with a transformation_ctx follow the run's job bookmark (local_aws/glue/bookmarks.py):
with job-bookmark-enable or -pause, after Job.init, they read only S3 objects that committed runs
have not read.
"""

from __future__ import annotations

from pyspark.sql import DataFrameReader, SparkSession, SQLContext
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from awsglue import _catalog
from awsglue.dynamicframe import DynamicFrame, DynamicFrameReader, DynamicFrameWriter
from local_aws.glue import bookmarks, run_logs

S3_FORMATS = ("csv", "json", "parquet", "glueparquet")


class GlueLogger:
    """Glue's driver logger: a log4j logger of the driver's JVM, so its lines are in the driver log
    (the run's /aws-glue/jobs/error stream) and follow the log level, as on AWS."""

    def __init__(self, jvm):
        self._log4j = jvm.org.apache.logging.log4j.LogManager.getLogger("GlueLogger")

    def info(self, message) -> None:
        self._log4j.info(str(message))

    def warn(self, message) -> None:
        self._log4j.warn(str(message))

    warning = warn

    def error(self, message) -> None:
        self._log4j.error(str(message))


class GlueContext(SQLContext):
    """GlueContext(sc): wraps the driver's active SparkSession (on local AWS, the run's own session)."""

    def __init__(self, sparkContext, **options):
        session = SparkSession._getActiveSessionOrCreate()
        super().__init__(sparkContext, sparkSession=session)
        self.spark_session = session
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.write_dynamic_frame = DynamicFrameWriter(self)
        self._logger = GlueLogger(session._jvm)
        run_logs.glue_context_created(session.sparkContext)  # continuous logging's progress bar starts

    def get_logger(self) -> GlueLogger:
        return self._logger

    def create_dynamic_frame_from_catalog(
        self,
        database=None,
        table_name=None,
        redshift_tmp_dir="",
        transformation_ctx="",
        push_down_predicate="",
        additional_options=None,
        catalog_id=None,
        **kwargs,
    ) -> DynamicFrame:
        database = database or kwargs.pop("name_space", None)
        if not database or not table_name:
            raise ValueError("create_dynamic_frame.from_catalog needs database= and table_name=")
        new_files = None
        if (run := bookmarks.current()) is not None and run.tracks(transformation_ctx):
            source = [f"catalog:{catalog_id or ''}:{database}.{table_name}"]
            max_band = _max_band(additional_options)

            def new_files(locations: list[str]) -> list[str]:
                return run.new_files(transformation_ctx, source, locations, max_band)

        frame = _catalog.read_table(
            self.spark_session, database, table_name, push_down_predicate, catalog_id, new_files
        )
        return DynamicFrame(frame, self, transformation_ctx or table_name)

    def create_dynamic_frame_from_options(
        self,
        connection_type,
        connection_options=None,
        format=None,
        format_options=None,
        transformation_ctx="",
        push_down_predicate="",
        **kwargs,
    ) -> DynamicFrame:
        _require_s3(connection_type)
        options = connection_options or {}
        paths = options.get("paths")
        if isinstance(paths, str):
            paths = [paths]
        if not paths:
            raise ValueError("create_dynamic_frame.from_options needs connection_options={'paths': ['s3://...']}")
        reader = _s3_reader(self.spark_session.read, _require_format(format), format_options or {})
        if options.get("recurse"):
            reader = reader.option("recursiveFileLookup", "true")
        if (run := bookmarks.current()) is not None and run.tracks(transformation_ctx):
            files = run.new_files(transformation_ctx, sorted(paths), paths, _max_band(options))
            if not files:  # nothing new: an empty frame without columns, as on AWS
                return DynamicFrame(self.spark_session.createDataFrame([], StructType([])), self, transformation_ctx)
            if len(paths) == 1 and not options.get("recurse") and paths[0] not in files:
                reader = reader.option("basePath", paths[0])  # keep partition columns from key=value folders
            paths = files
        frame = reader.load(paths)
        if options.get("attachFilename"):
            # Glue's S3 option: a column with each record's file, the full s3:// URI (Spark gives it
            # URL-encoded: a space in a key is %20).
            frame = frame.withColumn(options["attachFilename"], F.input_file_name())
        return DynamicFrame(frame, self, transformation_ctx)

    def write_dynamic_frame_from_options(
        self, frame, connection_type, connection_options=None, format=None, format_options=None, transformation_ctx=""
    ) -> DynamicFrame:
        if not isinstance(frame, DynamicFrame):
            raise TypeError(
                f"write_dynamic_frame.from_options needs a DynamicFrame, got {type(frame).__name__}; "
                "wrap a DataFrame with DynamicFrame.fromDF(df, glue_context, name)"
            )
        _require_s3(connection_type)
        options = connection_options or {}
        if not options.get("path"):
            raise ValueError("write_dynamic_frame.from_options needs connection_options={'path': 's3://...'}")
        fmt, format_options = _require_format(format), format_options or {}
        # Glue's S3 sink adds files to the path; it never replaces what is there.
        writer = frame.toDF().write.mode("append")
        if options.get("partitionKeys"):
            writer = writer.partitionBy(*options["partitionKeys"])
        if fmt == "csv":
            writer = writer.options(
                header=str(format_options.get("writeHeader", True)).lower(),
                sep=format_options.get("separator", ","),
                quote=_quote_char(format_options),
            ).format("csv")
        elif fmt == "json":
            writer = writer.format("json")
        else:
            writer = writer.option("compression", format_options.get("compression", "snappy")).format("parquet")
        writer.save(options["path"])
        return frame


def _max_band(options: dict | None) -> int:
    """Glue's maxBand option (milliseconds): how long before a listing its objects are remembered by name."""
    return int((options or {}).get("maxBand", bookmarks.DEFAULT_MAX_BAND_MS))


def _require_s3(connection_type) -> None:
    if connection_type != "s3":
        raise ValueError(
            f"connection_type={connection_type!r} is not supported by the local awsglue; use connection_type='s3'"
        )


def _require_format(format) -> str:
    fmt = (format or "").lower()
    if fmt not in S3_FORMATS:
        raise ValueError(f"format={format!r} is not supported by the local awsglue; use one of {S3_FORMATS}")
    return "parquet" if fmt == "glueparquet" else fmt


def _quote_char(format_options: dict) -> str:
    quote = format_options.get("quoteChar", '"')
    # Glue's quoteChar -1 turns quoting off; Spark's equivalent is the NUL character.
    return "\u0000" if quote in (-1, "-1") else quote


def _s3_reader(reader: DataFrameReader, fmt: str, format_options: dict) -> DataFrameReader:
    if fmt == "csv":
        # Glue's CSV reader types columns from the data; inferSchema is Spark's closest equivalent.
        return reader.format("csv").options(
            header=str(format_options.get("withHeader", False)).lower(),
            sep=format_options.get("separator", ","),
            quote=_quote_char(format_options),
            inferSchema="true",
            multiLine=str(format_options.get("multiLine", False)).lower(),
        )
    if fmt == "json":
        return reader.format("json").option("multiLine", str(format_options.get("multiline", False)).lower())
    # Glue's DynamicFrame has every column of every file; Spark would take one file's schema (a column
    # only newer files have, such as DMS's after an ALTER TABLE ADD COLUMN, would be dropped).
    return reader.format("parquet").option("mergeSchema", "true")

"""The local awsglue subset (local_aws/glue/runtime/awsglue) and the driver's run helpers, without a server."""

from __future__ import annotations

import sys

import pyarrow.dataset as ds
import pytest

from local_aws.glue import script_run
from local_aws.glue.spark_worker import RUNTIME_DIR


@pytest.fixture(scope="module")
def awsglue():
    """The runtime package, importable the way the Spark driver makes it importable."""
    sys.path.insert(0, str(RUNTIME_DIR))
    import awsglue.context
    import awsglue.dynamicframe
    import awsglue.job
    import awsglue.transforms
    import awsglue.utils

    yield awsglue
    sys.path.remove(str(RUNTIME_DIR))


@pytest.fixture(scope="module")
def spark_session():
    from pyspark.sql import SparkSession

    # Share a session other unit tests already started; stop only the one started here.
    already_running = SparkSession.getActiveSession() is not None
    session = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    if not already_running:
        session.stop()


@pytest.fixture
def glue_context(awsglue, spark_session):
    return awsglue.context.GlueContext(spark_session.sparkContext)


ARGV = [
    "/tmp/script.py",
    "--JOB_NAME",
    "lab1",
    "--JOB_ID",
    "j_1",
    "--JOB_RUN_ID",
    "jr_1",
    "--source_path",
    "s3://raw/flights/",
    "--TempDir",
    "s3://tmp/",
    "--unasked",
    "x",
]


# ---- getResolvedOptions ----


def test_get_resolved_options_returns_asked_and_glue_options(awsglue):
    options = awsglue.utils.getResolvedOptions(ARGV, ["JOB_NAME", "source_path"])

    assert options["JOB_NAME"] == "lab1"
    assert options["source_path"] == "s3://raw/flights/"
    assert (options["JOB_ID"], options["JOB_RUN_ID"]) == ("j_1", "jr_1")
    assert (options["TempDir"], options["RedshiftTempDir"]) == ("s3://tmp/", "s3://tmp/")
    assert options["job_bookmark_option"] == "job-bookmark-disable"
    assert "unasked" not in options


def test_get_resolved_options_names_missing_required_options(awsglue):
    with pytest.raises(awsglue.utils.GlueArgumentError, match="required: --target_path, --mode"):
        awsglue.utils.getResolvedOptions(ARGV, ["JOB_NAME", "target_path", "mode"])


def test_get_resolved_options_never_requires_temp_dir(awsglue):
    options = awsglue.utils.getResolvedOptions(ARGV[:7], ["JOB_NAME", "TempDir"])

    assert options["TempDir"] is None


def test_get_resolved_options_rejects_reserved_options(awsglue):
    with pytest.raises(RuntimeError, match="reserved arguments --JOB_RUN_ID"):
        awsglue.utils.getResolvedOptions(ARGV, ["JOB_RUN_ID"])


def test_get_resolved_options_checks_the_bookmark_option(awsglue):
    with pytest.raises(awsglue.utils.GlueArgumentError, match="invalid choice"):
        awsglue.utils.getResolvedOptions([*ARGV, "--job-bookmark-option", "sometimes"], ["JOB_NAME"])
    enabled = awsglue.utils.getResolvedOptions([*ARGV, "--job-bookmark-option", "job-bookmark-enable"], [])
    assert enabled["job_bookmark_option"] == "job-bookmark-enable"


def test_glue_argv_puts_glue_ids_first_then_every_argument():
    request = script_run.RunRequest(
        run_id="jr_9",
        job_name="lab1",
        job_id="j_9",
        script_location="s3://b/lab1.py",
        arguments={"--source_path": "s3://raw/", "--mode": "full"},
        region="us-east-1",
    )

    assert script_run.glue_argv("/runs/jr_9/lab1.py", request) == [
        "/runs/jr_9/lab1.py",
        "--JOB_NAME",
        "lab1",
        "--JOB_ID",
        "j_9",
        "--JOB_RUN_ID",
        "jr_9",
        "--source_path",
        "s3://raw/",
        "--mode",
        "full",
    ]


def test_error_summary_is_type_and_message():
    assert script_run.error_summary(KeyError("flight")) == "KeyError: 'flight'"
    assert len(script_run.error_summary(ValueError("x" * 10_000))) == script_run.MAX_ERROR_MESSAGE


# ---- Job ----


def test_job_commit_needs_init(awsglue, glue_context):
    job = awsglue.job.Job(glue_context)
    with pytest.raises(RuntimeError, match=r"call job.init\(args\['JOB_NAME'\], args\) first"):
        job.commit()
    job.init("lab1", {"JOB_NAME": "lab1"})
    job.commit()
    assert job.isInitialized()


# ---- catalog table definitions ----

CSV_TABLE = {
    "Name": "flights",
    "DatabaseName": "lab",
    "Parameters": {"classification": "csv", "skip.header.line.count": "1"},
    "StorageDescriptor": {
        "Columns": [{"Name": "carrier", "Type": "varchar(2)"}, {"Name": "delay", "Type": "decimal(6,2)"}],
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            "Parameters": {"field.delim": "\t"},
        },
    },
}


def test_catalog_csv_table_becomes_spark_reader_options_and_schema(awsglue):
    from awsglue import _catalog

    assert _catalog.table_format(CSV_TABLE) == "csv"
    assert _catalog.csv_options(CSV_TABLE) == {"sep": "\t", "header": "true", "quote": '"'}
    assert _catalog.ddl_schema(CSV_TABLE["StorageDescriptor"]["Columns"]) == "`carrier` string, `delay` decimal(6,2)"


def test_catalog_format_comes_from_serde_when_unclassified(awsglue):
    from awsglue import _catalog

    def table(serde: str) -> dict:
        return {"Name": "t", "StorageDescriptor": {"SerdeInfo": {"SerializationLibrary": serde}}}

    assert _catalog.table_format(table("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")) == "parquet"
    assert _catalog.table_format(table("org.openx.data.jsonserde.JsonSerDe")) == "json"
    assert _catalog.table_format(table("org.apache.hadoop.hive.serde2.OpenCSVSerde")) == "csv"
    with pytest.raises(ValueError, match="reads CSV, Parquet and JSON"):
        _catalog.table_format(table("org.apache.hadoop.hive.ql.io.orc.OrcSerde"))


def test_catalog_rejects_more_than_one_header_line(awsglue):
    from awsglue import _catalog

    table = {**CSV_TABLE, "Parameters": {"skip.header.line.count": "2"}}
    with pytest.raises(ValueError, match="lab.flights: skip.header.line.count=2"):
        _catalog.csv_options(table)


# ---- GlueContext and DynamicFrame on a local SparkSession ----


def test_glue_context_uses_the_active_session(glue_context, spark_session):
    assert glue_context.spark_session._jsparkSession.equals(spark_session._jsparkSession)
    assert glue_context.sql("select 1 as one").collect()[0]["one"] == 1


def test_dynamic_frame_wraps_a_dataframe(awsglue, glue_context, spark_session, capsys):
    DynamicFrame = awsglue.dynamicframe.DynamicFrame
    df = spark_session.createDataFrame([("UA", 1545, "2"), ("AA", 1141, "-4")], ["carrier", "flight", "delay"])

    frame = DynamicFrame.fromDF(df, glue_context, "flights")
    frame.printSchema()

    assert frame.toDF() is df
    assert frame.count() == 2
    assert frame.schema() == df.schema
    assert frame.name == "flights"
    assert "|-- carrier: string" in capsys.readouterr().out
    with pytest.raises(TypeError, match=r"DynamicFrame.fromDF\(df, glue_context, name\)"):
        DynamicFrame.fromDF([("UA", 1)], glue_context, "rows")


def test_dynamic_frame_field_transforms(awsglue, glue_context, spark_session):
    from awsglue.transforms import ApplyMapping, DropFields, RenameField, SelectFields

    df = spark_session.createDataFrame([("UA", "1545", "2")], ["carrier", "flight", "delay"])
    frame = awsglue.dynamicframe.DynamicFrame.fromDF(df, glue_context, "flights")

    mapped = ApplyMapping.apply(
        frame=frame, mappings=[("flight", "string", "flight_no", "int"), ("delay", "string", "dep_delay", "double")]
    )
    assert mapped.toDF().dtypes == [("flight_no", "int"), ("dep_delay", "double")]
    assert mapped.toDF().first().asDict() == {"flight_no": 1545, "dep_delay": 2.0}
    assert SelectFields.apply(frame, ["carrier"]).toDF().columns == ["carrier"]
    assert DropFields.apply(frame, ["delay"]).toDF().columns == ["carrier", "flight"]
    assert RenameField.apply(frame, "carrier", "airline").toDF().columns == ["airline", "flight", "delay"]
    with pytest.raises(ValueError, match="no field 'airline'"):
        frame.rename_field("airline", "carrier")


def test_from_options_and_write_dynamic_frame_round_trip(glue_context, tmp_path):
    source = tmp_path / "raw" / "flights.csv"
    source.parent.mkdir()
    source.write_text("year;carrier;flight\n2013;UA;1545\n2013;AA;1141\n2014;DL;461\n")

    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [str(source.parent)]},
        format="csv",
        format_options={"withHeader": True, "separator": ";"},
    )
    target = tmp_path / "curated"
    glue_context.write_dynamic_frame.from_options(
        frame=frame,
        connection_type="s3",
        connection_options={"path": str(target), "partitionKeys": ["year"]},
        format="parquet",
    )

    assert frame.toDF().dtypes == [("year", "int"), ("carrier", "string"), ("flight", "int")]
    assert {path.name for path in target.iterdir() if path.is_dir()} == {"year=2013", "year=2014"}
    rows = ds.dataset(str(target), format="parquet", partitioning="hive").to_table().to_pylist()
    assert sorted(rows, key=lambda row: row["flight"]) == [
        {"carrier": "DL", "flight": 461, "year": 2014},
        {"carrier": "AA", "flight": 1141, "year": 2013},
        {"carrier": "UA", "flight": 1545, "year": 2013},
    ]


def test_write_dynamic_frame_rejects_dataframes_and_other_connections(glue_context, spark_session, awsglue):
    df = spark_session.createDataFrame([(1,)], ["x"])
    with pytest.raises(TypeError, match="wrap a DataFrame with DynamicFrame.fromDF"):
        glue_context.write_dynamic_frame.from_options(df, "s3", {"path": "/tmp/x"}, "parquet")
    frame = awsglue.dynamicframe.DynamicFrame.fromDF(df, glue_context, "x")
    with pytest.raises(ValueError, match="connection_type='jdbc' is not supported"):
        glue_context.write_dynamic_frame.from_options(frame, "jdbc", {"path": "/tmp/x"}, "parquet")
    with pytest.raises(ValueError, match="format='orc' is not supported"):
        glue_context.write_dynamic_frame.from_options(frame, "s3", {"path": "/tmp/x"}, "orc")

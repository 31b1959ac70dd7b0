"""Glue lab 1: flights CSV -> typed Parquet partitioned by year/month (AWS Glue 5.0).

Arguments:
  --source_path        s3:// prefix of the raw flights CSV (with a header row)
  --target_path        s3:// prefix for the Parquet output (replaced on every run)
  --bad_records_path   s3:// prefix where malformed rows are quarantined as JSON lines

The etl package comes from --extra-py-files (a zip built from glue_jobs/etl).
"""

import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

from etl import flights

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_path", "target_path", "bad_records_path"])
glue_context = GlueContext(SparkContext.getOrCreate())
spark = glue_context.spark_session
logger = glue_context.get_logger()
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

raw = spark.read.options(**flights.CSV_READ_OPTIONS).schema(flights.RAW_SCHEMA).csv(args["source_path"])
typed = flights.type_flights(raw).cache()

good = flights.valid_flights(typed)
(
    good.write.mode("overwrite")
    .partitionBy(*flights.PARTITION_COLUMNS)
    .option("compression", "snappy")
    .parquet(args["target_path"])
)

bad = flights.quarantined_flights(typed)
bad_count = bad.count()
# Overwrite even when empty, so a rerun never leaves an earlier run's rejects behind.
bad.coalesce(1).write.mode("overwrite").json(args["bad_records_path"])

good_count = typed.count() - bad_count
print(f"flights_csv_to_parquet: wrote {good_count} rows to {args['target_path']}")
print(f"flights_csv_to_parquet: quarantined {bad_count} malformed rows to {args['bad_records_path']}")
logger.info(f"rows_written={good_count} rows_quarantined={bad_count}")
job.commit()

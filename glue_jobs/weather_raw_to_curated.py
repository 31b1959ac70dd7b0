"""Glue lab 4: raw hourly weather (crawled CSV) -> curated Parquet partitioned by year/month (AWS Glue 5.0).

Cleans, dedupes and reshapes the readings with etl.weather. Incremental with job bookmarks
(--job-bookmark-option job-bookmark-enable): the catalog read has a transformation_ctx, so a run
reads only raw files that no committed run has read, and job.commit() at the end records them.
A run that fails before the commit is simply read again by the next one.

Writes replace only the partitions they touch (dynamic partition overwrite): a month's raw file
lands in its year/month partition, so reprocessing a file (after a bookmark reset or a corrected
upload) replaces that month instead of duplicating it, and months not in this run stay as they are.

Arguments:
  --database           Glue database of the raw table
  --raw_table          the crawled raw weather table
  --target_path        s3:// prefix of the curated Parquet
  --bad_records_path   s3:// prefix for quarantined rows (JSON lines, one folder per source file)

The etl package comes from --extra-py-files (a zip built from glue_jobs/etl).
"""

import json
import sys

from awsglue.context import GlueContext
from awsglue.job import Job
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

from etl import weather

args = getResolvedOptions(sys.argv, ["JOB_NAME", "database", "raw_table", "target_path", "bad_records_path"])
glue_context = GlueContext(SparkContext.getOrCreate())
spark = glue_context.spark_session
for key, value in weather.SPARK_SETTINGS.items():  # what etl.weather needs (see there why)
    spark.conf.set(key, value)
logger = glue_context.get_logger()
job = Job(glue_context)
job.init(args["JOB_NAME"], args)

raw = glue_context.create_dynamic_frame.from_catalog(
    database=args["database"], table_name=args["raw_table"], transformation_ctx="raw_weather"
).toDF()
raw = raw.withColumn(weather.SOURCE_FILE, F.element_at(F.split(F.input_file_name(), "/"), -1)).cache()

curated, quarantined = weather.clean_weather(raw)
curated = curated.cache()
quarantined = quarantined.cache()
(
    curated.write.mode("overwrite")
    .option("partitionOverwriteMode", "dynamic")
    .partitionBy(*weather.PARTITION_COLUMNS)
    .option("compression", "snappy")
    .parquet(args["target_path"])
)
(
    quarantined.write.mode("overwrite")
    .option("partitionOverwriteMode", "dynamic")
    .partitionBy(weather.SOURCE_FILE)
    .json(args["bad_records_path"])
)

figures = {
    "files_read": raw.select(weather.SOURCE_FILE).distinct().count(),
    "rows_read": raw.count(),
    "rows_written": curated.count(),
    "rows_quarantined": quarantined.count(),
    "values_nulled": curated.where(F.col("nulled_fields").isNotNull()).count(),
}
figures["duplicates_removed"] = figures["rows_read"] - figures["rows_quarantined"] - figures["rows_written"]
print(f"weather_raw_to_curated: {json.dumps(figures)}")
logger.info(" ".join(f"{name}={value}" for name, value in figures.items()))
job.commit()

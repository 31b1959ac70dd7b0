"""Local AWS: moto's server for the control plane plus executors that do the work.

moto records API calls; the executors in this package run what they describe:
Glue job runs on a warm local Spark driver, crawlers that scan S3 and write the
Glue Data Catalog, and Athena queries on DuckDB. See docs/local-aws.md for what
differs from AWS.
"""

MOTO_VERSION = "5.2.5"  # we patch moto's backends; the patches are written against this release
DEFAULT_PORT = 4566
DEFAULT_ACCOUNT_ID = "123456789012"

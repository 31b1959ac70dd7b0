"""Local subset of AWS Glue's `awsglue` package, for job scripts run by local AWS.

Only the local Spark driver puts this package on sys.path. What it supports and how it
differs from AWS Glue 5.0 is listed in docs/local-aws/glue-jobs.md.
"""

"""Operators for AWS calls the Amazon provider has no operator for (hook-based, templated), and the
AWS logic they run without Airflow: S3 lifecycle projection, client-side encryption, access-log format.

Built on labkit.core only."""

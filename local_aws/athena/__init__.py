"""Athena: queries parsed with sqlglot and executed on DuckDB over the data in local S3."""

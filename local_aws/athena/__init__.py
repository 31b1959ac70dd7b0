"""Athena: queries parsed with sqlglot and executed on DuckDB over the data in local S3."""

from local_aws.patching import Patches

# The Athena executor's patches (local_aws/athena/executor.py, the registry's entry): executor.py
# declares those that run queries, api.py those that answer requests as Athena does.
patches = Patches("local_aws.athena.executor")

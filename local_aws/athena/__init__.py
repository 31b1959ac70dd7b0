"""Athena: queries parsed with sqlglot and executed on DuckDB over the data in local S3.

What moto call is intercepted (the patches, thin, registered in local_aws/registry.py):
- executor.py  StartQueryExecution hands the execution to the engine; GetQueryExecution,
               GetQueryResults, GetQueryRuntimeStatistics, StopQueryExecution answer from its
               run; UpdateWorkGroup (moto lacks it)
- api.py       requests moto handles differently from AWS: workgroups, idempotent starts,
               BatchGetQueryExecution, prepared statements

What really runs (the engine, no moto patches):
- engine.py      submit a run to the server's QueryPool, execute it, DuckDB errors as Athena's
- runs.py        a run's state (QUEUED -> RUNNING -> SUCCEEDED / FAILED / CANCELLED) and statistics
- translate.py   sqlglot: parse, find the tables, Trino -> DuckDB (pure)
- statements.py  CTAS, INSERT INTO, UNLOAD, views, SHOW, DESCRIBE, PREPARE / EXECUTE
- ddl.py         Hive DDL -> the Glue Data Catalog
- tables.py      a Glue table -> a DuckDB relation over its files in S3
- storage.py     listing S3, and the byte-counting S3 filesystem DuckDB reads through
- results.py     values as Athena's text, ColumnInfo, the result and manifest files
- functions.py   Trino functions DuckDB lacks or computes differently, rewritten
"""

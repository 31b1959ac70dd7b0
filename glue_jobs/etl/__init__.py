"""Pure DataFrame -> DataFrame transforms used by the Glue job scripts.

No I/O here: the entry scripts in glue_jobs/ read sources, call these, and write sinks.
Shipped to Glue as a zip through --extra-py-files (plugins/labkit/packaging.py builds it).
"""

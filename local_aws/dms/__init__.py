"""DMS: replication tasks that move data from a MySQL source to an S3 target (tasks.py: the patches; the rest: the engine)."""

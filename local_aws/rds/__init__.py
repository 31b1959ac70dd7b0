"""RDS: DB instances that run a real MariaDB or PostgreSQL server (instances.py: the patches; servers.py: the engine)."""

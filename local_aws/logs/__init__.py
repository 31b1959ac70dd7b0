"""CloudWatch Logs as the executors write it (moto stores the events; we only append)."""

"""Glue: job runs on a warm local Spark driver, and crawlers that write the Data Catalog."""

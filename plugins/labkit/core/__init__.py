"""The DAG core every lab builds on: the lab DAG factory, resource naming, project paths, where the
DAGs run (AWS or local AWS) and the checks' ValidationError. Imports nothing from labkit's other layers."""

"""Airflow-side helpers for the course labs: naming, datasets, operators the provider lacks.

Lives in plugins/ (on Airflow's sys.path) so DAG files stay thin and import from here.
"""

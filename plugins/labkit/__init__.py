"""Airflow-side code for the course labs, in layers (a layer imports only from those before it):

- core/: the lab DAG factory, resource naming, paths, environment (AWS or local AWS), ValidationError
- operators/: operators and sensors the Amazon provider lacks, with the AWS logic they run
- labs/: per-lab builders and checks, one module per lab family, and the course datasets
- local/: the local harness (DAG runner, Airflow UI, local AWS services, datasets CLI)

Lives in plugins/ (on Airflow's sys.path) so DAG files stay thin and import from here.
tests/unit/test_labkit_layers.py enforces the layering.
"""

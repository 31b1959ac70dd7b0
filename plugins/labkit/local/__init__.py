"""The local harness: run DAGs in this process (runner), serve Airflow's UI against local AWS
(airflow_ui), start or reuse local AWS (services), export the course data (the datasets CLI).

Not used by DAGs. May import every other layer of labkit.
"""

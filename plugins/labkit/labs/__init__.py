"""Per-lab builders and checks, one module per lab family: setup and teardown task builders, the work
the labs' tasks do (plain functions taking boto3 clients) and the checks that validate it.

Built on labkit.core and labkit.operators; never imports labkit.local.
"""

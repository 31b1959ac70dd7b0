"""labkit's Athena workgroup operators and templated Glue table operator, executed against local AWS through aws_default."""

from __future__ import annotations

from labkit.core.dag import lab_dag
from labkit.operators.athena import AthenaCreateWorkGroupOperator, AthenaDeleteWorkGroupOperator
from labkit.operators.glue_catalog import GlueCatalogCreateTableOperator


def test_workgroup_is_created_with_an_enforced_output_location_updated_and_deleted(aws_client):
    athena = aws_client("athena")
    create = AthenaCreateWorkGroupOperator(task_id="create", workgroup="lab", output_location="s3://results/a/")
    assert create.execute({}) == "lab"
    configuration = athena.get_work_group(WorkGroup="lab")["WorkGroup"]["Configuration"]
    assert configuration["ResultConfiguration"]["OutputLocation"] == "s3://results/a/"
    assert configuration["EnforceWorkGroupConfiguration"] is True

    AthenaCreateWorkGroupOperator(task_id="again", workgroup="lab", output_location="s3://results/b/").execute({})
    configuration = athena.get_work_group(WorkGroup="lab")["WorkGroup"]["Configuration"]
    assert configuration["ResultConfiguration"]["OutputLocation"] == "s3://results/b/"

    AthenaDeleteWorkGroupOperator(task_id="delete", workgroup="lab").execute({})
    assert "lab" not in [w["Name"] for w in athena.list_work_groups()["WorkGroups"]]
    AthenaDeleteWorkGroupOperator(task_id="delete_missing", workgroup="lab").execute({})  # no error


def test_create_table_renders_its_table_input(monkeypatch):
    """Rendered as a task run renders it: the lab DAG's Jinja environment (its `names` macro) and a context."""
    monkeypatch.setenv("AIRFLOW_VAR_AWS_NAME_PREFIX", "acme")  # the Variable `names` reads
    with lab_dag("render_athena_lab", lab="athena-lab2", description="", doc_md=None, tags=[]):
        create = GlueCatalogCreateTableOperator(
            task_id="create_airports",
            database_name="{{ names.database }}",
            table_name="{{ params.table }}",
            table_input={
                "Name": "{{ params.table }}",
                "StorageDescriptor": {
                    "Columns": [{"Name": "faa", "Type": "string"}],
                    "Location": "s3://{{ names.bucket('data') }}/raw/{{ params.table }}/",
                },
            },
        )
    create.render_template_fields({"params": {"table": "airports"}})

    assert (create.database_name, create.table_name) == ("acme_athena_lab2", "airports")
    assert create.table_input == {
        "Name": "airports",
        "StorageDescriptor": {
            "Columns": [{"Name": "faa", "Type": "string"}],
            "Location": "s3://acme-athena-lab2-data/raw/airports/",
        },
    }

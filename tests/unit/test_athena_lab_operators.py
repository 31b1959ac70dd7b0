"""labkit's Athena workgroup operators and templated Glue table operator, executed against local AWS through aws_default."""

from __future__ import annotations

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


def test_create_table_renders_its_table_input():
    assert "table_input" in GlueCatalogCreateTableOperator.template_fields
    assert {"database_name", "table_name"} <= set(GlueCatalogCreateTableOperator.template_fields)

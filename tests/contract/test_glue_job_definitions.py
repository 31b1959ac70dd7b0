"""UpdateJob replaces a job's definition, as the provider's GlueJobOperator(update_config=True) needs on reruns."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

COMMAND = {"Name": "glueetl", "ScriptLocation": "s3://scripts/v1.py", "PythonVersion": "3"}


def test_update_job_replaces_the_definition_and_keeps_the_job(aws_client):
    glue = aws_client("glue")
    glue.create_job(
        Name="etl",
        Role="role-v1",
        Command=COMMAND,
        GlueVersion="4.0",
        Timeout=30,
        DefaultArguments={"--source": "s3://a/"},
        Tags={"team": "data"},
    )
    created = glue.get_job(JobName="etl")["Job"]

    glue.update_job(
        JobName="etl",
        JobUpdate={
            "Role": "role-v2",
            "Command": {**COMMAND, "ScriptLocation": "s3://scripts/v2.py"},
            "GlueVersion": "5.0",
            "DefaultArguments": {"--source": "s3://b/"},
        },
    )

    job = glue.get_job(JobName="etl")["Job"]
    assert job["Role"] == "role-v2"
    assert job["Command"]["ScriptLocation"] == "s3://scripts/v2.py"
    assert (job["GlueVersion"], job["DefaultArguments"]) == ("5.0", {"--source": "s3://b/"})
    assert job["Timeout"] == 480  # left out of the update: reset to AWS's default for Glue 5.0
    assert job["CreatedOn"] == created["CreatedOn"]
    assert job["LastModifiedOn"] >= created["LastModifiedOn"]
    arn = "arn:aws:glue:us-east-1:123456789012:job/etl"
    assert glue.get_tags(ResourceArn=arn)["Tags"] == {"team": "data"}


def test_update_of_a_missing_job_names_it(aws_client):
    glue = aws_client("glue")
    with pytest.raises(ClientError) as error:
        glue.update_job(JobName="nope", JobUpdate={"Role": "r", "Command": COMMAND})
    assert error.value.response["Error"]["Code"] == "EntityNotFoundException"
    assert "nope" in error.value.response["Error"]["Message"]

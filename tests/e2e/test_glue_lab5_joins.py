"""Glue lab 5 end to end on local AWS: crawler -> join job -> crawler -> Athena checks -> teardown."""

from __future__ import annotations

import boto3
import pytest

from tests.lab_runs import assert_every_task_succeeded

pytestmark = pytest.mark.e2e

DAG_ID = "glue_lab5_joins"


def test_glue_lab5_joins_match_athena_on_the_raw_tables_and_clean_up(local_aws):
    from labkit.local import runner

    report = runner.run_dag(DAG_ID, {"teardown": True})

    assert_every_task_succeeded(report)
    # Every rating has its movie, so all 9,066 movies are rated and all 100,004 ratings joined; the
    # 20 genres include MovieLens' own "(no genres listed)". Among movies with >= 50 ratings, The
    # Godfather (4.4875 over 200) beats The Shawshank Redemption (4.4871 over 311) by 0.0004.
    assert report.figures == {
        "movies": 9_066,
        "ratings": 100_004,
        "movies_rated": 9_066,
        "ratings_joined": 100_004,
        "genres": 20,
        "top_movie": "Godfather, The",
        "top_movie_ratings": 200,
        "top_movie_avg_rating": 4.4875,
    }

    s3 = boto3.client("s3", endpoint_url=local_aws.endpoint_url)
    assert [b["Name"] for b in s3.list_buckets()["Buckets"] if "glue-lab5" in b["Name"]] == []
    glue = boto3.client("glue", endpoint_url=local_aws.endpoint_url)
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == []
    assert glue.get_crawlers()["Crawlers"] == []
    assert glue.get_jobs()["Jobs"] == []
    iam = boto3.client("iam", endpoint_url=local_aws.endpoint_url)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if "glue-lab5" in r["RoleName"]] == []

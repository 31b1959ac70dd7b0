"""
### AWS preflight: what would fail, before anything is created

Checks an AWS account and region for the other DAGs, creating nothing:

1. **Who**: the param `principal` (an IAM user or role ARN), else the caller of `aws_default`
   (`sts:GetCallerIdentity`; an assumed-role session is checked as its role).
2. **IAM**: each DAG's least-privilege policy, `iam_policies/<dag_id>.json`, is asked of IAM's policy
   simulator (`iam:SimulatePrincipalPolicy`) for the principal: every action on the policy's resources,
   with the name prefix (Airflow Variable `aws_name_prefix`), the region and the account filled in.
3. **Region** (param `region`, else the connection's): the services each DAG calls are offered there
   (SSM's public parameters, by API); its Glue version (5.0) and Lambda runtimes (python3.11,
   python3.12) are not past AWS's published end of support (a list kept in the repo).
4. **Report**: a table of DAG, action, resource, decision and why, in the log and in
   `artifacts/aws_preflight/report.md`; the run fails naming every check that would fail.

Param `dags` limits the check to some DAGs (default: all). IAM's simulator does not see everything AWS
decides with (resource control policies, session policies, resource-based policies):
[docs/aws-preflight.md](../docs/aws-preflight.md). `make aws-preflight` runs it from a shell.
"""

from __future__ import annotations

from airflow.sdk import Param, chain, task

from labkit.core.dag import body_watcher, lab_dag, teardown_gate

AWS_CONN_ID = "aws_default"

with lab_dag(
    "aws_preflight",
    lab="aws-preflight",
    description="Preflight: each DAG's IAM actions simulated for a principal, region and service support, one table",
    doc_md=__doc__,
    tags=["preflight", "iam"],
    params={
        "dags": Param(
            [],
            type="array",
            items={"type": "string"},
            description="DAG ids to check (those with a policy in iam_policies/); empty: every DAG",
        ),
        "principal": Param(
            "",
            type="string",
            description="ARN of the IAM user or role to check; empty: the caller of the aws_default connection",
        ),
        "region": Param("", type="string", description="Region the DAGs will run in; empty: the connection's region"),
    },
) as dag:
    # Bad input or a missing permission is not transient: no retries.
    @task(retries=0)
    def caller_identity(params=None) -> dict:
        """The principal, account, region, name prefix and DAGs to check."""
        from labkit.labs import aws_preflight as preflight

        return preflight.identify(params["principal"], params["region"], params["dags"], AWS_CONN_ID)

    @task(retries=0)
    def simulate_policies(identity: dict) -> list[dict]:
        """Each DAG's policy through IAM's SimulatePrincipalPolicy: a row per action and resource."""
        from labkit.labs import aws_preflight as preflight

        return preflight.check_permissions(identity, AWS_CONN_ID)

    @task(retries=0)
    def region_availability(identity: dict) -> list[dict]:
        """Services offered in the region; Glue version and Lambda runtimes still supported."""
        from labkit.labs import aws_preflight as preflight

        return preflight.check_region(identity, AWS_CONN_ID)

    @task(retries=0)
    def validate(identity: dict, permissions: list[dict], availability: list[dict]) -> dict:
        """The table in the log and artifacts/aws_preflight/report.md; fails naming what would fail."""
        from labkit.labs import aws_preflight as preflight

        return preflight.conclude(identity, permissions, availability)

    identity = caller_identity()
    verdict = validate(identity, simulate_policies(identity), region_availability(identity))

    gate = teardown_gate()  # the preflight creates nothing: nothing to tear down
    chain(verdict, gate)
    body_watcher(dag, gate)

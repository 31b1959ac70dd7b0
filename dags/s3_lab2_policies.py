"""
### S3 lab 2: user policies and bucket policies

The course's second S3 lab: who may do what with a bucket, decided by **IAM user policies** and a
**bucket policy** together, proven with real requests signed as each user.

1. **Setup**: a data bucket with `reports/`, `reports/restricted/`, `raw/` and `shared/` objects, and
   three IAM users:
   - **analyst**, inline policy `read-reports`: `s3:GetObject` on `reports/*`, and `s3:ListBucket`
     only when the listing's `s3:prefix` is under `reports/`;
   - **uploader**, inline policy `upload-incoming`: `s3:PutObject` on `incoming/*`, nothing else;
   - **outsider**: no policy at all.
2. **Bucket policy** (`S3PutBucketPolicyOperator`):
   - `SharedReadForOutsider`: allows the outsider `s3:GetObject` on `shared/*` (a bucket policy can
     grant a principal of the account what no identity policy does);
   - `DenyAnalystRestricted`: denies the analyst `reports/restricted/*` (an explicit deny beats the
     analyst's own allow);
   - `DenyInsecureTransport`: denies object reads and writes over plain HTTP to everyone
     (`aws:SecureTransport` false). It is scoped to objects so the lab's own bucket-level setup and
     teardown work over any transport.
3. **Proof**: one task per user creates a **short-lived access key**, makes every call of the matrix
   below as that user and deletes the key (`labkit.labs.iam_access.temporary_access_key`): the secret
   never reaches XCom, logs or a connection. Calls go over HTTPS except the one that proves the
   HTTP deny, which switches the same endpoint to `http://`. IAM is eventually consistent on AWS
   (a new key or policy takes seconds), so each call is retried up to `iam_propagation_seconds`
   until its outcome is the expected one, code and reason (a policy still propagating can deny
   for another reason); the outcome then reported is the one S3 gave.
4. **Validate**: every call came out as expected (`allowed`, or `AccessDenied` with AWS's reason:
   no identity-based policy allows it / explicit deny in a resource-based policy); the figures are
   the matrix.
5. **Teardown** (param `teardown`): the users (keys, policies), then the bucket with its objects.

To run it locally, the connection must trust local AWS's TLS certificate: its extra
`"verify": "<work dir>/tls/ca.pem"` (`make demo` and the tests set it). On AWS nothing changes.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.sdk import Param, chain, task

from labkit.core.dag import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.labs import s3_policies as lab
from labkit.operators.iam import IamCreateUserOperator, IamDeleteUserOperator
from labkit.operators.s3_policy import S3DeleteBucketPolicyOperator, S3PutBucketPolicyOperator

DAG_ID = "s3_lab2_policies"
BUCKET = "{{ names.bucket('data') }}"
INLINE_POLICIES = lab.inline_policies(BUCKET)
BUCKET_POLICY = lab.bucket_policy(
    BUCKET,
    outsider_arn="{{ ti.xcom_pull(task_ids='create_outsider') }}",
    analyst_arn="{{ ti.xcom_pull(task_ids='create_analyst') }}",
)

with lab_dag(
    DAG_ID,
    lab="s3-lab2",
    description="S3 lab 2: IAM user policies and a bucket policy (grant, explicit deny, HTTPS only) proven with each user's own requests",
    doc_md=__doc__,
    tags=["s3", "iam"],
    params={
        "iam_propagation_seconds": Param(
            60, type="integer", minimum=0, description="How long a call as a new user may wait for IAM to propagate"
        )
    },
) as dag:
    # --- setup
    create_bucket = S3CreateBucketOperator(task_id="create_bucket", bucket_name=BUCKET)
    # A rerun starts from a bucket without the last run's policy (its HTTPS-only rule would refuse an HTTP upload).
    clear_policy = S3DeleteBucketPolicyOperator(task_id="clear_bucket_policy", bucket_name=BUCKET)

    @task
    def upload_objects(bucket: str) -> int:
        """The objects the policies are about, under reports/, reports/restricted/, raw/ and shared/."""
        return lab.upload_objects(S3Hook().conn, bucket)

    uploaded = upload_objects(BUCKET)
    create_users = [
        IamCreateUserOperator(
            task_id=f"create_{role}",
            user_name=f"{{{{ names.resource('{role}') }}}}",
            inline_policies=INLINE_POLICIES[role],
            tags={"lab": "s3-lab2"},
        )
        for role in lab.USERS
    ]
    put_policy = S3PutBucketPolicyOperator(task_id="put_bucket_policy", bucket_name=BUCKET, policy=BUCKET_POLICY)

    # --- work: every call of the matrix, signed as the user
    @task
    def prove_access(role: str, user_name: str, bucket: str, params=None) -> list[dict]:
        """Act as the user with a short-lived key; return each call's outcome (no secret leaves this task)."""
        return lab.prove_access(role, user_name, bucket, wait_seconds=float(params["iam_propagation_seconds"]))

    proofs = [
        prove_access.override(task_id=f"prove_{role}")(role, f"{{{{ names.resource('{role}') }}}}", BUCKET)
        for role in lab.USERS
    ]

    # --- checks
    @task
    def validate(uploaded: int, analyst: list[dict], uploader: list[dict], outsider: list[dict]) -> dict:
        """Every call came out as the policies say it must; the figures are the access matrix."""
        return lab.validate(uploaded, analyst, uploader, outsider)

    checks = validate(uploaded, *proofs)

    # --- teardown
    gate = teardown_gate()
    delete_users = [
        IamDeleteUserOperator(task_id=f"delete_{role}", user_name=f"{{{{ names.resource('{role}') }}}}", **TEARDOWN)
        for role in lab.USERS
    ]
    delete_bucket = S3DeleteBucketOperator(task_id="delete_bucket", bucket_name=BUCKET, force_delete=True, **TEARDOWN)

    chain(create_bucket, clear_policy, uploaded, create_users, put_policy, proofs, checks, gate, delete_users)
    chain(gate, delete_bucket)
    body_watcher(dag, gate)

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
   below as that user and deletes the key (`labkit.iam_access.temporary_access_key`): the secret
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

from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator, S3DeleteBucketOperator
from airflow.sdk import Param, chain, task

from labkit.dag_helpers import TEARDOWN, body_watcher, lab_dag, teardown_gate
from labkit.operators.iam import IamCreateUserOperator, IamDeleteUserOperator
from labkit.operators.s3_policy import S3DeleteBucketPolicyOperator, S3PutBucketPolicyOperator

DAG_ID = "s3_lab2_policies"
BUCKET = "{{ names.bucket('data') }}"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
USERS = ("analyst", "uploader", "outsider")
OBJECTS = {
    "reports/2025/q1.csv": "region,revenue\nnorth,120\nsouth,80\n",
    "reports/restricted/salaries.csv": "name,salary\nana,100\n",
    "raw/events.json": '{"event": "click"}\n',
    "shared/readme.txt": "Shared with partners.\n",
}
INLINE_POLICIES = {
    "analyst": {
        "read-reports": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadReports",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"{BUCKET_ARN}/reports/*",
                },
                {
                    "Sid": "ListReportsOnly",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": BUCKET_ARN,
                    "Condition": {"StringLike": {"s3:prefix": ["reports/", "reports/*"]}},
                },
            ],
        }
    },
    "uploader": {
        "upload-incoming": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PutIncoming",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": f"{BUCKET_ARN}/incoming/*",
                }
            ],
        }
    },
    "outsider": {},
}
BUCKET_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "SharedReadForOutsider",
            "Effect": "Allow",
            "Principal": {"AWS": "{{ ti.xcom_pull(task_ids='create_outsider') }}"},
            "Action": "s3:GetObject",
            "Resource": f"{BUCKET_ARN}/shared/*",
        },
        {
            "Sid": "DenyAnalystRestricted",
            "Effect": "Deny",
            "Principal": {"AWS": "{{ ti.xcom_pull(task_ids='create_analyst') }}"},
            "Action": "s3:GetObject",
            "Resource": f"{BUCKET_ARN}/reports/restricted/*",
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"{BUCKET_ARN}/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ],
}
NO_IDENTITY_ALLOW = "because no identity-based policy allows the {action} action"
EXPLICIT_DENY = "with an explicit deny in a resource-based policy"
# user -> [(check, operation, arguments, transport, expected result, expected reason)]
MATRIX = {
    "analyst": [
        ("read reports", "get_object", {"Key": "reports/2025/q1.csv"}, "https", "allowed", ""),
        ("list reports/", "list_objects_v2", {"Prefix": "reports/"}, "https", "allowed", ""),
        (
            "list whole bucket",
            "list_objects_v2",
            {},
            "https",
            "AccessDenied",
            NO_IDENTITY_ALLOW.format(action="s3:ListBucket"),
        ),
        (
            "read raw",
            "get_object",
            {"Key": "raw/events.json"},
            "https",
            "AccessDenied",
            NO_IDENTITY_ALLOW.format(action="s3:GetObject"),
        ),
        (
            "read restricted report",
            "get_object",
            {"Key": "reports/restricted/salaries.csv"},
            "https",
            "AccessDenied",
            EXPLICIT_DENY,
        ),
        ("read reports over http", "get_object", {"Key": "reports/2025/q1.csv"}, "http", "AccessDenied", EXPLICIT_DENY),
        (
            "write reports",
            "put_object",
            {"Key": "reports/2025/q2.csv", "Body": b"x"},
            "https",
            "AccessDenied",
            NO_IDENTITY_ALLOW.format(action="s3:PutObject"),
        ),
    ],
    "uploader": [
        (
            "upload incoming",
            "put_object",
            {"Key": "incoming/upload.csv", "Body": b"a,b\n1,2\n"},
            "https",
            "allowed",
            "",
        ),
        (
            "upload incoming over http",
            "put_object",
            {"Key": "incoming/plain.csv", "Body": b"a"},
            "http",
            "AccessDenied",
            EXPLICIT_DENY,
        ),
        (
            "read own upload",
            "get_object",
            {"Key": "incoming/upload.csv"},
            "https",
            "AccessDenied",
            NO_IDENTITY_ALLOW.format(action="s3:GetObject"),
        ),
        (
            "upload to reports",
            "put_object",
            {"Key": "reports/forged.csv", "Body": b"x"},
            "https",
            "AccessDenied",
            NO_IDENTITY_ALLOW.format(action="s3:PutObject"),
        ),
    ],
    "outsider": [
        ("read shared", "get_object", {"Key": "shared/readme.txt"}, "https", "allowed", ""),
        (
            "read reports",
            "get_object",
            {"Key": "reports/2025/q1.csv"},
            "https",
            "AccessDenied",
            NO_IDENTITY_ALLOW.format(action="s3:GetObject"),
        ),
        (
            "list bucket",
            "list_objects_v2",
            {"Prefix": "shared/"},
            "https",
            "AccessDenied",
            NO_IDENTITY_ALLOW.format(action="s3:ListBucket"),
        ),
    ],
}

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
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook()
        for key, body in OBJECTS.items():
            hook.load_string(body, key=key, bucket_name=bucket, replace=True)
        return len(OBJECTS)

    uploaded = upload_objects(BUCKET)
    create_users = [
        IamCreateUserOperator(
            task_id=f"create_{role}",
            user_name=f"{{{{ names.resource('{role}') }}}}",
            inline_policies=INLINE_POLICIES[role],
            tags={"lab": "s3-lab2"},
        )
        for role in USERS
    ]
    put_policy = S3PutBucketPolicyOperator(task_id="put_bucket_policy", bucket_name=BUCKET, policy=BUCKET_POLICY)

    # --- work: every call of the matrix, signed as the user
    @task
    def prove_access(role: str, user_name: str, bucket: str, params=None) -> list[dict]:
        """Act as the user with a short-lived key; return each call's outcome (no secret leaves this task)."""
        from labkit.iam_access import probe, temporary_access_key

        wait = float(params["iam_propagation_seconds"])
        outcomes = []
        with temporary_access_key(user_name) as session:
            clients = {scheme: session.client("s3", scheme=scheme) for scheme in ("https", "http")}
            for check, operation, arguments, transport, expected, reason in MATRIX[role]:
                call = getattr(clients[transport], operation)
                outcome = probe(
                    lambda call=call, arguments=arguments: call(Bucket=bucket, **arguments), expected, reason, wait
                )
                print(f"{role} {check} ({transport}): {outcome.result} {outcome.reason}".rstrip())
                outcomes.append({"check": check, **outcome.as_dict()})
        return outcomes

    proofs = [
        prove_access.override(task_id=f"prove_{role}")(role, f"{{{{ names.resource('{role}') }}}}", BUCKET)
        for role in USERS
    ]

    # --- checks
    @task
    def validate(uploaded: int, analyst: list[dict], uploader: list[dict], outsider: list[dict]) -> dict:
        """Every call came out as the policies say it must; the figures are the access matrix."""
        from labkit.validation import ValidationError

        seen = {"analyst": analyst, "uploader": uploader, "outsider": outsider}
        problems, matrix = [], {}
        for role, expected_calls in MATRIX.items():
            matrix[role] = {}
            for (check, *_, result, reason), outcome in zip(expected_calls, seen[role], strict=True):
                matrix[role][check] = outcome["result"]
                if outcome["result"] != result or (reason and outcome["reason"] != reason):
                    problems.append(
                        f"{role} '{check}': expected {result} {reason}".rstrip()
                        + f", got {outcome['result']} {outcome['reason']}".rstrip()
                    )
        if problems:
            raise ValidationError("S3 lab 2: " + "; ".join(problems))
        results = [r for row in matrix.values() for r in row.values()]
        return {
            "objects": uploaded,
            "users": len(matrix),
            "calls": len(results),
            "allowed": results.count("allowed"),
            "denied": results.count("AccessDenied"),
            "denied_by_bucket_policy": sum(
                1 for role, calls in MATRIX.items() for call in calls if call[5] == EXPLICIT_DENY
            ),
            "matrix": matrix,
        }

    checks = validate(uploaded, *proofs)

    # --- teardown
    gate = teardown_gate()
    delete_users = [
        IamDeleteUserOperator(task_id=f"delete_{role}", user_name=f"{{{{ names.resource('{role}') }}}}", **TEARDOWN)
        for role in USERS
    ]
    delete_bucket = S3DeleteBucketOperator(task_id="delete_bucket", bucket_name=BUCKET, force_delete=True, **TEARDOWN)

    chain(create_bucket, clear_policy, uploaded, create_users, put_policy, proofs, checks, gate, delete_users)
    chain(gate, delete_bucket)
    body_watcher(dag, gate)

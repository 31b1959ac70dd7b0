"""S3 lab 2's policies, work and checks: who may do what with the bucket, proven with each user's own calls.

The policies are functions of the bucket (a name, or a `{{ names.bucket(...) }}` template that renders
to one) and the users' ARNs. MATRIX is every call the proof makes, with the outcome the policies
decide and AWS's reason when they deny. Functions take boto3 clients or names and return what the
DAG's tasks return to XCom.
"""

from __future__ import annotations

from typing import Any

from labkit.core.validation import ValidationError
from labkit.labs.iam_access import probe, temporary_access_key

USERS = ("analyst", "uploader", "outsider")
OBJECTS = {
    "reports/2025/q1.csv": "region,revenue\nnorth,120\nsouth,80\n",
    "reports/restricted/salaries.csv": "name,salary\nana,100\n",
    "raw/events.json": '{"event": "click"}\n',
    "shared/readme.txt": "Shared with partners.\n",
}


def inline_policies(bucket: str) -> dict[str, dict[str, dict]]:
    """Each user's inline policies ({policy name: document}) on the bucket.

    analyst: read reports/, list only under reports/; uploader: put-only on incoming/; outsider: none.
    """
    bucket_arn = f"arn:aws:s3:::{bucket}"
    return {
        "analyst": {
            "read-reports": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ReadReports",
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": f"{bucket_arn}/reports/*",
                    },
                    {
                        "Sid": "ListReportsOnly",
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": bucket_arn,
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
                        "Resource": f"{bucket_arn}/incoming/*",
                    }
                ],
            }
        },
        "outsider": {},
    }


def bucket_policy(bucket: str, outsider_arn: str, analyst_arn: str) -> dict[str, Any]:
    """Grants the outsider shared/, explicitly denies the analyst reports/restricted/, denies plain HTTP.

    The HTTP deny is scoped to objects, so bucket-level setup and teardown work over any transport.
    """
    bucket_arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SharedReadForOutsider",
                "Effect": "Allow",
                "Principal": {"AWS": outsider_arn},
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/shared/*",
            },
            {
                "Sid": "DenyAnalystRestricted",
                "Effect": "Deny",
                "Principal": {"AWS": analyst_arn},
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/reports/restricted/*",
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"{bucket_arn}/*",
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


def upload_objects(s3: Any, bucket: str) -> int:
    """The lab's objects under reports/, reports/restricted/, raw/ and shared/; returns how many."""
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return len(OBJECTS)


def prove_access(
    role: str, user_name: str, bucket: str, wait_seconds: float, aws_conn_id: str | None = "aws_default"
) -> list[dict]:
    """Every call of MATRIX[role], signed with a short-lived key of the user; each call's outcome, in order.

    The key is created and deleted here (no secret leaves this function). Each call is retried up to
    wait_seconds until its outcome is the expected one (IAM propagates in seconds on AWS).
    """
    outcomes = []
    with temporary_access_key(user_name, aws_conn_id) as session:
        clients = {scheme: session.client("s3", scheme=scheme) for scheme in ("https", "http")}
        for check, operation, arguments, transport, expected, reason in MATRIX[role]:
            call = getattr(clients[transport], operation)
            outcome = probe(
                lambda call=call, arguments=arguments: call(Bucket=bucket, **arguments), expected, reason, wait_seconds
            )
            print(f"{role} {check} ({transport}): {outcome.result} {outcome.reason}".rstrip())
            outcomes.append({"check": check, **outcome.as_dict()})
    return outcomes


def validate(uploaded: int, analyst: list[dict], uploader: list[dict], outsider: list[dict]) -> dict:
    """Every call came out as the policies say it must; the figures are the access matrix.

    analyst, uploader, outsider: prove_access's outcomes for each. Raises ValidationError naming every
    call that came out otherwise.
    """
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

"""Trust policies: may an AWS service assume a role (Lambda its execution role, DMS its S3 role)?"""

from __future__ import annotations

import json
import urllib.parse


def trusts_service(document, service: str) -> bool:
    """Whether a role's trust policy lets `service` (e.g. lambda.amazonaws.com) sts:AssumeRole it
    (Allow statements only; conditions are not evaluated)."""
    if isinstance(document, str):
        document = json.loads(urllib.parse.unquote(document))

    def as_list(value) -> list:
        return value if isinstance(value, list) else [value]

    for statement in as_list((document or {}).get("Statement", [])):
        actions = as_list(statement.get("Action", []))
        if statement.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
            continue
        principal = statement.get("Principal", {})
        if principal == "*" or service in as_list(principal.get("Service", [])):
            return True
    return False

"""Where the DAGs run: real AWS, or local AWS. The one place labkit tells them apart.

DAGs never ask. Operators that must behave differently (only one today: showing S3 lifecycle
rules take effect, which on AWS takes 30+ days) call `local_aws_clock_url(hook)`:

- The hook's client talks to an AWS endpoint (*.amazonaws.com: no `endpoint_url` in the connection
  nor AWS_ENDPOINT_URL) -> AWS, without a request.
- Otherwise, when `GET <endpoint>/_local_aws/clock` answers with local AWS's clock -> local AWS (see
  docs/local-aws/s3.md); any other answer (a VPC endpoint, another emulator) -> treated as AWS.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

CLOCK_PATH = "/_local_aws/clock"


def endpoint_url(hook: Any) -> str:
    """The endpoint the hook's client really talks to (connection extra, AWS_ENDPOINT_URL or AWS's own)."""
    return hook.conn.meta.endpoint_url


def local_aws_clock_url(hook: Any) -> str | None:
    """URL of local AWS's clock when the hook's client talks to local AWS, else None."""
    endpoint = endpoint_url(hook)
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    if host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws")):
        return None
    url = endpoint.rstrip("/") + CLOCK_PATH
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            state = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return url if isinstance(state, dict) and "offset_seconds" in state else None


def clock_state(clock_url: str) -> dict[str, Any]:
    """Local AWS's time now ("now", ISO 8601) and its offset from real time."""
    with urllib.request.urlopen(clock_url, timeout=10) as response:
        return json.loads(response.read())


def advance_clock(clock_url: str, days: float) -> dict[str, Any]:
    """Advance local AWS's clock; returns its new state and what its executors did meanwhile."""
    body = json.dumps({"advance_days": days}).encode()
    request = urllib.request.Request(clock_url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise RuntimeError(
            f"local AWS clock at {clock_url} refused to advance {days} days: {error.read()!r}"
        ) from error

"""Resource names derived from one prefix, so the same DAG runs in any account.

The prefix is the Airflow Variable `aws_name_prefix` (default "ade"); in an AWS account set it
to something unique, since bucket names are global. S3 allows lowercase letters, digits and
'-'; Glue/Athena databases allow lowercase letters, digits and '_'. Names are computed when a
task renders its templates, never at parse time (no Variable access while parsing).
"""

from __future__ import annotations

import re

PREFIX_VARIABLE = "aws_name_prefix"
DEFAULT_PREFIX = "ade"

_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def current_prefix() -> str:
    from airflow.sdk import Variable

    return Variable.get(PREFIX_VARIABLE, default=DEFAULT_PREFIX)


def bucket_name(prefix: str, lab: str, purpose: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", f"{prefix}-{lab}-{purpose}".lower()).strip("-")
    if not _S3_BUCKET.match(name):
        raise ValueError(
            f"bucket name {name!r} is not a valid S3 bucket name (3-63 characters of a-z, 0-9, '-'); "
            f"shorten the Airflow Variable {PREFIX_VARIABLE!r}"
        )
    return name


def database_name(prefix: str, lab: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", f"{prefix}_{lab}".lower()).strip("_")


def resource_name(prefix: str, lab: str, purpose: str) -> str:
    """Names of jobs, crawlers, roles, workgroups: letters, digits and '-'."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", f"{prefix}-{lab}-{purpose}").strip("-")


class LabNames:
    """Template macro: `{{ names.bucket('data') }}`, `{{ names.database }}`, `{{ names.resource('crawler-raw') }}`."""

    def __init__(self, lab: str):
        self.lab = lab

    def bucket(self, purpose: str) -> str:
        return bucket_name(current_prefix(), self.lab, purpose)

    @property
    def database(self) -> str:
        return database_name(current_prefix(), self.lab)

    def resource(self, purpose: str) -> str:
        return resource_name(current_prefix(), self.lab, purpose)

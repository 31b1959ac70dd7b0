"""Amazon Resource Names, parsed in one place.

`Arn.parse` reads arn:partition:service:region:account:resource (the resource keeps its own colons,
as in Lambda's function:name:qualifier). `function_name_and_qualifier` reads a FunctionName the way
the Lambda API accepts it: a name, name:qualifier, a partial ARN account:function:name[:qualifier]
or a full ARN arn:partition:lambda:region:account:function:name[:qualifier].
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

_FORM = "arn:partition:service:region:account:resource"
_FUNCTION_FORMS = "name, name:qualifier, account:function:name[:qualifier] or a Lambda function ARN"


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn:
        """Raises ValueError naming the expected form when `text` is not an ARN."""
        parts = text.split(":", 5) if isinstance(text, str) else []
        if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
            raise ValueError(f"{text!r} is not an ARN: expected {_FORM}")
        return cls(*parts[1:])

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def function_name_and_qualifier(name_or_arn: str) -> tuple[str, str | None]:
    """(function name, qualifier or None) of any FunctionName form Lambda accepts; ValueError otherwise."""
    if name_or_arn.startswith("arn:"):
        arn = Arn.parse(name_or_arn)
        if arn.service != "lambda":
            raise ValueError(f"{name_or_arn!r} is not a Lambda function ARN ({arn.service})")
        return _function_resource(arn.resource, name_or_arn)
    parts = name_or_arn.split(":")
    if len(parts) >= 3:  # partial ARN: account:function:name[:qualifier]
        return _function_resource(":".join(parts[1:]), name_or_arn)
    if not parts[0] or (len(parts) == 2 and not parts[1]):
        raise ValueError(f"{name_or_arn!r} is not a function name: expected {_FUNCTION_FORMS}")
    return parts[0], (parts[1] if len(parts) == 2 else None)


def split_function_arn(function_arn: str) -> tuple[str, str | None]:
    """(ARN without qualifier, qualifier or None) of a full function ARN; ValueError otherwise."""
    arn = Arn.parse(function_arn)
    name, qualifier = function_name_and_qualifier(function_arn)
    return str(dataclasses.replace(arn, resource=f"function:{name}")), qualifier


def _function_resource(resource: str, text: str) -> tuple[str, str | None]:
    parts = resource.split(":")
    if parts[0] != "function" or len(parts) not in (2, 3) or not all(parts[1:]):
        raise ValueError(f"{text!r} is not a function name: expected {_FUNCTION_FORMS}")
    return parts[1], (parts[2] if len(parts) == 3 else None)

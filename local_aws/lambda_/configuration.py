"""What CreateFunction, UpdateFunctionCode and UpdateFunctionConfiguration accept, as Lambda decides it.

moto 5.2.5 stores almost any request: a function without Runtime or Handler, a deployment package
that is not a zip, a 901-second timeout, an ARN as the function's name. Lambda refuses those, and
these checks refuse them with Lambda's error codes and words (the API reference's constraints,
https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html). They also keep what moto
drops: LoggingConfig (and its defaults), DeadLetterConfig, and EphemeralStorage, TracingConfig,
KMSKeyArn on UpdateFunctionConfiguration.
"""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from datetime import datetime

from moto.awslambda.exceptions import (
    CrossAccountNotAllowed,
    InvalidParameterValueException,
    InvalidRoleFormat,
    ValidationException,
)
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.iam.exceptions import NotFoundException as IAMNotFoundException
from moto.iam.models import iam_backends
from moto.s3.exceptions import MissingBucket
from moto.s3.models import s3_backends

from local_aws.arns import function_name_and_qualifier

# CreateFunction's FunctionName pattern, as Lambda quotes it in its ValidationException.
NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)"
    r"(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
MAX_TIMEOUT = 900
MAX_MEMORY = 10240
MAX_DESCRIPTION = 256
MAX_EPHEMERAL_STORAGE = 10240  # MB of /tmp
MAX_ENVIRONMENT_BYTES = 4 * 1024  # all variables together, as JSON
# Set by the runtime; a function's configuration may not set them (TZ, LANG, PATH, ... it may).
RESERVED_VARIABLES = {
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}  # fmt: skip
MAX_UNZIPPED_BYTES = 262_144_000
S3_ERROR = "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}"
LOG_FORMATS = ("Text", "JSON")
APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")


def _invalid(message: str) -> InvalidParameterValueException:
    return InvalidParameterValueException(message)


def function_name(requested: str) -> str:
    """CreateFunction's FunctionName may be a name, an ARN or a partial ARN; the function is named by its name."""
    valid = re.fullmatch(NAME_PATTERN, requested or "")
    if not valid:
        raise ValidationException(
            requested, "functionName", f"Member must satisfy regular expression pattern: {NAME_PATTERN}"
        )
    name, _ = function_name_and_qualifier(requested)
    limit = 64 if name == requested else 140
    if len(requested) > limit:
        raise ValidationException(requested, "functionName", f"Member must have length less than or equal to {limit}")
    return name


def check_limits(request: dict) -> None:
    """Settings beyond Lambda's quotas (botocore checks only minimums), and reserved environment variables."""
    if "Timeout" in request and request["Timeout"] > MAX_TIMEOUT:
        raise ValidationException(
            request["Timeout"], "timeout", f"Member must have value less than or equal to {MAX_TIMEOUT}"
        )
    if "MemorySize" in request and request["MemorySize"] > MAX_MEMORY:
        raise ValidationException(
            request["MemorySize"], "memorySize", f"Member must have value less than or equal to {MAX_MEMORY}"
        )
    storage = (request.get("EphemeralStorage") or {}).get("Size", 0)
    if storage > MAX_EPHEMERAL_STORAGE:
        raise ValidationException(
            storage, "ephemeralStorage.size", f"Member must have value less than or equal to {MAX_EPHEMERAL_STORAGE}"
        )
    if len(request.get("Description") or "") > MAX_DESCRIPTION:
        raise ValidationException(
            request["Description"], "description", f"Member must have length less than or equal to {MAX_DESCRIPTION}"
        )
    variables = (request.get("Environment") or {}).get("Variables") or {}
    if reserved := [name for name in variables if name in RESERVED_VARIABLES]:
        raise _invalid(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            "provided contains reserved keys that are currently not supported for modification. Reserved keys used "
            f"in this request: {', '.join(reserved)}"
        )
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > MAX_ENVIRONMENT_BYTES:
        raise _invalid(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            f"provided exceeded the 4KB limit. String measured: {measured}"
        )


def check_create(spec: dict) -> None:
    """What CreateFunction refuses before it stores anything (the package itself: check_package)."""
    check_limits(spec)
    if spec.get("PackageType", "Zip") != "Zip":
        return
    runtime = spec.get("Runtime")
    if not runtime or (not spec.get("Handler") and not runtime.startswith("provided")):
        raise _invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
    code = spec.get("Code") or {}
    if not code.get("ZipFile") and not (code.get("S3Bucket") and code.get("S3Key")):
        raise _invalid("Please provide a source for function code.")


def check_role(function: LambdaFunction, role: str) -> None:
    """UpdateFunctionConfiguration's Role, checked as CreateFunction checks it (moto checks only at creation)."""
    valid = re.fullmatch(InvalidRoleFormat.pattern, role or "")
    if not valid:
        raise InvalidRoleFormat(role)
    if valid.group(2) != function.account_id:
        raise CrossAccountNotAllowed()
    try:
        iam_backends[function.account_id][function.partition].get_role_by_arn(role)
    except IAMNotFoundException:
        raise _invalid("The role defined for the function cannot be assumed by Lambda.") from None


def check_layers(backend: LambdaBackend, layers: list[str] | None) -> None:
    """Every layer version named exists (moto refuses in other words, and on an update only after it
    has applied the fields named before Layers)."""
    for arn in layers or []:
        if backend.layers_versions_by_arn(arn) is None:
            raise _invalid(f"Layer version {arn} does not exist.")


def check_package(content: bytes) -> None:
    """A deployment package Lambda can unzip (ZipFile or the S3 object), within the unzipped size quota."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise _invalid("Could not unzip uploaded file. Please check your file, then try to upload again.") from None
    if unzipped >= MAX_UNZIPPED_BYTES:
        raise _invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")


def new_package(function: LambdaFunction, request: dict) -> bytes | None:
    """The package UpdateFunctionCode brings (ZipFile, or the S3 object), None for an image."""
    if request.get("ZipFile"):
        return base64.b64decode(request["ZipFile"])
    if request.get("S3Bucket") and request.get("S3Key"):
        s3 = s3_backends[function.account_id][function.partition]
        try:
            key = s3.get_object(request["S3Bucket"], request["S3Key"], request.get("S3ObjectVersion"))
        except MissingBucket:
            raise _invalid(S3_ERROR.format("NoSuchBucket", "The specified bucket does not exist")) from None
        if key is None:
            raise _invalid(S3_ERROR.format("NoSuchKey", "The specified key does not exist."))
        return key.value
    if function.package_type == "Zip":
        raise _invalid("Please provide a source for function code.")
    return None


# ---- LoggingConfig ----


def _check_enum(value: str | None, allowed: tuple[str, ...], where: str) -> None:
    if value is not None and value not in allowed:
        raise ValidationException(
            value, f"loggingConfig.{where}", f"Member must satisfy enum value set: [{', '.join(allowed)}]"
        )


def logging_config(function_name_: str, requested: dict | None, current: dict | None = None) -> dict:
    """The LoggingConfig a function gets from CreateFunction (current None) or UpdateFunctionConfiguration.

    Lambda's defaults: Text format into /aws/lambda/<name>; JSON adds ApplicationLogLevel and
    SystemLogLevel INFO. An update changes only what it names; back to Text drops the levels.
    """
    requested = requested or {}
    _check_enum(requested.get("LogFormat"), LOG_FORMATS, "logFormat")
    _check_enum(requested.get("ApplicationLogLevel"), APPLICATION_LOG_LEVELS, "applicationLogLevel")
    _check_enum(requested.get("SystemLogLevel"), SYSTEM_LOG_LEVELS, "systemLogLevel")
    merged = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function_name_}", **(current or {}), **requested}
    if merged["LogFormat"] == "JSON":
        return {"ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", **merged}
    if {"ApplicationLogLevel", "SystemLogLevel"} & set(requested):
        raise _invalid(
            'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change '
            'the LogFormat to "JSON" and try again.'
        )
    merged.pop("ApplicationLogLevel", None)
    merged.pop("SystemLogLevel", None)
    return merged


# ---- settings moto does not keep ----


def keep_on_create(function: LambdaFunction, spec: dict) -> None:
    function.dead_letter_config = spec.get("DeadLetterConfig") or None
    function.logging_config = logging_config(function.function_name, spec.get("LoggingConfig"))


def apply_update(function: LambdaFunction, updates: dict) -> None:
    """UpdateFunctionConfiguration's settings moto 5.2.5 ignores (it applies the others itself).

    Each is checked and computed before any is set, so an update Lambda refuses changes nothing
    (check_limits and check_layers have checked the rest).
    """
    kept = {}
    if "DeadLetterConfig" in updates:
        kept["dead_letter_config"] = updates["DeadLetterConfig"] or None
    if "LoggingConfig" in updates:
        kept["logging_config"] = logging_config(function.function_name, updates["LoggingConfig"],
                                                function.logging_config)  # fmt: skip
    if "EphemeralStorage" in updates:
        kept["ephemeral_storage"] = updates["EphemeralStorage"]["Size"]
    if "TracingConfig" in updates:
        kept["tracing_config"] = {"Mode": updates["TracingConfig"].get("Mode") or "PassThrough"}
    if "KMSKeyArn" in updates:
        kept["kms_key_arn"] = updates["KMSKeyArn"] or None
    for name, value in kept.items():
        setattr(function, name, value)


def describe(function: LambdaFunction, configuration: dict) -> dict:
    """The settings moto leaves out of a FunctionConfiguration, and LastModified as Lambda writes it."""
    dead_letter = getattr(function, "dead_letter_config", None)
    if dead_letter and dead_letter.get("TargetArn"):
        configuration["DeadLetterConfig"] = dead_letter
    configuration["LoggingConfig"] = function.logging_config
    if not configuration.get("Layers"):
        configuration.pop("Layers", None)  # Lambda leaves the field out when there are none
    configuration["LastModified"] = lambda_date(function.last_modified)
    return configuration


def lambda_date(moto_date: str) -> str:
    """moto's 2024-05-01T10:00:00.123456000Z as Lambda writes it: 2024-05-01T10:00:00.123+0000."""
    try:
        moment = datetime.strptime(moto_date[:26], "%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        return moto_date
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"

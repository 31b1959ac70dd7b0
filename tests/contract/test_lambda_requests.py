"""Lambda requests local AWS must answer as Lambda does: accept what it accepts, refuse with its words.

Each case is one moto 5.2.5 answered differently (stored a function Lambda refuses, refused one
it accepts, or refused with other words); the expected words are Lambda's own.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.lambda_support import wait_until_active, wait_until_updated, zip_of

ACCOUNT = "123456789012"
CODE = zip_of({"app.py": "def handler(event, context):\n    return event\n"})
MISSING_LAYER = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:missing:1"


def create(lam, role_arn: str, name: str, **fields) -> dict:
    fields = {"Runtime": "python3.12", "Handler": "app.handler", "Code": {"ZipFile": CODE}, **fields}
    return lam.create_function(FunctionName=name, Role=role_arn, **fields)


def refusal(error: str, call, **kwargs) -> str:
    """The message of the `error` (Lambda's error code) that call(**kwargs) raises."""
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    assert refused.value.response["Error"]["Code"] == error
    return refused.value.response["Error"]["Message"]


def configuration_of(lam, name: str) -> dict:
    """GetFunctionConfiguration's answer without the response's metadata."""
    configuration = lam.get_function_configuration(FunctionName=name)
    del configuration["ResponseMetadata"]
    return configuration


# ---- CreateFunction ----


def test_create_function_fills_in_lambdas_defaults(lam, role_arn):
    created = create(lam, role_arn, "defaults")

    assert {key: created[key] for key in ("MemorySize", "Timeout", "EphemeralStorage", "Architectures")} == {
        "MemorySize": 128, "Timeout": 3, "EphemeralStorage": {"Size": 512}, "Architectures": ["x86_64"],
    }  # fmt: skip
    assert (created["PackageType"], created["TracingConfig"], created["Version"]) == (
        "Zip",
        {"Mode": "PassThrough"},
        "$LATEST",
    )
    assert created["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/defaults"}
    assert "Layers" not in created  # Lambda leaves the field out when there are none
    assert (
        created["LastModified"].endswith("+0000") and len(created["LastModified"]) == 28
    )  # 2024-05-01T10:00:00.123+0000


def test_create_function_takes_an_arn_or_partial_arn_as_the_name(lam, role_arn):
    by_arn = create(lam, role_arn, f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:by-arn")
    by_partial = create(lam, role_arn, f"{ACCOUNT}:function:by-partial-arn")

    assert (by_arn["FunctionName"], by_partial["FunctionName"]) == ("by-arn", "by-partial-arn")
    assert by_arn["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:by-arn"
    listed = sorted(function["FunctionName"] for function in lam.list_functions()["Functions"])
    assert listed == ["by-arn", "by-partial-arn"]


@pytest.mark.parametrize(
    ("fields", "error", "words"),
    [
        ({"Runtime": None}, "InvalidParameterValueException",
         "Runtime and Handler are mandatory parameters for functions created with deployment packages."),
        ({"Handler": None}, "InvalidParameterValueException",
         "Runtime and Handler are mandatory parameters for functions created with deployment packages."),
        ({"Code": {"ZipFile": b"not a zip"}}, "InvalidParameterValueException",
         "Could not unzip uploaded file. Please check your file, then try to upload again."),
        ({"Code": {}}, "InvalidParameterValueException", "Please provide a source for function code."),
        ({"Timeout": 901}, "ValidationException", "1 validation error detected: Value '901' at 'timeout' failed to "
         "satisfy constraint: Member must have value less than or equal to 900"),
        ({"MemorySize": 10241}, "ValidationException", "1 validation error detected: Value '10241' at 'memorySize' "
         "failed to satisfy constraint: Member must have value less than or equal to 10240"),
        ({"Description": "d" * 257}, "ValidationException", f"1 validation error detected: Value '{'d' * 257}' at "
         "'description' failed to satisfy constraint: Member must have length less than or equal to 256"),
        ({"Environment": {"Variables": {"STAGE": "dev", "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "x"}}},
         "InvalidParameterValueException", "Lambda was unable to configure your environment variables because the "
         "environment variables you have provided contains reserved keys that are currently not supported for "
         "modification. Reserved keys used in this request: AWS_REGION, AWS_ACCESS_KEY_ID"),
        ({"Environment": {"Variables": {"BIG": "x" * 4090}}}, "InvalidParameterValueException",
         "Lambda was unable to configure your environment variables because the environment variables you have "
         f'provided exceeded the 4KB limit. String measured: {{"BIG":"{"x" * 4090}"}}'),
        ({"LoggingConfig": {"LogFormat": "XML"}}, "ValidationException", "1 validation error detected: Value 'XML' at "
         "'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [Text, JSON]"),
        ({"Layers": [MISSING_LAYER]}, "InvalidParameterValueException", f"Layer version {MISSING_LAYER} does not exist."),
    ],
    ids=["no-runtime", "no-handler", "not-a-zip", "no-code", "timeout", "memory", "description", "reserved-variables",
         "variables-over-4kb", "log-format", "unknown-layer"],
)  # fmt: skip
def test_create_function_refuses_what_lambda_refuses_and_keeps_nothing(lam, role_arn, fields, error, words):
    request = {"Runtime": "python3.12", "Handler": "app.handler", "Code": {"ZipFile": CODE}, **fields}
    request = {key: value for key, value in request.items() if value is not None}  # None: left out
    assert refusal(error, lam.create_function, FunctionName="refused", Role=role_arn, **request) == words
    assert lam.list_functions()["Functions"] == []


def test_create_function_refuses_a_name_lambda_refuses(lam, role_arn):
    words = refusal("ValidationException", create, lam=lam, role_arn=role_arn, name="bad name!")

    assert words.startswith(
        "1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
    )
    words = refusal("ValidationException", create, lam=lam, role_arn=role_arn, name="n" * 65)
    assert words.endswith("Member must have length less than or equal to 64")


def test_a_package_from_s3_must_be_a_zip_too(lam, role_arn, aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="packages")
    s3.put_object(Bucket="packages", Key="app.py", Body=b"def handler(e, c): pass\n")  # the module, not zipped

    words = refusal("InvalidParameterValueException", create, lam=lam, role_arn=role_arn, name="from-s3",
                    Code={"S3Bucket": "packages", "S3Key": "app.py"})  # fmt: skip

    assert words == "Could not unzip uploaded file. Please check your file, then try to upload again."


# ---- UpdateFunctionCode / UpdateFunctionConfiguration ----


def test_updates_refuse_what_lambda_refuses_and_apply_what_moto_ignored(lam, role_arn):
    create(lam, role_arn, "changing")
    wait_until_active(lam, "changing")

    not_a_zip = refusal("InvalidParameterValueException", lam.update_function_code, FunctionName="changing",
                        ZipFile=b"junk")  # fmt: skip
    assert not_a_zip == "Could not unzip uploaded file. Please check your file, then try to upload again."
    assert lam.get_function_configuration(FunctionName="changing")["CodeSize"] == len(CODE)  # the code is unchanged
    no_role = refusal("InvalidParameterValueException", lam.update_function_configuration,
                      FunctionName="changing", Role=f"arn:aws:iam::{ACCOUNT}:role/missing")  # fmt: skip
    assert no_role == "The role defined for the function cannot be assumed by Lambda."

    lam.update_function_configuration(
        FunctionName="changing", EphemeralStorage={"Size": 2048}, TracingConfig={"Mode": "Active"},
        LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"},
    )  # fmt: skip
    wait_until_updated(lam, "changing")
    changed = lam.get_function_configuration(FunctionName="changing")
    assert changed["EphemeralStorage"] == {"Size": 2048}
    assert changed["TracingConfig"] == {"Mode": "Active"}
    assert changed["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN", "LogGroup": "/aws/lambda/changing",
    }  # fmt: skip
    lam.update_function_code(FunctionName="changing", ZipFile=CODE, Architectures=["arm64"])
    wait_until_updated(lam, "changing")
    assert lam.get_function_configuration(FunctionName="changing")["Architectures"] == ["arm64"]


@pytest.mark.parametrize(
    ("update", "error", "words"),
    [
        ({"DeadLetterConfig": {"TargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"},
          "LoggingConfig": {"LogFormat": "Bogus"}}, "ValidationException", "1 validation error detected: Value 'Bogus' "
         "at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [Text, JSON]"),
        ({"DeadLetterConfig": {"TargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:dlq"},
          "EphemeralStorage": {"Size": 10241}}, "ValidationException", "1 validation error detected: Value '10241' at "
         "'ephemeralStorage.size' failed to satisfy constraint: Member must have value less than or equal to 10240"),
        ({"Description": "changed", "Layers": [MISSING_LAYER]}, "InvalidParameterValueException",
         f"Layer version {MISSING_LAYER} does not exist."),
    ],
    ids=["log-format", "ephemeral-storage", "unknown-layer"],
)  # fmt: skip
def test_a_refused_configuration_update_changes_nothing(lam, role_arn, update, error, words):
    create(lam, role_arn, "kept")
    wait_until_active(lam, "kept")
    before = configuration_of(lam, "kept")

    assert refusal(error, lam.update_function_configuration, FunctionName="kept", **update) == words

    assert configuration_of(lam, "kept") == before  # RevisionId, LastUpdateStatus and every setting


def test_update_function_code_dry_run_checks_the_request_and_changes_nothing(lam, role_arn):
    create(lam, role_arn, "dry")
    wait_until_active(lam, "dry")
    before = configuration_of(lam, "dry")
    other = zip_of({"app.py": "def handler(event, context):\n    return 'other'\n"})

    lam.update_function_code(FunctionName="dry", ZipFile=other, Architectures=["arm64"], DryRun=True)

    assert configuration_of(lam, "dry") == before  # the same code, architecture, RevisionId; no update InProgress
    not_a_zip = refusal("InvalidParameterValueException", lam.update_function_code, FunctionName="dry",
                        ZipFile=b"junk", DryRun=True)  # fmt: skip
    assert not_a_zip == "Could not unzip uploaded file. Please check your file, then try to upload again."


# ---- Invoke ----


def test_invoke_payload_limits_are_lambdas(lam, role_arn):
    create(lam, role_arn, "sized")
    wait_until_active(lam, "sized")
    event = json.dumps({"data": "x" * (1000 * 1024)}).encode()  # 1,000 KB: within 1 MB (since October 2025)

    assert lam.invoke(FunctionName="sized", InvocationType="Event", Payload=event)["StatusCode"] == 202
    too_large = json.dumps({"data": "x" * (1024 * 1024)}).encode()
    words = refusal("RequestTooLargeException", lam.invoke, FunctionName="sized", InvocationType="Event",
                    Payload=too_large)  # fmt: skip
    assert words == "Request must be smaller than 1048576 bytes for the InvokeFunction operation"
    words = refusal("RequestTooLargeException", lam.invoke_async, FunctionName="sized", InvokeArgs=event)
    assert words == "Request must be smaller than 262144 bytes for the InvokeFunction operation"  # the deprecated API
    words = refusal("RequestTooLargeException", lam.invoke, FunctionName="sized",
                    Payload=json.dumps({"data": "x" * (6 * 1024 * 1024)}).encode())  # fmt: skip
    assert words == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_a_qualifier_in_the_name_and_the_parameter_must_agree(lam, role_arn):
    create(lam, role_arn, "qualified")
    wait_until_active(lam, "qualified")
    wait_until_active(lam, "qualified", lam.publish_version(FunctionName="qualified")["Version"])
    lam.create_alias(FunctionName="qualified", Name="live", FunctionVersion="1")

    assert lam.invoke(FunctionName="qualified:live", Qualifier="live", Payload=b"{}")["ExecutedVersion"] == "1"
    words = refusal("InvalidParameterValueException", lam.invoke, FunctionName="qualified:1", Qualifier="live",
                    Payload=b"{}")  # fmt: skip
    assert words == "The derived qualifier from the function name does not match the specified qualifier."
    by_alias = lam.get_function_configuration(FunctionName="qualified", Qualifier="live")
    assert (by_alias["FunctionArn"], by_alias["Version"]) == (
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:qualified:live",
        "1",
    )


# ---- versions, aliases, permissions, deletion ----


def test_aliases_permissions_and_deletions_answer_in_lambdas_words(lam, role_arn):
    create(lam, role_arn, "shared")
    wait_until_active(lam, "shared")
    wait_until_active(lam, "shared", lam.publish_version(FunctionName="shared")["Version"])
    lam.create_alias(FunctionName="shared", Name="live", FunctionVersion="1")
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:shared"

    assert refusal("ResourceConflictException", lam.create_alias, FunctionName="shared", Name="live",
                   FunctionVersion="1") == f"Alias already exists: {arn}:live"  # fmt: skip
    statement = {"StatementId": "sns", "Action": "lambda:InvokeFunction", "Principal": "sns.amazonaws.com"}
    lam.add_permission(FunctionName="shared", **statement)
    assert refusal("ResourceConflictException", lam.add_permission, FunctionName="shared", **statement) == (
        "The statement id (sns) provided already exists. Please provide a new statement id, or remove the existing "
        "statement."
    )
    assert refusal("InvalidParameterValueException", lam.add_permission, FunctionName="shared",
                   Qualifier="$LATEST", **statement) == "We currently do not support adding policies for $LATEST."  # fmt: skip
    assert len(json.loads(lam.get_policy(FunctionName="shared")["Policy"])["Statement"]) == 1
    lam.remove_permission(FunctionName="shared", StatementId="sns")
    assert refusal("ResourceNotFoundException", lam.remove_permission, FunctionName="shared",
                   StatementId="sns") == "No policy is associated with the given resource."  # fmt: skip
    lam.add_permission(FunctionName="shared", **statement)
    assert refusal("ResourceNotFoundException", lam.remove_permission, FunctionName="shared",
                   StatementId="other") == "Statement other is not found in resource policy."  # fmt: skip

    assert refusal("InvalidParameterValueException", lam.delete_function, FunctionName="shared",
                   Qualifier="$LATEST") == "$LATEST version cannot be deleted without deleting the function."  # fmt: skip
    assert refusal("InvalidParameterValueException", lam.delete_function, FunctionName="shared",
                   Qualifier="live") == "Deletion of aliases is not currently supported."  # fmt: skip
    lam.delete_function(FunctionName="shared", Qualifier="1")
    assert lam.get_function(FunctionName="shared")["Configuration"]["Version"] == "$LATEST"  # the function stays


def test_list_functions_pages_and_leaves_the_state_out(lam, role_arn):
    for name in ("c", "a", "e", "b", "d"):
        create(lam, role_arn, name)

    pages = list(lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}))

    assert [[function["FunctionName"] for function in page["Functions"]] for page in pages] == [
        ["a", "b"], ["c", "d"], ["e"],
    ]  # fmt: skip
    assert [("NextMarker" in page) for page in pages] == [True, True, False]
    listed = pages[0]["Functions"][0]
    assert "State" not in listed and "LastUpdateStatus" not in listed  # GetFunction has them
    assert "RevisionId" in listed
    assert len(lam.list_functions(MaxItems=1000)["Functions"]) == 5


def test_list_versions_by_function_pages_and_knows_unknown_functions(lam, role_arn):
    create(lam, role_arn, "versioned")
    wait_until_active(lam, "versioned")
    for timeout in (4, 5, 6):
        lam.update_function_configuration(FunctionName="versioned", Timeout=timeout)
        wait_until_updated(lam, "versioned")
        lam.publish_version(FunctionName="versioned")

    pages = list(lam.get_paginator("list_versions_by_function").paginate(
        FunctionName="versioned", PaginationConfig={"PageSize": 3}
    ))  # fmt: skip

    assert [[version["Version"] for version in page["Versions"]] for page in pages] == [["$LATEST", "1", "2"], ["3"]]
    assert [version["Timeout"] for page in pages for version in page["Versions"]] == [6, 4, 5, 6]
    assert "State" not in pages[0]["Versions"][1]
    missing = refusal("ResourceNotFoundException", lam.list_versions_by_function, FunctionName="missing")
    assert missing == f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:missing"

"""ARN parsing shared by local AWS's services, and the FunctionName forms the Lambda API accepts."""

from __future__ import annotations

import pytest

from local_aws.arns import Arn, function_name_and_qualifier, split_function_arn

FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:resize"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FUNCTION, Arn("aws", "lambda", "eu-west-1", "123456789012", "function:resize")),
        (f"{FUNCTION}:live", Arn("aws", "lambda", "eu-west-1", "123456789012", "function:resize:live")),
        ("arn:aws:s3:::bucket/key/a:b", Arn("aws", "s3", "", "", "bucket/key/a:b")),
        ("arn:aws:sqs:us-east-1:123456789012:jobs.fifo", Arn("aws", "sqs", "us-east-1", "123456789012", "jobs.fifo")),
        ("arn:aws-cn:sns:cn-north-1:123456789012:alerts", Arn("aws-cn", "sns", "cn-north-1", "123456789012", "alerts")),
    ],
)
def test_parse_reads_every_field_and_keeps_the_resource_whole(text, expected):
    arn = Arn.parse(text)
    assert arn == expected
    assert str(arn) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "resize",
        "arn:aws:lambda",
        "arn:aws:sqs:us-east-1:123456789012",
        "arn::sqs:r:a:q",
        "arn:aws::r:a:q",
        "arn:aws:sqs:r:a:",
        "urn:aws:sqs:r:a:q",
    ],  # fmt: skip
)
def test_parse_refuses_malformed_text_naming_the_expected_form(text):
    with pytest.raises(ValueError, match=r"is not an ARN: expected arn:partition:service:region:account:resource"):
        Arn.parse(text)


@pytest.mark.parametrize(
    ("name_or_arn", "expected"),
    [
        ("resize", ("resize", None)),
        ("resize:live", ("resize", "live")),
        ("resize:$LATEST", ("resize", "$LATEST")),
        ("123456789012:function:resize", ("resize", None)),  # partial ARN
        ("123456789012:function:resize:3", ("resize", "3")),
        (FUNCTION, ("resize", None)),
        (f"{FUNCTION}:live", ("resize", "live")),
        ("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:resize:1", ("resize", "1")),
    ],
)
def test_function_name_and_qualifier_accepts_every_form_lambda_does(name_or_arn, expected):
    assert function_name_and_qualifier(name_or_arn) == expected


@pytest.mark.parametrize(
    "name_or_arn",
    [
        "",
        ":live",
        "resize:",
        "123456789012:layer:resize",
        "123456789012:function:",
        "123456789012:function:f:1:2",
        "arn:aws:lambda:eu-west-1:123456789012:function",
        "arn:aws:lambda:eu-west-1:123456789012:layer:resize:1",
        f"{FUNCTION}:live:extra",
        f"{FUNCTION}:",
    ],  # fmt: skip
)
def test_function_name_and_qualifier_refuses_malformed_names(name_or_arn):
    with pytest.raises(ValueError, match="is not a function name"):
        function_name_and_qualifier(name_or_arn)


def test_function_name_and_qualifier_refuses_another_services_arn():
    with pytest.raises(ValueError, match=r"is not a Lambda function ARN \(sqs\)"):
        function_name_and_qualifier("arn:aws:sqs:us-east-1:123456789012:function")


def test_split_function_arn_separates_the_qualifier_from_the_unqualified_arn():
    assert split_function_arn(FUNCTION) == (FUNCTION, None)
    assert split_function_arn(f"{FUNCTION}:live") == (FUNCTION, "live")
    with pytest.raises(ValueError, match="is not an ARN"):
        split_function_arn("resize:live")

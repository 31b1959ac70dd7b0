"""The policy evaluator on its own: wildcards, variables, condition operators, the decision logic."""

from __future__ import annotations

import pytest
from moto.core.utils import get_service_model

from local_aws.iam import s3
from local_aws.iam.policy import Principal, Request, conditions_hold, decide, matching_effects

ACCOUNT = "123456789012"
ALICE = Principal("user", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/alice", name="alice", user_id="AIDAALICE")
ROOT = Principal("root", ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", user_id=ACCOUNT)
SESSION = Principal(
    "assumed-role",
    ACCOUNT,
    f"arn:aws:sts::{ACCOUNT}:assumed-role/etl/run1",
    name="etl",
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/etl",
    session_name="run1",
)


def request(principal=ALICE, action="s3:GetObject", resource="arn:aws:s3:::data/a/b.csv", **context) -> Request:
    base = {"aws:username": principal.name} if principal.kind == "user" else {}
    return Request(principal, action, resource, {**base, **{k.lower(): v for k, v in context.items()}})


def test_every_s3_operation_of_the_api_model_has_an_iam_action():
    operations = set(get_service_model("s3").operation_names) - s3.UNAUTHORIZED_OPERATIONS
    assert sorted(operations - set(s3.ACTIONS)) == []


def test_action_matching_ignores_case_and_resource_matching_does_not():
    statement = {"Effect": "Allow", "Action": "S3:get*", "Resource": "arn:aws:s3:::data/A/*"}
    assert matching_effects({"Statement": [statement]}, request(resource="arn:aws:s3:::data/A/x")) == {"Allow"}
    assert matching_effects({"Statement": [statement]}, request(resource="arn:aws:s3:::data/a/x")) == set()
    assert (
        matching_effects({"Statement": statement}, request(action="s3:PutObject", resource="arn:aws:s3:::data/A/x"))
        == set()
    )


def test_not_action_and_not_resource():
    policy = {"Statement": [{"Effect": "Deny", "NotAction": "s3:Get*", "NotResource": "arn:aws:s3:::data/public/*"}]}
    assert matching_effects(policy, request(action="s3:PutObject")) == {"Deny"}
    assert matching_effects(policy, request(action="s3:GetObject")) == set()
    assert matching_effects(policy, request(action="s3:PutObject", resource="arn:aws:s3:::data/public/x")) == set()


def test_policy_variables_resolve_and_match_literally():
    policy = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::data/${aws:username}/*"}]}
    assert matching_effects(policy, request(resource="arn:aws:s3:::data/alice/x")) == {"Allow"}
    assert matching_effects(policy, request(resource="arn:aws:s3:::data/bob/x")) == set()
    starry = Principal("user", ACCOUNT, "arn", name="a*")
    assert matching_effects(policy, request(starry, resource="arn:aws:s3:::data/abc/x")) == set()
    assert matching_effects(policy, request(starry, resource="arn:aws:s3:::data/a*/x")) == {"Allow"}
    # A role session has no aws:username: the statement matches nothing, unless a default is given.
    assert matching_effects(policy, request(SESSION, resource="arn:aws:s3:::data/etl/x")) == set()
    with_default = {
        "Statement": [{**policy["Statement"][0], "Resource": "arn:aws:s3:::data/${aws:username, 'shared'}/*"}]
    }
    assert matching_effects(with_default, request(SESSION, resource="arn:aws:s3:::data/shared/x")) == {"Allow"}


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"s3:prefix": ["a/", "b/"]}}, {"s3:prefix": "b/"}, True),
        ({"StringEquals": {"s3:prefix": "a/"}}, {}, False),
        ({"StringNotEquals": {"s3:prefix": "a/"}}, {}, True),  # negated operator, missing key
        ({"StringNotEqualsIfExists": {"s3:prefix": "a/"}}, {"s3:prefix": "a/"}, False),
        ({"StringEqualsIfExists": {"s3:prefix": "a/"}}, {}, True),
        ({"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/x/"}, True),
        ({"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/"}, True),
        ({"StringEqualsIgnoreCase": {"s3:x-amz-acl": "PRIVATE"}}, {"s3:x-amz-acl": "private"}, True),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:securetransport": "false"}, True),
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:securetransport": "false"}, False),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:sourceip": "10.1.2.3"}, True),
        ({"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}, {"aws:sourceip": "127.0.0.1"}, True),
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
        ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "abc"}, False),
        (
            {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
            {"aws:currenttime": "2026-11-27T10:00:00Z"},
            True,
        ),
        ({"DateGreaterThan": {"aws:CurrentTime": "1700000000"}}, {"aws:currenttime": "2026-11-27T10:00:00Z"}, True),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/a*"}}, {"aws:principalarn": ALICE.arn}, True),
        ({"ArnNotEquals": {"aws:PrincipalArn": ALICE.arn}}, {"aws:principalarn": ALICE.arn}, False),
        ({"Null": {"s3:x-amz-acl": "true"}}, {}, True),
        ({"Null": {"s3:x-amz-acl": "false"}}, {}, False),
        (
            {"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["a", "b"]}},
            {"s3:requestobjecttagkeys": ["a"]},
            True,
        ),
        (
            {"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["a"]}},
            {"s3:requestobjecttagkeys": ["a", "c"]},
            False,
        ),
        ({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["a"]}}, {}, True),
        (
            {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["c"]}},
            {"s3:requestobjecttagkeys": ["a", "c"]},
            True,
        ),
        ({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["c"]}}, {}, False),
        # A negated operator under ForAnyValue still needs a value to test: a missing key fails it.
        ({"ForAnyValue:StringNotEquals": {"s3:RequestObjectTagKeys": ["c"]}}, {}, False),
        ({"ForAnyValue:StringNotLike": {"s3:RequestObjectTagKeys": ["c*"]}}, {}, False),
        (
            {"ForAnyValue:StringNotEquals": {"s3:RequestObjectTagKeys": ["c"]}},
            {"s3:requestobjecttagkeys": ["a", "c"]},
            True,
        ),
        ({"ForAllValues:StringNotEquals": {"s3:RequestObjectTagKeys": ["c"]}}, {}, True),
        ({"StringEquals": {"s3:prefix": "home/${aws:username}/"}}, {"s3:prefix": "home/alice/"}, True),
        (
            {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}, "Bool": {"aws:SecureTransport": "true"}},
            {"aws:principalaccount": ACCOUNT, "aws:securetransport": "false"},
            False,
        ),
    ],
)
def test_condition_operators(condition, context, expected):
    assert conditions_hold(condition, request(**context)) is expected


def test_unknown_condition_operator_makes_the_statement_match_nothing():
    policy = {
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringSorta": {"a": "b"}}}]
    }
    assert matching_effects(policy, request()) == set()


def bucket_policy(effect: str, principal) -> dict:
    return {"Statement": [{"Effect": effect, "Principal": principal, "Action": "s3:GetObject", "Resource": "*"}]}


def test_decisions_within_one_account():
    allow_all = [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    assert decide(request(ROOT), [], None, ACCOUNT).allowed
    assert not decide(request(ROOT), [], bucket_policy("Deny", "*"), ACCOUNT).allowed
    assert decide(request(), allow_all, None, ACCOUNT).allowed
    denied = decide(request(), [], None, ACCOUNT)
    assert not denied.allowed and denied.reason == "because no identity-based policy allows the s3:GetObject action"
    assert decide(request(), [], bucket_policy("Allow", {"AWS": ALICE.arn}), ACCOUNT).allowed
    assert not decide(request(), [], bucket_policy("Allow", {"AWS": ACCOUNT}), ACCOUNT).allowed
    assert not decide(request(), allow_all, bucket_policy("Deny", {"AWS": ACCOUNT}), ACCOUNT).allowed
    assert decide(request(SESSION), [], bucket_policy("Allow", {"AWS": SESSION.role_arn}), ACCOUNT).allowed
    assert decide(request(), allow_all, bucket_policy("Deny", {"Service": "logging.s3.amazonaws.com"}), ACCOUNT).allowed
    # Another account's principal needs both an identity and a resource grant.
    assert not decide(request(), allow_all, None, "999999999999").allowed
    assert decide(request(), allow_all, bucket_policy("Allow", {"AWS": ALICE.arn}), "999999999999").allowed


def test_not_principal_deny_covers_everyone_else():
    policy = {"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": ALICE.arn}, "Action": "s3:*", "Resource": "*"}]}
    assert matching_effects(policy, request(ALICE), resource_policy=True) == set()
    assert matching_effects(policy, request(SESSION), resource_policy=True) == {"Deny"}

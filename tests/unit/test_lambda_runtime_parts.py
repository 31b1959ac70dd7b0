"""Pieces of the local Lambda runtime that need no server: trust policies, payloads, handler loading."""

from __future__ import annotations

import json
import sys

import pytest

from local_aws.lambda_ import bootstrap
from local_aws.lambda_.execution_role import trusts_lambda
from local_aws.lambda_.invoke import InvokeError
from local_aws.lambda_.runtime import check_payload

LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.mark.parametrize(
    ("document", "trusted"),
    [
        (LAMBDA_TRUST, True),
        (json.dumps(LAMBDA_TRUST), True),  # as IAM stores it
        (
            {
                "Statement": {
                    "Effect": "Allow",
                    "Principal": {"Service": ["glue.amazonaws.com", "lambda.amazonaws.com"]},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            },
            True,
        ),
        ({"Statement": [{**LAMBDA_TRUST["Statement"][0], "Effect": "Deny"}]}, False),
        ({"Statement": [{**LAMBDA_TRUST["Statement"][0], "Principal": {"Service": "glue.amazonaws.com"}}]}, False),
        ({"Statement": [{**LAMBDA_TRUST["Statement"][0], "Action": "sts:TagSession"}]}, False),
        ({"Statement": [{**LAMBDA_TRUST["Statement"][0], "Principal": {"AWS": "arn:aws:iam::1:root"}}]}, False),
        (None, False),
    ],
)
def test_trust_policy_must_let_lambda_assume_the_role(document, trusted):
    assert trusts_lambda(document) is trusted


def test_payload_checks_match_invoke():
    assert check_payload(b"") == "{}"
    assert check_payload(b'{"a": [1, 2]}') == '{"a": [1, 2]}'
    with pytest.raises(InvokeError) as not_json:
        check_payload(b"{a: 1}")
    assert (not_json.value.error_type, not_json.value.code) == ("InvalidRequestContentException", 400)
    with pytest.raises(InvokeError) as too_large:
        check_payload(b'"' + b"x" * 300 + b'"', limit=256)
    assert (too_large.value.error_type, too_large.value.code) == ("RequestTooLargeException", 413)


def test_handler_names_resolve_like_aws_runtime(tmp_path, monkeypatch):
    package = tmp_path / "unit_lambda_pkg" / "jobs"
    package.mkdir(parents=True)
    (tmp_path / "unit_lambda_pkg" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "run.py").write_text("def main(event, context):\n    return 'ran'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert bootstrap.load_handler("unit_lambda_pkg/jobs/run.main")({}, None) == "ran"
        assert bootstrap.load_handler("unit_lambda_pkg.jobs.run.main")({}, None) == "ran"
        with pytest.raises(bootstrap.FaultError) as malformed:
            bootstrap.load_handler("handler")
        assert malformed.value.error_type == "Runtime.MalformedHandlerName"
        assert malformed.value.message.startswith("Bad handler 'handler': ")
        with pytest.raises(bootstrap.FaultError) as missing:
            bootstrap.load_handler("unit_lambda_pkg/jobs/run.nope")
        assert (missing.value.error_type, missing.value.message) == (
            "Runtime.HandlerNotFound",
            "Handler 'nope' missing on module 'unit_lambda_pkg/jobs/run'",
        )
    finally:
        for name in [name for name in sys.modules if name.startswith("unit_lambda_pkg")]:
            del sys.modules[name]


def test_clients_act_as_the_executors_or_as_given_credentials():
    from local_aws import clients

    default = clients.client("sqs")._get_credentials()
    assert (default.access_key, default.token) == (clients.ACCESS_KEY, None)
    given = clients.client("sqs", access_key="ASIAX", secret_key="s", session_token="t")._get_credentials()
    assert (given.access_key, given.secret_key, given.token) == ("ASIAX", "s", "t")


def test_destination_clients_act_as_the_function_role(monkeypatch):
    from types import SimpleNamespace

    from local_aws.lambda_ import async_invoke, execution_role

    issued = execution_role.Credentials("ASIAROLE", "role-secret", "role-token", 0.0)
    monkeypatch.setattr(execution_role, "role_credentials", lambda function: issued)
    sqs = async_invoke._role_client(SimpleNamespace(), "sqs", "eu-west-1")
    credentials = sqs._get_credentials()
    assert (credentials.access_key, credentials.secret_key, credentials.token) == (
        "ASIAROLE",
        "role-secret",
        "role-token",
    )
    assert sqs.meta.region_name == "eu-west-1"


def test_an_environment_retired_while_waiting_is_stopped_even_when_the_invocation_is_throttled(monkeypatch):
    import time
    from types import SimpleNamespace

    from local_aws import config
    from local_aws.lambda_ import environments
    from local_aws.lambda_.pool import Pool

    monkeypatch.setattr(config.settings, "lambda_max_environments", 1)
    function = SimpleNamespace(
        account_id="123456789012", region="us-east-1", function_name="f", version="$LATEST", code_digest="new",
        handler="app.handler", run_time="python3.12", environment_vars={}, memory_size=128, timeout=1,
        role="arn:aws:iam::123456789012:role/r", layers=[], ephemeral_storage=512, reserved_concurrency=None,
        logging_config={"LogFormat": "Text", "LogGroup": "/aws/lambda/f"},
    )  # fmt: skip

    class FakeEnvironment:
        def __init__(self, key, fingerprint, busy):
            self.key, self.fingerprint, self.busy = key, fingerprint, busy
            self.retired, self.alive, self.stopped = False, True, False
            self.created = self.last_used = time.monotonic()

        def stop(self):
            self.stopped = True

    stale = FakeEnvironment(environments.environment_key(function), "code before UpdateFunctionCode", busy=False)
    other = FakeEnvironment(("123456789012", "us-east-1", "g", "$LATEST"), "g", busy=True)
    pool = Pool()
    pool._environments = [stale, other]
    try:
        with pytest.raises(InvokeError) as throttled:
            pool.acquire(function)  # the only slot stays busy: throttled after the wait
        assert throttled.value.error_type == "TooManyRequestsException"
        assert stale.stopped and stale not in pool.environments()
    finally:
        pool.stop()

"""The one way executors patch moto (local_aws/patching.py) and the order the registry installs them in."""

from __future__ import annotations

import sys
import types

import pytest

from local_aws import registry
from local_aws.patching import PatchError, Patches


class Base:
    def greet(self, name: str) -> str:
        return f"hello {name}"


class Backend(Base):
    def count(self) -> int:
        return 1

    @staticmethod
    def parse(text: str) -> int:
        return int(text)

    @property
    def size(self) -> int:
        return getattr(self, "_size", 3)

    @size.setter
    def size(self, value: int) -> None:
        self._size = value


def test_wrap_replace_and_add_apply_then_restore_exactly_what_was_there():
    patches = Patches("tests.executor")

    @patches.wrap(Backend, "count")
    def count(original, self):
        return original(self) + 10

    @patches.wrap(Backend, "greet")  # inherited: restore must not leave a copy on Backend
    def greet(original, self, name):
        return original(self, name).upper()

    @patches.wrap(Backend, "parse")  # a staticmethod stays one
    def parse(original, text):
        return original(text.strip())

    @patches.wrap(Backend, "size")  # a property: its getter is wrapped, its setter kept
    def size(original, self):
        return original(self) * 100

    patches.add(Backend, "extra", lambda self: "new")
    moto_count, moto_parse, moto_size = (Backend.__dict__[name] for name in ("count", "parse", "size"))

    patches.apply()
    patches.apply()  # idempotent: not wrapped twice
    backend = Backend()
    assert (backend.count(), backend.greet("ann"), backend.extra()) == (11, "HELLO ANN", "new")
    assert Backend.parse(" 7 ") == backend.parse(" 8 ") - 1 == 7
    backend.size = 5
    assert backend.size == 500
    assert Backend.count.__name__ == "count" and Backend.count.__wrapped__ is moto_count

    patches.restore()
    assert [Backend.__dict__[name] for name in ("count", "parse", "size")] == [moto_count, moto_parse, moto_size]
    assert "greet" not in Backend.__dict__ and Backend().greet("ann") == "hello ann"
    assert not hasattr(Backend, "extra")
    patches.apply()  # a second install works the same
    assert Backend().count() == 11
    patches.restore()


def test_a_moto_that_does_not_fit_is_refused_naming_every_mismatch_before_anything_is_patched():
    patches = Patches("tests.executor")
    patches.wrap(Backend, "count")(lambda original, self: 0)
    patches.wrap(Backend, "renamed_in_a_new_moto")(lambda original, self: 0)
    patches.add(Backend, "greet", lambda self: "mine")

    with pytest.raises(PatchError) as raised:
        patches.apply()

    message = str(raised.value)
    assert "test_patching.Backend.renamed_in_a_new_moto is gone; tests.executor wraps it" in message
    assert "test_patching.Backend.greet exists now; tests.executor adds its own" in message
    assert Backend().count() == 1 and not patches.applied


def test_later_wraps_see_earlier_ones_and_restore_refuses_out_of_order():
    first, second = Patches("tests.first"), Patches("tests.second")
    first.wrap(Backend, "count")(lambda original, self: original(self) * 2)
    second.wrap(Backend, "count")(lambda original, self: original(self) + 1)
    first.apply()
    second.apply()
    try:
        assert Backend().count() == 3  # second's original is first's wrapper
        with pytest.raises(PatchError, match=r"Backend.count was patched over after tests.first and not put back"):
            first.restore()
    finally:
        second.restore()
        first.restore()
    assert Backend().count() == 1


def executors(monkeypatch, **after: tuple[str, ...]) -> tuple[str, ...]:
    for name, before in after.items():
        module = types.ModuleType(name)
        module.patches = Patches(name, after=before)
        monkeypatch.setitem(sys.modules, name, module)
    return tuple(after)


def test_registry_installs_each_executor_after_those_it_names(monkeypatch):
    names = executors(monkeypatch, notify=("versioning",), encrypt=("versioning",), log=("encrypt",), versioning=())
    assert [module.__name__ for module in registry.ordered(names)] == ["versioning", "notify", "encrypt", "log"]


def test_registry_refuses_a_cycle_or_an_unknown_executor(monkeypatch):
    with pytest.raises(RuntimeError, match="executors wait for each other in a cycle: a -> b -> a"):
        registry.ordered(executors(monkeypatch, a=("b",), b=("a",)))
    with pytest.raises(RuntimeError, match="c is to install after nowhere, which is not an executor"):
        registry.ordered(executors(monkeypatch, c=("nowhere",)))


def test_the_real_executors_declare_the_orders_that_matter():
    order = [module.__name__.removeprefix("local_aws.") for module in registry.ordered()]
    assert len(order) == len(registry.EXECUTOR_MODULES)
    must_precede = [
        ("s3.versioning", "s3.encryption"),  # encryption wraps suspended versioning's put_object
        ("s3.versioning", "lambda_.event_sources.s3"),  # suspended buckets' deletes notify too
        ("lambda_.service", "lambda_.event_sources.mappings"),  # pollers stop before the runtime
        ("glue.jobs", "glue.triggers"),  # triggers stop firing before the job runner stops
        ("glue.crawlers", "glue.crawler_requests"),
        ("iam.principals", "iam.s3"),  # S3's authorization knows STS keys and deleted IAM keys
        ("s3.encryption", "s3.access_logging"),  # the log records the request as answered
        ("clock", "s3.lifecycle"),  # lifecycle runs on the clock
        ("s3.access_logging", "firehose.delivery_streams"),  # Firehose's final writes at stop are logged
        ("cloudformation.resources", "cloudformation.stacks"),
        ("lambda_.event_sources.mappings", "cloudformation.stacks"),  # a stack's mappings start real pollers
        ("firehose.delivery_streams", "cloudformation.stacks"),  # a stack's delivery streams buffer and deliver
        ("clock", "sns.email_subscriptions"),
    ]
    for first, then in must_precede:
        assert order.index(first) < order.index(then), (first, then)

"""How an executor plugs into moto: the attributes it wraps, replaces or adds, recorded so they can be undone.

Every executor module declares its patches on one `Patches` object at import time and applies them
in install(); nothing in moto changes until then, and restore() puts back exactly what was there:

    patches = Patches(__name__, after=("local_aws.s3.versioning",))

    @patches.wrap(S3Backend, "put_object")          # a function, staticmethod or property's getter
    def _put_object(original, self, bucket_name, key_name, *args, **kwargs):
        key = original(self, bucket_name, key_name, *args, **kwargs)
        ...
        return key

    patches.replace(FakeJobRun, "status", property(...))   # must exist in moto
    patches.add(GlueResponse, "reset_job_bookmark", ...)   # must not exist in moto (yet)

apply() first checks every target: a moto upgrade that renamed a method, or that now has one we
add, fails loudly with every such name, before anything is patched. `after` names the executor
modules whose patches must be applied first (their wrapper is then our `original`); the registry
orders executors by it, installs in that order and shuts down and restores in the reverse one.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import moto
from moto.core.responses import ActionResult

_MISSING = object()


class PatchError(RuntimeError):
    """moto does not have what an executor patches (or already has what it adds): the pins drifted."""


@dataclass
class _Patch:
    kind: str  # "wrap", "replace" or "add"
    target: Any  # a class or a module
    name: str
    value: Any  # the replacement, or for "wrap" the function called as value(original, *args, **kwargs)


@dataclass
class _Applied:
    target: Any
    name: str
    previous: Any  # the target's own attribute before, or _MISSING when it had none (inherited or absent)
    installed: Any  # what we set, to check nobody patched over it before restore()


def describe(target: Any, name: str) -> str:
    """`moto.glue.models.FakeJob.start_job_run`: where a patched attribute lives."""
    if inspect.ismodule(target):
        return f"{target.__name__}.{name}"
    return f"{target.__module__}.{target.__qualname__}.{name}"


class Patches:
    """One executor's patches on moto, applied together and undone together."""

    def __init__(self, owner: str, after: Iterable[str] = ()):
        self.owner = owner
        self.after = tuple(after)
        self._planned: list[_Patch] = []
        self._applied: list[_Applied] = []

    def wrap(self, target: Any, name: str) -> Callable[[Callable], Callable]:
        """Decorator: target.name becomes a function calling ours with the previous one first."""

        def register(function: Callable) -> Callable:
            self._planned.append(_Patch("wrap", target, name, function))
            return function

        return register

    def replace(self, target: Any, name: str, value: Any) -> Any:
        """target.name (which moto has) becomes value."""
        self._planned.append(_Patch("replace", target, name, value))
        return value

    def add(self, target: Any, name: str, value: Any) -> Any:
        """target.name (which moto lacks) becomes value."""
        self._planned.append(_Patch("add", target, name, value))
        return value

    @property
    def applied(self) -> bool:
        return bool(self._applied)

    def targets(self) -> list[tuple[Any, str]]:
        """(target, name) of every planned patch, in order."""
        return [(patch.target, patch.name) for patch in self._planned]

    def check(self) -> None:
        """Raise PatchError naming every target moto lacks (or already has, for add)."""
        problems = []
        for patch in self._planned:
            exists = _static(patch.target, patch.name) is not _MISSING
            if patch.kind == "add" and exists:
                problems.append(f"{describe(patch.target, patch.name)} exists now; {self.owner} adds its own")
            elif patch.kind != "add" and not exists:
                problems.append(f"{describe(patch.target, patch.name)} is gone; {self.owner} {patch.kind}s it")
            elif patch.kind == "wrap" and isinstance(_static(patch.target, patch.name), classmethod):
                problems.append(f"{describe(patch.target, patch.name)} is a classmethod, which wrap() does not take")
        if problems:
            raise PatchError(f"local_aws patches moto {moto.__version__}, which does not fit: " + "; ".join(problems))

    def apply(self) -> None:
        """Check every target, then patch them in declaration order (idempotent)."""
        if self._applied:
            return
        self.check()
        for patch in self._planned:
            previous = vars(patch.target).get(patch.name, _MISSING)
            value = patch.value
            if patch.kind == "wrap":
                value = _wrapped(patch.value, patch.target, patch.name)
            setattr(patch.target, patch.name, value)
            self._applied.append(_Applied(patch.target, patch.name, previous, value))

    def restore(self) -> None:
        """Put back what apply() replaced, last patch first."""
        while self._applied:
            applied = self._applied[-1]
            if vars(applied.target).get(applied.name, _MISSING) is not applied.installed:
                raise PatchError(
                    f"{describe(applied.target, applied.name)} was patched over after {self.owner} and not put back"
                )
            self._applied.pop()
            if applied.previous is _MISSING:
                delattr(applied.target, applied.name)
            else:
                setattr(applied.target, applied.name, applied.previous)


def _static(target: Any, name: str) -> Any:
    try:
        return inspect.getattr_static(target, name)
    except AttributeError:
        return _MISSING


def _wrapped(function: Callable, target: Any, name: str) -> Any:
    """target.name wrapped: a function, a staticmethod (stays one) or a property (its getter is wrapped)."""
    found = _static(target, name)
    if isinstance(found, property):
        return property(_wrapper(function, found.fget), found.fset, found.fdel, found.__doc__)
    wrapper = _wrapper(function, getattr(target, name))
    return staticmethod(wrapper) if isinstance(found, staticmethod) else wrapper


def _wrapper(function: Callable, original: Callable) -> Callable:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return function(original, *args, **kwargs)

    return wrapper


def json_answer(result: Any, json_version: str = "1.1") -> Any:
    """A JSON-protocol action's ActionResult as its HTTP answer, dumped as is instead of by moto's serializer.

    moto 5's serializer looks up the output shape for every value: about 0.2 ms per entry of a
    list, so a PutRecords of 500 records spent 100 ms there, more than everything else it does.
    Only for results that are the API's JSON already (its keys, strings, numbers, booleans, no None).
    """
    if not isinstance(result, ActionResult):
        return result
    return 200, {"Content-Type": f"application/x-amz-json-{json_version}"}, json.dumps(result.result)

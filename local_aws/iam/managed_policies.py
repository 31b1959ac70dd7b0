"""AWS-managed IAM policies built once per process, copied into each new IAM backend.

With MOTO_IAM_LOAD_MANAGED_POLICIES (local AWS turns it on, so roles can attach
`service-role/AWSGlueServiceRole` as in an account), moto parses its 1,582 managed policies and
builds a policy object of each for every IAM backend it creates: one per partition of every
account it sees, again after every reset. That cost about a second per reset, paid by every test.
Here each backend gets fresh copies of policies built once: the same names, documents, versions
and dates, with their own attachment counts, tags and versions, so nothing one backend does to a
policy shows in another or survives a reset.
"""

from __future__ import annotations

from typing import Any

from moto.iam.models import IAMBackend, ManagedPolicy
from moto.settings import load_iam_aws_managed_policies

from local_aws.patching import Patches

patches = Patches(__name__)

# (loading on?, account, region) -> the policies moto built the first time; they stay for the next start
_built: dict[tuple[bool, str, str], list[ManagedPolicy]] = {}


def _copy(obj: Any) -> Any:
    """A shallow copy (copy.copy's generic path costs several times more, 2 x 1,582 times a backend)."""
    clone = object.__new__(type(obj))
    clone.__dict__.update(obj.__dict__)
    return clone


def _fresh(policy: ManagedPolicy) -> ManagedPolicy:
    """A copy sharing only immutable values (strings, dates) with the built policy."""
    clone = _copy(policy)
    clone.attachment_count = 0
    clone.tags = dict(policy.tags)
    clone.versions = [_copy(version) for version in policy.versions]
    return clone


@patches.wrap(IAMBackend, "_init_aws_policies")
def _init_aws_policies(original, self: IAMBackend) -> list[ManagedPolicy]:
    key = (load_iam_aws_managed_policies(), self.account_id, self.region_name)
    if key not in _built:
        _built[key] = original(self)
    return [_fresh(policy) for policy in _built[key]]

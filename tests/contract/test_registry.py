"""Installing the executors and shutting them down leaves moto exactly as it was, and a second install works."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT

# Its own interpreter: the session's server has the executors installed in this one.
SCRIPT = textwrap.dedent(
    """
    import inspect, json
    from local_aws import registry
    from local_aws.patching import describe

    MISSING = object()
    patched = [(target, name) for module in registry.ordered() for target, name in module.patches.targets()]

    def state():
        found = {}
        for target, name in patched:
            try:
                found[describe(target, name)] = inspect.getattr_static(target, name)
            except AttributeError:
                found[describe(target, name)] = MISSING
        return found

    moto = state()
    rounds = []
    for _ in range(2):
        registry.install()
        installed = state()
        registry.shutdown()
        rounds.append({
            "unchanged_while_installed": sorted(k for k in moto if installed[k] is moto[k]),
            "not_restored": sorted(k for k, v in state().items() if v is not moto[k]),
        })
    print(json.dumps({"patched": len(moto), "rounds": rounds}))
    """
)


def test_install_then_shutdown_restores_every_patched_attribute_of_moto_twice():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["patched"] > 50  # every executor's patches, not an empty list
    assert result["rounds"] == [{"unchanged_while_installed": [], "not_restored": []}] * 2

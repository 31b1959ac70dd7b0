"""labkit's layers: a module imports only from its own layer and the layers below it (read from the source with ast).

core (DAG factory, naming, paths, environment) < operators < clickstream (the event generator, a library
and CLI needing only boto3) < labs (per-lab builders and checks) < report (the pipeline report: its inputs,
charts and HTML) < local (runner, Airflow UI, datasets CLI). dags/ build on core, operators, clickstream,
labs and report, never on the local harness.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LABKIT = REPO_ROOT / "plugins" / "labkit"
LAYERS = ("core", "operators", "clickstream", "labs", "report", "local")
DAGS_MAY_USE = ("core", "operators", "clickstream", "labs", "report")
MODULES = sorted(path for path in LABKIT.rglob("*.py") if path != LABKIT / "__init__.py")


def module_name(path: Path) -> str:
    parts = path.relative_to(LABKIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def labkit_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every labkit import in the file, at any depth (tasks import lazily)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's package (a labkit module's), up level - 1
                package = module_name(path if path.name == "__init__.py" else path.parent).split(".")
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            # `from labkit import core` imports labkit.core; `from labkit.core import dag` imports labkit.core.
            found += [(node.lineno, f"{base}.{alias.name}" if base == "labkit" else base) for alias in node.names]
    return [(line, name) for line, name in found if name == "labkit" or name.startswith("labkit.")]


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_is_in_a_layer():
    loose = [module_name(path) for path in MODULES if layer_of(module_name(path)) is None]
    assert loose == [], f"put these in one of labkit's layers {LAYERS}: {loose}"


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_module_imports_no_higher_layer(path):
    layer = layer_of(module_name(path))
    allowed = LAYERS[: LAYERS.index(layer) + 1]
    wrong = [
        f"line {line}: imports {name}"
        for line, name in labkit_imports(path)
        if layer_of(name) not in allowed  # the labkit package itself (None) is no layer either
    ]
    assert wrong == [], f"{module_name(path)} ({layer}) may import only from {allowed}: " + "; ".join(wrong)


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "dags").glob("*.py")), ids=lambda path: path.stem)
def test_dag_uses_no_local_harness(path):
    wrong = [
        f"line {line}: imports {name}" for line, name in labkit_imports(path) if layer_of(name) not in DAGS_MAY_USE
    ]
    assert wrong == [], f"dags/{path.name} may import only from labkit's {DAGS_MAY_USE}: " + "; ".join(wrong)


def test_the_check_sees_a_violation(tmp_path, monkeypatch):
    """A core module importing a lab lazily inside a function, or relatively, is caught and named with its line."""
    core = tmp_path / "labkit" / "core"
    core.mkdir(parents=True)
    bad = core / "bad.py"
    bad.write_text(
        "from labkit.core import paths\n\n\ndef f():\n    from labkit.labs import glue\n    from ..local import runner\n"
    )
    monkeypatch.setattr(f"{__name__}.LABKIT", tmp_path / "labkit")
    with pytest.raises(
        AssertionError,
        match=r"labkit\.core\.bad \(core\) .*: line 5: imports labkit\.labs; line 6: imports labkit\.local\b",
    ):
        test_module_imports_no_higher_layer(bad)

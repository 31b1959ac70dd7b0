"""What the UI shows of each DAG: a trigger form of typed, described params with valid defaults, and its doc.

The trigger form builds one field per param from its JSON schema (`type` picks the widget, `description`
is the help text under it) and pre-fills the default; a default its schema rejects blocks Trigger.
The DAG page shows doc_md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO_ROOT / "dags").glob("*.py"))
JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}
# Params that may be any integer (a seed); every other count, size or duration has a lower bound.
UNBOUNDED = {"seed"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}, bag.import_errors
    return bag


def dag_in(dagbag, path: Path):
    dags = [dag for dag in dagbag.dags.values() if Path(dag.fileloc).resolve() == path.resolve()]
    assert dags, f"{path.name} defines no DAG"
    return dags


each_dag_file = pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)


def test_there_are_dag_files():
    assert DAG_FILES


@each_dag_file
def test_every_param_is_typed_and_described(dagbag, path):
    for dag in dag_in(dagbag, path):
        for name in dag.params:
            schema, description = dag.params.get_param(name).schema, dag.params.get_param(name).description
            types = schema.get("type")
            assert types and set(types if isinstance(types, list) else [types]) <= JSON_TYPES, (
                f"{dag.dag_id}: param {name!r} needs a JSON schema type, has {types!r}"
            )
            assert description and len(description.strip()) >= 10, (
                f"{dag.dag_id}: param {name!r} needs a description saying what it does, has {description!r}"
            )
            if "integer" in types or "number" in types:
                assert "minimum" in schema or name in UNBOUNDED, f"{dag.dag_id}: param {name!r} needs a minimum"


@each_dag_file
def test_every_param_default_is_valid_so_the_form_triggers_as_it_opens(dagbag, path):
    for dag in dag_in(dagbag, path):
        for name in dag.params:
            param = dag.params.get_param(name)
            assert param.has_value, f"{dag.dag_id}: param {name!r} has no default"
            param.resolve(suppress_exception=False)  # ParamValidationError: the default breaks its own schema


@each_dag_file
def test_has_a_doc_and_a_description(dagbag, path):
    for dag in dag_in(dagbag, path):
        assert dag.doc_md and len(dag.doc_md.strip()) > 200, f"{dag.dag_id} needs doc_md: the DAG page shows it"
        assert dag.description, f"{dag.dag_id} needs a description: the DAG list shows it"

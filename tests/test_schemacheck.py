"""The compiled schema check answers exactly as jsonschema does, on real and mutated documents.

jsonschema is the reference: for the shipped fleet schemas and the Kubernetes schemas, every
document of the repository and thousands of mutations of them (wrong types, bools for
numbers, missing and unknown fields, out-of-range values) get the same valid/invalid answer.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from kurator_compile import validate
from kurator_compile.errors import CompileError
from kurator_compile.kinds import kind_spec
from kurator_compile.outputcheck import SchemaStore
from kurator_compile.schemacheck import COMPILED, NOT_COMPILED, SchemaSet
from kurator_compile.yamldoc import load_stream

from .conftest import REPO

SOURCES = [REPO / "fleets", REPO / "apps", REPO / "overlays", REPO / "tests" / "corpus"]
REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    2.5,
    "",
    "x",
    "1",
    "Always",
    "Web",
    [],
    ["x"],
    [{}],
    {},
    {"name": "x"},
    {"unknownField": 1},
]


def _documents() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for root in SOURCES:
        for path in sorted(root.rglob("*.yaml")):
            try:
                docs = load_stream(path.read_text("utf-8"), path)
                plain = json.loads(json.dumps([d.data for d in docs]))
            except (CompileError, TypeError, ValueError):
                continue  # the corpus holds broken YAML on purpose
            found.extend(d for d in plain if isinstance(d, dict))
    return found


DOCUMENTS = _documents()


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _mutate(doc: dict[str, Any], path: tuple[Any, ...], how: int, new: Any) -> dict[str, Any]:
    """Replace the value at `path`, delete it, or add an unknown key beside it."""
    result = copy.deepcopy(doc)
    if not path:
        result["unexpected"] = new
        return result
    parent: Any = result
    for token in path[:-1]:
        parent = parent[token]
    last = path[-1]
    if how == 0 or not isinstance(parent, dict):
        parent[last] = copy.deepcopy(new)
    elif how == 1:
        del parent[last]
    else:
        parent[f"{last}Extra"] = copy.deepcopy(new)
    return result


def _fleet_schema_of(doc: dict[str, Any]) -> str:
    return kind_spec(doc.get("apiVersion"), doc.get("kind")).schema


def _fleet_answers(doc: dict[str, Any]) -> tuple[bool | None, bool]:
    name = _fleet_schema_of(doc)
    schema_id = validate._schemas()[name]["$id"]
    fast = validate._compiled().is_valid(schema_id, doc)
    slow = not any(True for _ in validate.validator(name).iter_errors(doc))
    return fast, slow


STORE = SchemaStore()
VERSION = STORE.versions[-1]
KUBE_DOCUMENTS = [
    d
    for d in DOCUMENTS
    if isinstance(d.get("apiVersion"), str)
    and isinstance(d.get("kind"), str)
    and STORE.builtin(VERSION, d["apiVersion"], d["kind"]) is not None
]


def _kube_answers(doc: dict[str, Any], like: dict[str, Any]) -> tuple[bool | None, bool]:
    schema = STORE.builtin(VERSION, like["apiVersion"], like["kind"])
    assert schema is not None
    assert schema.is_valid is not None
    return schema.is_valid(doc), not any(True for _ in schema.errors(doc))


def test_every_draft_2020_12_keyword_is_either_compiled_or_refused() -> None:
    assert set(Draft202012Validator.VALIDATORS) == COMPILED | NOT_COMPILED
    assert not COMPILED & NOT_COMPILED


def test_the_repository_has_documents_of_both_kinds() -> None:
    assert len(DOCUMENTS) > 300
    assert {d["kind"] for d in KUBE_DOCUMENTS} >= {"Deployment", "Service", "ConfigMap"}


@pytest.mark.parametrize("index", range(len(DOCUMENTS)))
def test_fleet_schemas_agree_on_every_repository_document(index: int) -> None:
    fast, slow = _fleet_answers(DOCUMENTS[index])
    assert fast == slow


@pytest.mark.parametrize("index", range(len(KUBE_DOCUMENTS)))
def test_kubernetes_schemas_agree_on_every_repository_object(index: int) -> None:
    doc = KUBE_DOCUMENTS[index]
    fast, slow = _kube_answers(doc, doc)
    assert fast == slow


@st.composite
def _mutations(draw: st.DrawFn, pool: list[dict[str, Any]]) -> tuple[dict[str, Any], Any]:
    doc = draw(st.sampled_from(pool))
    path = draw(st.sampled_from(list(_paths(doc))))
    how = draw(st.integers(0, 2))
    new = draw(st.sampled_from(REPLACEMENTS))
    return _mutate(doc, path, how, new), doc


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(DOCUMENTS))
def test_fleet_schemas_agree_on_mutated_documents(case: tuple[dict[str, Any], Any]) -> None:
    mutated, original = case
    if _fleet_schema_of(mutated) != _fleet_schema_of(original):
        return
    fast, slow = _fleet_answers(mutated)
    assert fast == slow


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(KUBE_DOCUMENTS))
def test_kubernetes_schemas_agree_on_mutated_objects(case: tuple[dict[str, Any], Any]) -> None:
    mutated, original = case
    fast, slow = _kube_answers(mutated, original)
    assert fast == slow


def test_jsonschema_type_rules() -> None:
    checks = SchemaSet(
        [
            {"$id": "urn:int", "type": "integer"},
            {"$id": "urn:num", "type": "number"},
            {"$id": "urn:enum", "enum": [1, "a", None]},
        ]
    )
    assert checks.is_valid("urn:int", 3.0) is True  # a float with no fraction is an integer
    assert checks.is_valid("urn:int", True) is False
    assert checks.is_valid("urn:num", False) is False
    assert checks.is_valid("urn:enum", True) is False
    assert checks.is_valid("urn:enum", 1.0) is True


def test_a_schema_with_a_keyword_not_compiled_cannot_tell() -> None:
    checks = SchemaSet(
        [
            {"$id": "urn:a", "properties": {"x": {"$ref": "urn:b"}}},
            {"$id": "urn:b", "uniqueItems": True},
        ]
    )
    assert checks.is_valid("urn:a", {"y": 1}) is True  # the reference was never followed
    assert checks.is_valid("urn:a", {"x": [1, 1]}) is None
    assert checks.is_valid("urn:a", {"x": [1]}) is None  # remembered: always jsonschema now
    assert checks.is_valid("urn:missing", {}) is None


def test_recursive_references_compile() -> None:
    node = {"$id": "urn:node", "type": "object", "properties": {"next": {"$ref": "#"}}}
    checks = SchemaSet([node])
    assert checks.is_valid("urn:node", {"next": {"next": {}}}) is True
    assert checks.is_valid("urn:node", {"next": {"next": 1}}) is False


def test_the_ecma_end_anchor_is_kept() -> None:
    fleet_name = {"apiVersion": "compile.kurator.dev/v1alpha1", "kind": "Fleet"}
    checks = validate._compiled()
    fleet_id = validate._schemas()["fleet.json"]["$id"]
    base = {**fleet_name, "metadata": {"name": "web"}, "spec": {"clusters": [{"name": "a"}]}}
    assert checks.is_valid(fleet_id, base) is True
    newline = {**base, "metadata": {"name": "web\n"}}
    assert checks.is_valid(fleet_id, newline) is False

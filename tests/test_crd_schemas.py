"""The custom resource schemas shipped in the package: every file pinned to an upstream source,
unchanged since it was generated, and found with no flags."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

from kurator_compile.outputcheck.store import BUNDLED_CRDS, SchemaStore

from .conftest import REPO


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crd_schemas", REPO / "scripts/crd_schemas.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCES = json.loads((BUNDLED_CRDS / "SOURCES.json").read_text("utf-8"))
SHIPPED = sorted(p.relative_to(BUNDLED_CRDS).as_posix() for p in BUNDLED_CRDS.glob("*/*.json"))

CRD_YAML = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1alpha1
      served: true
      schema:
        openAPIV3Schema: {type: object, properties: {old: {type: string}}}
    - name: v1
      served: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, properties: {size: {type: integer, default: 1}}}
"""


def test_every_shipped_schema_has_a_pinned_source_and_the_reverse() -> None:
    assert sorted(entry["file"] for entry in SOURCES) == SHIPPED
    for entry in SOURCES:
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]), entry
        assert entry["origin"] in {"crd", "catalog"}, entry


@pytest.mark.parametrize("entry", SOURCES, ids=[e["file"] for e in SOURCES])
def test_shipped_schema_is_the_generated_one(entry: dict[str, str]) -> None:
    """A hand edit shows here: regenerate with scripts/crd_schemas.py instead."""
    body = (BUNDLED_CRDS / entry["file"]).read_bytes()
    assert hashlib.sha256(body).hexdigest() == entry["sha256"]
    assert body == _script().schema_text(json.loads(body))  # canonical compact form


def test_karmada_policy_input_schemas_are_generated_from_their_crds() -> None:
    """schemas/{propagation,clusterpropagation,override,clusteroverride}policy.json are
    `scripts/crd_schemas.py`'s output from the shipped Karmada CRD schemas, not edited."""
    generated = _script().policy_schemas()
    assert sorted(path.name for path in generated) == [
        "clusteroverridepolicy.json",
        "clusterpropagationpolicy.json",
        "overridepolicy.json",
        "propagationpolicy.json",
    ]
    for path, body in generated.items():
        assert path.read_bytes() == body, f"{path.name}: run scripts/crd_schemas.py"


def test_karmada_policy_input_schemas_have_every_crd_field() -> None:
    """Every field Karmada's CRD has (v1.16+: schedulePriority, workloadAffinity, suspension,
    ...) is accepted, and no field Karmada lacks, the article's weightList aside."""

    def fields(node: object, path: str = "") -> set[str]:
        found: set[str] = set()
        if isinstance(node, dict):
            for name, sub in (node.get("properties") or {}).items():
                found |= {f"{path}/{name}"} | fields(sub, f"{path}/{name}")
            if isinstance(node.get("items"), dict):
                found |= fields(node["items"], f"{path}/*")
        return found

    for kind in ("propagationpolicy", "overridepolicy"):
        crd = json.loads((BUNDLED_CRDS / f"policy.karmada.io/{kind}_v1alpha1.json").read_text())
        schema = json.loads((REPO / f"kurator_compile/schemas/{kind}.json").read_text())
        extra = {"/spec/placement/replicaScheduling/weightList"} if kind[0] == "p" else set()
        crd_spec = fields(crd["properties"]["spec"], "/spec")
        ours = {f for f in fields(schema["properties"]["spec"], "/spec") if "weightList/" not in f}
        assert ours == crd_spec | extra
        if kind == "propagationpolicy":
            assert {
                "/spec/schedulePriority/priorityClassName",
                "/spec/placement/workloadAffinity/affinity/groupByLabelKey",
                "/spec/suspension/dispatchingOnClusters/clusterNames",
                "/spec/dependentOverrides",
            } <= ours


def test_a_crd_version_schema_is_extracted_unchanged() -> None:
    script = _script()
    schema = script.crd_schema(CRD_YAML, "example.com", "widget", "v1")
    assert schema["properties"]["spec"]["properties"]["size"] == {"type": "integer", "default": 1}
    assert script.crd_schema(CRD_YAML, "example.com", "widget", "v1alpha1")["properties"] == {
        "old": {"type": "string"}
    }
    with pytest.raises(SystemExit, match="no schema for version v2"):
        script.crd_schema(CRD_YAML, "example.com", "widget", "v2")
    with pytest.raises(SystemExit, match=r"no CustomResourceDefinition for gadget\.example\.com"):
        script.crd_schema(CRD_YAML, "example.com", "gadget", "v1")


def test_bundled_schemas_are_found_after_the_callers_folders(tmp_path: Path) -> None:
    assert SchemaStore().crd("velero.io/v1", "Schedule") is not None
    override = tmp_path / "velero.io"
    override.mkdir()
    (override / "schedule_v1.json").write_text('{"type": "object"}')
    schema = SchemaStore([tmp_path]).crd("velero.io/v1", "Schedule")
    assert schema is not None
    assert schema.source == str(override / "schedule_v1.json")

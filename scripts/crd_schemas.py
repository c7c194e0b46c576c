#!/usr/bin/env python3
"""Regenerate the custom resource schemas shipped in `kurator_compile/crds/`.

Every file there comes from an upstream file at a pinned commit, listed in
`kurator_compile/crds/SOURCES.json`:

- `origin: crd`: an upstream CustomResourceDefinition (YAML); the served version's
  `openAPIV3Schema` is taken as it is.
- `origin: catalog`: a schema already converted to kubeconform's layout by the CRDs catalog
  (`openapi2jsonschema`), taken as it is.

The input schemas of Karmada's four policy kinds (`kurator_compile/schemas/`) are derived
from the shipped policy CRD schemas (`policy_schema`): strict about unknown fields, with the
rules Karmada's webhook and kube-apiserver add; they are regenerated and checked with them.

Files are written as compact JSON, so regenerating gives the same bytes; `SOURCES.json` records
each file's SHA-256, which the tests check. Upstream files are read from local bare git
mirrors (`--mirrors DIR`, holding `DIR/<owner>+<name>/repo`) or, without it, downloaded at the
pinned commit. `--check` writes nothing and exits 1 when a shipped file differs.

    python scripts/crd_schemas.py --mirrors /path/to/mirrors
    python scripts/crd_schemas.py --check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

CRDS = Path(__file__).resolve().parents[1] / "kurator_compile" / "crds"
SOURCES = CRDS / "SOURCES.json"


def schema_text(schema: Any) -> bytes:
    """One canonical byte form, whatever the upstream file's layout."""
    return (json.dumps(schema, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def crd_schema(text: str, group: str, kind: str, version: str) -> Any:
    """The `openAPIV3Schema` of `kind.group` at `version` in a CRD file (one or more docs)."""
    for doc in YAML(typ="safe", pure=True).load_all(text):
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc.get("spec") or {}
        if spec.get("group") != group or (spec.get("names") or {}).get("kind", "").lower() != kind:
            continue
        for served in spec.get("versions") or ():
            if served.get("name") == version:
                schema = (served.get("schema") or {}).get("openAPIV3Schema")
                if schema is None:  # apiextensions v1beta1: one schema for every version
                    schema = (spec.get("validation") or {}).get("openAPIV3Schema")
                if schema is not None:
                    return schema
        raise SystemExit(f"{group}/{kind}: no schema for version {version}")
    raise SystemExit(f"no CustomResourceDefinition for {kind}.{group}")


def upstream_text(entry: dict[str, str], mirrors: Path | None) -> str:
    repo, commit, path = entry["repo"], entry["commit"], entry["path"]
    if mirrors is not None:
        git_dir = mirrors / repo.replace("/", "+") / "repo"
        shown = subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"],
            capture_output=True,
            check=True,
        )
        return shown.stdout.decode("utf-8")
    url = f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
    return body.decode("utf-8")


def generate(entry: dict[str, str], mirrors: Path | None) -> bytes:
    text = upstream_text(entry, mirrors)
    if entry["origin"] == "catalog":
        return schema_text(json.loads(text))
    group, _, name = entry["file"].partition("/")
    kind, _, version = name.removesuffix(".json").rpartition("_")
    return schema_text(crd_schema(text, group, kind, version))


# The input schemas of Karmada's policy kinds (kurator_compile/schemas/), derived from the
# shipped CRD schemas above: (kind, namespaced).
POLICY_KINDS = (
    ("PropagationPolicy", True),
    ("ClusterPropagationPolicy", False),
    ("OverridePolicy", True),
    ("ClusterOverridePolicy", False),
)
INPUT_SCHEMAS = CRDS.parent / "schemas"
_BOUNDS = {"int32": 2**31 - 1, "int64": 2**63 - 1}
# Rules the CRD cannot state, by the end of a field's path ("*": any list item): what
# apimachinery's label selector validation, kube-apiserver's toleration validation and
# Karmada's validating webhook (pkg/util/validation/validation.go) refuse, and the
# article's shorthand this compiler accepts with a warning.
_RULES: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("labelSelector", "matchExpressions", "*", "operator"),
        {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
    ),
    (("fieldSelector", "matchExpressions", "*", "key"), {"enum": ["provider", "region", "zone"]}),
    (("fieldSelector", "matchExpressions", "*", "operator"), {"enum": ["In", "NotIn"]}),
    (("clusterTolerations", "*", "operator"), {"enum": ["Exists", "Equal", ""]}),
    (
        ("clusterTolerations", "*", "effect"),
        {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute", ""]},
    ),
    (("spreadConstraints", "*", "minGroups"), {"minimum": 0}),
    (("spreadConstraints", "*", "maxGroups"), {"minimum": 0}),
    (
        ("replicaScheduling", "replicaSchedulingType"),
        {"enum": ["Duplicated", "Divided", "Weighted"]},
    ),
)


def _rules_for(path: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for suffix, rule in _RULES:
        if path[-len(suffix) :] == suffix:
            found.update(rule)
    return found


def strict_schema(node: dict[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """A CRD's structural schema as JSON Schema that refuses what kube-apiserver's strict field
    validation refuses: unknown fields (except under x-kubernetes-preserve-unknown-fields),
    integers beyond their format; descriptions, defaults and list/map markers dropped."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("description", "default", "nullable") or key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            out[key] = {name: strict_schema(sub, (*path, name)) for name, sub in value.items()}
        elif key == "items":
            out[key] = strict_schema(value, (*path, "*"))
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = strict_schema(value, (*path, "{}"))
        else:
            out[key] = value
    bound = _BOUNDS.get(str(node.get("format")))
    if bound is not None:
        out.setdefault("minimum", -bound - 1)
        out.setdefault("maximum", bound)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    out.update(_rules_for(path))
    if path[-1:] == ("replicaScheduling",):
        # the article's shorthand: read as weightPreference.staticWeightList, with a warning
        weights = out["properties"]["weightPreference"]["properties"]["staticWeightList"]
        out["properties"]["weightList"] = weights
    return out


def policy_schema(crd: dict[str, Any], kind: str, namespaced: bool) -> dict[str, Any]:
    """The input schema of one Karmada policy kind: its CRD's, strict, with the metadata rules
    kube-apiserver applies (a name; no namespace on a cluster-scoped kind)."""
    metadata: dict[str, Any] = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 253},
            "namespace": {"type": "string", "minLength": 1},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    if not namespaced:
        metadata["not"] = {"required": ["namespace"]}
    spec = strict_schema(crd["properties"]["spec"], ("spec",))
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://compile.kurator.dev/schemas/{kind.lower()}.json",
        "title": f"{kind} (policy.karmada.io/v1alpha1)",
        "description": (
            f"Generated by scripts/crd_schemas.py from Karmada's {kind} CRD "
            f"(crds/policy.karmada.io/{kind.lower()}_v1alpha1.json); do not edit."
        ),
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "policy.karmada.io/v1alpha1"},
            "kind": {"const": kind},
            "metadata": metadata,
            "spec": spec,
        },
    }
    placement = spec["properties"].get("placement")
    if placement is not None:  # Overlays and BackupPolicies select clusters the same way
        schema["$defs"] = {"clusterAffinity": placement["properties"]["clusterAffinity"]}
    return schema


def policy_schemas() -> dict[Path, bytes]:
    """Every Karmada policy input schema, from the shipped CRD schemas."""
    found: dict[Path, bytes] = {}
    for kind, namespaced in POLICY_KINDS:
        crd_file = CRDS / "policy.karmada.io" / f"{kind.lower()}_v1alpha1.json"
        crd = json.loads(crd_file.read_text("utf-8"))
        schema = policy_schema(crd, kind, namespaced)
        found[INPUT_SCHEMAS / f"{kind.lower()}.json"] = (
            json.dumps(schema, indent=1, ensure_ascii=False) + "\n"
        ).encode()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, help="folder of bare git mirrors")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    sources = json.loads(SOURCES.read_text("utf-8"))
    differing = []
    for entry in sources:
        body = generate(entry, args.mirrors)
        target = CRDS / entry["file"]
        if args.check:
            if not target.is_file() or target.read_bytes() != body:
                differing.append(entry["file"])
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        entry["sha256"] = hashlib.sha256(body).hexdigest()
    if args.check:
        for path, body in policy_schemas().items():
            if not path.is_file() or path.read_bytes() != body:
                differing.append(str(path.relative_to(CRDS.parent)))
        for name in differing:
            print(f"differs from upstream: {name}", file=sys.stderr)
        return 1 if differing else 0
    sources.sort(key=lambda e: e["file"])
    SOURCES.write_text(json.dumps(sources, indent=1) + "\n", "utf-8")
    for path, body in policy_schemas().items():
        path.write_bytes(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Regenerate the custom resource schemas shipped in `kurator_compile/crds/`.

Every file there comes from an upstream file at a pinned commit, listed in
`kurator_compile/crds/SOURCES.json`:

- `origin: crd`: an upstream CustomResourceDefinition (YAML); the served version's
  `openAPIV3Schema` is taken as it is.
- `origin: catalog`: a schema already converted to kubeconform's layout by the CRDs catalog
  (`openapi2jsonschema`), taken as it is.

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
        for name in differing:
            print(f"differs from upstream: {name}", file=sys.stderr)
        return 1 if differing else 0
    sources.sort(key=lambda e: e["file"])
    SOURCES.write_text(json.dumps(sources, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

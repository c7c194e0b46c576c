"""Kurator's CRD schemas, read from the package as the API server would apply them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from ..outputcheck.crd import prepare_crd_schema


def _required_without_defaults(node: Any) -> None:
    """The API server fills defaults before it validates, so a required field with a default
    (AttachedCluster's `spec.kubeconfig.key`) may be left out."""
    if not isinstance(node, dict):
        return
    properties = node.get("properties") or {}
    if isinstance(node.get("required"), list):
        kept = [
            name
            for name in node["required"]
            if not (isinstance(properties.get(name), dict) and "default" in properties[name])
        ]
        if kept:
            node["required"] = kept
        else:
            del node["required"]
    for child in properties.values():
        _required_without_defaults(child)
    _required_without_defaults(node.get("items"))
    _required_without_defaults(node.get("additionalProperties"))


@cache
def input_schema(group: str, kind: str, version: str) -> dict[str, Any] | None:
    """The schema of a Kurator input kind at `crds/{group}/{kind}_{version}.json`, with unknown
    fields forbidden as kubectl's strict field validation does; None if none is shipped."""
    path = resources.files("kurator_compile").joinpath(
        "crds", group, f"{kind.lower()}_{version}.json"
    )
    if not path.is_file():
        return None
    schema = prepare_crd_schema(json.loads(path.read_text("utf-8")), loose=False)
    _required_without_defaults(schema)
    return schema

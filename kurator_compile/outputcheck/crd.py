"""A CRD's openAPIV3Schema -> a JSON Schema that judges objects the way the API server does.

The files come in two flavours (see kurator_compile/crds/SOURCES.json): catalog conversions that
already forbid unknown fields, and verbatim upstream schemas that allow them. The API server
rejects unknown fields (kubectl's default field validation is Strict) except below
`x-kubernetes-preserve-unknown-fields`, so both are brought to that rule here; loose mode allows
unknown fields everywhere instead. `x-kubernetes-int-or-string` is translated for a Python
validator; `pattern`s are matched by RE2 itself, as Go's regexp in the API server matches them.

Nulls follow apiextensions-apiserver (pkg/apiserver/schema/defaulting/prunenulls.go, called by
the custom resource handler before defaulting and validation): a null in a field whose schema is
not `nullable` is dropped (or, where the field has a `default`, replaced by it: the same object
once applied), so `drop_server_nulls` drops it from the emitted object too; a null the server
keeps (a list item, a field the schema does not describe) must be allowed by `nullable: true`.
Of the root `metadata` schema only `name` and `generateName` count, as the API server applies
no other part of it (ObjectMeta is validated by Kubernetes' own rules, see `metadata_findings`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

_JUNCTORS = ("allOf", "anyOf", "oneOf")
_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})
# Deeper than any real CRD (the bundled ones reach 30): every later step recurses.
MAX_SCHEMA_DEPTH = 200


def crd_schema_problem(schema: Any) -> tuple[str, dict[str, Any]]:
    """Why a CRD schema file cannot be used (empty if it can), and an RE2 matcher per `pattern`
    (the API server matches with Go's RE2, which never backtracks; Python's `re` would run
    `(a+)+$` for hours). Walked without recursion; a `$ref`
    is refused, as the API server refuses it in an openAPIV3Schema, so no schema refers to
    itself."""
    from ..overlay.regex import PatternError, compile_pattern

    matchers: dict[str, Any] = {}
    stack: list[tuple[Any, int]] = [(schema, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        if depth > MAX_SCHEMA_DEPTH:
            return f"nested deeper than {MAX_SCHEMA_DEPTH} levels", {}
        if isinstance(node.get("$ref"), str):
            return f"$ref {node['$ref']!r}: a CRD schema cannot refer to a schema", {}
        kinds = node.get("type")
        for kind in kinds if isinstance(kinds, list) else [kinds]:
            if isinstance(kind, str) and kind not in _TYPES:
                return f"unknown type {kind!r}", {}
        value = node.get("pattern")
        if isinstance(value, str) and value not in matchers:
            # The API server searches with Go's regexp (RE2): RE2 reads the pattern as written,
            # unanchored. Patterns RE2 refuses stay unchecked, as the API server's own refusal
            # would be reported when the CRD is installed, not per object.
            with contextlib.suppress(PatternError):
                matchers[value] = compile_pattern(f"(?s:.*)(?:{value})(?s:.*)")
        stack.extend((child, depth + 1) for child in node.values())
    return "", matchers


def prepare_crd_schema(schema: dict[str, Any], loose: bool) -> dict[str, Any]:
    """Rewrite `schema` in place (it was just parsed for this purpose) and return it."""
    properties = schema.get("properties")
    metadata = properties.get("metadata") if isinstance(properties, dict) else None
    if isinstance(properties, dict) and isinstance(metadata, dict):
        kept = metadata.get("properties")
        kept = kept if isinstance(kept, dict) else {}
        properties["metadata"] = {
            "type": "object",
            "properties": {k: kept[k] for k in ("name", "generateName") if k in kept},
            "x-kubernetes-preserve-unknown-fields": True,
        }
    _prepare(schema, structural=True, loose=loose)
    if schema.get("additionalProperties") is False:
        # Every object has these, whether or not the CRD author listed them.
        for field in ("apiVersion", "kind", "metadata"):
            schema.setdefault("properties", {}).setdefault(field, {})
    return schema


def _prepare(node: Any, structural: bool, loose: bool) -> None:
    if not isinstance(node, dict):
        return
    _translate_openapi(node)
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if loose or preserve:
        if node.get("additionalProperties") is False:
            del node["additionalProperties"]
    elif (
        structural
        and "properties" in node
        and "additionalProperties" not in node
        and node.get("x-kubernetes-embedded-resource") is not True
    ):
        # Only the structural schema lists every field; a branch of anyOf/oneOf/allOf lists
        # some of them, so forbidding the others there would reject valid objects.
        node["additionalProperties"] = False
    for child in (node.get("properties") or {}).values():
        _prepare(child, structural, loose)
    items = node.get("items")
    for child in items if isinstance(items, list) else [items]:
        _prepare(child, structural, loose)
    _prepare(node.get("additionalProperties"), structural, loose)
    for junctor in _JUNCTORS:
        for branch in node.get(junctor) or ():
            _prepare(branch, False, loose)
    _prepare(node.get("not"), False, loose)


def _translate_openapi(node: dict[str, Any]) -> None:
    # OpenAPI's `nullable: true` is JSON Schema's "null" type (and a null enum member).
    if node.get("nullable") is True:
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            node["type"] = [*kind, "null"]
        if isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
    if (
        node.get("x-kubernetes-int-or-string") is True
        and "type" not in node
        and not any(j in node for j in _JUNCTORS)
    ):
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]


def _field_schema(schema: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    """The schema of `key` in an object of `schema`: its property, else additionalProperties."""
    if schema is None:
        return None
    properties = schema.get("properties")
    if isinstance(properties, dict) and isinstance(properties.get(key), dict):
        return properties[key]  # type: ignore[no-any-return]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def drop_server_nulls(value: Any, schema: Mapping[str, Any] | None) -> Any:
    """`value` without the map entries whose null the API server drops: those with a schema
    that is not `nullable`. A copy where anything was dropped, `value` itself otherwise, so
    shared objects stay shared."""
    if isinstance(value, dict):
        changed: dict[str, Any] | None = None
        for key, item in value.items():
            sub = _field_schema(schema, key)
            if item is None:
                if sub is not None and sub.get("nullable") is not True:
                    if changed is None:
                        changed = dict(value)
                    del changed[key]
                continue
            pruned = drop_server_nulls(item, sub)
            if pruned is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = pruned
        return value if changed is None else changed
    if isinstance(value, list):
        items = schema.get("items") if schema is not None else None
        item_schema = items if isinstance(items, dict) else None
        pruned_items = [drop_server_nulls(item, item_schema) for item in value]
        if any(new is not old for new, old in zip(pruned_items, value, strict=True)):
            return pruned_items
    return value

"""Which objects a kustomize `patches[]` entry reaches (`resmap.Select` and `GetById`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from .errors import PatchError
from .schema import is_cluster_scoped
from .selector_string import parse_selector

__all__ = ["TARGET_FIELDS", "effective_namespace", "identity_matches", "target_matches"]

TARGET_FIELDS: Final = frozenset(
    {"group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"}
)
# kustomize's stand-in namespace for cluster-scoped objects: no namespace pattern matches it
# unless written to.
NOT_A_NAMESPACE: Final = "_non_namespaceable_"


def target_matches(obj: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    """Whether `obj` is selected by a kustomize patch target.

    group, version, kind, name and namespace are regular expressions that must match the
    whole value (kustomize anchors them as `^(?:...)$`); an empty or absent field matches
    anything. A namespaced object without a namespace is in `default`; a cluster-scoped
    object is in no namespace at all, so any namespace pattern excludes it. Label and
    annotation selectors use the Kubernetes selector string syntax.
    """
    unknown = set(target) - TARGET_FIELDS
    if unknown:
        raise PatchError(f"unknown field(s) in patch target: {', '.join(sorted(unknown))}")
    group, version = split_api_version(_text(obj.get("apiVersion")))
    checks = (
        ("namespace", effective_namespace(obj)),
        ("name", _text(_metadata(obj).get("name"))),
        ("group", group),
        ("version", version),
        ("kind", _text(obj.get("kind"))),
    )
    for field, value in checks:
        pattern = _text(target.get(field))
        if pattern and not _anchored(pattern, field).fullmatch(value):
            return False
    for field, meta in (("labelSelector", "labels"), ("annotationSelector", "annotations")):
        text = _text(target.get(field))
        if text and not parse_selector(text).matches(_string_map(_metadata(obj).get(meta))):
            return False
    return True


def identity_matches(obj: Mapping[str, Any], patch: Mapping[str, Any]) -> bool:
    """Whether a strategic-merge patch without a target names `obj` (kustomize `ResId.Equals`):
    same group, version, kind and name, and the same effective namespace."""
    if split_api_version(_text(obj.get("apiVersion"))) != split_api_version(
        _text(patch.get("apiVersion"))
    ):
        return False
    if _text(obj.get("kind")) != _text(patch.get("kind")):
        return False
    if _text(_metadata(obj).get("name")) != _text(_metadata(patch).get("name")):
        return False
    return effective_namespace(obj) == effective_namespace(patch)


def effective_namespace(obj: Mapping[str, Any]) -> str:
    if is_cluster_scoped(_text(obj.get("apiVersion")), _text(obj.get("kind"))):
        return NOT_A_NAMESPACE
    namespace = _text(_metadata(obj).get("namespace"))
    return namespace or "default"


def split_api_version(api_version: str) -> tuple[str, str]:
    """kustomize splits at the first `/`: `a/b/c` is group `a`, version `b/c`."""
    group, slash, version = api_version.partition("/")
    return (group, version) if slash else ("", api_version)


def _anchored(pattern: str, field: str) -> re.Pattern[str]:
    try:
        return re.compile(f"(?:{pattern})")
    except re.error as error:
        raise PatchError(f"invalid {field} pattern {pattern!r} in patch target: {error}") from None


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _text(value: Any) -> str:
    """A scalar as kustomize reads it from YAML (`GetValue`); "" for null, maps and lists."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): _text(v) for k, v in value.items()}

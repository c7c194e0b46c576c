"""Which objects a kustomize `patches[]` entry reaches (`resmap.Select` and `GetById`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .errors import PatchError
from .regex import Matcher, PatternError, compile_pattern
from .schema import is_cluster_scoped
from .selector_string import Selector, parse_selector

__all__ = [
    "TARGET_FIELDS",
    "CompiledTarget",
    "TargetError",
    "compile_target",
    "effective_namespace",
    "identity_matches",
    "target_matches",
]

TARGET_FIELDS: Final = frozenset(
    {"group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"}
)
# kustomize's stand-in namespace for cluster-scoped objects: no namespace pattern matches it
# unless written to.
NOT_A_NAMESPACE: Final = "_non_namespaceable_"


class TargetError(PatchError):
    """A patch target that cannot be used; `field` is the target field at fault ("" for the
    target as a whole)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


_PATTERN_FIELDS: Final = ("namespace", "name", "group", "version", "kind")
_SELECTOR_FIELDS: Final = (("labelSelector", "labels"), ("annotationSelector", "annotations"))


@dataclass(frozen=True)
class CompiledTarget:
    """A kustomize patch target, checked and compiled once: see `target_matches`."""

    patterns: tuple[tuple[str, Matcher], ...]
    selectors: tuple[tuple[str, Selector], ...]

    def matches(self, obj: Mapping[str, Any], cluster_scoped: bool | None = None) -> bool:
        """`cluster_scoped`: the scope the inputs give the object's kind, see
        `effective_namespace`."""
        group, version = split_api_version(scalar_text(obj.get("apiVersion")))
        values = {
            "namespace": effective_namespace(obj, cluster_scoped),
            "name": scalar_text(_metadata(obj).get("name")),
            "group": group,
            "version": version,
            "kind": scalar_text(obj.get("kind")),
        }
        for field, matcher in self.patterns:
            if not matcher.fullmatch(values[field]):
                return False
        for meta, selector in self.selectors:
            if not selector.matches(_string_map(_metadata(obj).get(meta))):
                return False
        return True


def compile_target(target: Mapping[str, Any]) -> CompiledTarget:
    """Check and compile a patch target; TargetError (naming the field) when it is invalid.

    Patterns are regular expressions matched in linear time with RE2's guarantees; those
    that need backtracking (backreferences, lookaround, ...) are refused (see regex.py).
    """
    unknown = sorted(set(target) - TARGET_FIELDS, key=str)
    if unknown:
        raise TargetError(
            f"unknown field(s) in patch target: {', '.join(map(str, unknown))}", str(unknown[0])
        )
    patterns = []
    for field in _PATTERN_FIELDS:
        pattern = scalar_text(target.get(field))
        if not pattern:
            continue
        try:
            patterns.append((field, compile_pattern(pattern)))
        except PatternError as error:
            raise TargetError(
                f"invalid {field} pattern {_shown(pattern)} in patch target: {error}", field
            ) from None
    selectors = []
    for field, meta in _SELECTOR_FIELDS:
        text = scalar_text(target.get(field))
        if not text:
            continue
        try:
            selectors.append((meta, parse_selector(text)))
        except PatchError as error:
            raise TargetError(f"patch target {field}: {error}", field) from None
    return CompiledTarget(tuple(patterns), tuple(selectors))


def target_matches(obj: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    """Whether `obj` is selected by a kustomize patch target.

    group, version, kind, name and namespace are regular expressions that must match the
    whole value (kustomize anchors them as `^(?:...)$`); an empty or absent field matches
    anything. A namespaced object without a namespace is in `default`; a cluster-scoped
    object is in no namespace at all, so any namespace pattern excludes it. Label and
    annotation selectors use the Kubernetes selector string syntax. An invalid target
    raises TargetError (a PatchError); `compile_target` checks one once for many objects.
    """
    return compile_target(target).matches(obj)


def _shown(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= 100 else f"{shown[:70]}...{shown[-20:]} ({len(text)} characters)"


def identity_matches(
    obj: Mapping[str, Any], patch: Mapping[str, Any], cluster_scoped: bool | None = None
) -> bool:
    """Whether a strategic-merge patch without a target names `obj` (kustomize `ResId.Equals`):
    same group, version, kind and name, and the same effective namespace (both of one kind,
    so of one scope)."""
    if split_api_version(scalar_text(obj.get("apiVersion"))) != split_api_version(
        scalar_text(patch.get("apiVersion"))
    ):
        return False
    if scalar_text(obj.get("kind")) != scalar_text(patch.get("kind")):
        return False
    if scalar_text(_metadata(obj).get("name")) != scalar_text(_metadata(patch).get("name")):
        return False
    return effective_namespace(obj, cluster_scoped) == effective_namespace(patch, cluster_scoped)


def effective_namespace(obj: Mapping[str, Any], cluster_scoped: bool | None = None) -> str:
    """The namespace a patch target's `namespace` is matched against. kustomize knows a kind's
    scope only from its OpenAPI data (the built-in kinds); `cluster_scoped` is the scope the
    inputs give the kind (a CustomResourceDefinition among them), which the object has on a
    cluster, so a cluster-scoped custom resource is in no namespace here either."""
    if cluster_scoped is None:
        api_version, kind = scalar_text(obj.get("apiVersion")), scalar_text(obj.get("kind"))
        cluster_scoped = is_cluster_scoped(api_version, kind)
    if cluster_scoped:
        return NOT_A_NAMESPACE
    namespace = scalar_text(_metadata(obj).get("namespace"))
    return namespace or "default"


def split_api_version(api_version: str) -> tuple[str, str]:
    """kustomize splits at the first `/`: `a/b/c` is group `a`, version `b/c`."""
    group, slash, version = api_version.partition("/")
    return (group, version) if slash else ("", api_version)


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def scalar_text(value: Any) -> str:
    """A scalar as kustomize reads it from YAML (`GetValue`); "" for null, maps and lists."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): scalar_text(v) for k, v in value.items()}

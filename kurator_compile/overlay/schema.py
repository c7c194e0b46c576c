"""Schema lookups for the strategic merge, answering as kyaml's `openapi.ResourceSchema` does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from .k8s_schema import CLUSTER_SCOPED, KINDS, TYPES


@dataclass(frozen=True)
class Schema:
    """The schema of one node: an object type, a list (with its merge facts) or a map of values.

    Only what the merge consults is kept (see `k8s_schema`); `None` where a schema is expected
    means "unknown", which kyaml treats as a plain map or a list that is replaced whole.
    """

    type_name: str | None = None
    item_type: str | None = None
    strategy: str = ""
    keys: tuple[str, ...] = ()
    is_list: bool = False
    map_value: Any = None

    def field(self, name: str) -> Schema | None:
        """Schema of a map entry: a declared property first, else the map's value schema."""
        if self.is_list:
            return None
        if self.map_value is not None:
            return from_spec(self.map_value)
        if self.type_name is None:
            return None
        fields = TYPES.get(self.type_name, {})
        spec = fields.get(name, fields.get("*"))
        return from_spec(spec) if spec is not None else None

    def elements(self) -> Schema | None:
        if not self.is_list or self.item_type is None:
            return None
        return Schema(type_name=self.item_type)

    @property
    def is_merge_list(self) -> bool:
        """kyaml merges a list by key only where the schema's patch strategy includes `merge`."""
        return self.is_list and "merge" in self.strategy.split(",")


def from_spec(spec: Any) -> Schema | None:
    if isinstance(spec, str):
        return Schema(type_name=spec)
    if isinstance(spec, tuple) and spec and spec[0] == "{}":
        return Schema(map_value=spec[1])
    if isinstance(spec, tuple):
        item, strategy, keys = spec
        return Schema(item_type=item, strategy=strategy, keys=tuple(keys), is_list=True)
    return None


# How the generated schema tables (k8s_schema) shorten OpenAPI definition names.
DEFINITION_PREFIXES: Final = (
    ("io.k8s.api.", ""),
    ("io.k8s.apimachinery.pkg.apis.meta.", "meta."),
    ("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.", "apiextensions."),
    ("io.k8s.kube-aggregator.pkg.apis.apiregistration.", "apiregistration."),
    ("io.k8s.apimachinery.pkg.runtime.", "runtime."),
    ("io.k8s.apimachinery.pkg.", ""),
)


def type_name(definition: str) -> str:
    """The type name k8s_schema uses for an OpenAPI definition (`io.k8s.api.core.v1.Pod`)."""
    for prefix, replacement in DEFINITION_PREFIXES:
        if definition.startswith(prefix):
            return replacement + definition[len(prefix) :]
    return definition


def schema_for_kind(api_version: str, kind: str) -> Schema | None:
    """The root schema of a built-in kind, or None for custom resources and unknown versions."""
    type_name = KINDS.get((api_version, kind))
    return Schema(type_name=type_name) if type_name is not None else None


def is_cluster_scoped(api_version: str, kind: str) -> bool:
    """kustomize knows only the built-in cluster-scoped kinds; all others are namespaced."""
    return (api_version, kind) in CLUSTER_SCOPED

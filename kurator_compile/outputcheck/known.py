"""Input objects whose apiVersion/kind nothing defines: almost always a typo.

A `kind: Deploymnet` is no Deployment: it follows no policy meant for Deployments, lands on no
cluster, and its previous files are pruned, so Argo CD or Flux deletes the workload. An object
is known when Kubernetes serves its kind (in any shipped version: which versions serve it is
the output check's business), a CustomResourceDefinition among the inputs defines it, or a
CRD schema (shipped or `--crd-schemas`) covers it; anything else is an error, or a warning
with `--ignore-missing-schemas` (kubeconform's name for the same opt-out).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import Diagnostic
from ..kinds import split_api_version
from ..model import Resource
from ..yamldoc import Document
from .check import _NOT_CLUSTER_OBJECTS, object_label
from .store import SchemaStore, builtin_filename, is_builtin_group
from .versions import removal_for

CRD_KIND = ("apiextensions.k8s.io", "CustomResourceDefinition")


def _crd_versions(data: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """(group, version, kind, openAPIV3Schema or None) for each version a CRD serves."""
    spec = data.get("spec")
    if not isinstance(spec, Mapping):
        return
    group, names = spec.get("group"), spec.get("names")
    kind = names.get("kind") if isinstance(names, Mapping) else None
    if not isinstance(group, str) or not isinstance(kind, str):
        return
    for entry in spec.get("versions") or ():
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            schema = entry.get("schema")
            body = schema.get("openAPIV3Schema") if isinstance(schema, Mapping) else None
            yield group, entry["name"], kind, body


def register_input_crds(store: SchemaStore, docs: Iterable[Document]) -> None:
    """CustomResourceDefinitions among the inputs define kinds, and validate them when they
    carry a schema."""
    for doc in docs:
        data = doc.data if isinstance(doc.data, Mapping) else {}
        group, _ = split_api_version(str(data.get("apiVersion", "")))
        if (group, data.get("kind")) != CRD_KIND:
            continue
        for crd_group, version, kind, body in _crd_versions(data):
            store.add_crd(crd_group, version, kind, body, doc.file)


def _builtin_kinds(store: SchemaStore) -> dict[str, list[str]]:
    """Kind -> the apiVersions the newest shipped Kubernetes serves it in."""
    newest = store.versions[-1]
    found: dict[str, list[str]] = {}
    listing = store.listing(newest)
    for definition in store.definitions(newest).get("$defs", {}).values():
        for gvk in definition.get("x-kubernetes-group-version-kind") or ():
            group, version, kind = gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind")
            if not isinstance(kind, str) or kind.endswith("List"):
                continue
            if builtin_filename(group, version, kind) not in listing:
                continue
            api_version = f"{group}/{version}" if group else version
            if api_version not in found.setdefault(kind, []):
                found[kind].append(api_version)
    return found


def _suggestion(store: SchemaStore, api_version: str, kind: str) -> tuple[str, str]:
    """(pointer of the likely typo, ` (did you mean apps/v1 Deployment?)`) for a near
    built-in kind or apiVersion; no hint when nothing is near."""
    kinds = _builtin_kinds(store)
    group, _ = split_api_version(api_version)
    if kind in kinds:
        pointer, near = "/apiVersion", kind
    else:
        lowered = {k.lower(): k for k in kinds}
        close = difflib.get_close_matches(kind, list(kinds), n=1, cutoff=0.75)
        if not close and kind.lower() in lowered:
            close = [lowered[kind.lower()]]
        if not close:
            return "/kind", ""
        pointer, near = "/kind", close[0]
    # The same group first, then stable versions before beta ones.
    choices = sorted(
        kinds[near], key=lambda a: (split_api_version(a)[0] != group, "beta" in a, "alpha" in a, a)
    )
    return pointer, f" (did you mean {choices[0]} {near}?)"


def is_known(store: SchemaStore, api_version: str, kind: str) -> bool:
    group, _ = split_api_version(api_version)
    if group in _NOT_CLUSTER_OBJECTS or removal_for(api_version, kind) is not None:
        return True  # never applied, or the output check names the replacement API
    if is_builtin_group(group):
        for version in store.served_in(api_version, kind)[-1:]:
            if store.builtin(version, api_version, kind) is not None:
                return True
    return store.crd(api_version, kind) is not None


def unknown_kinds(
    store: SchemaStore, resources: Iterable[Resource], ignore_missing: bool
) -> list[Diagnostic]:
    """One diagnostic per input object whose kind nothing defines, at its `kind` field."""
    found: list[Diagnostic] = []
    for resource in resources:
        api_version, kind = resource.api_version, resource.kind
        if not api_version or not kind or is_known(store, api_version, kind):
            continue
        pointer, hint = _suggestion(store, api_version, kind)
        text = (
            f"{object_label(resource.data)}: {api_version} {kind} is not a Kubernetes kind, no "
            "CustomResourceDefinition among the inputs defines it and no CRD schema "
            f"(shipped or --crd-schemas) covers it{hint}"
        )
        location = resource.document.locate(pointer)
        if ignore_missing:
            found.append(Diagnostic.warning(text, location))
        else:
            found.append(
                Diagnostic.error(f"{text}; --ignore-missing-schemas renders it unchecked", location)
            )
    return found

"""Emitted objects -> diagnostics against the target cluster's Kubernetes and CRD schemas.

Findings about an object depend only on the object and the cluster's Kubernetes version, so
they are computed once per distinct object and version (clusters mostly receive the very same
dict) and only then given each cluster's name and the object's source position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic, Severity, SourceLocation
from ..kinds import is_cluster_scoped, split_api_version
from .messages import describe, dotted, pointer_of
from .objectmeta import metadata_problems
from .store import SchemaStore, is_builtin_group
from .versions import KubeVersion, api_lifecycle, parse_kube_version, show_version

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

Locate = Callable[[str], SourceLocation]
# A finding as a cluster's diagnostic will say it, before the cluster is named.
Located = tuple[Severity, str, SourceLocation | None]

# Local kustomize files, never applied to a cluster (the `kustomize.toolkit.fluxcd.io`
# Kustomization is a real custom resource and is validated).
_NOT_CLUSTER_OBJECTS = frozenset({"kustomize.config.k8s.io"})


@dataclass(frozen=True)
class Finding:
    """One problem with one object, before a cluster name or source position is attached."""

    pointer: str
    text: str
    severity: Severity = Severity.ERROR


@dataclass(frozen=True)
class Target:
    """A cluster's Kubernetes version, the schema set that checks it, and a note about it."""

    version: KubeVersion | None
    schemas: KubeVersion | None
    note: Finding | None = None


def resolve_target(store: SchemaStore, kube_version: str | None) -> Target:
    """`None` means the fleet names no version: the newest version the package ships."""
    text = store.default_version if kube_version is None else kube_version
    version = parse_kube_version(text)
    if version is None:
        return Target(None, None, Finding("", f"kubeVersion {text!r} is not a Kubernetes version"))
    schemas = store.schema_version(version)
    oldest, newest = store.versions[0], store.versions[-1]
    if schemas is None:
        severity = Severity.ERROR if store.strict else Severity.WARNING
        text = (
            f"Kubernetes {show_version(version)} is older than the oldest schemas installed "
            f"({show_version(oldest)}); objects for it are not validated"
        )
        return Target(version, None, Finding("", text, severity))
    if version > newest:
        text = (
            f"Kubernetes {show_version(version)} is newer than the newest schemas installed "
            f"({show_version(newest)}); validated against {show_version(newest)}"
        )
        return Target(version, schemas, Finding("", text, Severity.WARNING))
    return Target(version, schemas)


def object_label(obj: Mapping[str, Any], cluster_scoped: bool | None = None) -> str:
    """`Deployment.apps/shop/web`, as ObjectKey prints it; `cluster_scoped` is the scope the
    inputs give the kind (a CustomResourceDefinition among them), else the built-in table's."""
    metadata = obj.get("metadata")
    meta = metadata if isinstance(metadata, Mapping) else {}
    kind = str(obj.get("kind", ""))
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    name = str(meta.get("name", ""))
    label = f"{kind}.{group}" if group else kind
    if cluster_scoped if cluster_scoped is not None else is_cluster_scoped(group, kind):
        return f"{label}/{name}"
    return f"{label}/{meta.get('namespace') or 'default'}/{name}"


def object_findings(
    store: SchemaStore,
    obj: Mapping[str, Any],
    target: Target,
    cluster_scoped: bool | None = None,
) -> list[Finding]:
    """Every problem of `obj` on a cluster of `target`, sorted; no cluster or position yet."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return [Finding("", "object has no apiVersion and kind to validate against")]
    group, _ = split_api_version(api_version)
    if group in _NOT_CLUSTER_OBJECTS or target.version is None or target.schemas is None:
        return []
    label = object_label(obj, cluster_scoped)
    found: set[Finding] = set()
    lifecycle = api_lifecycle(api_version, kind, target.version)
    if lifecycle is not None:
        severity, text = lifecycle
        found.add(Finding("/apiVersion", f"{label}: {text}", severity))
        if severity is Severity.ERROR:
            return _sorted(found)
    schema = store.builtin(target.schemas, api_version, kind) or store.crd(api_version, kind)
    if schema is None:
        found.add(_no_schema(store, api_version, kind, target.version, label))
    elif schema.build is None:
        found.add(Finding("", f"{label}: {schema.problem}"))
    else:
        store.validations += 1
        found.update(
            Finding(p, f"{label}: {text}")
            for p, text in metadata_problems(obj, custom=schema.prune is not None)
        )
        written = obj
        if schema.prune is not None:
            obj = schema.prune(obj)
        if schema.is_valid is None or schema.is_valid(obj) is not True:
            for error in schema.errors(obj):
                dropped = _dropped_required(error, written)
                if dropped:
                    found.update(Finding(p, f"{label}: {text}") for p, text in dropped)
                    continue
                found.update(Finding(p, f"{label}: {text}") for p, text in describe(error))
    return _sorted(found)


def _dropped_required(error: ValidationError, written: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A required field written as null, which the API server drops before validating: named
    at the null, not as a field missing from its parent."""
    if error.validator != "required" or not isinstance(error.instance, Mapping):
        return []
    parent: Any = written
    for step in error.absolute_path:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return []
    if not isinstance(parent, Mapping):
        return []
    path = list(error.absolute_path)
    required: list[str] = list(error.validator_value)  # type: ignore[arg-type]
    return [
        (
            pointer_of([*path, name]),
            f"{dotted([*path, name])}: null is dropped by the API server (the field is not "
            "nullable), and the field is required",
        )
        for name in required
        if name not in error.instance and name in parent and parent[name] is None
    ]


def _sorted(found: set[Finding]) -> list[Finding]:
    return sorted(found, key=lambda f: (f.pointer, f.text, f.severity.value))


def _no_schema(
    store: SchemaStore, api_version: str, kind: str, target: KubeVersion, label: str
) -> Finding:
    group, version = split_api_version(api_version)
    where = show_version(target)
    served = store.served_in(api_version, kind) if is_builtin_group(group) else []
    if served:
        first, last = show_version(served[0]), show_version(served[-1])
        span = first if first == last else f"{first} to {last}"
        text = f"Kubernetes {where} does not serve {api_version} {kind} (served in {span})"
        return Finding("/apiVersion", f"{label}: {text}")
    crd_file = f"{group or '<core>'}/{kind.lower()}_{version}.json"
    severity = Severity.ERROR if store.strict or not store.ignore_missing else Severity.WARNING
    text = (
        f"no schema for {api_version} {kind}: not a Kubernetes {where} kind and no CRD schema "
        f"{crd_file} in the schema directories; not validated"
    )
    return Finding("", f"{label}: {text}", severity)


def _diagnostic(finding: Finding, cluster: str, locate: Locate) -> Diagnostic:
    return Diagnostic(
        finding.severity, f"cluster {cluster}: {finding.text}", locate(finding.pointer)
    )


def validate_object(
    store: SchemaStore,
    obj: Mapping[str, Any],
    kube_version: str | None,
    cluster: str,
    locate: Locate,
    cluster_scoped: bool | None = None,
) -> list[Diagnostic]:
    """Diagnostics for one emitted object on one cluster; `locate` maps a JSON pointer inside
    `obj` to where the value was written (a Resource's `document.locate`)."""
    target = resolve_target(store, kube_version)
    found = [target.note] if target.note is not None else []
    found += object_findings(store, obj, target, cluster_scoped)
    return [_diagnostic(f, cluster, locate) for f in found]


def _clusters_text(clusters: set[str]) -> str:
    names = sorted(clusters)
    if len(names) == 1:
        return f"cluster {names[0]}"
    if len(names) <= 3:
        return f"clusters {', '.join(names[:-1])} and {names[-1]}"
    return f"clusters {', '.join(names[:3])} and {len(names) - 3} more"


class OutputValidator:
    """Checks every emitted object of a run, each distinct object once per kubeVersion.

    The caller hands the same dict to many clusters; it is recognised by identity (a reference
    is kept, so its id cannot be reused by another object while the validator lives). Objects
    must not be changed after they were checked. A problem shared by many clusters is reported
    once, naming them.
    """

    def __init__(self, store: SchemaStore) -> None:
        self.store = store
        self._targets: dict[str | None, Target] = {}
        self._seen: dict[tuple[int, KubeVersion | None], tuple[object, list[Finding]]] = {}
        self._found: dict[tuple[Severity, str, SourceLocation | None], set[str]] = {}

    def check(
        self,
        obj: Mapping[str, Any],
        kube_version: str | None,
        cluster: str,
        locate: Locate,
        cluster_scoped: bool | None = None,
    ) -> None:
        self.record(self.findings(obj, kube_version, locate, cluster_scoped), cluster)

    def findings(
        self,
        obj: Mapping[str, Any],
        kube_version: str | None,
        locate: Locate,
        cluster_scoped: bool | None = None,
    ) -> list[Located]:
        """What `check` records for `obj` on any cluster of `kube_version`: a caller that hands
        many clusters the same objects can work them out once and `record` them for each."""
        target = self._targets.get(kube_version)
        if target is None:
            target = self._targets[kube_version] = resolve_target(self.store, kube_version)
        found: list[Located] = []
        if target.note is not None:
            found.append((target.note.severity, target.note.text, None))
        key = (id(obj), target.version)
        seen = self._seen.get(key)
        if seen is None or seen[0] is not obj:
            seen = self._seen[key] = (obj, object_findings(self.store, obj, target, cluster_scoped))
        found.extend((f.severity, f.text, locate(f.pointer)) for f in seen[1])
        return found

    def record(self, found: Iterable[Located], cluster: str) -> None:
        for severity, text, location in found:
            self._found.setdefault((severity, text, location), set()).add(cluster)

    def take_diagnostics(self) -> list[Diagnostic]:
        """`diagnostics`, then forgotten (objects stay checked): one cluster's at a time."""
        found = self.diagnostics
        self._found.clear()
        return found

    @property
    def diagnostics(self) -> list[Diagnostic]:
        """Everything found so far, sorted by source position."""
        found = [
            Diagnostic(severity, f"{_clusters_text(clusters)}: {text}", location)
            for (severity, text, location), clusters in self._found.items()
        ]
        return sorted(found, key=Diagnostic.sort_key)

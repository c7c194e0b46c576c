"""Placed objects -> per-cluster objects: fleet Overlays in order, then Karmada overrides.

Each cluster's result depends only on which overlays and override rules select that cluster,
so `signature(cluster)` lets the renderer apply the stage once per distinct set, not once per
cluster.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CompileError, Diagnostic, SourceLocation
from ..kinds import is_cluster_scoped, split_api_version
from ..model import Cluster, Fleet, Resource
from ..placement.selectors import cluster_matches, selector_priority
from ..stack import per_cluster, varies_per_cluster
from ..yamldoc import Document
from .errors import PatchError
from .patch import Patch, StrategicMergePatch, patch_object, read_entry
from .policies import override_steps
from .target import CompiledTarget, TargetError, compile_target, identity_matches

if TYPE_CHECKING:
    from ..templates import TemplateSet

OVERRIDE_KINDS = ("ClusterOverridePolicy", "OverridePolicy")


@dataclass(frozen=True)
class OverlayPatch:
    target: Mapping[str, Any] | None
    patch: Patch
    location: SourceLocation
    # The target, checked and compiled when the overlay is built (None: no target).
    selector: CompiledTarget | None = None
    target_location: SourceLocation | None = None


@dataclass(frozen=True)
class Overlay:
    name: str
    document: Document
    selector: Mapping[str, Any]
    values: Mapping[str, Any]
    patches: tuple[OverlayPatch, ...]

    def selects(self, cluster: Cluster) -> bool:
        return cluster_matches(self.selector, cluster)

    def where(self) -> str:
        loc = self.document.locate("")
        return f"{loc.file}:{loc.line}"


def _parse_one(entry: Mapping[str, Any], doc: Document, pointer: str) -> OverlayPatch:
    target = entry.get("target")
    source = entry["patch"]
    location = doc.locate(f"{pointer}/patch")
    selector = None
    if target is not None:
        if not isinstance(target, Mapping):
            raise CompileError(
                [
                    Diagnostic.error(
                        "a patch target must be a mapping", doc.locate(f"{pointer}/target")
                    )
                ]
            )
        try:
            selector = compile_target(target)
        except TargetError as error:
            at = f"{pointer}/target/{_escape(error.field)}" if error.field else f"{pointer}/target"
            raise CompileError([Diagnostic.error(str(error), doc.locate(at))]) from None
    try:
        patch = read_entry(source, target, file=location.file)
    except CompileError as error:
        raise CompileError(_inside_patch_text(error, location)) from None
    except PatchError as error:
        raise CompileError([error.diagnostic(location)]) from None
    target_location = doc.locate(f"{pointer}/target") if target is not None else None
    return OverlayPatch(target, patch, location, selector, target_location)


def _inside_patch_text(error: CompileError, location: SourceLocation) -> list[Diagnostic]:
    """Problems of a patch given as YAML text, at the `patch` key: the lines and columns the
    loader reports count from the start of the text, not of the file."""
    found = []
    for diagnostic in error.diagnostics:
        inner = diagnostic.location
        message = diagnostic.message
        for prefix in ("invalid YAML: ", "invalid YAML "):
            if message.startswith(prefix):
                message = message[len(prefix) :]
                break
        where = f" (line {inner.line}, column {inner.column} of the text)" if inner else ""
        found.append(
            Diagnostic(
                diagnostic.severity,
                f"invalid YAML in the patch text{where}: {message}",
                location,
            )
        )
    return found


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def build_overlays(documents: Sequence[Document]) -> tuple[list[Overlay], list[Diagnostic]]:
    overlays: list[Overlay] = []
    errors: list[Diagnostic] = []
    for doc in documents:
        spec = doc.data.get("spec") or {}
        patches: list[OverlayPatch] = []
        for index, entry in enumerate(spec.get("patches") or []):
            try:
                patches.append(_parse_one(entry, doc, f"/spec/patches/{index}"))
            except CompileError as error:
                errors.extend(error.diagnostics)
        overlays.append(
            Overlay(
                name=doc.data["metadata"]["name"],
                document=doc,
                selector=spec.get("clusterSelector") or {},
                values=spec.get("values") or {},
                patches=tuple(patches),
            )
        )
    return overlays, errors


def _selects(patch: OverlayPatch, obj: Mapping[str, Any]) -> bool:
    if patch.target is not None:
        selector = patch.selector or compile_target(patch.target)
        return selector.matches(obj)
    if isinstance(patch.patch, StrategicMergePatch):
        return any(identity_matches(obj, doc) for doc in patch.patch.documents)
    return False


def _apply(patch: OverlayPatch, obj: dict[str, Any]) -> dict[str, Any] | None:
    return patch_object(obj, patch.patch, targeted=patch.target is not None)


@dataclass
class Step:
    """One overlay patch or override rule that changed an object on a cluster (for explain)."""

    cluster: str
    text: str


@dataclass
class OverlayStage:
    fleet: Fleet
    overlays: list[Overlay]
    override_policies: list[Document]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    trace: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    used: set[tuple[int, int]] = field(default_factory=set)
    templates: TemplateSet | None = None
    _signatures: dict[str, Hashable] = field(default_factory=dict)

    @classmethod
    def from_fleet(cls, fleet: Fleet) -> OverlayStage:
        overlays, errors = build_overlays(fleet.extensions.get("Overlay", ()))
        if errors:
            raise CompileError(errors)
        policies = [d for kind in OVERRIDE_KINDS for d in fleet.extensions.get(kind, ())]
        return cls(fleet, overlays, policies)

    def signature(self, cluster: Cluster) -> Hashable:
        """Clusters with equal signatures receive identical results from this stage."""
        known = self._signatures.get(cluster.name)
        if known is None:
            selected = tuple(i for i, o in enumerate(self.overlays) if o.selects(cluster))
            rules = []
            for p_index, doc in enumerate(self.override_policies):
                spec = doc.data.get("spec") or {}
                targets = [r.get("targetCluster") for r in spec.get("overrideRules") or []]
                if not spec.get("overrideRules"):
                    targets = [spec.get("targetCluster")]
                rules.append(
                    (p_index, tuple(t is None or cluster_matches(t, cluster) for t in targets))
                )
            known = self._signatures[cluster.name] = (selected, tuple(rules), cluster.edge)
        return known

    def values(self, cluster: Cluster) -> dict[str, Any]:
        """Template values: the overlays that select the cluster, later ones winning."""
        from deepmerge import Merger

        merger = Merger([(dict, ["merge"])], ["override"], ["override"])
        merged: dict[str, Any] = {}
        for overlay in self.overlays:
            if overlay.selects(cluster):
                merged = merger.merge(merged, _copy(overlay.values))
        return merged

    def base_data(self, resource: Resource, cluster: str) -> dict[str, Any] | None:
        """The object before placement revises it: rendered per cluster if templated."""
        if resource.templated and self.templates is not None:
            return self.templates.data_for(resource.document, cluster)
        return resource.data_for(cluster)

    def apply(
        self, data: dict[str, Any], cluster: Cluster, resource: Resource, index: int
    ) -> dict[str, Any] | None:
        """The object as `cluster` runs it, or None when an overlay deletes it there."""
        steps: list[str] = []
        current: dict[str, Any] | None = data
        for o_index, overlay in enumerate(self.overlays):
            if current is None or not overlay.selects(cluster):
                continue
            for p_index, patch in enumerate(overlay.patches):
                if current is None:
                    continue
                try:
                    selected = _selects(patch, current)
                except PatchError as error:
                    self._error(error, patch.target_location or patch.location, resource, cluster)
                    return current
                if not selected:
                    continue
                self.used.add((o_index, p_index))
                try:
                    after = _apply(patch, current)  # a JSON patch may rename, as in kustomize
                except PatchError as error:
                    self._error(error, patch.location, resource, cluster)
                    return current
                if after != current:
                    loc = patch.location
                    steps.append(f"overlay {overlay.name} patch {p_index} ({loc.file}:{loc.line})")
                current = after
        if current is not None:
            current = self._override(current, cluster, resource, steps)
        if current is not None and (cluster.edge or varies_per_cluster(resource)):
            current = per_cluster(current, cluster, self.fleet.name, resource)
        self.trace[(index, cluster.name)] = steps
        return current

    def _override(
        self, data: dict[str, Any], cluster: Cluster, resource: Resource, steps: list[str]
    ) -> dict[str, Any]:
        if not self.override_policies:
            return data
        from .overriders import apply_overriders

        def priority(selector: Mapping[str, Any], obj: Mapping[str, Any]) -> int:
            return selector_priority(
                selector,
                resource.api_version,
                resource.kind,
                resource.namespace,
                resource.name,
                resource.labels,
            )

        by_name = {(d.data["kind"], d.data["metadata"]["name"]): d for d in self.override_policies}
        for step in override_steps(
            [d.data for d in self.override_policies],
            data,
            lambda affinity: cluster_matches(affinity, cluster),
            priority,
            namespace=resource.namespace,
        ):
            doc = by_name[(step.kind, step.policy)]
            pointer = (
                "/spec/overriders"
                if step.rule_index is None
                else f"/spec/overrideRules/{step.rule_index}/overriders"
            )
            try:
                after = apply_overriders(data, step.overriders)
                _same_identity(data, after)
            except PatchError as error:
                self._error(error, doc.locate(pointer), resource, cluster)
                return data
            if after != data:
                loc = doc.locate(pointer)
                rule = "overriders" if step.rule_index is None else f"rule {step.rule_index}"
                steps.append(f"{step.kind} {step.policy} {rule} ({loc.file}:{loc.line})")
            data = after
        return data

    def _error(
        self, error: PatchError, location: SourceLocation, resource: Resource, cluster: Cluster
    ) -> None:
        self.diagnostics.append(
            Diagnostic.error(
                f"{error} (applying to {resource.key} on cluster {cluster.name})", location
            )
        )

    def unused_patches(self) -> list[Diagnostic]:
        """Patches that selected no object on any cluster: usually a typo in the target."""
        found = []
        for o_index, overlay in enumerate(self.overlays):
            for p_index, patch in enumerate(overlay.patches):
                if (o_index, p_index) not in self.used:
                    found.append(
                        Diagnostic.warning(
                            f"overlay {overlay.name}: patch {p_index} matches no object on any "
                            "cluster it selects",
                            patch.location,
                        )
                    )
        return found


def _identity(obj: Mapping[str, Any]) -> tuple[object, object, object, object]:
    """What names an object and its output file: API group, kind, namespace and name (the
    namespace as the object key counts it: none for cluster-scoped kinds, else `default`
    when unset)."""
    api_version = obj.get("apiVersion")
    group = split_api_version(api_version)[0] if isinstance(api_version, str) else api_version
    kind = obj.get("kind")
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    namespace = metadata.get("namespace")
    if isinstance(group, str) and isinstance(kind, str) and is_cluster_scoped(group, kind):
        namespace = ""
    elif namespace is None or namespace == "":
        namespace = "default"
    return (group, kind, namespace, metadata.get("name"))


_IDENTITY_FIELDS = ("the apiVersion group", "kind", "metadata.namespace", "metadata.name")


def _same_identity(before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
    """PatchError when an override changed what names the object: Karmada applies overriders
    to the object it placed under that name."""
    old, new = _identity(before), _identity(after)
    if old == new:
        return
    changes = ", ".join(
        f"{what} from {_shown(a)} to {_shown(b)}"
        for what, a, b in zip(_IDENTITY_FIELDS, old, new, strict=True)
        if a != b
    )
    raise PatchError(
        f"overlays and overrides may not change an object's kind, namespace or name; "
        f"this changes {changes}"
    )


def _shown(value: object) -> str:
    if value is None:
        return "nothing (removed)"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...{text[-15:]}"


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value

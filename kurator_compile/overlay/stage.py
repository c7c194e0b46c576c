"""Placed objects -> per-cluster objects: fleet Overlays in order, then Karmada overrides.

Each cluster's result depends only on which overlays and override rules select that cluster,
so `signature(cluster)` lets the renderer apply the stage once per distinct set, not once per
cluster.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CompileError, Diagnostic, SourceLocation
from ..kinds import is_cluster_scoped, split_api_version
from ..model import Cluster, Fleet, Resource
from ..placement.selectors import ClusterAffinity, compile_affinity, selector_priority
from ..stack import per_cluster, varies_per_cluster
from ..yamldoc import Document
from .errors import PatchError
from .patch import JsonPatch, Patch, StrategicMergePatch, patch_object, read_entry
from .policies import OverrideStep, override_steps
from .target import (
    CompiledTarget,
    TargetError,
    compile_target,
    identity_matches,
    scalar_text,
)
from .target import split_api_version as kustomize_split

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
    affinity: ClusterAffinity = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # compiled once: a fleet with an overlay per cluster asks every overlay of every cluster
        object.__setattr__(self, "affinity", compile_affinity(self.selector))

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


def _selects(patch: OverlayPatch, obj: Mapping[str, Any], cluster_scoped: bool | None) -> bool:
    if patch.target is not None:
        selector = patch.selector or compile_target(patch.target)
        return selector.matches(obj, cluster_scoped)
    if isinstance(patch.patch, StrategicMergePatch):
        return any(identity_matches(obj, doc, cluster_scoped) for doc in patch.patch.documents)
    return False


def _input_scope(resource: Resource, obj: Mapping[str, Any]) -> bool | None:
    """The scope a CustomResourceDefinition among the inputs gives `obj`'s kind: the input
    object's, while a patch has not changed its kind (None: the built-in kinds decide)."""
    if resource.cluster_scoped is None:
        return None
    api_version = obj.get("apiVersion")
    group = split_api_version(api_version)[0] if isinstance(api_version, str) else None
    same_kind = (group, obj.get("kind")) == (resource.group, resource.kind)
    return resource.cluster_scoped if same_kind else None


# Whether a patch can select an object is decided by these, as the object comes in, until a
# patch that may change them has applied (`_may_rename`; `object_signature` then counts every
# later overlay). A version changes more easily, and with it whether kustomize counts the
# object as namespaced, so neither is among them.
_FIXED_FIELDS = frozenset({"group", "kind", "name"})


def _fixed_identity(obj: Mapping[str, Any]) -> dict[str, str]:
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return {
        "group": kustomize_split(scalar_text(obj.get("apiVersion")))[0],
        "kind": scalar_text(obj.get("kind")),
        "name": scalar_text(name),
    }


def _reach(patch: OverlayPatch) -> Hashable:
    """What decides whether `patch` can select an object at all (see `_may_select`): equal
    for the patches of per-cluster overlays that name the same object, so it is decided once."""
    if patch.target is not None:
        selector = patch.selector or compile_target(patch.target)
        return ("target", tuple((f, m) for f, m in selector.patterns if f in _FIXED_FIELDS))
    if isinstance(patch.patch, StrategicMergePatch):
        identities = (tuple(_fixed_identity(doc).values()) for doc in patch.patch.documents)
        return ("documents", frozenset(identities))
    return ("none",)


def _may_select(reach: Hashable, obj: Mapping[str, Any]) -> bool:
    """False only when a patch of this `_reach` selects `obj` under no overlay before it: its
    target (or, for a strategic merge patch without one, a document's identity) names
    another object."""
    assert isinstance(reach, tuple)
    if reach[0] == "target":
        identity = _fixed_identity(obj)
        return all(matcher.fullmatch(identity[name]) for name, matcher in reach[1])
    if reach[0] == "documents":
        return tuple(_fixed_identity(obj).values()) in reach[1]
    return False


_IDENTITY_PATHS = ("/kind", "/apiVersion", "/metadata/name", "/metadata/namespace")


def _may_rename(patch: OverlayPatch) -> bool:
    """False only for a JSON patch none of whose operations reaches the object's kind,
    apiVersion, name or namespace (kustomize lets a patch rename; a strategic merge patch is
    counted as renaming: it carries kind and name of its own)."""
    if not isinstance(patch.patch, JsonPatch):
        return True
    for operation in patch.patch.operations:
        for key in ("path", "from"):
            pointer = operation.get(key, "/-")
            if not isinstance(pointer, str) or pointer in ("", "/", "/metadata"):
                return True
            if any(pointer == p or pointer.startswith(p + "/") for p in _IDENTITY_PATHS):
                return True
    return False


def _apply(patch: OverlayPatch, obj: dict[str, Any]) -> dict[str, Any] | None:
    return patch_object(obj, patch.patch, targeted=patch.target is not None)


class SelectorIndex:
    """Which of a list of cluster affinities select a cluster, without testing them all: an
    affinity naming clusters is filed under those names, one requiring a label value under
    that (key, value); only the rest are tested against every cluster. Candidates are then
    tested in full, so the answer is exactly `[i for i, a in enumerate(affinities) if
    a.matches(cluster)]`."""

    def __init__(self, affinities: Sequence[ClusterAffinity]) -> None:
        self.affinities = tuple(affinities)
        self._by_name: dict[str, list[int]] = {}
        self._by_label: dict[tuple[str, str], list[int]] = {}
        self._rest: list[int] = []
        for index, affinity in enumerate(self.affinities):
            required = _required_label(affinity)
            if affinity.names:
                for name in affinity.names:
                    self._by_name.setdefault(name, []).append(index)
            elif required is not None:
                key, values = required
                for value in values:
                    self._by_label.setdefault((key, value), []).append(index)
            else:
                self._rest.append(index)

    def selecting(self, cluster: Cluster) -> list[int]:
        """Indexes of the affinities that select `cluster`, in order."""
        candidates = set(self._rest)
        candidates.update(self._by_name.get(cluster.name, ()))
        for key, value in cluster.labels.items():
            if isinstance(value, str):
                candidates.update(self._by_label.get((key, value), ()))
        return [i for i in sorted(candidates) if self.affinities[i].matches(cluster)]


def _required_label(affinity: ClusterAffinity) -> tuple[str, tuple[str, ...]] | None:
    """A label key and the values one of which a selected cluster must carry, if any (only
    a string can equal a requirement's values)."""
    if affinity.labels is None or not affinity.labels_valid:
        return None
    for requirement in affinity.labels:
        if requirement.operator in ("=", "in"):
            return requirement.key, requirement.values
    return None


@dataclass
class Step:
    """One overlay patch or override rule that changed an object on a cluster (for explain)."""

    cluster: str
    text: str


# The overlays selecting a cluster; per override policy, which rules target it; KubeEdge or not.
_Signature = tuple[tuple[int, ...], tuple[tuple[int, tuple[bool, ...]], ...], bool]


@dataclass
class OverlayStage:
    fleet: Fleet
    overlays: list[Overlay]
    override_policies: list[Document]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # what changed an object on a cluster, and where that is written (for `explain`)
    trace: dict[tuple[int, str], list[tuple[str, SourceLocation]]] = field(default_factory=dict)
    used: set[tuple[int, int]] = field(default_factory=set)
    templates: TemplateSet | None = None
    _signatures: dict[str, _Signature] = field(default_factory=dict)
    _selected: dict[str, list[int]] = field(default_factory=dict)
    _index: SelectorIndex | None = None
    # Override rules' targetCluster, compiled once each (by the id of the mapping, kept alive)
    _targets: dict[int, tuple[Mapping[str, Any], ClusterAffinity]] = field(default_factory=dict)
    _targeted: dict[int, dict[str, bool]] = field(default_factory=dict)  # by cluster name
    # (an overlay's patch reaches, id of an input object) -> (the object, whether it may change)
    _reaches: dict[tuple[Hashable, int], tuple[Resource, bool]] = field(default_factory=dict)
    _reach_keys: list[Hashable] = field(default_factory=list)  # by overlay index
    _renames: list[bool] = field(default_factory=list)  # by overlay index
    _policies_by_name: dict[tuple[str, str], Document] = field(default_factory=dict)
    # (id of an input object, the override rules targeting a cluster) -> (the object, steps)
    _steps: dict[Hashable, tuple[Resource, list[OverrideStep]]] = field(default_factory=dict)

    @classmethod
    def from_fleet(cls, fleet: Fleet) -> OverlayStage:
        overlays, errors = build_overlays(fleet.extensions.get("Overlay", ()))
        if errors:
            raise CompileError(errors)
        policies = [d for kind in OVERRIDE_KINDS for d in fleet.extensions.get(kind, ())]
        return cls(fleet, overlays, policies)

    def signature(self, cluster: Cluster) -> _Signature:
        """Clusters with equal signatures receive identical results from this stage."""
        known = self._signatures.get(cluster.name)
        if known is None:
            selected = tuple(self.selected(cluster))
            rules = []
            for p_index, doc in enumerate(self.override_policies):
                spec = doc.data.get("spec") or {}
                targets = [r.get("targetCluster") for r in spec.get("overrideRules") or []]
                if not spec.get("overrideRules"):
                    targets = [spec.get("targetCluster")]
                rules.append(
                    (p_index, tuple(t is None or self.targets(t, cluster) for t in targets))
                )
            known = self._signatures[cluster.name] = (selected, tuple(rules), cluster.edge)
        return known

    def object_signature(self, cluster: Cluster, resource: Resource) -> _Signature:
        """Like `signature`, for one input object the stage receives unchanged from every
        cluster (not templated, no per-cluster copies): overlays whose patches all name
        other objects are left out, so a fleet of per-cluster overlays that each patch one
        object still shares every other object between clusters."""
        selected, rules, edge = self.signature(cluster)
        relevant = []
        renamed = False  # after an overlay that may rename it, any overlay may select it
        for o_index in selected:
            if renamed or self._reaches_object(o_index, resource):
                relevant.append(o_index)
                renamed = renamed or self.may_rename(o_index)
        return (tuple(relevant), rules, edge)

    def may_rename(self, o_index: int) -> bool:
        """Whether a patch of the overlay may change an object's kind, group or name."""
        if not self._renames:
            self._renames = [any(_may_rename(p) for p in o.patches) for o in self.overlays]
        return self._renames[o_index]

    def solo_overlays(self, clusters: Sequence[Cluster]) -> frozenset[int]:
        """Overlays that select at most one of `clusters`: their objects are never shared."""
        counts = [0] * len(self.overlays)
        for cluster in clusters:
            for o_index in self.selected(cluster):
                counts[o_index] += 1
        return frozenset(o for o, count in enumerate(counts) if count <= 1)

    def reached(self, overlays: Iterable[int], resources: Sequence[Resource]) -> set[int]:
        """Positions in `resources` of the objects some of the overlays' patches may change
        (asked once per distinct reach: per-cluster overlays mostly patch the same objects)."""
        found: set[int] = set()
        asked: set[Hashable] = set()
        for o_index in overlays:
            reach = self._reach_key(o_index)
            if reach not in asked:
                asked.add(reach)
                found.update(i for i, r in enumerate(resources) if self._reaches_object(o_index, r))
        return found

    def signature_without(self, cluster: Cluster, overlays: frozenset[int]) -> _Signature:
        """`signature`, leaving out `overlays`."""
        selected, rules, edge = self.signature(cluster)
        return (tuple(o for o in selected if o not in overlays), rules, edge)

    def _reach_key(self, o_index: int) -> Hashable:
        if not self._reach_keys:
            self._reach_keys = [
                tuple(sorted({_reach(p) for p in o.patches}, key=repr)) for o in self.overlays
            ]
        return self._reach_keys[o_index]

    def _reaches_object(self, o_index: int, resource: Resource) -> bool:
        reach = self._reach_key(o_index)
        key = (reach, id(resource))
        known = self._reaches.get(key)
        if known is None or known[0] is not resource:
            assert isinstance(reach, tuple)
            reaches = any(_may_select(r, resource.data) for r in reach)
            known = self._reaches[key] = (resource, reaches)
        return known[1]

    def selected(self, cluster: Cluster) -> list[int]:
        """Indexes of the overlays that select `cluster`, in fleet order."""
        found = self._selected.get(cluster.name)
        if found is None:
            if self._index is None:
                self._index = SelectorIndex([o.affinity for o in self.overlays])
            found = self._selected[cluster.name] = self._index.selecting(cluster)
        return found

    def targets(self, affinity: Mapping[str, Any], cluster: Cluster) -> bool:
        """Whether an override rule's targetCluster selects `cluster` (asked once per
        cluster, however many objects the rule's policy selects)."""
        known = self._targets.get(id(affinity))
        if known is None or known[0] is not affinity:
            known = self._targets[id(affinity)] = (affinity, compile_affinity(affinity))
            self._targeted.pop(id(affinity), None)
        answers = self._targeted.setdefault(id(affinity), {})
        answer = answers.get(cluster.name)
        if answer is None:
            answer = answers[cluster.name] = known[1].matches(cluster)
        return answer

    def values(self, cluster: Cluster) -> dict[str, Any]:
        """Template values: the overlays that select the cluster, later ones winning."""
        from deepmerge import Merger

        merger = Merger([(dict, ["merge"])], ["override"], ["override"])
        merged: dict[str, Any] = {}
        for o_index in self.selected(cluster):
            merged = merger.merge(merged, _copy(self.overlays[o_index].values))
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
        steps: list[tuple[str, SourceLocation]] = []
        current: dict[str, Any] | None = data
        for o_index in self.selected(cluster):
            overlay = self.overlays[o_index]
            if current is None:
                continue
            for p_index, patch in enumerate(overlay.patches):
                if current is None:
                    continue
                try:
                    selected = _selects(patch, current, _input_scope(resource, current))
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
                    steps.append((f"overlay {overlay.name} patch {p_index}", patch.location))
                current = after
        if current is not None:
            current = self._override(current, cluster, resource, steps)
        if current is not None and (cluster.edge or varies_per_cluster(resource)):
            current = per_cluster(current, cluster, self.fleet.name, resource)
        self.trace[(index, cluster.name)] = steps
        return current

    def _override(
        self,
        data: dict[str, Any],
        cluster: Cluster,
        resource: Resource,
        steps: list[tuple[str, SourceLocation]],
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

        if not self._policies_by_name:
            self._policies_by_name = {
                (d.data["kind"], d.data["metadata"]["name"]): d for d in self.override_policies
            }
        # the rules that apply depend on the input object and which rules target the cluster
        # (the signature's second part), not on what overlays did to the object
        key = (id(resource), self.signature(cluster)[1])
        known = self._steps.get(key)
        if known is None or known[0] is not resource:
            found = override_steps(
                [d.data for d in self.override_policies],
                data,
                lambda affinity: self.targets(affinity, cluster),
                priority,
                namespace=resource.namespace,
            )
            known = self._steps[key] = (resource, found)
        for step in known[1]:
            doc = self._policies_by_name[(step.kind, step.policy)]
            pointer = (
                "/spec/overriders"
                if step.rule_index is None
                else f"/spec/overrideRules/{step.rule_index}/overriders"
            )
            try:
                after = apply_overriders(data, step.overriders)
                _same_identity(data, after, _input_scope(resource, data))
            except PatchError as error:
                self._error(error, doc.locate(pointer), resource, cluster)
                return data
            if after != data:
                rule = "overriders" if step.rule_index is None else f"rule {step.rule_index}"
                steps.append((f"{step.kind} {step.policy} {rule}", doc.locate(pointer)))
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


def _identity(
    obj: Mapping[str, Any], cluster_scoped: bool | None
) -> tuple[object, object, object, object]:
    """What names an object and its output file: API group, kind, namespace and name (the
    namespace as the object key counts it: none for cluster-scoped kinds, by the inputs'
    CustomResourceDefinitions or else the built-in kinds, else `default` when unset)."""
    api_version = obj.get("apiVersion")
    group = split_api_version(api_version)[0] if isinstance(api_version, str) else api_version
    kind = obj.get("kind")
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    namespace = metadata.get("namespace")
    if cluster_scoped is None:
        known = isinstance(group, str) and isinstance(kind, str)
        cluster_scoped = known and is_cluster_scoped(str(group), str(kind))
    if cluster_scoped:
        namespace = ""
    elif namespace is None or namespace == "":
        namespace = "default"
    return (group, kind, namespace, metadata.get("name"))


def _written_identity(obj: Mapping[str, Any]) -> tuple[object, object, object, object]:
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    return (obj.get("apiVersion"), obj.get("kind"), metadata.get("namespace"), metadata.get("name"))


def _same_kind(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return _identity(before, False)[:2] == _identity(after, False)[:2]


_IDENTITY_FIELDS = ("the apiVersion group", "kind", "metadata.namespace", "metadata.name")


def _same_identity(
    before: Mapping[str, Any], after: Mapping[str, Any], cluster_scoped: bool | None
) -> None:
    """PatchError when an override changed what names the object: Karmada applies overriders
    to the object it placed under that name."""
    if _written_identity(before) == _written_identity(after):
        return  # the identity is made from these alone (and the scope, the same for both)
    old = _identity(before, cluster_scoped)
    new = _identity(after, cluster_scoped if _same_kind(before, after) else None)
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

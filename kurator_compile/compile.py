"""The pipeline, one call per stage: load -> validate -> place -> overlay -> render."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .errors import (
    CompileError,
    Diagnostic,
    Severity,
    UsageError,
    by_closeness,
    promote_warnings,
    raise_if_errors,
    shorten,
)
from .gcpause import cycle_collection_paused
from .gitops import gitops_diagnostics, gitops_tree
from .kinds import Role, input_crd_scopes, kind_spec, split_api_version
from .kurator.inventory import INVENTORY_KINDS, KuratorFleet, build_inventory
from .manifests import expand_lists, file_objects, helm_template, tool_file
from .model import Cluster, Fleet, Policy, Resource, Taint
from .options import Options
from .overlay.stage import OverlayStage
from .placement import History, ResourcePlacement, resolve_placement
from .render import ClusterObject, Variants, cluster_objects, folder_names, render_tree
from .sources import Sources
from .stack import (
    adjust_placements,
    cluster_checks,
    consistency_checks,
    expand_after_placement,
    expand_before_placement,
    follow_workloads,
    owned_kinds,
)
from .tree import FileTree
from .validate import fleet_diagnostics, input_warnings, role_of, validate_documents
from .yamldoc import Document, load_stream

if TYPE_CHECKING:
    from .outputcheck import SchemaStore
    from .outputcheck.check import Located


@dataclass(frozen=True)
class Compilation:
    fleet: Fleet
    placements: list[ResourcePlacement]
    tree: FileTree
    warnings: list[Diagnostic] = field(default_factory=list)
    lock: bytes = b""  # the placement lock this compilation's placements make
    # per-cluster layout: each cluster file's object file names, for the removal guard
    contents: dict[str, Sequence[str]] = field(default_factory=dict)


def load_documents(sources: Sources) -> list[Document]:
    """Parse every file; a YAML error in one file does not hide errors in the others. Lists
    among the inputs become their items; a kustomize or Helm file is one error saying so."""
    fleet_docs = sources.fleet_documents
    docs, errors = expand_lists(fleet_docs[1:])
    docs[:0] = fleet_docs[:1]
    for source in sources.resources:
        found = tool_file(source.path, source.text)
        if found is not None:
            errors.append(found)
            continue
        try:
            loaded = load_stream(source.text, source.path)
        except CompileError as error:
            template = helm_template(source.path, source.text)
            errors.extend([template] if template is not None else error.diagnostics)
            continue
        items, file_errors = file_objects(loaded)
        docs.extend(items)
        errors.extend(file_errors)
    for source in sources.overlays:
        try:
            docs.extend(load_stream(source.text, source.path))
        except CompileError as error:
            errors.extend(error.diagnostics)
    if errors:
        raise CompileError(errors)
    return docs


def _cluster(entry: dict[str, Any], doc: Document, index: int, kube_version: Any) -> Cluster:
    """A cluster entry of the Fleet; `kube_version` is the fleet's default."""
    taints = entry.get("taints")
    capacity = entry.get("capacity")
    return Cluster(
        name=entry["name"],
        labels=dict(entry.get("labels") or ()),
        provider=entry.get("provider") or "",
        region=entry.get("region") or "",
        zones=tuple(entry.get("zones") or ()),
        taints=tuple(Taint(t["key"], t["effect"], t.get("value") or "") for t in taints)
        if taints
        else (),
        capacity={k: str(v) for k, v in capacity.items()} if capacity else {},
        edge=bool(entry.get("edge")),
        kube_version=entry.get("kubeVersion") or kube_version,
        location=doc.locate(f"/spec/clusters/{index}"),
    )


def _resource(
    doc: Document, scopes: Mapping[tuple[str, str], bool], templated: bool = False
) -> Resource:
    """An input object, with the scope a CRD among the inputs gives its kind."""
    group = split_api_version(str(doc.data.get("apiVersion", "")))[0]
    scoped = scopes.get((group, str(doc.data.get("kind", ""))))
    return Resource(doc, templated=templated, cluster_scoped=scoped)


def build_fleet(docs: Sequence[Document]) -> Fleet:
    """Validated documents -> the Fleet value; the first document must be the Fleet."""
    fleet_doc = docs[0]
    if role_of(fleet_doc) is not Role.FLEET:
        raise CompileError(
            [
                Diagnostic.error(
                    "the first document of a fleet file must be a Fleet "
                    "(apiVersion: compile.kurator.dev/v1alpha1, kind: Fleet)",
                    fleet_doc.locate(""),
                )
            ]
        )
    resources: list[Resource] = []
    policies: list[Policy] = []
    extensions: dict[str, list[Document]] = {}
    errors: list[Diagnostic] = []
    scopes = input_crd_scopes(docs)
    for doc in docs[1:]:
        role = role_of(doc)
        if role is Role.FLEET:
            errors.append(
                Diagnostic.error("a fleet file holds exactly one Fleet document", doc.locate(""))
            )
        elif role is Role.PROPAGATION:
            policies.append(Policy(doc))
        elif role in (Role.EXTENSION, Role.PROVISIONING):
            extensions.setdefault(doc.data["kind"], []).append(doc)
        else:
            resources.append(_resource(doc, scopes))
    raise_if_errors(errors)
    inventory, found = build_inventory(extensions)
    raise_if_errors(found)
    spec = fleet_doc.data["spec"]
    default_version = (spec.get("defaults") or {}).get("kubeVersion")
    listed = [
        _cluster(entry, fleet_doc, i, default_version)
        for i, entry in enumerate(spec.get("clusters") or ())
    ]
    clusters = merge_members(listed, inventory, spec.get("defaults") or {})
    if not clusters:
        raise CompileError(
            [
                Diagnostic.error(
                    "the fleet has no clusters: list them in spec.clusters or add a "
                    "fleet.kurator.dev Fleet with its AttachedClusters",
                    fleet_doc.locate("/spec"),
                )
            ]
        )
    host = spec.get("host")
    return Fleet(
        name=fleet_doc.data["metadata"]["name"],
        clusters=clusters,
        document=fleet_doc,
        resources=tuple(resources),
        policies=tuple(policies),
        extensions={kind: tuple(found) for kind, found in sorted(extensions.items())},
        host=_host(host, fleet_doc) if host is not None else None,
        inventory=inventory,
    )


def _host(entry: dict[str, Any], doc: Document) -> Cluster:
    return Cluster(
        name=entry["name"],
        kube_version=entry.get("kubeVersion")
        or ((doc.data["spec"].get("defaults") or {}).get("kubeVersion")),
        location=doc.locate("/spec/host"),
    )


def merge_members(
    listed: Sequence[Cluster], inventory: Sequence[KuratorFleet], defaults: dict[str, Any]
) -> tuple[Cluster, ...]:
    """The compile Fleet's clusters, then each Kurator member it does not list. A member the
    compile Fleet lists keeps that entry's placement fields and gains the member object's
    labels, the compile Fleet's value winning for a key both set."""
    by_name = {cluster.name: cluster for cluster in listed}
    merged = list(listed)
    for kurator_fleet in inventory:
        for member in kurator_fleet.members:
            known = by_name.get(member.name)
            if known is None:
                known = Cluster(
                    name=member.name,
                    labels=dict(member.labels),
                    kube_version=defaults.get("kubeVersion"),
                    location=member.location,
                )
                merged.append(known)
            else:
                index = merged.index(known)
                known = replace(known, labels={**member.labels, **known.labels})
                merged[index] = known
            by_name[member.name] = known
    return tuple(merged)


def provisioning_warnings(fleet: Fleet) -> list[Diagnostic]:
    """Cluster-creating kinds are read (the inventory uses Clusters) but never compiled."""
    return [
        Diagnostic.warning(
            f"not compiled: provisioning ({doc.data['apiVersion']} {doc.data['kind']} "
            f"{doc.data.get('metadata', {}).get('name')!r} creates a cluster; "
            "kurator-compile only writes what runs on existing ones)",
            doc.locate(""),
        )
        for docs in fleet.extensions.values()
        for doc in docs
        if role_of(doc) is Role.PROVISIONING
    ]


def uncompiled_kurator_kinds(fleet: Fleet) -> list[Diagnostic]:
    """A Kurator kind no registered module compiles would silently do nothing."""
    owned = owned_kinds() | INVENTORY_KINDS
    found: list[Diagnostic] = []
    for kind, docs in fleet.extensions.items():
        for doc in docs:
            spec = kind_spec(doc.data.get("apiVersion"), kind)
            if spec.crd and (spec.group, kind) not in owned:
                found.append(
                    Diagnostic.error(
                        f"{doc.data['apiVersion']} {kind} is a Kurator kind that "
                        "kurator-compile has no compiler for; Kurator's own objects are never "
                        "written into a cluster folder, so it would do nothing",
                        doc.locate(""),
                    )
                )
    return found


def nearest_first(wanted: str, names: Sequence[str], limit: int = 10) -> str:
    """Names for a one-line message, the ones nearest `wanted` first (did-you-mean order),
    cut after `limit`: a 1,000-cluster fleet must not print 1,000 names."""
    return shorten(sorted(names) if len(names) <= limit else by_closeness(wanted, names), limit)


def check_only_cluster(fleet: Fleet, options: Options) -> None:
    if options.only_cluster is None or fleet.folder(options.only_cluster) is not None:
        return
    names = nearest_first(options.only_cluster, [c.name for c in fleet.folders])
    raise CompileError(
        [
            Diagnostic.error(
                f"the fleet has no cluster {options.only_cluster!r} (clusters: {names})",
                fleet.document.locate("/spec/clusters"),
            )
        ]
    )


@dataclass(frozen=True)
class Analysis:
    """Everything up to placement, shared by build, render, plan and check."""

    fleet: Fleet
    placements: list[ResourcePlacement]
    stage: OverlayStage
    warnings: list[Diagnostic]
    # Inputs Kurator reads from a cluster (a rollout's Service, a plugin's Secret): not placed.
    references: tuple[Resource, ...] = ()
    schemas: SchemaStore | None = None  # the run's output schemas, input CRDs included
    advice: list[Diagnostic] = field(default_factory=list)  # shown by `plan`, never a warning


def schema_store(options: Options, docs: Sequence[Document]) -> SchemaStore | None:
    """The run's schemas (None without output validation), with the inputs' CRDs."""
    return _schema_store(options, docs) if options.validate_output else None


def _schema_store(options: Options, docs: Sequence[Document]) -> SchemaStore:
    from .outputcheck import SchemaStore
    from .outputcheck.known import register_input_crds

    store = SchemaStore(
        options.crd_schemas,
        loose=options.loose,
        strict=options.strict,
        ignore_missing=options.ignore_missing_schemas,
    )
    register_input_crds(store, docs)
    return store


def without_server_nulls(fleet: Fleet, store: SchemaStore) -> Fleet:
    """Custom resources without the nulls the API server drops before validating them (a
    `nodeSelector: null` a user's kubeconform would refuse in the emitted file)."""
    resources: list[Resource] = []
    for resource in fleet.resources:
        schema = (
            None
            if resource.document.raw is not None
            else store.crd(resource.api_version, resource.kind)
        )
        if schema is not None and schema.prune is not None:
            data = schema.prune(resource.data)
            if data is not resource.data:
                resource = replace(resource, document=replace(resource.document, data=data))
        resources.append(resource)
    return replace(fleet, resources=tuple(resources))


def kind_diagnostics(store: SchemaStore | None, fleet: Fleet, options: Options) -> list[Diagnostic]:
    """Input objects of a kind nothing defines (a typo would silently place them nowhere)."""
    if store is None:
        return []
    from .outputcheck.known import unknown_kinds

    return unknown_kinds(store, fleet.resources, options.ignore_missing_schemas)


def analyse(sources: Sources, options: Options) -> Analysis:
    docs = load_documents(sources)
    if not docs or role_of(docs[0]) is not Role.FLEET:
        build_fleet(docs)  # raises the positioned "first document must be a Fleet" error
    raise_if_errors(validate_documents(docs))
    fleet = build_fleet(docs)
    raise_if_errors(uncompiled_kurator_kinds(fleet))
    secret_warnings = [*input_warnings(docs), *provisioning_warnings(fleet)]
    stage = OverlayStage.from_fleet(fleet)
    if sources.templates:
        fleet = _add_templates(fleet, sources, stage)
    schemas = schema_store(options, docs)
    fleet = without_server_nulls(fleet, schemas or _schema_store(options, docs))
    kinds = kind_diagnostics(schemas, fleet, options)
    secret_warnings.extend(d for d in kinds if not d.is_error)
    expansion = expand_before_placement(fleet)
    raise_if_errors(expansion.diagnostics)
    stack_warnings = [*secret_warnings, *expansion.diagnostics]
    pinned = [p.resource for p in expansion.pinned]
    read = {id(doc) for doc in expansion.read}  # what Kurator reads from a cluster: not placed
    inputs = tuple(r for r in fleet.resources if id(r.document) not in read)
    references = tuple(r for r in fleet.resources if id(r.document) in read)
    placed_by_policies = replace(fleet, resources=(*inputs, *expansion.resources))
    fleet = replace(placed_by_policies, resources=(*placed_by_policies.resources, *pinned))
    checked = fleet_diagnostics(fleet)
    stack_warnings.extend(d for d in checked if not d.is_error)
    raise_if_errors([*checked, *gitops_diagnostics(fleet), *(d for d in kinds if d.is_error)])
    check_only_cluster(fleet, options)
    history, lock_warnings = _history(sources, fleet, options)
    placements, diagnostics = resolve_placement(placed_by_policies, history)
    placements = [*placements, *expansion.pinned]
    if fleet.document.data["spec"].get("followWorkloads", True):
        placements, diagnostics = _follow(placements, diagnostics)
    placements, adjusted = adjust_placements(fleet, placements)
    diagnostics = [*diagnostics, *adjusted]
    added, found = expand_after_placement(fleet, placements)
    placements = [*placements, *added]
    fleet = replace(fleet, resources=(*fleet.resources, *(p.resource for p in added)))
    checked = consistency_checks(placements)
    advice = [d for d in checked if d.severity is Severity.ADVICE]
    diagnostics = [*stack_warnings, *diagnostics, *found, *(d for d in checked if d not in advice)]
    diagnostics = promote_warnings(diagnostics, options.strict)
    raise_if_errors(diagnostics)
    # a bad lock never blocks a run, not even with --strict: it only means scheduling afresh
    warnings = [*diagnostics, *lock_warnings]
    return Analysis(fleet, placements, stage, warnings, references, schemas, advice)


def _history(sources: Sources, fleet: Fleet, options: Options) -> tuple[History, list[Diagnostic]]:
    """The placement lock's previous results and the reschedules asked for."""
    from .lock import read_lock

    lock = sources.lock
    entries, warnings = (
        read_lock(lock.text, lock.path, fleet.name) if lock is not None else ({}, [])
    )
    objects: set[str] = set()
    for wanted in options.reschedule_objects:
        if len(wanted.split("/")) not in (2, 3):
            raise UsageError(
                f"--reschedule-object takes KIND/NAMESPACE/NAME or KIND/NAME, not {wanted!r}"
            )
        found = {str(r.key) for r in fleet.resources if r.key.matches(wanted)}
        if not found:
            raise UsageError(f"--reschedule-object: no input object {wanted!r}")
        objects |= found
    return History(entries, options.reschedule, frozenset(objects)), warnings


def _follow(
    placements: list[ResourcePlacement], diagnostics: list[Diagnostic]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """Dependents follow their workloads; the "no policy" warnings of those that now have a
    place are dropped (they are the only warnings placement reports at an object's origin)."""
    followed = follow_workloads(placements)
    now_placed = {
        id(after.resource)
        for before, after in zip(placements, followed, strict=True)
        if after is not before
    }
    origins = {p.resource.locate() for p in followed if id(p.resource) in now_placed}
    kept = [d for d in diagnostics if d.is_error or d.location not in origins]
    return followed, kept


def _add_templates(fleet: Fleet, sources: Sources, stage: OverlayStage) -> Fleet:
    """Templates rendered for the first cluster name their objects, which are then placed."""
    from .templates import TemplateSet  # Jinja is loaded only for fleets that use templates

    templates = TemplateSet(sources.templates, fleet.clusters, fleet.name, stage.values)
    probe = templates.probe()
    raise_if_errors(validate_documents(probe))
    raise_if_errors(
        Diagnostic.error(
            "a template may only yield Kubernetes objects, not fleets, policies or overlays",
            doc.locate(""),
        )
        for doc in probe
        if role_of(doc) is not Role.RESOURCE
    )
    stage.templates = templates
    scopes = input_crd_scopes([r.document for r in fleet.resources] + list(probe))
    added = tuple(_resource(doc, scopes, templated=True) for doc in probe)
    return replace(fleet, resources=(*fleet.resources, *added))


# Stands for the cluster's name in the messages of a check run once for every cluster that
# received the very same objects.
_CLUSTER = "\0cluster\0"


class OutputCheck:
    """Every emitted object against its cluster's Kubernetes version and the CRD schemas (unless
    output validation is off), and each cluster's objects, as emitted, against the stack's
    checks."""

    def __init__(self, store: SchemaStore | None, placements: Sequence[ResourcePlacement]) -> None:
        from .outputcheck import OutputValidator

        self.validator = OutputValidator(store) if store is not None else None
        self.cluster_check = cluster_checks(placements)
        # each cluster's objects: the folder's own list (a group's clusters share one)
        self.objects: dict[str, Sequence[ClusterObject]] = {}
        # a folder's list of objects (by identity, kept) and Kubernetes version -> its findings
        self._folders: dict[tuple[int, str | None], tuple[list[ClusterObject], list[Located]]] = {}
        # by Kubernetes version: an object (by identity, kept) -> its findings
        self._objects: dict[str | None, dict[int, tuple[ClusterObject, list[Located]]]] = {}

    def check_object(self, obj: ClusterObject, cluster: Cluster) -> None:
        self.objects[cluster.name] = [*self.objects.get(cluster.name, ()), obj]
        if self.validator is not None:
            self.validator.record(self._findings([obj], cluster.kube_version), cluster.name)

    def check_objects(self, objects: list[ClusterObject], cluster: Cluster) -> None:
        """A folder's objects, which must not change afterwards. The clusters of a group are
        handed the very same list: what the validator finds in it is worked out once per
        Kubernetes version and recorded for each cluster."""
        known_objects = self.objects.get(cluster.name)
        self.objects[cluster.name] = [*known_objects, *objects] if known_objects else objects
        if self.validator is None:
            return
        key = (id(objects), cluster.kube_version)
        known = self._folders.get(key)
        if known is None or known[0] is not objects:
            known = self._folders[key] = (objects, self._findings(objects, cluster.kube_version))
        self.validator.record(known[1], cluster.name)

    def _findings(self, objects: list[ClusterObject], kube_version: str | None) -> list[Located]:
        """Each object's findings, worked out once per object (by identity, kept) and version:
        clusters with an overlay of their own share all their other objects with a group."""
        assert self.validator is not None
        known = self._objects.setdefault(kube_version, {})
        found: list[Located] = []
        for obj in objects:
            hit = known.get(id(obj))
            if hit is None or hit[0] is not obj:
                hit = known[id(obj)] = (obj, self._object_findings(obj, kube_version))
            found += hit[1]
        return found

    def _object_findings(self, obj: ClusterObject, kube_version: str | None) -> list[Located]:
        assert self.validator is not None
        if obj.resource is None or obj.resource.document.raw is not None:
            return []  # SOPS-encrypted documents pass through untouched and unread
        # the object's key already has the scope the inputs give its kind
        scoped = obj.key.namespace == ""
        return self.validator.findings(obj.data, kube_version, obj.resource.locate, scoped)

    def _cluster_diagnostics(self) -> list[Diagnostic]:
        """Clusters that received the very same objects are checked once."""
        done: dict[tuple[int, ...], list[Diagnostic]] = {}
        by_list: dict[int, list[Diagnostic]] = {}  # most clusters of a group share one list
        found: list[Diagnostic] = []
        for name, objects in self.objects.items():
            shared = by_list.get(id(objects))
            if shared is None:
                key = tuple(map(id, objects))  # clusters of one group share their ClusterObjects
                shared = done.get(key)
                if shared is None:
                    emitted = [(obj.data, obj.resource) for obj in objects if obj.resource]
                    shared = done[key] = self.cluster_check(_CLUSTER, emitted)
                by_list[id(objects)] = shared
            found.extend(replace(d, message=d.message.replace(_CLUSTER, name)) for d in shared)
        return sorted(found, key=Diagnostic.sort_key)

    def finish(self, options: Options) -> list[Diagnostic]:
        checked = self.validator.diagnostics if self.validator is not None else []
        found = promote_warnings([*checked, *self._cluster_diagnostics()], options.strict)
        raise_if_errors(found)
        return found

    def take(self, options: Options) -> list[Diagnostic]:
        """What the objects checked since the last take gave, errors included and nothing
        raised: the render cache keeps each cluster's own diagnostics apart."""
        checked = self.validator.take_diagnostics() if self.validator is not None else []
        found = promote_warnings([*checked, *self._cluster_diagnostics()], options.strict)
        self.objects.clear()
        return found


def output_checker(analysis: Analysis) -> OutputCheck:
    return OutputCheck(analysis.schemas, analysis.placements)


def mark_patch_usage(analysis: Analysis, options: Options) -> None:
    """A run that renders some clusters (`render`, a shard) decides unused patches on the whole
    fleet all the same: the other clusters' objects go through the overlays, unserialised and
    unvalidated, one cluster per overlay signature first, until every patch has matched."""
    stage = analysis.stage
    total = sum(len(overlay.patches) for overlay in stage.overlays)
    if len(stage.used) >= total or (options.only_cluster is None and options.shard is None):
        return
    rendered = set(folder_names(analysis.fleet, options))
    others = [c for c in analysis.fleet.clusters if c.name not in rendered]
    signatures: set[Hashable] = set()
    rest: list[Cluster] = []
    variants = Variants()
    # the first cluster of each signature as it is met (most fleets are done after a few),
    # then the others
    for cluster in others:
        signature = stage.signature(cluster)
        if signature in signatures:
            rest.append(cluster)
            continue
        signatures.add(signature)
        cluster_objects(analysis.fleet, analysis.placements, cluster.name, stage, variants)
        if len(stage.used) >= total:
            return
    for cluster in rest:
        cluster_objects(analysis.fleet, analysis.placements, cluster.name, stage, variants)
        if len(stage.used) >= total:
            return


def finish_overlays(analysis: Analysis, options: Options) -> list[Diagnostic]:
    """Errors from applying overlays, and patches that matched nothing on the whole fleet."""
    mark_patch_usage(analysis, options)
    templates = analysis.stage.templates
    if templates is not None:
        only = options.only_cluster
        templates.check_same_objects([only] if only in templates.clusters else templates.clusters)
    raise_if_errors([*analysis.stage.diagnostics, *(templates.diagnostics if templates else [])])
    warnings = promote_warnings(analysis.stage.unused_patches(), options.strict)
    raise_if_errors(warnings)
    return warnings


def compile_fleet(
    sources: Sources,
    options: Options,
    progress: Callable[[int, int], None] | None = None,
) -> Compilation:
    with cycle_collection_paused():
        return _compile(sources, options, progress)


def _compile(
    sources: Sources, options: Options, progress: Callable[[int, int], None] | None
) -> Compilation:
    analysis = analyse(sources, options)
    fleet = analysis.fleet
    checker = output_checker(analysis)
    contents: dict[str, Sequence[str]] = {}
    tree = render_tree(
        fleet,
        analysis.placements,
        options,
        analysis.stage,
        progress=progress,
        check=checker.check_objects,
        file_objects=contents,
    )
    warnings = [*analysis.warnings, *finish_overlays(analysis, options)]
    warnings.extend(checker.finish(options))
    tree.update(gitops_tree(fleet, sources.fleet.path, options))
    from .lock import render_lock

    lock = render_lock(fleet.name, analysis.placements)
    return Compilation(fleet, analysis.placements, tree, warnings, lock, contents)

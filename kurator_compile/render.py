"""Placed objects -> a file tree in memory: per-cluster file names and serialised bytes."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import Diagnostic
from .kinds import apply_rank, is_cluster_scoped, split_api_version
from .model import Cluster, Fleet, ObjectKey, Resource
from .options import Options
from .overlay.stage import OverlayStage
from .placement import ResourcePlacement, revise_replicas
from .placement.prune import remove_irrelevant_fields
from .stack import varies_per_cluster
from .tree import CLUSTER_FILE, CLUSTERS_DIR, PER_CLUSTER, FileTree
from .yamlout import dump_document


@dataclass(frozen=True)
class ClusterObject:
    key: ObjectKey
    data: dict[str, Any]
    resource: Resource | None = None  # where it came from, for positioned diagnostics

    @property
    def filename(self) -> str:
        return object_filename(self.key)

    def sort_key(self) -> tuple[int, str, str, str, str]:
        """Apply order, then the key's own order, as plain strings (cheap to compare)."""
        key = self.key
        return (apply_rank(key.kind), key.group, key.kind, key.namespace, key.name)


def object_filename(key: ObjectKey) -> str:
    """`deployment.apps_default_web.yaml`; `_` never occurs in kinds, groups or names, so two
    objects share a file name only if they are the same object."""
    kind = key.kind.lower() + (f".{key.group}" if key.group else "")
    parts = [kind, key.namespace, key.name] if key.namespace else [kind, key.name]
    return "_".join(parts) + ".yaml"


class Variants:
    """Each distinct (object, replicas, overlay set) computed once and shared by the clusters
    that receive it, so a fleet of identical clusters costs about one cluster."""

    def __init__(self) -> None:
        self._data: dict[Hashable, dict[str, Any] | None] = {}

    def get(
        self, key: Hashable, make: Callable[[], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        if key in self._data:
            return self._data[key]
        value = self._data[key] = make()
        return value


def cluster_objects(
    fleet: Fleet,
    placements: Sequence[ResourcePlacement],
    cluster_name: str,
    stage: OverlayStage | None = None,
    variants: Variants | None = None,
    skip: Collection[int] = (),
    only: Collection[int] | None = None,
) -> list[ClusterObject]:
    """What one cluster runs, in apply order; touches no other cluster's objects. `skip` and
    `only` name placements (by position) to leave out or to restrict to."""
    cluster = fleet.folder(cluster_name)
    if cluster is None:
        return []
    if cluster is fleet.host:
        stage = None  # Kurator writes the host's objects itself: no overlay reaches them
    variants = variants or Variants()
    signature = stage.signature(cluster) if stage is not None else ()
    result = []
    for index in range(len(placements)) if only is None else only:
        placement = placements[index]
        if cluster_name not in placement.replicas or index in skip:
            continue
        completions = (placement.job_completions or {}).get(cluster_name)
        varies = placement.resource.templated or varies_per_cluster(placement.resource)
        per_cluster = cluster_name if varies else None
        shared: Hashable = signature
        if stage is not None and not varies:
            shared = stage.object_signature(cluster, placement.resource)
        key = (index, placement.replicas[cluster_name], completions, shared, per_cluster)

        def make(
            placement: ResourcePlacement = placement, index: int = index
        ) -> dict[str, Any] | None:
            if stage is None:
                return remove_irrelevant_fields(
                    revise_replicas(
                        placement.resource.data_for(cluster_name), placement, cluster_name
                    )
                )
            base = stage.base_data(placement.resource, cluster_name)
            if base is None:
                return None
            data = revise_replicas(base, placement, cluster_name)
            applied = stage.apply(data, cluster, placement.resource, index)
            return remove_irrelevant_fields(applied) if applied is not None else None

        data = variants.get(key, make)
        if data is not None:
            result.append(
                ClusterObject(current_key(data, placement.resource), data, placement.resource)
            )
    if stage is not None:
        result = _without_collisions(result, cluster_name, stage)
    return sorted(result, key=ClusterObject.sort_key)


def current_key(data: dict[str, Any], resource: Resource) -> ObjectKey:
    """The object's key as its content names it now: an overlay's JSON patch may change its
    kind, name or namespace (kustomize allows it), and its file follows. The object keeps the
    placement it was given under its old key, and its kind keeps the scope the inputs gave it
    (a CustomResourceDefinition among them may make it cluster-scoped)."""
    placed = resource.key
    api_version, kind = data.get("apiVersion"), data.get("kind")
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(kind, str) or not kind or isinstance(name, (dict, list, type(None))):
        return placed
    assert isinstance(metadata, dict)
    group = split_api_version(api_version)[0] if isinstance(api_version, str) else ""
    same_kind = (group, kind) == (placed.group, placed.kind)
    scoped = placed.namespace == "" if same_kind else is_cluster_scoped(group, kind)
    namespace = "" if scoped else str(metadata.get("namespace") or "default")
    key = ObjectKey(group, kind, namespace, str(name))
    return placed if key == placed else key


def _without_collisions(
    objects: list[ClusterObject], cluster_name: str, stage: OverlayStage
) -> list[ClusterObject]:
    """Two objects an overlay renamed onto one key would share one file: an error at the
    renamed one, the other kept."""
    seen: dict[ObjectKey, ClusterObject] = {}
    for obj in objects:
        first = seen.setdefault(obj.key, obj)
        if first is obj:
            continue
        renamed, other = (first, obj) if _renamed(first) else (obj, first)
        seen[obj.key] = other
        stage.diagnostics.append(
            Diagnostic.error(
                f"on cluster {cluster_name}, an overlay's JSON patch makes {_placed(renamed)} "
                f"into {obj.key}, which {_placed(other)} already is",
                renamed.resource.locate() if renamed.resource is not None else None,
            )
        )
    return list(seen.values())


def _renamed(obj: ClusterObject) -> bool:
    return obj.resource is not None and obj.resource.key != obj.key


def _placed(obj: ClusterObject) -> ObjectKey:
    return obj.resource.key if obj.resource is not None else obj.key


class _TextCache:
    """Serialise each distinct object once: most clusters receive identical copies. Equal
    texts from different objects (an object no overlay changes, computed once per overlay
    signature) are kept once too."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[dict[str, Any], bytes]] = {}
        self._texts: dict[bytes, bytes] = {}

    def text(self, data: dict[str, Any]) -> bytes:
        hit = self._by_id.get(id(data))
        if hit is not None and hit[0] is data:
            return hit[1]
        encoded = dump_document(data).encode("utf-8")
        encoded = self._texts.setdefault(encoded, encoded)
        self._by_id[id(data)] = (data, encoded)
        return encoded


KUSTOMIZATION_FILE = "kustomization.yaml"


def kustomization_text(filenames: Iterable[str]) -> bytes:
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(filenames),
    }
    return dump_document(doc).encode("utf-8")


_Files = list[tuple[str, bytes]]  # (file name, bytes) of one cluster's folder
# One object of a folder: its sort key, the object, its file name and bytes.
_Entry = tuple[tuple[int, str, str, str, str], ClusterObject, str, bytes]


class _ClusterContents:
    """Clusters that get the same replicas of the same placements, and the same signature
    from the overlay stage, get the same objects: each such group is computed, sorted, named
    and serialised once, and only its files are repeated per cluster.

    Overlays that select a single cluster would make every cluster a group of its own: they
    are left out of the groups' signatures, and the few objects they may change are computed
    per cluster (shared where equal) and merged into the group's sorted list."""

    def __init__(
        self,
        fleet: Fleet,
        placements: Sequence[ResourcePlacement],
        stage: OverlayStage | None,
        kustomization: bool,
    ) -> None:
        self.fleet = fleet
        self.placements = placements
        self.stage = stage
        self.kustomization = kustomization
        self.variants = Variants()
        self.texts = _TextCache()
        self.varies = [p.resource.templated or varies_per_cluster(p.resource) for p in placements]
        # A cluster's key needs each distinct (replicas, completions, made per cluster) once:
        # most placements give every cluster alike, and the key is made per cluster. (Maps
        # alike but in another order count as distinct: only sharing is lost.)
        self._columns: list[tuple[Mapping[str, int | None], Mapping[str, int] | None, bool]] = []
        shapes: set[Hashable] = set()
        for placement, varies in zip(placements, self.varies, strict=True):
            completions = placement.job_completions or None
            shape = (_in_order(placement.replicas), _in_order(completions or {}), varies)
            if shape not in shapes:
                shapes.add(shape)
                self._columns.append((placement.replicas, completions, varies))
        self._groups: dict[Hashable, list[_Entry]] = {}
        self._folders: dict[Hashable, tuple[list[ClusterObject], _Files]] = {}
        self.solo: frozenset[int] = frozenset()
        self.own: list[int] = []  # placements a solo overlay may change, in order
        if stage is not None and stage.overlays and not any(self.varies):
            self.solo = stage.solo_overlays(fleet.clusters)
            if any(stage.may_rename(o) for o in range(len(stage.overlays)) if o not in self.solo):
                # a shared overlay may rename an object into a solo overlay's target
                self.solo = frozenset()
            self.own = sorted(stage.reached(self.solo, [p.resource for p in placements]))
        self._own = frozenset(self.own)

    def _key(self, cluster: Cluster) -> Hashable | None:
        """None when some object the cluster gets is made for it alone."""
        parts: list[object] = []
        name = cluster.name
        for replicas, completions, varies in self._columns:
            if name not in replicas:
                parts.append(False)  # not placed here (placed objects may have no replicas)
                continue
            if varies:
                return None
            parts.append((replicas[name], completions.get(name) if completions else None))
        signature: Hashable = ()
        if self.stage is not None:
            signature = (
                self.stage.signature_without(cluster, self.solo)
                if self.solo
                else self.stage.signature(cluster)
            )
        return (signature, tuple(parts))

    def of(self, cluster: Cluster) -> tuple[list[ClusterObject], _Files]:
        """The cluster's objects in apply order, and its folder's files."""
        key = self._key(cluster)
        folder = self._folders.get(key) if key is not None and not self.own else None
        if folder is not None:
            return folder
        entries = self._groups.get(key) if key is not None else None
        if entries is None:
            skip = self._own if key is not None else ()
            entries = self._entries(cluster, skip=skip)
            if key is not None:
                self._groups[key] = entries
        if key is not None and self.own:
            own = self._entries(cluster, only=self.own)
            if own:
                entries = list(entries)
                for entry in own:
                    bisect.insort(entries, entry, key=_sort_key)
        objects = [entry[1] for entry in entries]
        files = [(entry[2], entry[3]) for entry in entries]
        if self.kustomization and objects:
            files.append((KUSTOMIZATION_FILE, kustomization_text(n for n, _ in files)))
        folder = (objects, files)
        if key is not None and not self.own:
            self._folders[key] = folder
        return folder

    def _entries(
        self, cluster: Cluster, skip: Collection[int] = (), only: Collection[int] | None = None
    ) -> list[_Entry]:
        objects = cluster_objects(
            self.fleet, self.placements, cluster.name, self.stage, self.variants, skip, only
        )
        return [(obj.sort_key(), obj, obj.filename, self._bytes(obj)) for obj in objects]

    def _bytes(self, obj: ClusterObject) -> bytes:
        raw = _raw_text(obj)
        return raw.encode("utf-8") if raw is not None else self.texts.text(obj.data)


def _in_order(mapping: Mapping[str, Any]) -> Hashable:
    """Equal for maps with the same items in the same order (hashes 10,000 cluster names
    eight times faster than a frozenset of the items)."""
    return (tuple(mapping), tuple(mapping.values()))


def _sort_key(entry: _Entry) -> tuple[int, str, str, str, str]:
    return entry[0]


def folder_names(fleet: Fleet, options: Options) -> list[str]:
    """The folders this run writes: its members (by name, or its shard of them), and the host
    when the run covers the whole fleet, shard 1, or names the host."""
    ordered = sorted(c.name for c in fleet.clusters)
    names = [name for i, name in enumerate(ordered) if options.wants(name, i)]
    host = fleet.host
    if host is not None and (
        options.only_cluster == host.name
        or (options.only_cluster is None and (options.shard is None or options.shard[0] == 1))
    ):
        names.append(host.name)
    return names


def render_tree(
    fleet: Fleet,
    placements: Sequence[ResourcePlacement],
    options: Options,
    stage: OverlayStage | None = None,
    progress: Callable[[int, int], None] | None = None,
    check: Callable[[list[ClusterObject], Cluster], None] | None = None,
    file_objects: dict[str, Sequence[str]] | None = None,
) -> FileTree:
    """Every folder's files. In the per-cluster layout each folder gets one stream, and
    `file_objects` (when given) the object file names it holds, for the writer's removal guard."""
    tree: FileTree = {}
    per_cluster = options.layout == PER_CLUSTER
    streams: dict[int, tuple[_Files, bytes, list[str]]] = {}  # a group's stream, made once
    contents = _ClusterContents(fleet, placements, stage, options.kustomization)
    # Paths in sorted order as they are made (no sorted copy of a tree of 600,000 paths):
    # folders by name and `/` (the order of their paths), then each folder's files by name.
    names = sorted(folder_names(fleet, options), key=lambda name: name + "/")
    by_name: dict[int, tuple[_Files, _Files]] = {}  # a group's files, sorted once
    for done, name in enumerate(names):
        if progress is not None:
            progress(done, len(names))
        cluster = fleet.folder(name)
        assert cluster is not None
        objects, files = contents.of(cluster)
        if check is not None:
            check(objects, cluster)
        prefix = f"{CLUSTERS_DIR}/{name}/"
        if per_cluster:
            _add_stream(tree, prefix, files, streams, file_objects, keep=not contents.own)
            continue
        known = by_name.get(id(files))
        if known is None or known[0] is not files:
            known = (files, sorted(files, key=_file_name))
            if not contents.own:  # else each cluster's list is its own: keep none
                by_name[id(files)] = known
        for filename, data in known[1]:
            tree[prefix + filename] = data
    return tree


def _add_stream(
    tree: FileTree,
    prefix: str,
    files: _Files,
    streams: dict[int, tuple[_Files, bytes, list[str]]],
    contents: dict[str, Sequence[str]] | None,
    keep: bool,
) -> None:
    """The folder's objects in apply order, joined as `render` joins them, in one file."""
    known = streams.get(id(files))
    if known is None or known[0] is not files:
        objects = [(n, data) for n, data in files if n != KUSTOMIZATION_FILE]
        known = (files, b"---\n".join(data for _, data in objects), [n for n, _ in objects])
        if keep:
            streams[id(files)] = known
    if not known[2]:
        return
    tree[prefix + CLUSTER_FILE] = known[1]
    if contents is not None:
        contents[prefix + CLUSTER_FILE] = known[2]
    if len(known[2]) != len(files):
        tree[prefix + KUSTOMIZATION_FILE] = kustomization_text([CLUSTER_FILE])


def split_stream(data: bytes, path: str) -> list[tuple[str, bytes]]:
    """A per-cluster file back into its objects' file names and bytes, as the per-object
    layout writes them: how `diff` and the removal guard read a file this tool wrote. The
    objects are joined at `---` lines, which no document of ours holds at column 0."""
    from .yamldoc import load_stream

    parts = data.split(b"\n---\n")
    found = []
    for index, part in enumerate(parts):
        text = part + b"\n" if index < len(parts) - 1 else part
        for doc in load_stream(text.decode("utf-8"), path):
            obj = doc.data
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            if not isinstance(obj, dict) or not isinstance(meta, dict):
                continue
            group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            namespace = str(meta.get("namespace") or "")
            key = ObjectKey(group, str(obj.get("kind")), namespace, str(meta.get("name")))
            found.append((object_filename(key), text))
    return found


def _file_name(file: tuple[str, bytes]) -> str:
    return file[0]


def _raw_text(obj: ClusterObject) -> str | None:
    """SOPS-encrypted documents are emitted as written: re-serialising breaks their MAC."""
    return obj.resource.document.raw if obj.resource is not None else None


def render_stream(objects: Sequence[ClusterObject]) -> str:
    """One cluster's objects as a single YAML stream, for `render` and the Argo CD plugin."""
    parts = []
    for obj in objects:
        raw = _raw_text(obj)
        parts.append(raw if raw is not None else dump_document(obj.data))
    return "---\n".join(parts)

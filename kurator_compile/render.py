"""Placed objects -> a file tree in memory: per-cluster file names and serialised bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .kinds import apply_rank
from .model import Fleet, ObjectKey
from .options import Options
from .placement import ResourcePlacement, revise_replicas
from .tree import CLUSTERS_DIR, FileTree
from .yamlout import dump_document, dump_stream

# A later stage (overlays, overrides) rewriting one object for one cluster.
Transform = Callable[[dict[str, Any], str, ResourcePlacement], dict[str, Any]]


@dataclass(frozen=True)
class ClusterObject:
    key: ObjectKey
    data: dict[str, Any]

    @property
    def filename(self) -> str:
        return object_filename(self.key)

    def sort_key(self) -> tuple[int, ObjectKey]:
        return (apply_rank(self.key.kind), self.key)


def object_filename(key: ObjectKey) -> str:
    """`deployment.apps_default_web.yaml`; `_` never occurs in kinds, groups or names, so two
    objects share a file name only if they are the same object."""
    kind = key.kind.lower() + (f".{key.group}" if key.group else "")
    parts = [kind, key.namespace, key.name] if key.namespace else [kind, key.name]
    return "_".join(parts) + ".yaml"


def cluster_objects(
    fleet: Fleet,
    placements: Sequence[ResourcePlacement],
    cluster: str,
    transforms: Sequence[Transform] = (),
) -> list[ClusterObject]:
    """What one cluster runs, in apply order; touches no other cluster's objects."""
    result = []
    for placement in placements:
        if cluster not in placement.replicas:
            continue
        data = revise_replicas(placement.resource.data, placement, cluster)
        for transform in transforms:
            data = transform(data, cluster, placement)
        result.append(ClusterObject(placement.resource.key, data))
    return sorted(result, key=ClusterObject.sort_key)


class _TextCache:
    """Serialise each distinct object once: most clusters receive identical copies."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[dict[str, Any], bytes]] = {}

    def text(self, data: dict[str, Any]) -> bytes:
        hit = self._by_id.get(id(data))
        if hit is not None and hit[0] is data:
            return hit[1]
        encoded = dump_document(data).encode("utf-8")
        self._by_id[id(data)] = (data, encoded)
        return encoded


def kustomization_text(filenames: Iterable[str]) -> bytes:
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(filenames),
    }
    return dump_document(doc).encode("utf-8")


def render_tree(
    fleet: Fleet,
    placements: Sequence[ResourcePlacement],
    options: Options,
    transforms: Sequence[Transform] = (),
    progress: Callable[[int, int], None] | None = None,
) -> FileTree:
    tree: FileTree = {}
    cache = _TextCache()
    names = sorted(c.name for c in fleet.clusters)
    if options.only_cluster is not None:
        names = [n for n in names if n == options.only_cluster]
    for done, cluster in enumerate(names):
        if progress is not None:
            progress(done, len(names))
        objects = cluster_objects(fleet, placements, cluster, transforms)
        for obj in objects:
            tree[f"{CLUSTERS_DIR}/{cluster}/{obj.filename}"] = cache.text(obj.data)
        if options.kustomization and objects:
            tree[f"{CLUSTERS_DIR}/{cluster}/kustomization.yaml"] = kustomization_text(
                obj.filename for obj in objects
            )
    return dict(sorted(tree.items()))


def render_stream(objects: Sequence[ClusterObject]) -> str:
    """One cluster's objects as a single YAML stream, for `render` and the Argo CD plugin."""
    return dump_stream(obj.data for obj in objects)

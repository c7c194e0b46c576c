"""Validated input as frozen values: the fleet, its clusters, input objects and policies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .errors import SourceLocation
from .kinds import is_cluster_scoped, split_api_version
from .kurator.inventory import KuratorFleet
from .yamldoc import Document

FLEET_API_VERSION = "compile.kurator.dev/v1alpha1"
KARMADA_POLICY_API_VERSION = "policy.karmada.io/v1alpha1"


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of an object in a cluster: two inputs with the same key collide."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"

    def matches(self, wanted: str) -> bool:
        """Whether `KIND/NAMESPACE/NAME` or `KIND/NAME` (kind case-insensitive, with or
        without its group; no namespace means "" or default) names this object."""
        parts = wanted.split("/")
        kind, name = parts[0].lower(), parts[-1]
        full_kind = f"{self.kind}.{self.group}" if self.group else self.kind
        if kind not in (self.kind.lower(), full_kind.lower()) or self.name != name:
            return False
        if len(parts) == 3:
            return self.namespace == parts[1]
        return self.namespace in ("", "default")


@dataclass(frozen=True)
class Taint:
    key: str
    effect: str
    value: str = ""


@dataclass(frozen=True)
class Cluster:
    """A member cluster as the fleet declares it; fields mirror Karmada's Cluster where they can."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    provider: str = ""
    region: str = ""
    zones: tuple[str, ...] = ()
    taints: tuple[Taint, ...] = ()
    # Resources free for new replicas, as Kubernetes quantity strings (e.g. {"cpu": "64"}).
    capacity: Mapping[str, str] = field(default_factory=dict)
    kube_version: str | None = None
    edge: bool = False  # a KubeEdge cluster: its workloads' pods run on edge nodes
    location: SourceLocation | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Resource:
    """An input object (any Kubernetes kind) and the document it came from."""

    document: Document
    templated: bool = False  # from a *.yaml.j2 file: its content is rendered per cluster
    # Content made for some clusters alone (a Kurator object whose copies differ per member),
    # by cluster name; other clusters get `data`.
    copies: Mapping[str, dict[str, Any]] | None = field(default=None, compare=False)
    # The scope a CustomResourceDefinition among the inputs gives the kind (`spec.scope`
    # Cluster: True); None: the built-in table decides.
    cluster_scoped: bool | None = field(default=None, compare=False)

    @property
    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = self.document.data
        return value

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @cached_property
    def group(self) -> str:
        return split_api_version(self.api_version)[0]

    @cached_property
    def namespace(self) -> str:
        """The namespace the object lives in: "" if cluster-scoped, "default" if unset."""
        scoped = self.cluster_scoped
        if scoped if scoped is not None else is_cluster_scoped(self.group, self.kind):
            return ""
        return str(self.metadata.get("namespace") or "default")

    @property
    def labels(self) -> Mapping[str, str]:
        labels = self.metadata.get("labels")
        return labels if isinstance(labels, dict) else {}

    @cached_property
    def key(self) -> ObjectKey:
        return ObjectKey(self.group, self.kind, self.namespace, self.name)

    def locate(self, pointer: str = "") -> SourceLocation:
        return self.document.locate(pointer)

    def data_for(self, cluster: str) -> dict[str, Any]:
        """The object as made for `cluster`, before placement and overlays revise it."""
        if self.copies is not None:
            return self.copies.get(cluster, self.data)
        return self.data


@dataclass(frozen=True)
class Policy:
    """A Karmada (Cluster)PropagationPolicy as written; `namespace` is "" for cluster scope."""

    document: Document

    @property
    def kind(self) -> str:
        return str(self.document.data.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.document.data.get("metadata", {}).get("name", ""))

    @property
    def namespace(self) -> str:
        if self.kind.startswith("Cluster"):
            return ""
        return str(self.document.data.get("metadata", {}).get("namespace") or "default")

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.document.data.get("spec")
        return spec if isinstance(spec, dict) else {}

    def locate(self, pointer: str = "") -> SourceLocation:
        return self.document.locate(pointer)


@dataclass(frozen=True)
class Fleet:
    name: str
    clusters: tuple[Cluster, ...]
    document: Document
    resources: tuple[Resource, ...] = ()
    policies: tuple[Policy, ...] = ()
    # Other documents keyed by kind (Overlay, OverridePolicy, ...): new kinds plug in here.
    extensions: Mapping[str, tuple[Document, ...]] = field(default_factory=dict)
    # Kurator's management cluster (`spec.host`): a folder of its own, never a candidate.
    host: Cluster | None = None
    # Kurator Fleets (fleet.kurator.dev) of the inputs, with their members resolved.
    inventory: tuple[KuratorFleet, ...] = ()

    def cluster(self, name: str) -> Cluster | None:
        return self._clusters_by_name.get(name)

    def folder(self, name: str) -> Cluster | None:
        """The member cluster or the host whose output folder is `name`."""
        if self.host is not None and self.host.name == name:
            return self.host
        return self.cluster(name)

    @property
    def folders(self) -> tuple[Cluster, ...]:
        """Every cluster that gets an output folder: the members, then the host."""
        return (*self.clusters, self.host) if self.host is not None else self.clusters

    @cached_property
    def _clusters_by_name(self) -> dict[str, Cluster]:
        """Looked up once per cluster per stage: a scan would make big fleets quadratic."""
        by_name: dict[str, Cluster] = {}
        for cluster in self.clusters:
            by_name.setdefault(cluster.name, cluster)  # the first wins, as a scan would find
        return by_name

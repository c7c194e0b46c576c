"""What Kurator's controllers know of a fleet: its members and where the host writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, SourceLocation
from ..yamldoc import Document

HOST = ""  # `Generated.cluster` for objects Kurator creates in its own management cluster


@dataclass(frozen=True)
class Member:
    """A fleet member as Kurator sees it: an AttachedCluster or a (provisioned) Cluster."""

    name: str  # the object's name, which is also the member's output folder
    kind: str  # "AttachedCluster" or "Cluster"
    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)
    # The kubeconfig Secret Flux objects on the host use to reach the member.
    secret_name: str = ""
    secret_key: str = "value"
    location: SourceLocation | None = field(default=None, compare=False)


@dataclass(frozen=True)
class KuratorFleet:
    """A `fleet.kurator.dev/v1alpha1` Fleet with its members resolved."""

    name: str
    namespace: str
    members: tuple[Member, ...]
    document: Document | None = None

    def member(self, name: str, kind: str | None = None) -> Member | None:
        for member in self.members:
            if member.name == name and (kind is None or member.kind == kind):
                return member
        return None


@dataclass(frozen=True)
class Generated:
    """One object a Kurator controller would create, and the document it comes from."""

    cluster: str  # HOST, or the member's name
    data: dict[str, Any]
    origin: Document  # positions for messages about this object


@dataclass(frozen=True)
class KuratorInputs:
    """Everything a Kurator kind may read: the fleets, every Kurator document by kind, and the
    ordinary input objects (Services a rollout targets, Secrets a plugin copies)."""

    fleets: tuple[KuratorFleet, ...]
    documents: Mapping[str, tuple[Document, ...]]  # by kind: "Application", "Backup", ...
    resources: tuple[Document, ...] = ()
    # The input objects a module read (`find`): Kurator reads them from a live cluster, so they
    # are references, not objects to place.
    read: list[Document] = field(default_factory=list, compare=False)

    def find(self, kind: str, namespace: str, name: str) -> Document | None:
        """The core (`v1`) input object Kurator would read from a cluster; `namespace` is ""
        for a cluster-scoped kind. Recorded in `read`."""
        for doc in self.resources:
            meta = _meta(doc)
            found_namespace = "" if not namespace else str(meta.get("namespace") or "default")
            if (
                doc.data.get("apiVersion") == "v1"
                and doc.data.get("kind") == kind
                and meta.get("name") == name
                and found_namespace == namespace
            ):
                self.read.append(doc)
                return doc
        return None

    def fleet(self, name: str, namespace: str | None = None) -> KuratorFleet | None:
        for fleet in self.fleets:
            if fleet.name == name and (namespace is None or fleet.namespace == namespace):
                return fleet
        return None


FLEET_GROUP = "fleet.kurator.dev"
CLUSTER_GROUP = "cluster.kurator.dev"
MEMBER_KINDS = ("AttachedCluster", "Cluster")
# The kinds the inventory reads; Cluster provisions, so it is also reported as not compiled.
INVENTORY_KINDS = frozenset(
    {(FLEET_GROUP, "Fleet"), (CLUSTER_GROUP, "AttachedCluster"), (CLUSTER_GROUP, "Cluster")}
)


def _group(doc: Document) -> str:
    return str(doc.data.get("apiVersion", "")).rpartition("/")[0]


def _meta(doc: Document) -> dict[str, Any]:
    meta = doc.data.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _namespace(doc: Document) -> str:
    return str(_meta(doc).get("namespace") or "default")


def _member(doc: Document) -> Member:
    """The secret Flux uses to reach the member: an AttachedCluster's `spec.kubeconfig`
    (key `value` by default), a Cluster's `spec.credential.secretRef` with key `value`
    (upstream pkg/cluster-operator types' GetSecretName/GetSecretKey, commit b633941)."""
    spec = doc.data.get("spec") if isinstance(doc.data.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    kind = str(doc.data["kind"])
    if kind == "AttachedCluster":
        kubeconfig = spec.get("kubeconfig") or {}
        secret, key = str(kubeconfig.get("name") or ""), str(kubeconfig.get("key") or "value")
    else:
        secret, key = str((spec.get("credential") or {}).get("secretRef") or ""), "value"
    labels = _meta(doc).get("labels")
    return Member(
        name=str(_meta(doc).get("name", "")),
        kind=kind,
        namespace=_namespace(doc),
        labels={str(k): str(v) for k, v in (labels if isinstance(labels, dict) else {}).items()},
        secret_name=secret,
        secret_key=key,
        location=doc.locate(""),
    )


def build_inventory(
    documents: Mapping[str, Sequence[Document]],
) -> tuple[tuple[KuratorFleet, ...], list[Diagnostic]]:
    """Each `fleet.kurator.dev` Fleet with its `spec.clusters` resolved against the
    AttachedCluster and Cluster documents of its namespace. Mirrors BuildFleetClusters and
    getFleetClusterInterface (pkg/fleet-manager/fleet_cluster.go, commit b633941): an empty
    reference kind means Cluster."""
    candidates: dict[tuple[str, str, str], Document] = {}
    for kind in MEMBER_KINDS:
        for doc in documents.get(kind, ()):
            if _group(doc) == CLUSTER_GROUP:
                key = (kind, _namespace(doc), str(_meta(doc).get("name", "")))
                candidates.setdefault(key, doc)
    fleets: list[KuratorFleet] = []
    errors: list[Diagnostic] = []
    for doc in documents.get("Fleet", ()):
        if _group(doc) != FLEET_GROUP:
            continue
        name, namespace = str(_meta(doc).get("name", "")), _namespace(doc)
        members: list[Member] = []
        spec = doc.data.get("spec")
        refs = (spec.get("clusters") if isinstance(spec, dict) else None) or []
        for index, ref in enumerate(refs):
            kind, wanted = str(ref.get("kind") or "Cluster"), str(ref.get("name") or "")
            where = doc.locate(f"/spec/clusters/{index}")
            if kind not in MEMBER_KINDS:
                errors.append(
                    Diagnostic.error(
                        f"Fleet {name!r}: a member is an AttachedCluster or a Cluster, not "
                        f"{kind!r}",
                        doc.locate(f"/spec/clusters/{index}/kind"),
                    )
                )
                continue
            found = candidates.get((kind, namespace, wanted))
            if found is None:
                errors.append(
                    Diagnostic.error(
                        f"Fleet {name!r} names {kind} {wanted!r} in namespace {namespace!r}, "
                        f"which is not among the inputs (add its {CLUSTER_GROUP}/v1alpha1 "
                        f"{kind} document)",
                        where,
                    )
                )
                continue
            members.append(_member(found))
        fleets.append(KuratorFleet(name, namespace, tuple(members), doc))
    return tuple(fleets), errors

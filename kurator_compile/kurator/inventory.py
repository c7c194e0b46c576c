"""What Kurator's controllers know of a fleet: its members and where the host writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import SourceLocation
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

    def fleet(self, name: str, namespace: str | None = None) -> KuratorFleet | None:
        for fleet in self.fleets:
            if fleet.name == name and (namespace is None or fleet.namespace == namespace):
                return fleet
        return None

"""The Kurator application stack on top of placement: FederatedDeployment, BackupPolicy to
Velero, Prometheus/Thanos, Istio traffic across clusters, Volcano gang jobs, KubeEdge edge
clusters, dependents that follow their workloads, and consistency checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic
from ..model import Cluster, Fleet, Resource
from ..placement import ResourcePlacement
from . import backup, federated, istio, kubeedge, observability, volcano
from .checks import consistency_checks
from .dependents import follow_workloads

__all__ = [
    "Expansion",
    "adjust_placements",
    "consistency_checks",
    "expand_after_placement",
    "expand_before_placement",
    "follow_workloads",
    "per_cluster",
    "varies_per_cluster",
]


@dataclass
class Expansion:
    resources: list[Resource] = field(default_factory=list)  # placed by propagation policies
    pinned: list[ResourcePlacement] = field(default_factory=list)  # placed by the stack
    diagnostics: list[Diagnostic] = field(default_factory=list)


def expand_before_placement(fleet: Fleet) -> Expansion:
    """Kinds that become ordinary objects, some with clusters chosen by the object itself."""
    expansion = Expansion()
    for doc in fleet.extensions.get(federated.KIND, ()):
        resource, pinned, found = federated.expand(fleet, doc)
        expansion.diagnostics.extend(found)
        if pinned is None:
            expansion.resources.append(resource)
        else:
            expansion.pinned.append(pinned)
    # The EdgeNode inventory is checked here; its NodeGroups are added after placement.
    _, found = kubeedge.node_groups(fleet)
    expansion.diagnostics.extend(found)
    return expansion


def adjust_placements(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """Kinds whose placement differs from Karmada's generic rules: Volcano Jobs are gangs (one
    cluster under Divided); Deployments with per-node-group replicas become KubeEdge
    EdgeApplications and workloads on edge clusters are marked for `per_cluster`; Istio
    VirtualServices are checked and get weights computed from placement. Everything else
    passes through unchanged."""
    adjusted = list(placements)
    diagnostics: list[Diagnostic] = []
    for index, placement in enumerate(placements):
        if volcano.is_job(placement.resource):
            adjusted[index], found = volcano.adjust(fleet, placement, placements)
            diagnostics.extend(found)
    adjusted, found = kubeedge.adjust(fleet, adjusted)
    diagnostics.extend(found)
    adjusted, found = istio.adjust(fleet, adjusted)
    return adjusted, [*diagnostics, *found]


def expand_after_placement(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """Objects whose clusters depend on where everything else landed."""
    added: list[ResourcePlacement] = []
    diagnostics: list[Diagnostic] = []
    for doc in fleet.extensions.get("BackupPolicy", ()):
        generated, found = backup.expand(doc, fleet, placements)
        added.extend(generated)
        diagnostics.extend(found)
    for doc in fleet.extensions.get("Backup", ()):
        generated, found = backup.expand_kurator_backup(doc, fleet)
        added.extend(generated)
        diagnostics.extend(found)
    for expand in (
        observability.query_objects,
        istio.destination_rules,
        kubeedge.node_group_objects,
    ):
        generated, found = expand(fleet, placements)
        added.extend(generated)
        diagnostics.extend(found)
    return added, diagnostics


def varies_per_cluster(resource: Resource) -> bool:
    """Whether `per_cluster` may change this object, so its copies differ between clusters."""
    data = resource.data
    return observability.is_prometheus(data) or (
        data.get("apiVersion") == "velero.io/v1" and data.get("kind") == "BackupStorageLocation"
    )


def per_cluster(
    data: dict[str, Any], cluster: Cluster, fleet_name: str, resource: Resource
) -> dict[str, Any]:
    """Changes the stack makes for each cluster, after overlays and overrides."""
    data = observability.per_cluster(data, cluster)
    data = kubeedge.per_cluster(data, cluster, resource)
    return backup.per_cluster(data, cluster, fleet_name)

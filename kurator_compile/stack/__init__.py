"""The Kurator application stack on top of placement: FederatedDeployment, BackupPolicy to
Velero, Prometheus/Thanos, Istio traffic across clusters, Volcano gang jobs, KubeEdge edge
clusters, dependents that follow their workloads, and consistency checks.

Every kind module describes itself with one `StackKind`, listed once in `STACK_KINDS`; the
functions below run the table's hooks at their pipeline stage, in table order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import Diagnostic
from ..kurator.application import compile_application
from ..kurator.backup import compile_backup, compile_migrate, compile_restore
from ..kurator.pipeline import compile_pipeline
from ..kurator.plugins import compile_plugins
from ..kurator.rollout import compile_rollout
from ..model import Cluster, Fleet, Resource
from ..placement import ResourcePlacement
from . import backup, checks, dependents, federated, istio, kubeedge, observability, volcano
from .kind import ClusterCheck, Expansion, StackKind
from .kurator import kurator_kind

__all__ = [
    "STACK_KINDS",
    "Expansion",
    "StackKind",
    "adjust_placements",
    "cluster_checks",
    "consistency_checks",
    "expand_after_placement",
    "expand_before_placement",
    "follow_workloads",
    "kurator_kind",
    "owned_kinds",
    "per_cluster",
    "varies_per_cluster",
]

# Adding a kind: a module with a `StackKind`, and one entry here.
STACK_KINDS: tuple[StackKind, ...] = (
    federated.STACK,
    volcano.STACK,
    backup.STACK,
    observability.STACK,
    kubeedge.STACK,
    istio.STACK,
    dependents.STACK,
    checks.STACK,
    # Kurator's own API: each module is pure; the table entry pins what it makes to the host
    # or to the member it names.
    kurator_kind("application", compile_application, ("apps.kurator.dev", "Application")),
    kurator_kind("rollout", compile_rollout),  # syncPolicies[].rollout of those Applications
    kurator_kind("fleet plugins", compile_plugins, ("fleet.kurator.dev", "Fleet")),
    kurator_kind("backup", compile_backup, ("backup.kurator.dev", "Backup")),
    kurator_kind("restore", compile_restore, ("backup.kurator.dev", "Restore")),
    kurator_kind("migrate", compile_migrate, ("backup.kurator.dev", "Migrate")),
    kurator_kind("pipeline", compile_pipeline, ("pipeline.kurator.dev", "Pipeline")),
)


def expand_before_placement(fleet: Fleet, kinds: Sequence[StackKind] | None = None) -> Expansion:
    """Kinds that become ordinary objects, some with clusters chosen by the object itself."""
    kinds = STACK_KINDS if kinds is None else kinds
    expansion = Expansion()
    for kind in kinds:
        if kind.before is not None:
            found = kind.before(fleet)
            host = fleet.host.name if fleet.host is not None else None
            assert kind.writes_host or all(host not in p.replicas for p in found.pinned), kind.name
            expansion.resources.extend(found.resources)
            expansion.pinned.extend(found.pinned)
            expansion.diagnostics.extend(found.diagnostics)
            expansion.read.extend(found.read)
    return expansion


def adjust_placements(
    fleet: Fleet, placements: Sequence[ResourcePlacement], kinds: Sequence[StackKind] | None = None
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """Kinds whose placement differs from Karmada's generic rules; each step sees the
    placements the previous one left."""
    kinds = STACK_KINDS if kinds is None else kinds
    adjusted = list(placements)
    diagnostics: list[Diagnostic] = []
    for kind in kinds:
        if kind.adjust is not None:
            adjusted, found = kind.adjust(fleet, adjusted)
            diagnostics.extend(found)
    return adjusted, diagnostics


def expand_after_placement(
    fleet: Fleet, placements: Sequence[ResourcePlacement], kinds: Sequence[StackKind] | None = None
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """Objects whose clusters depend on where everything else landed."""
    kinds = STACK_KINDS if kinds is None else kinds
    added: list[ResourcePlacement] = []
    diagnostics: list[Diagnostic] = []
    for kind in kinds:
        if kind.after is not None:
            generated, found = kind.after(fleet, placements)
            added.extend(generated)
            diagnostics.extend(found)
    return added, diagnostics


def follow_workloads(
    placements: Sequence[ResourcePlacement], kinds: Sequence[StackKind] | None = None
) -> list[ResourcePlacement]:
    """Objects no policy selected, placed beside what they belong to."""
    kinds = STACK_KINDS if kinds is None else kinds
    result = list(placements)
    for kind in kinds:
        if kind.follow is not None:
            result = kind.follow(result)
    return result


_VARIES = tuple(kind.varies for kind in STACK_KINDS if kind.varies is not None)
_PER_CLUSTER = tuple(kind.per_cluster for kind in STACK_KINDS if kind.per_cluster is not None)


def varies_per_cluster(resource: Resource) -> bool:
    """Whether its copies may differ between clusters: made per cluster, or changed by
    `per_cluster`."""
    return resource.copies is not None or any(varies(resource) for varies in _VARIES)


def per_cluster(
    data: dict[str, Any], cluster: Cluster, fleet_name: str, resource: Resource
) -> dict[str, Any]:
    """Changes the stack makes for each cluster, after overlays and overrides."""
    for change in _PER_CLUSTER:
        data = change(data, cluster, fleet_name, resource)
    return data


def consistency_checks(
    placements: Sequence[ResourcePlacement], kinds: Sequence[StackKind] | None = None
) -> list[Diagnostic]:
    """Warnings (errors under --strict) about placements that are valid but will misbehave,
    and advice for `plan`."""
    kinds = STACK_KINDS if kinds is None else kinds
    found: list[Diagnostic] = []
    for kind in kinds:
        if kind.check is not None:
            found.extend(kind.check(placements))
    return found


def cluster_checks(
    placements: Sequence[ResourcePlacement], kinds: Sequence[StackKind] | None = None
) -> ClusterCheck:
    """Every kind's check of one cluster's objects as emitted, for these placements."""
    kinds = STACK_KINDS if kinds is None else kinds
    checks = [kind.check_cluster(placements) for kind in kinds if kind.check_cluster is not None]

    def check(cluster: str, objects: Sequence[tuple[dict[str, Any], Resource]]) -> list[Diagnostic]:
        return [found for each in checks for found in each(cluster, objects)]

    return check


def owned_kinds() -> frozenset[tuple[str, str]]:
    """(group, kind) of every input kind a registered module compiles."""
    return frozenset(pair for kind in STACK_KINDS for pair in kind.kinds)

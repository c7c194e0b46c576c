"""The scheduler's filter plugins: TaintToleration, ClusterAffinity and SpreadConstraint.

Each returns the reason a cluster is unfit (Karmada's own wording) or None when it fits.
APIEnablement and ClusterEviction have nothing to check offline: every API is assumed enabled
and no eviction is pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..model import Cluster, Taint
from .selectors import ClusterAffinity
from .spec import AffinityTerm, PlacementSpec

__all__ = [
    "active_affinities",
    "affinity_reason",
    "overflow_order",
    "spread_reason",
    "taint_reason",
    "tolerates",
]

NOT_IN_AFFINITY = "did not match the placement cluster affinity constraint"


def tolerates(toleration: Mapping[str, Any], taint: Taint) -> bool:
    """Kubernetes `Toleration.ToleratesTaint` (Lt/Gt are rejected by validation)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.effect:
        return False
    key = toleration.get("key") or ""
    if key and key != taint.key:
        return False
    operator = toleration.get("operator") or ""
    if operator in ("", "Equal"):
        return (toleration.get("value") or "") == taint.value
    return operator == "Exists"


def taint_text(taint: Taint) -> str:
    """`Taint.ToString`: key=value:effect, or key:effect without a value."""
    value = f"={taint.value}" if taint.value else ""
    return f"{taint.key}{value}:{taint.effect}"


def taint_reason(cluster: Cluster, tolerations: Sequence[Mapping[str, Any]]) -> str | None:
    """Only NoSchedule and NoExecute taints count; each needs a toleration."""
    for taint in cluster.taints:
        if taint.effect not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return f"had untolerated taint {{{taint_text(taint)}}}"
    return None


def active_affinities(
    placement: PlacementSpec, term: AffinityTerm | None, is_workload: bool
) -> list[ClusterAffinity] | None:
    """The affinities a cluster must match one of; None means every cluster matches.

    With clusterAffinities only the term being tried counts, plus its overflow groups for
    workloads (non-workloads use no compute, so they never overflow).
    """
    if placement.cluster_affinity is not None:
        return [placement.cluster_affinity]
    if term is None:
        return None
    affinities = [term.affinity]
    if is_workload and term.overflow:
        affinities.extend(affinity for _, affinity in term.overflow)
    return affinities


def affinity_reason(cluster: Cluster, affinities: Sequence[ClusterAffinity] | None) -> str | None:
    if affinities is None or any(a.matches(cluster) for a in affinities):
        return None
    return NOT_IN_AFFINITY


def spread_reason(cluster: Cluster, placement: PlacementSpec) -> str | None:
    """Spreading by provider/region/zone needs clusters that have that property, even when
    the constraints are later ignored (static weights)."""
    for constraint in placement.spread:
        if constraint.by_field == "provider" and not cluster.provider:
            return "did not have provider property"
        if constraint.by_field == "region" and not cluster.region:
            return "did not have region property"
        if constraint.by_field == "zone" and not cluster.zones:
            return "did not have zones property"
    return None


def overflow_order(cluster: Cluster, term: AffinityTerm | None) -> int:
    """`getClusterOverflowOrder`: 0 in the primary group, i+1 in overflow group i."""
    if term is None or term.affinity.matches(cluster):
        return 0
    for index, (_, affinity) in enumerate(term.overflow or ()):
        if affinity.matches(cluster):
            return index + 1
    return 1000

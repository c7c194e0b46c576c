"""Cluster fields of the Fleet that only the stack reads (edge, nodeLabels, volcanoQueues)."""

from __future__ import annotations

from typing import Any

from ..model import Fleet


def cluster_entries(fleet: Fleet) -> dict[str, dict[str, Any]]:
    """Each cluster's entry in the Fleet document, by name."""
    entries = fleet.document.data["spec"].get("clusters") or []
    return {str(entry["name"]): entry for entry in entries if isinstance(entry, dict)}


def edge_clusters(fleet: Fleet) -> list[str]:
    """The KubeEdge clusters (`edge: true`), sorted."""
    return sorted(cluster.name for cluster in fleet.clusters if cluster.edge)

"""Which clusters get each object and with how many replicas: Karmada's scheduler, offline."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Diagnostic
from ..model import Cluster, Fleet, Policy, Resource

__all__ = ["ResourcePlacement", "resolve_placement", "revise_replicas"]


@dataclass(frozen=True)
class ResourcePlacement:
    """The decision for one input object.

    `replicas` maps each selected cluster to its replica count, or to None when the object is
    not a workload and is emitted unchanged. `explanation` is what `plan --explain` prints.
    """

    resource: Resource
    policy: Policy | None
    replicas: Mapping[str, int | None]
    explanation: tuple[str, ...] = ()


def _label_selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _cluster_matches(affinity: Mapping[str, Any], cluster: Cluster) -> bool:
    if cluster.name in (affinity.get("exclude") or []):
        return False
    selector = affinity.get("labelSelector")
    if selector is not None and not _label_selector_matches(selector, cluster.labels):
        return False
    names = affinity.get("clusterNames") or []
    return not names or cluster.name in names


def _selector_priority(selector: Mapping[str, Any], resource: Resource) -> int:
    if selector.get("apiVersion") != resource.api_version or selector.get("kind") != resource.kind:
        return 0
    if selector.get("namespace") and selector["namespace"] != resource.namespace:
        return 0
    if selector.get("name"):
        return 3 if selector["name"] == resource.name else 0
    if selector.get("labelSelector") is not None:
        return 2 if _label_selector_matches(selector["labelSelector"], resource.labels) else 0
    return 1


def _choose_policy(resource: Resource, policies: Sequence[Policy]) -> Policy | None:
    for cluster_scoped in (False, True):
        ranked = []
        for policy in policies:
            if policy.kind.startswith("Cluster") != cluster_scoped:
                continue
            if not cluster_scoped and policy.namespace != resource.namespace:
                continue
            implicit = max(
                (_selector_priority(s, resource) for s in policy.spec.get("resourceSelectors", [])),
                default=0,
            )
            if implicit:
                explicit = int(policy.spec.get("priority") or 0)
                ranked.append(((-explicit, -implicit, policy.name), policy))
        if ranked:
            return min(ranked, key=lambda item: item[0])[1]
    return None


def resolve_placement(fleet: Fleet) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """Place every input object of the fleet; objects no policy selects land nowhere."""
    placements: list[ResourcePlacement] = []
    diagnostics: list[Diagnostic] = []
    for resource in fleet.resources:
        policy = _choose_policy(resource, fleet.policies)
        if policy is None:
            diagnostics.append(
                Diagnostic.warning(
                    f"{resource.key} is selected by no propagation policy; it is rendered nowhere",
                    resource.locate(),
                )
            )
            placements.append(ResourcePlacement(resource, None, {}))
            continue
        affinity = policy.spec.get("placement", {}).get("clusterAffinity") or {}
        selected = [c.name for c in fleet.clusters if _cluster_matches(affinity, c)]
        replicas = resource.data.get("spec", {}).get("replicas")
        placements.append(
            ResourcePlacement(resource, policy, {name: replicas for name in sorted(selected)})
        )
    return placements, diagnostics


def revise_replicas(data: dict[str, Any], placement: ResourcePlacement, cluster: str) -> dict[str, Any]:
    """The object as `cluster` runs it: the replica count placement gave that cluster."""
    replicas = placement.replicas.get(cluster)
    if replicas is None:
        return data
    revised = copy.deepcopy(data)
    revised.setdefault("spec", {})["replicas"] = replicas
    return revised

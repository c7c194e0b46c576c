"""Objects that belong to a placed workload follow it to its clusters, when no policy places
them: what its pod template references (Karmada's propagateDeps), Services that select its
pods, Ingresses and Istio VirtualServices and DestinationRules in front of those Services, and
HPAs and PDBs that target it."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from ..model import Resource
from ..placement import ResourcePlacement
from .istio import is_destination_rule, is_virtual_service, routed_services
from .kind import StackKind
from .workloads import (
    WORKLOAD_KINDS,
    ingress_services,
    pod_labels,
    references,
    selector_selects,
    service_selects,
)


def _why(resource: Resource, placement: ResourcePlacement) -> str | None:
    """How `resource` belongs to the placed workload of `placement`, if it does."""
    workload = placement.resource
    if (workload.group, workload.kind) not in WORKLOAD_KINDS or not placement.replicas:
        return None
    if workload.namespace != resource.namespace:
        return None
    data, kind = resource.data, resource.kind
    if (kind, resource.name) in references(workload.data):
        return "its pod template references it"
    labels = pod_labels(workload.data)
    if kind == "Service" and service_selects(data, labels):
        return "its selector matches the pods"
    if kind == "PodDisruptionBudget" and selector_selects(
        data.get("spec", {}).get("selector"), labels
    ):
        return "its selector matches the pods"
    if kind == "HorizontalPodAutoscaler":
        target = data.get("spec", {}).get("scaleTargetRef") or {}
        if target.get("kind") == workload.kind and target.get("name") == workload.name:
            return "it scales the workload"
    return None


def follow_workloads(placements: Sequence[ResourcePlacement]) -> list[ResourcePlacement]:
    """`placements` with unplaced dependents placed where their workloads run."""
    result = list(placements)
    placed = [p for p in placements if p.replicas]
    for index, placement in enumerate(placements):
        if placement.replicas or placement.policy is not None:
            continue
        clusters: set[str] = set()
        reasons: list[str] = []
        for owner in placed:
            why = _why(placement.resource, owner)
            if why is not None:
                clusters.update(owner.replicas)
                reasons.append(f"follows {owner.resource.key}: {why}")
        if clusters:
            result[index] = _following(placement.resource, clusters, reasons)
    for index, placement in enumerate(result):  # routing objects follow the Services they name
        resource = placement.resource
        if placement.replicas or placement.policy is not None:
            continue
        wanted = _routed_services(resource)
        if not wanted:
            continue
        clusters, reasons = set(), []
        for service in result:
            key = service.resource
            if key.kind == "Service" and (key.namespace, key.name) in wanted:
                clusters.update(service.replicas)
                if service.replicas:
                    reasons.append(f"follows {key.key}: it routes to that Service")
        if clusters:
            result[index] = _following(resource, clusters, reasons)
    return result


def _routed_services(resource: Resource) -> set[tuple[str, str]]:
    """(namespace, name) of the Services an Ingress, VirtualService or DestinationRule names."""
    if resource.kind == "Ingress":
        return {(resource.namespace, name) for name in ingress_services(resource.data)}
    if is_virtual_service(resource) or is_destination_rule(resource):
        return routed_services(resource)
    return set()


def _following(resource: Resource, clusters: set[str], reasons: list[str]) -> ResourcePlacement:
    replicas = MappingProxyType(dict.fromkeys(sorted(clusters)))
    explanation = (
        "placement: no propagation policy selects it; it follows the workloads it belongs to",
        *reasons,
        "result: " + ", ".join(sorted(clusters)),
    )
    return ResourcePlacement(resource, None, replicas, explanation)


STACK = StackKind("dependents", follow=follow_workloads)

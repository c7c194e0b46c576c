"""Checks no single-cluster tool can make: they need the replicas each cluster received."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import Diagnostic
from ..fields import is_digits
from ..kurator.rollout import ROLLOUT_ANNOTATION
from ..placement import ResourcePlacement
from .kind import StackKind
from .workloads import (
    WORKLOAD_KINDS,
    has_spreading,
    ingress_services,
    pod_labels,
    selector_selects,
    service_selects,
)


def _workloads(placements: Sequence[ResourcePlacement]) -> list[ResourcePlacement]:
    return [p for p in placements if (p.resource.group, p.resource.kind) in WORKLOAD_KINDS]


def _count(value: Any, replicas: int) -> int | None:
    """An int-or-percent field as a pod count (percentages round up, as the eviction API does)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%") and is_digits(value[:-1]):
        return math.ceil(int(value[:-1]) * replicas / 100)
    return None


def _pdb(pdb: ResourcePlacement, workloads: list[ResourcePlacement]) -> Iterator[Diagnostic]:
    spec = pdb.resource.data.get("spec") or {}
    for workload in workloads:
        if workload.resource.namespace != pdb.resource.namespace:
            continue
        if not selector_selects(spec.get("selector"), pod_labels(workload.resource.data)):
            continue
        for cluster, replicas in sorted(workload.replicas.items()):
            if replicas is None or cluster not in pdb.replicas:
                continue
            if "maxUnavailable" in spec and _count(spec["maxUnavailable"], replicas) == 0:
                yield Diagnostic.warning(
                    f"{pdb.resource.key} on {cluster}: maxUnavailable is 0, so no pod of "
                    f"{workload.resource.key} can ever be evicted and node drains will block",
                    pdb.resource.locate("/spec/maxUnavailable"),
                )
            minimum = _count(spec.get("minAvailable"), replicas)
            if minimum is not None and minimum >= replicas:
                yield Diagnostic.warning(
                    f"{pdb.resource.key} on {cluster}: minAvailable {minimum} is at or above the "
                    f"{replicas} replica(s) of {workload.resource.key} placed there; node "
                    "drains will block",
                    pdb.resource.locate("/spec/minAvailable"),
                )


def _hpa(hpa: ResourcePlacement, workloads: list[ResourcePlacement]) -> Iterator[Diagnostic]:
    spec = hpa.resource.data.get("spec") or {}
    target = spec.get("scaleTargetRef") or {}
    for workload in workloads:
        resource = workload.resource
        if (resource.kind, resource.name, resource.namespace) != (
            target.get("kind"),
            target.get("name"),
            hpa.resource.namespace,
        ):
            continue
        low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
        for cluster, replicas in sorted(workload.replicas.items()):
            if replicas is None or cluster not in hpa.replicas:
                continue
            if isinstance(low, int) and low > replicas:
                yield Diagnostic.warning(
                    f"{hpa.resource.key} on {cluster}: minReplicas {low} exceeds the {replicas} "
                    f"replica(s) of {resource.key} placed there; the autoscaler will scale it up",
                    hpa.resource.locate("/spec/minReplicas"),
                )
            if isinstance(high, int) and high < replicas:
                yield Diagnostic.warning(
                    f"{hpa.resource.key} on {cluster}: maxReplicas {high} is below the "
                    f"{replicas} replica(s) of {resource.key} placed there; the autoscaler "
                    "will scale it down",
                    hpa.resource.locate("/spec/maxReplicas"),
                )


def _spreading(workload: ResourcePlacement) -> Iterator[Diagnostic]:
    crowded = sorted(c for c, r in workload.replicas.items() if r is not None and r > 1)
    if crowded and not has_spreading(workload.resource.data):
        counts = ", ".join(f"{c}={workload.replicas[c]}" for c in crowded[:5])
        if len(crowded) > 5:
            counts += f" and {len(crowded) - 5} more clusters"
        yield Diagnostic.warning(
            f"{workload.resource.key} runs more than one replica per cluster ({counts}) with "
            "neither pod anti-affinity nor topology spread constraints; one node can take "
            "them all down",
            workload.resource.locate("/spec/template/spec"),
        )


def _routing(placements: Sequence[ResourcePlacement]) -> Iterator[Diagnostic]:
    """Services whose pods, and Ingresses whose Services, are not on a cluster they are on."""
    pods = [(p, pod_labels(p.resource.data)) for p in _workloads(placements)]
    services: dict[tuple[str, str], set[str]] = {}
    for placement in placements:
        resource = placement.resource
        if resource.kind != "Service":
            continue
        services[(resource.namespace, resource.name)] = set(placement.replicas)
        if not (resource.data.get("spec") or {}).get("selector"):
            continue  # no selector: endpoints are managed by hand
        serving: set[str] = set()
        for workload, labels in pods:
            if workload.resource.namespace == resource.namespace and service_selects(
                resource.data, labels
            ):
                serving.update(workload.replicas)
        for cluster in sorted(set(placement.replicas) - serving):
            yield Diagnostic.warning(
                f"{resource.key} is placed on {cluster}, but no workload there has pods its "
                "selector matches; its traffic goes nowhere",
                resource.locate(),
            )
    for placement in placements:
        resource = placement.resource
        if resource.kind != "Ingress" or ROLLOUT_ANNOTATION in resource.metadata.get(
            "annotations", {}
        ):
            continue  # Kurator's rollout Ingress routes to the Service Flux syncs, never an input
        wanted = ingress_services(resource.data)
        reachable: set[str] = set()
        for name in wanted:
            reachable |= services.get((resource.namespace, name), set())
        for cluster in sorted(set(placement.replicas) - reachable):
            yield Diagnostic.warning(
                f"{resource.key} is placed on {cluster}, but none of the Services it routes to "
                f"({', '.join(sorted(wanted))}) is there; its traffic goes nowhere",
                resource.locate(),
            )


def consistency_checks(placements: Sequence[ResourcePlacement]) -> list[Diagnostic]:
    """Warnings (errors under --strict) about placements that are valid but will misbehave."""
    found: list[Diagnostic] = []
    workloads = _workloads(placements)
    for placement in placements:
        kind = placement.resource.kind
        if kind == "PodDisruptionBudget":
            found.extend(_pdb(placement, workloads))
        elif kind == "HorizontalPodAutoscaler":
            found.extend(_hpa(placement, workloads))
    found.extend(_routing(placements))
    for workload in workloads:
        found.extend(_spreading(workload))
        if not workload.replicas and workload.policy is not None:
            found.append(
                Diagnostic.warning(
                    f"{workload.resource.key} lands on zero clusters", workload.resource.locate()
                )
            )
    return found


STACK = StackKind("checks", check=consistency_checks)

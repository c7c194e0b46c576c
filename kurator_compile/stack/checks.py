"""Checks no single-cluster tool can make: they need the replicas each cluster received.

Warnings (errors under --strict) are read from each cluster's objects as emitted, after
overlays and OverridePolicies: a PodDisruptionBudget that blocks drains, an HPA whose
maxReplicas is below the replicas written, a Service or Ingress with nothing behind it on a
cluster although the fleet has its pods elsewhere. Advice, which `plan` shows and no build
fails on, is about setups that are usual but not always meant: replicas that may share a
node, an HPA that will scale a workload up, a Service whose pods no input makes (an operator
creates them from a custom resource)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterator, Sequence
from typing import Any, NamedTuple

from ..errors import Diagnostic
from ..fields import as_dict, is_digits
from ..kurator.rollout import ROLLOUT_ANNOTATION
from ..model import Resource
from ..placement import ResourcePlacement
from ..placement.workload import WORKLOAD_KINDS as PLACED_WORKLOADS
from .kind import ClusterCheck, StackKind
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


Emitted = Sequence[tuple[dict[str, Any], Resource]]  # one cluster's objects as written


def emitted_replicas(data: dict[str, Any]) -> int | None:
    """The pods an object runs on its cluster, as written there (after placement, overlays and
    overrides): replicas or a Job's parallelism (1 when unset, as the API server defaults it);
    None for kinds whose count the object does not say."""
    pointer = PLACED_WORKLOADS.get((str(data.get("apiVersion")), str(data.get("kind"))))
    if pointer is None:
        return None
    value = as_dict(data.get("spec")).get(pointer.rpartition("/")[2]) if pointer else 1
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


class _Pods(NamedTuple):
    """All the checks read of a workload as emitted: its pods' labels and how many it runs.
    Clusters whose workloads read the same (an overlay of their own changed something else)
    are checked once."""

    resource: Resource
    labels: dict[str, str]
    replicas: int | None


def _pods(data: dict[str, Any], resource: Resource) -> _Pods:
    return _Pods(resource, pod_labels(data), emitted_replicas(data))


def _is_workload(resource: Resource) -> bool:
    return (resource.group, resource.kind) in WORKLOAD_KINDS


def _pdb(
    cluster: str, data: dict[str, Any], pdb: Resource, workloads: Sequence[_Pods]
) -> Iterator[Diagnostic]:
    spec = as_dict(data.get("spec"))
    for workload, labels, replicas in workloads:
        if workload.namespace != pdb.namespace:
            continue
        if not selector_selects(spec.get("selector"), labels):
            continue
        if replicas is None:
            continue
        if "maxUnavailable" in spec and _count(spec["maxUnavailable"], replicas) == 0:
            yield Diagnostic.warning(
                f"{pdb.key} on {cluster}: maxUnavailable is 0, so no pod of "
                f"{workload.key} can ever be evicted and node drains will block",
                pdb.locate("/spec/maxUnavailable"),
            )
        minimum = _count(spec.get("minAvailable"), replicas)
        if minimum is not None and minimum >= replicas:
            yield Diagnostic.warning(
                f"{pdb.key} on {cluster}: minAvailable {minimum} is at or above the "
                f"{replicas} replica(s) of {workload.key} placed there; node drains will block",
                pdb.locate("/spec/minAvailable"),
            )


def _scales(spec: dict[str, Any], hpa: Resource, workload: Resource) -> bool:
    """Whether an HPA (its `spec`) scales the workload."""
    target = as_dict(spec.get("scaleTargetRef"))
    wanted = (target.get("kind"), target.get("name"), hpa.namespace)
    return (workload.kind, workload.name, workload.namespace) == wanted


def _scaled(
    spec: dict[str, Any], hpa: Resource, workloads: Sequence[_Pods]
) -> Iterator[tuple[int, Resource]]:
    """The replicas of the workloads an HPA scales, each with the workload."""
    for workload, _, replicas in workloads:
        if _scales(spec, hpa, workload) and replicas is not None:
            yield replicas, workload


def _hpa(
    cluster: str, data: dict[str, Any], hpa: Resource, workloads: Sequence[_Pods]
) -> Iterator[Diagnostic]:
    spec = as_dict(data.get("spec"))
    high = spec.get("maxReplicas")
    for replicas, workload in _scaled(spec, hpa, workloads):
        if isinstance(high, int) and high < replicas:
            yield Diagnostic.warning(
                f"{hpa.key} on {cluster}: maxReplicas {high} is below the {replicas} "
                f"replica(s) of {workload.key} placed there; the autoscaler will scale it down",
                hpa.locate("/spec/maxReplicas"),
            )


def _routing(
    cluster: str,
    objects: Emitted,
    workloads: Sequence[_Pods],
    selected: frozenset[tuple[str, str]],
) -> Iterator[Diagnostic]:
    """Services whose pods, and Ingresses whose Services, are not on this cluster."""
    pods = [(w.resource.namespace, w.labels) for w in workloads]
    services = set()
    for data, resource in objects:
        if resource.kind != "Service":
            continue
        services.add((resource.namespace, resource.name))
        if (resource.namespace, resource.name) not in selected:
            continue  # no selector, or pods no input makes (an operator's): see `advice`
        if not any(
            ns == resource.namespace and service_selects(data, labels) for ns, labels in pods
        ):
            yield Diagnostic.warning(
                f"{resource.key} is placed on {cluster}, but no workload there has pods its "
                "selector matches; its traffic goes nowhere",
                resource.locate(),
            )
    for data, resource in objects:
        if resource.kind != "Ingress" or ROLLOUT_ANNOTATION in as_dict(
            as_dict(data.get("metadata")).get("annotations")
        ):
            continue  # Kurator's rollout Ingress routes to the Service Flux syncs, never an input
        wanted = ingress_services(data)
        if not any((resource.namespace, name) in services for name in wanted):
            yield Diagnostic.warning(
                f"{resource.key} is placed on {cluster}, but none of the Services it routes to "
                f"({', '.join(sorted(wanted))}) is there; its traffic goes nowhere",
                resource.locate(),
            )


def _selecting_services(placements: Sequence[ResourcePlacement]) -> frozenset[tuple[str, str]]:
    """Services whose selector matches the pods of some input workload."""
    pods = [(r.namespace, pod_labels(r.data)) for r in (p.resource for p in _workloads(placements))]
    return frozenset(
        (r.namespace, r.name)
        for r in (p.resource for p in placements)
        if r.kind == "Service"
        and any(ns == r.namespace and service_selects(r.data, labels) for ns, labels in pods)
    )


def cluster_checks(
    placements: Sequence[ResourcePlacement],
) -> ClusterCheck:
    """Warnings (errors under --strict) about one cluster's objects as emitted: what overlays
    and OverridePolicies did to replicas, selectors and bounds count."""
    selected = _selecting_services(placements)
    # per object (by identity, kept so that its id stays its own): the object, its resource,
    # what the checks read of it (a workload's pods, or the object itself) and its key in a
    # cluster's reading
    readings: dict[int, tuple[dict[str, Any], Resource, _Pods | None, Hashable]] = {}
    done: dict[Hashable, list[Diagnostic]] = {}

    def read(data: dict[str, Any], resource: Resource) -> tuple[_Pods | None, Hashable]:
        hit = readings.get(id(data))
        if hit is None or hit[0] is not data or hit[1] is not resource:
            pods = _pods(data, resource) if _is_workload(resource) else None
            key = (
                (id(resource), id(data))
                if pods is None
                else (id(resource), tuple(pods.labels.items()), pods.replicas)
            )
            hit = readings[id(data)] = (data, resource, pods, key)
        return hit[2], hit[3]

    def check(cluster: str, objects: Emitted) -> list[Diagnostic]:
        """Clusters whose objects read the same to the checks are checked once."""
        read_here = [read(data, resource) for data, resource in objects]
        key = (cluster, tuple(k for _, k in read_here))
        found = done.get(key)
        if found is None:
            workloads = [pods for pods, _ in read_here if pods is not None]
            found = done[key] = []
            for data, resource in objects:
                if resource.kind == "PodDisruptionBudget":
                    found.extend(_pdb(cluster, data, resource, workloads))
                elif resource.kind == "HorizontalPodAutoscaler":
                    found.extend(_hpa(cluster, data, resource, workloads))
            found.extend(_routing(cluster, objects, workloads, selected))
        return list(found)

    return check


def _spreading(workload: ResourcePlacement) -> Iterator[Diagnostic]:
    if has_spreading(workload.resource.data):
        return  # asked first: the replicas of a workload spread over every cluster are many
    crowded = sorted(c for c, r in workload.replicas.items() if r is not None and r > 1)
    if crowded:
        counts = ", ".join(f"{c}={workload.replicas[c]}" for c in crowded[:5])
        if len(crowded) > 5:
            counts += f" and {len(crowded) - 5} more clusters"
        yield Diagnostic.advice(
            f"{workload.resource.key} runs more than one replica per cluster ({counts}) with "
            "neither pod anti-affinity nor topology spread constraints; one node can take "
            "them all down",
            workload.resource.locate("/spec/template/spec"),
        )


def _scaled_up(hpa: ResourcePlacement, workloads: list[ResourcePlacement]) -> Iterator[Diagnostic]:
    """An HPA's minReplicas above a cluster's share: the autoscaler raises it, as it does for
    the usual Deployment that leaves replicas to its HPA."""
    spec = as_dict(hpa.resource.data.get("spec"))
    low = spec.get("minReplicas", 1)
    for workload in workloads:
        if not isinstance(low, int) or not _scales(spec, hpa.resource, workload.resource):
            continue
        for cluster, replicas in sorted(workload.replicas.items()):
            if replicas is not None and cluster in hpa.replicas and low > replicas:
                yield Diagnostic.advice(
                    f"{hpa.resource.key} on {cluster}: minReplicas {low} exceeds the {replicas} "
                    f"replica(s) of {workload.resource.key} placed there; the autoscaler will "
                    "scale it up",
                    hpa.resource.locate("/spec/minReplicas"),
                )


def _unknown_pods(placements: Sequence[ResourcePlacement]) -> Iterator[Diagnostic]:
    selected = _selecting_services(placements)
    for placement in placements:
        resource = placement.resource
        if resource.kind != "Service" or not placement.replicas:
            continue
        if not as_dict(resource.data.get("spec")).get("selector"):
            continue
        if (resource.namespace, resource.name) not in selected:
            yield Diagnostic.advice(
                f"{resource.key}: no workload among the inputs has pods its selector matches; "
                "fine when an operator creates them from a custom resource, else its traffic "
                "goes nowhere",
                resource.locate("/spec/selector"),
            )


def consistency_checks(placements: Sequence[ResourcePlacement]) -> list[Diagnostic]:
    """Workloads placed nowhere (warnings, errors under --strict), and advice for `plan`:
    usual setups that are not always what was meant."""
    found: list[Diagnostic] = []
    workloads = _workloads(placements)
    for placement in placements:
        if placement.resource.kind == "HorizontalPodAutoscaler":
            found.extend(_scaled_up(placement, workloads))
    found.extend(_unknown_pods(placements))
    for workload in workloads:
        found.extend(_spreading(workload))
        if not workload.replicas and workload.policy is not None:
            found.append(
                Diagnostic.warning(
                    f"{workload.resource.key} lands on zero clusters", workload.resource.locate()
                )
            )
    return found


STACK = StackKind("checks", check=consistency_checks, check_cluster=cluster_checks)

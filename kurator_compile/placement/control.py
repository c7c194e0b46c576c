"""Policy fields that act in Karmada's control plane rather than in its scheduler's choice.

- `suspension` (v1.16+): the binding controller keeps each Work but marks it suspended, so the
  execution controller neither creates nor updates the object on those clusters
  (`controllers/binding/common.go` shouldSuspendDispatching). Here the object is not written
  to their folders; what already runs there is left to the GitOps tool (a pruning sync
  deletes it, hence the warning).
- `dependentOverrides`: the detector holds every object the policy selects back until each
  named OverridePolicy (same namespace; ClusterOverridePolicy for a ClusterPropagationPolicy)
  exists (`util/helper/policy.go` IsDependentOverridesPresent): the object goes nowhere.
- `schedulePriority` (v1.16+) and `placement.workloadAffinity` (v1.17) act on the order of a
  live scheduling queue and on the workloads already running; an offline compile schedules
  each object alone, so they are reported with what Karmada would do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import Diagnostic
from ..model import Policy
from .explain import policy_label

__all__ = [
    "dependent_overrides_missing",
    "live_only_warnings",
    "override_keys",
    "suspended_clusters",
]


def _spec(policy: Policy) -> Mapping[str, Any]:
    return policy.spec if isinstance(policy.spec, Mapping) else {}


def suspended_clusters(policy: Policy, clusters: Iterable[str]) -> frozenset[str]:
    """The clusters Karmada does not dispatch the policy's objects to."""
    suspension = _spec(policy).get("suspension")
    if not isinstance(suspension, Mapping):
        return frozenset()
    if suspension.get("dispatching") is True:
        return frozenset(clusters)
    on = suspension.get("dispatchingOnClusters")
    names = on.get("clusterNames") if isinstance(on, Mapping) else None
    return (
        frozenset(n for n in names if isinstance(n, str))
        if isinstance(names, list)
        else frozenset()
    )


def dependent_overrides_missing(
    policy: Policy, overrides: frozenset[tuple[str, str, str]]
) -> Iterator[tuple[int, str]]:
    """(index, name) of each dependent override the inputs do not hold."""
    names = _spec(policy).get("dependentOverrides")
    if policy.kind == "PropagationPolicy":
        kind, namespace = "OverridePolicy", policy.namespace or "default"
    else:
        kind, namespace = "ClusterOverridePolicy", ""
    for index, name in enumerate(names if isinstance(names, list) else []):
        if (kind, namespace, str(name)) not in overrides:
            yield index, str(name)


def override_keys(docs: Mapping[str, Iterable[Any]]) -> frozenset[tuple[str, str, str]]:
    """(kind, namespace, name) of every OverridePolicy and ClusterOverridePolicy input."""
    found = set()
    for kind in ("OverridePolicy", "ClusterOverridePolicy"):
        for doc in docs.get(kind, ()):
            metadata = doc.data.get("metadata") if isinstance(doc.data, Mapping) else None
            meta = metadata if isinstance(metadata, Mapping) else {}
            namespace = (
                "" if kind.startswith("Cluster") else str(meta.get("namespace") or "default")
            )
            found.add((kind, namespace, str(meta.get("name"))))
    return frozenset(found)


def live_only_warnings(policy: Policy) -> list[Diagnostic]:
    """What Karmada would do with the fields an offline compile cannot act on."""
    spec = _spec(policy)
    label = policy_label(policy)
    found = []
    priority = spec.get("schedulePriority")
    if isinstance(priority, Mapping):
        found.append(
            Diagnostic.warning(
                f"{label}: schedulePriority: Karmada schedules the objects of this policy before "
                f"those of lower priority (PriorityClass {priority.get('priorityClassName')!r}) "
                "and, with priority-based preemption enabled, may evict lower-priority ones "
                "from the clusters; each object is scheduled alone here, so it changes no "
                "placement",
                policy.locate("/spec/schedulePriority"),
            )
        )
    placement = spec.get("placement")
    affinity = placement.get("workloadAffinity") if isinstance(placement, Mapping) else None
    if isinstance(affinity, Mapping):
        found.append(
            Diagnostic.warning(
                f"{label}: workloadAffinity: Karmada keeps workloads that share the affinity "
                "label's value on the same clusters (affinity) or apart (antiAffinity) as the "
                "group's workloads already running there; this compile does not model it, so "
                "the placement ignores it",
                policy.locate("/spec/placement/workloadAffinity"),
            )
        )
    return found

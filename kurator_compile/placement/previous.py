"""An object's previous placement and whether Karmada would schedule it again.

Karmada keeps each binding's last result (`ResourceBinding.spec.clusters`) and runs the
scheduler again only when `doScheduleBinding` finds a reason, in this order: the placement
changed (compared with the one recorded at the last schedule; for clusterAffinities only the
term used last), the replicas changed (Divided: the previous counts no longer add up to the
object's; Duplicated: some cluster runs another count), a reschedule was asked for
(`rescheduleTriggeredAt`), the object is Duplicated or not a workload (every time), or a
cluster of the previous result is being deleted (here: left the fleet). Otherwise nothing
moves: new clusters and label or taint changes alone never move a Divided workload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from .spec import DUPLICATED, PlacementSpec
from .workload import Workload

__all__ = [
    "Facts",
    "History",
    "Locked",
    "PlacementDigest",
    "digest",
    "own_inputs_changed",
    "placement_digest",
    "why_again",
]

PLACEMENT_CHANGED = "its placement changed"
REPLICAS_CHANGED = "its replicas changed"


def digest(value: Any) -> str:
    """A short, stable digest of a JSON-able value (key order does not matter)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Locked:
    """One object's previous result as the placement lock records it."""

    clusters: tuple[tuple[str, int], ...]  # Karmada's stored order; 0 for non-workloads
    replicas: int  # the object's replica count then
    placement: str  # digest of the placement without clusterAffinities
    term: str | None = None  # the clusterAffinities term used
    term_digest: str | None = None


@dataclass(frozen=True)
class History:
    """What the placement lock holds, and which objects to reschedule anew (Fresh mode,
    as Karmada's WorkloadRebalancer or `rescheduleTriggeredAt` asks)."""

    entries: Mapping[str, Locked] = field(default_factory=dict)
    everything: bool = False
    objects: Set[str] = frozenset()
    # Facts per previous result, by identity: objects placed alike share one (a
    # thousand-cluster list of copies is read once, not once per object).
    _facts: dict[int, tuple[tuple[tuple[str, int], ...], Facts]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def asked(self, key: str) -> bool:
        return self.everything or key in self.objects

    def facts(self, clusters: tuple[tuple[str, int], ...]) -> Facts:
        found = self._facts.get(id(clusters))
        if found is None:
            counts = [count for _, count in clusters]
            facts = Facts(sum(counts), frozenset(counts), frozenset(n for n, _ in clusters))
            found = self._facts[id(clusters)] = (clusters, facts)
        return found[1]


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rescheduling rules ask of a previous result."""

    total: int
    counts: frozenset[int]
    names: frozenset[str]


@dataclass(frozen=True, slots=True)
class PlacementDigest:
    """A policy's placement as the lock compares it: everything but clusterAffinities,
    then each clusterAffinities term by name."""

    rest: str
    terms: Mapping[str, str]


def placement_digest(raw: object) -> PlacementDigest:
    placement = raw if isinstance(raw, Mapping) else {}
    rest = {k: v for k, v in placement.items() if k != "clusterAffinities"}
    terms: dict[str, str] = {}
    found = placement.get("clusterAffinities")
    for term in found if isinstance(found, list) else []:
        if isinstance(term, Mapping):
            terms.setdefault(str(term.get("affinityName", "")), digest(term))
    return PlacementDigest(digest(rest), terms)


def _placement_changed(locked: Locked, now: PlacementDigest, spec: PlacementSpec) -> bool:
    """`placementChanged`: any change outside clusterAffinities, or of the term used last."""
    if locked.placement != now.rest:
        return True
    if spec.cluster_affinities is None and locked.term is None:
        return False
    return not locked.term or now.terms.get(locked.term) != locked.term_digest


def why_again(
    key: str,
    locked: Locked,
    now: PlacementDigest,
    spec: PlacementSpec,
    workload: Workload,
    clusters: Set[str],
    history: History,
) -> str | None:
    """Why Karmada would schedule this object again, or None when it keeps `locked`."""
    if _placement_changed(locked, now, spec):
        return PLACEMENT_CHANGED
    facts = history.facts(locked.clusters)
    if spec.has_replica_scheduling:
        if spec.scheduling_type == DUPLICATED:
            if facts.counts - {workload.replicas}:
                return f"{REPLICAS_CHANGED} ({locked.replicas} -> {workload.replicas})"
        elif facts.total != workload.replicas:
            return f"{REPLICAS_CHANGED} ({facts.total} -> {workload.replicas})"
    if history.asked(key):
        return "a reschedule was asked for"
    if not workload.is_workload or spec.strategy == DUPLICATED:
        return "Duplicated objects and non-workloads are scheduled every time"
    if not facts.names <= clusters:
        gone = [name for name, _ in locked.clusters if name not in clusters]
        return f"{', '.join(gone)} left the fleet"
    return None


def own_inputs_changed(why: str) -> bool:
    """Whether `why_again` found the object's own replicas or placement changed."""
    return why.startswith((PLACEMENT_CHANGED, REPLICAS_CHANGED))

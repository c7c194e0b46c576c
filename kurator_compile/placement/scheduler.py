"""One object through Karmada's scheduler: filter, rank, select, assign, with fallback terms.

`FleetScheduler` holds what is shared across the objects of one compile: parsed capacities,
filter results and ranked candidates per policy term, static weights, capacity estimates per
request profile, and finished outcomes per *shape* (policy, replicas and only those workload
traits the policy's strategy looks at). Ten thousand objects under a handful of policies cost
little more than their distinct shapes. It is built per `resolve_placement` call: nothing is
kept between runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from types import MappingProxyType

from ..model import Cluster
from .capacity import CapacityColumns, ClusterCapacity, columns, estimate_all, parse_capacity
from .division import Division, RankedWeights, assign_replicas, static_weights
from .filters import (
    active_affinities,
    affinity_reason,
    overflow_order,
    spread_reason,
    taint_reason,
)
from .spec import AGGREGATED, DUPLICATED, DYNAMIC_WEIGHT, STATIC_WEIGHT, AffinityTerm, PlacementSpec
from .spread import ClusterInfo, GroupSearches, ScheduleError, select_best_clusters
from .workload import INT32_MAX, Workload

__all__ = ["Attempt", "FleetScheduler", "Outcome", "Result", "needs_capacity"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run of the scheduling algorithm (one clusterAffinities term, or the only one)."""

    term: AffinityTerm | None
    dropped: tuple[tuple[str, tuple[str, ...]], ...]  # cluster -> every reason it is unfit
    candidates: Sequence[ClusterInfo]  # feasible, in scheduler order
    capacity_used: bool
    selected: Sequence[ClusterInfo]
    division: Division | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    attempts: tuple[Attempt, ...]

    @property
    def chosen(self) -> Attempt | None:
        last = self.attempts[-1] if self.attempts else None
        return last if last is not None and last.error is None else None

    @property
    def error(self) -> str | None:
        """The first attempt's error when every attempt failed (what Karmada reports)."""
        if self.chosen is not None or not self.attempts:
            return None
        return self.attempts[0].error


@dataclass(frozen=True, slots=True)
class Result:
    """What an object keeps of its schedule: the replicas, or the error Karmada reports."""

    replicas: Mapping[str, int | None] | None  # None when scheduling failed
    term: AffinityTerm | None
    dropped: tuple[tuple[str, tuple[str, ...]], ...]
    error: str | None
    attempts: int

    @classmethod
    def of(cls, outcome: Outcome) -> Result:
        chosen = outcome.chosen
        if chosen is None or chosen.division is None:
            return cls(None, None, (), outcome.error, len(outcome.attempts))
        replicas = MappingProxyType(dict(chosen.division.replicas))
        return cls(replicas, chosen.term, chosen.dropped, None, len(outcome.attempts))


@dataclass(frozen=True, slots=True)
class _Filtered:
    feasible: tuple[Cluster, ...]
    dropped: tuple[tuple[str, tuple[str, ...]], ...]
    orders: tuple[int, ...]  # overflow tier of each feasible cluster


def needs_capacity(placement: PlacementSpec) -> bool:
    """Whether available replicas can change the result: capacity-aware spreading, dynamic
    weights or Aggregated. Otherwise they only reorder candidates, and are not estimated."""
    spreading = bool(placement.spread) and not placement.ignore_spread
    return spreading or placement.strategy in (DYNAMIC_WEIGHT, AGGREGATED)


def _fit_error(total: int, dropped: Sequence[tuple[str, tuple[str, ...]]]) -> str:
    """`FitError.Error`: a sorted histogram of the first reason each cluster failed."""
    if total == 0 or not dropped:
        return f"0/{total} clusters are available: no cluster exists."
    counts = Counter(reasons[0] for _, reasons in dropped)
    histogram = sorted(f"{n} cluster(s) {reason}" for reason, n in counts.items())
    return f"0/{total} clusters are available: {', '.join(histogram)}."


_Key = tuple[object, ...]
# Ranked candidate lists kept for reuse (per policy term and request profile). Bounded so a
# fleet where every object has its own requests does not hold a list per object.
_RANKED_KEPT = 128


def _info(fields: tuple[str, int, bool, int, int, str]) -> ClusterInfo:
    """ClusterInfo without the NamedTuple constructor's keyword handling (hot path)."""
    return tuple.__new__(ClusterInfo, fields)


class FleetScheduler:
    """Schedules objects against one fleet's clusters; caches live as long as the instance."""

    def __init__(self, clusters: Sequence[Cluster]) -> None:
        self.clusters = tuple(sorted(clusters, key=lambda c: c.name))
        self.by_name = {c.name: c for c in self.clusters}
        self.capacity: dict[str, ClusterCapacity] = {}
        self.capacity_problems: list[tuple[Cluster, str, str]] = []
        for cluster in self.clusters:
            parsed, problems = parse_capacity(cluster)
            self.capacity[cluster.name] = parsed
            self.capacity_problems.extend((cluster, name, msg) for name, msg in problems)
        self._filtered: dict[_Key, _Filtered] = {}
        self._columns: dict[_Key, CapacityColumns] = {}
        self._ranked: dict[_Key, list[tuple[tuple[object, ...], ClusterInfo]]] = {}
        self._unknown: dict[_Key, list[tuple[Cluster, int]]] = {}
        self._static: dict[_Key, RankedWeights] = {}
        self._results: dict[_Key, Result] = {}
        self._searches = GroupSearches()  # region spread searches, shared by all objects

    def schedule(
        self, key: int, placement: PlacementSpec, workload: Workload, descending: bool
    ) -> Result:
        """The fresh-schedule result of a workload under policy number `key` (cached)."""
        capacity = needs_capacity(placement) and workload.is_workload
        divides = workload.is_workload and placement.strategy not in (DUPLICATED, "")
        shape = (
            key,
            workload.replicas,
            workload.is_workload,
            workload.requests if capacity else None,
            descending and divides,
        )
        result = self._results.get(shape)
        if result is None:
            result = Result.of(self.trace(key, placement, workload, descending))
            self._results[shape] = result
        return result

    def trace(
        self, key: int, placement: PlacementSpec, workload: Workload, descending: bool
    ) -> Outcome:
        """Every attempt in full (candidates, selection, weights): for explanations. Not
        cached, so that a large fleet does not keep a candidate list per object."""
        if placement.cluster_affinities is None:
            return Outcome((self._attempt(key, placement, None, workload, descending),))
        attempts = []
        for term in placement.cluster_affinities:
            attempts.append(self._attempt(key, placement, term, workload, descending))
            if attempts[-1].error is None:
                break
        return Outcome(tuple(attempts))

    def _filter(
        self, key: int, placement: PlacementSpec, term: AffinityTerm | None, is_workload: bool
    ) -> _Filtered:
        cache_key = (key, -1 if term is None else term.index, is_workload)
        found = self._filtered.get(cache_key)
        if found is not None:
            return found
        affinities = active_affinities(placement, term, is_workload)
        feasible: list[Cluster] = []
        dropped: list[tuple[str, tuple[str, ...]]] = []
        for cluster in self.clusters:
            reasons = tuple(
                r
                for r in (
                    affinity_reason(cluster, affinities),
                    taint_reason(cluster, placement.tolerations),
                    spread_reason(cluster, placement),
                )
                if r is not None
            )
            if reasons:
                dropped.append((cluster.name, reasons))
            else:
                feasible.append(cluster)
        overflow = placement.cluster_affinity is None and term is not None
        orders = tuple(overflow_order(c, term) if overflow else 0 for c in feasible)
        found = _Filtered(tuple(feasible), tuple(dropped), orders)
        self._filtered[cache_key] = found
        return found

    def _estimates(
        self, cache_key: _Key, filtered: _Filtered, requests: tuple[tuple[str, int], ...]
    ) -> list[int | None]:
        table = self._columns.get(cache_key)
        if table is None:
            table = columns([self.capacity[c.name] for c in filtered.feasible])
            self._columns[cache_key] = table
        return estimate_all(table, requests)

    def _infos(
        self,
        cache_key: _Key,
        filtered: _Filtered,
        placement: PlacementSpec,
        workload: Workload,
    ) -> tuple[list[ClusterInfo], bool]:
        """Feasible clusters with available replicas (`calAvailableReplicas`), sorted.

        Known estimates are ranked once per (term, request profile); clusters of unknown
        capacity count as the replica count and are merged in per shape.
        """
        capacity = needs_capacity(placement) and workload.replicas > 0
        requests = workload.requests if capacity else None
        ranked_key = (*cache_key, workload.replicas == 0, requests)
        ranked = self._ranked.get(ranked_key)
        unknown = self._unknown.get(ranked_key, [])
        if ranked is None:
            feasible, orders = filtered.feasible, filtered.orders
            unknown = []
            if workload.replicas == 0 or not capacity:
                fixed = INT32_MAX if workload.replicas == 0 else 0
                ranked = [
                    ((order, -fixed, c.name), _info((c.name, fixed, False, order, 0, c.region)))
                    for c, order in zip(feasible, orders, strict=True)
                ]
            else:
                ranked = []
                estimates = self._estimates(cache_key, filtered, workload.requests)
                for c, order, known in zip(feasible, orders, estimates, strict=True):
                    if known is None:
                        unknown.append((c, order))
                    else:
                        ranked.append(
                            (
                                (order, -known, c.name),
                                _info((c.name, known, False, order, 0, c.region)),
                            )
                        )
            ranked.sort(key=itemgetter(0))
            if len(self._ranked) >= _RANKED_KEPT:  # many request profiles: keep the newest
                oldest = next(iter(self._ranked))
                del self._ranked[oldest], self._unknown[oldest]
            self._ranked[ranked_key] = ranked
            self._unknown[ranked_key] = unknown
        if not unknown:
            return [info for _, info in ranked], capacity
        replicas = workload.replicas
        extra: list[tuple[tuple[object, ...], ClusterInfo]] = [
            (
                (order, -replicas, cluster.name),
                _info((cluster.name, replicas, True, order, 0, cluster.region)),
            )
            for cluster, order in unknown
        ]
        return [info for _, info in sorted(ranked + extra, key=itemgetter(0))], capacity

    def _static_weights(
        self, cache_key: _Key, placement: PlacementSpec, selected: Sequence[ClusterInfo]
    ) -> RankedWeights:
        found = self._static.get(cache_key)
        if found is None:
            weights, _ = static_weights([self.by_name[i.name] for i in selected], placement)
            found = RankedWeights(weights)
            self._static[cache_key] = found
        return found

    def _attempt(
        self,
        key: int,
        placement: PlacementSpec,
        term: AffinityTerm | None,
        workload: Workload,
        descending: bool,
    ) -> Attempt:
        filtered = self._filter(key, placement, term, workload.is_workload)
        if not filtered.feasible:
            return Attempt(
                term,
                filtered.dropped,
                (),
                False,
                (),
                None,
                _fit_error(len(self.clusters), filtered.dropped),
            )
        cache_key = (key, -1 if term is None else term.index, workload.is_workload)
        infos, capacity_used = self._infos(cache_key, filtered, placement, workload)
        try:
            selected = select_best_clusters(placement, infos, workload.replicas, self._searches)
        except ScheduleError as error:
            return Attempt(
                term,
                filtered.dropped,
                infos,
                capacity_used,
                (),
                None,
                f"failed to select clusters: {error}",
            )
        everything = not placement.spread or placement.ignore_spread  # selected is infos
        static = None
        if placement.strategy == STATIC_WEIGHT and workload.is_workload:
            names = None if everything else tuple(i.name for i in selected)
            static = self._static_weights((*cache_key, names), placement, selected)
        overflow = (
            placement.cluster_affinity is None and term is not None and term.overflow is not None
        )
        try:
            division = assign_replicas(
                selected,
                placement,
                workload.replicas,
                workload.is_workload,
                descending,
                overflow,
                static=static,
                presorted=everything,
            )
        except ScheduleError as error:
            return Attempt(
                term,
                filtered.dropped,
                infos,
                capacity_used,
                selected,
                None,
                f"failed to assign replicas: {error}",
            )
        return Attempt(term, filtered.dropped, infos, capacity_used, selected, division, None)

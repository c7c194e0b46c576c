"""One object through Karmada's scheduler: filter, rank, select, assign, with fallback terms.

`FleetScheduler` holds what is shared across the objects of one compile: parsed capacities,
filter results per policy term, static weights, ranked candidates per request profile, spread
selections per replica count, and finished outcomes per *shape* (policy, replicas and only
those workload traits the policy's strategy looks at). Ten thousand objects under a handful
of policies cost little more than their distinct shapes. It is built per `resolve_placement`
call: nothing is kept between runs.

A shape costs a few list slices, not a pass over every cluster: candidates of known capacity
are ranked once per request profile (by groups of clusters that declare the same capacity
when there are such groups), and those of unknown capacity, which count as the replica
count, are bisected in; a region spread gets each region's candidates the same way.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, compress, repeat
from operator import is_not, itemgetter, neg, not_
from types import MappingProxyType
from typing import TypeVar, cast

from ..model import Cluster
from .capacity import (
    CapacityColumns,
    ClusterCapacity,
    columns,
    estimate_all,
    estimate_rows,
    parse_capacity,
)
from .division import Division, Previous, RankedWeights, assign_replicas, static_weights
from .filters import (
    active_affinities,
    affinity_reason,
    overflow_order,
    spread_reason,
    taint_reason,
)
from .spec import AGGREGATED, DUPLICATED, DYNAMIC_WEIGHT, STATIC_WEIGHT, AffinityTerm, PlacementSpec
from .spread import (
    ClusterInfo,
    GroupSearches,
    ScheduleError,
    select_best_clusters,
    sort_clusters,
)
from .workload import INT32_MAX, Workload

__all__ = ["Attempt", "FleetScheduler", "Outcome", "Result", "needs_capacity"]

# ClusterLocality: a cluster the previous result names scores this, every other one 0.
LOCALITY_SCORE = 100


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
    order: tuple[str, ...] = ()  # Karmada's stored order when it is not name order

    @classmethod
    def of(cls, outcome: Outcome) -> Result:
        chosen = outcome.chosen
        if chosen is None or chosen.division is None:
            return cls(None, None, (), outcome.error, len(outcome.attempts))
        division = chosen.division
        replicas = MappingProxyType(dict(division.replicas))
        return cls(
            replicas, chosen.term, chosen.dropped, None, len(outcome.attempts), division.order
        )


@dataclass(frozen=True, slots=True)
class Rescheduling:
    """A binding rescheduled with its previous result: `clusters` in stored order, the
    clusterAffinities term it used last, and whether the reschedule was asked for
    (`rescheduleTriggeredAt`: Fresh mode, clusterAffinities from the first term)."""

    clusters: Previous
    term: str | None
    fresh: bool


@dataclass(slots=True)
class _Filtered:
    feasible: tuple[Cluster, ...]
    dropped: tuple[tuple[str, tuple[str, ...]], ...]
    orders: tuple[int, ...]  # overflow tier of each feasible cluster
    names: tuple[str, ...] = field(init=False)
    regions: tuple[str, ...] = field(init=False)
    tiered: bool = field(init=False)  # some feasible cluster is in an overflow tier
    # Regions numbered in name order from 1 (0: no region), for `_Ranked.by_region`.
    region_numbers: tuple[int, ...] = field(init=False)
    region_names: tuple[str, ...] = field(init=False)
    # `_fit_error` of the dropped clusters, once asked (every object that fails here has it)
    fit_error: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.names = tuple(c.name for c in self.feasible)
        self.regions = tuple(c.region for c in self.feasible)
        self.tiered = any(self.orders)
        self.region_names = ("", *sorted(set(self.regions) - {""}))
        number = {name: i for i, name in enumerate(self.region_names)}
        self.region_numbers = tuple(map(number.__getitem__, self.regions))


# A candidate's place in scheduler order (overflow tier, then available desc) as one int:
# tier * _TIER - available. Availability is within 0..INT32_MAX, so tiers never overlap; the
# name, the last key, is the feasible order (clusters are kept sorted by name).
_TIER = 1 << 32
# Rank by groups of alike clusters when there are at most a quarter as many groups.
_GROUPED = 4


@dataclass(slots=True)
class _Ranked:
    """The candidates of one policy term and request profile, in scheduler order: those of
    known capacity as ClusterInfo with their sort keys (to bisect), those of unknown capacity
    as feasible indexes per overflow tier (ascending), merged in per replica count."""

    keys: list[int]  # tier * _TIER - available
    infos: list[ClusterInfo]
    indexes: list[int]  # of each of `infos` among the feasible clusters
    unknown: tuple[tuple[int, tuple[int, ...]], ...]
    # The same per region (clusters without one left out), once a region spread asks.
    regions: dict[str, _Ranked] | None = None

    def by_region(self, filtered: _Filtered) -> dict[str, _Ranked]:
        """Split by region: one stable sort of positions by region number, then slices."""
        if self.regions is None:
            numbers = filtered.region_numbers
            names = filtered.region_names
            ids = list(map(numbers.__getitem__, self.indexes))
            positions = sorted(range(len(ids)), key=ids.__getitem__)
            ids = list(map(ids.__getitem__, positions))
            known: dict[int, tuple[list[int], list[ClusterInfo], list[int]]] = {}
            start = bisect_right(ids, 0)  # number 0: no region
            while start < len(ids):
                end = bisect_right(ids, ids[start], start)
                part = positions[start:end]
                known[ids[start]] = (
                    list(map(self.keys.__getitem__, part)),
                    list(map(self.infos.__getitem__, part)),
                    list(map(self.indexes.__getitem__, part)),
                )
                start = end
            unknown: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
            for order, indexes in self.unknown:
                tier: dict[int, list[int]] = {}
                for i in indexes:
                    if numbers[i]:
                        tier.setdefault(numbers[i], []).append(i)
                for number, members in tier.items():
                    unknown.setdefault(number, []).append((order, tuple(members)))
            self.regions = {
                names[number]: _Ranked(
                    *known.get(number, ([], [], [])), tuple(unknown.get(number, ()))
                )
                for number in known.keys() | unknown.keys()
            }
        return self.regions


@dataclass(frozen=True, slots=True)
class _Capacities:
    """The capacities of one policy term's feasible clusters, and those clusters grouped by
    (overflow tier, capacity row): a group's clusters get one estimate for every request
    profile, so they are ranked as one (feasible indexes ascending, i.e. in name order)."""

    table: CapacityColumns
    groups: list[tuple[int, int, list[int]]]  # (tier, row of `table`, feasible indexes)


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
_V = TypeVar("_V")
# Ranked candidate lists kept for reuse (per policy term and request profile), the
# unknown-capacity candidates per replica count, spread selections, and runs of alike
# clusters (counted in clusters). Bounded so that a fleet where every object has its own
# requests does not hold a list per object.
_RANKED_KEPT = 128
_EXTRA_KEPT = 1024
_SELECTED_KEPT = 1024
_RUN_CLUSTERS_KEPT = 1 << 18
_NAME = itemgetter(0)


def _info(fields: tuple[str, int, bool, int, int, str]) -> ClusterInfo:
    """ClusterInfo without the NamedTuple constructor's keyword handling (hot path)."""
    return tuple.__new__(ClusterInfo, fields)


_make_info = partial(tuple.__new__, ClusterInfo)  # as `_info`, and callable from map()


def _one(value: object) -> int:
    return 1


class _Bounded(OrderedDict[_Key, _V]):
    """A cache that forgets its oldest entries past `limit` (entries, or the total `size`
    of their values). An OrderedDict: deleting a plain dict's first entry again and again
    makes finding the next first entry slower and slower (it skips every deleted slot)
    until the dict is rebuilt."""

    def __init__(self, limit: int, size: Callable[[_V], int] = _one) -> None:
        super().__init__()
        self.limit = limit
        self.size = size
        self.total = 0

    def keep(self, key: _Key, value: _V) -> None:
        """Add an entry that is not there yet."""
        self[key] = value
        self.total += self.size(value)
        while self.total > self.limit and len(self) > 1:
            self.total -= self.size(self.popitem(last=False)[1])


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
        self._columns: dict[_Key, _Capacities] = {}
        self._runs: _Bounded[tuple[list[int], list[ClusterInfo]]] = _Bounded(
            _RUN_CLUSTERS_KEPT, lambda run: len(run[0])
        )
        self._ranked: _Bounded[_Ranked] = _Bounded(_RANKED_KEPT)
        self._extra: _Bounded[list[ClusterInfo]] = _Bounded(_EXTRA_KEPT)
        self._selected: _Bounded[Sequence[ClusterInfo] | str] = _Bounded(_SELECTED_KEPT)
        self._static: dict[_Key, RankedWeights] = {}
        self._results: dict[_Key, Result] = {}
        self._traits: dict[int, tuple[bool, bool]] = {}
        self._searches = GroupSearches()  # region spread searches, shared by all objects
        self._contained: dict[tuple[int, int], bool] = {}
        self._kept_alive: list[object] = []

    def schedule(
        self, key: int, placement: PlacementSpec, workload: Workload, descending: bool
    ) -> Result:
        """The fresh-schedule result of a workload under policy number `key` (cached)."""
        traits = self._traits.get(key)
        if traits is None:  # what of the policy the shape depends on
            traits = needs_capacity(placement), placement.strategy not in (DUPLICATED, "")
            self._traits[key] = traits
        is_workload = workload.is_workload
        shape = (
            key,
            workload.replicas,
            is_workload,
            workload.requests if traits[0] and is_workload else None,
            descending and traits[1] and is_workload,
        )
        result = self._results.get(shape)
        if result is None:
            result = Result.of(self.trace(key, placement, workload, descending))
            self._results[shape] = result
        return result

    def reschedule(
        self,
        key: int,
        placement: PlacementSpec,
        workload: Workload,
        descending: bool,
        previous: Rescheduling,
    ) -> Result:
        """The result of a reschedule with a previous result. A copy to every selected
        cluster with no spread selection is the fresh result whenever that already holds
        every previous cluster (cached); anything else is worked out in full."""
        copies = placement.strategy == DUPLICATED or not workload.is_workload
        if copies and (not placement.spread or placement.ignore_spread):
            fresh = self.schedule(key, placement, workload, descending)
            if fresh.replicas is not None and self._within(previous.clusters, fresh.replicas):
                same_term = placement.cluster_affinities is None or (
                    not previous.fresh
                    and fresh.term is not None
                    and fresh.term.name == previous.term
                )
                if same_term:
                    return fresh
        return Result.of(self.trace(key, placement, workload, descending, previous))

    def _within(self, clusters: Previous, result: Mapping[str, int | None]) -> bool:
        """Every previous cluster is in `result` (asked once per pair: objects placed alike
        share both, a thousand-cluster previous result included)."""
        pair = (id(clusters), id(result))
        found = self._contained.get(pair)
        if found is None:
            found = all(name in result for name, _ in clusters)
            self._contained[pair] = found
            self._kept_alive.append((clusters, result))  # the ids stay theirs
        return found

    def trace(
        self,
        key: int,
        placement: PlacementSpec,
        workload: Workload,
        descending: bool,
        previous: Rescheduling | None = None,
    ) -> Outcome:
        """Every attempt in full (candidates, selection, weights): for explanations. Not
        cached, so that a large fleet does not keep a candidate list per object."""
        attempt = self._attempt if previous is None else partial(self._again, previous)
        if placement.cluster_affinities is None:
            return Outcome((attempt(key, placement, None, workload, descending),))
        terms = placement.cluster_affinities
        if previous is not None and not previous.fresh:  # resume at the term used last
            names = [term.name for term in terms]
            terms = terms[names.index(previous.term) :] if previous.term in names else terms
        attempts = []
        for term in terms:
            attempts.append(attempt(key, placement, term, workload, descending))
            if attempts[-1].error is None:
                break
        return Outcome(tuple(attempts))

    def _again(
        self,
        previous: Rescheduling,
        key: int,
        placement: PlacementSpec,
        term: AffinityTerm | None,
        workload: Workload,
        descending: bool,
    ) -> Attempt:
        """`_attempt` for a binding with a previous result, uncached: previous clusters skip
        the taint filter and score first; their replicas count as available there."""
        before = dict(previous.clusters)
        feasible, dropped = self._split(placement, term, workload.is_workload, before.keys())
        if not feasible:
            return Attempt(
                term, tuple(dropped), (), False, (), None, _fit_error(len(self.clusters), dropped)
            )
        capacity = needs_capacity(placement) and workload.replicas > 0
        estimates: Sequence[int | None]
        if capacity:
            table = columns([self.capacity[c.name] for c in feasible])
            estimates = estimate_all(table, workload.requests)
        else:
            estimates = [INT32_MAX if workload.replicas == 0 else 0] * len(feasible)
        overflow = placement.cluster_affinity is None and term is not None
        infos = sort_clusters(
            [
                ClusterInfo(
                    cluster.name,
                    (workload.replicas if estimate is None else estimate)
                    + before.get(cluster.name, 0),
                    estimate is None,
                    overflow_order(cluster, term) if overflow else 0,
                    LOCALITY_SCORE if cluster.name in before else 0,
                    cluster.region,
                )
                for cluster, estimate in zip(feasible, estimates, strict=True)
            ]
        )
        regions: dict[str, list[ClusterInfo]] = {}
        for info in infos:
            if info.region:
                regions.setdefault(info.region, []).append(info)
        try:
            selected = select_best_clusters(
                placement, infos, workload.replicas, self._searches, regions
            )
        except ScheduleError as error:
            message = f"failed to select clusters: {error}"
            return Attempt(term, tuple(dropped), infos, capacity, (), None, message)
        static = None
        if placement.strategy == STATIC_WEIGHT and workload.is_workload:
            chosen = [self.by_name[i.name] for i in selected]
            static = RankedWeights(static_weights(chosen, placement)[0])
        try:
            division = assign_replicas(
                selected,
                placement,
                workload.replicas,
                workload.is_workload,
                descending,
                overflow and term is not None and term.overflow is not None,
                static=static,
                previous=previous.clusters,
                fresh=previous.fresh,
            )
        except ScheduleError as error:
            message = f"failed to assign replicas: {error}"
            return Attempt(term, tuple(dropped), infos, capacity, selected, None, message)
        return Attempt(term, tuple(dropped), infos, capacity, selected, division, None)

    def _split(
        self,
        placement: PlacementSpec,
        term: AffinityTerm | None,
        is_workload: bool,
        untainted: AbstractSet[str],
    ) -> tuple[list[Cluster], list[tuple[str, tuple[str, ...]]]]:
        """The filter plugins: feasible clusters, and the others with every reason. Clusters
        in `untainted` (the previous result's) skip the taint check, as in Karmada."""
        affinities = active_affinities(placement, term, is_workload)
        feasible: list[Cluster] = []
        dropped: list[tuple[str, tuple[str, ...]]] = []
        for cluster in self.clusters:
            taint = (
                None if cluster.name in untainted else taint_reason(cluster, placement.tolerations)
            )
            reasons = tuple(
                r
                for r in (
                    affinity_reason(cluster, affinities),
                    taint,
                    spread_reason(cluster, placement),
                )
                if r is not None
            )
            if reasons:
                dropped.append((cluster.name, reasons))
            else:
                feasible.append(cluster)
        return feasible, dropped

    def _filter(
        self, key: int, placement: PlacementSpec, term: AffinityTerm | None, is_workload: bool
    ) -> _Filtered:
        cache_key = (key, -1 if term is None else term.index, is_workload)
        found = self._filtered.get(cache_key)
        if found is not None:
            return found
        feasible, dropped = self._split(placement, term, is_workload, frozenset())
        overflow = placement.cluster_affinity is None and term is not None
        orders = tuple(overflow_order(c, term) if overflow else 0 for c in feasible)
        found = _Filtered(tuple(feasible), tuple(dropped), orders)
        self._filtered[cache_key] = found
        return found

    def _table(self, cache_key: _Key, filtered: _Filtered) -> _Capacities:
        """The feasible clusters' capacities as columns, and their groups."""
        found = self._columns.get(cache_key)
        if found is None:
            table = columns([self.capacity[c.name] for c in filtered.feasible])
            members: dict[tuple[int, int], list[int]] = {}
            for i, group in enumerate(zip(filtered.orders, table.classes, strict=True)):
                members.setdefault(group, []).append(i)
            groups = [(order, row, indexes) for (order, row), indexes in members.items()]
            found = _Capacities(table, groups)
            self._columns[cache_key] = found
        return found

    def _infos(
        self,
        cache_key: _Key,
        filtered: _Filtered,
        placement: PlacementSpec,
        workload: Workload,
    ) -> tuple[_Ranked, list[ClusterInfo], bool]:
        """Feasible clusters with available replicas (`calAvailableReplicas`), sorted.

        Known estimates are ranked once per (term, request profile); clusters of unknown
        capacity count as the replica count and are merged in per shape (`_merged`).
        """
        capacity = needs_capacity(placement) and workload.replicas > 0
        requests = workload.requests if capacity else None
        ranked_key = (*cache_key, workload.replicas == 0, requests)
        ranked = self._ranked.get(ranked_key)
        if ranked is None:
            ranked = self._rank(cache_key, filtered, workload, capacity)
            self._ranked.keep(ranked_key, ranked)
        return ranked, self._merged(cache_key, filtered, ranked, workload.replicas), capacity

    def _merged(
        self, cache_key: _Key, filtered: _Filtered, ranked: _Ranked, replicas: int
    ) -> list[ClusterInfo]:
        """`ranked` with its unknown-capacity clusters counted as `replicas`, in order.

        They sit together where the known estimates equal `replicas`, found by bisection,
        so a shape costs a few list slices rather than a sort of every candidate.
        """
        if not ranked.unknown:
            return ranked.infos
        keys, infos = ranked.keys, ranked.infos
        merged: list[ClusterInfo] = []
        start = 0
        for order, indexes in ranked.unknown:
            key = order * _TIER - replicas
            low = bisect_left(keys, key, start)
            high = bisect_right(keys, key, low)
            extra = self._unknown_infos(cache_key, filtered, order, indexes, replicas)
            merged += infos[start:low]
            # names break the tie; a stable sort keeps known clusters first on equal names
            merged += sorted(infos[low:high] + extra, key=_NAME) if low < high else extra
            start = high
        merged += infos[start:]
        return merged

    def _rank(
        self, cache_key: _Key, filtered: _Filtered, workload: Workload, capacity: bool
    ) -> _Ranked:
        """Known-capacity candidates sorted by (tier, available desc, name), stably.

        Once per request profile: indexes are sorted on one int each and the lists are built
        by C-level maps (a fleet where every object asks differently pays this per object).
        When clusters share capacities, groups of them are ranked instead (`_rank_groups`).
        """
        names, regions, orders = filtered.names, filtered.regions, filtered.orders
        count = len(names)
        available: list[int | None]
        if not capacity:  # every candidate alike: MaxInt32 for non-workloads, else 0
            available = [INT32_MAX if workload.replicas == 0 else 0] * count
        else:
            found = self._table(cache_key, filtered)
            if len(found.groups) * _GROUPED <= count:
                return self._rank_groups(cache_key, filtered, found, workload.requests)
            available = estimate_all(found.table, workload.requests)
        unknown: dict[int, list[int]] = {}
        known: Sequence[int]
        if None in available:
            present = list(map(is_not, available, repeat(None)))
            known = list(compress(range(count), present))
            values = cast(list[int], list(compress(available, present)))
            missing = compress(range(count), map(not_, present))
            if filtered.tiered:
                for i in missing:
                    unknown.setdefault(orders[i], []).append(i)
            else:
                unknown[0] = list(missing)
        else:
            known = range(count)
            values = cast(list[int], available)
        if filtered.tiered:
            tiers = map(orders.__getitem__, known)
            keys = [order * _TIER - a for order, a in zip(tiers, values, strict=True)]
        else:
            keys = list(map(neg, values))
        positions = sorted(range(len(keys)), key=keys.__getitem__)
        indexes = list(map(known.__getitem__, positions))
        infos = list(
            map(
                _make_info,
                zip(
                    map(names.__getitem__, indexes),
                    map(values.__getitem__, positions),
                    repeat(False),
                    map(orders.__getitem__, indexes),
                    repeat(0),
                    map(regions.__getitem__, indexes),
                ),
            )
        )
        return _Ranked(
            list(map(keys.__getitem__, positions)),
            infos,
            indexes,
            tuple((order, tuple(unknown[order])) for order in sorted(unknown)),
        )

    def _rank_groups(
        self,
        cache_key: _Key,
        filtered: _Filtered,
        found: _Capacities,
        requests: tuple[tuple[str, int], ...],
    ) -> _Ranked:
        """`_rank` by groups of clusters that declare the same capacity: one estimate and
        one sort key per group. Groups with equal keys form a run, merged in feasible
        (name) order as the stable sort has them; each run's ClusterInfo list is built once
        and shared by every profile that gives it the same availability."""
        rows = estimate_rows(found.table, requests)
        unknown: dict[int, list[int]] = {}
        ranked: list[tuple[int, int, int]] = []  # (key, group number, estimate)
        for number, (order, row, members) in enumerate(found.groups):
            estimate = rows[row]
            if estimate is None:
                unknown.setdefault(order, []).extend(members)
            else:
                ranked.append((order * _TIER - estimate, number, estimate))
        ranked.sort()
        keys: list[int] = []
        infos: list[ClusterInfo] = []
        indexes: list[int] = []
        start = 0
        while start < len(ranked):
            key, number, estimate = ranked[start]
            end = start + 1
            while end < len(ranked) and ranked[end][0] == key:
                end += 1
            numbers = tuple(number for _, number, _ in ranked[start:end])
            members, part = self._run(cache_key, filtered, found, numbers, estimate)
            keys += repeat(key, len(members))
            indexes += members
            infos += part
            start = end
        return _Ranked(
            keys,
            infos,
            indexes,
            tuple((order, tuple(sorted(unknown[order]))) for order in sorted(unknown)),
        )

    def _run(
        self,
        cache_key: _Key,
        filtered: _Filtered,
        found: _Capacities,
        numbers: tuple[int, ...],
        available: int,
    ) -> tuple[list[int], list[ClusterInfo]]:
        """The clusters of groups `numbers` (all with this availability) in feasible order,
        with their ClusterInfo; cached, as the same groups tie again and again (on the
        pod-count bound, say) whatever the requests."""
        run_key = (*cache_key, numbers, available)
        found_run = self._runs.get(run_key)
        if found_run is None:
            groups = found.groups
            if len(numbers) == 1:
                members = groups[numbers[0]][2]
            else:  # equal keys: interleave by feasible index, as the stable sort does
                members = sorted(chain.from_iterable(groups[n][2] for n in numbers))
            names, regions, orders = filtered.names, filtered.regions, filtered.orders
            infos = [_info((names[i], available, False, orders[i], 0, regions[i])) for i in members]
            found_run = (members, infos)
            self._runs.keep(run_key, found_run)
        return found_run

    def _unknown_infos(
        self,
        cache_key: _Key,
        filtered: _Filtered,
        order: int,
        indexes: tuple[int, ...],
        replicas: int,
    ) -> list[ClusterInfo]:
        """Unknown-capacity candidates counted as `replicas`, in name order (cached: the
        same clusters are unknown to most request profiles)."""
        extra_key = (*cache_key, order, indexes, replicas)
        extra = self._extra.get(extra_key)
        if extra is None:
            names, regions = filtered.names, filtered.regions
            extra = [_info((names[i], replicas, True, order, 0, regions[i])) for i in indexes]
            self._extra.keep(extra_key, extra)
        return extra

    def _static_weights(
        self, cache_key: _Key, placement: PlacementSpec, selected: Sequence[ClusterInfo]
    ) -> RankedWeights:
        found = self._static.get(cache_key)
        if found is None:
            weights, _ = static_weights([self.by_name[i.name] for i in selected], placement)
            found = RankedWeights(weights)
            self._static[cache_key] = found
        return found

    def _select(
        self,
        cache_key: _Key,
        filtered: _Filtered,
        ranked: _Ranked,
        infos: Sequence[ClusterInfo],
        placement: PlacementSpec,
        workload: Workload,
    ) -> Sequence[ClusterInfo] | str:
        """The spread constraints' selection, or the error. Cached per term, replicas and
        request profile by the caller: objects that differ only in their UID share it. A
        region spread gets the candidates of each region from the per-region ranking."""
        regions = None
        if placement.spread_by("region") is not None:
            regions = {
                region: self._merged(cache_key, filtered, part, workload.replicas)
                for region, part in ranked.by_region(filtered).items()
            }
        try:
            return select_best_clusters(
                placement, infos, workload.replicas, self._searches, regions
            )
        except ScheduleError as error:
            return f"failed to select clusters: {error}"

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
            if filtered.fit_error is None:
                filtered.fit_error = _fit_error(len(self.clusters), filtered.dropped)
            return Attempt(term, filtered.dropped, (), False, (), None, filtered.fit_error)
        cache_key = (key, -1 if term is None else term.index, workload.is_workload)
        ranked, infos, capacity_used = self._infos(cache_key, filtered, placement, workload)
        everything = not placement.spread or placement.ignore_spread  # selected is infos
        if everything:
            selected: Sequence[ClusterInfo] | str = infos
        else:
            requests = workload.requests if capacity_used else None
            select_key = (*cache_key, workload.replicas, requests)
            found = self._selected.get(select_key)
            if found is None:
                found = self._select(cache_key, filtered, ranked, infos, placement, workload)
                self._selected.keep(select_key, found)
            selected = found
        if isinstance(selected, str):
            return Attempt(term, filtered.dropped, infos, capacity_used, (), None, selected)
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

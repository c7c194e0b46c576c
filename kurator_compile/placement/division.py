"""Replica assignment over the selected clusters (`core/common.go`, `core/assignment.go`).

A first schedule: Duplicated copies the count; static weights divide by Webster with weights
from `staticWeightList`; dynamic weights divide by available replicas; Aggregated keeps the
shortest prefix of clusters (most available first) that fits, then divides by Webster over
their availability. Zero-replica clusters are dropped afterwards, as Karmada does.

Webster over N replicas only ever seats the N parties with the best first-seat keys (weight,
then name), so with a ranked party list the division costs O(N log N) however many clusters
take part: the ranking is computed once per weight set and reused.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from ..model import Cluster
from .selectors import ClusterAffinity
from .spec import AGGREGATED, DUPLICATED, DYNAMIC_WEIGHT, STATIC_WEIGHT, PlacementSpec
from .spread import ClusterInfo, ScheduleError
from .webster import allocate_webster_seats, dispense

__all__ = [
    "Division",
    "Previous",
    "RankedWeights",
    "assign_replicas",
    "divide",
    "rescale_by_available",
    "static_weights",
]

# A binding's previous result (`spec.clusters`), in Karmada's stored order.
Previous = Sequence[tuple[str, int]]


@dataclass(frozen=True)
class RankedWeights:
    """A weight set with its parties ranked by first-seat key (weight desc, then name)."""

    weights: Mapping[str, int]
    _ranked: dict[bool, list[tuple[str, int]]] = field(default_factory=dict, compare=False)

    def ranked(self, descending: bool) -> list[tuple[str, int]]:
        found = self._ranked.get(descending)
        if found is None:
            items = sorted(self.weights.items(), reverse=descending)  # name order for ties
            found = sorted(items, key=lambda item: -item[1])  # stable: keeps the name order
            self._ranked[descending] = found
        return found


def webster_top(
    replicas: int, ranked: Sequence[tuple[str, int]], descending: bool
) -> dict[str, int]:
    """Webster over a ranked party list, non-zero seats only (see the module docstring)."""
    if replicas <= 0 or not ranked or ranked[0][1] <= 0:
        return {}
    top = ranked[:replicas]
    seats = allocate_webster_seats(replicas, dict(top), None, descending)
    return {name: count for name, count in seats.items() if count > 0}


@dataclass(frozen=True)
class Division:
    """What was divided and how; `weights` (fed to Webster) is computed when first asked."""

    replicas: Mapping[str, int | None]  # zero entries already removed
    # Karmada's stored order of `replicas` when it is not name order (a rescale's result).
    order: tuple[str, ...] = ()
    tiers: tuple[tuple[int, int], ...] = ()  # (overflow tier, replicas given to it)
    weight_source: Callable[[], tuple[tuple[str, int], ...]] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def weights(self) -> tuple[tuple[str, int], ...]:
        return () if self.weight_source is None else self.weight_source()


def static_weights(
    clusters: Sequence[Cluster], placement: PlacementSpec
) -> tuple[dict[str, int], bool]:
    """`getStaticWeightInfoList`: max over matching rules; zero-weight clusters are left out;
    when no cluster has a weight, every cluster gets 1. Returns (weights, all_defaulted)."""
    weights: dict[str, int] = {}
    if placement.has_weight_preference:
        by_name = {cluster.name: cluster for cluster in clusters}
        for rule in placement.static_weights:
            for name in _matching(rule.target, by_name):
                weights[name] = max(weights.get(name, 0), rule.weight)
        weights = {name: weight for name, weight in weights.items() if weight > 0}
    if sum(weights.values()) == 0:
        return {c.name: 1 for c in clusters}, True
    return weights, False


def _matching(affinity: ClusterAffinity, clusters: Mapping[str, Cluster]) -> list[str]:
    """The clusters a rule's targetCluster matches; a plain clusterNames list (the usual
    one-rule-per-cluster weight list) is looked up instead of tested against every cluster."""
    if affinity.names_only:
        return [n for n in affinity.names if n in clusters and n not in affinity.exclude]
    return [name for name, c in clusters.items() if affinity.matches(c)]


def _by_available(infos: Sequence[ClusterInfo], presorted: bool) -> list[ClusterInfo]:
    """`sort.Sort` by available desc. Candidates already in scheduler order (available desc,
    then name) stay as they are; Go's sort keeps them too (a sorted input is left alone)."""
    return list(infos) if presorted else sorted(infos, key=_negative_available)


def _ranked_available(
    order: Sequence[ClusterInfo], replicas: int, descending: bool, presorted: bool
) -> list[tuple[str, int]]:
    """The best `replicas` parties by (available desc, name) from an available-desc list,
    whose ties may be in any name order: the tie block at the cut is taken whole.

    When `order` is in scheduler order (ties in ascending name order), the best parties are
    found by position instead: the first `replicas`, or with descending names the tail of
    the tie block at the cut. The tie block can be hundreds of clusters (every cluster of
    unknown capacity, every cluster whose pod count bounds the estimate).
    """
    end = min(replicas, len(order))
    if presorted and end > 0:
        if descending and end < len(order):
            edge = -order[end - 1].available
            first = bisect_left(order, edge, hi=end, key=_negative_available)
            last = bisect_right(order, edge, lo=end, key=_negative_available)
            order = [*order[:first], *order[last - (end - first) : last]]
        else:
            order = order[:end]
        end = len(order)
    elif end < len(order):
        edge = order[end - 1].available
        while end < len(order) and order[end].available == edge:
            end += 1
    head = sorted(((i.name, i.available) for i in order[:end]), reverse=descending)
    return sorted(head, key=lambda item: -item[1])[:replicas]


def _negative_available(info: ClusterInfo) -> int:
    return -info.available


_AVAILABLE = attrgetter("available")


def _divide_by_available(
    infos: Sequence[ClusterInfo],
    replicas: int,
    aggregated: bool,
    descending: bool,
    presorted: bool,
) -> tuple[dict[str, int], Callable[[], tuple[tuple[str, int], ...]]]:
    """`dynamicScaleUp` at a first schedule: Webster over available replicas."""
    if replicas == 0:
        return {}, tuple  # nothing to scale up: the previous (empty) result stands
    order = _by_available(infos, presorted)
    total = sum(map(_AVAILABLE, order))
    if total < replicas:
        raise ScheduleError(f"Clusters available replicas {total} are not enough to schedule.")
    if aggregated:
        running = 0
        for end, info in enumerate(order):
            running += info.available
            if running >= replicas:
                order = order[: end + 1]
                break
    ranked = _ranked_available(order, replicas, descending, presorted)
    result = webster_top(replicas, ranked, descending)
    return result, lambda: tuple(sorted((i.name, i.available) for i in order))


def _by_weight(parties: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """`sort.Sort(TargetClustersList)`: weight desc, ties in the given order (Go's insertion
    sort is stable for the short lists where ties matter; see the README)."""
    return sorted(parties, key=lambda party: -party[1])


def _divide_delta(
    target: int,
    weights: list[tuple[str, int]],
    scheduled: list[tuple[str, int]],
    aggregated: bool,
    descending: bool,
) -> list[tuple[str, int]]:
    """`dynamicDivideReplicas`: Webster over `weights` (Aggregated: clusters that already
    run replicas first, then the shortest prefix that fits), merged into `scheduled`."""
    total = sum(weight for _, weight in weights)
    if total < target:
        raise ScheduleError(f"Clusters available replicas {total} are not enough to schedule.")
    if aggregated:
        prior = {name for name, count in scheduled if count > 0}
        weights = [w for w in weights if w[0] in prior] + [w for w in weights if w[0] not in prior]
        running = 0
        for end, (_, weight) in enumerate(weights):
            running += weight
            if running >= target:
                weights = weights[: end + 1]
                break
    new = list(allocate_webster_seats(target, dict(weights), None, descending).items())
    if not scheduled or not new:
        return new or list(scheduled)
    # `MergeTargetClusters`: the new result in name order with the old counts added, then
    # old clusters the new result does not list (Go appends those in map order; we keep
    # their stored order so the result is deterministic).
    old = dict(scheduled)
    merged = [(name, count + old.pop(name, 0)) for name, count in new]
    return merged + [(name, count) for name, count in scheduled if name in old]


def rescale_by_available(
    order: Sequence[ClusterInfo],
    replicas: int,
    aggregated: bool,
    descending: bool,
    previous: Previous,
    fresh: bool = False,
) -> list[tuple[str, int]]:
    """`assignByDynamicStrategy` with a previous result, in Karmada's stored order.

    `order` holds the candidates in scheduler order; their `available` is
    AvailableReplicas (free capacity plus the replicas `previous` puts there), so free
    capacity alone (AllocatableReplicas) is `available` minus those. Steady mode keeps what
    runs: equal totals keep the previous result, a scale-up divides only the missing
    replicas by free capacity and adds them, a scale-down re-divides the new total by the
    previous counts. Fresh mode (an explicit reschedule) divides everything again.
    """
    candidates = {info.name for info in order}
    before = dict(previous)
    scheduled = [(name, count) for name, count in previous if name in candidates]
    assigned = sum(count for _, count in scheduled)
    if fresh:
        weights = _by_weight([(i.name, i.available) for i in order])
        return _divide_delta(replicas, weights, [], aggregated, descending)
    if assigned > replicas:
        return _divide_delta(replicas, _by_weight(scheduled), [], aggregated, descending)
    if assigned < replicas:
        free = [(i.name, i.available - before.get(i.name, 0)) for i in order]
        return _divide_delta(
            replicas - assigned, _by_weight(free), scheduled, aggregated, descending
        )
    return scheduled


def _clusters(infos: Sequence[ClusterInfo], known: Sequence[Cluster]) -> list[Cluster]:
    """The Cluster of each info (static weight rules may look at labels and fields)."""
    by_name = {c.name: c for c in known}
    return [by_name.get(i.name) or Cluster(i.name, region=i.region) for i in infos]


def divide(
    infos: Sequence[ClusterInfo],
    placement: PlacementSpec,
    replicas: int,
    descending: bool,
    clusters: Sequence[Cluster] = (),
) -> tuple[dict[str, int], dict[str, int]]:
    """One strategy over one set of clusters, every cluster listed (zeros included), as
    Karmada's assign functions return it; also the weights used. For tests and tools."""
    strategy = placement.strategy
    if strategy == DUPLICATED:
        return {i.name: replicas for i in infos}, {}
    if strategy == STATIC_WEIGHT:
        weights, _ = static_weights(_clusters(infos, clusters), placement)
        return dispense(replicas, weights, descending=descending), weights
    if strategy in (DYNAMIC_WEIGHT, AGGREGATED):
        result, used = _divide_by_available(
            infos, replicas, strategy == AGGREGATED, descending, False
        )
        return {**dict.fromkeys((n for n, _ in used()), 0), **result}, dict(used())
    raise unsupported(placement)


def _stored(result: Mapping[str, int]) -> tuple[str, ...]:
    """The stored order when it is not name order (only a rescale makes such a result)."""
    names = tuple(result)
    return () if list(names) == sorted(names) else names


def unsupported(placement: PlacementSpec) -> ScheduleError:
    return ScheduleError(
        "unsupported replica scheduling strategy, replicaSchedulingType: "
        f"{placement.scheduling_type}, replicaDivisionPreference: "
        f"{placement.division_preference}, please try another scheduling strategy"
    )


def _assign_tier(
    infos: Sequence[ClusterInfo],
    placement: PlacementSpec,
    replicas: int,
    descending: bool,
    static: RankedWeights | None,
    presorted: bool,
    previous: Previous | None = None,
    fresh: bool = False,
) -> tuple[dict[str, int], Callable[[], tuple[tuple[str, int], ...]]]:
    """One tier's division; with `previous`, dynamic weights and Aggregated rescale from it
    and the dict is in Karmada's stored order."""
    strategy = placement.strategy
    if previous is not None and strategy in (DYNAMIC_WEIGHT, AGGREGATED):
        found = rescale_by_available(
            infos, replicas, strategy == AGGREGATED, descending, previous, fresh
        )
        return {name: count for name, count in found if count > 0}, lambda: tuple(
            sorted((i.name, i.available) for i in infos)
        )
    if strategy == DUPLICATED:
        return ({i.name: replicas for i in infos} if replicas > 0 else {}), tuple
    if strategy == STATIC_WEIGHT:
        if static is None:
            static = RankedWeights(static_weights(_clusters(infos, ()), placement)[0])
        chosen = static
        result = webster_top(replicas, chosen.ranked(descending), descending)
        return result, lambda: tuple(sorted(chosen.weights.items()))
    if strategy in (DYNAMIC_WEIGHT, AGGREGATED):
        return _divide_by_available(infos, replicas, strategy == AGGREGATED, descending, presorted)
    raise unsupported(placement)


def assign_replicas(
    infos: Sequence[ClusterInfo],
    placement: PlacementSpec,
    replicas: int,
    is_workload: bool,
    descending: bool = False,
    overflow: bool = False,
    *,
    static: RankedWeights | None = None,
    presorted: bool = False,
    previous: Previous | None = None,
    fresh: bool = False,
) -> Division:
    """`AssignReplicas`: non-workloads go to every selected cluster (replicas None).

    `static` may carry precomputed static weights for `infos`; `presorted` says `infos` are
    in scheduler order (available desc, then name) within each overflow tier. `previous` is
    the binding's earlier result (`fresh`: an explicit reschedule), see
    `rescale_by_available`.
    """
    if not infos:
        raise ScheduleError("no clusters available to schedule")
    if not is_workload:
        return Division(dict.fromkeys((i.name for i in infos), None))
    if not overflow:
        result, weights = _assign_tier(
            infos, placement, replicas, descending, static, presorted, previous, fresh
        )
        return Division(dict(sorted(result.items())), _stored(result), (), weights)
    tiers: dict[int, list[ClusterInfo]] = {}
    for info in infos:
        tiers.setdefault(info.overflow, []).append(info)
    remaining = replicas
    merged: dict[str, int] = {}
    sources: list[Callable[[], tuple[tuple[str, int], ...]]] = []
    given: list[tuple[int, int]] = []
    for tier in sorted(tiers):
        share = min(remaining, sum(i.available for i in tiers[tier]))
        result, weights = _assign_tier(
            tiers[tier], placement, share, descending, None, presorted, previous, fresh
        )
        merged.update(result)
        sources.append(weights)
        given.append((tier, share))
        remaining -= share
        if remaining <= 0:
            break
    if remaining > 0:
        raise ScheduleError("Clusters available replicas are not enough to schedule.")
    return Division(
        dict(sorted(merged.items())),
        _stored(merged),
        tuple(given),
        lambda: tuple(sorted(w for source in sources for w in source())),
    )

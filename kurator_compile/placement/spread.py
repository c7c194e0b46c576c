"""Spread constraints: which of the feasible clusters are selected (`spreadconstraint/`).

Candidates arrive sorted by overflow tier, score (0 at a first schedule), available replicas
descending, then name. A region constraint runs the region algorithm; otherwise a cluster
constraint runs the cluster algorithm; zone and provider constraints only filter (see
filters.py) and `spreadByLabel` alone is an error, as in Karmada.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import NamedTuple

from ..model import Cluster
from .spec import PlacementSpec, SpreadConstraint

__all__ = [
    "ClusterInfo",
    "Group",
    "GroupSearches",
    "ScheduleError",
    "select_best_clusters",
    "select_groups",
    "sort_clusters",
]

WEIGHT_UNIT = 1000
# Karmada searches region combinations exhaustively; past this many we stop with an error
# rather than run for minutes (Karmada itself would take as long).
MAX_GROUP_SEARCH = 200_000
# ... and it keeps at most this many regions, summed over the combinations it lists (each
# feasible combination is kept until the best one is chosen).
MAX_GROUP_PATH_ENTRIES = 2_000_000


class ScheduleError(Exception):
    """The scheduler cannot place the object with this placement (message as Karmada's)."""

    def __init__(self, message: str, *, fit_error: bool = False) -> None:
        super().__init__(message)
        self.fit_error = fit_error


class ClusterInfo(NamedTuple):
    """A feasible cluster as the scheduler ranks it.

    A tuple of plain values (no reference to the Cluster): thousands are built per run and
    the garbage collector need not track them.
    """

    name: str
    available: int
    # Whether `available` is the workload's replica count standing in for unknown capacity.
    estimated: bool = True
    overflow: int = 0
    score: int = 0
    region: str = ""

    @classmethod
    def of(
        cls,
        cluster: Cluster,
        available: int,
        estimated: bool = True,
        overflow: int = 0,
        score: int = 0,
    ) -> ClusterInfo:
        return cls(cluster.name, available, estimated, overflow, score, cluster.region)


def _order(info: ClusterInfo) -> tuple[int, int, int, str]:
    return (info.overflow, -info.score, -info.available, info.name)


def sort_clusters(infos: Sequence[ClusterInfo]) -> list[ClusterInfo]:
    """`sortClusters`: overflow tier, score desc, available desc, name."""
    return sorted(infos, key=_order)


def select_best_clusters(
    placement: PlacementSpec,
    infos: Sequence[ClusterInfo],
    replicas: int,
    searches: GroupSearches | None = None,
    regions: Mapping[str, Sequence[ClusterInfo]] | None = None,
) -> list[ClusterInfo]:
    """`SelectBestClusters` over candidates already in `sort_clusters` order; `searches`
    shares region searches between the objects of a run. `regions`, if given, must be
    `infos` grouped by region, each group in `sort_clusters` order (clusters without a
    region left out): the scheduler keeps that grouping per request profile."""
    if not placement.spread or placement.ignore_spread:
        return list(infos)
    need_replicas = -1 if placement.ignore_capacity else replicas
    region = placement.spread_by("region")
    cluster = placement.spread_by("cluster")
    if region is not None:
        return _by_region(placement, region, cluster, infos, replicas, searches, regions)
    if cluster is not None:
        return _by_cluster(cluster, infos, need_replicas)
    raise ScheduleError("just support cluster and region spread constraint")


def _by_cluster(
    constraint: SpreadConstraint, infos: Sequence[ClusterInfo], need_replicas: int
) -> list[ClusterInfo]:
    if len(infos) < constraint.min_groups:
        raise ScheduleError(
            "the number of feasible clusters is less than spreadConstraint.MinGroups"
        )
    need = min(len(infos), constraint.max_groups)
    if need_replicas == -1:
        return list(infos[:need])
    selected = _by_available(list(infos), need, need_replicas)
    if not selected:
        raise ScheduleError(f"no enough resource when selecting {need} clusters")
    return selected


def _by_available(
    candidates: list[ClusterInfo], need: int, need_replicas: int
) -> list[ClusterInfo]:
    """`selectClustersByAvailableResource`: swap richer clusters in from the back."""

    def enough() -> bool:
        return sum(c.available for c in candidates[:need]) >= need_replicas

    index = need - 1
    while not enough() and index >= 0:
        best, best_available = -1, candidates[index].available
        for j in range(need, len(candidates)):
            if candidates[j].available > best_available:
                best, best_available = j, candidates[j].available
        if best != -1:
            candidates[index], candidates[best] = candidates[best], candidates[index]
        index -= 1
    return candidates[:need] if enough() else []


@dataclass(frozen=True, slots=True)
class Group:
    """A region as `selectGroups` sees it: value = #clusters, weight = region score."""

    name: str
    value: int
    weight: int


def _group_score(
    placement: PlacementSpec, clusters: Sequence[ClusterInfo], replicas: int, min_groups: int
) -> int:
    """`calcGroupScore`: how well a region can host the workload, in units of 1000."""
    if placement.ignore_capacity:
        valid = [c for c in clusters if c.available >= replicas]
        if not valid:
            return 0
        return len(valid) * WEIGHT_UNIT + sum(c.score for c in valid) // len(valid)
    target = math.ceil(replicas / min_groups) if min_groups else 0
    cluster = placement.spread_by("cluster")
    cluster_min = max(cluster.min_groups if cluster else 0, min_groups)
    total = score = taken = 0
    for info in clusters:
        total += info.available
        score += info.score
        taken += 1
        if taken >= cluster_min and total >= target:
            break
    if total < target:
        return total * WEIGHT_UNIT + score // len(clusters)
    return target * WEIGHT_UNIT + score // taken


def _by_region(
    placement: PlacementSpec,
    region: SpreadConstraint,
    cluster: SpreadConstraint | None,
    infos: Sequence[ClusterInfo],
    replicas: int,
    searches: GroupSearches | None = None,
    regions: Mapping[str, Sequence[ClusterInfo]] | None = None,
) -> list[ClusterInfo]:
    members: Mapping[str, Sequence[ClusterInfo]]
    if regions is None:
        grouped: dict[str, list[ClusterInfo]] = {}
        for info in infos:
            if info.region:
                grouped.setdefault(info.region, []).append(info)
        members = grouped
    else:
        members = regions
    if len(members) < region.min_groups:
        raise ScheduleError("the number of feasible region is less than spreadConstraint.MinGroups")
    groups = [
        Group(name, len(clusters), _group_score(placement, clusters, replicas, region.min_groups))
        for name, clusters in sorted(members.items())
    ]
    chosen = select_groups(
        groups,
        region.min_groups,
        region.max_groups,
        cluster.min_groups if cluster else 0,
        searches,
    )
    if not chosen:
        raise ScheduleError(
            "the number of clusters is less than the cluster spreadConstraint.MinGroups"
        )
    selected = [members[g.name][0] for g in chosen]
    rest = sum(len(members[g.name]) - 1 for g in chosen)
    more = min(rest + len(selected), cluster.max_groups if cluster else 0) - len(selected)
    if more > 0:
        tails = [islice(members[g.name], 1, None) for g in chosen]
        if regions is None:
            selected.extend(sort_clusters([info for tail in tails for info in tail])[:more])
        else:  # each group is sorted: merging them is the stable sort of their concatenation
            selected.extend(islice(heapq.merge(*tails, key=_order), more))
    return selected


@dataclass
class GroupSearches:
    """The region searches of one run (one `FleetScheduler`), so that objects placed alike
    do not search again: results by input, and searches that ran out of budget by *shape*.

    The search visits the same combinations whatever the weights: its path depends only on
    the sorted region sizes, minGroups, maxGroups and the target. So a shape that exhausted
    the budget once is refused at once for every further object (the cost of failing
    searches is bounded per run, not per object).
    """

    # an OrderedDict: the oldest entry is dropped past _RESULTS_KEPT, cheaply
    results: OrderedDict[tuple[object, ...], list[Group] | None] = field(
        default_factory=OrderedDict
    )
    exhausted: dict[tuple[object, ...], str] = field(default_factory=dict)


# Results kept per run; past this many distinct inputs the oldest is dropped.
_RESULTS_KEPT = 1024


def select_groups(
    groups: Sequence[Group],
    min_groups: int,
    max_groups: int,
    target: int,
    searches: GroupSearches | None = None,
) -> list[Group] | None:
    """`selectGroups`: the best feasible combination of regions, or None.

    A depth-first search over groups sorted by (value asc, weight desc, name) lists every
    path whose clusters reach `target` with min..max groups; the best path by total weight,
    then total value, then discovery order wins, unless one of the others is a strict prefix
    of it (both sorted by weight desc, name), in which case the shorter path is taken.

    The search is iterative (a path may hold thousands of regions) and bounded: it visits
    at most MAX_GROUP_SEARCH combinations and keeps at most MAX_GROUP_PATH_ENTRIES regions
    in the combinations it lists, else it raises ScheduleError. `searches` remembers results
    and exhausted shapes across calls.
    """
    if not groups:
        return None
    ordered = sorted(groups, key=lambda g: (g.value, -g.weight, g.name))
    if searches is None:
        return _search(ordered, min_groups, max_groups, target)
    shape = (tuple(g.value for g in ordered), min_groups, max_groups, target)
    message = searches.exhausted.get(shape)
    if message is not None:
        raise ScheduleError(message)
    key = (tuple(ordered), min_groups, max_groups, target)
    if key in searches.results:
        found = searches.results[key]
        return None if found is None else list(found)
    try:
        result = _search(ordered, min_groups, max_groups, target)
    except ScheduleError as error:
        searches.exhausted[shape] = str(error)
        raise
    if len(searches.results) >= _RESULTS_KEPT:
        searches.results.popitem(last=False)
    searches.results[key] = None if result is None else list(result)
    return result


def _search(
    ordered: list[Group], min_groups: int, max_groups: int, target: int
) -> list[Group] | None:
    """`dfsFunc` without recursion: one (running total, next index) frame per path entry."""
    count = len(ordered)
    values = [g.value for g in ordered]
    paths: list[tuple[int, int, int, list[Group]]] = []  # (weight, value, id, groups)
    path: list[Group] = []
    kept = 0  # regions held in `paths`
    visited = 0
    # Karmada stops backtracking once every group is needed for minGroups: after the first
    # return from a child, the whole search ends.
    stop_after_first = count == min_groups

    def exhausted(what: str) -> ScheduleError:
        return ScheduleError(
            f"the region spread search {what} of {count} regions; lower the region "
            "maxGroups or the cluster minGroups"
        )

    def enter(total: int) -> bool:
        """Visit the node of the current path; whether to descend into its children."""
        nonlocal visited, kept
        visited += 1
        if visited > MAX_GROUP_SEARCH:
            raise exhausted(f"visits more than {MAX_GROUP_SEARCH} combinations")
        depth = len(path)
        if total >= target and min_groups <= depth <= max_groups:
            kept += depth
            if kept > MAX_GROUP_PATH_ENTRIES:
                raise exhausted(
                    f"lists more than {MAX_GROUP_PATH_ENTRIES} regions in its combinations"
                )
            found = sorted(path, key=lambda g: (-g.weight, g.name))
            paths.append(
                (sum(g.weight for g in found), sum(g.value for g in found), len(paths) + 1, found)
            )
            return False
        return depth < max_groups

    totals: list[int] = []  # the running total of each open frame
    nexts: list[int] = []  # the next child index of each open frame
    if enter(0):
        totals.append(0)
        nexts.append(0)
    while nexts:
        i = nexts[-1]
        if i >= count:  # the frame's loop is done: return to its parent
            totals.pop()
            nexts.pop()
            if not nexts:
                break
        else:
            nexts[-1] = i + 1
            path.append(ordered[i])
            total = totals[-1] + values[i]
            if enter(total):
                totals.append(total)
                nexts.append(i + 1)
                continue
        # a child returned to the frame on top
        if stop_after_first:
            break
        path.pop()
    if not paths:
        return None
    ranked = sorted(paths, key=lambda p: (-p[0], -p[1], p[2]))
    final = ranked[0][3]
    for _, _, _, other in ranked[1:]:
        if len(other) < len(final) and all(
            a.name == b.name for a, b in zip(other, final, strict=False)
        ):
            final = other
    return final

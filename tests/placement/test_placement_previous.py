"""Scheduling from the placement lock's previous result, as Karmada reschedules a binding."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from placement_kit import cluster, deployment, fleet, policy
from test_placement_properties import CLUSTER, PLACEMENTS, clusters_of

from kurator_compile.placement import History, ResourcePlacement, resolve_placement
from kurator_compile.placement.division import rescale_by_available
from kurator_compile.placement.spread import ClusterInfo

DYNAMIC = {"replicaScheduling": {"weightPreference": {"dynamicWeight": "AvailableReplicas"}}}
AGGREGATED = {"replicaScheduling": {"replicaDivisionPreference": "Aggregated"}}


def _history(placements: list[ResourcePlacement], **asked: Any) -> History:
    entries = {str(p.resource.key): p.locked for p in placements if p.locked is not None}
    return History(entries, **asked)


def _results(placements: list[ResourcePlacement]) -> list[dict[str, int | None]]:
    return [dict(p.replicas) for p in placements]


@settings(max_examples=80, deadline=None)
@given(
    raw_clusters=st.lists(CLUSTER, min_size=1, max_size=6),
    which=st.integers(0, len(PLACEMENTS) - 1),
    replicas=st.lists(st.integers(0, 9), min_size=1, max_size=4),
)
def test_a_no_op_build_never_moves_a_replica(
    raw_clusters: list[dict[str, Any]], which: int, replicas: list[int]
) -> None:
    clusters = clusters_of(raw_clusters)
    resources = [deployment(f"app{i}", r) for i, r in enumerate(replicas)]
    the_fleet = fleet(clusters, resources, [policy("p", PLACEMENTS[which])])
    first, _ = resolve_placement(the_fleet)
    again, diagnostics = resolve_placement(the_fleet, _history(first))
    assert _results(again) == _results(first)
    assert [p.locked for p in again] == [p.locked for p in first]
    assert not [d for d in diagnostics if "move" in d.message]


@settings(max_examples=200, deadline=None)
@given(
    available=st.lists(st.integers(0, 30), min_size=1, max_size=8),
    first=st.integers(1, 40),
    more=st.integers(1, 40),
    aggregated=st.booleans(),
)
def test_a_scale_up_never_takes_replicas_from_a_cluster(
    available: list[int], first: int, more: int, aggregated: bool
) -> None:
    """Steady mode: the clusters keep their free capacity, the previous replicas stay."""
    names = [f"m{i}" for i in range(len(available))]
    fresh = [ClusterInfo(n, a) for n, a in zip(names, available, strict=True)]
    if sum(available) < first:
        return
    previous = [(n, c) for n, c in rescale_by_available(fresh, first, aggregated, False, [])]
    before = dict(previous)
    # AvailableReplicas: the same free capacity plus what the previous result runs there
    infos = [ClusterInfo(n, a + before.get(n, 0)) for n, a in zip(names, available, strict=True)]
    if sum(available) < more:
        return
    after = dict(rescale_by_available(infos, first + more, aggregated, False, previous))
    assert sum(after.values()) == first + more
    assert all(after.get(name, 0) >= count for name, count in before.items())


def test_a_new_cluster_moves_no_divided_replica() -> None:
    """Karmada's TODO: cluster additions and label changes alone never reschedule."""
    clusters = [cluster("a", capacity={"pods": "10"}), cluster("b", capacity={"pods": "10"})]
    app = deployment("app", 6)
    first, _ = resolve_placement(fleet(clusters, [app], [policy("p", AGGREGATED)]))
    bigger = [*clusters, cluster("c", capacity={"pods": "100"})]
    again, _ = resolve_placement(fleet(bigger, [app], [policy("p", AGGREGATED)]), _history(first))
    assert dict(again[0].replicas) == dict(first[0].replicas) == {"a": 6}
    assert again[0].why is None
    assert "previous result (placement lock) kept" in "\n".join(again[0].explanation)
    asked = _history(first, objects=frozenset({"Deployment.apps/shop/app"}))
    fresh, _ = resolve_placement(fleet(bigger, [app], [policy("p", AGGREGATED)]), asked)
    assert dict(fresh[0].replicas) == {"c": 6}  # Fresh mode: the largest cluster alone
    assert fresh[0].why == "a reschedule was asked for"


def test_scaling_up_adds_to_what_runs_and_scaling_down_shrinks_it() -> None:
    clusters = [cluster(n, capacity={"pods": "10"}) for n in ("a", "b", "c")]
    first, _ = resolve_placement(fleet(clusters, [deployment("app", 3)], [policy("p", DYNAMIC)]))
    assert dict(first[0].replicas) == {"a": 1, "b": 1, "c": 1}
    up, _ = resolve_placement(
        fleet(clusters, [deployment("app", 9)], [policy("p", DYNAMIC)]), _history(first)
    )
    # 6 more by free capacity (9 each, the previous replica counted in), added to 1:1:1
    assert dict(up[0].replicas) == {"a": 3, "b": 3, "c": 3}
    assert up[0].why == "its replicas changed (3 -> 9)"
    down, _ = resolve_placement(
        fleet(clusters, [deployment("app", 2)], [policy("p", DYNAMIC)]), _history(up)
    )
    assert dict(down[0].replicas) == {"a": 1, "b": 1}


def test_a_cluster_that_left_gives_its_replicas_to_the_others_with_a_warning() -> None:
    clusters = [cluster(n, capacity={"pods": "10"}) for n in ("a", "b", "c")]
    app = deployment("app", 6)
    first, _ = resolve_placement(fleet(clusters, [app], [policy("p", DYNAMIC)]))
    assert dict(first[0].replicas) == {"a": 2, "b": 2, "c": 2}
    again, diagnostics = resolve_placement(
        fleet(clusters[:2], [app], [policy("p", DYNAMIC)]), _history(first)
    )
    assert dict(again[0].replicas) == {"a": 3, "b": 3}
    assert [d.render() for d in diagnostics] == [
        "apps/0.yaml:1:1: warning: Deployment.apps/shop/app: replicas move although neither "
        "its replicas nor its placement changed (c left the fleet): a 2 -> 3, b 2 -> 3, "
        "c 2 -> 0"
    ]


def test_a_previous_cluster_keeps_a_copy_despite_a_new_taint() -> None:
    """Previous clusters skip the TaintToleration filter (Duplicated: every time)."""
    first, _ = resolve_placement(
        fleet([cluster("a"), cluster("b")], [deployment("app", 2)], [policy("p", {})])
    )
    tainted = [cluster("a"), cluster("b", taints=[("gpu", "", "NoSchedule")])]
    again, _ = resolve_placement(
        fleet(tainted, [deployment("app", 2)], [policy("p", {})]), _history(first)
    )
    assert dict(again[0].replicas) == {"a": 2, "b": 2}
    fresh, _ = resolve_placement(fleet(tainted, [deployment("app", 2)], [policy("p", {})]))
    assert dict(fresh[0].replicas) == {"a": 2}


def test_cluster_affinities_resume_at_the_term_used_last() -> None:
    terms = {
        "clusterAffinities": [
            {"affinityName": "primary", "clusterNames": ["a"]},
            {"affinityName": "backup", "clusterNames": ["b"]},
        ],
        **DYNAMIC,
    }
    full = [cluster("a", capacity={"pods": "2"}), cluster("b", capacity={"pods": "10"})]
    first, _ = resolve_placement(fleet(full, [deployment("app", 4)], [policy("p", terms)]))
    assert (first[0].affinity_term, dict(first[0].replicas)) == ("backup", {"b": 4})
    roomy = [cluster("a", capacity={"pods": "10"}), cluster("b", capacity={"pods": "10"})]
    again, _ = resolve_placement(
        fleet(roomy, [deployment("app", 5)], [policy("p", terms)]), _history(first)
    )
    assert (again[0].affinity_term, dict(again[0].replicas)) == ("backup", {"b": 5})
    asked = _history(first, everything=True)
    fresh, _ = resolve_placement(fleet(roomy, [deployment("app", 5)], [policy("p", terms)]), asked)
    assert (fresh[0].affinity_term, dict(fresh[0].replicas)) == ("primary", {"a": 5})


def test_a_changed_placement_reschedules_from_the_previous_result() -> None:
    clusters = [cluster(n, capacity={"pods": "10"}) for n in ("a", "b", "c")]
    app = deployment("app", 6)
    first, _ = resolve_placement(fleet(clusters, [app], [policy("p", DYNAMIC)]))
    narrowed = {**DYNAMIC, "clusterAffinity": {"clusterNames": ["a", "b"]}}
    again, diagnostics = resolve_placement(
        fleet(clusters, [app], [policy("p", narrowed)]), _history(first)
    )
    # c's 2 replicas are missing: a scale-up of 2 over a and b, which keep theirs
    assert dict(again[0].replicas) == {"a": 3, "b": 3}
    assert again[0].why == "its placement changed"
    assert not diagnostics  # its own placement changed: no surprise to warn about


@settings(max_examples=80, deadline=None)
@given(
    pods=st.lists(st.one_of(st.none(), st.integers(0, 12)), min_size=1, max_size=6),
    aggregated=st.booleans(),
    first=st.integers(1, 12),
    more=st.integers(1, 12),
)
def test_a_scaled_up_workload_keeps_every_replica_it_runs(
    pods: list[int | None], aggregated: bool, first: int, more: int
) -> None:
    """The whole pipeline: a cluster keeps its capacity, so it keeps its replicas."""
    clusters = [
        cluster(f"c{i}", capacity={} if p is None else {"pods": str(p)}) for i, p in enumerate(pods)
    ]
    the_policy = [policy("p", AGGREGATED if aggregated else DYNAMIC)]
    before, _ = resolve_placement(fleet(clusters, [deployment("app", first)], the_policy))
    if before[0].locked is None:
        return  # not enough capacity for a first schedule: an error, nothing to keep
    after, _ = resolve_placement(
        fleet(clusters, [deployment("app", first + more)], the_policy), _history(before)
    )
    if after[0].locked is None:
        return  # not enough free capacity for the extra replicas: an error, as in Karmada
    now = dict(after[0].replicas)
    assert all((now.get(name) or 0) >= (count or 0) for name, count in before[0].replicas.items())
    assert sum(v or 0 for v in now.values()) == first + more

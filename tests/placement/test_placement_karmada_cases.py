"""Every case from Karmada's own test tables, through our functions.

`*_rescale` cases (and the one dynamic case with a previous result) describe Karmada's
Steady-mode rescheduling from an earlier result (`ResourceBinding.spec.clusters`), which the
compiler reads from the placement lock.

The cases live in `data/karmada-cases.json` (see `data/README.md` for where they come from).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kurator_compile.model import Cluster, Policy, Resource, Taint
from kurator_compile.placement.division import assign_replicas, divide, rescale_by_available
from kurator_compile.placement.filters import (
    active_affinities,
    affinity_reason,
    overflow_order,
    taint_reason,
)
from kurator_compile.placement.policy import PolicyCandidate, implicit_priority, rank
from kurator_compile.placement.selectors import cluster_matches, selector_priority
from kurator_compile.placement.spec import parse_placement
from kurator_compile.placement.spread import (
    ClusterInfo,
    Group,
    ScheduleError,
    select_best_clusters,
    select_groups,
    sort_clusters,
)
from kurator_compile.placement.webster import allocate_webster_seats, dispense, names_descending
from kurator_compile.placement.workload import INT32_MAX
from kurator_compile.yamldoc import Document

CASES_FILE = Path(__file__).parent / "data" / "karmada-cases.json"

CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))


def _cluster(raw: dict[str, Any]) -> Cluster:
    taints = tuple(
        Taint(t["key"], t["effect"], t.get("value") or "") for t in raw.get("taints") or ()
    )
    return Cluster(
        raw.get("name") or "",
        raw.get("labels") or {},
        provider=raw.get("provider") or "",
        region=raw.get("region") or "",
        zones=tuple(raw.get("zones") or ()),
        taints=taints,
    )


def _infos(case: dict[str, Any]) -> list[ClusterInfo]:
    """Candidates in the case's order. With a previous result, `available` in the case is
    AllocatableReplicas; the scheduler's AvailableReplicas adds the previous replicas."""
    previous = case.get("previous") or {}
    infos = []
    for raw in case["clusters"]:
        available = raw.get("available")
        if available is None:
            available = case["replicas"]
        infos.append(
            ClusterInfo.of(
                _cluster(raw),
                available + previous.get(raw["name"], 0),
                raw.get("available") is None,
                raw.get("overflowOrder", 0),
            )
        )
    return infos


def _weighted(swl: Any) -> dict[str, Any]:
    scheduling: dict[str, Any] = {
        "replicaSchedulingType": "Divided",
        "replicaDivisionPreference": "Weighted",
    }
    if swl is not None:
        scheduling["weightPreference"] = {"staticWeightList": swl}
    return {"replicaScheduling": scheduling}


def _dynamic(case: dict[str, Any], preference: str) -> None:
    scheduling: dict[str, Any] = {
        "replicaSchedulingType": "Divided",
        "replicaDivisionPreference": preference,
    }
    if preference == "Weighted":
        scheduling["weightPreference"] = {"dynamicWeight": "AvailableReplicas"}
    spec = parse_placement({"replicaScheduling": scheduling})
    infos = _infos(case)
    overflow = any("overflowOrder" in c for c in case["clusters"])
    descending = names_descending(case.get("uid") or "")

    previous = list((case.get("previous") or {}).items()) or None

    def run() -> dict[str, int | None]:
        if overflow:  # TestAssignReplicas: the entry point, zero entries removed
            division = assign_replicas(
                infos, spec, case["replicas"], True, descending, True, previous=previous
            )
            return dict(division.replicas)
        if previous is not None:  # Test_dynamicScale*: assignByDynamicStrategy, Steady mode
            aggregated = preference == "Aggregated"
            found = rescale_by_available(infos, case["replicas"], aggregated, descending, previous)
            return {name: count for name, count in found if count > 0}
        return dict(divide(infos, spec, case["replicas"], descending)[0])

    if case.get("expected_error"):
        with pytest.raises(ScheduleError):
            run()
    else:
        assert run() == case["expected"]


def static_weight(case: dict[str, Any]) -> None:
    spec = parse_placement(_weighted(case.get("staticWeightList")))
    clusters = [_cluster(c) for c in case["clusters"]]
    result, _ = divide(
        _infos(case), spec, case["replicas"], names_descending(case["uid"]), clusters
    )
    assert result == case["expected"]


def dynamic_weight(case: dict[str, Any]) -> None:
    _dynamic(case, "Weighted")


def aggregated(case: dict[str, Any]) -> None:
    _dynamic(case, "Aggregated")


def dynamic_weight_rescale(case: dict[str, Any]) -> None:
    _dynamic(case, "Weighted")


def aggregated_rescale(case: dict[str, Any]) -> None:
    _dynamic(case, "Aggregated")


def duplicated(case: dict[str, Any]) -> None:
    result, _ = divide(_infos(case), parse_placement({}), case["replicas"], False)
    assert result == case["expected"]


def duplicated_or_nonworkload(case: dict[str, Any]) -> None:
    replicas = case["replicas"]

    def run() -> dict[str, int | None]:
        division = assign_replicas(_infos(case), parse_placement({}), replicas, replicas > 0)
        return {name: count or 0 for name, count in division.replicas.items()}

    if case["expected_error"]:
        with pytest.raises(ScheduleError, match="no clusters available to schedule"):
            run()
    else:
        assert run() == case["expected"]


def unsupported(case: dict[str, Any]) -> None:
    spec = parse_placement(
        {
            "replicaScheduling": {
                "replicaSchedulingType": "Divided",
                "replicaDivisionPreference": "Balanced",
            }
        }
    )
    assert spec.errors, "an unknown preference is a validation error"
    with pytest.raises(ScheduleError, match="unsupported replica scheduling strategy"):
        assign_replicas(_infos(case), spec, case["replicas"], True)


def webster_dispenser(case: dict[str, Any]) -> None:
    weights = {c["name"]: c["weight"] for c in case["clusters"]}
    got = dispense(
        case["replicas"], weights, case["initial"], descending=names_descending(case["uid"])
    )
    assert got == case["expected"]


def webster_seats(case: dict[str, Any]) -> None:
    assert not case["custom_tiebreaker"]
    weights = {c["name"]: c["weight"] for c in case["clusters"]}
    assert allocate_webster_seats(case["replicas"], weights, case["initial"]) == case["expected"]


def spread_by_target_clusters(case: dict[str, Any]) -> None:
    weights = {c["name"]: c["weight"] for c in case["clusters"]}
    got = dispense(case["replicas"], weights, descending=names_descending(case["uid"]))
    assert got == case["expected"]


def cluster_affinity_match(case: dict[str, Any]) -> None:
    assert cluster_matches(case["affinity"], _cluster(case["cluster"])) is case["expected"]


def _resource(raw: dict[str, Any]) -> Resource:
    return Resource(Document("case.yaml", 0, raw, {}))


def resource_selector_priority(case: dict[str, Any]) -> None:
    res = case["resource"]
    meta = res["metadata"]
    got = selector_priority(
        case["selector"],
        res["apiVersion"],
        res["kind"],
        meta.get("namespace", ""),
        meta["name"],
        meta.get("labels") or {},
    )
    assert got == case["expected"]


def _policy_selection(case: dict[str, Any], kind: str) -> None:
    resource = _resource(case["resource"])
    found = []
    for raw in case["policies"]:
        data = {
            "apiVersion": "policy.karmada.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": raw["name"], "namespace": raw["namespace"]},
            "spec": {"resourceSelectors": raw["resourceSelectors"]},
        }
        implicit = implicit_priority(raw["resourceSelectors"], resource)
        if implicit:
            policy = Policy(Document("p.yaml", 0, data, {}))
            found.append(PolicyCandidate(policy, raw["priority"] or 0, implicit))
    ranked = rank(found)
    assert (ranked[0].policy.name if ranked else None) == case["expected"]


def policy_selection(case: dict[str, Any]) -> None:
    _policy_selection(case, "PropagationPolicy")


def policy_selection_cluster(case: dict[str, Any]) -> None:
    _policy_selection(case, "ClusterPropagationPolicy")


def taint_toleration_filter(case: dict[str, Any]) -> None:
    cluster = _cluster(case["cluster"])
    # A cluster already in the binding's result skips the check; a first schedule has none.
    already = cluster.name in case["alreadyScheduledTo"]
    fits = already or taint_reason(cluster, case["clusterTolerations"] or ()) is None
    assert ("fit" if fits else "unschedulable") == case["expected"]


def cluster_affinity_filter(case: dict[str, Any]) -> None:
    spec = parse_placement(case["placement"])
    term = next(
        (t for t in spec.cluster_affinities or () if t.name == case["observedAffinityName"]),
        None,
    )
    affinities = active_affinities(spec, term, is_workload=False)
    fits = affinity_reason(_cluster(case["cluster"]), affinities) is None
    assert ("fit" if fits else "unschedulable") == case["expected"]


def spread_select_best_clusters(case: dict[str, Any]) -> None:
    # The Go test calls SelectBestClusters directly: no webhook defaults on its placement.
    spec = parse_placement(case["placement"], webhook_defaults=False)
    infos = [
        ClusterInfo.of(_cluster(c), c["availableReplicas"], False, 0, c["score"])
        for c in case["clusters"]
    ]
    if case["expected_error"]:
        with pytest.raises(ScheduleError) as error:
            select_best_clusters(spec, infos, case["replicas"])
        assert str(error.value) == case["expected_error"]
    else:
        got = select_best_clusters(spec, infos, case["replicas"])
        assert [i.name for i in got] == case["expected"]


def spread_select_groups(case: dict[str, Any]) -> None:
    groups = [Group(g["name"], g["value"], g["weight"]) for g in case["groups"] or ()]
    got = select_groups(groups, case["minGroups"], case["maxGroups"], case["targetClusters"])
    assert (None if got is None else [g.name for g in got]) == case["expected"]


def select_clusters(case: dict[str, Any]) -> None:
    """core.SelectClusters for a non-workload (replicas 0): every cluster has MaxInt32."""
    spec = parse_placement(case["placement"])
    term = spec.cluster_affinities[0] if spec.cluster_affinities else None
    infos = [
        ClusterInfo.of(
            _cluster(c),
            INT32_MAX,
            False,
            overflow_order(_cluster(c), term) if spec.cluster_affinity is None else 0,
            c["score"],
        )
        for c in case["clusters"]
    ]
    got = select_best_clusters(spec, sort_clusters(infos), 0)
    assert sorted(i.name for i in got) == sorted(case["expected"])


ADAPTERS: dict[str, Callable[[dict[str, Any]], None]] = {
    f.__name__: f
    for f in (
        static_weight,
        dynamic_weight,
        aggregated,
        dynamic_weight_rescale,
        aggregated_rescale,
        duplicated,
        duplicated_or_nonworkload,
        unsupported,
        webster_dispenser,
        webster_seats,
        spread_by_target_clusters,
        cluster_affinity_match,
        resource_selector_priority,
        policy_selection,
        policy_selection_cluster,
        taint_toleration_filter,
        cluster_affinity_filter,
        spread_select_best_clusters,
        spread_select_groups,
        select_clusters,
    )
}


def test_every_mode_has_an_adapter() -> None:
    assert {c["mode"] for c in CASES} <= set(ADAPTERS)


def _is_rescale(case: dict[str, Any]) -> bool:
    return case["mode"].endswith("_rescale") or bool(case.get("previous"))


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c['mode']}:{c['source'].split('::')[-1]}" for c in CASES]
)
def test_karmada_case(case: dict[str, Any]) -> None:
    ADAPTERS[case["mode"]](case)


def test_the_cases_are_karmadas_own() -> None:
    assert len(CASES) == 178
    assert all(c["source"].startswith("pkg/") and "_test.go::" in c["source"] for c in CASES)
    assert sum(_is_rescale(c) for c in CASES) == 11

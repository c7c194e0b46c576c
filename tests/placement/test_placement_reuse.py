"""What placement reuses between objects (and the shortcuts it takes) never changes a result.

`resolve_placement` shares work between objects: policy choices, parsed quantities, ranked
candidates per request profile, runs of alike clusters, spread selections, whole results
per shape. Each object must still get exactly what it gets when placed on its own.
"""

from __future__ import annotations

import gc
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from placement_kit import cluster, deployment, fleet, policy

from kurator_compile.model import Cluster, Fleet
from kurator_compile.placement import ResourcePlacement, resolve_placement, scheduler
from kurator_compile.placement.capacity import estimate, parse_capacity
from kurator_compile.placement.division import assign_replicas
from kurator_compile.placement.filters import overflow_order
from kurator_compile.placement.quantity import (
    QuantityError,
    milli_value,
    parse_quantity,
    value,
    values,
)
from kurator_compile.placement.scheduler import Attempt
from kurator_compile.placement.spec import PlacementSpec, parse_placement
from kurator_compile.placement.spread import (
    ClusterInfo,
    ScheduleError,
    select_best_clusters,
    sort_clusters,
)
from kurator_compile.placement.webster import fnv1a32, names_descending
from kurator_compile.placement.workload import INT32_MAX, Workload, read_workload

WEIGHTED = {"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted"}
DYNAMIC = {**WEIGHTED, "weightPreference": {"dynamicWeight": "AvailableReplicas"}}
AGGREGATED = {"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Aggregated"}
PLACEMENTS: list[dict[str, Any]] = [
    {"replicaScheduling": DYNAMIC},
    {
        "clusterAffinity": {"labelSelector": {"matchLabels": {"env": "prod"}}},
        "replicaScheduling": AGGREGATED,
    },
    {
        "spreadConstraints": [{"spreadByField": "cluster", "minGroups": 2, "maxGroups": 4}],
        "replicaScheduling": DYNAMIC,
    },
    {
        "spreadConstraints": [
            {"spreadByField": "region", "minGroups": 2, "maxGroups": 2},
            {"spreadByField": "cluster", "minGroups": 2, "maxGroups": 5},
        ],
        "replicaScheduling": DYNAMIC,
    },
    {
        "clusterAffinities": [
            {
                "affinityName": "primary",
                "labelSelector": {"matchLabels": {"tier": "a"}},
                "overflowAffinities": [
                    {"affinityName": "spill", "labelSelector": {"matchLabels": {"tier": "b"}}}
                ],
            }
        ],
        "replicaScheduling": AGGREGATED,
    },
    {
        "replicaScheduling": {
            **WEIGHTED,
            "weightPreference": {
                "staticWeightList": [
                    {
                        "targetCluster": {"labelSelector": {"matchLabels": {"tier": "a"}}},
                        "weight": 3,
                    },
                    {
                        "targetCluster": {"labelSelector": {"matchLabels": {"tier": "b"}}},
                        "weight": 1,
                    },
                ]
            },
        }
    },
    {"clusterAffinity": {"labelSelector": {"matchLabels": {"tier": "c"}}}},
]
CAPACITIES: list[dict[str, str]] = [
    {},  # unknown: counts as the replica count
    {"cpu": "4", "memory": "16Gi", "pods": "20"},
    {"cpu": "8", "memory": "16Gi", "pods": "110"},
    {"cpu": "8", "memory": "32Gi", "pods": "20"},
    {"cpu": "2"},
]
REQUESTS: list[dict[str, str] | None] = [
    None,
    {"cpu": "500m"},
    {"cpu": "1", "memory": "4Gi"},
    {"memory": "3Gi"},
]
UIDS = ["", "d43fdeeb-d750-4e2b-bee3-64eb94534f4c", "4858ca61-3ff8-4095-8267-f3d059d8074c"]


def _clusters(rnd: random.Random, count: int) -> list[Cluster]:
    return [
        cluster(
            f"m{rnd.randrange(10**4):04d}-{i}",
            {"env": rnd.choice(["prod", "dev"]), "tier": rnd.choice("abc")},
            capacity=rnd.choice(CAPACITIES),
            region=rnd.choice(["", "r1", "r2", "r3"]),
        )
        for i in range(count)
    ]


def _objects(rnd: random.Random, count: int) -> list[dict[str, Any]]:
    return [
        deployment(
            f"d{i}",
            rnd.choice([0, 1, 2, 3, 5, 8, 20, 40, 300]),
            requests=rnd.choice(REQUESTS),
            uid=rnd.choice(UIDS),
            labels={"group": f"g{rnd.randrange(len(PLACEMENTS))}"},
        )
        for i in range(count)
    ]


def _policies() -> list[dict[str, Any]]:
    return [
        policy(
            f"p{i}",
            placement,
            selectors=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "labelSelector": {"matchLabels": {"group": f"g{i}"}},
                }
            ],
        )
        for i, placement in enumerate(PLACEMENTS)
    ]


def _seen(placement: ResourcePlacement) -> tuple[object, ...]:
    """Everything a placement says, its explanation and Webster weights included."""
    return (
        placement.policy.name if placement.policy is not None else None,
        sorted(placement.replicas.items()),
        placement.strategy,
        placement.divided,
        placement.competitors,
        placement.affinity_term,
        placement.dropped,
        tuple(placement.explanation),
        placement.weights,
    )


def _random_fleet(seed: int) -> Fleet:
    rnd = random.Random(seed)
    return fleet(_clusters(rnd, 40), _objects(rnd, 120), _policies())


@pytest.mark.parametrize("seed", range(6))
def test_objects_placed_together_are_placed_as_alone(seed: int) -> None:
    together = _random_fleet(seed)
    placements, _ = resolve_placement(together)
    for resource, placed in zip(together.resources, placements, strict=True):
        alone = fleet(together.clusters, [resource.data], _policies())
        [fresh], _ = resolve_placement(alone)
        assert _seen(placed) == _seen(fresh)


def _candidates_by_hand(
    clusters: list[Cluster], attempt: Attempt, spec: PlacementSpec, workload: Workload
) -> list[ClusterInfo]:
    """The scheduler's candidates computed plainly: estimate each feasible cluster, then
    `sort_clusters` (overflow tier, available desc, name)."""
    dropped = {name for name, _ in attempt.dropped}
    term = attempt.term
    infos = []
    for c in clusters:
        if c.name in dropped:
            continue
        available, estimated = (INT32_MAX if workload.replicas == 0 else 0), False
        if attempt.capacity_used:
            known = estimate(parse_capacity(c)[0], workload.requests)
            available, estimated = (workload.replicas, True) if known is None else (known, False)
        order = overflow_order(c, term) if spec.cluster_affinity is None and term else 0
        infos.append(ClusterInfo(c.name, available, estimated, order, 0, c.region))
    return sort_clusters(infos)


@pytest.mark.parametrize("seed", range(4))
def test_candidates_are_in_scheduler_order(seed: int) -> None:
    """Ranked once per profile, by groups of alike clusters or one by one, with clusters of
    unknown capacity merged in per replica count: still the plain sort's order."""
    together = _random_fleet(200 + seed)
    specs = {p.name: parse_placement(p.spec["placement"]) for p in together.policies}
    placements, _ = resolve_placement(together)
    checked = 0
    for resource, placed in zip(together.resources, placements, strict=True):
        if placed.trace is None or placed.policy is None:
            continue
        workload, _ = read_workload(resource.data)
        for attempt in placed.trace().attempts:
            spec = specs[placed.policy.name]
            expected = _candidates_by_hand(list(together.clusters), attempt, spec, workload)
            assert list(attempt.candidates) == expected
            checked += 1
    assert checked > 50


def test_same_policy_other_requests_get_their_own_result() -> None:
    """The ranked candidates are kept per request profile: a second profile under the same
    policy and replica count is estimated anew, not served the first one's ranking."""
    clusters = [cluster("a", capacity={"cpu": "4"}), cluster("b", capacity={"cpu": "1"})]
    small = deployment("small", 5, requests={"cpu": "100m"}, labels={"group": "g0"})
    large = deployment("large", 5, requests={"cpu": "1"}, labels={"group": "g0"})
    placed, _ = resolve_placement(fleet(clusters, [small, large], _policies()[:1]))
    assert dict(placed[0].replicas) == {"a": 4, "b": 1}  # available 40 and 10
    assert dict(placed[1].replicas) == {"a": 4, "b": 1}  # available 4 and 1
    assert placed[0].weights == (("a", 40), ("b", 10))
    assert placed[1].weights == (("a", 4), ("b", 1))
    tight = deployment("tight", 5, requests={"cpu": "2"}, labels={"group": "g0"})
    placed, diagnostics = resolve_placement(fleet(clusters, [small, tight], _policies()[:1]))
    assert dict(placed[0].replicas) == {"a": 4, "b": 1}
    assert dict(placed[1].replicas) == {}  # available 2 and 0: not enough
    assert any("available replicas 2 are not enough" in d.render() for d in diagnostics)


@pytest.mark.parametrize("seed", range(4))
def test_ranking_by_groups_of_alike_clusters_equals_ranking_each(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = _random_fleet(100 + seed)
    monkeypatch.setattr(scheduler, "_GROUPED", 0)  # always by groups
    grouped = [_seen(p) for p in resolve_placement(together)[0]]
    monkeypatch.setattr(scheduler, "_GROUPED", 10**9)  # never
    each = [_seen(p) for p in resolve_placement(together)[0]]
    assert grouped == each


def test_duplicate_cluster_names_keep_the_stable_order() -> None:
    """Fleet validation reports duplicate names; placement still orders them as a stable
    sort on (tier, available, name) does."""
    clusters = [
        cluster("x", capacity={"cpu": "1"}, region="r1"),
        cluster("x", capacity={}, region="r2"),
        cluster("x", capacity={"cpu": "3"}, region="r1"),
        cluster("y", capacity={"cpu": "3"}, region="r2"),
    ]
    objects = [
        deployment(f"d{r}", r, requests={"cpu": "1"}, labels={"group": f"g{g}"}, uid=uid)
        for r in (1, 3, 5)
        for g in (0, 1, 2, 3)
        for uid in UIDS[:2]
    ]
    together = fleet(clusters, objects, _policies())
    placements, _ = resolve_placement(together)
    for resource, placed in zip(together.resources, placements, strict=True):
        [fresh], _ = resolve_placement(fleet(clusters, [resource.data], _policies()))
        assert _seen(placed) == _seen(fresh)


def test_policy_choices_are_shared_only_by_objects_the_selectors_cannot_tell_apart() -> None:
    """Choices are memoised on kind, namespace, the labels the selectors test, and the name
    only when a selector names objects."""
    by_label = policy(
        "by-label",
        {"clusterAffinity": {"clusterNames": ["a"]}},
        selectors=[
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "labelSelector": {"matchLabels": {"team": "x"}},
            }
        ],
    )
    by_name = policy(
        "by-name",
        {"clusterAffinity": {"clusterNames": ["b"]}},
        selectors=[{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}],
    )
    in_shop = policy("shop-all", {"clusterAffinity": {"clusterNames": ["c"]}}, namespace="shop")
    objects = [
        deployment("api", namespace="web", labels={"team": "x", "other": "1"}),
        deployment("api2", namespace="web", labels={"team": "x", "other": "2"}),  # as api
        deployment("web", namespace="web", labels={"team": "x"}),  # named: by-name wins
        deployment("db", namespace="web", labels={"team": "y"}),
        deployment("db", namespace="shop", labels={"team": "y"}),  # the PropagationPolicy
        deployment("odd", namespace="web", labels={"team": 7}),  # type: ignore[dict-item]
    ]
    clusters = [cluster("a"), cluster("b"), cluster("c")]
    placements, _ = resolve_placement(fleet(clusters, objects, [by_label, by_name, in_shop]))
    chosen = [p.policy.name if p.policy is not None else None for p in placements]
    assert chosen == ["by-label", "by-label", "by-name", None, "shop-all", None]
    assert placements[2].competitors == ("ClusterPropagationPolicy/by-label",)
    for data, placed in zip(objects, placements, strict=True):
        alone = fleet(clusters, [data], [by_label, by_name, in_shop])
        assert _seen(placed) == _seen(resolve_placement(alone)[0][0])


def test_the_garbage_collector_is_left_as_found() -> None:
    together = _random_fleet(7)
    assert gc.isenabled()
    resolve_placement(together)
    assert gc.isenabled()
    gc.disable()
    try:
        resolve_placement(together)
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- shortcuts against the plain computation ----------------------------------------------


def _plain_values(text: object) -> tuple[int, int]:
    qty = parse_quantity(text)
    return value(qty), milli_value(qty)


QUANTITIES = st.one_of(
    st.from_regex(r"[0-9]{1,21}(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|n|u|e3|\.5)?", fullmatch=True),
    st.text(alphabet="0123456789.+-eEmkKMGi ", max_size=8),
    st.integers(-(2**64), 2**64),
)


@settings(max_examples=500, deadline=None)
@given(text=QUANTITIES)
def test_quantity_values_equal_the_exact_parse(text: object) -> None:
    try:
        expected: object = _plain_values(text)
    except QuantityError as error:
        expected = str(error)
    try:
        got: object = values(text)
    except QuantityError as error:
        got = str(error)
    assert got == expected


@given(uid=st.text(max_size=40))
def test_uid_tie_break_equals_the_fnv_hash_parity(uid: str) -> None:
    assert names_descending(uid) == (uid != "" and fnv1a32(uid.encode()) & 1 == 1)


INFOS = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from(["", "r1", "r2", "r3"])),
    min_size=1,
    max_size=30,
)


def _sorted_infos(rows: list[tuple[int, str]]) -> list[ClusterInfo]:
    return sort_clusters(
        [ClusterInfo(f"c{i:02d}", a, False, 0, 0, r) for i, (a, r) in enumerate(rows)]
    )


def _division(
    infos: list[ClusterInfo], spec: PlacementSpec, replicas: int, descending: bool, presorted: bool
) -> object:
    try:
        division = assign_replicas(infos, spec, replicas, True, descending, presorted=presorted)
    except ScheduleError as error:
        return str(error)
    return dict(division.replicas), division.weights


@settings(max_examples=300, deadline=None)
@given(rows=INFOS, replicas=st.integers(1, 40), descending=st.booleans(), aggregated=st.booleans())
def test_division_of_presorted_candidates_equals_sorting_them(
    rows: list[tuple[int, str]], replicas: int, descending: bool, aggregated: bool
) -> None:
    infos = _sorted_infos(rows)
    spec = parse_placement({"replicaScheduling": AGGREGATED if aggregated else DYNAMIC})
    assert _division(infos, spec, replicas, descending, True) == _division(
        infos, spec, replicas, descending, False
    )


@settings(max_examples=300, deadline=None)
@given(
    rows=INFOS,
    replicas=st.integers(0, 40),
    region=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    clusters=st.tuples(st.integers(1, 4), st.integers(1, 8)),
)
def test_region_spread_over_grouped_candidates_equals_grouping_them(
    rows: list[tuple[int, str]],
    replicas: int,
    region: tuple[int, int],
    clusters: tuple[int, int],
) -> None:
    infos = _sorted_infos(rows)
    spec = parse_placement(
        {
            "spreadConstraints": [
                {"spreadByField": "region", "minGroups": min(region), "maxGroups": max(region)},
                {
                    "spreadByField": "cluster",
                    "minGroups": min(clusters),
                    "maxGroups": max(clusters),
                },
            ],
            "replicaScheduling": DYNAMIC,
        }
    )
    grouped: dict[str, list[ClusterInfo]] = {}
    for info in infos:
        if info.region:
            grouped.setdefault(info.region, []).append(info)
    try:
        plain: object = select_best_clusters(spec, infos, replicas)
    except ScheduleError as error:
        plain = str(error)
    try:
        fast: object = select_best_clusters(spec, infos, replicas, regions=grouped)
    except ScheduleError as error:
        fast = str(error)
    assert fast == plain

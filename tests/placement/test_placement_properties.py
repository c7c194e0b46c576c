"""Hypothesis properties of the Webster division and of placement as a whole."""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from placement_kit import cluster, deployment, fleet, policy

from kurator_compile.placement import resolve_placement
from kurator_compile.placement.division import divide
from kurator_compile.placement.spec import parse_placement
from kurator_compile.placement.spread import ClusterInfo
from kurator_compile.placement.webster import dispense, fnv1a32


def naive_webster(
    n: int, w: dict[str, int], init: dict[str, int] | None = None, uid: str = ""
) -> dict[str, int]:
    """The reference of karmada-semantics.md §3.4, one seat at a time."""
    start = dict(init or {})
    if (n == 0 and start) or sum(w.values()) == 0:
        return dict(sorted(start.items()))
    seats = {k: start.get(k, 0) for k in set(w) | set(start)}
    desc = uid != "" and fnv1a32(uid.encode()) & 1 == 1

    def beats(a: str, b: str) -> bool:
        pa = float(w.get(a, 0)) / float(2 * seats[a] + 1)
        pb = float(w.get(b, 0)) / float(2 * seats[b] + 1)
        if pa != pb:
            return pa > pb
        if seats[a] != seats[b]:
            return seats[a] < seats[b]
        return a > b if desc else a < b

    for _ in range(n):
        best: str | None = None
        for k in seats:
            if best is None or beats(k, best):
                best = k
        assert best is not None
        seats[best] += 1
    return dict(sorted(seats.items()))


NAMES = st.text(alphabet="abcxyz019-", min_size=1, max_size=4)
WEIGHTS = st.dictionaries(
    NAMES,
    st.one_of(st.integers(0, 12), st.integers(0, 10**6), st.sampled_from([2**53 + 1, 2**62])),
    max_size=9,
)
UIDS = st.sampled_from(
    ["", "d43fdeeb-d750-4e2b-bee3-64eb94534f4c", "4858ca61-3ff8-4095-8267-f3d059d8074c"]
)


def _descending(uid: str) -> bool:
    return uid != "" and fnv1a32(uid.encode()) & 1 == 1


@settings(max_examples=300, deadline=None)
@given(
    n=st.one_of(st.integers(0, 60), st.integers(0, 3000)),
    weights=WEIGHTS,
    init=st.dictionaries(NAMES, st.integers(0, 40), max_size=4),
    uid=UIDS,
)
def test_fast_webster_equals_the_naive_reference(
    n: int, weights: dict[str, int], init: dict[str, int], uid: str
) -> None:
    assert dispense(n, weights, init, descending=_descending(uid)) == naive_webster(
        n, weights, init, uid
    )


def test_fast_webster_equals_reference_on_many_clusters() -> None:
    rnd = random.Random(20261127)
    for _ in range(5):
        weights = {
            f"member{i}": rnd.choice([1, 1, 2, 3, rnd.randint(1, 5000)])
            for i in range(rnd.randint(50, 300))
        }
        n = rnd.randint(1000, 6000)
        assert dispense(n, weights) == naive_webster(n, weights)


POSITIVE = st.dictionaries(NAMES, st.integers(1, 10**6), min_size=1, max_size=9)


@given(n=st.integers(0, 5000), weights=POSITIVE, uid=UIDS)
def test_shares_sum_to_the_total(n: int, weights: dict[str, int], uid: str) -> None:
    assert sum(dispense(n, weights, descending=_descending(uid)).values()) == n


@given(n=st.integers(1, 5000), weights=POSITIVE, uid=UIDS)
def test_shares_are_weights_over_one_divisor_rounded(
    n: int, weights: dict[str, int], uid: str
) -> None:
    """Webster is a divisor method: some D has s - 1/2 <= w/D <= s + 1/2 for every cluster.

    (Shares are NOT always within 1 of w*N/W: with many small clusters beside a big one,
    Webster can miss the exact quota by more; Karmada inherits that.)
    """
    seats = dispense(n, weights, descending=_descending(uid))
    lower = max(Fraction(2 * s - 1, weights[c]) for c, s in seats.items() if s > 0)
    upper = min(Fraction(2 * s + 1, weights[c]) for c, s in seats.items())
    assert lower <= upper  # 2/D between them


@given(n=st.integers(0, 5000), a=st.integers(1, 10**6), b=st.integers(1, 10**6), uid=UIDS)
def test_two_clusters_get_their_exact_share_rounded(n: int, a: int, b: int, uid: str) -> None:
    seats = dispense(n, {"a": a, "b": b}, descending=_descending(uid))
    assert abs(seats["a"] - Fraction(a * n, a + b)) <= Fraction(1, 2)


@given(n=st.integers(0, 3000), weights=POSITIVE, uid=UIDS)
def test_adding_a_replica_never_takes_one_away(n: int, weights: dict[str, int], uid: str) -> None:
    before = dispense(n, weights, descending=_descending(uid))
    after = dispense(n + 1, weights, descending=_descending(uid))
    assert all(after[c] >= before[c] for c in weights)
    assert sum(after.values()) - sum(before.values()) == 1


@given(
    n=st.integers(0, 200),
    weights=st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 5), min_size=1),
)
def test_zero_weight_clusters_get_nothing(n: int, weights: dict[str, int]) -> None:
    rules = [
        {"targetCluster": {"clusterNames": [name]}, "weight": w} for name, w in weights.items()
    ]
    spec = parse_placement({"replicaScheduling": {"weightPreference": {"staticWeightList": rules}}})
    infos = [ClusterInfo.of(cluster(name), n) for name in sorted(weights)]
    result, used = divide(infos, spec, n, False)
    assert sum(result.values()) == n
    if any(weights.values()):
        assert set(used) == {c for c, w in weights.items() if w > 0}
        assert all(result.get(c, 0) == 0 for c, w in weights.items() if w == 0)
    else:  # no cluster has a weight: all of them weigh 1
        assert set(used) == set(weights)


# --- placement does not depend on input order ----------------------------------------------

PLACEMENTS: list[dict[str, Any]] = [
    {},
    {"clusterAffinity": {"labelSelector": {"matchLabels": {"env": "prod"}}}},
    {"replicaScheduling": {"replicaSchedulingType": "Divided"}},
    {
        "replicaScheduling": {
            "weightPreference": {
                "staticWeightList": [
                    {
                        "targetCluster": {"labelSelector": {"matchLabels": {"env": "prod"}}},
                        "weight": 2,
                    },
                    {"targetCluster": {"clusterNames": ["c1", "c3"]}, "weight": 3},
                    {"targetCluster": {"clusterNames": ["c2"]}, "weight": 0},
                ]
            }
        }
    },
    {"replicaScheduling": {"weightPreference": {"dynamicWeight": "AvailableReplicas"}}},
    {"replicaScheduling": {"replicaDivisionPreference": "Aggregated"}},
    {
        "spreadConstraints": [{"spreadByField": "cluster", "maxGroups": 2}],
        "replicaScheduling": {"weightPreference": {"dynamicWeight": "AvailableReplicas"}},
    },
    {
        "spreadConstraints": [
            {"spreadByField": "region", "maxGroups": 2},
            {"spreadByField": "cluster", "maxGroups": 3},
        ]
    },
    {
        "clusterAffinities": [
            {"affinityName": "dev", "labelSelector": {"matchLabels": {"env": "dev"}}},
            {"affinityName": "any"},
        ],
        "replicaScheduling": {"replicaDivisionPreference": "Aggregated"},
    },
    {
        "clusterTolerations": [{"key": "gpu", "operator": "Exists"}],
        "replicaScheduling": {"replicaSchedulingType": "Divided"},
    },
]

CLUSTER = st.fixed_dictionaries(
    {
        "env": st.sampled_from(["prod", "dev", None]),
        "region": st.sampled_from(["r1", "r2", ""]),
        "pods": st.one_of(st.none(), st.integers(0, 12)),
        "gpu": st.booleans(),
    }
)


def clusters_of(raw_clusters: list[dict[str, Any]]) -> list[Any]:
    """The clusters a list of drawn CLUSTER entries stands for, named c0, c1, ..."""
    return [
        cluster(
            f"c{i}",
            {"env": raw["env"]} if raw["env"] else {},
            region=raw["region"],
            capacity={} if raw["pods"] is None else {"pods": str(raw["pods"])},
            taints=[("gpu", "", "NoSchedule")] if raw["gpu"] else [],
        )
        for i, raw in enumerate(raw_clusters)
    ]


@settings(max_examples=80, deadline=None)
@given(
    raw_clusters=st.lists(CLUSTER, min_size=0, max_size=6),
    choices=st.lists(
        st.tuples(st.integers(0, len(PLACEMENTS) - 1), st.integers(-1, 1), st.booleans()),
        min_size=1,
        max_size=4,
    ),
    replicas=st.lists(st.integers(0, 9), min_size=1, max_size=4),
    seed=st.randoms(use_true_random=False),
)
def test_placement_is_independent_of_input_order(
    raw_clusters: list[dict[str, Any]],
    choices: list[tuple[int, int, bool]],
    replicas: list[int],
    seed: random.Random,
) -> None:
    clusters = clusters_of(raw_clusters)
    policies = []
    for i, (which, priority, by_name) in enumerate(choices):
        selectors: list[dict[str, Any]] = [
            {"apiVersion": "apps/v1", "kind": "Deployment"},
            {"apiVersion": "v1", "kind": "ConfigMap"},
        ]
        if by_name:
            selectors.append({"apiVersion": "apps/v1", "kind": "Deployment", "name": "app0"})
        policies.append(policy(f"p{i}", PLACEMENTS[which], priority=priority, selectors=selectors))
    resources = [deployment(f"app{i}", r) for i, r in enumerate(replicas)]

    def outcome(the_clusters: list[Any], the_policies: list[dict[str, Any]]) -> Any:
        placements, diagnostics = resolve_placement(fleet(the_clusters, resources, the_policies))
        return (
            [(p.policy and p.policy.name, dict(p.replicas), p.explanation) for p in placements],
            sorted(d.render() for d in diagnostics),
        )

    expected = outcome(clusters, policies)
    shuffled_clusters = seed.sample(clusters, len(clusters))
    shuffled_policies = []
    for data in seed.sample(policies, len(policies)):
        data = {**data, "spec": {**data["spec"]}}
        data["spec"]["resourceSelectors"] = seed.sample(
            data["spec"]["resourceSelectors"], len(data["spec"]["resourceSelectors"])
        )
        shuffled_policies.append(data)
    assert outcome(shuffled_clusters, shuffled_policies) == expected


@given(
    available=st.dictionaries(NAMES, st.integers(0, 50), min_size=1, max_size=12),
    replicas=st.integers(1, 80),
    uid=UIDS,
    seed=st.randoms(use_true_random=False),
)
def test_dynamic_division_is_webster_over_availability_in_any_order(
    available: dict[str, int], replicas: int, uid: str, seed: random.Random
) -> None:
    spec = parse_placement(
        {"replicaScheduling": {"weightPreference": {"dynamicWeight": "AvailableReplicas"}}}
    )
    infos = [ClusterInfo.of(cluster(n), a, False) for n, a in available.items()]
    seed.shuffle(infos)
    if sum(available.values()) < replicas:
        return
    result, _ = divide(infos, spec, replicas, _descending(uid))
    assert result == naive_webster(replicas, available, None, uid)

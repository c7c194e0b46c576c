"""Placement throughput on an in-memory fleet (no files): `python benchmarks/placement_bench.py`.

Prints the time to place
* 10,000 Deployments (Duplicated, static weights, dynamic weights, Aggregated, spread and
  clusterAffinities fallbacks; varied replica counts and request profiles) over 1,000 clusters;
* the same fleet where every workload has its own request profile (no two alike: the worst
  case for the scheduler's per-shape reuse);
* that fleet again where no two clusters declare the same capacity either (the scheduler
  can no longer rank alike clusters as one group);
* one Deployment with 100,000 replicas over 1,000 clusters, one static weight rule per cluster;
* the Webster division of that workload alone, and the one-seat-at-a-time reference on it;
* what reading the placement lock costs: the 10,000 workloads placed from their previous
  results, and the 1,000-cluster build of `benchmarks/run.py` (compiled in memory, no disk
  writes) with its lock against the same build without one.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from kurator_compile.compile import compile_fleet
from kurator_compile.lock import read_lock
from kurator_compile.model import Cluster, Fleet, Policy, Resource
from kurator_compile.options import Options
from kurator_compile.placement import History, resolve_placement
from kurator_compile.placement.webster import allocate_webster_seats
from kurator_compile.sources import read_sources, with_lock
from kurator_compile.yamldoc import Document

CLUSTERS = 1_000
WORKLOADS = 10_000


def _clusters(rnd: random.Random) -> tuple[Cluster, ...]:
    clusters = []
    for i in range(CLUSTERS):
        capacity: dict[str, str] = {}
        if i % 10 != 0:  # one cluster in ten declares nothing: capacity unknown
            capacity = {
                "cpu": str(rnd.choice([16, 32, 64, 96])),
                "memory": f"{rnd.choice([64, 128, 256])}Gi",
                "pods": str(rnd.choice([110, 250])),
            }
        clusters.append(
            Cluster(
                f"member{i:04d}",
                {"env": "prod" if i % 3 else "dev", "tier": f"t{i % 5}"},
                provider="cloud",
                region=f"region-{i % 10}",
                zones=(f"zone-{i % 30}",),
                capacity=capacity,
            )
        )
    return tuple(clusters)


WEIGHTED = {"replicaSchedulingType": "Divided", "replicaDivisionPreference": "Weighted"}
PLACEMENTS: list[dict[str, Any]] = [
    {"clusterAffinity": {"labelSelector": {"matchLabels": {"tier": "t1"}}}},
    {
        "replicaScheduling": {
            **WEIGHTED,
            "weightPreference": {
                "staticWeightList": [
                    {
                        "targetCluster": {"labelSelector": {"matchLabels": {"tier": f"t{t}"}}},
                        "weight": t + 1,
                    }
                    for t in range(5)
                ]
            },
        }
    },
    {
        "clusterAffinity": {"labelSelector": {"matchLabels": {"env": "prod"}}},
        "replicaScheduling": {
            **WEIGHTED,
            "weightPreference": {"dynamicWeight": "AvailableReplicas"},
        },
    },
    {
        "clusterAffinity": {
            "fieldSelector": {
                "matchExpressions": [
                    {"key": "region", "operator": "In", "values": ["region-1", "region-2"]}
                ]
            }
        },
        "replicaScheduling": {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Aggregated",
        },
    },
    {
        "spreadConstraints": [{"spreadByField": "cluster", "maxGroups": 20, "minGroups": 3}],
        "replicaScheduling": {
            **WEIGHTED,
            "weightPreference": {"dynamicWeight": "AvailableReplicas"},
        },
    },
    {
        "spreadConstraints": [
            {"spreadByField": "region", "minGroups": 2, "maxGroups": 3},
            {"spreadByField": "cluster", "minGroups": 3, "maxGroups": 6},
        ],
        "replicaScheduling": {
            **WEIGHTED,
            "weightPreference": {"dynamicWeight": "AvailableReplicas"},
        },
    },
    {
        "clusterAffinities": [
            {"affinityName": "edge", "labelSelector": {"matchLabels": {"tier": "none"}}},
            {"affinityName": "dev", "labelSelector": {"matchLabels": {"env": "dev"}}},
        ],
        "replicaScheduling": {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Aggregated",
        },
    },
    {"replicaScheduling": {"replicaSchedulingType": "Divided"}},
]


def _policies() -> tuple[Policy, ...]:
    return tuple(
        Policy(
            Document(
                f"policies/p{i}.yaml",
                0,
                {
                    "apiVersion": "policy.karmada.io/v1alpha1",
                    "kind": "ClusterPropagationPolicy",
                    "metadata": {"name": f"p{i}"},
                    "spec": {
                        "resourceSelectors": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "Deployment",
                                "labelSelector": {"matchLabels": {"group": f"g{i}"}},
                            }
                        ],
                        "placement": placement,
                    },
                },
                {},
            )
        )
        for i, placement in enumerate(PLACEMENTS)
    )


def _deployment(i: int, replicas: int, requests: dict[str, str], uid: str) -> Resource:
    return Resource(
        Document(
            f"apps/app{i}.yaml",
            0,
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": f"app{i}",
                    "namespace": f"ns{i % 50}",
                    "uid": uid,
                    "labels": {"group": f"g{i % len(PLACEMENTS)}"},
                },
                "spec": {
                    "replicas": replicas,
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "image": "nginx",
                                    "resources": {"requests": requests},
                                }
                            ]
                        }
                    },
                },
            },
            {},
        )
    )


def _fleet(distinct_profiles: bool) -> Fleet:
    rnd = random.Random(42)
    profiles = [
        {"cpu": c, "memory": m}
        for c in ("100m", "250m", "500m", "1")
        for m in ("128Mi", "512Mi", "2Gi")
    ]
    resources = []
    for i in range(WORKLOADS):
        requests = (
            {"cpu": f"{100 + i}m", "memory": "256Mi"} if distinct_profiles else rnd.choice(profiles)
        )
        uid = f"{rnd.getrandbits(128):032x}"
        resources.append(_deployment(i, rnd.randint(1, 40), requests, uid))
    return Fleet(
        "bench",
        _clusters(rnd),
        Document("fleet.yaml", 0, {}, {}),
        resources=tuple(resources),
        policies=_policies(),
    )


def _unalike(fleet: Fleet) -> Fleet:
    """`fleet` with every declared capacity made unique (the unknown ones stay unknown)."""
    rnd = random.Random(3)
    clusters = tuple(
        replace(
            cluster,
            capacity={
                "cpu": f"{rnd.randint(8_000, 96_000)}m",
                "memory": f"{rnd.randint(32 * 1024, 256 * 1024)}Mi",
                "pods": str(rnd.randint(100, 250)),
            },
        )
        if cluster.capacity
        else cluster
        for cluster in fleet.clusters
    )
    return replace(fleet, clusters=clusters)


def _big_fleet() -> Fleet:
    rnd = random.Random(7)
    rules = [
        {"targetCluster": {"clusterNames": [f"member{i:04d}"]}, "weight": rnd.randint(1, 100)}
        for i in range(CLUSTERS)
    ]
    policy = Policy(
        Document(
            "policies/big.yaml",
            0,
            {
                "apiVersion": "policy.karmada.io/v1alpha1",
                "kind": "ClusterPropagationPolicy",
                "metadata": {"name": "big"},
                "spec": {
                    "resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment"}],
                    "placement": {
                        "replicaScheduling": {
                            **WEIGHTED,
                            "weightPreference": {"staticWeightList": rules},
                        }
                    },
                },
            },
            {},
        )
    )
    return Fleet(
        "big",
        _clusters(rnd),
        Document("fleet.yaml", 0, {}, {}),
        resources=(_deployment(0, 100_000, {"cpu": "100m"}, ""),),
        policies=(policy,),
    )


def _best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _cpu(work: Callable[[], object]) -> float:
    """CPU seconds of this process: steadier than wall time on a shared machine."""
    start = time.process_time()
    work()
    return time.process_time() - start


def _naive(n: int, votes: dict[str, int]) -> dict[str, int]:
    seats = dict.fromkeys(votes, 0)
    for _ in range(n):
        best = max(votes, key=lambda k: (votes[k] / (2 * seats[k] + 1), -seats[k]))
        seats[best] += 1
    return seats


def main() -> None:
    mixed, distinct, big = _fleet(False), _fleet(True), _big_fleet()
    unalike = _unalike(distinct)
    placements, diagnostics = resolve_placement(mixed)
    errors = sum(d.is_error for d in diagnostics)
    placed = sum(bool(p.replicas) for p in placements)
    print(
        f"{WORKLOADS:,} workloads x {CLUSTERS:,} clusters, 12 request profiles: "
        f"{_best_of(3, lambda: resolve_placement(mixed)):.3f} s "
        f"({placed:,} placed, {errors} errors)"
    )
    print(
        f"{WORKLOADS:,} workloads x {CLUSTERS:,} clusters, every request profile distinct: "
        f"{_best_of(1, lambda: resolve_placement(distinct)):.3f} s"
    )
    print(
        f"  ... and no two cluster capacities alike: "
        f"{_best_of(1, lambda: resolve_placement(unalike)):.3f} s"
    )
    [one], _ = resolve_placement(big)
    assert sum(v or 0 for v in one.replicas.values()) == 100_000
    print(
        f"1 workload, 100,000 replicas x {CLUSTERS:,} weighted clusters (resolve_placement): "
        f"{_best_of(5, lambda: resolve_placement(big)) * 1000:.1f} ms"
    )
    votes = dict(one.weights)
    print(
        f"  Webster division alone: "
        f"{_best_of(5, lambda: allocate_webster_seats(100_000, votes)) * 1000:.2f} ms"
    )
    small = 5_000
    start = time.perf_counter()
    _naive(small, votes)
    per_seat = (time.perf_counter() - start) / small
    print(
        f"  one-seat-at-a-time reference (O(N x clusters)): ~{per_seat * 100_000:.0f} s "
        f"extrapolated from {small:,} seats"
    )


def lock_overhead(mixed: Fleet) -> None:
    """Placement and a whole build, each with and without the placement lock."""
    placements, _ = resolve_placement(mixed)
    entries = {str(p.resource.key): p.locked for p in placements if p.locked is not None}
    history = History(entries)
    fresh = again = float("inf")
    for _ in range(3):
        fresh = min(fresh, _cpu(lambda: resolve_placement(mixed)))
        again = min(again, _cpu(lambda: resolve_placement(mixed, history)))
    print(
        f"{WORKLOADS:,} workloads x {CLUSTERS:,} clusters from the placement lock (CPU time): "
        f"{again:.3f} s against {fresh:.3f} s without ({(again / fresh - 1) * 100:+.1f}%)"
    )
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.synthetic import write_fleet

    with tempfile.TemporaryDirectory() as folder:
        fleet = write_fleet(Path(folder), CLUSTERS, overlays=True)
        sources = read_sources(fleet)
        options = Options()
        lock = compile_fleet(sources, options).lock
        locked = with_lock(sources, lock.decode("utf-8"))
        without = with_it = float("inf")
        for _ in range(9):  # alternated, best CPU time of each
            without = min(without, _cpu(lambda: compile_fleet(sources, options)))
            with_it = min(with_it, _cpu(lambda: compile_fleet(locked, options)))
        text = lock.decode("utf-8")
        reading = _best_of(5, lambda: read_lock(text, "lock", "synthetic"))
        print(
            f"{CLUSTERS:,}-cluster build (benchmarks/run.py's fleet, in memory, CPU time): "
            f"{with_it:.3f} s with its {len(lock) // 1024:,} KiB lock against {without:.3f} s "
            f"without ({(with_it / without - 1) * 100:+.1f}%; reading it {reading * 1000:.1f} ms)"
        )


if __name__ == "__main__":
    main()
    lock_overhead(_fleet(False))

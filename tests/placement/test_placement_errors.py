"""Every error and warning path: message and location."""

from __future__ import annotations

from typing import Any

import pytest
from placement_kit import cluster, deployment, fleet, place, policy

from kurator_compile.placement import resolve_placement

TWO = [cluster("a"), cluster("b")]
SEED_PLACEMENT = {
    "clusterAffinity": {"clusterNames": ["cluster-shanghai", "cluster-hangzhou"]},
    "replicaScheduling": {
        "replicaSchedulingType": "Weighted",
        "replicaDivisionPreference": "Aggregated",
        "weightList": [
            {"targetCluster": {"clusterNames": ["cluster-shanghai"]}, "weight": 60},
            {"targetCluster": {"clusterNames": ["cluster-hangzhou"]}, "weight": 40},
        ],
    },
}
WEIGHT_LIST = "/spec/placement/replicaScheduling/weightList"


def _diagnostics(
    placement: dict[str, Any],
    resources: list[dict[str, Any]] | None = None,
    clusters: list[Any] | None = None,
) -> list[str]:
    the_fleet = fleet(
        clusters or TWO,
        resources if resources is not None else [deployment()],
        [policy("p", placement)],
        positions={
            "p": {
                WEIGHT_LIST: (18, 7),
                "/spec/placement/clusterAffinities": (9, 5),
                "/spec/placement/spreadConstraints": (14, 5),
            }
        },
    )
    return [d.render() for d in resolve_placement(the_fleet)[1]]


def test_weight_list_shorthand_with_aggregated_warns_with_canonical_yaml() -> None:
    clusters = [
        cluster("cluster-shanghai", capacity={"pods": "6"}),
        cluster("cluster-hangzhou", capacity={"pods": "10"}),
    ]
    [warning] = _diagnostics(SEED_PLACEMENT, [deployment(replicas=4)], clusters)
    assert warning.startswith(
        "policies/p.yaml:18:7: warning: ClusterPropagationPolicy/p: replicaScheduling uses "
        "replicaSchedulingType: Weighted and weightList, which Karmada does not have"
    )
    assert (
        "it is compiled as if you wrote:\n"
        "  replicaScheduling:\n"
        "    replicaSchedulingType: Divided\n"
        "    replicaDivisionPreference: Aggregated\n"
        "    weightPreference:\n"
        "      staticWeightList:\n"
        "        - targetCluster:\n"
        "            clusterNames:\n"
        "              - cluster-shanghai\n"
        "          weight: 60\n"
        "        - targetCluster:\n"
        "            clusterNames:\n"
        "              - cluster-hangzhou\n"
        "          weight: 40\n"
    ) in warning
    assert "replicaDivisionPreference: Aggregated wins" in warning
    assert warning.endswith(f"(at {WEIGHT_LIST})")


def test_weight_list_shorthand_divides_by_the_weights() -> None:
    placement = {
        "replicaScheduling": {
            "replicaSchedulingType": "Weighted",
            "weightList": [
                {"targetCluster": {"clusterNames": ["a"]}, "weight": 3},
                {"targetCluster": {"clusterNames": ["b"]}, "weight": 1},
            ],
        }
    }
    placements, diagnostics = place(TWO, [deployment(replicas=8)], [policy("p", placement)])
    assert dict(placements[0].replicas) == {"a": 6, "b": 2}
    assert len(diagnostics) == 1
    assert "replicaDivisionPreference: Weighted\n" in diagnostics[0]
    assert "Aggregated wins" not in diagnostics[0]


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        (
            {
                "clusterAffinity": {"clusterNames": ["a"]},
                "clusterAffinities": [{"affinityName": "x", "clusterNames": ["b"]}],
            },
            "policies/p.yaml:9:5: error: ClusterPropagationPolicy/p: clusterAffinities cannot "
            "co-exist with clusterAffinity; keep one of them (at "
            "/spec/placement/clusterAffinities)",
        ),
        (
            {"spreadConstraints": [{"spreadByField": "region", "maxGroups": 1}]},
            "policies/p.yaml:14:5: error: ClusterPropagationPolicy/p: the cluster spread "
            "constraint must be enabled in one of the constraints in case of SpreadByField is "
            "enabled (add `- spreadByField: cluster`) (at /spec/placement/spreadConstraints)",
        ),
        (
            {"spreadConstraints": [{"spreadByField": "cluster", "minGroups": 3, "maxGroups": 2}]},
            "maxGroups (2) lower than minGroups (3) is not allowed (at "
            "/spec/placement/spreadConstraints/0/maxGroups)",
        ),
        (
            {"spreadConstraints": [{"spreadByField": "cluster", "spreadByLabel": "x"}]},
            "spreadByLabel should not co-exist with spreadByField (at "
            "/spec/placement/spreadConstraints/0)",
        ),
        (
            {
                "spreadConstraints": [
                    {"spreadByField": "cluster", "maxGroups": 1},
                    {"spreadByField": "cluster", "maxGroups": 2},
                ]
            },
            "multiple cluster spread constraints are not allowed",
        ),
        (
            {"spreadConstraints": [{"spreadByField": "rack", "maxGroups": 1}]},
            "spreadByField 'rack' must be one of cluster, region, zone, provider",
        ),
        (
            {"replicaScheduling": {"replicaSchedulingType": "Spread"}},
            "unsupported replica scheduling strategy, replicaSchedulingType: Spread",
        ),
        (
            {"replicaScheduling": {"replicaDivisionPreference": "Balanced"}},
            "unsupported replica scheduling strategy, replicaDivisionPreference: Balanced",
        ),
        (
            {"replicaScheduling": {"weightPreference": {"dynamicWeight": "Memory"}}},
            "dynamicWeight 'Memory' is not supported",
        ),
        (
            {
                "replicaScheduling": {
                    "weightList": [{"targetCluster": {"clusterNames": ["a"]}, "weight": 1}],
                    "weightPreference": {
                        "staticWeightList": [
                            {"targetCluster": {"clusterNames": ["a"]}, "weight": 1}
                        ]
                    },
                }
            },
            "weightList and weightPreference.staticWeightList are both set",
        ),
        (
            {
                "clusterAffinities": [
                    {
                        "affinityName": "x",
                        "clusterNames": ["a"],
                        "overflowAffinities": [{"affinityName": "y", "clusterNames": ["b"]}],
                    }
                ]
            },
            "overflowAffinities can only be used together with dynamic weight or aggregated",
        ),
        (
            {"clusterAffinities": [{"affinityName": "x"}, {"affinityName": "x"}]},
            "each affinity term in a policy must have a unique name; 'x' repeats",
        ),
        (
            {"clusterAffinities": [{"affinityName": "bad name!"}]},
            "affinityName 'bad name!' must be a valid label key",
        ),
        (
            {
                "clusterAffinity": {
                    "fieldSelector": {
                        "matchExpressions": [
                            {"key": "metadata.name", "operator": "In", "values": ["a"]}
                        ]
                    }
                }
            },
            "unsupported fieldSelector key 'metadata.name', must be provider, region, or zone",
        ),
        (
            {
                "clusterAffinity": {
                    "fieldSelector": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}
                }
            },
            "unsupported fieldSelector operator 'Exists', must be In or NotIn",
        ),
        (
            {"clusterTolerations": [{"key": "k", "operator": "Gt", "value": "1"}]},
            "clusterTolerations operator 'Gt' is not supported",
        ),
        (
            {
                "replicaScheduling": {
                    "weightPreference": {
                        "staticWeightList": [
                            {"targetCluster": {"clusterNames": ["a"]}, "weight": "heavy"}
                        ]
                    }
                }
            },
            "weight must be a non-negative integer, not 'heavy'",
        ),
    ],
)
def test_invalid_placements_are_errors_at_the_field(
    placement: dict[str, Any], expected: str
) -> None:
    diagnostics = _diagnostics(placement)
    assert len(diagnostics) == 1, diagnostics
    assert "error: ClusterPropagationPolicy/p: " in diagnostics[0]
    assert expected in diagnostics[0]


def test_invalid_policy_is_reported_once_and_places_nothing() -> None:
    placement = {"clusterAffinity": {}, "clusterAffinities": [{"affinityName": "x"}]}
    placements, diagnostics = place(
        TWO, [deployment("one"), deployment("two")], [policy("p", placement)]
    )
    assert len(diagnostics) == 1
    assert all(p.replicas == {} for p in placements)
    assert "error: ClusterPropagationPolicy/p is invalid" in "\n".join(placements[0].explanation)


def test_propagation_policy_selector_in_another_namespace() -> None:
    pp = policy(
        "pp",
        {},
        namespace="shop",
        selectors=[{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "x"}],
    )
    _, diagnostics = place(TWO, [deployment()], [pp])
    assert diagnostics[0] == (
        "policies/pp.yaml:1:1: error: PropagationPolicy/shop/pp: namespace of resource selector "
        "(x) must be the same as the namespace of the policy (shop) "
        "(at /spec/resourceSelectors/0/namespace)"
    )


def test_bad_cluster_capacity_is_an_error_at_the_cluster() -> None:
    clusters = [cluster("a", capacity={"cpu": "lots"}), cluster("b")]
    _, diagnostics = place(clusters, [deployment()], [policy("p", {})])
    assert diagnostics == [
        "fleet.yaml:3:5: error: cluster a: capacity cpu: invalid quantity 'lots': expected a "
        "number with an optional suffix (m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei) or "
        "exponent (e.g. 1e3) (at /spec/clusters/a/capacity/cpu)"
    ]


def test_bad_request_quantity_is_an_error_at_the_container() -> None:
    dep = deployment(requests={"memory": "1 Gi"})
    _, diagnostics = place(TWO, [dep], [policy("p", {})])
    assert len(diagnostics) == 1
    assert diagnostics[0].startswith(
        "apps/0.yaml:1:1: error: Deployment.apps/shop/web: invalid quantity '1 Gi'"
    )
    assert diagnostics[0].endswith(
        "(at /spec/template/spec/containers/0/resources/requests/memory)"
    )


def test_bad_replica_count_is_an_error() -> None:
    dep = deployment()
    dep["spec"]["replicas"] = "three"
    _, diagnostics = place(TWO, [dep], [policy("p", {})])
    assert diagnostics[0] == (
        "apps/0.yaml:1:1: error: Deployment.apps/shop/web: spec.replicas must be an integer "
        ">= 0, not 'three' (at /spec/replicas)"
    )


def test_no_cluster_at_all() -> None:
    _, diagnostics = place([], [deployment()], [policy("p", {})])
    assert diagnostics == [
        "apps/0.yaml:1:1: error: Deployment.apps/shop/web cannot be scheduled: 0/0 clusters "
        "are available: no cluster exists. (policy ClusterPropagationPolicy/p at "
        "policies/p.yaml:1:1)"
    ]


def test_min_groups_above_feasible_clusters() -> None:
    placement = {
        "spreadConstraints": [{"spreadByField": "cluster", "minGroups": 3, "maxGroups": 3}]
    }
    _, diagnostics = place(TWO, [deployment()], [policy("p", placement)])
    assert (
        "failed to select clusters: the number of feasible clusters is less than "
        "spreadConstraint.MinGroups" in diagnostics[0]
    )


def test_region_spread_without_enough_regions() -> None:
    clusters = [cluster("a", region="r1"), cluster("b", region="r1")]
    placement = {
        "spreadConstraints": [
            {"spreadByField": "region", "minGroups": 2, "maxGroups": 2},
            {"spreadByField": "cluster", "maxGroups": 2},
        ]
    }
    _, diagnostics = place(clusters, [deployment()], [policy("p", placement)])
    assert (
        "the number of feasible region is less than spreadConstraint.MinGroups" in (diagnostics[0])
    )


def test_region_search_explosion_is_an_error_not_a_hang() -> None:
    clusters = [cluster(f"c{i:02d}", region=f"r{i:02d}") for i in range(40)]
    placement = {
        "spreadConstraints": [
            {"spreadByField": "region", "minGroups": 1, "maxGroups": 40},
            {"spreadByField": "cluster", "minGroups": 41, "maxGroups": 41},
        ]
    }
    _, diagnostics = place(clusters, [deployment()], [policy("p", placement)])
    assert (
        "the region spread search visits more than 200000 combinations of 40 regions"
        in (diagnostics[0])
    )

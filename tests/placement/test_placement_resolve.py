"""resolve_placement end to end: policy choice, filters, strategies, spread, messages."""

from __future__ import annotations

from typing import Any

import pytest
from placement_kit import cluster, configmap, deployment, fleet, place, policy, replicas_of

from kurator_compile.placement import explain_placement, resolve_placement

THREE = [cluster("a", {"env": "prod"}), cluster("b", {"env": "prod"}), cluster("c")]
DIVIDED = {"replicaScheduling": {"replicaSchedulingType": "Divided"}}
DYNAMIC = {
    "replicaScheduling": {
        "replicaSchedulingType": "Divided",
        "replicaDivisionPreference": "Weighted",
        "weightPreference": {"dynamicWeight": "AvailableReplicas"},
    }
}
AGGREGATED = {
    "replicaScheduling": {
        "replicaSchedulingType": "Divided",
        "replicaDivisionPreference": "Aggregated",
    }
}


# --- policy choice -----------------------------------------------------------------------


def test_propagation_policy_beats_any_cluster_policy() -> None:
    cpp = policy(
        "urgent",
        {},
        priority=100,
        selectors=[{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}],
    )
    pp = policy("shop-all", {"clusterAffinity": {"clusterNames": ["a"]}}, namespace="shop")
    [placed], diagnostics = place(THREE, [deployment()], [cpp, pp])
    assert diagnostics == []
    assert placed.policy is not None
    assert placed.policy.name == "shop-all"
    assert replicas_of(placed) == {"a": 4}
    assert placed.competitors == ("ClusterPropagationPolicy/urgent",)
    text = "\n".join(placed.explanation)
    assert "PropagationPolicy/shop/shop-all" in text
    assert "a PropagationPolicy always beats a ClusterPropagationPolicy" in text


def test_propagation_policy_only_claims_its_own_namespace() -> None:
    pp = policy("elsewhere", {}, namespace="other")
    cpp = policy("fallback", {"clusterAffinity": {"clusterNames": ["b"]}})
    [placed], _ = place(THREE, [deployment()], [pp, cpp])
    assert placed.policy is not None
    assert placed.policy.name == "fallback"
    assert replicas_of(placed) == {"b": 4}


def test_explicit_then_implicit_priority_then_name() -> None:
    by_name = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}]
    by_label = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "labelSelector": {"matchLabels": {"tier": "front"}},
        }
    ]
    policies = [
        policy("a-all", {}, priority=1),
        policy("b-name", {}, selectors=by_name),
        policy("d-label", {}, selectors=by_label, priority=1),
        policy("c-label", {}, selectors=by_label, priority=1),
    ]
    [placed], _ = place(THREE, [deployment(labels={"tier": "front"})], policies)
    assert placed.policy is not None
    assert placed.policy.name == "c-label"
    assert placed.competitors == (
        "ClusterPropagationPolicy/d-label",
        "ClusterPropagationPolicy/a-all",
        "ClusterPropagationPolicy/b-name",
    )
    text = "\n".join(placed.explanation)
    assert "loses: same priorities; 'c-label' sorts before 'd-label'" in text
    assert "loses: lower implicit priority (match-all selector < labelSelector match)" in text
    assert "loses: lower explicit priority (0 < 1)" in text


def test_cluster_scoped_objects_only_match_cluster_policies() -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "reader"},
    }
    selectors = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}]
    pp = policy("pp", {}, namespace="default", selectors=selectors)
    [placed], diagnostics = place(THREE, [role], [pp])
    assert placed.policy is None
    assert placed.replicas == {}
    assert "selected by no propagation policy" in diagnostics[0]
    [placed], _ = place(THREE, [role], [pp, policy("cpp", {}, selectors=selectors)])
    assert replicas_of(placed) == {"a": None, "b": None, "c": None}


def test_unmatched_object_warning_is_unchanged() -> None:
    [placed], diagnostics = place(THREE, [configmap()], [policy("deploys", {})])
    assert placed.replicas == {}
    assert diagnostics == [
        "apps/0.yaml:1:1: warning: ConfigMap/shop/settings is selected by no propagation "
        "policy; it is rendered nowhere"
    ]


# --- non-workloads and namespaces ---------------------------------------------------------


def test_non_workloads_go_unchanged_to_every_selected_cluster() -> None:
    cpp = policy(
        "cfg",
        {"clusterAffinity": {"labelSelector": {"matchLabels": {"env": "prod"}}}, **DIVIDED},
        selectors=[{"apiVersion": "v1", "kind": "ConfigMap"}],
    )
    [placed], _ = place(THREE, [configmap()], [cpp])
    assert replicas_of(placed) == {"a": None, "b": None}
    assert placed.strategy == ""


def test_zero_replica_deployment_without_requests_is_a_non_workload() -> None:
    [placed], diagnostics = place(THREE, [deployment(replicas=0)], [policy("p", DYNAMIC)])
    assert replicas_of(placed) == {"a": None, "b": None, "c": None}
    assert diagnostics == []


def test_zero_replica_deployment_with_requests_lands_nowhere() -> None:
    dep = deployment(replicas=0, requests={"cpu": "1"})
    [placed], diagnostics = place(THREE, [dep], [policy("p", {})])
    assert placed.replicas == {}
    assert len(diagnostics) == 1
    assert "has 0 replicas but resource requirements" in diagnostics[0]


def test_namespaces_are_propagated_everywhere_by_karmada() -> None:
    tainted = cluster("t", taints=[("dedicated", "gpu", "NoSchedule")])
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    skipped = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "quiet",
            "labels": {"namespace.karmada.io/skip-auto-propagation": "true"},
        },
    }
    [ns, quiet], diagnostics = place([*THREE, tainted], [namespace, skipped], [])
    assert replicas_of(ns) == {"a": None, "b": None, "c": None, "t": None}
    assert "namespace sync controller" in ns.explanation[0]
    assert quiet.replicas == {}
    assert len(diagnostics) == 1


def test_objects_in_kube_namespaces_are_never_propagated() -> None:
    cpp = policy("all", {}, selectors=[{"apiVersion": "v1", "kind": "ConfigMap"}])
    [placed], diagnostics = place(THREE, [configmap(namespace="kube-system")], [cpp])
    assert placed.replicas == {}
    assert "which Karmada never propagates" in diagnostics[0]


# --- strategies ---------------------------------------------------------------------------


def test_duplicated_defaults_missing_replicas_to_one() -> None:
    [placed], _ = place(THREE, [deployment(replicas=None)], [policy("p", {})])
    assert replicas_of(placed) == {"a": 1, "b": 1, "c": 1}
    assert placed.strategy == "Duplicated"


def test_static_weights_take_the_max_matching_rule_and_drop_zero() -> None:
    weights = {
        "replicaScheduling": {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {
                "staticWeightList": [
                    {
                        "targetCluster": {"labelSelector": {"matchLabels": {"env": "prod"}}},
                        "weight": 1,
                    },
                    {"targetCluster": {"clusterNames": ["a"]}, "weight": 3},
                ]
            },
        }
    }
    [placed], _ = place(THREE, [deployment(replicas=8)], [policy("p", weights)])
    assert replicas_of(placed) == {"a": 6, "b": 2}
    assert placed.weights == (("a", 3), ("b", 1))
    assert "weights fed to Webster: a=3, b=1" in placed.explanation


def test_divided_without_preference_is_weighted_equally() -> None:
    [placed], _ = place(THREE, [deployment(replicas=5)], [policy("p", DIVIDED)])
    assert replicas_of(placed) == {"a": 2, "b": 2, "c": 1}


def test_odd_uid_mirrors_webster_ties() -> None:
    odd = "d43fdeeb-d750-4e2b-bee3-64eb94534f4c"
    [placed], _ = place(THREE, [deployment(replicas=5, uid=odd)], [policy("p", DIVIDED)])
    assert replicas_of(placed) == {"a": 1, "b": 2, "c": 2}


def test_dynamic_weight_divides_by_estimated_capacity() -> None:
    clusters = [
        cluster("a", capacity={"cpu": "4", "memory": "64Gi"}),
        cluster("b", capacity={"cpu": "2000m"}),
    ]
    dep = deployment(replicas=6, requests={"cpu": "500m", "memory": "1Gi"})
    [placed], _ = place(clusters, [dep], [policy("p", DYNAMIC)])
    assert replicas_of(placed) == {"a": 4, "b": 2}
    assert placed.weights == (("a", 8), ("b", 4))


def test_unknown_capacity_counts_as_the_replica_count() -> None:
    clusters = [cluster("a"), cluster("b"), cluster("c", capacity={"pods": "3"})]
    [placed], _ = place(clusters, [deployment(replicas=7)], [policy("p", DYNAMIC)])
    assert replicas_of(placed) == {"a": 3, "b": 3, "c": 1}
    assert "a (capacity unknown: counts as 7)" in "\n".join(placed.explanation)


def test_aggregated_takes_the_shortest_prefix_then_webster() -> None:
    clusters = [
        cluster(n, capacity={"pods": p}) for n, p in (("m1", "6"), ("m2", "8"), ("m3", "10"))
    ]
    [placed], _ = place(clusters, [deployment(replicas=12)], [policy("p", AGGREGATED)])
    assert replicas_of(placed) == {"m2": 5, "m3": 7}


def test_not_enough_capacity_is_an_error_naming_the_policy() -> None:
    clusters = [cluster("a", capacity={"pods": "2"}), cluster("b", capacity={"pods": "3"})]
    [placed], diagnostics = place(clusters, [deployment(replicas=9)], [policy("p", AGGREGATED)])
    assert placed.replicas == {}
    assert diagnostics == [
        "apps/0.yaml:1:1: error: Deployment.apps/shop/web cannot be scheduled: failed to "
        "assign replicas: Clusters available replicas 5 are not enough to schedule. "
        "(policy ClusterPropagationPolicy/p at policies/p.yaml:1:1)"
    ]


# --- filters ------------------------------------------------------------------------------


def test_taints_filter_unless_tolerated() -> None:
    clusters = [
        cluster("a"),
        cluster("gpu", taints=[("dedicated", "gpu", "NoSchedule")]),
        cluster("soft", taints=[("x", "", "PreferNoSchedule")]),
    ]
    [placed], _ = place(clusters, [deployment()], [policy("p", {})])
    assert replicas_of(placed) == {"a": 4, "soft": 4}
    assert placed.dropped == (("gpu", ("had untolerated taint {dedicated=gpu:NoSchedule}",)),)
    tolerant = {"clusterTolerations": [{"key": "dedicated", "operator": "Exists"}]}
    [placed], _ = place(clusters, [deployment()], [policy("p", tolerant)])
    assert replicas_of(placed) == {"a": 4, "gpu": 4, "soft": 4}


def test_region_not_in_matches_clusters_without_region() -> None:
    clusters = [cluster("a", region="r1"), cluster("b")]
    placement = {
        "clusterAffinity": {
            "fieldSelector": {
                "matchExpressions": [{"key": "region", "operator": "NotIn", "values": ["r1"]}]
            }
        }
    }
    [placed], _ = place(clusters, [deployment()], [policy("p", placement)])
    assert replicas_of(placed) == {"b": 4}


def test_no_cluster_fits_reports_karmada_fit_error() -> None:
    placement = {"clusterAffinity": {"clusterNames": ["nope"]}}
    _, diagnostics = place(THREE, [deployment()], [policy("p", placement)])
    assert diagnostics == [
        "apps/0.yaml:1:1: error: Deployment.apps/shop/web cannot be scheduled: 0/3 clusters "
        "are available: 3 cluster(s) did not match the placement cluster affinity constraint. "
        "(policy ClusterPropagationPolicy/p at policies/p.yaml:1:1)"
    ]


def test_cluster_affinities_fall_back_on_any_error() -> None:
    clusters = [
        cluster("small", {"tier": "primary"}, capacity={"pods": "1"}),
        cluster("big", {"tier": "backup"}, capacity={"pods": "10"}),
    ]
    placement = {
        "clusterAffinities": [
            {"affinityName": "nowhere", "clusterNames": ["missing"]},
            {"affinityName": "primary", "labelSelector": {"matchLabels": {"tier": "primary"}}},
            {"affinityName": "backup", "labelSelector": {"matchLabels": {"tier": "backup"}}},
        ],
        **DYNAMIC,
    }
    [placed], diagnostics = place(clusters, [deployment(replicas=3)], [policy("p", placement)])
    assert diagnostics == []
    assert replicas_of(placed) == {"big": 3}
    assert placed.affinity_term == "backup"
    text = "\n".join(placed.explanation)
    assert "clusterAffinities[0] 'nowhere': failed: 0/2 clusters are available" in text
    assert (
        "clusterAffinities[1] 'primary': failed: failed to assign replicas: Clusters "
        "available replicas 1 are not enough to schedule." in text
    )
    assert "clusterAffinities[2] 'backup': used" in text


def test_every_term_failing_reports_the_first_error() -> None:
    placement = {
        "clusterAffinities": [
            {"affinityName": "one", "clusterNames": ["x"]},
            {"affinityName": "two", "clusterNames": ["y"]},
        ]
    }
    _, diagnostics = place(THREE, [deployment()], [policy("p", placement)])
    assert diagnostics == [
        "apps/0.yaml:1:1: error: Deployment.apps/shop/web cannot be scheduled: every "
        "clusterAffinities term failed; the first: 0/3 clusters are available: 3 cluster(s) "
        "did not match the placement cluster affinity constraint. "
        "(policy ClusterPropagationPolicy/p at policies/p.yaml:1:1)"
    ]


def test_overflow_affinities_fill_tiers_in_order() -> None:
    clusters = [
        cluster("a", capacity={"pods": "2"}),
        cluster("b", capacity={"pods": "10"}),
        cluster("c", capacity={"pods": "10"}),
    ]
    placement = {
        "clusterAffinities": [
            {
                "affinityName": "main",
                "clusterNames": ["a"],
                "overflowAffinities": [{"affinityName": "spill", "clusterNames": ["b", "c"]}],
            }
        ],
        **DYNAMIC,
    }
    [placed], _ = place(clusters, [deployment(replicas=9)], [policy("p", placement)])
    assert replicas_of(placed) == {"a": 2, "b": 4, "c": 3}
    # Non-workloads never overflow: only the primary group.
    cm_policy = policy("cm", placement, selectors=[{"apiVersion": "v1", "kind": "ConfigMap"}])
    [cm], _ = place(clusters, [configmap()], [cm_policy])
    assert replicas_of(cm) == {"a": None}


# --- spread constraints -------------------------------------------------------------------


def test_region_spread_picks_regions_then_fills_by_availability() -> None:
    clusters = [
        cluster("a", region="r1", capacity={"pods": "10"}),
        cluster("b", region="r1", capacity={"pods": "5"}),
        cluster("c", region="r2", capacity={"pods": "8"}),
        cluster("d", region="r3", capacity={"pods": "1"}),
        cluster("e"),
    ]
    placement = {
        "spreadConstraints": [
            {"spreadByField": "region", "minGroups": 2, "maxGroups": 2},
            {"spreadByField": "cluster", "minGroups": 2, "maxGroups": 3},
        ],
        **DYNAMIC,
    }
    [placed], _ = place(clusters, [deployment(replicas=6)], [policy("p", placement)])
    assert replicas_of(placed) == {"a": 3, "b": 1, "c": 2}
    assert placed.dropped == (("e", ("did not have region property",)),)


def test_cluster_spread_swaps_in_capacity() -> None:
    clusters = [
        cluster(n, capacity={"pods": p})
        for n, p in (("m1", "40"), ("m2", "60"), ("m3", "80"), ("m4", "50"))
    ]
    placement = {"spreadConstraints": [{"spreadByField": "cluster", "maxGroups": 2}], **DYNAMIC}
    [placed], _ = place(clusters, [deployment(replicas=100)], [policy("p", placement)])
    assert set(placed.replicas) == {"m3", "m2"}


@pytest.mark.parametrize(
    ("scheduling", "message"),
    [
        ({}, "failed to assign replicas: no clusters available to schedule"),
        (DYNAMIC, "failed to select clusters: no enough resource when selecting 0 clusters"),
    ],
)
def test_cluster_spread_without_max_groups_selects_nothing(
    scheduling: dict[str, Any], message: str
) -> None:
    placement = {"spreadConstraints": [{"spreadByField": "cluster", "minGroups": 1}], **scheduling}
    _, diagnostics = place(THREE, [deployment()], [policy("p", placement)])
    assert len(diagnostics) == 1
    assert message in diagnostics[0]


def test_spread_by_label_alone_fails() -> None:
    placement = {"spreadConstraints": [{"spreadByLabel": "team", "maxGroups": 2}]}
    _, diagnostics = place(THREE, [deployment()], [policy("p", placement)])
    assert (
        "failed to select clusters: just support cluster and region spread constraint"
        in (diagnostics[0])
    )


def test_static_weights_ignore_spread_but_keep_the_zone_filter() -> None:
    clusters = [cluster("a", zones=["z1"]), cluster("b", zones=["z2"]), cluster("c")]
    placement = {
        "spreadConstraints": [
            {"spreadByField": "zone", "maxGroups": 1},
            {"spreadByField": "cluster", "maxGroups": 1},
        ],
        "replicaScheduling": {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {
                "staticWeightList": [
                    {"targetCluster": {"clusterNames": ["a", "b", "c"]}, "weight": 1}
                ]
            },
        },
    }
    [placed], _ = place(clusters, [deployment(replicas=4)], [policy("p", placement)])
    assert replicas_of(placed) == {"a": 2, "b": 2}


# --- explanation --------------------------------------------------------------------------


def test_explain_placement_lists_every_step() -> None:
    clusters = [
        cluster("a", capacity={"pods": "5"}),
        cluster("b", capacity={"pods": "3"}),
        cluster("c", taints=[("k", "v", "NoExecute")]),
    ]
    the_fleet = fleet(clusters, [deployment(replicas=4)], [policy("p", DYNAMIC)])
    [placed], _ = resolve_placement(the_fleet)
    lines = explain_placement(the_fleet, placed)
    assert lines == list(placed.explanation)
    assert lines == [
        "policy: ClusterPropagationPolicy/p (policies/p.yaml:1:1) wins with explicit priority "
        "0 and implicit priority 1 (match-all selector)",
        "workload: 4 replica(s) of Deployment; requests per replica: none",
        "strategy: Divided, Weighted by available replicas (dynamicWeight); Webster method",
        "filter: c dropped: had untolerated taint {k=v:NoExecute}",
        "candidates (available desc, then name): a (available 5), b (available 3)",
        "weights fed to Webster: a=5, b=3",
        "result: a=2, b=2",  # 5/5 == 3/3: the tie goes to fewer seats
    ]


def test_explanation_is_rendered_on_demand_and_weights_recomputed() -> None:
    clusters = [cluster("a", capacity={"pods": "5"}), cluster("b", capacity={"pods": "3"})]
    [placed], _ = place(clusters, [deployment(replicas=4)], [policy("p", DYNAMIC)])
    assert placed.weights == (("a", 5), ("b", 3))
    assert placed.dropped == ()
    assert placed.affinity_term is None
    explanation = placed.explanation
    assert len(explanation) == 6
    assert explanation[-1] == "result: a=2, b=2"
    assert list(explanation) == list(explanation)  # rendered once, stable
    assert explanation == tuple(explanation)


def test_namespace_keeps_the_policy_that_matches_it() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    cpp = policy(
        "ns",
        {"clusterAffinity": {"clusterNames": ["a"]}},
        selectors=[{"apiVersion": "v1", "kind": "Namespace"}],
    )
    [placed], diagnostics = place(THREE, [namespace], [cpp])
    assert diagnostics == []
    assert placed.policy is not None
    assert placed.policy.name == "ns"
    assert replicas_of(placed) == {"a": None, "b": None, "c": None}

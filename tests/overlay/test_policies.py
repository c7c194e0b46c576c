"""Which override rules apply, and in which order (Karmada's getOverridersFromOverridePolicies)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kurator_compile.overlay import (
    PatchError,
    apply_override_policies,
    order_override_policies,
    override_steps,
)

OBJ = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}},
}


def priority(selector: Mapping[str, Any], obj: Mapping[str, Any]) -> int:
    """A stand-in for placement's implicit priority: name 3, label selector 2, kind 1."""
    if selector.get("kind") != obj.get("kind"):
        return 0
    if selector.get("name"):
        return 3 if selector["name"] == obj["metadata"]["name"] else 0
    if selector.get("labelSelector"):
        return 2
    return 1


def in_cluster(name: str) -> Any:
    return lambda affinity: name in (affinity.get("clusterNames") or [])


def policy(
    kind: str, name: str, *selectors: dict[str, Any], namespace: str | None = None, **spec: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": kind,
        "metadata": metadata,
        "spec": {"resourceSelectors": list(selectors), **spec},
    }


def rule(label: str, *clusters: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "overriders": {"labelsOverrider": [{"operator": "add", "value": {"step": label}}]}
    }
    if clusters:
        result["targetCluster"] = {"clusterNames": list(clusters)}
    return result


def test_order_override_policies() -> None:
    given = [
        ("OverridePolicy", "b", 1),
        ("ClusterOverridePolicy", "z", 3),
        ("OverridePolicy", "a", 2),
        ("ClusterOverridePolicy", "y", 1),
        ("OverridePolicy", "c", 1),
    ]
    assert order_override_policies(given) == [
        ("ClusterOverridePolicy", "y", 1),
        ("ClusterOverridePolicy", "z", 3),
        ("OverridePolicy", "b", 1),
        ("OverridePolicy", "c", 1),
        ("OverridePolicy", "a", 2),
    ]


def test_steps_order_and_filters() -> None:
    kind = {"apiVersion": "apps/v1", "kind": "Deployment"}
    policies = [
        policy(
            "OverridePolicy",
            "by-name",
            {**kind, "name": "web"},
            namespace="prod",
            overrideRules=[rule("n1"), rule("n2", "other")],
        ),
        policy("OverridePolicy", "all", namespace="prod", overrideRules=[rule("all")]),
        policy("OverridePolicy", "elsewhere", namespace="dev", overrideRules=[rule("dev")]),
        policy(
            "OverridePolicy",
            "wrong-kind",
            {"apiVersion": "v1", "kind": "Service"},
            namespace="prod",
            overrideRules=[rule("svc")],
        ),
        policy(
            "ClusterOverridePolicy",
            "labels",
            {**kind, "labelSelector": {}},
            overrideRules=[rule("c1", "member1"), rule("c2")],
        ),
        policy("ClusterOverridePolicy", "kind", kind, overrideRules=[rule("c0")]),
        {"kind": "PropagationPolicy", "metadata": {"name": "ignored"}, "spec": {}},
    ]
    steps = override_steps(policies, OBJ, in_cluster("member1"), priority)
    assert [(s.kind, s.policy, s.rule_index) for s in steps] == [
        ("ClusterOverridePolicy", "kind", 0),
        ("ClusterOverridePolicy", "labels", 0),
        ("ClusterOverridePolicy", "labels", 1),
        ("OverridePolicy", "all", 0),
        ("OverridePolicy", "by-name", 0),
    ]
    name, index, overriders, _ = steps[-1]
    assert (name, index) == ("by-name", 0)
    assert overriders["labelsOverrider"][0]["value"] == {"step": "n1"}


def test_deprecated_overriders_only_without_rules() -> None:
    old = {"labelsOverrider": [{"operator": "add", "value": {"step": "old"}}]}
    policies = [
        policy("ClusterOverridePolicy", "a", overriders=old),
        policy("ClusterOverridePolicy", "b", overriders=old, overrideRules=[rule("new")]),
        policy(
            "ClusterOverridePolicy",
            "c",
            overriders=old,
            targetCluster={"clusterNames": ["member2"]},
        ),
    ]
    steps = override_steps(policies, OBJ, in_cluster("member1"), priority)
    assert [(s.policy, s.rule_index) for s in steps] == [("a", None), ("b", 0)]


def test_object_without_namespace_gets_no_namespaced_policies() -> None:
    obj = {"kind": "Deployment", "metadata": {"name": "web"}}
    policies = [
        policy("OverridePolicy", "p", overrideRules=[rule("x")]),
        policy("ClusterOverridePolicy", "c", overrideRules=[rule("y")]),
    ]
    assert [s.policy for s in override_steps(policies, obj, in_cluster("m"), priority)] == ["c"]
    # The caller may place it in a namespace; a policy without one is in default.
    steps = override_steps(policies, obj, in_cluster("m"), priority, namespace="default")
    assert [s.policy for s in steps] == ["c", "p"]


def test_apply_override_policies_later_wins() -> None:
    policies = [
        policy(
            "OverridePolicy",
            "specific",
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            namespace="prod",
            overrideRules=[rule("specific")],
        ),
        policy("OverridePolicy", "general", namespace="prod", overrideRules=[rule("general")]),
    ]
    out = apply_override_policies(OBJ, policies, in_cluster("m"), priority)
    assert out["metadata"]["labels"]["step"] == "specific"
    assert OBJ["metadata"]["labels"] == {"app": "web"}


def test_failure_names_the_policy_and_rule() -> None:
    bad = {"plaintext": [{"path": "/nope/x", "operator": "add", "value": 1}]}
    policies = [policy("ClusterOverridePolicy", "broken", overrideRules=[{"overriders": bad}])]
    with pytest.raises(PatchError, match="ClusterOverridePolicy broken, rule 0"):
        apply_override_policies(OBJ, policies, in_cluster("m"), priority)

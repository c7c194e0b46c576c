"""Which override rules reach an object in a cluster, in the order Karmada applies them.

The callbacks keep this module free of placement logic: `cluster_matches(affinity)` answers
for the cluster being rendered, `selector_priority(selector, obj)` is Karmada's implicit
priority of one resource selector (0 no match, 1 match all, 2 label selector, 3 name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from .errors import PatchError
from .overriders import apply_overriders

__all__ = [
    "OverrideStep",
    "apply_override_policies",
    "order_override_policies",
    "override_steps",
]

CLUSTER_KIND = "ClusterOverridePolicy"
NAMESPACED_KIND = "OverridePolicy"
PRIORITY_MATCH_ALL = 1

ClusterMatcher = Callable[[Mapping[str, Any]], bool]
SelectorPriority = Callable[[Mapping[str, Any], Mapping[str, Any]], int]


class OverrideStep(NamedTuple):
    """One rule to apply: `rule_index` is None for the deprecated top-level overriders."""

    policy: str
    rule_index: int | None
    overriders: Mapping[str, Any]
    kind: str = NAMESPACED_KIND


def order_override_policies(policies: Sequence[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """(kind, name, implicit priority) in Karmada's application order: ClusterOverridePolicies
    first, then OverridePolicies; within each, lower implicit priority first (so the more
    specific policy is applied last and wins), then by name."""
    clusters = [p for p in policies if p[0] == CLUSTER_KIND]
    namespaced = [p for p in policies if p[0] != CLUSTER_KIND]
    return [*_sorted(clusters), *_sorted(namespaced)]


def _sorted(policies: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    return sorted(policies, key=lambda p: (p[2], p[1]))


def override_steps(
    policies: Sequence[Mapping[str, Any]],
    obj: Mapping[str, Any],
    cluster_matches: ClusterMatcher,
    selector_priority: SelectorPriority,
    *,
    namespace: str | None = None,
) -> list[OverrideStep]:
    """The rules of `policies` that apply to `obj` in one cluster, in application order.

    A policy without resourceSelectors selects everything (priority 1). OverridePolicies
    count only in the object's namespace (`namespace` overrides metadata.namespace; a policy
    without one is in `default`), and not at all for an object without a namespace, as in
    Karmada. Rules come in list order; a rule without targetCluster applies everywhere. The
    deprecated spec.targetCluster and spec.overriders are used only without overrideRules.
    """
    if namespace is None:
        metadata = obj.get("metadata")
        found = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        namespace = found if isinstance(found, str) else ""
    ranked: list[tuple[str, str, int, Mapping[str, Any]]] = []
    for policy in policies:
        kind = policy.get("kind")
        if kind not in (CLUSTER_KIND, NAMESPACED_KIND):
            continue
        metadata = policy.get("metadata") if isinstance(policy.get("metadata"), Mapping) else {}
        assert isinstance(metadata, Mapping)
        name = str(metadata.get("name") or "")
        if kind == NAMESPACED_KIND and (
            not namespace or (metadata.get("namespace") or "default") != namespace
        ):
            continue
        spec = policy.get("spec") if isinstance(policy.get("spec"), Mapping) else {}
        assert isinstance(spec, Mapping)
        selectors = spec.get("resourceSelectors") or []
        if not isinstance(selectors, list):
            raise PatchError(f"{kind} {name}: resourceSelectors must be a list")
        if selectors:
            priority = max(selector_priority(s, obj) for s in selectors)
            if priority <= 0:
                continue
        else:
            priority = PRIORITY_MATCH_ALL
        ranked.append((str(kind), name, priority, spec))
    steps: list[OverrideStep] = []
    order = order_override_policies([(k, n, p) for k, n, p, _ in ranked])
    specs = {(k, n): s for k, n, _, s in ranked}
    for kind, name, _ in order:
        steps.extend(_rules(kind, name, specs[(kind, name)], cluster_matches))
    return steps


def _rules(
    kind: str, name: str, spec: Mapping[str, Any], cluster_matches: ClusterMatcher
) -> list[OverrideStep]:
    rules = spec.get("overrideRules") or []
    indexed: list[tuple[int | None, Any]] = list(enumerate(rules))
    if not rules:
        deprecated = {
            "targetCluster": spec.get("targetCluster"),
            "overriders": spec.get("overriders"),
        }
        indexed = [(None, deprecated)]
    steps = []
    for index, rule in indexed:
        if not isinstance(rule, Mapping):
            raise PatchError(f"{kind} {name}: override rule {index} must be a map")
        target = rule.get("targetCluster")
        if target is not None and not cluster_matches(target):
            continue
        overriders = rule.get("overriders") or {}
        if not isinstance(overriders, Mapping):
            raise PatchError(f"{kind} {name}: overriders of rule {index} must be a map")
        steps.append(OverrideStep(name, index, overriders, kind))
    return steps


def apply_override_policies(
    obj: dict[str, Any],
    policies: Sequence[Mapping[str, Any]],
    cluster_matches: ClusterMatcher,
    selector_priority: SelectorPriority,
    *,
    namespace: str | None = None,
) -> dict[str, Any]:
    """`obj` as one cluster receives it after every matching override rule."""
    for step in override_steps(
        policies, obj, cluster_matches, selector_priority, namespace=namespace
    ):
        try:
            obj = apply_overriders(obj, step.overriders)
        except PatchError as error:
            rule = "overriders" if step.rule_index is None else f"rule {step.rule_index}"
            raise PatchError(
                f"{step.kind} {step.policy}, {rule}: {error.message}",
                error.pointer,
                error.op_index,
            ) from None
    return obj

"""Which (Cluster)PropagationPolicy claims an object: Karmada's detector rules.

A PropagationPolicy in the object's namespace always beats any ClusterPropagationPolicy;
among policies of one kind the higher explicit `spec.priority` wins, then the higher implicit
priority (name 3 > labelSelector 2 > match-all 1, best over the policy's selectors), then the
lexicographically smaller name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..model import Policy, Resource
from .selectors import ResourceSelector, compile_resource_selector

__all__ = [
    "CompiledPolicy",
    "PolicyCandidate",
    "PolicyChoice",
    "PolicyChooser",
    "choose_policy",
    "implicit_priority",
    "rank",
]

IMPLICIT_NAMES = {3: "name match", 2: "labelSelector match", 1: "match-all selector"}

# The detector ignores objects in Karmada's reserved namespaces and, with the default
# --skipped-propagating-namespaces, in every kube-* namespace (`detector.go::EventFilter`).
_RESERVED = ("karmada-system", "karmada-cluster")


def namespace_is_skipped(namespace: str) -> bool:
    """Objects here are never propagated by Karmada, whatever policy selects them."""
    return (
        namespace in _RESERVED
        or namespace.startswith("karmada-es-")
        or namespace.startswith("kube-")
    )


@dataclass(frozen=True, slots=True)
class PolicyCandidate:
    """A policy that matched the object, with the two priorities that rank it."""

    policy: Policy
    explicit: int
    implicit: int

    @property
    def cluster_scoped(self) -> bool:
        return self.policy.kind == "ClusterPropagationPolicy"

    def sort_key(self) -> tuple[int, int, int, str]:
        """Ascending order = preference order (a PP first, then priorities, then name)."""
        return (int(self.cluster_scoped), -self.explicit, -self.implicit, self.policy.name)


@dataclass(frozen=True, slots=True)
class PolicyChoice:
    winner: PolicyCandidate | None
    # Every matching policy in preference order, the winner first.
    ranked: tuple[PolicyCandidate, ...]


def explicit_priority(spec: Mapping[str, Any]) -> int:
    value = spec.get("priority")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def compile_selectors(
    selectors: object, default_namespace: str = ""
) -> tuple[ResourceSelector, ...]:
    """A policy's resourceSelectors, compiled; a PP's default their namespace to the PP's."""
    if not isinstance(selectors, list):
        return ()
    return tuple(
        compile_resource_selector(s, default_namespace) for s in selectors if isinstance(s, Mapping)
    )


class Facts(NamedTuple):
    """What selectors look at, read once per object."""

    api_version: str
    kind: str
    namespace: str
    name: str
    labels: Mapping[str, str]

    @classmethod
    def of(cls, resource: Resource) -> Facts:
        return cls(
            resource.api_version,
            resource.kind,
            resource.namespace,
            resource.name,
            resource.labels,
        )


def implicit_priority(selectors: object, resource: Resource, default_namespace: str = "") -> int:
    """The best selector priority of a policy's resourceSelectors (as written) for `resource`."""
    return _best(compile_selectors(selectors, default_namespace), Facts.of(resource))


def _best(selectors: tuple[ResourceSelector, ...], facts: Facts) -> int:
    return max((selector.priority(*facts) for selector in selectors), default=0)


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy with its selectors compiled once for all objects."""

    policy: Policy
    selectors: tuple[ResourceSelector, ...]
    explicit: int

    @classmethod
    def of(cls, policy: Policy) -> CompiledPolicy:
        namespace = policy.namespace if policy.kind == "PropagationPolicy" else ""
        return cls(
            policy,
            compile_selectors(policy.spec.get("resourceSelectors"), namespace),
            explicit_priority(policy.spec),
        )

    def candidate(self, facts: Facts) -> PolicyCandidate | None:
        """The policy as a candidate for the object, or None if it cannot claim it."""
        kind = self.policy.kind
        if kind == "PropagationPolicy":
            if not facts.namespace or self.policy.namespace != facts.namespace:
                return None
        elif kind != "ClusterPropagationPolicy":
            return None
        implicit = _best(self.selectors, facts)
        return PolicyCandidate(self.policy, self.explicit, implicit) if implicit else None


def rank(candidates: Sequence[PolicyCandidate]) -> tuple[PolicyCandidate, ...]:
    return tuple(sorted(candidates, key=PolicyCandidate.sort_key))


def choose_policy(resource: Resource, policies: Sequence[CompiledPolicy]) -> PolicyChoice:
    """The winning policy for `resource` and every other policy that matched it."""
    facts = Facts.of(resource)
    ranked = rank([c for p in policies if (c := p.candidate(facts)) is not None])
    return PolicyChoice(ranked[0] if ranked else None, ranked)


class PolicyChooser:
    """`choose_policy` over a fixed list of policies, memoised on what their selectors read.

    The choice depends only on the object's apiVersion, kind and namespace, on its name if a
    selector names objects, and on the labels the selectors test: objects that agree on
    those (typically most objects of a kind) share one choice instead of testing every
    policy again.
    """

    def __init__(self, policies: Sequence[CompiledPolicy]) -> None:
        self.policies = tuple(policies)
        selectors = [s for p in self.policies for s in p.selectors]
        self.by_name = any(s.name for s in selectors)
        self.label_keys = tuple(sorted({r.key for s in selectors for r in s.labels or ()}))
        self.choices: dict[tuple[object, ...], PolicyChoice] = {}

    def choose(self, resource: Resource) -> PolicyChoice:
        labels = resource.labels
        values: list[str | None] = []
        for key in self.label_keys:
            value = labels.get(key)
            if type(value) is not str and (value is not None or key in labels):
                return self._choose(Facts.of(resource))  # an odd label value: no key
            values.append(value)
        memo = (
            resource.api_version,
            resource.kind,
            resource.namespace,
            resource.name if self.by_name else "",
            tuple(values),
        )
        choice = self.choices.get(memo)
        if choice is None:
            choice = self.choices[memo] = self._choose(Facts.of(resource))
        return choice

    def _choose(self, facts: Facts) -> PolicyChoice:
        ranked = rank([c for p in self.policies if (c := p.candidate(facts)) is not None])
        return PolicyChoice(ranked[0] if ranked else None, ranked)


def why_it_loses(winner: PolicyCandidate, other: PolicyCandidate) -> str:
    """The first rule that puts `winner` before `other`."""
    if winner.cluster_scoped != other.cluster_scoped:
        return "a PropagationPolicy always beats a ClusterPropagationPolicy"
    if winner.explicit != other.explicit:
        return f"lower explicit priority ({other.explicit} < {winner.explicit})"
    if winner.implicit != other.implicit:
        return (
            f"lower implicit priority ({IMPLICIT_NAMES[other.implicit]} < "
            f"{IMPLICIT_NAMES[winner.implicit]})"
        )
    return f"same priorities; {winner.policy.name!r} sorts before {other.policy.name!r}"

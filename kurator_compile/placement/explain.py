"""Human-readable lines for `plan --explain`: why this policy, these clusters, these counts.

Lines are rendered on first use (`Explanation`): a build that never asks for them does not
pay for formatting a thousand-cluster candidate list per object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import overload

from ..model import Policy
from .policy import IMPLICIT_NAMES, PolicyChoice, why_it_loses
from .scheduler import Attempt, Outcome
from .spec import AGGREGATED, DUPLICATED, DYNAMIC_WEIGHT, STATIC_WEIGHT, PlacementSpec
from .spread import ClusterInfo
from .workload import Workload

__all__ = [
    "Explanation",
    "outcome_lines",
    "policy_label",
    "policy_lines",
    "strategy_line",
    "workload_line",
]


class Explanation(Sequence[str]):
    """A sequence of lines computed by `render` the first time anyone reads it."""

    __slots__ = ("_lines", "_render")

    def __init__(self, render: Callable[[], Sequence[str]]) -> None:
        self._render: Callable[[], Sequence[str]] | None = render
        self._lines: tuple[str, ...] = ()

    def _get(self) -> tuple[str, ...]:
        if self._render is not None:
            self._lines = tuple(self._render())
            self._render = None
        return self._lines

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self._get() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Explanation({self._get()!r})"


def where(policy: Policy) -> str:
    loc = policy.locate()
    return f"{loc.file}:{loc.line}:{loc.column}"


def policy_label(policy: Policy) -> str:
    if policy.kind == "PropagationPolicy":
        return f"PropagationPolicy/{policy.namespace}/{policy.name}"
    return f"{policy.kind}/{policy.name}"


def policy_lines(choice: PolicyChoice) -> list[str]:
    winner = choice.winner
    if winner is None:
        return ["policy: none matches; the object is not propagated"]
    lines = [
        f"policy: {policy_label(winner.policy)} ({where(winner.policy)}) wins with explicit "
        f"priority {winner.explicit} and implicit priority {winner.implicit} "
        f"({IMPLICIT_NAMES[winner.implicit]})"
    ]
    for other in choice.ranked[1:]:
        lines.append(
            f"  also matched {policy_label(other.policy)} ({where(other.policy)}): explicit "
            f"{other.explicit}, implicit {other.implicit}; loses: {why_it_loses(winner, other)}"
        )
    return lines


def _amount(name: str, amount: int) -> str:
    if name == "cpu":
        return f"{amount // 1000}" if amount % 1000 == 0 else f"{amount}m"
    for suffix, factor in (
        ("Ei", 2**60),
        ("Pi", 2**50),
        ("Ti", 2**40),
        ("Gi", 2**30),
        ("Mi", 2**20),
        ("Ki", 2**10),
    ):
        if amount >= factor and amount % factor == 0:
            return f"{amount // factor}{suffix}"
    return str(amount)


def workload_line(kind: str, workload: Workload) -> str:
    if not workload.is_workload_kind:
        return f"workload: none ({kind} is not a workload kind: emitted unchanged)"
    requests = ", ".join(f"{n}={_amount(n, a)}" for n, a in workload.requests) or "none"
    line = f"workload: {workload.replicas} replica(s) of {kind}; requests per replica: {requests}"
    if not workload.is_workload:
        line += " (0 replicas and no requirements: propagated like a non-workload, unchanged)"
    return line


def strategy_line(spec: PlacementSpec) -> str:
    strategy = spec.strategy
    if strategy == DUPLICATED:
        why = (
            "replicaScheduling is absent"
            if not spec.has_replica_scheduling
            else "replicaSchedulingType: Duplicated"
        )
        return f"strategy: Duplicated ({why}): every selected cluster gets the full count"
    if strategy == STATIC_WEIGHT:
        source = (
            "weights from staticWeightList"
            if spec.static_weights
            else "no weightPreference: every cluster weighs 1"
        )
        return f"strategy: Divided, Weighted, static ({source}); Webster method"
    if strategy == DYNAMIC_WEIGHT:
        return "strategy: Divided, Weighted by available replicas (dynamicWeight); Webster method"
    if strategy == AGGREGATED:
        return (
            "strategy: Divided, Aggregated: the fewest clusters (most available first) "
            "that fit, then Webster over their availability"
        )
    return f"strategy: unsupported ({spec.scheduling_type}/{spec.division_preference})"


def _candidate(info: ClusterInfo) -> str:
    if info.estimated:
        return f"{info.name} (capacity unknown: counts as {info.available})"
    return f"{info.name} (available {info.available})"


def _attempt_lines(attempt: Attempt, spec: PlacementSpec) -> list[str]:
    lines: list[str] = []
    for name, reasons in attempt.dropped:
        lines.append(f"filter: {name} dropped: {'; '.join(reasons)}")
    if attempt.candidates:
        if attempt.capacity_used:
            text = ", ".join(_candidate(i) for i in attempt.candidates)
            previous = any(i.score for i in attempt.candidates)
            order = "previous clusters first, then " if previous else ""
            lines.append(f"candidates ({order}available desc, then name): {text}")
        else:
            names = ", ".join(i.name for i in attempt.candidates)
            lines.append(f"candidates (capacity not consulted): {names}")
        tiers = sorted({i.overflow for i in attempt.candidates})
        if tiers != [0]:
            lines.append(
                "overflow tiers: "
                + "; ".join(
                    f"{t}: " + ", ".join(i.name for i in attempt.candidates if i.overflow == t)
                    for t in tiers
                )
            )
    if spec.spread:
        constraints = ", ".join(
            f"{c.by_field or 'label ' + c.by_label} "
            f"min {c.min_groups} max {c.max_groups or 'unset'}"
            for c in spec.spread
        )
        if spec.ignore_spread:
            lines.append(
                f"spread constraints ({constraints}) ignored: static weights disregard "
                "min/maxGroups (only the provider/region/zone property filter applies)"
            )
        elif attempt.selected:
            lines.append(
                f"spread constraints ({constraints}) select: "
                + ", ".join(i.name for i in attempt.selected)
            )
    division = attempt.division
    if division is not None:
        if division.weights:
            lines.append(
                "weights fed to Webster: " + ", ".join(f"{n}={w}" for n, w in division.weights)
            )
        if division.tiers:
            lines.append("overflow: " + ", ".join(f"tier {t} takes {n}" for t, n in division.tiers))
    return lines


def result_text(replicas: Mapping[str, int | None]) -> str:
    if not replicas:
        return "(no cluster)"
    return ", ".join(
        f"{name} (unchanged)" if count is None else f"{name}={count}"
        for name, count in sorted(replicas.items())
    )


def outcome_lines(outcome: Outcome, spec: PlacementSpec) -> list[str]:
    lines: list[str] = []
    terms = spec.cluster_affinities
    for attempt in outcome.attempts:
        if terms is not None and attempt.term is not None:
            state = "failed" if attempt.error else "used"
            lines.append(
                f"clusterAffinities[{attempt.term.index}] {attempt.term.name!r}: {state}"
                + (f": {attempt.error}" if attempt.error else "")
            )
        lines.extend(
            f"  {line}" if terms is not None else line for line in _attempt_lines(attempt, spec)
        )
        if attempt.error and terms is None:
            lines.append(f"error: {attempt.error}")
    chosen = outcome.chosen
    if chosen is not None and chosen.division is not None:
        lines.append(f"result: {result_text(chosen.division.replicas)}")
    elif outcome.error is not None and terms is not None:
        lines.append(
            "error: every clusterAffinities term failed; Karmada reports the first: "
            f"{outcome.error}"
        )
    return lines

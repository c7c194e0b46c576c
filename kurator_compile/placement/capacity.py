"""How many more replicas of a workload a cluster can take: Karmada's general estimator.

A cluster declares free resources as quantities (`capacity: {cpu: "64", memory: "256Gi",
pods: "110"}`). The estimate is the minimum over the bounds that are known:
* `pods` declared -> at most that many replicas (Karmada's allowed pod number);
* each resource the pod requests and the cluster declares -> floor(free / request), cpu in
  millicores and other resources in whole units, both rounded up first as Quantity does.
If no bound is known (the cluster declares none of them) the capacity is unknown, and the
scheduler uses the workload's own replica count, as Karmada does when no estimator answers.
Unlike Karmada's estimator, a requested resource the cluster does not declare is treated as
unknown rather than as zero: a fleet file lists what it knows, not every resource it has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..model import Cluster
from .quantity import QuantityError, milli_value, parse_quantity, value
from .workload import INT32_MAX

__all__ = [
    "CapacityColumns",
    "ClusterCapacity",
    "columns",
    "estimate",
    "estimate_all",
    "parse_capacity",
]


@dataclass(frozen=True, slots=True)
class ClusterCapacity:
    """A cluster's declared free resources: cpu in millicores, the rest in units."""

    amounts: Mapping[str, int]
    # Whole-unit values, used for Karmada's "nothing left" check (Quantity.Value() <= 0).
    units: Mapping[str, int]


def parse_capacity(cluster: Cluster) -> tuple[ClusterCapacity, list[tuple[str, str]]]:
    """The cluster's capacity, plus (resource, message) for each unparsable quantity."""
    amounts: dict[str, int] = {}
    units: dict[str, int] = {}
    problems: list[tuple[str, str]] = []
    for name, text in sorted(cluster.capacity.items()):
        try:
            qty = parse_quantity(text)
        except QuantityError as error:
            problems.append((name, str(error)))
            continue
        units[name] = value(qty)
        amounts[name] = milli_value(qty) if name == "cpu" else value(qty)
    return ClusterCapacity(amounts, units), problems


def estimate(capacity: ClusterCapacity, requests: tuple[tuple[str, int], ...]) -> int | None:
    """Replicas that fit, or None when the cluster declares nothing relevant."""
    bound: int | None = None
    pods = capacity.units.get("pods")
    if pods is not None:
        if pods <= 0:
            return 0
        bound = pods
    for name, request in requests:
        if request <= 0 or name not in capacity.amounts:
            continue
        if capacity.units[name] <= 0:
            return 0
        fits = capacity.amounts[name] // request
        bound = fits if bound is None else min(bound, fits)
    return None if bound is None else min(bound, INT32_MAX)


@dataclass(frozen=True, slots=True)
class CapacityColumns:
    """Declared capacities of a list of clusters, one column per resource, so that many
    request profiles are estimated without a call per cluster. None: not declared; 0: used
    up (Quantity.Value() <= 0), which makes the whole estimate 0."""

    pods: list[int | None]
    amounts: dict[str, list[int | None]]


def columns(capacities: Sequence[ClusterCapacity]) -> CapacityColumns:
    names = sorted({name for cap in capacities for name in cap.amounts})
    amounts: dict[str, list[int | None]] = {}
    for name in names:
        amounts[name] = [
            None if name not in cap.amounts else (cap.amounts[name] if cap.units[name] > 0 else 0)
            for cap in capacities
        ]
    pods = [None if "pods" not in cap.units else max(cap.units["pods"], 0) for cap in capacities]
    return CapacityColumns(pods, amounts)


def estimate_all(table: CapacityColumns, requests: tuple[tuple[str, int], ...]) -> list[int | None]:
    """`estimate` for every cluster of `table`, in order."""
    bound = list(table.pods)
    for name, request in requests:
        column = table.amounts.get(name)
        if request <= 0 or column is None:
            continue
        bound = [
            b if a is None else (a // request if b is None else min(b, a // request))
            for b, a in zip(bound, column, strict=True)
        ]
    return [None if b is None else min(b, INT32_MAX) for b in bound]

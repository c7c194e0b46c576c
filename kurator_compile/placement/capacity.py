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
from itertools import repeat
from operator import floordiv

from ..model import Cluster
from .quantity import QuantityError, values
from .workload import INT32_MAX

__all__ = [
    "CapacityColumns",
    "ClusterCapacity",
    "columns",
    "estimate",
    "estimate_all",
    "estimate_rows",
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
            unit, millis = values(text)
        except QuantityError as error:
            problems.append((name, str(error)))
            continue
        units[name] = unit
        amounts[name] = millis if name == "cpu" else unit
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


# Stands for "not declared" in the columns: larger than any declared amount (a quantity is
# at most 2^63-1, so at most about 2^73 millicores), so `min` leaves it out of a bound.
_UNDECLARED = 1 << 80


@dataclass(frozen=True, slots=True)
class _Column:
    amounts: list[int]  # per row; _UNDECLARED in `missing` rows
    missing: list[int]  # rows that do not declare the resource


def _column(values: list[int | None]) -> _Column:
    missing = [row for row, amount in enumerate(values) if amount is None]
    return _Column([_UNDECLARED if a is None else a for a in values], missing)


@dataclass(frozen=True, slots=True)
class CapacityColumns:
    """Declared capacities of a list of clusters, one column per resource, so that many
    request profiles are estimated without a Python-level step per cluster. 0: used up
    (Quantity.Value() <= 0), which makes the whole estimate 0.

    Columns hold each distinct capacity once (fleets often give many clusters the same
    one); `classes` maps each cluster, in order, to its row.
    """

    pods: _Column
    amounts: dict[str, _Column]
    classes: list[int]


def columns(capacities: Sequence[ClusterCapacity]) -> CapacityColumns:
    names = sorted({name for cap in capacities for name in cap.amounts})
    rows: dict[tuple[int | None, ...], int] = {}
    classes = [
        rows.setdefault(
            (
                None if "pods" not in cap.units else max(cap.units["pods"], 0),
                *(
                    None
                    if name not in cap.amounts
                    else (cap.amounts[name] if cap.units[name] > 0 else 0)
                    for name in names
                ),
            ),
            len(rows),
        )
        for cap in capacities
    ]
    distinct = list(rows)
    amounts = {name: _column([row[k] for row in distinct]) for k, name in enumerate(names, 1)}
    return CapacityColumns(_column([row[0] for row in distinct]), amounts, classes)


def estimate_all(table: CapacityColumns, requests: tuple[tuple[str, int], ...]) -> list[int | None]:
    """`estimate` for every cluster of `table`, in order."""
    rows = estimate_rows(table, requests)
    if len(rows) == len(table.classes):  # no two clusters alike: rows are in cluster order
        return rows
    return list(map(rows.__getitem__, table.classes))


def estimate_rows(
    table: CapacityColumns, requests: tuple[tuple[str, int], ...]
) -> list[int | None]:
    """`estimate` for each distinct capacity of `table` (cluster i has row classes[i]).

    Column by column, with no None to test per row: only the rows that do not declare a
    resource are visited one by one. (Comparisons in a comprehension beat map(min, ...).)"""
    bound = table.pods.amounts
    for name, request in requests:
        column = table.amounts.get(name)
        if request <= 0 or column is None:
            continue
        fits = list(map(floordiv, column.amounts, repeat(request)))
        for row in column.missing:
            fits[row] = _UNDECLARED
        bound = [f if f < b else b for b, f in zip(bound, fits, strict=True)]
    estimates: list[int | None] = [b if b < INT32_MAX else INT32_MAX for b in bound]
    for row in table.pods.missing:  # only these can lack every bound
        if bound[row] == _UNDECLARED:
            estimates[row] = None
    return estimates

"""Inputs from the hardening corpus that once hung or crashed placement: huge quantities and
weights, invalid label selectors, and region searches that are deep or repeated per object."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from placement_kit import cluster, deployment, place, policy

from kurator_compile.placement import spread
from kurator_compile.placement.quantity import MAX_QUANTITY, QuantityError, parse_quantity
from kurator_compile.placement.selectors import compile_label_selector, label_selector_problems
from kurator_compile.placement.spread import (
    Group,
    GroupSearches,
    ScheduleError,
    select_groups,
)

TWO = [cluster("a"), cluster("b")]


# --------------------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("text", "exact"),
    [
        ("9223372036854775807", Fraction(MAX_QUANTITY)),
        ("7Ei", Fraction(7 * 2**60)),
        ("0e999999999", Fraction(0)),
        ("1n", Fraction(1, 10**9)),
        ("0.000000001", Fraction(1, 10**9)),
        # finer than 1n rounds up, away from zero, as kube-apiserver does
        ("1.0000000001", Fraction(1_000_000_001, 10**9)),
        ("-1.0000000001", Fraction(-1_000_000_001, 10**9)),
        ("1." + "1" * 6000, Fraction(1_111_111_112, 10**9)),
        ("1e0000000000000000000000000003", Fraction(1000)),
    ],
)
def test_quantities_at_the_edges_of_the_range(text: str, exact: Fraction) -> None:
    assert parse_quantity(text) == exact


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1e999999999", "larger than 9223372036854775807"),
        ("9223372036854775808", "larger than"),
        ("8Ei", "larger than"),
        ("1e19", "larger than"),
        ("1" + "0" * 5000, "larger than"),
        (10**400, "larger than"),
        (1e300, "larger than"),
        ("1e" + "9" * 5000, "larger than"),
        ("1e-999999999", "closer to 0 than 1n"),
        ("1e-10", "closer to 0 than 1n"),
        ("0." + "0" * 6000 + "1", "closer to 0 than 1n"),
        ("1e-" + "9" * 5000, "closer to 0 than 1n"),
    ],
)
def test_quantities_outside_the_kubernetes_range_are_rejected(text: object, why: str) -> None:
    with pytest.raises(QuantityError, match=why):
        parse_quantity(text)


def test_a_huge_capacity_is_an_error_at_the_cluster() -> None:
    clusters = [cluster("a", capacity={"cpu": "1e999999999"}), cluster("b")]
    _, diagnostics = place(clusters, [deployment()], [policy("p", {})])
    assert len(diagnostics) == 1
    assert (
        "cluster a: capacity cpu: invalid quantity '1e999999999': larger than" in (diagnostics[0])
    )


# --------------------------------------------------------------------------- weights


def test_a_weight_beyond_int64_is_an_error_at_the_weight() -> None:
    placement = {
        "replicaScheduling": {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {
                "staticWeightList": [
                    {"targetCluster": {"clusterNames": ["a"]}, "weight": 10**400},
                    {"targetCluster": {"clusterNames": ["b"]}, "weight": 1},
                ]
            },
        }
    }
    placements, diagnostics = place(TWO, [deployment()], [policy("p", placement)])
    assert len(diagnostics) == 1, diagnostics
    assert "is larger than 9223372036854775807: Karmada weights are int64" in diagnostics[0]
    assert "(401 characters)" in diagnostics[0]
    assert (
        "(at /spec/placement/replicaScheduling/weightPreference/staticWeightList/0/weight)"
        in (diagnostics[0])
    )
    assert placements[0].replicas == {}


def test_the_largest_int64_weight_divides() -> None:
    placement = {
        "replicaScheduling": {
            "replicaSchedulingType": "Divided",
            "replicaDivisionPreference": "Weighted",
            "weightPreference": {
                "staticWeightList": [
                    {"targetCluster": {"clusterNames": ["a"]}, "weight": 2**63 - 1},
                    {"targetCluster": {"clusterNames": ["b"]}, "weight": 1},
                ]
            },
        }
    }
    placements, diagnostics = place(TWO, [deployment(replicas=3)], [policy("p", placement)])
    assert diagnostics == []
    assert dict(placements[0].replicas) == {"a": 3}


# --------------------------------------------------------------------------- label selectors

VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (
            {"matchLabels": {"region": "north china"}},
            [
                (
                    "/matchLabels/region",
                    f'.matchLabels: Invalid value: "north china": {VALUE_MESSAGE}',
                )
            ],
        ),
        (
            {"matchLabels": {"": "north"}},
            [
                ("/matchLabels/", '.matchLabels: Invalid value: "": name part must be non-empty'),
                ("/matchLabels/", '.matchLabels: Invalid value: "": name part must consist of'),
            ],
        ),
        (
            {"matchLabels": {"a/b/c": "x"}},
            [("/matchLabels/a~1b~1c", '.matchLabels: Invalid value: "a/b/c": a qualified name')],
        ),
        (
            {"matchExpressions": [{"key": "region", "operator": "In"}]},
            [
                (
                    "/matchExpressions/0/values",
                    ".matchExpressions[0].values: Required value: must be specified when "
                    "`operator` is 'In' or 'NotIn'",
                )
            ],
        ),
        (
            {"matchExpressions": [{"key": "region", "operator": "Exists", "values": ["x"]}]},
            [
                (
                    "/matchExpressions/0/values",
                    ".matchExpressions[0].values: Forbidden: may not be specified when "
                    "`operator` is 'Exists' or 'DoesNotExist'",
                )
            ],
        ),
        (
            {"matchExpressions": [{"key": "region", "operator": "In", "values": ["a b"]}]},
            [
                (
                    "/matchExpressions/0/values/0",
                    '.matchExpressions[0].values[0]: Invalid value: "a b"',
                )
            ],
        ),
        (
            {"matchExpressions": [{"key": "region", "operator": "Equals", "values": ["a"]}]},
            [
                (
                    "/matchExpressions/0/operator",
                    '.matchExpressions[0].operator: Invalid value: "Equals": not a valid '
                    "selector operator",
                )
            ],
        ),
        ({"matchLabels": {"region": "north", "example.com/team": "x"}}, []),
        ({}, []),
    ],
)
def test_label_selector_problems_in_kubernetes_words(
    selector: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    base = "/spec/placement/clusterAffinity/labelSelector"
    problems = label_selector_problems(selector, base)
    assert len(problems) == len(expected), problems
    for (pointer, message), (want_pointer, want_message) in zip(problems, expected, strict=True):
        assert pointer == base + want_pointer
        assert message.startswith("spec.placement.clusterAffinity.labelSelector" + want_message)
    # exactly the selectors that would silently match nothing are reported
    assert (compile_label_selector(selector) is None) == bool(problems)


@pytest.mark.parametrize(
    ("placement", "pointer"),
    [
        (
            {"clusterAffinity": {"labelSelector": {"matchLabels": {"region": "north china"}}}},
            "/spec/placement/clusterAffinity/labelSelector/matchLabels/region",
        ),
        (
            {
                "clusterAffinities": [
                    {"affinityName": "x", "labelSelector": {"matchLabels": {"": "v"}}}
                ]
            },
            "/spec/placement/clusterAffinities/0/labelSelector/matchLabels/",
        ),
        (
            {
                "replicaScheduling": {
                    "weightPreference": {
                        "staticWeightList": [
                            {
                                "targetCluster": {
                                    "labelSelector": {
                                        "matchExpressions": [{"key": "k", "operator": "NotIn"}]
                                    }
                                },
                                "weight": 1,
                            }
                        ]
                    }
                }
            },
            "/spec/placement/replicaScheduling/weightPreference/staticWeightList/0/"
            "targetCluster/labelSelector/matchExpressions/0/values",
        ),
        (
            {
                "clusterAffinity": {
                    "fieldSelector": {"matchExpressions": [{"key": "region", "operator": "In"}]}
                }
            },
            "/spec/placement/clusterAffinity/fieldSelector/matchExpressions/0/values",
        ),
        (
            {
                "clusterAffinity": {
                    "fieldSelector": {
                        "matchExpressions": [
                            {"key": "provider", "operator": "In", "values": ["hua wei"]}
                        ]
                    }
                }
            },
            "/spec/placement/clusterAffinity/fieldSelector/matchExpressions/0/values/0",
        ),
    ],
)
def test_invalid_selectors_in_placements_are_errors_at_the_selector(
    placement: dict[str, Any], pointer: str
) -> None:
    placements, diagnostics = place(TWO, [deployment()], [policy("p", placement)])
    errors = [d for d in diagnostics if ": error: " in d]
    assert errors, diagnostics
    assert all("ClusterPropagationPolicy/p: spec." in d for d in errors), errors
    assert any(d.endswith(f"(at {pointer})") for d in errors), errors
    assert not any("cannot be scheduled" in d for d in diagnostics)
    assert placements[0].replicas == {}


def test_an_invalid_resource_selector_label_selector_is_an_error() -> None:
    selectors = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "labelSelector": {"matchLabels": {"app": "we b"}},
        }
    ]
    _, diagnostics = place(TWO, [deployment()], [policy("p", {}, selectors=selectors)])
    errors = [d for d in diagnostics if ": error: " in d]
    assert len(errors) == 1, diagnostics
    assert 'spec.resourceSelectors[0].labelSelector.matchLabels: Invalid value: "we b"' in errors[0]
    assert errors[0].endswith("(at /spec/resourceSelectors/0/labelSelector/matchLabels/app)")


# --------------------------------------------------------------------------- region search


def test_a_deep_region_search_needs_no_recursion() -> None:
    """1200 single-cluster regions, 1100 needed: one path 1100 regions deep."""
    groups = [Group(f"r{i:04d}", 1, 1000) for i in range(1200)]
    with pytest.raises(ScheduleError, match="the region spread search"):
        select_groups(groups, 1, 1200, 1100)
    # a deep search that finds its answer at once
    exact = select_groups(groups, 1200, 1200, 1200)
    assert exact is not None
    assert len(exact) == 1200


def test_failing_region_searches_are_paid_once_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[int] = []
    real_search = spread._search

    def counted(ordered: list[Group], *args: int) -> list[Group] | None:
        searched.append(len(ordered))
        return real_search(ordered, *args)

    monkeypatch.setattr(spread, "_search", counted)
    searches = GroupSearches()
    first_groups = [Group(f"r{i:03d}", 1, 1000 + i) for i in range(40)]
    with pytest.raises(ScheduleError) as first:
        select_groups(first_groups, 1, 40, 41, searches)
    assert searched == [40]
    # other weights (another replica count) and the same shape: refused without searching
    for weight in range(50):
        groups = [Group(f"r{i:03d}", 1, weight) for i in range(40)]
        with pytest.raises(ScheduleError) as again:
            select_groups(groups, 1, 40, 41, searches)
        assert str(again.value) == str(first.value)
    assert searched == [40]


def test_region_search_results_are_shared_and_unchanged() -> None:
    groups = [Group("r1", 2, 3000), Group("r2", 1, 2000), Group("r3", 3, 1000)]
    searches = GroupSearches()
    plain = select_groups(groups, 1, 2, 3)
    assert select_groups(groups, 1, 2, 3, searches) == plain
    assert select_groups(groups, 1, 2, 3, searches) == plain

"""Quantities, pod requests, capacity estimates, selectors and the YAML snippet writer."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from placement_kit import cluster

from kurator_compile.placement.capacity import columns, estimate, estimate_all, parse_capacity
from kurator_compile.placement.quantity import (
    QuantityError,
    milli_value,
    parse_quantity,
    value,
)
from kurator_compile.placement.selectors import cluster_matches, label_selector_matches
from kurator_compile.placement.workload import read_workload
from kurator_compile.placement.yamltext import to_yaml


@pytest.mark.parametrize(
    ("text", "exact"),
    [
        ("64", Fraction(64)),
        ("500m", Fraction(1, 2)),
        ("256Gi", Fraction(256 * 2**30)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("2E", Fraction(2 * 10**18)),
        ("1.5Ki", Fraction(1536)),
        ("110", Fraction(110)),
        ("+.5", Fraction(1, 2)),
        ("3u", Fraction(3, 10**6)),
        ("7n", Fraction(7, 10**9)),
        ("12k", Fraction(12000)),
        ("1e-3", Fraction(1, 1000)),
        (4, Fraction(4)),
        (0.25, Fraction(1, 4)),
    ],
)
def test_quantities_parse_exactly(text: object, exact: Fraction) -> None:
    assert parse_quantity(text) == exact


@pytest.mark.parametrize("text", ["", "abc", "1 Gi", "1KiB", "e3", "1e", "1.2.3", "Gi", True])
def test_bad_quantities_are_rejected(text: object) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_value_rounds_away_from_zero() -> None:
    assert (value(Fraction(1, 2)), value(Fraction(-3, 2)), value(Fraction(4))) == (1, -2, 4)
    assert (milli_value(Fraction(1, 10000)), milli_value(Fraction(3, 2))) == (1, 1500)


def _pod(containers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {"replicas": 2, "template": {"spec": {"containers": containers, **extra}}},
    }


def _res(
    requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": "c", "resources": resources}


def test_requests_sum_containers_max_init_add_overhead_and_default_from_limits() -> None:
    data = _pod(
        [
            _res({"cpu": "250m"}, {"cpu": "1", "memory": "1Gi"}),
            _res({"cpu": "500m"}),
            _res(limits={"nvidia.com/gpu": "1"}),
        ],
        initContainers=[_res({"cpu": "2", "memory": "64Mi"})],
        overhead={"cpu": "100m"},
    )
    workload, problems = read_workload(data)
    assert problems == []
    assert dict(workload.requests) == {"cpu": 2100, "memory": 2**30, "nvidia.com/gpu": 1}
    assert workload.replicas == 2
    assert workload.has_requirements


def test_node_selector_alone_makes_requirements() -> None:
    workload, _ = read_workload(_pod([{"name": "c"}], nodeSelector={"disk": "ssd"}))
    assert workload.requests == ()
    assert workload.has_requirements


@pytest.mark.parametrize(
    ("spec", "replicas"),
    [
        ({}, 1),
        ({"parallelism": 4}, 4),
        ({"completions": 3}, 1),
        ({"parallelism": 5, "completions": 2}, 2),
        ({"parallelism": 0}, 0),
    ],
)
def test_job_replicas(spec: dict[str, Any], replicas: int) -> None:
    data = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {**spec, "template": {"spec": {"containers": []}}},
    }
    assert read_workload(data)[0].replicas == replicas


def test_other_api_versions_are_not_workloads() -> None:
    data = {
        "apiVersion": "extensions/v1beta1",
        "kind": "Deployment",
        "metadata": {},
        "spec": {"replicas": 3},
    }
    workload, _ = read_workload(data)
    assert (workload.replicas, workload.is_workload, workload.is_workload_kind) == (0, False, False)


@pytest.mark.parametrize(
    ("capacity", "requests", "expected"),
    [
        ({"cpu": "64", "memory": "256Gi"}, {"cpu": "500m", "memory": "1Gi"}, 128),
        ({"cpu": "64", "memory": "256Gi", "pods": "110"}, {"cpu": "500m"}, 110),
        ({"pods": "110"}, {}, 110),
        ({"cpu": "1500m"}, {"cpu": "1"}, 1),
        ({"nvidia.com/gpu": "8"}, {"nvidia.com/gpu": "2", "cpu": "1"}, 4),
        ({"cpu": "0"}, {"cpu": "1"}, 0),
        ({"pods": "0"}, {}, 0),
        ({"memory": "1e3"}, {"memory": "300"}, 3),
        ({"cpu": "64"}, {"memory": "1Gi"}, None),
        ({}, {"cpu": "1"}, None),
        ({"cpu": "64"}, {}, None),
    ],
)
def test_capacity_estimate(
    capacity: dict[str, str], requests: dict[str, str], expected: int | None
) -> None:
    parsed, problems = parse_capacity(cluster("c", capacity=capacity))
    assert problems == []
    workload, _ = read_workload(_pod([_res(requests)]))
    assert estimate(parsed, workload.requests) == expected


def test_label_selector_operators_and_invalid_selectors() -> None:
    labels = {"env": "prod", "tier": "web"}
    assert label_selector_matches({}, labels)
    assert label_selector_matches(
        {
            "matchExpressions": [
                {"key": "team", "operator": "DoesNotExist"},
                {"key": "team", "operator": "NotIn", "values": ["a"]},
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "tier", "operator": "Exists"},
            ]
        },
        labels,
    )
    for invalid in (
        {"matchLabels": {"": "x"}},
        {"matchExpressions": [{"key": "env", "operator": "In", "values": []}]},
        {"matchExpressions": [{"key": "env", "operator": "Exists", "values": ["x"]}]},
        {"matchExpressions": [{"key": "env", "operator": "Gt", "values": ["1"]}]},
        {"matchLabels": {"env": "has space"}},
    ):
        assert not label_selector_matches(invalid, labels)
        assert not label_selector_matches(
            {"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}], **invalid}, labels
        )


def test_zone_field_selector_odd_cases() -> None:
    zoned, bare = cluster("z", zones=["z1", "z2"]), cluster("n")

    def zone(op: str, *values: str) -> dict[str, Any]:
        return {
            "fieldSelector": {
                "matchExpressions": [{"key": "zone", "operator": op, "values": list(values)}]
            }
        }

    assert cluster_matches(zone("In", "z2", "z9"), zoned)
    assert not cluster_matches(zone("In", "z1"), bare)
    assert cluster_matches(zone("NotIn", "z1"), bare)
    assert not cluster_matches(zone("NotIn", "z1"), zoned)
    assert cluster_matches(zone("Exists"), zoned)
    assert cluster_matches(zone("DoesNotExist"), bare)
    assert not cluster_matches(
        {
            "fieldSelector": {
                "matchExpressions": [{"key": "provider", "operator": "In", "values": ["aws"]}]
            }
        },
        bare,
    )
    assert cluster_matches({"exclude": ["n"], "clusterNames": []}, zoned)
    assert not cluster_matches({"exclude": ["n"], "clusterNames": ["n"]}, bare)


def test_yaml_snippets_round_trip() -> None:
    data: dict[str, Any] = {
        "a": [{"b": "yes", "c": [1, "1.5"]}, []],
        "d": {},
        "e": "x: y",
        "f": None,
    }
    assert yaml.safe_load(to_yaml(data, indent=4)) == data


CAPACITY_TEXT = st.one_of(
    st.integers(-2, 300).map(str),
    st.sampled_from(["500m", "1500m", "0", "64Gi", "1e3", "2k", "0.5"]),
)


@given(
    capacities=st.lists(
        st.dictionaries(
            st.sampled_from(["cpu", "memory", "pods", "nvidia.com/gpu"]), CAPACITY_TEXT, max_size=4
        ),
        max_size=6,
    ),
    requests=st.dictionaries(
        st.sampled_from(["cpu", "memory", "nvidia.com/gpu", "pods"]),
        st.integers(0, 5000),
        max_size=4,
    ),
)
def test_column_estimates_equal_per_cluster_estimates(
    capacities: list[dict[str, str]], requests: dict[str, int]
) -> None:
    parsed = [parse_capacity(cluster(f"c{i}", capacity=c))[0] for i, c in enumerate(capacities)]
    profile = tuple(sorted(requests.items()))
    assert estimate_all(columns(parsed), profile) == [estimate(p, profile) for p in parsed]

"""Karmada's default interpreters for third-party kinds, pinned by Karmada's own test files
(tests/karmada/upstream/thirdparty: `interpretreplica-test.yaml`, `revisereplica-test.yaml`)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from karmada_kit import UPSTREAM, build, repository

from kurator_compile.placement.quantity import values
from kurator_compile.placement.thirdparty import THIRD_PARTY
from kurator_compile.placement.workload import read_workload

THIRD = UPSTREAM / "thirdparty"


def _cases(name: str) -> list[Any]:
    found = []
    for path in sorted(THIRD.rglob(name)):
        kind = path.parent.relative_to(THIRD).as_posix()
        for case in yaml.safe_load_all(path.read_text("utf-8")):
            if case:
                found.append(pytest.param(case, id=f"{kind}: {case['name']}"))
    return found


def _units(request: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    counted = []
    for name, text in request.items():
        units, millis = values(text)
        counted.append((name, millis if name == "cpu" else units))
    return tuple(sorted(counted))


@pytest.mark.parametrize("case", _cases("interpretreplica-test.yaml"))
def test_replicas_and_requests_as_karmada_interprets_them(case: dict[str, Any]) -> None:
    workload, problems = read_workload(case["desiredObj"])
    assert problems == []
    expected = case["output"]
    assert workload.replicas == expected["replica"]
    assert workload.is_workload_kind
    requires = expected.get("requires")  # Karmada's cases leave it out when not the point
    if requires is not None:
        assert workload.has_requirements
        assert workload.requests == _units(requires.get("resourceRequest") or {})


@pytest.mark.parametrize("case", _cases("revisereplica-test.yaml"))
def test_revised_replicas_as_karmada_writes_them(case: dict[str, Any]) -> None:
    obj = case["desiredObj"]
    revise = THIRD_PARTY[(obj["apiVersion"], obj["kind"])].revise
    assert revise is not None
    before = copy.deepcopy(obj)
    revised = {**obj, "spec": revise(obj["spec"], case["inputReplicas"])}
    assert revised == case["output"]["revised"]
    assert obj == before  # the input is not changed in place


def test_every_interpreted_kind_is_pinned_by_an_upstream_case() -> None:
    pinned = {
        (case.values[0]["desiredObj"]["apiVersion"], case.values[0]["desiredObj"]["kind"])
        for case in _cases("interpretreplica-test.yaml")
    }
    assert pinned == set(THIRD_PARTY)
    revised = {
        (case.values[0]["desiredObj"]["apiVersion"], case.values[0]["desiredObj"]["kind"])
        for case in _cases("revisereplica-test.yaml")
    }
    assert revised == {key for key, kind in THIRD_PARTY.items() if kind.revise is not None}


POLICY = """\
apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata:
  name: clonesets
  namespace: test-cloneset
spec:
  resourceSelectors:
    - apiVersion: apps.kruise.io/v1alpha1
      kind: CloneSet
  placement:
    clusterAffinity:
      clusterNames: [member1, member2]
    replicaScheduling:
      replicaSchedulingType: Divided
      replicaDivisionPreference: Weighted
      weightPreference:
        staticWeightList:
          - {targetCluster: {clusterNames: [member1]}, weight: 1}
          - {targetCluster: {clusterNames: [member2]}, weight: 1}
"""


def test_cloneset_of_four_divided_one_to_one_runs_two_on_each(tmp_path: Path) -> None:
    cases = THIRD / "apps.kruise.io/v1alpha1/CloneSet/interpretreplica-test.yaml"
    cloneset = next(yaml.safe_load_all(cases.read_text()))["desiredObj"]
    files = {"cloneset.yaml": yaml.safe_dump(cloneset), "policy.yaml": POLICY}
    fleet = repository(tmp_path, ("member1", "member2"), files)
    result = build(fleet, "--no-validate")
    assert result.exit_code == 0, result.output
    for cluster in ("member1", "member2"):
        written = tmp_path / "rendered/clusters" / cluster
        (path,) = written.glob("cloneset*.yaml")
        assert yaml.safe_load(path.read_text())["spec"]["replicas"] == 2

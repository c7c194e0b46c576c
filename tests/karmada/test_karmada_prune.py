"""Objects exported with `kubectl get -o yaml` propagate as Karmada's RemoveIrrelevantFields
leaves them (tests/karmada/upstream/exported holds real exports)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from karmada_kit import UPSTREAM, build, repository

from kurator_compile.placement.prune import remove_irrelevant_fields
from kurator_compile.placement.workload import read_workload

EXPORTED = UPSTREAM / "exported"
POLICY = """\
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata:
  name: exported
spec:
  resourceSelectors:
    - {apiVersion: sparkoperator.k8s.io/v1beta2, kind: SparkApplication}
    - {apiVersion: v1, kind: Node}
"""


def _written(root: Path, name: str) -> dict[str, Any]:
    (path,) = (root / "rendered/clusters/member1").glob(name)
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_exported_objects_lose_what_the_api_server_wrote(tmp_path: Path) -> None:
    files = {
        "spark.yaml": "exported/sparkapplication.yaml",
        "node.yaml": "exported/node.yaml",
        "policy.yaml": POLICY,
    }
    fleet = repository(tmp_path, ("member1",), files)
    result = build(fleet, "--ignore-missing-schemas")
    assert result.exit_code == 0, result.output
    spark = _written(tmp_path, "sparkapplication*.yaml")
    source = yaml.safe_load((EXPORTED / "sparkapplication.yaml").read_text())
    assert "status" not in spark
    assert spark["spec"] == source["spec"]
    # Karmada keeps the last-applied annotation and every label and other annotation
    assert spark["metadata"] == {
        "annotations": source["metadata"]["annotations"],
        "labels": source["metadata"]["labels"],
        "name": "spark-pi",
        "namespace": "default",
    }
    node = _written(tmp_path, "node*.yaml")
    assert set(node) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(node["metadata"]) == {"annotations", "labels", "name"}


def test_the_uid_still_breaks_placement_ties() -> None:
    exported = yaml.safe_load((EXPORTED / "sparkapplication.yaml").read_text())
    before = copy.deepcopy(exported)
    pruned = remove_irrelevant_fields(exported)
    assert "uid" not in pruned["metadata"]
    assert exported == before  # the input keeps its uid for the tie-break
    assert read_workload(exported)[0].uid == "30dde6fb-dc13-40fd-b131-4839fdf7fddd"


# One case per rule of Karmada's prune.go (its prune_test.go covers the same rules).
CASES = [
    (
        "common metadata and status",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "a",
                "creationTimestamp": "2024-01-01T00:00:00Z",
                "deletionTimestamp": "2024-01-02T00:00:00Z",
                "deletionGracePeriodSeconds": 30,
                "generation": 3,
                "managedFields": [{"manager": "kubectl"}],
                "resourceVersion": "1",
                "selfLink": "/api/v1/namespaces/default/configmaps/a",
                "uid": "u",
                "ownerReferences": [{"kind": "X", "name": "x", "uid": "o"}],
                "finalizers": ["f"],
            },
            "status": {"x": 1},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
    ),
    (
        "service cluster IPs",
        {"kind": "Service", "spec": {"clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"]}},
        {"kind": "Service", "spec": {}},
    ),
    (
        "headless service keeps None",
        {"kind": "Service", "spec": {"clusterIP": "None", "clusterIPs": ["None"]}},
        {"kind": "Service", "spec": {"clusterIP": "None", "clusterIPs": ["None"]}},
    ),
    (
        "job generated selector and ttl",
        {
            "kind": "Job",
            "spec": {
                "ttlSecondsAfterFinished": 10,
                "selector": {
                    "matchLabels": {
                        "controller-uid": "1",
                        "batch.kubernetes.io/controller-uid": "1",
                    }
                },
                "template": {
                    "metadata": {
                        "labels": {
                            "app": "a",
                            "controller-uid": "1",
                            "job-name": "j",
                            "batch.kubernetes.io/controller-uid": "1",
                            "batch.kubernetes.io/job-name": "j",
                        }
                    }
                },
            },
        },
        {
            "kind": "Job",
            "spec": {
                "selector": {"matchLabels": {}},
                "template": {"metadata": {"labels": {"app": "a"}}},
            },
        },
    ),
    (
        "job with a manual selector keeps it",
        {
            "kind": "Job",
            "spec": {"manualSelector": True, "selector": {"matchLabels": {"controller-uid": "1"}}},
        },
        {
            "kind": "Job",
            "spec": {"manualSelector": True, "selector": {"matchLabels": {"controller-uid": "1"}}},
        },
    ),
    (
        "service account token secrets",
        {
            "kind": "ServiceAccount",
            "metadata": {"name": "sa"},
            "secrets": [{"name": "sa-token-x"}, {"name": "other"}],
        },
        {"kind": "ServiceAccount", "metadata": {"name": "sa"}, "secrets": [{"name": "other"}]},
    ),
    (
        "service account token secret",
        {
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {"annotations": {"kubernetes.io/service-account.uid": "u", "a": "b"}},
            "data": {"token": "dA=="},
        },
        {
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {"annotations": {"a": "b"}},
        },
    ),
    (
        "basic-auth secret keeps its data",
        {"kind": "Secret", "type": "kubernetes.io/basic-auth", "data": {"username": "dQ=="}},
        {"kind": "Secret", "type": "kubernetes.io/basic-auth", "data": {"username": "dQ=="}},
    ),
    (
        "pvc selected node",
        {
            "kind": "PersistentVolumeClaim",
            "metadata": {"annotations": {"volume.kubernetes.io/selected-node": "n"}},
        },
        {"kind": "PersistentVolumeClaim", "metadata": {"annotations": {}}},
    ),
    (
        "deployment revision annotations",
        {
            "kind": "Deployment",
            "metadata": {
                "annotations": {
                    "deployment.kubernetes.io/revision": "2",
                    "deployment.kubernetes.io/revision-history": "1",
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                }
            },
        },
        {
            "kind": "Deployment",
            "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        },
    ),
]


@pytest.mark.parametrize(("source", "expected"), [pytest.param(s, e, id=n) for n, s, e in CASES])
def test_irrelevant_fields_as_karmada_removes_them(
    source: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = copy.deepcopy(source)
    assert remove_irrelevant_fields(source) == expected
    assert source == before

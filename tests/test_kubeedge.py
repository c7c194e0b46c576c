"""KubeEdge edge clusters: NodeGroups from the EdgeNode inventory, edge scheduling, and
per-node-group replicas as an EdgeApplication."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kurator_compile.stack.kubeedge import parse_group_replicas, with_edge_scheduling

from .conftest import REPO, run_cli

HEADER = """\
apiVersion: compile.kurator.dev/v1alpha1
kind: Fleet
metadata: {name: edge}
spec:
  clusters:
    - name: cloud
    - name: factory
      edge: true
  resources: [apps/*.yaml]
"""

LISTING = (REPO / "fleets/seed/listings/03-kubeedge-edgenode.yaml").read_text()


def edge_node(name: str, labels: str = "{region: east-china}", extra: str = "") -> str:
    return (
        f"apiVersion: edge.kubeedge.io/v1\nkind: EdgeNode\nmetadata: {{name: {name}}}\n"
        f"spec:\n{extra}  nodeInfo: {{nodeID: {name}}}\n  labels: {labels}\n"
    )


COLLECTOR = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: collector
ANNOTATIONS
spec:
  replicas: 1
  selector: {matchLabels: {app: collector}}
  template:
    metadata: {labels: {app: collector}}
    spec:
      containers: [{name: c, image: "collector:1"}]
"""

EVERYWHERE = """\
---
apiVersion: policy.karmada.io/v1alpha1
kind: ClusterPropagationPolicy
metadata: {name: everywhere}
spec:
  resourceSelectors:
    - {apiVersion: apps/v1, kind: Deployment}
    - {apiVersion: batch/v1, kind: CronJob}
    - {apiVersion: apps.kubeedge.io/v1alpha1, kind: NodeGroup}
"""


def build(
    make_fleet: Callable[..., Path],
    tmp_path: Path,
    apps: dict[str, str],
    placement: str = EVERYWHERE,
    fleet_header: str = HEADER,
) -> tuple[int, str, dict[str, dict[tuple[str, str], dict[str, Any]]]]:
    fleet = make_fleet(placement, apps=apps, header=fleet_header)
    out = tmp_path / "out"
    result = run_cli("build", fleet, "-o", out)
    trees: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for path in sorted(out.glob("clusters/*/*.yaml")):
        doc = yaml.safe_load(path.read_text())
        trees.setdefault(path.parent.name, {})[(doc["kind"], doc["metadata"]["name"])] = doc
    return result.exit_code, result.stderr, trees


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def test_listing_03_becomes_a_node_group_on_the_only_edge_cluster(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    apps = {
        "nodes.yaml": LISTING
        + "---\n"
        + edge_node("edge-node-02", "{environment: production, region: east-china}")
        + "---\n"
        + edge_node("edge-node-03", "{environment: staging, region: east-china}"),
    }
    code, stderr, trees = build(make_fleet, tmp_path, apps, placement="")
    assert code == 0, stderr
    assert "cloud" not in trees
    assert trees["factory"] == {
        ("NodeGroup", "production-east-china"): {
            "apiVersion": "apps.kubeedge.io/v1alpha1",
            "kind": "NodeGroup",
            "metadata": {
                "name": "production-east-china",
                "labels": {"environment": "production", "region": "east-china"},
            },
            "spec": {"nodes": ["edge-node-01", "edge-node-02"]},
        },
        ("NodeGroup", "staging-east-china"): {
            "apiVersion": "apps.kubeedge.io/v1alpha1",
            "kind": "NodeGroup",
            "metadata": {
                "name": "staging-east-china",
                "labels": {"environment": "staging", "region": "east-china"},
            },
            "spec": {"nodes": ["edge-node-03"]},
        },
    }
    assert (
        "apps/nodes.yaml:1:1: warning: EdgeNode is not an upstream KubeEdge kind (edge nodes "
        "register themselves with keadm join, as v1 Nodes labelled node-role.kubernetes.io/edge); "
        "this inventory entry is compiled to the apps.kubeedge.io/v1alpha1 NodeGroup "
        "'production-east-china' on cluster factory, which lists the node in spec.nodes"
    ) in stderr


def test_explicit_groups_and_ambiguous_names(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    apps = {
        "nodes.yaml": "---\n".join(
            [
                edge_node("n1", "{line: a}", "  nodeGroup: line-a\n"),
                edge_node("n2", "{zone: a}", "  nodeGroup: line-a\n"),
                edge_node("n3", "{site: x}"),
                edge_node("n4", "{rack: x}"),  # same value, another key: names are hashed
                edge_node("n5", "{}"),
            ]
        )
    }
    code, stderr, trees = build(make_fleet, tmp_path, apps, placement="")
    assert code == 0, stderr
    groups = {name: doc["spec"]["nodes"] for (_, name), doc in trees["factory"].items()}
    assert groups["line-a"] == ["n1", "n2"]
    assert groups["unlabelled"] == ["n5"]
    hashed = sorted(name for name in groups if name.startswith("x-"))
    assert len(hashed) == 2
    assert all(len(name) == 10 for name in hashed)
    assert "labels" not in trees["factory"][("NodeGroup", "line-a")]["metadata"]  # none shared


@pytest.mark.parametrize(
    ("header", "extra", "where", "message"),
    [
        (
            HEADER.replace("      edge: true\n", ""),
            "",
            "nodes.yaml:1:1",
            "EdgeNode 'n1' names no spec.cluster and the fleet has no edge cluster",
        ),
        (
            HEADER.replace("    - name: cloud\n", "    - name: cloud\n      edge: true\n"),
            "",
            "nodes.yaml:1:1",
            "the fleet has several edge clusters (cloud, factory)",
        ),
        (HEADER, "  cluster: cloud\n", "nodes.yaml:5:3", "which is not a KubeEdge cluster"),
        (HEADER, "  cluster: mars\n", "nodes.yaml:5:3", "which the fleet does not have"),
    ],
)
def test_edge_node_cluster_errors(
    make_fleet: Callable[..., Path],
    tmp_path: Path,
    header: str,
    extra: str,
    where: str,
    message: str,
) -> None:
    apps = {"nodes.yaml": edge_node("n1", extra=extra)}
    code, stderr, _ = build(make_fleet, tmp_path, apps, placement="", fleet_header=header)
    assert code == 2
    assert f"apps/{where}: error: " in stderr
    assert message in stderr


def test_a_node_listed_twice_is_an_error(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    apps = {"nodes.yaml": edge_node("n1") + "---\n" + edge_node("n1")}
    code, stderr, _ = build(make_fleet, tmp_path, apps, placement="")
    assert code == 2
    assert "apps/nodes.yaml:8:1: error: edge node 'n1' of cluster factory is listed twice" in stderr


def test_same_group_name_on_two_edge_clusters(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    header = HEADER.replace("    - name: cloud\n", "    - name: cloud\n      edge: true\n")
    apps = {
        "nodes.yaml": edge_node("n1", extra="  cluster: cloud\n")
        + "---\n"
        + edge_node("n2", extra="  cluster: factory\n")
    }
    code, stderr, trees = build(make_fleet, tmp_path, apps, placement="", fleet_header=header)
    assert code == 0, stderr
    assert trees["cloud"][("NodeGroup", "east-china")]["spec"] == {"nodes": ["n1"]}
    assert trees["factory"][("NodeGroup", "east-china")]["spec"] == {"nodes": ["n2"]}


def test_a_generated_group_may_not_clash_with_a_placed_one(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    written = (
        "apiVersion: apps.kubeedge.io/v1alpha1\nkind: NodeGroup\n"
        "metadata: {name: east-china}\nspec: {nodes: [x]}\n"
    )
    apps = {"nodes.yaml": edge_node("n1"), "group.yaml": written}
    code, stderr, _ = build(make_fleet, tmp_path, apps)
    assert code == 2
    assert "the EdgeNode inventory makes NodeGroup 'east-china' on cluster factory, but " in stderr


def test_workloads_on_edge_clusters_run_on_edge_nodes(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    cron = (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: report}\nspec:\n"
        "  schedule: '0 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
        "          restartPolicy: Never\n          containers: [{name: r, image: 'report:1'}]\n"
    )
    apps = {"collector.yaml": COLLECTOR.replace("ANNOTATIONS\n", ""), "cron.yaml": cron}
    code, stderr, trees = build(make_fleet, tmp_path, apps)
    assert code == 0, stderr
    edge_pod = _pod(trees["factory"][("Deployment", "collector")])
    assert edge_pod["nodeSelector"] == {"node-role.kubernetes.io/edge": ""}
    assert edge_pod["tolerations"] == [
        {"key": "node-role.kubernetes.io/edge", "operator": "Exists", "effect": "NoSchedule"}
    ]
    cloud_pod = _pod(trees["cloud"][("Deployment", "collector")])
    assert "nodeSelector" not in cloud_pod
    assert "tolerations" not in cloud_pod
    job_pod = trees["factory"][("CronJob", "report")]["spec"]["jobTemplate"]["spec"]["template"]
    assert job_pod["spec"]["nodeSelector"] == {"node-role.kubernetes.io/edge": ""}
    assert "compile.kurator.dev/edge-clusters" not in trees["factory"][("Deployment", "collector")]
    explained = run_cli(
        "plan", tmp_path / "fleet.yaml", "--explain", "Deployment.apps/default/collector"
    ).stdout
    assert (
        'edge: on factory (KubeEdge) its pods get nodeSelector node-role.kubernetes.io/edge: ""'
        in (explained)
    )


def test_cloud_workloads_on_an_edge_cluster_can_opt_out(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    opted = COLLECTOR.replace(
        "ANNOTATIONS", '  annotations: {compile.kurator.dev/edge-nodes: "false"}'
    )
    code, stderr, trees = build(make_fleet, tmp_path, {"collector.yaml": opted})
    assert code == 0, stderr
    assert "nodeSelector" not in _pod(trees["factory"][("Deployment", "collector")])


def test_edge_scheduling_is_idempotent() -> None:
    data = yaml.safe_load(COLLECTOR.replace("ANNOTATIONS\n", ""))
    once = with_edge_scheduling(data)
    assert with_edge_scheduling(once) == once
    assert "nodeSelector" not in _pod(data)  # the input is not changed
    tolerant = yaml.safe_load(COLLECTOR.replace("ANNOTATIONS\n", ""))
    _pod(tolerant)["tolerations"] = [{"operator": "Exists"}]  # tolerates every taint
    assert _pod(with_edge_scheduling(tolerant))["tolerations"] == [{"operator": "Exists"}]


GROUPED = COLLECTOR.replace(
    "ANNOTATIONS",
    '  annotations: {compile.kurator.dev/node-group-replicas: "east-china=2, west=1"}',
)
ONLY_FACTORY = (
    EVERYWHERE.replace("    - {apiVersion: batch/v1, kind: CronJob}\n", "")
    + "  placement: {clusterAffinity: {clusterNames: [factory]}}\n"
)


def test_node_group_replicas_become_an_edge_application(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    apps = {
        "nodes.yaml": edge_node("n1") + "---\n" + edge_node("n2", extra="  nodeGroup: west\n"),
        "collector.yaml": GROUPED,
    }
    code, stderr, trees = build(make_fleet, tmp_path, apps, ONLY_FACTORY)
    assert code == 0, stderr
    factory = trees["factory"]
    assert ("Deployment", "collector") not in factory
    app = factory[("EdgeApplication", "collector")]
    assert app["apiVersion"] == "apps.kubeedge.io/v1alpha1"
    assert app["spec"]["workloadScope"] == {
        "targetNodeGroups": [
            {"name": "east-china", "overriders": {"replicas": 2}},
            {"name": "west", "overriders": {"replicas": 1}},
        ]
    }
    (manifest,) = app["spec"]["workloadTemplate"]["manifests"]
    assert manifest["kind"] == "Deployment"
    assert manifest["metadata"] == {"name": "collector", "namespace": "default"}
    # KubeEdge replaces the nodeSelector with its node group; the toleration is still needed.
    assert "nodeSelector" not in _pod(manifest)
    assert _pod(manifest)["tolerations"][0]["key"] == "node-role.kubernetes.io/edge"


@pytest.mark.parametrize(
    ("annotation", "placement", "message"),
    [
        (
            "east-china=2, west=1",
            EVERYWHERE,
            "is placed on cluster cloud, which is not an edge cluster",
        ),
        (
            "east-china=2, north=1",
            ONLY_FACTORY,
            "node group 'north', which edge cluster factory does not have "
            "(its node groups: east-china, west;",
        ),
        ("east-china:2", ONLY_FACTORY, "'east-china:2' is not <node group>=<replicas>"),
        ("west=1,west=2", ONLY_FACTORY, "node group 'west' is listed twice"),
    ],
)
def test_node_group_replicas_errors(
    make_fleet: Callable[..., Path], tmp_path: Path, annotation: str, placement: str, message: str
) -> None:
    apps = {
        "nodes.yaml": edge_node("n1") + "---\n" + edge_node("n2", extra="  nodeGroup: west\n"),
        "collector.yaml": GROUPED.replace("east-china=2, west=1", annotation),
    }
    code, stderr, _ = build(make_fleet, tmp_path, apps, placement)
    assert code == 2
    assert "apps/collector.yaml:5:17: error: Deployment.apps/default/collector" in stderr
    assert message in stderr


def test_parse_group_replicas() -> None:
    assert parse_group_replicas("group-a=2,group-b=1") == ([("group-a", 2), ("group-b", 1)], None)
    assert parse_group_replicas("a=0") == ([("a", 0)], None)
    assert parse_group_replicas("A=1")[1] is not None
    assert parse_group_replicas("a=-1")[1] is not None


def test_templated_workloads_on_edge_clusters_are_left_to_the_template(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    templated = COLLECTOR.replace("ANNOTATIONS\n", "").replace(
        '"collector:1"', '"{{ cluster.name }}:1"'
    )
    header = HEADER.replace("[apps/*.yaml]", "[apps/*.yaml, apps/*.yaml.j2]")
    apps = {"collector.yaml.j2": templated, "nodes.yaml": edge_node("n1")}
    code, stderr, trees = build(make_fleet, tmp_path, apps, fleet_header=header)
    assert code == 0, stderr
    assert "nodeSelector" not in _pod(trees["factory"][("Deployment", "collector")])
    assert (
        "apps/collector.yaml.j2:1:1: warning: Deployment.apps/default/collector comes from a "
        "template and lands on edge cluster(s) factory; templated objects do not get the edge "
        "nodeSelector and toleration automatically: add them in the template"
    ) in stderr

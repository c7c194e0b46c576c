"""KubeEdge edge clusters (`edge: true` in the Fleet): edge scheduling, NodeGroups from the
EdgeNode inventory, and per-node-group replicas as an EdgeApplication.

* Pods of workloads placed on an edge cluster get what KubeEdge edge nodes need: the
  nodeSelector `node-role.kubernetes.io/edge: ""` (the label every edge node registers with)
  and a toleration of the `node-role.kubernetes.io/edge` NoSchedule taint (keadm's usual
  `registerWithTaints`). The annotation `compile.kurator.dev/edge-nodes: "false"` keeps a
  workload on the cloud nodes. `per_cluster` makes the change on every edge cluster;
  `adjust` only adds the line `plan --explain` shows.
* `EdgeNode` (edge.kubeedge.io/v1, not an upstream kind) documents are an inventory: each node
  belongs to `spec.cluster` (default: the only edge cluster) and to the NodeGroup
  `spec.nodeGroup` (default: one group per distinct label set, named after its label values
  in key order). Each group becomes an apps.kubeedge.io/v1alpha1 NodeGroup listing its nodes
  in `spec.nodes` (not `matchLabels`, which could put one node in two groups; KubeEdge allows
  one group per node).
* A Deployment annotated `compile.kurator.dev/node-group-replicas: "group-a=2,group-b=1"`
  becomes, on each (edge) cluster it is placed on, an EdgeApplication: the Deployment as its
  workloadTemplate and one targetNodeGroup per group with `overriders.replicas`. KubeEdge then
  runs a Deployment `<name>-<group>` per group, pinned to the group's nodes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from ..errors import Diagnostic
from ..fields import as_dict, is_digits
from ..model import Cluster, Fleet, Resource
from ..placement import ResourcePlacement
from ..placement.explain import Explanation
from ..yamldoc import Document, pointer_join
from .fleetspec import edge_clusters
from .kind import Expansion, StackKind

EDGE_NODE = "EdgeNode"
EDGE_ROLE = "node-role.kubernetes.io/edge"
APPS_API = "apps.kubeedge.io/v1alpha1"
APPS_GROUP = "apps.kubeedge.io"
NODE_GROUP_REPLICAS = "compile.kurator.dev/node-group-replicas"
EDGE_NODES = "compile.kurator.dev/edge-nodes"
EDGE_TOLERATION = {"key": EDGE_ROLE, "operator": "Exists", "effect": "NoSchedule"}

_POD_TEMPLATE_KINDS = {
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def pod_spec_paths(data: Mapping[str, Any]) -> list[tuple[str | int, ...]]:
    """Where the pod specs of an object are (none for kinds that run no pods)."""
    group = str(data.get("apiVersion") or "").rpartition("/")[0]
    kind = data.get("kind")
    spec = as_dict(data.get("spec"))
    if (group, kind) in _POD_TEMPLATE_KINDS:
        return [("spec", "template", "spec")]
    if (group, kind) == ("batch", "CronJob"):
        return [("spec", "jobTemplate", "spec", "template", "spec")]
    if (group, kind) == ("", "Pod"):
        return [("spec",)]
    if (group, kind) == ("batch.volcano.sh", "Job"):
        tasks = spec.get("tasks")
        count = len(tasks) if isinstance(tasks, list) else 0
        return [("spec", "tasks", i, "template", "spec") for i in range(count)]
    return []


def _tolerates_edge(toleration: Any) -> bool:
    t = as_dict(toleration)
    if not t.get("key"):
        return t.get("operator") == "Exists" and t.get("effect") in (None, "", "NoSchedule")
    return t.get("key") == EDGE_ROLE and t.get("effect") in (None, "", "NoSchedule")


def _edge_pod_spec(pod: dict[str, Any], selector: bool) -> None:
    """Adds the edge nodeSelector (if `selector`) and toleration to a pod spec, in place."""
    if selector:
        node_selector = as_dict(pod.get("nodeSelector"))
        if EDGE_ROLE not in node_selector:
            pod["nodeSelector"] = {**node_selector, EDGE_ROLE: ""}
    tolerations = pod.get("tolerations")
    tolerations = tolerations if isinstance(tolerations, list) else []
    if not any(_tolerates_edge(t) for t in tolerations):
        pod["tolerations"] = [*tolerations, dict(EDGE_TOLERATION)]


def with_edge_scheduling(data: Mapping[str, Any], selector: bool = True) -> dict[str, Any]:
    """A copy of `data` whose pods run on KubeEdge edge nodes."""
    result = copy.deepcopy(dict(data))
    for path in pod_spec_paths(result):
        node: Any = result
        for step in path:
            if isinstance(node, dict) and isinstance(step, str):
                node = node.get(step)
            elif isinstance(node, list) and isinstance(step, int) and step < len(node):
                node = node[step]
            else:
                node = None
        if isinstance(node, dict):
            _edge_pod_spec(node, selector)
    return result


def per_cluster(
    data: dict[str, Any], cluster: Cluster, fleet_name: str, resource: Resource
) -> dict[str, Any]:
    """Pods of workloads on an edge cluster run on its edge nodes (templated objects and
    opted-out ones excepted: `adjust` warns about the former)."""
    if not cluster.edge or resource.templated or _opted_out(resource):
        return data
    if not pod_spec_paths(data):
        return data
    return with_edge_scheduling(data)


# --- EdgeNode inventory -> NodeGroups ---------------------------------------------------


@dataclass(frozen=True)
class NodeGroupPlan:
    cluster: str
    name: str
    nodes: tuple[str, ...]
    labels: Mapping[str, str]  # the labels every node of the group has
    sources: tuple[Document, ...]


def _base_name(labels: Mapping[str, str]) -> str:
    text = "-".join(str(labels[k]) for k in sorted(labels)).lower()
    text = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", text)).strip("-")
    return text or "unlabelled"


def _hashed(base: str, labels: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(labels.items())).encode()).hexdigest()[:8]
    return f"{base[:54].rstrip('-')}-{digest}"


def _label_set(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in labels.items()))


@dataclass(frozen=True)
class _Node:
    doc: Document
    node: str
    cluster: str
    group: str | None
    labels: dict[str, str]


def _read_nodes(fleet: Fleet) -> tuple[list[_Node], list[Diagnostic]]:
    edge = edge_clusters(fleet)
    known = {c.name for c in fleet.clusters}
    nodes: list[_Node] = []
    errors: list[Diagnostic] = []
    seen: dict[tuple[str, str], Document] = {}
    for doc in fleet.extensions.get(EDGE_NODE, ()):
        spec = as_dict(doc.data.get("spec"))
        name = str(doc.data["metadata"]["name"])
        node = str(as_dict(spec.get("nodeInfo")).get("nodeID") or name)
        cluster = spec.get("cluster")
        if cluster is None:
            if len(edge) != 1:
                why = (
                    "the fleet has no edge cluster (mark one with edge: true)"
                    if not edge
                    else f"the fleet has several edge clusters ({', '.join(edge)})"
                )
                errors.append(
                    Diagnostic.error(
                        f"EdgeNode {name!r} names no spec.cluster and {why}", doc.locate("")
                    )
                )
                continue
            cluster = edge[0]
        elif cluster not in known:
            errors.append(
                Diagnostic.error(
                    f"EdgeNode {name!r} names cluster {cluster!r}, which the fleet does not have "
                    f"(clusters: {', '.join(sorted(known))})",
                    doc.locate("/spec/cluster"),
                )
            )
            continue
        elif cluster not in edge:
            errors.append(
                Diagnostic.error(
                    f"EdgeNode {name!r} names cluster {cluster!r}, which is not a KubeEdge "
                    "cluster; mark it with edge: true in the Fleet",
                    doc.locate("/spec/cluster"),
                )
            )
            continue
        if (cluster, node) in seen:
            first = seen[(cluster, node)].locate("")
            errors.append(
                Diagnostic.error(
                    f"edge node {node!r} of cluster {cluster} is listed twice (first at "
                    f"{first.file}:{first.line})",
                    doc.locate(""),
                )
            )
            continue
        seen[(cluster, node)] = doc
        labels = {str(k): str(v) for k, v in as_dict(spec.get("labels")).items()}
        group = spec.get("nodeGroup")
        nodes.append(_Node(doc, node, str(cluster), str(group) if group else None, labels))
    return nodes, errors


def node_groups(fleet: Fleet) -> tuple[list[NodeGroupPlan], list[Diagnostic]]:
    """The NodeGroups the EdgeNode inventory asks for, sorted by cluster and name."""
    nodes, diagnostics = _read_nodes(fleet)
    bases: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for node in nodes:
        if node.group is None:
            bases.setdefault(_base_name(node.labels), set()).add(_label_set(node.labels))
    members: dict[tuple[str, str], list[_Node]] = {}
    for node in nodes:
        name = node.group
        if name is None:
            base = _base_name(node.labels)
            ambiguous = len(bases[base]) > 1 or len(base) > 63 or not _DNS_LABEL.match(base)
            name = _hashed(base, node.labels) if ambiguous else base
        members.setdefault((node.cluster, name), []).append(node)
    plans = []
    for (cluster, name), group in sorted(members.items()):
        common = dict(group[0].labels)
        for node in group[1:]:
            common = {k: v for k, v in common.items() if node.labels.get(k) == v}
        plans.append(
            NodeGroupPlan(
                cluster,
                name,
                tuple(sorted(n.node for n in group)),
                common,
                tuple(n.doc for n in group),
            )
        )
    where = {id(doc): plan for plan in plans for doc in plan.sources}
    for node in nodes:  # in document order
        plan = where[id(node.doc)]
        diagnostics.append(
            Diagnostic.warning(
                f"EdgeNode is not an upstream KubeEdge kind (edge nodes register themselves "
                f"with keadm join, as v1 Nodes labelled {EDGE_ROLE}); this inventory entry is "
                f"compiled to the {APPS_API} NodeGroup {plan.name!r} on cluster {plan.cluster}, "
                "which lists the node in spec.nodes",
                node.doc.locate(""),
            )
        )
    return plans, diagnostics


def _node_group_placement(plan: NodeGroupPlan) -> ResourcePlacement:
    source = plan.sources[0]
    metadata: dict[str, Any] = {"name": plan.name}
    if plan.labels:
        metadata["labels"] = dict(sorted(plan.labels.items()))
    data = {
        "apiVersion": APPS_API,
        "kind": "NodeGroup",
        "metadata": metadata,
        "spec": {"nodes": list(plan.nodes)},
    }
    positions = {"": source.positions.get("", (1, 1))}
    resource = Resource(Document(source.file, source.index, data, positions))
    where = ", ".join(f"{d.file}:{d.positions.get('', (1, 1))[0]}" for d in plan.sources)
    explanation = (
        f"placement: the EdgeNode inventory ({where}) puts these nodes of edge cluster "
        f"{plan.cluster} in node group {plan.name}",
        f"result: {plan.cluster}",
    )
    return ResourcePlacement(resource, None, MappingProxyType({plan.cluster: None}), explanation)


def _is_node_group(resource: Resource) -> bool:
    return resource.group == APPS_GROUP and resource.kind == "NodeGroup"


def node_group_objects(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """The NodeGroups of the inventory, each pinned to its cluster. Added after placement, as
    two edge clusters may each have a group of the same name (a distinct object on each)."""
    if not fleet.extensions.get(EDGE_NODE):
        return [], []
    plans, _ = node_groups(fleet)  # its diagnostics were reported before placement
    written = {
        (cluster, p.resource.name): p.resource
        for p in placements
        if _is_node_group(p.resource)
        for cluster in p.replicas
    }
    errors = []
    for plan in plans:
        clash = written.get((plan.cluster, plan.name))
        if clash is not None:
            loc = clash.locate()
            errors.append(
                Diagnostic.error(
                    f"the EdgeNode inventory makes NodeGroup {plan.name!r} on cluster "
                    f"{plan.cluster}, but {loc.file}:{loc.line} places a NodeGroup of that name "
                    "there too; give the nodes another spec.nodeGroup",
                    plan.sources[0].locate(""),
                )
            )
    return [_node_group_placement(plan) for plan in plans], errors


# --- workloads on edge clusters ----------------------------------------------------------


def _groups_by_cluster(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> dict[str, set[str]]:
    plans, _ = node_groups(fleet)
    found: dict[str, set[str]] = {}
    for plan in plans:
        found.setdefault(plan.cluster, set()).add(plan.name)
    for p in placements:
        if _is_node_group(p.resource):
            for cluster in p.replicas:
                found.setdefault(cluster, set()).add(p.resource.name)
    return found


def parse_group_replicas(text: str) -> tuple[list[tuple[str, int]], str | None]:
    """`"group-a=2, group-b=1"` -> [(group-a, 2), (group-b, 1)], or the reason it is invalid."""
    found: list[tuple[str, int]] = []
    for part in text.split(","):
        name, sep, count = (s.strip() for s in part.partition("="))
        if not sep or not _DNS_LABEL.match(name) or not is_digits(count):
            return [], (
                f"{part.strip()!r} is not <node group>=<replicas> (a DNS-1123 label, '=', "
                "a whole number)"
            )
        if any(name == seen for seen, _ in found):
            return [], f"node group {name!r} is listed twice"
        found.append((name, int(count)))
    return found, None


def _annotation_pointer(key: str) -> str:
    return pointer_join("/metadata/annotations", key)


def _edge_application(
    placement: ResourcePlacement,
    text: str,
    edge: set[str],
    groups: Mapping[str, set[str]],
) -> tuple[ResourcePlacement | None, list[Diagnostic]]:
    resource = placement.resource
    where = resource.locate(_annotation_pointer(NODE_GROUP_REPLICAS))
    if (resource.api_version, resource.kind) != ("apps/v1", "Deployment"):
        return None, [
            Diagnostic.error(
                f"{resource.key}: {NODE_GROUP_REPLICAS} works for apps/v1 Deployments only "
                "(KubeEdge's EdgeApplication overrides the replicas of Deployments)",
                where,
            )
        ]
    if resource.templated:
        return None, [
            Diagnostic.error(
                f"{resource.key}: {NODE_GROUP_REPLICAS} is not supported in templates (*.j2)",
                where,
            )
        ]
    wanted, problem = parse_group_replicas(text)
    if problem is not None:
        return None, [Diagnostic.error(f"{resource.key}: {NODE_GROUP_REPLICAS}: {problem}", where)]
    errors = []
    for cluster in sorted(placement.replicas):
        if cluster not in edge:
            errors.append(
                Diagnostic.error(
                    f"{resource.key} asks for replicas per KubeEdge node group but is placed on "
                    f"cluster {cluster}, which is not an edge cluster (edge: true); place it on "
                    "edge clusters only",
                    where,
                )
            )
            continue
        known = groups.get(cluster, set())
        for name, _ in wanted:
            if name not in known:
                errors.append(
                    Diagnostic.error(
                        f"{resource.key} asks for replicas in node group {name!r}, which edge "
                        f"cluster {cluster} does not have (its node groups: "
                        f"{', '.join(sorted(known)) or 'none'}; they come from EdgeNode "
                        "documents or placed NodeGroups)",
                        where,
                    )
                )
    if errors:
        return None, errors
    manifest = with_edge_scheduling(resource.data, selector=False)
    meta = manifest.setdefault("metadata", {})
    meta["namespace"] = resource.namespace
    annotations = dict(as_dict(meta.get("annotations")))
    annotations.pop(NODE_GROUP_REPLICAS, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    metadata: dict[str, Any] = {"name": resource.name, "namespace": resource.namespace}
    if resource.labels:
        metadata["labels"] = dict(resource.labels)
    data = {
        "apiVersion": APPS_API,
        "kind": "EdgeApplication",
        "metadata": metadata,
        "spec": {
            "workloadTemplate": {"manifests": [manifest]},
            "workloadScope": {
                "targetNodeGroups": [
                    {"name": name, "overriders": {"replicas": count}} for name, count in wanted
                ]
            },
        },
    }
    doc = resource.document
    base = "/spec/workloadTemplate/manifests/0"
    positions = {
        (p if p == "" or p.startswith("/metadata") else base + p): pos
        for p, pos in doc.positions.items()
    }
    app = Resource(Document(doc.file, doc.index, data, positions))
    clusters = sorted(placement.replicas)
    shown = ", ".join(f"{n}={c}" for n, c in wanted)
    before = placement.explanation
    lines = (
        f"edge: {NODE_GROUP_REPLICAS} asks for replicas per node group ({shown}): on each "
        f"cluster the Deployment becomes an {APPS_API} EdgeApplication whose targetNodeGroups "
        "override its replicas; KubeEdge runs one Deployment <name>-<group> per group, pinned "
        "to the group's nodes (the replica count above is not used)",
        "result: " + ", ".join(clusters),
    )

    def render() -> list[str]:
        head = list(before)
        if head and head[-1].startswith("result:"):
            head.pop()
        return [*head, *lines]

    converted = ResourcePlacement(
        app,
        placement.policy,
        MappingProxyType(dict.fromkeys(clusters)),
        Explanation(render),
        competitors=placement.competitors,
    )
    return converted, []


def _explained_edge(placement: ResourcePlacement, clusters: list[str]) -> ResourcePlacement:
    before = placement.explanation
    line = (
        f"edge: on {', '.join(clusters)} (KubeEdge) its pods get nodeSelector {EDGE_ROLE}: "
        '"" and a toleration of that NoSchedule taint'
    )

    def render() -> list[str]:
        head = list(before)
        if head and head[-1].startswith("result:"):
            return [*head[:-1], line, head[-1]]
        return [*head, line]

    return replace(placement, explanation=Explanation(render))


def _opted_out(resource: Resource) -> bool:
    annotations = as_dict(resource.metadata.get("annotations"))
    return str(annotations.get(EDGE_NODES, "")).lower() == "false"


def adjust(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    """Deployments with per-node-group replicas become EdgeApplications; workloads that land
    on edge clusters get an explanation line (`per_cluster` changes their pods)."""
    edge = set(edge_clusters(fleet))
    result = list(placements)
    diagnostics: list[Diagnostic] = []
    groups: dict[str, set[str]] | None = None
    for index, placement in enumerate(placements):
        resource = placement.resource
        annotations = as_dict(resource.metadata.get("annotations"))
        text = annotations.get(NODE_GROUP_REPLICAS)
        if text is not None:
            if not placement.replicas:
                continue
            if groups is None:
                groups = _groups_by_cluster(fleet, placements)
            converted, found = _edge_application(placement, str(text), edge, groups)
            diagnostics.extend(found)
            if converted is not None:
                result[index] = converted
            continue
        on_edge = sorted(edge.intersection(placement.replicas))
        if not on_edge or not pod_spec_paths(resource.data) or _opted_out(resource):
            continue
        if resource.templated:
            diagnostics.append(
                Diagnostic.warning(
                    f"{resource.key} comes from a template and lands on edge cluster(s) "
                    f"{', '.join(on_edge)}; templated objects do not get the edge nodeSelector "
                    f"and toleration automatically: add them in the template",
                    resource.locate(),
                )
            )
            continue
        result[index] = _explained_edge(placement, on_edge)
    return result, diagnostics


def edge_application_replicas(data: Mapping[str, Any]) -> int:
    """The pods an EdgeApplication runs on its cluster: the sum over its target node groups."""
    scope = as_dict(as_dict(data.get("spec")).get("workloadScope"))
    total = 0
    for target in scope.get("targetNodeGroups") or ():
        count = as_dict(as_dict(target).get("overriders")).get("replicas")
        total += count if isinstance(count, int) else 0
    return total


def _before(fleet: Fleet) -> Expansion:
    """The EdgeNode inventory is checked before placement; its NodeGroups come after it."""
    _, found = node_groups(fleet)
    return Expansion(diagnostics=found)


STACK = StackKind(
    "kubeedge",
    kinds=(("edge.kubeedge.io", EDGE_NODE),),
    before=_before,
    adjust=adjust,
    after=node_group_objects,
    per_cluster=per_cluster,
)

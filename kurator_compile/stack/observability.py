"""Fleet observability: Prometheus per cluster labelled for Thanos, one Thanos Query on a hub.

Every `monitoring.coreos.com/v1` Prometheus gets `externalLabels.cluster: <cluster>` and the
operator's replica label named explicitly, so Thanos can tell clusters apart and deduplicate
replicas. With `spec.observability.hub` in the Fleet, the hub cluster also gets a Thanos
Query Deployment and Service whose `--endpoint`s are the `thanosStore` addresses of the
clusters (each cluster entry's `thanosStore`, host:port of its Thanos sidecar's gRPC API).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from ..errors import Diagnostic
from ..model import Cluster, Fleet, Resource
from ..placement import ResourcePlacement
from ..yamldoc import Document
from .kind import StackKind

REPLICA_LABEL = "prometheus_replica"
DEFAULT_IMAGE = "quay.io/thanos/thanos:v0.36.1"
QUERY_NAME = "thanos-query"


def is_prometheus(data: dict[str, Any]) -> bool:
    return data.get("apiVersion") == "monitoring.coreos.com/v1" and data.get("kind") == "Prometheus"


def per_cluster(
    data: dict[str, Any], cluster: Cluster, fleet_name: str, resource: Resource
) -> dict[str, Any]:
    if not is_prometheus(data):
        return data
    spec = dict(data.get("spec") or {})
    spec["externalLabels"] = {**(spec.get("externalLabels") or {}), "cluster": cluster.name}
    spec.setdefault("replicaExternalLabelName", REPLICA_LABEL)
    return {**data, "spec": spec}


def _settings(fleet: Fleet) -> dict[str, Any]:
    value: dict[str, Any] = fleet.document.data["spec"].get("observability") or {}
    return value


def query_objects(
    fleet: Fleet, placements: Sequence[ResourcePlacement]
) -> tuple[list[ResourcePlacement], list[Diagnostic]]:
    settings = _settings(fleet)
    hub = settings.get("hub")
    if not hub:
        return [], []
    doc = fleet.document
    if fleet.cluster(hub) is None:
        return [], [
            Diagnostic.error(
                f"observability hub {hub!r} is not a cluster of the fleet",
                doc.locate("/spec/observability/hub"),
            )
        ]
    monitored = sorted(
        {c for p in placements if is_prometheus(p.resource.data) for c in p.replicas}
    )
    entries = {e["name"]: e for e in doc.data["spec"].get("clusters") or []}
    endpoints, diagnostics = [], []
    for name in monitored:
        store = entries[name].get("thanosStore")
        if store:
            endpoints.append(store)
        else:
            index = list(entries).index(name)
            diagnostics.append(
                Diagnostic.warning(
                    f"cluster {name} runs Prometheus but sets no thanosStore address; the "
                    "Thanos Query on the hub cannot reach it",
                    doc.locate(f"/spec/clusters/{index}"),
                )
            )
    namespace = settings.get("namespace", "monitoring")
    labels = {"app.kubernetes.io/name": QUERY_NAME, "app.kubernetes.io/part-of": "thanos"}
    args = [
        "query",
        "--http-address=0.0.0.0:10902",
        "--grpc-address=0.0.0.0:10901",
        f"--query.replica-label={REPLICA_LABEL}",
        *(f"--endpoint={e}" for e in endpoints),
    ]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": QUERY_NAME, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "thanos-query",
                            "image": settings.get("thanosImage", DEFAULT_IMAGE),
                            "args": args,
                            "ports": [
                                {"name": "http", "containerPort": 10902},
                                {"name": "grpc", "containerPort": 10901},
                            ],
                        }
                    ]
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": QUERY_NAME, "namespace": namespace, "labels": labels},
        "spec": {
            "selector": labels,
            "ports": [
                {"name": "http", "port": 9090, "targetPort": "http"},
                {"name": "grpc", "port": 10901, "targetPort": "grpc"},
            ],
        },
    }
    position = doc.locate("/spec/observability")
    source = Document(doc.file, doc.index, {}, {"": (position.line, position.column)})
    explanation = (
        f"placement: the fleet's observability hub ({position.file}:{position.line})",
        "stores: " + (", ".join(endpoints) or "(none)"),
        f"result: {hub}",
    )
    pinned = MappingProxyType({hub: None})
    generated = []
    for obj in (deployment, service):
        resource = Resource(Document(source.file, source.index, obj, source.positions))
        generated.append(ResourcePlacement(resource, None, pinned, explanation))
    return generated, diagnostics


def _varies(resource: Resource) -> bool:
    return is_prometheus(resource.data)


STACK = StackKind("observability", after=query_objects, varies=_varies, per_cluster=per_cluster)

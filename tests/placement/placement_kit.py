"""In-memory fleets for placement tests: clusters, objects and policies without files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kurator_compile.errors import SourceLocation
from kurator_compile.model import Cluster, Fleet, Policy, Resource, Taint
from kurator_compile.placement import ResourcePlacement, resolve_placement
from kurator_compile.yamldoc import Document


def cluster(
    name: str,
    labels: Mapping[str, str] | None = None,
    *,
    capacity: Mapping[str, str] | None = None,
    taints: Iterable[tuple[str, str, str]] = (),
    provider: str = "",
    region: str = "",
    zones: Iterable[str] = (),
) -> Cluster:
    return Cluster(
        name,
        dict(labels or {}),
        provider=provider,
        region=region,
        zones=tuple(zones),
        taints=tuple(Taint(key, effect, value) for key, value, effect in taints),
        capacity=dict(capacity or {}),
        location=SourceLocation("fleet.yaml", 3, 5, f"/spec/clusters/{name}"),
    )


def deployment(
    name: str = "web",
    replicas: int | None = 4,
    *,
    namespace: str | None = "shop",
    requests: Mapping[str, str] | None = None,
    uid: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if uid is not None:
        metadata["uid"] = uid
    if labels:
        metadata["labels"] = dict(labels)
    container: dict[str, Any] = {"name": "app", "image": "nginx"}
    if requests:
        container["resources"] = {"requests": dict(requests)}
    spec: dict[str, Any] = {"template": {"spec": {"containers": [container]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def configmap(name: str = "settings", namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"a": "1"},
    }


def policy(
    name: str,
    placement: Mapping[str, Any] | None = None,
    *,
    namespace: str | None = None,
    selectors: list[dict[str, Any]] | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """A ClusterPropagationPolicy, or a PropagationPolicy when `namespace` is given."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    spec: dict[str, Any] = {
        "resourceSelectors": selectors
        if selectors is not None
        else [{"apiVersion": "apps/v1", "kind": "Deployment"}],
        "placement": dict(placement or {}),
    }
    if priority is not None:
        spec["priority"] = priority
    return {
        "apiVersion": "policy.karmada.io/v1alpha1",
        "kind": "PropagationPolicy" if namespace is not None else "ClusterPropagationPolicy",
        "metadata": metadata,
        "spec": spec,
    }


def fleet(
    clusters: Iterable[Cluster],
    resources: Iterable[dict[str, Any]],
    policies: Iterable[dict[str, Any]],
    positions: Mapping[str, Mapping[str, tuple[int, int]]] | None = None,
) -> Fleet:
    """Resources live in apps/<n>.yaml, policies in policies/<name>.yaml (line 1 unless
    `positions[<policy name>]` says otherwise)."""
    positions = positions or {}
    return Fleet(
        "test",
        tuple(clusters),
        Document("fleet.yaml", 0, {}, {}),
        resources=tuple(
            Resource(Document(f"apps/{i}.yaml", 0, data, {"": (1, 1)}))
            for i, data in enumerate(resources)
        ),
        policies=tuple(
            Policy(
                Document(
                    f"policies/{data['metadata']['name']}.yaml",
                    0,
                    data,
                    {"": (1, 1), **positions.get(data["metadata"]["name"], {})},
                )
            )
            for data in policies
        ),
    )


def place(
    clusters: Iterable[Cluster],
    resources: Iterable[dict[str, Any]],
    policies: Iterable[dict[str, Any]],
) -> tuple[list[ResourcePlacement], list[str]]:
    """Placements and rendered diagnostics."""
    placements, diagnostics = resolve_placement(fleet(clusters, resources, policies))
    return placements, [d.render() for d in diagnostics]


def replicas_of(placement: ResourcePlacement) -> dict[str, int | None]:
    return dict(sorted(placement.replicas.items()))

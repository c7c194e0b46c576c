"""FederatedDeployment (apps.kurator.dev/v1alpha1) -> a Deployment with replicas per cluster."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..errors import Diagnostic
from ..model import Fleet, Resource
from ..placement import ResourcePlacement
from ..yamldoc import Document
from .kind import Expansion, StackKind

KIND = "FederatedDeployment"


def _deployment_document(doc: Document) -> Document:
    """The Deployment the template describes; its positions point back into the source."""
    spec = doc.data["spec"]
    template = spec["template"]
    metadata = {k: v for k, v in doc.data["metadata"].items() if k in ("name", "namespace")}
    for field in ("labels", "annotations"):
        merged = {
            **(doc.data["metadata"].get(field) or {}),
            **((template.get("metadata") or {}).get(field) or {}),
        }
        if merged:
            metadata[field] = merged
    data: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": template["spec"],
    }
    positions: dict[str, tuple[int, int]] = {}
    for pointer, position in doc.positions.items():
        if pointer.startswith("/spec/template/spec"):
            positions["/spec" + pointer[len("/spec/template/spec") :]] = position
        elif pointer.startswith("/metadata") or pointer == "":
            positions[pointer] = position
    return Document(doc.file, doc.index, data, positions)


def expand(
    fleet: Fleet, doc: Document
) -> tuple[Resource, ResourcePlacement | None, list[Diagnostic]]:
    """The Deployment, and its fixed placement when `spec.placement` names the clusters."""
    resource = Resource(_deployment_document(doc))
    notice = Diagnostic.warning(
        f"{KIND} is not an upstream Kurator or Karmada kind; it is compiled to an apps/v1 "
        "Deployment. The upstream form is that Deployment plus a PropagationPolicy "
        "(Divided, Weighted, staticWeightList with one weight per cluster)",
        doc.locate(""),
    )
    placement = doc.data["spec"].get("placement")
    if placement is None:
        return resource, None, [notice]  # placed by propagation policies, like any Deployment
    errors: list[Diagnostic] = [notice]
    replicas: dict[str, int] = {}
    known = {c.name for c in fleet.clusters}
    for index, entry in enumerate(placement["clusters"]):
        where = f"/spec/placement/clusters/{index}"
        name, count = entry["name"], entry["replicas"]
        if name not in known:
            errors.append(
                Diagnostic.error(
                    f"{KIND} {doc.data['metadata']['name']!r} names cluster {name!r}, which the "
                    f"fleet does not have (clusters: {', '.join(sorted(known))})",
                    doc.locate(f"{where}/name"),
                )
            )
        elif name in replicas:
            errors.append(
                Diagnostic.error(f"cluster {name!r} is listed twice", doc.locate(f"{where}/name"))
            )
        if count < 0:
            errors.append(
                Diagnostic.error(
                    f"replicas must be 0 or more, not {count}", doc.locate(f"{where}/replicas")
                )
            )
        if name in known and name not in replicas:
            replicas[name] = max(count, 0)
    loc = doc.locate("/spec/placement")
    explanation = (
        f"placement: {KIND} spec.placement at {loc.file}:{loc.line} names the clusters and "
        "their replicas; no propagation policy is consulted",
        "result: " + ", ".join(f"{c}={r}" for c, r in sorted(replicas.items())),
    )
    fixed = ResourcePlacement(
        resource, None, MappingProxyType(dict(sorted(replicas.items()))), explanation
    )
    return resource, fixed, errors


def _before(fleet: Fleet) -> Expansion:
    expansion = Expansion()
    for doc in fleet.extensions.get(KIND, ()):
        resource, pinned, found = expand(fleet, doc)
        expansion.diagnostics.extend(found)
        if pinned is None:
            expansion.resources.append(resource)
        else:
            expansion.pinned.append(pinned)
    return expansion


STACK = StackKind("federated", kinds=(("apps.kurator.dev", KIND),), before=_before)

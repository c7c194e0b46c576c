"""Kurator's own kinds in the stack table: a pure `compile_<kind>(inputs)` module becomes a
`StackKind` whose objects are pinned to the host's folder or to the member they name."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from ..errors import Diagnostic
from ..kinds import is_kurator_group, split_api_version
from ..kurator.application import APPLICATION_KIND, explain_application
from ..kurator.inventory import FLEET_GROUP, HOST, Generated, KuratorInputs
from ..model import Fleet
from ..placement import ResourcePlacement
from ..yamldoc import Document
from .kind import Expansion, StackKind, generated_resource

APPLICATION_GROUP = "apps.kurator.dev"
KuratorCompile = Callable[[KuratorInputs], tuple[list[Generated], list[Diagnostic]]]


def kurator_inputs(fleet: Fleet) -> KuratorInputs:
    """What a Kurator kind reads: the inventory, the Kurator documents by kind, and every
    ordinary input object."""
    documents: dict[str, list[Document]] = {}
    for kind, docs in fleet.extensions.items():
        for doc in docs:
            if is_kurator_group(split_api_version(str(doc.data.get("apiVersion", "")))[0]):
                documents.setdefault(kind, []).append(doc)
    return KuratorInputs(
        fleets=fleet.inventory,
        documents={kind: tuple(docs) for kind, docs in sorted(documents.items())},
        resources=tuple(resource.document for resource in fleet.resources),
    )


def _target(fleet: Fleet, item: Generated, name: str) -> str | Diagnostic:
    """The folder a generated object goes to: the host's, or the member's it names."""
    data = item.data
    origin = item.origin
    what = f"{data.get('kind')} {data.get('metadata', {}).get('name')!r}"
    if is_kurator_group(split_api_version(str(data.get("apiVersion", "")))[0]):
        return Diagnostic.error(
            f"{name} would write Kurator's own {what} into a cluster folder; Kurator's custom "
            "resources are never output",
            origin.locate(""),
        )
    if item.cluster == HOST:
        if fleet.host is None:
            return Diagnostic.error(
                f"{origin.data.get('kind')} {origin.data.get('metadata', {}).get('name')!r} "
                f"makes {what} in Kurator's management cluster, and the Fleet names none: add "
                "`spec.host: {name: kurator-host}` to the compile.kurator.dev Fleet",
                origin.locate(""),
            )
        return fleet.host.name
    if fleet.cluster(item.cluster) is None:
        return Diagnostic.error(
            f"{name} makes {what} for cluster {item.cluster!r}, which the fleet does not have",
            origin.locate(""),
        )
    return item.cluster


def _pin(fleet: Fleet, name: str, made: list[tuple[str, Generated]]) -> ResourcePlacement:
    """One object Kurator writes into one or more clusters (the same kind, namespace and name
    in each): one placement over all of them, with each cluster's own copy when they differ."""
    first = made[0][1]
    origin = first.origin
    targets = [target for target, _ in made]
    host = fleet.host.name if fleet.host is not None else None
    members = [t for t in targets if t != host]
    places = ["the host (Kurator's management cluster)"] if host in targets else []
    if members:
        places.append(("members " if len(members) > 1 else "member ") + ", ".join(members))
    where = " and ".join(places)
    loc = origin.locate("")
    explanation = (
        f"placement: made by Kurator's {name} from {origin.data.get('kind')} "
        f"{origin.data.get('metadata', {}).get('name')} ({loc.file}:{loc.line}) on {where}",
        f"result: {', '.join(targets)}",
    )
    resource = generated_resource(origin, first.data)
    if any(item.data != first.data for _, item in made[1:]):
        resource = replace(resource, copies=MappingProxyType({t: i.data for t, i in made}))
    replicas: dict[str, int | None] = dict.fromkeys(targets)
    return ResourcePlacement(resource, None, MappingProxyType(replicas), explanation)


def _object_key(data: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    return (
        str(data.get("apiVersion", "")),
        str(data.get("kind", "")),
        str(meta.get("namespace") or ""),
        str(meta.get("name", "")),
    )


def kurator_kind(name: str, compile_kind: KuratorCompile, *kinds: tuple[str, str]) -> StackKind:
    """The table entry for one Kurator module; `kinds` are the (group, kind) it compiles."""

    def before(fleet: Fleet) -> Expansion:
        inputs = kurator_inputs(fleet)
        generated, diagnostics = compile_kind(inputs)
        expansion = Expansion(diagnostics=list(diagnostics), read=list(inputs.read))
        # The same object made for several members is one object placed on all of them.
        by_key: dict[tuple[str, str, str, str], list[tuple[str, Generated]]] = {}
        for item in generated:
            target = _target(fleet, item, name)
            if isinstance(target, Diagnostic):
                expansion.diagnostics.append(target)
            else:
                by_key.setdefault(_object_key(item.data), []).append((target, item))
        for made in by_key.values():
            if len({target for target, _ in made}) == len(made):
                expansion.pinned.append(_pin(fleet, name, made))
            else:  # made twice for one cluster: the duplicate check names both
                expansion.pinned.extend(_pin(fleet, name, [one]) for one in made)
        return expansion

    return StackKind(name, kinds=tuple(kinds), before=before, writes_host=True)


def kurator_documents(fleet: Fleet) -> list[Document]:
    """Kurator's own input documents (groups `*.kurator.dev`), which no folder receives."""
    return [
        doc
        for docs in fleet.extensions.values()
        for doc in docs
        if is_kurator_group(split_api_version(str(doc.data.get("apiVersion", "")))[0])
    ]


def explain_document(
    fleet: Fleet, placements: Sequence[ResourcePlacement], doc: Document
) -> list[str]:
    """`plan --explain` for one of Kurator's documents: an Application's member choice per
    sync policy, a Fleet's members, then every object Kurator makes from it and where."""
    inputs = kurator_inputs(fleet)
    group = split_api_version(str(doc.data.get("apiVersion", "")))[0]
    kind = str(doc.data.get("kind", ""))
    lines: list[str] = []
    if (group, kind) == (APPLICATION_GROUP, APPLICATION_KIND):
        only = replace(inputs, documents={**inputs.documents, APPLICATION_KIND: (doc,)})
        lines.extend(explain_application(only))
    elif (group, kind) == (FLEET_GROUP, "Fleet"):
        for member_fleet in inputs.fleets:
            if member_fleet.document is doc:
                for member in member_fleet.members:
                    lines.append(
                        f"member {member.name} ({member.kind}, labels "
                        f"{_labels(member.labels)}): reached through Secret "
                        f"{member.namespace}/{member.secret_name} key {member.secret_key}"
                    )
    made = [
        p
        for p in placements
        if p.resource.document.file == doc.file and p.resource.document.index == doc.index
    ]
    if not made:
        lines.append("Kurator makes no object from it here")
        return lines
    lines.append("Kurator makes from it:")
    for placement in made:
        clusters = ", ".join(sorted(placement.replicas))
        lines.append(f"  {placement.resource.key} -> {clusters}")
    return lines


def _labels(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels)) or "none"

"""Kurator's own kinds in the stack table: a pure `compile_<kind>(inputs)` module becomes a
`StackKind` whose objects are pinned to the host's folder or to the member they name."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from ..errors import Diagnostic
from ..kinds import is_kurator_group, split_api_version
from ..kurator.inventory import HOST, Generated, KuratorInputs
from ..model import Fleet
from ..placement import ResourcePlacement
from ..yamldoc import Document
from .kind import Expansion, StackKind, generated_resource

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


def _pin(fleet: Fleet, item: Generated, name: str) -> ResourcePlacement | Diagnostic:
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
        target, where = fleet.host.name, "the host (Kurator's management cluster)"
    elif fleet.cluster(item.cluster) is None:
        return Diagnostic.error(
            f"{name} makes {what} for cluster {item.cluster!r}, which the fleet does not have",
            origin.locate(""),
        )
    else:
        target, where = item.cluster, f"member {item.cluster}"
    loc = origin.locate("")
    explanation = (
        f"placement: made by Kurator's {name} from {origin.data.get('kind')} "
        f"{origin.data.get('metadata', {}).get('name')} ({loc.file}:{loc.line}) on {where}",
        f"result: {target}",
    )
    resource = generated_resource(origin, data)
    return ResourcePlacement(resource, None, MappingProxyType({target: None}), explanation)


def kurator_kind(name: str, compile_kind: KuratorCompile, *kinds: tuple[str, str]) -> StackKind:
    """The table entry for one Kurator module; `kinds` are the (group, kind) it compiles."""

    def before(fleet: Fleet) -> Expansion:
        generated, diagnostics = compile_kind(kurator_inputs(fleet))
        expansion = Expansion(diagnostics=list(diagnostics))
        for item in generated:
            pinned = _pin(fleet, item, name)
            if isinstance(pinned, Diagnostic):
                expansion.diagnostics.append(pinned)
            else:
                expansion.pinned.append(pinned)
        return expansion

    return StackKind(name, kinds=tuple(kinds), before=before, writes_host=True)

"""The one interface every stack kind module implements, so the pipeline calls a table of
kinds instead of naming each module at each stage."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic
from ..model import Cluster, Fleet, Resource
from ..placement import ResourcePlacement
from ..yamldoc import Document


@dataclass
class Expansion:
    resources: list[Resource] = field(default_factory=list)  # placed by propagation policies
    pinned: list[ResourcePlacement] = field(default_factory=list)  # placed by the stack
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Input objects a kind reads as Kurator reads them from a cluster: references, not placed.
    read: list[Document] = field(default_factory=list)


Placements = Sequence[ResourcePlacement]
PlacementStep = Callable[[Fleet, Placements], tuple[list[ResourcePlacement], list[Diagnostic]]]
# One cluster's name and its objects as written there, each with the input it came from.
ClusterCheck = Callable[[str, Sequence[tuple[dict[str, Any], Resource]]], list[Diagnostic]]
PerCluster = Callable[[dict[str, Any], Cluster, str, Resource], dict[str, Any]]


@dataclass(frozen=True)
class StackKind:
    """A stack kind module's hooks, each optional, run in table order at its pipeline stage.

    - `before`: objects added before placement (policy-placed, or pinned to clusters).
    - `adjust`: replaces placements whose rules differ from Karmada's.
    - `after`: objects whose clusters depend on where everything else landed; every `after`
      hook sees the placements as they were before any `after` hook ran.
    - `follow`: places objects no policy selected beside the workloads they serve.
    - `varies`/`per_cluster`: objects whose copies differ per cluster, and the change.
    - `check`: warnings about placements that are valid but will misbehave, and advice.
    - `check_cluster`: given the placements, a check of one cluster's objects as emitted
      (after overlays and overrides); a message names the cluster it is given.
    """

    name: str
    # (group, kind) of the input documents this module compiles (read from fleet.extensions).
    kinds: tuple[tuple[str, str], ...] = ()
    before: Callable[[Fleet], Expansion] | None = None
    adjust: PlacementStep | None = None
    after: PlacementStep | None = None
    follow: Callable[[Placements], list[ResourcePlacement]] | None = None
    varies: Callable[[Resource], bool] | None = None
    per_cluster: PerCluster | None = None
    check: Callable[[Placements], list[Diagnostic]] | None = None
    check_cluster: Callable[[Placements], ClusterCheck] | None = None
    writes_host: bool = False  # may pin objects to Kurator's own (host) cluster


def generated_resource(origin: Document, data: dict[str, Any]) -> Resource:
    """An object the stack makes: messages about it point at the document it comes from."""
    positions = {"": origin.positions.get("", (1, 1))}
    return Resource(Document(origin.file, origin.index, data, positions))

"""Kurator inputs for tests, built by hand from upstream example files (tests/kurator/upstream)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kurator_compile.fields import as_dict, as_list
from kurator_compile.kurator.inventory import KuratorFleet, KuratorInputs, Member
from kurator_compile.yamldoc import Document, load_stream

UPSTREAM = Path(__file__).parent / "upstream"
EXAMPLES = UPSTREAM / "examples"
COMMON = EXAMPLES / "application" / "common"


def load(path: Path) -> list[Document]:
    return load_stream(path.read_text("utf-8"), path.relative_to(UPSTREAM).as_posix())


def load_text(text: str, name: str = "app.yaml") -> list[Document]:
    return load_stream(text, name)


def member_of(doc: Document, labels: dict[str, str] | None = None) -> Member:
    """An AttachedCluster as Kurator's fleet manager reads it: kubeconfig Secret and labels."""
    meta = as_dict(doc.data.get("metadata"))
    kubeconfig = as_dict(as_dict(doc.data.get("spec")).get("kubeconfig"))
    return Member(
        name=meta["name"],
        kind=doc.data["kind"],
        namespace=meta.get("namespace", "default"),
        labels=labels if labels is not None else dict(as_dict(meta.get("labels"))),
        secret_name=kubeconfig.get("name", ""),
        secret_key=kubeconfig.get("key") or "value",
    )


def fleet_of(doc: Document, members: Iterable[Member]) -> KuratorFleet:
    by_name = {m.name: m for m in members}
    meta = doc.data["metadata"]
    listed = [as_dict(c) for c in as_list(as_dict(doc.data.get("spec")).get("clusters"))]
    return KuratorFleet(
        name=meta["name"],
        namespace=meta.get("namespace", "default"),
        members=tuple(by_name[c["name"]] for c in listed if c.get("name") in by_name),
        document=doc,
    )


def quickstart(labels: dict[str, dict[str, str]] | None = None) -> KuratorFleet:
    """examples/application/common: fleet `quickstart` with kurator-member1 and -member2."""
    given = labels or {}
    members = [
        member_of(d, given.get(d.data["metadata"]["name"]))
        for d in load(COMMON / "attachedcluster.yaml")
    ]
    return fleet_of(load(COMMON / "fleet.yaml")[0], members)


def inputs(
    apps: Iterable[Document],
    fleets: Iterable[KuratorFleet] = (),
    resources: Iterable[Document] = (),
) -> KuratorInputs:
    return KuratorInputs(
        fleets=tuple(fleets), documents={"Application": tuple(apps)}, resources=tuple(resources)
    )


def by_kind(objects: Iterable[Any], kind: str) -> list[Any]:
    return [o for o in objects if o.data["kind"] == kind]

"""Building Kurator inputs from YAML text or upstream copies, for the Kurator module tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from kurator_compile.errors import Diagnostic
from kurator_compile.kurator.inventory import KuratorFleet, KuratorInputs, Member
from kurator_compile.yamldoc import Document, load_stream

UPSTREAM = Path(__file__).parent / "upstream"


def documents(text: str, file: str = "inline.yaml") -> list[Document]:
    return load_stream(text, file)


def upstream_documents(*relative: str) -> list[Document]:
    found: list[Document] = []
    for path in relative:
        found.extend(load_stream((UPSTREAM / path).read_text(), f"upstream/{path}"))
    return found


def upstream_data(relative: str) -> list[Any]:
    """Golden files, parsed as plain data (one entry per YAML document)."""
    return [d for d in YAML(typ="safe").load_all((UPSTREAM / relative).read_text()) if d]


def fleet(
    name: str = "quickstart",
    namespace: str = "default",
    members: Iterable[tuple[str, str]] = (
        ("kurator-member1", "AttachedCluster"),
        ("kurator-member2", "AttachedCluster"),
    ),
) -> KuratorFleet:
    return KuratorFleet(
        name, namespace, tuple(Member(n, k, namespace, secret_name=n) for n, k in members)
    )


def inputs(docs: Iterable[Document], *fleets: KuratorFleet) -> KuratorInputs:
    by_kind: dict[str, list[Document]] = {}
    for doc in docs:
        by_kind.setdefault(doc.data["kind"], []).append(doc)
    return KuratorInputs(
        fleets=fleets or (fleet(),),
        documents={kind: tuple(found) for kind, found in by_kind.items()},
    )


def errors(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.is_error]


def warnings(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if not d.is_error]

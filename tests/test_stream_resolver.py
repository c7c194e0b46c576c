"""The stream-wide resolver table gives exactly what ruamel's per-scalar lookup gives."""

from __future__ import annotations

from typing import Any

import pytest
from ruamel.yaml import YAML

from kurator_compile import yamldoc

from .conftest import REPO

FILES = sorted(
    path
    for folder in ("fleets", "apps", "overlays", "tests", "deploy", "examples")
    for path in (REPO / folder).rglob("*.yaml")
)
SCALARS = """\
%YAML 1.1
---
plain: [yes, no, on, off, ~, null, Null, 010, 0o10, 0x1F, 1_000, 1e3, .5, .inf, -.Inf, .NaN]
dates: [2001-12-14, 2001-12-14t21:59:43.10-05:00]
quoted: ["yes", 'no', "010"]
---
again: [yes, 010, 1_000, 0b101]
"""


def _composed(text: str, resolver: type[Any] | None) -> list[Any]:
    yaml = YAML(typ="safe", pure=False)
    if resolver is not None:
        yaml.Resolver = resolver
    found = []
    for node in yaml.compose_all(text):
        builder = yamldoc._Builder("f")
        data = builder.build(node, "") if node is not None else None
        found.append((data, builder.positions, [e.message for e in builder.errors]))
    return found


def _outcome(text: str, resolver: type[Any] | None) -> object:
    try:
        return _composed(text, resolver)
    except Exception as error:  # broken corpus files must fail alike
        return type(error).__name__


def test_the_c_parser_is_in_use() -> None:
    assert YAML(typ="safe", pure=False).Parser.__name__ == "CParser"


@pytest.mark.parametrize("text", [SCALARS], ids=["scalars"])
def test_implicit_tags_are_unchanged(text: str) -> None:
    assert _outcome(text, yamldoc._StreamResolver) == _outcome(text, None)


def test_repository_files_compose_alike() -> None:
    assert len(FILES) > 500
    differ = [
        str(path.relative_to(REPO))
        for path in FILES
        if _outcome(path.read_text("utf-8", errors="replace"), yamldoc._StreamResolver)
        != _outcome(path.read_text("utf-8", errors="replace"), None)
    ]
    assert differ == []

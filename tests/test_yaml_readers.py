"""The C parser and ruamel's pure parser (the fallback for documents libyaml refuses) type
every scalar alike, as kubectl's reader does, at the same positions."""

from __future__ import annotations

import json
from typing import Any

from kurator_compile import yamldoc
from kurator_compile.errors import CompileError

from .conftest import REPO

FILES = sorted(
    path
    for folder in ("fleets", "apps", "overlays", "tests", "deploy", "examples")
    for path in (REPO / folder).rglob("*.yaml")
)


def _outcome(text: str, *, pure: bool) -> object:
    try:
        documents = yamldoc._compose(yamldoc._reader(pure=pure), text, "f")
    except CompileError as error:
        return [d.render() for d in error.diagnostics]
    except Exception as error:  # broken corpus files must fail alike
        return type(error).__name__
    found: list[Any] = []
    for doc in documents:
        found.append((json.dumps(doc.data, sort_keys=True), dict(doc.positions)))
    return found


def test_the_c_parser_is_in_use() -> None:
    assert yamldoc._reader(pure=False).Parser.__name__ == "CParser"


def test_repository_files_read_alike() -> None:
    assert len(FILES) > 500
    differ = []
    for path in FILES:
        text = path.read_text("utf-8", errors="replace")
        c_read = _outcome(text, pure=False)
        if isinstance(c_read, str):
            continue  # libyaml refuses it: the pure parser is tried, not compared
        pure_read = _outcome(text, pure=True)
        if pure_read == "RecursionError":
            continue  # the pure parser composes recursively; the C parser reaches the bound
        if c_read != pure_read:
            differ.append(str(path.relative_to(REPO)))
    assert differ == []

"""The C parser and ruamel's pure parser (the fallback for documents libyaml refuses) type
every scalar alike, as kubectl's reader does, at the same positions."""

from __future__ import annotations

import json
from typing import Any

from kurator_compile import yamldoc
from kurator_compile.errors import CompileError

from .conftest import REPO

# Every YAML file the project ships or its tests read, the package's own and dotfiles included;
# not those of hidden folders (.git, .venv).
FILES = sorted(
    path
    for pattern in ("*.yaml", "*.yml")
    for path in REPO.rglob(pattern)
    if not any(part.startswith(".") for part in path.relative_to(REPO).parts[:-1])
)
CASES = REPO / "tests" / "overlay" / "cases"


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
    assert len(FILES) > 1000
    assert REPO / ".pre-commit-hooks.yaml" in FILES
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


def test_overlay_case_texts_read_alike() -> None:
    """The bases and patches the overlay cases hold as text, which the loader reads too."""
    texts = []
    for path in sorted(CASES.glob("*.yaml")):
        (case,) = yamldoc.load_stream(path.read_text("utf-8"), str(path))
        texts += [
            case.data[key] for key in ("base", "patch") if isinstance(case.data.get(key), str)
        ]
    assert len(texts) > 50
    differ = [text for text in texts if _outcome(text, pure=False) != _outcome(text, pure=True)]
    assert differ == []


def test_the_libyaml_loader_class_is_built_once_for_many_streams() -> None:
    """ruamel builds a loader class per stream; a fleet reads thousands of small files."""
    for index in range(50):
        docs = yamldoc.load_stream(f"a: {index}\n---\nb: [{index}]\n", f"f{index}.yaml")
        assert [d.data for d in docs] == [{"a": index}, {"b": [index]}]
    assert len(yamldoc._C_LOADERS) <= 1

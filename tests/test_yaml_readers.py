"""The C parser and ruamel's pure parser (the fallback for documents libyaml refuses) type
every scalar alike, as kubectl's reader does, at the same positions."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

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


def _built(text: str, *, positions: bool) -> object:
    """Every document's value or errors, as the positioned builder makes them (the reference)
    or as the loader does: _Values first, the positioned builder for any problem."""
    yaml = yamldoc._reader(pure=False)
    nonspecific = yamldoc._nonspecific(yaml, text)
    found: list[Any] = []
    for node in yaml.compose_all(text):
        if node is None:
            continue
        try:
            if positions:
                raise yamldoc._Retry
            data = yamldoc._Values(nonspecific, yamldoc.may_alias(text)).build(node)
        except (yamldoc._Retry, yamldoc.ScalarError):
            builder = yamldoc._Builder("f", nonspecific)
            data = builder.build(node, "")
            if builder.errors:
                found.append([d.render() for d in builder.errors])
                continue
        found.append(json.dumps(data, sort_keys=True))
    return found


def test_values_are_built_alike_with_and_without_positions() -> None:
    """The loader builds values without recording positions (_Values) and falls back to the
    positioned builder for any problem: both give the same values and the same errors."""
    checked = 0
    for path in FILES:
        text = path.read_text("utf-8", errors="replace")
        try:
            reference = _built(text, positions=True)
        except Exception:
            continue
        assert _built(text, positions=False) == reference, path
        checked += 1
    assert checked > 1000


def test_positions_are_found_only_when_a_location_is_read(monkeypatch: Any) -> None:
    composed: list[str] = []
    located = yamldoc._located

    def counting(yaml: Any, text: str, file: str) -> Any:
        composed.append(file)
        return located(yaml, text, file)

    monkeypatch.setattr(yamldoc, "_located", counting)
    text = "a: 1\n---\nb:\n  - c: 2\n    d: [3, 4]\n"
    first, second = yamldoc.load_stream(text, "two.yaml")
    where = second.locate("/b/0/d/1")
    assert (where.file, where.pointer) == ("two.yaml", "/b/0/d/1")
    assert first.locate("").line == 1
    assert second.locate().line == 3
    assert composed == []
    assert (where.line, where.column) == (5, 12)
    assert first.locate("/a").column == 1
    assert second.locate("/b/0/c").line == 4
    assert second.locate("/b/9/x") == yamldoc.SourceLocation("two.yaml", 3, 1, "/b/9/x")
    assert composed == ["two.yaml"]  # once per stream, for every document of it


def test_a_location_found_later_equals_one_known_at_once() -> None:
    """Diagnostics are sorted, compared, hashed and pickled by their locations: one whose line
    is looked up later behaves as the same location written out."""
    (doc,) = yamldoc.load_stream("a:\n  b: [1, 2]\n", "f.yaml")
    later, known = doc.locate("/a/b/1"), yamldoc.SourceLocation("f.yaml", 2, 10, "/a/b/1")
    assert later == known
    assert hash(later) == hash(known)
    assert repr(later) == "SourceLocation(file='f.yaml', line=2, column=10, pointer='/a/b/1')"
    assert sorted([doc.locate("/a/b/1"), doc.locate("/a"), known]) == [
        yamldoc.SourceLocation("f.yaml", 1, 1, "/a"),
        known,
        known,
    ]
    assert doc.locate("/a/b").child("/a/b/x") == yamldoc.SourceLocation("f.yaml", 2, 3, "/a/b/x")
    assert pickle.loads(pickle.dumps(doc.locate("/a/b/0"))) == doc.locate("/a/b/0")
    with pytest.raises(AttributeError):
        known.line = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "alias"),
    [
        ("a: *b", True),
        ("[*a, *a]", True),
        ('{"a":*b}', True),
        ("{a: 1,*b: 2}", True),
        ("*a", True),
        ("\ufeff*a", True),
        ("a:\n- *x", True),
        ("a:\n\t*x", True),
        ("? *a\n: 1", True),
        ("resources:\n  - ../apps/*.yaml", False),
        ('x: "*"', False),
        ("k: a*b", False),
        ("schedule: 0 * * * *", True),  # looks like one: nodes are remembered, as before
    ],
)
def test_a_stream_that_may_hold_an_alias_is_told_apart(text: str, alias: bool) -> None:
    """Only a stream that cannot hold an alias is built without remembering its nodes, the
    bound on alias expansion (MAX_ALIAS_EXPANSION) needing them."""
    assert yamldoc.may_alias(text) is alias


def test_the_libyaml_loader_class_is_built_once_for_many_streams() -> None:
    """ruamel builds a loader class per stream; a fleet reads thousands of small files."""
    for index in range(50):
        docs = yamldoc.load_stream(f"a: {index}\n---\nb: [{index}]\n", f"f{index}.yaml")
        assert [d.data for d in docs] == [{"a": index}, {"b": [index]}]
    assert len(yamldoc._C_LOADERS) <= 1

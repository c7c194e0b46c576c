"""JSON patch: RFC 6902 appendix A, then what json-patch v5 (Karmada) and v4 (kustomize) add."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kurator_compile.overlay import PatchError, json_patch
from kurator_compile.overlay.jsonpatch import decode_pointer, escape_pointer, json_equal

# RFC 6902 appendix A: (section, document, patch, result or None for an error).
APPENDIX_A: list[tuple[str, Any, list[dict[str, Any]], Any]] = [
    (
        "A.1",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux"}],
        {"baz": "qux", "foo": "bar"},
    ),
    (
        "A.2",
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ("A.3", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    (
        "A.4",
        {"foo": ["bar", "qux", "baz"]},
        [{"op": "remove", "path": "/foo/1"}],
        {"foo": ["bar", "baz"]},
    ),
    (
        "A.5",
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        "A.6",
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        "A.7",
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        "A.8",
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    ("A.9", {"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], None),
    (
        "A.10",
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        "A.11",
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    ("A.12", {"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], None),
    ("A.14", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ("A.15", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], None),
    (
        "A.16",
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
]


@pytest.mark.parametrize("dialect", ["karmada", "kustomize"])
@pytest.mark.parametrize(
    ("section", "doc", "ops", "expected"), APPENDIX_A, ids=[a[0] for a in APPENDIX_A]
)
def test_rfc6902_appendix_a(
    dialect: Any, section: str, doc: Any, ops: list[dict[str, Any]], expected: Any
) -> None:
    before = copy.deepcopy(doc)
    if expected is None:
        with pytest.raises(PatchError):
            json_patch(doc, ops, dialect=dialect)
    else:
        assert json_patch(doc, ops, dialect=dialect) == expected
    assert doc == before, "the input document must not change"


def test_error_names_the_operation_and_pointer() -> None:
    ops = [{"op": "add", "path": "/a", "value": 1}, {"op": "remove", "path": "/missing"}]
    with pytest.raises(PatchError) as caught:
        json_patch({}, ops)
    assert caught.value.op_index == 1
    assert caught.value.pointer == "/missing"


def test_only_the_changed_path_is_copied() -> None:
    doc = {"a": {"x": 1}, "b": {"y": [1, 2]}}
    result = json_patch(doc, [{"op": "add", "path": "/b/y/-", "value": 3}])
    assert result["a"] is doc["a"]
    assert result["b"] is not doc["b"]
    assert doc["b"]["y"] == [1, 2]


@pytest.mark.parametrize(
    ("ops", "karmada", "kustomize"),
    [
        # json-patch v4 lets replace add a missing key; v5 refuses.
        ([{"op": "replace", "path": "/new", "value": 1}], None, {"a": 1, "new": 1}),
        # v4 copies a missing key as null.
        ([{"op": "copy", "from": "/nope", "path": "/b"}], None, {"a": 1, "b": None}),
        # Both test a missing key as null.
        ([{"op": "test", "path": "/nope", "value": None}], {"a": 1}, {"a": 1}),
        # v5 refuses a patch with an unknown operation before running any; v4 when it gets there.
        ([{"op": "frob", "path": "/a"}], None, None),
        # v5 requires a value for add; v4 adds null.
        ([{"op": "add", "path": "/b"}], None, {"a": 1, "b": None}),
        # v5 may replace the whole document with add; v4 has no parent for it.
        ([{"op": "add", "path": "", "value": {"z": 1}}], {"z": 1}, None),
        ([{"op": "replace", "path": "", "value": {"z": 1}}], {"z": 1}, {"z": 1}),
        # v4 ignores a whole-document replace by a scalar (it wraps a nil error).
        ([{"op": "replace", "path": "", "value": 5}], None, {"a": 1}),
        ([{"op": "remove", "path": "/nope"}], None, None),
        ([{"op": "move", "from": "/nope", "path": "/b"}], None, None),
        # The first segment is ignored rather than required to be empty.
        ([{"op": "add", "path": "x/b", "value": 2}], {"a": 1, "b": 2}, {"a": 1, "b": 2}),
        # Numbers compare by value, booleans never equal numbers.
        ([{"op": "test", "path": "/a", "value": 1.0}], {"a": 1}, {"a": 1}),
        ([{"op": "test", "path": "/a", "value": True}], None, None),
    ],
)
def test_dialects(ops: list[dict[str, Any]], karmada: Any, kustomize: Any) -> None:
    for dialect, expected in (("karmada", karmada), ("kustomize", kustomize)):
        if expected is None:
            with pytest.raises(PatchError):
                json_patch({"a": 1}, ops, dialect=dialect)  # type: ignore[arg-type]
        else:
            assert json_patch({"a": 1}, ops, dialect=dialect) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([{"op": "add", "path": "/l/-1", "value": 9}], [1, 2, 3, 9]),
        ([{"op": "add", "path": "/l/-4", "value": 9}], [9, 1, 2, 3]),
        ([{"op": "replace", "path": "/l/-1", "value": 9}], [1, 2, 9]),
        ([{"op": "remove", "path": "/l/-3"}], [2, 3]),
        ([{"op": "add", "path": "/l/3", "value": 9}], [1, 2, 3, 9]),
        ([{"op": "add", "path": "/l/01", "value": 9}], [1, 9, 2, 3]),
        ([{"op": "replace", "path": "/l/+1", "value": 9}], [1, 9, 3]),
        ([{"op": "add", "path": "/l/4", "value": 9}], None),
        ([{"op": "remove", "path": "/l/3"}], None),
        ([{"op": "remove", "path": "/l/-"}], None),
        ([{"op": "replace", "path": "/l/x", "value": 9}], None),
        ([{"op": "add", "path": "/l/-5", "value": 9}], None),
    ],
)
def test_array_indices(ops: list[dict[str, Any]], expected: Any) -> None:
    doc = {"l": [1, 2, 3]}
    if expected is None:
        with pytest.raises(PatchError):
            json_patch(doc, ops)
    else:
        assert json_patch(doc, ops) == {"l": expected}


def test_copy_from_root_copies_the_original_document() -> None:
    ops = [{"op": "add", "path": "/b", "value": 2}, {"op": "copy", "from": "", "path": "/c"}]
    assert json_patch({"a": 1}, ops) == {"a": 1, "b": 2, "c": {"a": 1}}


def test_traversal_through_a_scalar_or_null_fails() -> None:
    for path in ("/a/x", "/n/x"):
        with pytest.raises(PatchError, match="missing path"):
            json_patch({"a": 1, "n": None}, [{"op": "add", "path": path, "value": 1}])


def test_not_a_list_of_operations() -> None:
    with pytest.raises(PatchError):
        json_patch({}, {"op": "add"})  # type: ignore[arg-type]
    with pytest.raises(PatchError):
        json_patch("x", [])


@pytest.mark.parametrize(
    ("token", "decoded"), [("a~1b", "a/b"), ("a~0b", "a~b"), ("~01", "~1"), ("~2", "~2")]
)
def test_pointer_escaping(token: str, decoded: str) -> None:
    assert decode_pointer(token) == decoded
    if "~2" not in token:
        assert escape_pointer(decoded) == token


def test_json_equal() -> None:
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(1, True)
    assert not json_equal("1", 1)
    assert not json_equal({"a": 1}, {"a": 1, "b": None})
    assert json_equal(None, None)
    # also what JSON Schema's `enum` and `const` compare with (kurator_compile.schemacheck)
    assert json_equal(1, 1.0)
    assert not json_equal([0], [False])
    assert not json_equal({"a": 1}, {"a": True})
    assert json_equal({"a": [1, "x"]}, {"a": [1.0, "x"]})

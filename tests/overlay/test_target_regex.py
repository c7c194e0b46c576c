"""Patch-target patterns run in linear time (RE2's guarantee) with `re`'s answers, and the
constructs RE2 lacks are refused; JSON patches cannot grow an object without bound."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kurator_compile.overlay import PatchError, json_patch
from kurator_compile.overlay.jsonpatch import MAX_PATCHED_NODES
from kurator_compile.overlay.regex import PatternError, compile_pattern
from kurator_compile.overlay.target import TargetError, compile_target

# Answers as Go's regexp (RE2) gives them for kustomize's `^(?:pattern)$`; the corpus cases
# tests/overlay/cases/target-regex-*.yaml hold the same questions answered by `kubectl kustomize`.
RE2_ANSWERS = [
    ("[[:alpha:]]+", "abc", True),  # POSIX classes, which Python's re lacks
    ("[[:alpha:]]+", "x1", False),
    ("a{,3}", "aa", False),  # `{,3}` is literal in RE2 (Python's re reads {0,3})
    ("a{,3}", "a{,3}", True),
    ("web$", "web\n", False),  # `$` is the end of the text, not before a final newline
    ("\\Aweb\\z", "web", True),
    ("(?i)web", "WEB", True),
    ("\\pL+", "é", True),
    ("\\w+", "é", False),  # RE2's \w is ASCII only
    ("(?P<n>web)", "web", True),
    ("", "", True),
    ("web|api", "api", True),
]


@pytest.mark.parametrize(("pattern", "subject", "matches"), RE2_ANSWERS)
def test_answers_are_those_of_re2(pattern: str, subject: str, matches: bool) -> None:
    assert compile_pattern(pattern).fullmatch(subject) is matches


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("(a+)+", "a" * 5000 + "b", False),
        ("(a*)*b", "a" * 5000, False),
        ("(a|aa)+", "a" * 5000 + "b", False),
        (".*.*.*.*.*.*x", "a" * 2000, False),
        ("(x+x+)+y", "x" * 3000, False),
        ("(a?){30}a{30}", "a" * 30, True),
    ],
)
def test_catastrophic_patterns_run_in_linear_time(
    pattern: str, subject: str, matches: bool
) -> None:
    """RE2 never backtracks: these answer at once where Python's re would run for hours."""
    assert compile_pattern(pattern).fullmatch(subject) is matches


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(a)\\1", "invalid escape sequence: \\1"),
        ("(?P<x>a)(?P=x)", "invalid perl operator: (?P"),
        ("web(?=x)", "invalid perl operator: (?="),
        ("web(?!x)", "invalid perl operator: (?!"),
        ("(?<=x)web", "invalid perl operator: (?<"),
        ("(?>web)", "invalid perl operator: (?>"),
        ("a*+", "bad repetition operator: *+"),
        ("a{1001}", "invalid repetition size: {1001}"),
        ("(a{1000}){1000}", "invalid repetition size"),
        ("([", "missing ]: ["),
        ("a**", "bad repetition operator: **"),
    ],
)
def test_what_re2_lacks_is_refused(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=re.escape(message)) as error:
        compile_pattern(pattern)
    assert str(error.value).startswith("RE2 (kustomize's regular expressions) refuses it: ")


@pytest.mark.parametrize(
    ("target", "field", "message"),
    [
        ({"name": "(["}, "name", "invalid name pattern '([' in patch target: RE2"),
        ({"kind": "(?=D)Deployment"}, "kind", "invalid kind pattern"),
        ({"namespace": "(a)\\1"}, "namespace", "RE2"),
        (
            {"labelSelector": "app in (web"},
            "labelSelector",
            "patch target labelSelector: invalid selector 'app in (web'",
        ),
        ({"annotationSelector": "a b"}, "annotationSelector", "patch target annotationSelector"),
        ({"bogus": "x", "name": "web"}, "bogus", "unknown field(s) in patch target: bogus"),
    ],
)
def test_invalid_targets_name_the_field(target: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(TargetError, match=re.escape(message)) as error:
        compile_target(target)
    assert error.value.field == field


def test_a_compiled_target_matches_like_target_matches() -> None:
    target = compile_target({"kind": "Deploy.*", "name": "(a+)+", "labelSelector": "app=web"})
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "a" * 40, "labels": {"app": "web"}},
    }
    assert target.matches(obj)
    assert not target.matches({**obj, "metadata": {**obj["metadata"], "name": "a" * 40 + "b"}})


# --------------------------------------------------------------------------- JSON patch size


def test_a_json_patch_that_copies_a_subtree_into_itself_is_refused() -> None:
    ops = [{"op": "copy", "from": "/spec", "path": f"/spec/c{i}"} for i in range(40)]
    with pytest.raises(PatchError, match="the patched object is too large") as error:
        json_patch({"spec": {"a": [1, 2, 3]}}, ops, dialect="kustomize")
    assert error.value.op_index is not None
    assert error.value.op_index < 40


def test_json_patches_within_the_budget_apply() -> None:
    ops = [{"op": "copy", "from": "/spec", "path": f"/spec/c{i}"} for i in range(5)]
    patched = json_patch({"spec": {"a": 1}}, ops, dialect="kustomize")
    assert set(patched["spec"]) == {"a", "c0", "c1", "c2", "c3", "c4"}
    # moving a subtree back and forth does not grow the object
    big = {"spec": {"x": list(range(MAX_PATCHED_NODES // 4))}}
    moves = [{"op": "move", "from": "/spec/x", "path": "/spec/y"}] + [
        {"op": "move", "from": "/spec/y", "path": "/spec/x"},
        {"op": "move", "from": "/spec/x", "path": "/spec/y"},
    ] * 5
    assert len(json_patch(big, moves, dialect="kustomize")["spec"]["y"]) == MAX_PATCHED_NODES // 4


def test_an_object_already_too_large_cannot_be_json_patched() -> None:
    huge = {"items": list(range(MAX_PATCHED_NODES + 1))}
    with pytest.raises(PatchError, match="too large"):
        json_patch(huge, [{"op": "add", "path": "/x", "value": 1}], dialect="karmada")

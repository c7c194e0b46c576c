"""Patch-target patterns run in linear time (RE2's guarantee) with `re`'s answers, and the
constructs RE2 lacks are refused; JSON patches cannot grow an object without bound."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from kurator_compile.overlay import PatchError, json_patch
from kurator_compile.overlay.jsonpatch import MAX_PATCHED_NODES
from kurator_compile.overlay.regex import PatternError, compile_pattern
from kurator_compile.overlay.target import TargetError, compile_target

PATTERNS = [
    "web",
    "web|api",
    "web-.*",
    ".*",
    "",
    "[a-z]+-[0-9]{1,3}",
    "(?i:WEB)",
    "(?i:w)eb",
    "a{2,}",
    "a{0,2}b?",
    "(ab|a)*b",
    "[^-]+",
    "\\w+\\.\\d",
    "(?a:\\w)+",
    "x\\b",
    "\\Bx",
    "^web$",
    "\\Aweb\\Z",
    "(?s:.)+",
    "(?m:^)a",
    "a|",
    "(a)|(b)",
    "a)|(b",
    "[\\s\\S]",
    "[]a]+",
    "é+",
    "(?i:É)",
    "(?i:[k])",
    "a*?b+?",
]
SUBJECTS = [
    "",
    "web",
    "api",
    "WEB",
    "web-1",
    "aab",
    "ab",
    "b",
    "a.1",
    "x",
    "x ",
    "a\n",
    "K",
    "é",
    "É",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_answers_are_those_of_re(pattern: str) -> None:
    matcher = compile_pattern(pattern)
    python = re.compile(f"(?:{pattern})")
    for subject in SUBJECTS:
        assert matcher.fullmatch(subject) == (python.fullmatch(subject) is not None), subject


def test_random_patterns_agree_with_re() -> None:
    rnd = random.Random(20261127)
    atoms = ["a", "b", ".", "[ab]", "[^a]", "\\d", "\\w", "-", "(?i:A)", "\\b", "^", "$"]
    quantifiers = ["", "", "*", "+", "?", "{2}", "{1,3}", "*?"]
    for _ in range(400):
        parts = []
        for _ in range(rnd.randint(1, 4)):
            atom = rnd.choice(atoms)
            if rnd.random() < 0.2:
                atom = f"({atom}{rnd.choice(quantifiers)}|{rnd.choice(atoms)})"
            if atom not in ("\\b", "^", "$"):
                atom += rnd.choice(quantifiers)
            parts.append(atom)
        pattern = "".join(parts)
        try:
            python = re.compile(f"(?:{pattern})")
        except re.error:
            continue
        matcher = compile_pattern(pattern)
        for _ in range(10):
            subject = "".join(rnd.choice("abA1-") for _ in range(rnd.randint(0, 5)))
            assert matcher.fullmatch(subject) == (python.fullmatch(subject) is not None), (
                pattern,
                subject,
            )


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
    """Work is counted, not timed: at most one character test per state per character."""
    matcher = compile_pattern.__wrapped__(pattern)  # a fresh automaton, not the cached one
    tests = 0

    def counted(test: Callable[[str], bool]) -> Callable[[str], bool]:
        def run(ch: str) -> bool:
            nonlocal tests
            tests += 1
            return test(ch)

        return run

    matcher.args = [counted(a) if callable(a) else a for a in matcher.args]
    assert matcher.fullmatch(subject) is matches
    assert 0 < tests <= len(subject) * len(matcher.kinds)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(a)\\1", "uses a backreference, which RE2"),
        ("(?P<x>a)(?P=x)", "uses a backreference"),
        ("web(?=x)", "uses a lookahead assertion"),
        ("web(?!x)", "uses a lookahead assertion"),
        ("(?<=x)web", "uses a lookbehind assertion"),
        ("(?<!x)web", "uses a lookbehind assertion"),
        ("(?>web)", "uses an atomic group"),
        ("a*+", "uses a possessive quantifier"),
        ("(a)(?(1)b|c)", "uses a conditional group"),
        ("a{1001}", "repeats more than 1000 times"),
        ("(a{1000}){1000}", "too large"),
        ("([", "not a regular expression: unterminated character set at position 1"),
        ("a**", "not a regular expression: multiple repeat at position 2"),
    ],
)
def test_what_re2_lacks_is_refused(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=re.escape(message)):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    ("target", "field", "message"),
    [
        ({"name": "(["}, "name", "invalid name pattern '([' in patch target: not a regular"),
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

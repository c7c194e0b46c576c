"""Patch-target patterns matched in linear time, as kustomize's Go regexp (RE2) matches them.

Python's `re` backtracks: `(a+)+` against `aaaa...ab` runs for hours, and `.*.*.*.*x` for
minutes. kustomize compiles target patterns with Go's RE2, which never backtracks. Here a
pattern is read with Python's own regular-expression parser (so its syntax and character
semantics are exactly `re`'s, as before) and run as a Thompson NFA: the set of reachable
states advances one character at a time, so a match costs O(len(text) * states) whatever
the pattern.

Rule: a target pattern may not use what RE2 does not have (those need backtracking):
backreferences (`\\1`, `(?P=name)`), lookahead and lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`),
conditionals (`(?(1)a|b)`), atomic groups (`(?>...)`) and possessive quantifiers (`a*+`);
and, as in RE2, a repetition count may not exceed 1000. A pattern whose automaton would have
more than MAX_STATES states (counted repetitions are unrolled) is refused as too large, as
RE2 refuses an oversized program.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Final

__all__ = ["MAX_REPEAT_COUNT", "MAX_STATES", "Matcher", "PatternError", "compile_pattern"]

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

MAX_REPEAT_COUNT: Final = 1000  # RE2's limit on {n,m}
MAX_STATES: Final = 20_000

_RE2 = "RE2, the regular expression engine kustomize matches targets with,"

# state kinds
_CHAR: Final = 0  # consumes one character that passes a test
_SPLIT: Final = 1  # epsilon transitions to every state in `outs`
_ASSERT: Final = 2  # zero-width test of the position
_MATCH: Final = 3

_CATEGORIES: Final = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}
# Flags that change how one character or one position is tested.
_KEPT_FLAGS: Final = re.IGNORECASE | re.DOTALL | re.MULTILINE | re.ASCII | re.UNICODE


class PatternError(ValueError):
    """A pattern that is not a valid regular expression, or that RE2 could not run; the
    message says why, without repeating the pattern."""


def _char(code: int) -> str:
    return f"\\U{code:08x}"


def _flags(flags: int) -> int:
    kept = flags & _KEPT_FLAGS
    return kept & ~re.UNICODE if kept & re.ASCII else kept


@lru_cache(maxsize=4096)
def _tester(source: str, flags: int) -> Callable[[str], bool]:
    compiled = re.compile(source, flags)
    cache: dict[str, bool] = {}

    def test(ch: str) -> bool:
        found = cache.get(ch)
        if found is None:
            found = cache[ch] = compiled.fullmatch(ch) is not None
        return found

    return test


class _Builder:
    """A parsed pattern -> NFA states, built back to front (each piece gets its successor)."""

    def __init__(self) -> None:
        self.kinds: list[int] = []
        self.args: list[Any] = []
        self.outs: list[list[int]] = []

    def state(self, kind: int, arg: Any, outs: list[int]) -> int:
        if len(self.kinds) >= MAX_STATES:
            raise PatternError(
                f"too large: its automaton needs more than {MAX_STATES} states "
                "(lower the repetition counts)"
            )
        self.kinds.append(kind)
        self.args.append(arg)
        self.outs.append(outs)
        return len(self.kinds) - 1

    def refuse(self, what: str) -> PatternError:
        return PatternError(f"uses {what}, which {_RE2} does not support")

    def sequence(self, items: Sequence[tuple[Any, Any]], after: int, flags: int) -> int:
        for op, av in reversed(list(items)):
            after = self.item(op, av, after, flags)
        return after

    def item(self, op: Any, av: Any, after: int, flags: int) -> int:
        name = str(op)
        if name == "LITERAL":
            return self.char(_char(av), flags, after)
        if name == "NOT_LITERAL":
            return self.char(f"[^{_char(av)}]", flags, after)
        if name == "ANY":
            return self.char(".", flags, after)
        if name == "IN":
            return self.char(self.char_class(av), flags, after)
        if name == "BRANCH":
            starts = [self.sequence(branch, after, flags) for branch in av[1]]
            return self.state(_SPLIT, None, starts)
        if name == "SUBPATTERN":
            _group, add, remove, body = av
            return self.sequence(body, after, (flags | add) & ~remove)
        if name in ("MAX_REPEAT", "MIN_REPEAT"):
            return self.repeat(av, after, flags)
        if name == "AT":
            return self.state(_ASSERT, (str(av), _flags(flags)), [after])
        if name == "POSSESSIVE_REPEAT":
            raise self.refuse("a possessive quantifier")
        if name == "ATOMIC_GROUP":
            raise self.refuse("an atomic group (?>...)")
        if name in ("ASSERT", "ASSERT_NOT"):
            direction = "lookbehind" if av[0] < 0 else "lookahead"
            raise self.refuse(f"a {direction} assertion")
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            what = "a backreference" if name == "GROUPREF" else "a conditional group (?(...)"
            raise self.refuse(what)
        raise self.refuse(f"the construct {name}")

    def char(self, source: str, flags: int, after: int) -> int:
        return self.state(_CHAR, _tester(source, _flags(flags)), [after])

    def char_class(self, items: Sequence[tuple[Any, Any]]) -> str:
        parts: list[str] = []
        for op, av in items:
            name = str(op)
            if name == "NEGATE":
                parts.insert(0, "^")
            elif name == "LITERAL":
                parts.append(_char(av))
            elif name == "RANGE":
                parts.append(f"{_char(av[0])}-{_char(av[1])}")
            elif name == "CATEGORY" and str(av) in _CATEGORIES:
                parts.append(_CATEGORIES[str(av)])
            else:
                raise self.refuse(f"the character class item {name}")
        return f"[{''.join(parts)}]"

    def repeat(self, av: tuple[int, int, Any], after: int, flags: int) -> int:
        low, high, body = av
        unbounded = high == _c.MAXREPEAT
        if low > MAX_REPEAT_COUNT or (not unbounded and high > MAX_REPEAT_COUNT):
            raise PatternError(
                f"repeats more than {MAX_REPEAT_COUNT} times, the most {_RE2} allows"
            )
        if unbounded:
            loop = self.state(_SPLIT, None, [])
            start = self.sequence(body, loop, flags)
            self.outs[loop].extend((start, after))
            after = loop
        else:
            for _ in range(high - low):
                start = self.sequence(body, after, flags)
                after = self.state(_SPLIT, None, [start, after])
        for _ in range(low):
            after = self.sequence(body, after, flags)
        return after


class Matcher:
    """A compiled pattern; `fullmatch(text)` is what `re.fullmatch` would answer."""

    def __init__(self, builder: _Builder, start: int) -> None:
        self.kinds = builder.kinds
        self.args = builder.args
        self.outs = builder.outs
        self.start = start
        self._word: dict[int, Callable[[str], bool]] = {}

    def fullmatch(self, text: str) -> bool:
        current = self._closure([self.start], text, 0)
        for pos, ch in enumerate(text):
            moved = [
                self.outs[s][0] for s in current if self.kinds[s] == _CHAR and self.args[s](ch)
            ]
            if not moved:
                return False
            current = self._closure(moved, text, pos + 1)
        return any(self.kinds[s] == _MATCH for s in current)

    def _closure(self, states: list[int], text: str, pos: int) -> list[int]:
        """Every state reachable from `states` without consuming, in a stable order."""
        seen: set[int] = set()
        found: list[int] = []
        stack = list(reversed(states))
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            kind = self.kinds[s]
            if kind == _SPLIT:
                stack.extend(reversed(self.outs[s]))
            elif kind == _ASSERT:
                if self._holds(self.args[s], text, pos):
                    stack.append(self.outs[s][0])
            else:
                found.append(s)
        return found

    def _holds(self, arg: tuple[str, int], text: str, pos: int) -> bool:
        """An anchor at `pos`, as Python's sre tests it."""
        code, flags = arg
        end = len(text)
        multiline = bool(flags & re.MULTILINE)
        if code == "AT_BEGINNING":
            return pos == 0 or (multiline and text[pos - 1] == "\n")
        if code == "AT_BEGINNING_STRING":
            return pos == 0
        if code == "AT_END":
            if multiline:
                return pos == end or text[pos] == "\n"
            return pos == end or (pos + 1 == end and text[pos] == "\n")
        if code == "AT_END_STRING":
            return pos == end
        if code in ("AT_BOUNDARY", "AT_NON_BOUNDARY"):
            if end == 0:
                return False
            word = self._word.get(flags)
            if word is None:
                word = self._word[flags] = _tester(r"\w", flags & ~re.IGNORECASE)
            before = pos > 0 and word(text[pos - 1])
            here = pos < end and word(text[pos])
            return (before != here) == (code == "AT_BOUNDARY")
        raise PatternError(f"unsupported anchor {code}")


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Matcher:
    """`pattern` as kustomize anchors it (`^(?:pattern)$`), ready to match; PatternError when
    it is not a regular expression or uses what RE2 lacks (see the module docstring)."""
    wrapped = f"(?:{pattern})"
    try:
        re.compile(wrapped)
        parsed = _parser.parse(wrapped)
    except re.error as error:
        where = f" at position {error.pos - 3}" if error.pos is not None else ""
        raise PatternError(f"not a regular expression: {error.msg}{where}") from None
    except RecursionError:
        raise PatternError("groups are nested too deeply") from None
    builder = _Builder()
    final = builder.state(_MATCH, None, [])
    try:
        start = builder.sequence(list(parsed), final, int(parsed.state.flags))
    except RecursionError:
        raise PatternError("groups are nested too deeply") from None
    return Matcher(builder, start)

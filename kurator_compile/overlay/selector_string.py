"""Kubernetes label selectors in string form (`app=x,tier in (a,b),!foo`), as `labels.Parse`.

kustomize matches `patches[].target.labelSelector` and `annotationSelector` with this parser,
so both accept exactly what apimachinery accepts: `=`, `==`, `!=`, `in`, `notin`, `key`,
`!key`, and the integer comparisons `>` and `<`; keys must be qualified names and values
valid label values (annotation selectors included).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from .errors import PatchError

__all__ = ["Requirement", "Selector", "parse_selector"]

_SPECIAL: Final = frozenset("=!(),><")
_WHITESPACE: Final = frozenset(" \t\r\n")
_SYMBOLS: Final = {
    ")": ")",
    ",": ",",
    "!": "!",
    "==": "==",
    "=": "=",
    ">": ">",
    "<": "<",
    "!=": "!=",
    "(": "(",
}
_KEYWORDS: Final = ("in", "notin")
_IDENT: Final = "identifier"
_END: Final = "end of string"

_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_INT64 = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # one of = == != in notin exists !  > <
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator in ("in", "=", "=="):
            return present and labels[self.key] in self.values
        if self.operator in ("notin", "!="):
            return not present or labels[self.key] not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if not present or len(self.values) != 1:
            return False
        have, want = _int64(labels[self.key]), _int64(self.values[0])
        if have is None or want is None:
            return False
        return have > want if self.operator == ">" else have < want


@dataclass(frozen=True)
class Selector:
    """Requirements that must all hold; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def parse_selector(text: str) -> Selector:
    """Parse a selector string; PatchError with apimachinery's wording when it is invalid."""
    tokens = _lex(text)
    parser = _Parser(tokens)
    requirements: list[Requirement] = []
    while True:
        kind, literal = parser.peek()
        if kind == _END:
            break
        if kind not in (_IDENT, "!"):
            raise PatchError(
                f"invalid selector {text!r}: found '{literal}', "
                "expected: !, identifier, or 'end of string'"
            )
        try:
            requirements.append(parser.requirement())
        except PatchError as error:
            raise PatchError(
                f"invalid selector {text!r}: unable to parse requirement: {error.message}"
            ) from None
        kind, literal = parser.take()
        if kind == _END:
            break
        if kind != ",":
            raise PatchError(
                f"invalid selector {text!r}: found '{literal}', expected: ',' or 'end of string'"
            )
        if parser.peek()[0] not in (_IDENT, "!"):
            raise PatchError(
                f"invalid selector {text!r}: found '{parser.peek()[1]}', "
                "expected: identifier after ','"
            )
    return Selector(tuple(sorted(requirements, key=lambda r: r.key)))


def _lex(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
            continue
        if ch in _SPECIAL:
            # The longest run of symbols that is still a token (`!=`, `==`).
            j, found = i, None
            while j < len(text) and text[j] in _SPECIAL:
                candidate = text[i : j + 1]
                if candidate in _SYMBOLS:
                    found = candidate
                elif found is not None:
                    break
                j += 1
            if found is None:
                raise PatchError(
                    f"invalid selector {text!r}: error expected: keyword found '{text[i:j]}'"
                )
            tokens.append((_SYMBOLS[found], found))
            i += len(found)
            continue
        j = i
        while j < len(text) and text[j] not in _WHITESPACE and text[j] not in _SPECIAL:
            j += 1
        word = text[i:j]
        tokens.append((word if word in _KEYWORDS else _IDENT, word))
        i = j
    tokens.append((_END, ""))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self, *, operator: bool = False) -> tuple[str, str]:
        return self._as(self.tokens[self.position], operator)

    def take(self, *, operator: bool = False) -> tuple[str, str]:
        token = self.tokens[min(self.position, len(self.tokens) - 1)]
        self.position = min(self.position + 1, len(self.tokens) - 1)
        return self._as(token, operator)

    @staticmethod
    def _as(token: tuple[str, str], operator: bool) -> tuple[str, str]:
        """Outside operator position, `in` and `notin` are ordinary words."""
        kind, literal = token
        if not operator and kind in _KEYWORDS:
            return _IDENT, literal
        return kind, literal

    def requirement(self) -> Requirement:
        kind, literal = self.take()
        negated = kind == "!"
        if negated:
            kind, literal = self.take()
        if kind != _IDENT:
            raise PatchError(f"found '{literal}', expected: identifier")
        key = literal
        _validate_key(key)
        if self.peek()[0] in (_END, ","):
            return Requirement(key, "!" if negated else "exists")
        if negated:
            kind, literal = self.peek()
            raise PatchError(f"found '{literal}', expected: ',' or 'end of string'")
        kind, literal = self.take(operator=True)
        if kind in ("in", "notin"):
            values = self.value_set()
            if not values:
                raise PatchError("for 'in', 'notin' operators, values set can't be empty")
        elif kind in ("=", "==", "!=", ">", "<"):
            values = self.exact_value()
        else:
            raise PatchError(f"found '{literal}', expected: in, notin, =, ==, !=, gt, lt")
        if kind in (">", "<") and _int64(values[0]) is None:
            raise PatchError(
                f"for 'Gt', 'Lt' operators, the value must be an integer: {values[0]!r}"
            )
        for value in values:
            _validate_value(value)
        return Requirement(key, kind, values)

    def exact_value(self) -> tuple[str, ...]:
        kind, _ = self.peek()
        if kind in (_END, ","):
            return ("",)
        kind, literal = self.take()
        if kind != _IDENT:
            raise PatchError(f"found '{literal}', expected: identifier")
        return (literal,)

    def value_set(self) -> tuple[str, ...]:
        kind, literal = self.take()
        if kind != "(":
            raise PatchError(f"found '{literal}' expected: '('")
        kind, literal = self.peek()
        if kind == ")":
            self.take()
            return ("",)
        if kind not in (_IDENT, ","):
            raise PatchError(f"found '{literal}', expected: ',', ')' or identifier")
        values: set[str] = set()
        while True:
            kind, literal = self.take()
            if kind == _IDENT:
                values.add(literal)
                following, text = self.peek()
                if following == ")":
                    break
                if following != ",":
                    raise PatchError(f"found '{text}', expected: ',' or ')'")
            elif kind == ",":
                # Empty entries (`(,a)`, `(a,)`, `(a,,b)`) stand for the empty value.
                if not values:
                    values.add("")
                following, _ = self.peek()
                if following == ")":
                    values.add("")
                    break
                if following == ",":
                    self.take()
                    values.add("")
            else:
                raise PatchError(f"found '{literal}', expected: ',', or identifier")
        kind, literal = self.take()
        if kind != ")":
            raise PatchError(f"found '{literal}', expected: ')'")
        return tuple(sorted(values))


def _validate_key(key: str) -> None:
    """A qualified name: an optional DNS-subdomain prefix and `/`, then a 63-char name."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        raise PatchError(f"invalid label key {key!r}: prefix must be a DNS subdomain")
    if not name or len(name) > 63 or not _NAME.fullmatch(name):
        raise PatchError(
            f"invalid label key {key!r}: name part must be 63 characters or less, alphanumeric, "
            "'-', '_' or '.', starting and ending with an alphanumeric character"
        )


def _validate_value(value: str) -> None:
    if value and (len(value) > 63 or not _NAME.fullmatch(value)):
        raise PatchError(
            f"invalid label value {value!r}: must be 63 characters or less, alphanumeric, '-', "
            "'_' or '.', starting and ending with an alphanumeric character"
        )


def _int64(text: str) -> int | None:
    if not _INT64.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None

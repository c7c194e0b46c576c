"""JSON Schema (draft 2020-12) compiled to plain predicates: is this document valid, yes or no.

Nearly every document a run checks is valid, and answering that question with `jsonschema`
costs about 0.2 ms per Kubernetes object plus its import and reference crawl. A schema
compiled here into nested closures answers in a few microseconds. `jsonschema` stays the
authority on *what* is wrong: callers run it only on documents this module rejects.

Only the keywords the shipped and Kubernetes schemas use are compiled, each with
`jsonschema`'s semantics (its type rules, its bool-aware equality, `format` as an annotation).
A schema that needs any other validation keyword gets the answer "cannot tell" (None), so a
caller falls back to `jsonschema` rather than get a wrong "valid".
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from .fields import is_digits
from .overlay.jsonpatch import json_equal  # JSON equality: `true` is not `1`

Predicate = Callable[[Any], bool]
PatternSearch = Callable[[str], Callable[[str], object]]

# Draft 2020-12 keywords that validate but are not compiled here: meeting one means the
# caller must use jsonschema for that schema.
NOT_COMPILED = frozenset(
    {
        "$dynamicRef",
        "contains",
        "dependentRequired",
        "dependentSchemas",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "if",
        "multipleOf",
        "patternProperties",
        "prefixItems",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "uniqueItems",
    }
)
COMPILED = frozenset(
    {
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "enum",
        "format",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "not",
        "oneOf",
        "pattern",
        "properties",
        "required",
        "type",
    }
)


class Unsupported(Exception):
    """The schema needs a keyword or reference this module does not compile."""


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


_TYPES: dict[str, Predicate] = {
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer,
    "null": lambda v: v is None,
    "number": _is_number,
    "object": lambda v: isinstance(v, dict),
    "string": lambda v: isinstance(v, str),
}


def _python_search(pattern: str) -> Callable[[str], object]:
    return re.compile(pattern).search


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


class SchemaSet:
    """Schema documents by `$id`, compiled on demand; references are followed lazily, so a
    recursive schema compiles, and only the part of a large definitions file in use is built.
    """

    def __init__(
        self, documents: Sequence[Mapping[str, Any]], search: PatternSearch = _python_search
    ) -> None:
        self._documents = {str(doc["$id"]): doc for doc in documents}
        self._search = search
        self._refs: dict[str, Predicate] = {}
        self._unsupported: set[str] = set()

    def add(self, document: Mapping[str, Any]) -> None:
        """One more document that the others may refer to, or be checked against."""
        self._documents.setdefault(str(document["$id"]), document)

    def is_valid(self, uri: str, value: Any) -> bool | None:
        """Whether `value` is valid against the schema `uri` (a `$id`, maybe with a JSON
        pointer fragment); None when the schema needs a keyword not compiled here."""
        if uri in self._unsupported:
            return None
        try:
            return self._resolve(uri, "")(value)
        except Unsupported:
            self._unsupported.add(uri)
            return None

    def _resolve(self, ref: str, base: str) -> Predicate:
        if ref.startswith("#"):  # also for ids such as `urn:` that urljoin cannot join
            uri = urldefrag(base)[0] + ref
        else:
            uri = urljoin(base, ref) if base else ref
        found = self._refs.get(uri)
        if found is not None:
            return found
        resource, fragment = urldefrag(uri)
        document = self._documents.get(resource)
        if document is None:
            raise Unsupported(f"reference {ref!r} names no known schema")
        target: Any = document
        if fragment:
            if not fragment.startswith("/"):
                raise Unsupported(f"anchor references are not compiled: {ref!r}")
            for token in unquote(fragment)[1:].split("/"):
                token = token.replace("~1", "/").replace("~0", "~")
                if isinstance(target, Mapping) and token in target:
                    target = target[token]
                elif isinstance(target, list) and is_digits(token) and int(token) < len(target):
                    target = target[int(token)]
                else:
                    raise Unsupported(f"reference {ref!r} points at nothing")
        compiled: Predicate | None = None

        def lazy(value: Any) -> bool:
            nonlocal compiled
            if compiled is None:
                compiled = self._compile(target, resource)
            return compiled(value)

        self._refs[uri] = lazy
        return lazy

    def _compile(self, schema: Any, base: str) -> Predicate:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, Mapping):
            raise Unsupported("a schema must be an object or a boolean")
        used = NOT_COMPILED.intersection(schema)
        if used:
            raise Unsupported(f"keyword {sorted(used)[0]!r} is not compiled")
        if "$id" in schema:
            base = urljoin(base, str(schema["$id"]))
        checks: list[Predicate] = []
        for keyword, value in schema.items():
            if keyword in COMPILED:
                check = self._keyword(keyword, value, schema, base)
                if check is not None:
                    checks.append(check)
        return _conjunction(checks)

    def _keyword(  # one branch per keyword reads best
        self, keyword: str, value: Any, schema: Mapping[str, Any], base: str
    ) -> Predicate | None:
        if keyword == "type":
            return _type_check(value)
        if keyword == "properties":
            return self._properties(value, base)
        if keyword == "additionalProperties":
            return self._additional(value, schema, base)
        if keyword == "required":
            names = frozenset(value)
            return lambda v: not isinstance(v, dict) or names.issubset(v.keys())
        if keyword == "items":
            return _every_item(self._compile(value, base))
        if keyword == "$ref":
            return self._resolve(str(value), base)
        if keyword == "enum":
            return _enum_check(list(value))
        if keyword == "const":
            return lambda v: json_equal(v, value)
        if keyword == "format":
            return None  # an annotation: jsonschema asserts formats only with a format checker
        if keyword == "pattern":
            search = self._search(str(value))
            return lambda v: not isinstance(v, str) or search(v) is not None
        if keyword in _LENGTHS:
            return _length_check(keyword, value)
        if keyword in ("minimum", "maximum"):
            return _bound_check(keyword, value)
        if keyword == "not":
            inner = self._compile(value, base)
            return lambda v: not inner(v)
        branches = [self._compile(sub, base) for sub in value]
        if keyword == "allOf":
            return _conjunction(branches)
        if keyword == "anyOf":
            return lambda v: any(branch(v) for branch in branches)
        return lambda v: sum(1 for branch in branches if branch(v)) == 1  # oneOf

    def _properties(self, properties: Mapping[str, Any], base: str) -> Predicate:
        compiled = {name: self._compile(sub, base) for name, sub in properties.items()}

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                sub = compiled.get(key)
                if sub is not None and not sub(item):
                    return False
            return True

        return check

    def _additional(self, extra: Any, schema: Mapping[str, Any], base: str) -> Predicate:
        known = frozenset(schema.get("properties") or ())
        if extra is False:
            return lambda v: not isinstance(v, dict) or known.issuperset(v.keys())
        sub = self._compile(extra, base)
        if sub is _always:
            return _always

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():  # noqa: SIM110 - faster than all() over a generator
                if key not in known and not sub(item):
                    return False
            return True

        return check


# The predicates below loop instead of calling all() over a generator: they run for every
# node of every document checked, and a generator costs more than the test it wraps.


def _every_item(item: Predicate) -> Predicate:
    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        for element in value:  # noqa: SIM110
            if not item(element):
                return False
        return True

    return check


def _conjunction(checks: list[Predicate]) -> Predicate:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    frozen = tuple(checks)

    def check(value: Any) -> bool:
        for each in frozen:  # noqa: SIM110
            if not each(value):
                return False
        return True

    return check


def _type_check(types: Any) -> Predicate:
    names = [types] if isinstance(types, str) else list(types)
    unknown = [name for name in names if name not in _TYPES]
    if unknown:
        raise Unsupported(f"unknown type {unknown[0]!r}")
    checks = tuple(_TYPES[name] for name in names)
    if len(checks) == 1:
        return checks[0]
    return lambda v: any(check(v) for check in checks)


def _enum_check(values: list[Any]) -> Predicate:
    if all(isinstance(item, str) for item in values):
        strings = frozenset(values)
        return lambda v: isinstance(v, str) and v in strings
    return lambda v: any(json_equal(item, v) for item in values)


_LENGTHS: dict[str, type[str] | type[list[Any]] | type[dict[str, Any]]] = {
    "minLength": str,
    "maxLength": str,
    "minItems": list,
    "maxItems": list,
    "minProperties": dict,
    "maxProperties": dict,
}


def _length_check(keyword: str, limit: Any) -> Predicate:
    kind = _LENGTHS[keyword]
    if keyword.startswith("min"):
        return lambda v: not isinstance(v, kind) or len(v) >= limit
    return lambda v: not isinstance(v, kind) or len(v) <= limit


def _bound_check(keyword: str, limit: Any) -> Predicate:
    if keyword == "minimum":
        return lambda v: not _is_number(v) or v >= limit
    return lambda v: not _is_number(v) or v <= limit

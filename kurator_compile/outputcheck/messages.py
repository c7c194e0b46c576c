"""jsonschema errors -> (JSON pointer, short text) pairs that name the field, kubectl-style."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..yamldoc import pointer_join

if TYPE_CHECKING:  # only objects found invalid meet jsonschema
    from jsonschema.exceptions import ValidationError

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_MAX_SHOWN = 60


def pointer_of(path: Iterable[Any]) -> str:
    pointer = ""
    for token in path:
        pointer = pointer_join(pointer, token)
    return pointer


def dotted(path: Iterable[Any]) -> str:
    """`spec.template.spec.containers[0].image`; odd keys as `metadata.labels["a.b/c"]`."""
    text = ""
    for token in path:
        if isinstance(token, int):
            text += f"[{token}]"
        elif _PLAIN_KEY.match(token):
            text += f".{token}" if text else token
        else:
            text += f'["{token}"]'
    return text


def shown(value: Any) -> str:
    """A value short enough for one line: objects and long text are abbreviated."""
    if value is None:
        return "null"  # as written in YAML and JSON, not Python's None
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return "[...]"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 4] + "...'"


def _types(value: Any) -> list[str]:
    names = value if isinstance(value, list) else [value]
    # Kubernetes marks nearly every field nullable; "or 'null'" would only be noise.
    return [str(n) for n in names if n != "null"] or ["null"]


def _type_text(instance: Any, types: list[str]) -> str:
    unique = list(dict.fromkeys(types))
    return f"{shown(instance)} is not of type {' or '.join(repr(t) for t in unique)}"


def _at(path: Iterable[Any], text: str) -> str:
    where = dotted(path)
    return f"{where}: {text}" if where else text


def _unknown_fields(error: ValidationError) -> Iterator[tuple[str, str]]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = list(schema.get("properties") or {})
    patterns = list(schema.get("patternProperties") or {})
    instance = error.instance if isinstance(error.instance, dict) else {}
    path = list(error.absolute_path)
    for key in instance:
        if key in known or any(re.search(p, key) for p in patterns):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        yield pointer_of([*path, key]), _at([*path, key], f"unknown field{hint}")


def _alternatives(error: ValidationError) -> Iterator[tuple[str, str]]:
    """anyOf/oneOf: int-or-string and quantities read as one type error; else the best branch."""
    context = error.context or []
    if context and all(e.validator == "type" and not e.relative_path for e in context):
        types = [t for e in context for t in _types(e.validator_value)]
        yield (
            pointer_of(error.absolute_path),
            _at(error.absolute_path, _type_text(error.instance, types)),
        )
        return
    if context:
        from jsonschema.exceptions import best_match

        yield from describe(best_match(context))
        return
    yield pointer_of(error.absolute_path), _at(error.absolute_path, _generic(error))


def _generic(error: ValidationError) -> str:
    value, instance = error.validator_value, error.instance
    if error.validator == "enum" and isinstance(value, list):
        choices = ", ".join(repr(v) for v in value if v is not None)
        return f"{shown(instance)} is not one of {choices}"
    if error.validator == "const":
        return f"{shown(instance)} is not allowed here; expected {value!r}"
    if error.validator == "pattern":
        return f"{shown(instance)} does not match {value!r}"
    if error.validator == "oneOf":
        return f"{shown(instance)} matches more than one of the allowed forms"
    message = error.message
    return message if len(message) <= 200 else message[:197] + "..."


def describe(error: ValidationError) -> Iterator[tuple[str, str]]:
    """(pointer, text) for one error; an unknown-fields error yields one pair per field."""
    if error.validator == "additionalProperties" and error.validator_value is False:
        yield from _unknown_fields(error)
    elif error.validator == "type":
        yield (
            pointer_of(error.absolute_path),
            _at(error.absolute_path, _type_text(error.instance, _types(error.validator_value))),
        )
    elif error.validator == "oneOf" and error.instance is None:
        # Every branch admits null (Kubernetes' int-or-string and quantity, and all CRD types
        # here), so a null matches them all; the API server takes it as unset.
        return
    elif error.validator in ("anyOf", "oneOf"):
        yield from _alternatives(error)
    else:
        yield pointer_of(error.absolute_path), _at(error.absolute_path, _generic(error))

"""Text in and out as Karmada's fieldOverrider reads and writes it (Go json and yaml.v2).

Karmada reads a YAML field with sigs.k8s.io/yaml (go-yaml v2: YAML 1.1 scalars, so `yes`,
`on` and `y` are booleans and `0777` is octal), patches the JSON form, and writes it back
with go-yaml v2 (keys in its "natural" order, block style, strings double-quoted only where
they would read as something else). JSON is patched with json-patch v5, which keeps key order
and the text of untouched numbers and writes compact, HTML-escaped output.
"""

from __future__ import annotations

import io
import json
import math
import re
from decimal import Decimal
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.representer import SafeRepresenter

from ..yamldoc import MAX_ALIAS_EXPANSION, MAX_DEPTH
from ..yamlout import GO_KEY_ORDER
from .errors import PatchError

__all__ = ["GoFloat", "GoInt", "dump_go_json", "dump_go_yaml", "load_go_json", "load_go_yaml"]


class GoInt(int):
    """An integer read from JSON that keeps its text, as json-patch v5 keeps raw values."""

    text: str

    def __new__(cls, text: str) -> GoInt:
        value = super().__new__(cls, int(text))
        value.text = text
        return value


class GoFloat(float):
    """A non-integer JSON number that keeps its text (`1.50`, `1e3`)."""

    text: str

    def __new__(cls, text: str) -> GoFloat:
        value = super().__new__(cls, float(text))
        value.text = text
        return value


# --- JSON ---------------------------------------------------------------------------------


def load_go_json(text: str) -> Any:
    try:
        value = json.loads(text, parse_int=GoInt, parse_float=GoFloat)
    except ValueError as error:
        raise PatchError(f"invalid JSON: {error}") from None
    except RecursionError:
        value = None
        _too_deep("JSON")
    _check_depth(value, "JSON")
    return value


def _too_deep(what: str) -> None:
    raise PatchError(f"invalid {what}: nested deeper than {MAX_DEPTH} levels")


def _check_depth(value: Any, what: str) -> None:
    """Without recursion: every later step (patching, writing) walks the value recursively."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                _too_deep(what)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def dump_go_json(value: Any) -> str:
    """Compact JSON in the order given, escaped as Go's encoding/json escapes."""
    return "".join(_json_parts(value))


_HTML: Final = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_HTML_RE: Final = re.compile("[<>&\u2028\u2029]")


def _json_string(text: str) -> str:
    return _HTML_RE.sub(lambda m: _HTML[m.group(0)], json.dumps(text, ensure_ascii=False))


def _json_parts(value: Any) -> list[str]:
    if isinstance(value, dict):
        parts = ["{"]
        for i, (key, item) in enumerate(value.items()):
            parts.extend([("," if i else "") + _json_string(str(key)) + ":", *_json_parts(item)])
        return [*parts, "}"]
    if isinstance(value, list):
        parts = ["["]
        for i, item in enumerate(value):
            if i:
                parts.append(",")
            parts.extend(_json_parts(item))
        return [*parts, "]"]
    if isinstance(value, str):
        return [_json_string(value)]
    if value is None:
        return ["null"]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (GoInt, GoFloat)):
        return [value.text]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, float):
        return [go_json_float(value)]
    raise PatchError(f"cannot write {type(value).__name__} as JSON")


def go_json_float(value: float) -> str:
    """encoding/json's float64 text: fixed notation in [1e-6, 1e21), else a short exponent."""
    if math.isnan(value) or math.isinf(value):
        raise PatchError(f"unsupported value: {value}")
    if value == 0 or 1e-6 <= abs(value) < 1e21:
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return re.sub(r"e-0([0-9])$", r"e-\1", repr(value))


# --- YAML in --------------------------------------------------------------------------------

_V2_TRUE: Final = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}
_V2_FALSE: Final = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}
_V2_NULL: Final = {"", "~", "null", "Null", "NULL"}
_V2_FLOAT: Final = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_V2_INT: Final = re.compile(r"[-+]?(0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9_]+)")
_V2_SPECIAL: Final = {
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
    ".inf": math.inf,
    ".Inf": math.inf,
    ".INF": math.inf,
    "+.inf": math.inf,
    "+.Inf": math.inf,
    "+.INF": math.inf,
    "-.inf": -math.inf,
    "-.Inf": -math.inf,
    "-.INF": -math.inf,
}


def resolve_plain(text: str) -> Any:
    """What go-yaml v2 makes of an unquoted scalar."""
    if text in _V2_TRUE:
        return True
    if text in _V2_FALSE:
        return False
    if text in _V2_NULL:
        return None
    if text in _V2_SPECIAL:
        return _V2_SPECIAL[text]
    if _V2_INT.fullmatch(text):
        digits = text.replace("_", "")
        sign = -1 if digits.startswith("-") else 1
        body = digits.lstrip("+-")
        try:
            if body.startswith(("0b", "0x", "0o")):
                return sign * int(body, 0)
            if len(body) > 1 and body.startswith("0"):
                return sign * int(body, 8)
            return sign * int(body)
        except ValueError:
            pass
    if _V2_FLOAT.fullmatch(text):
        return float(text)
    return text


def load_go_yaml(text: str) -> Any:
    """The first YAML document as sigs.k8s.io/yaml's YAMLToJSON sees it (keys become strings)."""
    try:
        node = next(iter(YAML(typ="rt", pure=True).compose_all(text)), None)
    except (YAMLError, ValueError) as error:
        raise PatchError(f"invalid YAML: {error}") from None
    except RecursionError:
        node = None
        _too_deep("YAML")
    return None if node is None else _build(node, _Budget())


class _Budget:
    """The main loader's limits: nesting depth (a recursive alias nests forever) and nodes
    built from aliases beyond the text (an alias bomb)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.expanded = 0
        self.depth = 0

    def enter(self, node: Node) -> None:
        if id(node) in self.seen:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_EXPANSION:
                raise PatchError(f"invalid YAML: aliases expand past {MAX_ALIAS_EXPANSION} nodes")
        self.seen.add(id(node))


def _build(node: Node, budget: _Budget) -> Any:
    budget.enter(node)
    if isinstance(node, MappingNode | SequenceNode):
        if budget.depth >= MAX_DEPTH:
            _too_deep("YAML")
        budget.depth += 1
        try:
            if isinstance(node, MappingNode):
                return {_json_key(_build(k, budget)): _build(v, budget) for k, v in node.value}
            return [_build(item, budget) for item in node.value]
        finally:
            budget.depth -= 1
    assert isinstance(node, ScalarNode)
    if node.style is None and not str(node.tag).startswith("!"):
        return resolve_plain(node.value)
    return node.value


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return go_json_float(key)
    if isinstance(key, int):
        return str(key)
    raise PatchError("YAML map keys must be scalars to become JSON")


# --- YAML out -------------------------------------------------------------------------------


class _GoRepresenter(SafeRepresenter):
    """Block style; a string is double-quoted where go-yaml v2 would read it as another type."""

    def represent_str(self, data: str) -> Any:
        if "\n" in data:
            style: str | None = "|"
        elif not isinstance(resolve_plain(data), str) or _looks_like_other(data):
            style = '"'
        else:
            style = None
        return self.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_GoRepresenter.add_representer(str, _GoRepresenter.represent_str)
_TIMESTAMP: Final = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?")
_BASE60: Final = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")


def _looks_like_other(text: str) -> bool:
    """Timestamps, `<<` and base-60 floats are quoted by go-yaml v2 too."""
    return text == "<<" or bool(_TIMESTAMP.fullmatch(text)) or bool(_BASE60.fullmatch(text))


def dump_go_yaml(value: Any) -> str:
    """YAML as go-yaml v2 marshals a decoded JSON value (what sigs.k8s.io/yaml JSONToYAML does)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Representer = _GoRepresenter
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 80
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]  # keys come in go-yaml v2's order
    stream = io.StringIO()
    yaml.dump(_go_order(value), stream)
    text = stream.getvalue()
    return text[: -len("...\n")] if text.endswith("\n...\n") else text


def _go_order(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _go_order(value[k]) for k in sorted(value, key=GO_KEY_ORDER)}
    if isinstance(value, list):
        return [_go_order(v) for v in value]
    if isinstance(value, GoInt):
        return int(value)
    if isinstance(value, GoFloat):
        return float(value)
    return value

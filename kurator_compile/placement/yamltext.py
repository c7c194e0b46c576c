"""A tiny block-style YAML writer for snippets quoted in diagnostics (no I/O, stable output)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["to_yaml"]

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
_SPECIAL = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _SPECIAL:
        return text
    return json.dumps(text)  # a JSON string is a valid double-quoted YAML scalar


def _lines(value: Any, indent: int, prefix: str) -> list[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        if not value:
            return [f"{prefix}{{}}"]
        out: list[str] = []
        first = True
        for key, item in value.items():
            lead = prefix if first else pad
            first = False
            key_text = _scalar(key)
            if isinstance(item, Mapping | list) and item:
                out.append(f"{lead}{key_text}:")
                out.extend(_lines(item, indent + 2, " " * (indent + 2)))
            else:
                out.extend(_lines(item, indent, f"{lead}{key_text}: "))
        return out
    if isinstance(value, list):
        if not value:
            return [f"{prefix}[]"]
        out = []
        for i, item in enumerate(value):
            out.extend(_lines(item, indent + 2, f"{prefix if i == 0 else pad}- "))
        return out
    return [f"{prefix}{_scalar(value)}"]


def to_yaml(value: Any, indent: int = 0) -> str:
    """`value` as block YAML, every line indented by `indent` spaces."""
    return "".join(f"{line}\n" for line in _lines(value, indent, " " * indent))

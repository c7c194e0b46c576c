"""Fields of user documents whose types no schema has guaranteed (Kubernetes objects are
checked only after placement): a value of the wrong type reads as empty here, and output
validation reports it with its position."""

from __future__ import annotations

from typing import Any


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def is_digits(text: str) -> bool:
    """Digits as Go reads them: ASCII only. `str.isdigit` also accepts superscript and
    Arabic-Indic digits, which `int()` then refuses or reads as no Kubernetes component
    would."""
    return text.isascii() and text.isdigit()

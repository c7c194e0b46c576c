"""Placeholder emitter (PyYAML); the fast emitter replaces this file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


def dump_document(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, allow_unicode=True)


def dump_stream(objs: Iterable[Any]) -> str:
    return "---\n".join(dump_document(o) for o in objs)

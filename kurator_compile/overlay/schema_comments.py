"""Field schemas written as comments in a strategic-merge patch, read as kyaml reads them.

kyaml (`fieldmeta.FieldMeta.Read`, consulted by every step of its merge walk) takes a field's
line or head comment, when it is a JSON object, as that field's OpenAPI schema: with
`x-kubernetes-patch-strategy: merge` and `x-kubernetes-patch-merge-key` a custom resource's
list merges by key, `{"$ref": "#/definitions/io.k8s.api.core.v1.PodSpec"}` lends a built-in
type, `properties` and `items` reach further down. The schema wins over the kind's own.

We read such comments where the field they belong to is certain: a key whose value is a
block map or list starting on the next line (a comment at the end of the key's line), or a
key right under comment lines (a head comment), reached through maps only. A schema comment
anywhere else (after a scalar or a flow collection, on a list item, inside a list element,
in a List document) is refused rather than risk a merge kustomize would not make. Comments in
resource files are not read: the loader keeps no comments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..yamldoc import Document
from .errors import PatchError
from .schema import Schema, type_name

__all__ = ["CommentSchema", "comment_schemas"]

_COMMENT: Final = re.compile(r"(?:^|\s)#+\s*(\{.*\})\s*$")
_COMMENT_ONLY: Final = re.compile(r"\s*#")
_SCHEMA_KEYS: Final = frozenset(
    {"$ref", "type", "items", "properties", "additionalProperties", "x-kustomize"}
)
_DEFINITIONS: Final = "#/definitions/"


@dataclass(frozen=True)
class CommentSchema(Schema):
    """A schema written in a comment: its own patch strategy, merge keys, properties, items."""

    spec: Any = None

    def field(self, name: str) -> Schema | None:
        properties = self.spec.get("properties")
        if isinstance(properties, Mapping) and isinstance(properties.get(name), Mapping):
            return _from_spec(properties[name])
        additional = self.spec.get("additionalProperties")
        return _from_spec(additional) if isinstance(additional, Mapping) else None

    def elements(self) -> Schema | None:
        kind = self.spec.get("type")
        items = self.spec.get("items")
        if kind not in ("array", ["array"]) or not isinstance(items, Mapping):
            return None
        return _from_spec(items)

    @property
    def is_merge_list(self) -> bool:
        return "merge" in self.strategy.split(",")


def _from_spec(spec: Mapping[str, Any]) -> Schema:
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFINITIONS):
        return Schema(type_name=type_name(ref[len(_DEFINITIONS) :]))
    strategy = spec.get("x-kubernetes-patch-strategy")
    strategy = strategy if isinstance(strategy, str) else ""
    keys: tuple[str, ...] = ()
    map_keys = spec.get("x-kubernetes-list-map-keys")
    merge_key = spec.get("x-kubernetes-patch-merge-key")
    if strategy and isinstance(map_keys, list):
        keys = tuple(str(k) for k in map_keys)
    elif strategy and isinstance(merge_key, str):
        keys = (merge_key,)
    return CommentSchema(strategy=strategy, keys=keys, is_list=True, spec=dict(spec))


def _schema_comment(line: str) -> Mapping[str, Any] | None:
    found = _COMMENT.search(line)
    if found is None:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return None
    if isinstance(value, dict) and any(
        key in _SCHEMA_KEYS or str(key).startswith("x-kubernetes-") for key in value
    ):
        return value
    return None


def comment_schemas(text: str, documents: Sequence[Document]) -> list[dict[str, Schema]]:
    """For each document of the patch text, the schemas its comments give, by JSON pointer.

    PatchError for a schema comment we cannot tie to a field reached through maps.
    """
    lines = text.splitlines()
    found: list[dict[str, Schema]] = [{} for _ in documents]
    for number, line in enumerate(lines, start=1):
        spec = _schema_comment(line)
        if spec is None:
            continue
        head = _COMMENT_ONLY.match(line) is not None
        where = _next_content_line(lines, number) if head else number
        placed = None
        for index, document in enumerate(documents):
            pointer = _field_on_line(document, where, head=head) if where else None
            if pointer is not None:
                placed = (index, pointer)
                break
        if placed is None:
            raise PatchError(
                f"line {number} of the patch text has a comment kustomize reads as a field's "
                "OpenAPI schema, in a place kurator-compile does not model (only on a key whose "
                "map or list value starts on the next line, or just above a key, outside "
                "lists); move or remove the comment"
            )
        found[placed[0]][placed[1]] = _from_spec(spec)
    return found


def _next_content_line(lines: Sequence[str], number: int) -> int | None:
    """The line a head comment belongs to: the next one that is not a comment, if no blank
    line comes first."""
    for following in range(number, len(lines)):
        text = lines[following]
        if not text.strip():
            return None
        if _COMMENT_ONLY.match(text) is None:
            return following + 1
    return None


def _field_on_line(document: Document, line: int, *, head: bool) -> str | None:
    """The map key written on `line`, reached through maps only, whose value a comment there
    describes; None when there is none or it is not certain."""
    on_line = sorted(
        (p for p, (at, _) in document.positions.items() if at == line and p),
        key=lambda p: (p.count("/"), document.positions[p][1]),
    )
    if not on_line:
        return None
    pointer = on_line[0]
    parent, value = _resolve(document.data, pointer)
    if not isinstance(parent, dict) or value is _NOWHERE:
        return None  # a list item, or inside one
    if head:
        return pointer
    if not isinstance(value, (dict, list)) or not value:
        return None  # a comment after a scalar belongs to the scalar
    children = [p for p in document.positions if p.startswith(pointer + "/")]
    if any(document.positions[p][0] <= line for p in children):
        return None  # a flow collection on the key's line
    return pointer


_NOWHERE: Final = object()


def _resolve(data: Any, pointer: str) -> tuple[Any, Any]:
    """The parent of `pointer` and its value, or (None, _NOWHERE) when the path crosses a list."""
    parent: Any = None
    node = data
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            return None, _NOWHERE
        parent, node = node, node[key]
    return parent, node

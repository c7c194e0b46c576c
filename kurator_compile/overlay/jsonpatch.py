"""RFC 6902 JSON patch with the exact semantics of the Go library the tools use.

Karmada's overriders run evanphx/json-patch v5 (defaults: `add` needs an existing parent,
`replace`, `remove`, `move` and `copy` need an existing path). kustomize's `patches:` run
json-patch v4, which is laxer on maps: `replace` of a missing key adds it, `copy` from a missing
key copies null and `test` of a missing key passes against null. Both accept negative array
indices counted from the end (`-1` is the last element; for `add`, the end), both ignore the
first path segment rather than requiring an empty one (so `a/b` means `/b`), and both take
`+1` and `01` as index 1.

Values are never modified: each operation copies only the containers on its path.

A patched object may hold at most MAX_PATCHED_NODES nodes (every map, list and scalar counts
one), counting the object as it comes in plus every value an `add`, `replace` or `copy`
puts in. Copies share their subtree, so without the bound forty `copy` operations of /spec
into itself ask for 2**40 nodes downstream; as with YAML alias expansion, such a patch is
refused instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from .errors import PatchError

__all__ = [
    "MAX_PATCHED_NODES",
    "Dialect",
    "decode_pointer",
    "escape_pointer",
    "json_equal",
    "json_patch",
]

Dialect = Literal["karmada", "kustomize"]

_OPS: Final = ("add", "remove", "replace", "move", "copy", "test")
MAX_PATCHED_NODES: Final = 1_000_000
_INDEX = re.compile(r"[+-]?[0-9]+")
_ESCAPE = re.compile(r"~[01]")


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Final = _Absent()


def escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def decode_pointer(token: str) -> str:
    """RFC 6901 unescaping in one left-to-right pass; other `~` sequences stay as written."""
    return _ESCAPE.sub(lambda m: "/" if m.group(0) == "~1" else "~", token)


def json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values: numbers by value, but never a boolean equal to a number."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if type(left) is not type(right):
        return False
    return bool(left == right)


def json_patch(doc: Any, ops: Sequence[Mapping[str, Any]], *, dialect: Dialect = "karmada") -> Any:
    """`doc` with the JSON patch `ops` applied, or PatchError naming the failing operation."""
    if not isinstance(ops, list | tuple):
        raise PatchError("a JSON patch must be a list of operations")
    if dialect == "karmada":
        for index, op in enumerate(ops):
            _validate(op, index)
    if not isinstance(doc, (dict, list)):
        raise PatchError("a JSON patch applies to an object or an array")
    original = doc
    budget = _Budget(MAX_PATCHED_NODES)
    budget.spend(doc, None)
    for index, op in enumerate(ops):
        if not isinstance(op, Mapping):
            raise PatchError(f"operation must be an object, not {op!r}", op_index=index)
        doc = _Applier(dialect, index, original, budget).apply(doc, op)
    return doc


class _Budget:
    """Nodes a patched object may still grow by (see the module docstring)."""

    def __init__(self, nodes: int) -> None:
        self.left = nodes

    def spend(self, value: Any, index: int | None) -> None:
        """Count the nodes of `value`, stopping as soon as the budget is exceeded."""
        stack = [value]
        left = self.left
        while stack:
            node = stack.pop()
            left -= 1
            if left < 0:
                raise PatchError(
                    f"the patched object is too large: more than {MAX_PATCHED_NODES} nodes "
                    "(does a JSON patch copy a subtree into itself again and again?)",
                    op_index=index,
                )
            if isinstance(node, dict):
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
        self.left = left


def _validate(op: Any, index: int) -> None:
    """json-patch v5 `DecodePatch` checks every operation before any runs."""
    if not isinstance(op, Mapping):
        raise PatchError(f"operation must be an object, not {op!r}", op_index=index)
    kind = op.get("op")
    if kind not in _OPS:
        raise PatchError(f"invalid operation: unsupported operation {kind!r}", op_index=index)
    if kind in ("add", "replace") and "value" not in op:
        raise PatchError(f"invalid {kind} operation: missing value field", op_index=index)
    if kind in ("move", "copy") and not isinstance(op.get("from"), str):
        raise PatchError(f"invalid {kind} operation: missing from field", op_index=index)
    if not isinstance(op.get("path"), str):
        raise PatchError(f"invalid {kind} operation: missing path field", op_index=index)


class _Applier:
    """One operation against one document; `lax` is json-patch v4's handling of missing keys."""

    def __init__(self, dialect: Dialect, index: int, original: Any, budget: _Budget) -> None:
        self.lax = dialect == "kustomize"
        self.index = index
        self.original = original
        self.budget = budget

    def error(self, message: str, pointer: str) -> PatchError:
        return PatchError(message, pointer, self.index)

    def apply(self, doc: Any, op: Mapping[str, Any]) -> Any:
        kind = op.get("op")
        if kind not in _OPS:
            raise self.error(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}", "")
        path = self.string(op, "path", kind)
        if kind == "add":
            return self.add(doc, path, op.get("value"))
        if kind == "remove":
            return self.remove(doc, path)
        if kind == "replace":
            return self.replace(doc, path, op.get("value"))
        if kind == "test":
            self.test(doc, path, op)
            return doc
        source = self.string(op, "from", kind)
        if kind == "move":
            return self.move(doc, source, path)
        return self.copy(doc, source, path)

    def string(self, op: Mapping[str, Any], field: str, kind: str) -> str:
        value = op.get(field)
        if not isinstance(value, str):
            raise self.error(f"{kind} operation: missing {field} field", "")
        return value

    # -- pointer resolution (json-patch `findObject`) ---------------------------------------

    def split(self, path: str) -> tuple[list[str], str] | None:
        parts = path.split("/")
        if len(parts) < 2:
            return None
        return [decode_pointer(p) for p in parts[1:-1]], decode_pointer(parts[-1])

    def get(self, container: Any, key: str, pointer: str, *, strict: bool) -> Any:
        """A child: _ABSENT for a missing map key when not `strict`, else PatchError."""
        if isinstance(container, dict):
            if key in container:
                return container[key]
            if strict:
                raise self.error(f"unable to get nonexistent key: {key}", pointer)
            return _ABSENT
        return container[self.index_of(container, key, pointer, extra=0)]

    def index_of(self, array: list[Any], key: str, pointer: str, *, extra: int) -> int:
        """An array index as Go's strconv.Atoi reads it; negatives count from the end."""
        if not _INDEX.fullmatch(key):
            raise self.error(f"strconv.Atoi: parsing {key!r}: invalid syntax", pointer)
        index = int(key)
        size = len(array) + extra
        if index >= size or index < -size:
            raise self.error(f"Unable to access invalid index: {index}", pointer)
        return index + size if index < 0 else index

    def parent(self, doc: Any, path: str, what: str, *, copy: bool) -> tuple[Any, Any, str]:
        """(new root, container holding the target, last key); copies the path when `copy`."""
        split = self.split(path)
        if split is None:
            raise self.error(f"{what} does not apply: doc is missing path: {path!r}", path)
        parts, key = split
        root = _shallow(doc) if copy else doc
        node = root
        for part in parts:
            missing = self.error(f"{what} does not apply: doc is missing path: {path!r}", path)
            slot: str | int = part
            if isinstance(node, dict):
                child = node.get(part)
            else:
                try:
                    slot = self.index_of(node, part, path, extra=0)
                except PatchError:
                    raise missing from None
                child = node[slot]
            if not isinstance(child, (dict, list)):
                raise missing
            if copy:
                child = _shallow(child)
                node[slot] = child
            node = child
        return root, node, key

    # -- operations ------------------------------------------------------------------------

    def add(self, doc: Any, path: str, value: Any, *, grows: bool = True) -> Any:
        if grows:
            self.budget.spend(value, self.index)
        if path == "" and not self.lax:
            if not isinstance(value, (dict, list)):
                raise self.error("add operation value must be an object or an array", path)
            return value
        root, node, key = self.parent(doc, path, "add operation", copy=True)
        if isinstance(node, dict):
            node[key] = value
        elif key == "-":
            node.append(value)
        else:
            node.insert(self.index_of(node, key, path, extra=1), value)
        return root

    def remove(self, doc: Any, path: str) -> Any:
        root, node, key = self.parent(doc, path, "remove operation", copy=True)
        if isinstance(node, dict):
            if key not in node:
                raise self.error(f"Unable to remove nonexistent key: {key}", path)
            del node[key]
        else:
            del node[self.index_of(node, key, path, extra=0)]
        return root

    def replace(self, doc: Any, path: str, value: Any) -> Any:
        self.budget.spend(value, self.index)
        if path == "":
            if isinstance(value, (dict, list)):
                return value
            if self.lax:
                return doc  # v4 wraps a nil error here, so the operation silently does nothing
            raise self.error("replace operation value must be object or array", path)
        root, node, key = self.parent(doc, path, "replace operation", copy=True)
        if isinstance(node, dict):
            if key not in node and not self.lax:
                raise self.error(
                    f"replace operation does not apply: doc is missing key: {path}", path
                )
            node[key] = value
        else:
            node[self.index_of(node, key, path, extra=0)] = value
        return root

    def read(self, doc: Any, path: str, what: str) -> Any:
        _, node, key = self.parent(doc, path, what, copy=False)
        return self.get(node, key, path, strict=not self.lax)

    def move(self, doc: Any, source: str, path: str) -> Any:
        if source == "" and not self.lax:
            raise self.error("unable to move entire document to another path", source)
        value = self.read(doc, source, "move operation")
        doc = self.remove(doc, source)
        return self.add_at(doc, path, value, "move operation", grows=False)

    def copy(self, doc: Any, source: str, path: str) -> Any:
        if source == "" and not self.lax:
            value = self.original  # v5 copies the document as it was before the patch
        else:
            value = self.read(doc, source, "copy operation")
        return self.add_at(doc, path, None if value is _ABSENT else value, "copy operation")

    def add_at(self, doc: Any, path: str, value: Any, what: str, *, grows: bool = True) -> Any:
        if self.split(path) is None:
            raise self.error(
                f"{what} does not apply: doc is missing destination path: {path}", path
            )
        if grows:
            self.budget.spend(value, self.index)
        try:
            return self.add(doc, path, value, grows=False)
        except PatchError as error:
            raise self.error(error.message.replace("add operation", what), path) from None

    def test(self, doc: Any, path: str, op: Mapping[str, Any]) -> None:
        if "value" not in op and self.lax:
            raise self.error("test operation: missing value field", path)
        expected = op.get("value")
        if path == "":
            actual: Any = doc
        else:
            _, node, key = self.parent(doc, path, "test operation", copy=False)
            try:
                actual = self.get(node, key, path, strict=True)
            except PatchError:
                if not isinstance(node, dict):
                    raise
                actual = None
        if actual is None or actual is _ABSENT:
            if expected is None:
                return
        elif expected is not None and json_equal(actual, expected):
            return
        raise self.error(f"testing value {path} failed: test failed", path)


def _shallow(node: Any) -> Any:
    return dict(node) if isinstance(node, dict) else list(node)

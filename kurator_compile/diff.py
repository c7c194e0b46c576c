"""Two compiled trees -> what a reviewer needs: per-cluster objects added, removed, changed."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import CompileError
from .tree import CLUSTER_FILE, CLUSTERS_DIR, FileTree
from .yamldoc import load_stream

# Only what the compiler emits is compared; its own state and flux bootstrap are not.
COMPARED_TOP_DIRS = ("clusters", "argocd", "flux")


def read_tree(out: Path) -> FileTree:
    """The compiled files under an output directory, one per object whichever the layout:
    a per-cluster file is read as the per-object files it joins, so reviews name objects."""
    from .render import split_stream

    tree: FileTree = {}
    for top in COMPARED_TOP_DIRS:
        base = out / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.yaml")):
            relative = path.relative_to(out).as_posix()
            if "/flux-system/" in relative or path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            parts = relative.split("/")
            if top == CLUSTERS_DIR and len(parts) == 3 and parts[2] == CLUSTER_FILE:
                folder = relative.rpartition("/")[0]
                tree.update(
                    (f"{folder}/{name}", part) for name, part in split_stream(data, relative)
                )
                continue
            tree[relative] = data
    return tree


def _group(path: str) -> str:
    parts = PurePosixPath(path).parts
    return parts[1] if parts[0] in ("clusters", "flux") and len(parts) > 2 else parts[0]


def _describe(data: bytes, path: str) -> tuple[str, Any]:
    try:
        docs = load_stream(data.decode("utf-8", "replace"), path)
    except CompileError:
        return PurePosixPath(path).name, None
    obj = docs[0].data if docs else None
    if not isinstance(obj, dict):
        return PurePosixPath(path).name, obj
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    kind = f"{obj.get('kind')}.{group}" if group else str(obj.get("kind"))
    return object_label(kind, str(meta.get("namespace") or ""), str(meta.get("name"))), obj


def object_label(kind: str, namespace: str, name: str) -> str:
    """How a review names an object: `Deployment.apps shop/web`."""
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def _replicas(obj: Any) -> Any:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    return spec.get("replicas") if isinstance(spec, dict) else None


@dataclass
class Change:
    kind: str  # added | removed | changed
    path: str
    label: str
    note: str = ""


@dataclass
class TreeDiff:
    groups: dict[str, list[Change]] = field(default_factory=dict)
    # Objects whose replicas leave some clusters for others: (label, "a 7 -> 0, b 0 -> 7").
    moves: list[tuple[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(self.groups.values())


def _count(obj: Any) -> int | None:
    count = _replicas(obj)
    return count if type(count) is int else None


def diff_trees(
    before: Mapping[str, bytes],
    after: Mapping[str, bytes],
    reasons: Mapping[str, str] | None = None,
) -> TreeDiff:
    """Per-folder changes, and replicas that move between clusters (`reasons`: why, by
    object label, as the placement lock explains it)."""
    result = TreeDiff()
    counts: dict[str, dict[str, list[int]]] = {}  # label -> cluster -> [before, after]
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        old_obj = new_obj = None
        if old is None:
            assert new is not None
            label, new_obj = _describe(new, path)
            change = Change("added", path, label)
        elif new is None:
            label, old_obj = _describe(old, path)
            change = Change("removed", path, label)
        else:
            label, old_obj = _describe(old, path)
            _, new_obj = _describe(new, path)
            was, now = _replicas(old_obj), _replicas(new_obj)
            note = f"replicas {was} -> {now}" if was != now else ""
            change = Change("changed", path, label, note)
        group = _group(path)
        result.groups.setdefault(group, []).append(change)
        was_count, now_count = _count(old_obj), _count(new_obj)
        if path.startswith("clusters/") and (was_count is not None or now_count is not None):
            counts.setdefault(label, {})[group] = [was_count or 0, now_count or 0]
    for label, clusters in sorted(counts.items()):
        if any(a > b for a, b in clusters.values()) and any(a < b for a, b in clusters.values()):
            text = ", ".join(f"{c} {a} -> {b}" for c, (a, b) in sorted(clusters.items()) if a != b)
            why = (reasons or {}).get(label)
            result.moves.append((label, f"{text} ({why})" if why else text))
    return result


_SIGN = {"added": "+", "removed": "-", "changed": "~"}


def _counts(changes: list[Change]) -> str:
    return ", ".join(
        f"{sum(c.kind == kind for c in changes)} {kind}" for kind in ("added", "changed", "removed")
    )


def render_text(diff: TreeDiff) -> str:
    if not diff:
        return "no differences\n"
    lines = []
    for group, changes in sorted(diff.groups.items()):
        lines.append(f"{group}: {_counts(changes)}")
        for change in changes:
            note = f": {change.note}" if change.note else ""
            lines.append(f"  {_SIGN[change.kind]} {change.label}{note}")
    if diff.moves:
        lines.append("replicas that move between clusters:")
        lines.extend(f"  {label}: {text}" for label, text in diff.moves)
    return "\n".join(lines) + "\n"


def render_markdown(diff: TreeDiff) -> str:
    if not diff:
        return "**kurator-compile**: no changes to the compiled manifests.\n"
    lines = [
        f"### kurator-compile: {len(diff.groups)} cluster folder(s) change",
        "",
        "| Cluster | Added | Changed | Removed |",
        "|---|---:|---:|---:|",
    ]
    for group, changes in sorted(diff.groups.items()):
        counts = [sum(c.kind == kind for c in changes) for kind in ("added", "changed", "removed")]
        lines.append(f"| `{group}` | {counts[0]} | {counts[1]} | {counts[2]} |")
    for group, changes in sorted(diff.groups.items()):
        lines += ["", f"<details><summary><code>{group}</code></summary>", ""]
        for change in changes:
            note = f": {change.note.replace('->', '→')}" if change.note else ""
            lines.append(f"- {_SIGN[change.kind]} `{change.label}`{note}")
        lines += ["", "</details>"]
    if diff.moves:
        lines += ["", "#### Replicas that move between clusters", ""]
        lines += [f"- `{label}`: {text.replace('->', '→')}" for label, text in diff.moves]
    return "\n".join(lines) + "\n"


def render_patch(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> str:
    chunks = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path, b""), after.get(path, b"")
        if old == new:
            continue
        chunks.append(
            "".join(
                difflib.unified_diff(
                    old.decode("utf-8", "replace").splitlines(keepends=True),
                    new.decode("utf-8", "replace").splitlines(keepends=True),
                    f"a/{path}",
                    f"b/{path}",
                )
            )
        )
    return "".join(chunks)

"""Results -> text for people: diagnostics, the placement plan as a table, JSON or Markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .diff import object_label
from .errors import Diagnostic, Severity
from .placement import ResourcePlacement, moves

PLAN_COLUMNS = ("KIND", "NAMESPACE", "NAME", "POLICY", "REPLICAS", "CLUSTERS")


def _policy_name(placement: ResourcePlacement) -> str:
    policy = placement.policy
    return f"{policy.kind}/{policy.name}" if policy else "-"


def _clusters_cell(placement: ResourcePlacement) -> str:
    if not placement.replicas:
        return "(none)"
    return " ".join(
        name if count is None else f"{name}={count}"
        for name, count in sorted(placement.replicas.items())
    )


def _replicas_cell(placement: ResourcePlacement) -> str:
    counts = [c for c in placement.replicas.values() if c is not None]
    return str(sum(counts)) if counts else "-"


def plan_rows(placements: Sequence[ResourcePlacement]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for placement in sorted(placements, key=lambda p: p.resource.key):
        key = placement.resource.key
        kind = f"{key.kind}.{key.group}" if key.group else key.kind
        rows.append(
            (
                kind,
                key.namespace or "-",
                key.name,
                _policy_name(placement),
                _replicas_cell(placement),
                _clusters_cell(placement),
            )
        )
    return rows


def plan_table(placements: Sequence[ResourcePlacement]) -> str:
    """kubectl-style columns: left-aligned, padded by three spaces, headers in capitals."""
    rows = [PLAN_COLUMNS, *plan_rows(placements)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(PLAN_COLUMNS) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("   ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def plan_markdown(placements: Sequence[ResourcePlacement]) -> str:
    lines = [
        "| " + " | ".join(c.title() for c in PLAN_COLUMNS) + " |",
        "|" + "---|" * len(PLAN_COLUMNS),
    ]
    for row in plan_rows(placements):
        cells = [cell.replace("|", "\\|") for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plan_json(
    placements: Sequence[ResourcePlacement], diagnostics: Sequence[Diagnostic] = ()
) -> str:
    """The plan, and the warnings and advice the table prints on stderr, for scripts."""
    items: list[dict[str, Any]] = []
    for placement in sorted(placements, key=lambda p: p.resource.key):
        key = placement.resource.key
        policy = placement.policy
        items.append(
            {
                "apiVersion": placement.resource.api_version,
                "kind": key.kind,
                "namespace": key.namespace or None,
                "name": key.name,
                "policy": {"kind": policy.kind, "name": policy.name} if policy else None,
                "clusters": dict(sorted(placement.replicas.items())),
            }
        )
        moved = moves(placement)
        if moved:
            items[-1]["moves"] = {
                "clusters": {name: [old, new] for name, old, new in moved},
                "why": placement.why,
            }
    plan = {
        "objects": items,
        "warnings": [_diagnostic_json(d) for d in diagnostics if d.severity is Severity.WARNING],
        "advice": [_diagnostic_json(d) for d in diagnostics if d.severity is Severity.ADVICE],
    }
    return json.dumps(plan, indent=2, sort_keys=True) + "\n"


def _diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    """Where and what, as `render` prints it (null file and 0 line when it has no place)."""
    loc = diagnostic.location
    return {
        "file": str(loc.file) if loc else None,
        "line": loc.line if loc else 0,
        "column": (loc.column or 1) if loc and loc.line else 0,
        "pointer": loc.pointer if loc else "",
        "message": diagnostic.message,
    }


def _moved(placements: Sequence[ResourcePlacement]) -> list[tuple[ResourcePlacement, str]]:
    found = []
    for placement in sorted(placements, key=lambda p: p.resource.key):
        moved = moves(placement)
        if moved:
            text = ", ".join(f"{name} {old} -> {new}" for name, old, new in moved)
            found.append((placement, text))
    return found


def plan_moves(placements: Sequence[ResourcePlacement], markdown: bool = False) -> str:
    """Replicas that change clusters against the placement lock, and why; "" when none."""
    found = _moved(placements)
    if not found:
        return ""
    if markdown:
        lines = ["", "#### Replicas that move between clusters (against the placement lock)", ""]
        for placement, text in found:
            lines.append(f"- `{placement.resource.key}`: {text} ({placement.why})")
    else:
        lines = ["", "Replicas that move between clusters (against the placement lock):"]
        for placement, text in found:
            lines.append(f"  {placement.resource.key}: {text} ({placement.why})")
    return "\n".join(lines) + "\n"


def move_reasons(placements: Sequence[ResourcePlacement]) -> dict[str, str]:
    """Why each object's replicas move, by the label `diff` gives objects."""
    reasons = {}
    for placement, _ in _moved(placements):
        key = placement.resource.key
        kind = f"{key.kind}.{key.group}" if key.group else key.kind
        if placement.why:
            reasons[object_label(kind, key.namespace, key.name)] = placement.why
    return reasons

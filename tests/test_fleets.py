"""Golden trees: every example fleet in fleets/ compiles to exactly its snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from .conftest import REPO, run_cli, tree_of

FLEETS = sorted((REPO / "fleets").glob("*.yaml"))


@pytest.mark.parametrize("fleet", FLEETS, ids=[f.stem for f in FLEETS])
def test_fleet_output_tree(fleet: Path, tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    out = tmp_path / "out"
    result = run_cli("build", "--strict", fleet, "-o", out, "--root", REPO)
    assert result.exit_code == 0, result.output
    tree = {path: data.decode("utf-8") for path, data in tree_of(out).items()}
    assert tree == snapshot


@pytest.mark.parametrize("fleet", FLEETS, ids=[f.stem for f in FLEETS])
def test_fleet_plan(fleet: Path, snapshot: SnapshotAssertion) -> None:
    result = run_cli("plan", fleet, "--root", REPO)
    assert result.exit_code == 0, result.output
    assert result.stdout == snapshot


def test_demo_is_the_default_fleet() -> None:
    assert [f.name for f in FLEETS] == ["demo.yaml"]
    result = run_cli("validate", cwd=REPO)
    assert result.exit_code == 0, result.output
    assert "demo: 4 clusters" in result.stderr

"""Golden trees: every example fleet in fleets/ compiles to exactly its snapshot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from .conftest import REPO, run_cli, tree_of

FLEETS = (
    sorted((REPO / "fleets").glob("*.yaml"))
    + sorted((REPO / "fleets/seed").glob("*.yaml"))
    + sorted((REPO / "fleets/kurator").glob("*.yaml"))
)
STATE = ".kurator/state.json"
IDS = [f"kurator-{f.stem}" if f.parent.name == "kurator" else f.stem for f in FLEETS]
# Kurator example fleets whose warnings are the point, not a mistake (they are in the snapshot).
KURATOR_WARNS = {
    "backup": "Restores wait for backups at run time; the plugin reads a plaintext Secret",
    "metric": "the plugin reads a plaintext object-store Secret",
    "network-submariner": "the broker's token and CA exist only at run time",
    "quickstart": "its Cluster provisions a cluster, which is not compiled",
}


def strict_flags(fleet: Path) -> list[str]:
    """Seed listings imitate an article and warn where it departs from upstream APIs."""
    if fleet.parent.name == "seed" or (
        fleet.parent.name == "kurator" and fleet.stem in KURATOR_WARNS
    ):
        return []
    return ["--strict"]


@pytest.mark.parametrize("fleet", FLEETS, ids=IDS)
def test_fleet_output_tree(fleet: Path, tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    out = tmp_path / "out"
    strict = strict_flags(fleet)
    lock = tmp_path / "fleet.lock.json"
    result = run_cli("build", *strict, fleet, "-o", out, "--root", REPO, "--lock", lock)
    assert result.exit_code == 0, result.output
    tree = {path: data.decode("utf-8") for path, data in tree_of(out).items()}
    # the inputs' digest covers the compiler's own bytes: it would change with every edit of
    # the compiler (tests/test_committed_state.py and test_determinism.py pin it instead)
    tree[STATE] = re.sub(r'"inputs": "[0-9a-f]{64}"', '"inputs": "(sha256)"', tree[STATE])
    tree["(warnings on stderr)"] = "\n".join(
        line for line in result.stderr.splitlines() if ": warning: " in line
    )
    assert tree == snapshot


@pytest.mark.parametrize("fleet", FLEETS, ids=IDS)
def test_fleet_plan(fleet: Path, snapshot: SnapshotAssertion) -> None:
    result = run_cli("plan", fleet, "--root", REPO)
    assert result.exit_code == 0, result.output
    assert result.stdout == snapshot


def test_demo_is_the_default_fleet() -> None:
    assert [f.name for f in (REPO / "fleets").glob("*.yaml")] == ["demo.yaml"]
    result = run_cli("validate", cwd=REPO)
    assert result.exit_code == 0, result.output
    assert "demo: 4 clusters" in result.stderr


def test_seed_listing_07_needs_a_selector(tmp_path: Path) -> None:
    """The article's HA controller Deployment has no spec.selector, which apps/v1 requires."""
    (tmp_path / ".git").mkdir()
    listing = REPO / "fleets/seed/listings/07-ha-controller-deployment.yaml"
    (tmp_path / "ha.yaml").write_text(listing.read_text())
    fleet_text = (REPO / "fleets/seed/placement.yaml").read_text().split("  resources:")[0]
    policy = (
        "---\napiVersion: policy.karmada.io/v1alpha1\nkind: ClusterPropagationPolicy\n"
        "metadata: {name: controller}\nspec:\n  resourceSelectors:\n"
        "    - {apiVersion: apps/v1, kind: Deployment}\n"
    )
    (tmp_path / "fleet.yaml").write_text(fleet_text + "  resources: [ha.yaml]\n" + policy)
    result = run_cli("build", tmp_path / "fleet.yaml", "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "ha.yaml:5:1: error: clusters cluster-beijing, cluster-guangzhou" in result.stderr
    assert "'selector' is a required property" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", sorted(KURATOR_WARNS))
def test_kurator_fleets_that_warn_validate_every_object(name: str, tmp_path: Path) -> None:
    """Built without --strict for the reason in KURATOR_WARNS, but every object they emit is
    still checked against a schema (Kubernetes' or a shipped CRD's)."""
    fleet = REPO / "fleets/kurator" / f"{name}.yaml"
    lock = tmp_path / "fleet.lock.json"
    result = run_cli("build", fleet, "-o", tmp_path / "out", "--root", REPO, "--lock", lock)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert warnings
    assert not [line for line in warnings if "no schema" in line or "not validated" in line]

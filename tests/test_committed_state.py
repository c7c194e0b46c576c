"""`check` and `build` in a fresh clone (no `.kurator/cache.json`): the committed state file
records the digest of the inputs, options and compiler that produced the tree, so an
unchanged repository is verified by reading the output files against the digests the state
records, without compiling. Anything else compiles and reports as before. Compilations are
counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

import kurator_compile.cli as cli
import kurator_compile.compile as compile_module

from .conftest import copy_demo, count_calls, git_run, run_cli

OUT = "rendered"
STATE = f"{OUT}/.kurator/state.json"
EDITED = f"{OUT}/clusters/cluster-beijing/configmap_shop_cluster-info.yaml"


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return count_calls(monkeypatch, compile_module, "analyse")


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A fleet repository built and committed, then cloned: only what git holds."""
    origin = copy_demo(tmp_path / "origin", git=True)
    built = run_cli("build", "fleets/demo.yaml", "-o", OUT, cwd=origin)
    assert built.exit_code == 0, built.stderr
    git_run(origin, "add", ".")
    git_run(origin, "commit", "-q", "-m", "fleet and its tree")
    git_run(tmp_path, "clone", "-q", str(origin), "clone")
    fresh = tmp_path / "clone"
    assert not (fresh / OUT / ".kurator" / "cache.json").exists()
    return fresh


def _check(repo: Path, *extra: str) -> Result:
    return run_cli("check", "fleets/demo.yaml", "-o", OUT, *extra, cwd=repo)


def _stale_report(repo: Path) -> str:
    return (
        f"changed: {EDITED}\n"
        f"{OUT} is stale: 0 to add, 1 to change, 0 to remove; run `kurator-compile build` and "
        "commit the result\n"
    )


def test_check_in_a_fresh_clone_does_not_compile(clone: Path, compiles: list[int]) -> None:
    result = _check(clone)
    assert result.exit_code == 0, result.stderr
    assert compiles[0] == 0
    assert result.stderr.endswith("rendered is up to date (35 files)\n")


def test_build_in_a_fresh_clone_does_not_compile_and_leaves_a_stat_cache(
    clone: Path, compiles: list[int]
) -> None:
    before = (clone / STATE).read_bytes()
    result = run_cli("build", "fleets/demo.yaml", "-o", OUT, "--fail-on-change", cwd=clone)
    assert result.exit_code == 0, result.stderr
    assert compiles[0] == 0
    assert "rendered is up to date: 0 written, 0 removed" in result.stderr
    assert (clone / STATE).read_bytes() == before
    assert (clone / OUT / ".kurator" / "cache.json").exists()
    again = _check(clone)  # now by sizes and mtimes
    assert again.exit_code == 0, again.stderr
    assert compiles[0] == 0


def test_a_hand_edit_is_reported_as_before(clone: Path, compiles: list[int]) -> None:
    with (clone / EDITED).open("a") as handle:
        handle.write("# edited by hand\n")
    result = _check(clone)
    assert result.exit_code == 1
    assert compiles[0] == 1
    assert result.stdout + result.stderr == _stale_report(clone)


def test_a_missing_file_is_reported_as_before(clone: Path, compiles: list[int]) -> None:
    (clone / EDITED).unlink()
    result = _check(clone)
    assert result.exit_code == 1
    assert compiles[0] == 1
    assert f"added: {EDITED}\n" in result.stdout


def test_a_stray_file_is_reported_without_compiling(clone: Path, compiles: list[int]) -> None:
    stray = clone / OUT / "clusters" / "cluster-beijing" / "extra.yaml"
    stray.write_text("kind: ConfigMap\n")
    result = _check(clone)
    assert result.exit_code == 1
    assert compiles[0] == 0
    assert (
        result.stdout
        == f"not written by kurator-compile: {OUT}/clusters/cluster-beijing/extra.yaml\n"
    )
    assert result.stderr.startswith(f"{OUT} holds 1 file in cluster folders that kurator-compile")


def test_a_changed_input_compiles_and_reports(clone: Path, compiles: list[int]) -> None:
    fleet = clone / "fleets" / "demo.yaml"
    fleet.write_text(fleet.read_text().replace('kubeVersion: "1.30"', 'kubeVersion: "1.31"', 1))
    result = _check(clone)
    assert compiles[0] == 1
    assert result.exit_code == 0, result.stderr  # the tree does not depend on it
    assert result.stderr.endswith("rendered is up to date (35 files)\n")
    app = next((clone / "apps").rglob("*.yaml"))
    app.write_text(app.read_text() + "\n")  # one byte: the output is the same, still compiled
    assert _check(clone).exit_code == 0
    assert compiles[0] == 2


@pytest.mark.parametrize("option", ["--strict", "--loose", "--kustomization", "--no-validate"])
def test_a_changed_option_compiles(clone: Path, compiles: list[int], option: str) -> None:
    result = _check(clone, option)
    assert compiles[0] == 1
    assert result.exit_code in (0, 1), result.stderr


def test_another_compiler_version_compiles(
    clone: Path, compiles: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "__version__", "0.0.0-other")
    assert _check(clone).exit_code == 0
    assert compiles[0] == 1


@pytest.mark.parametrize(
    "damage",
    ["truncated", "inputs edited", "inputs removed", "a file dropped from the list", "journal"],
)
def test_a_damaged_state_falls_back_to_compiling(
    clone: Path, compiles: list[int], damage: str
) -> None:
    state = clone / STATE
    raw = json.loads(state.read_text())
    if damage == "truncated":
        state.write_text(state.read_text()[:100])
    elif damage == "inputs edited":
        raw["inputs"] = "0" * 64
        state.write_text(json.dumps(raw))
    elif damage == "inputs removed":
        del raw["inputs"]
        state.write_text(json.dumps(raw))
    elif damage == "a file dropped from the list":
        del raw["files"][EDITED.removeprefix(f"{OUT}/")]
        state.write_text(json.dumps(raw))
    else:
        (clone / OUT / ".kurator" / "journal.json").write_text(state.read_text())
    result = _check(clone)
    if damage == "truncated":  # refused when its layout is read, before any compiling
        assert compiles[0] == 0
        assert result.exit_code == 2
        assert "cannot read" in result.stderr
    else:
        assert compiles[0] == 1
        assert result.exit_code in (0, 1), result.stderr


def test_the_state_records_the_inputs_the_same_in_every_clone(tmp_path: Path) -> None:
    """Root-relative paths and the compiler's bytes, not where the checkout is."""
    states = []
    for name in ("one", "somewhere/else/two"):
        repo = copy_demo(tmp_path / name)
        result = run_cli("build", "fleets/demo.yaml", "-o", OUT, cwd=repo)
        assert result.exit_code == 0, result.stderr
        states.append((repo / STATE).read_bytes())
    assert states[0] == states[1]
    assert b'"inputs": "' in states[0]


def test_a_per_cluster_tree_in_a_fresh_clone_is_checked_without_compiling(
    tmp_path: Path, compiles: list[int]
) -> None:
    """The state records both the layout and the inputs: a clone of a per-cluster tree is
    verified from them, and a hand edit of a cluster file is still found."""
    origin = copy_demo(tmp_path / "origin", git=True)
    built = run_cli("build", "fleets/demo.yaml", "-o", OUT, "--layout", "per-cluster", cwd=origin)
    assert built.exit_code == 0, built.stderr
    state = json.loads((origin / STATE).read_text())
    assert state["layout"] == "per-cluster"
    assert len(state["inputs"]) == 64
    git_run(origin, "add", ".")
    git_run(origin, "commit", "-q", "-m", "fleet and its tree")
    git_run(tmp_path, "clone", "-q", str(origin), "clone")
    clone = tmp_path / "clone"
    compiles[0] = 0
    result = _check(clone)
    assert result.exit_code == 0, result.stderr
    assert compiles[0] == 0
    cluster_file = clone / OUT / "clusters/cluster-beijing/all.yaml"
    cluster_file.write_text(cluster_file.read_text() + "# edited\n")
    assert _check(clone).exit_code == 1
    assert compiles[0] == 1

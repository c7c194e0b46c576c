"""`build --shard I/N`: each shard writes only its clusters; together they are the full build."""

from __future__ import annotations

from pathlib import Path

from click.testing import Result

from .conftest import REPO, run_cli, tree_of

DEMO = REPO / "fleets" / "demo.yaml"


def _build(tmp_path: Path, out: Path, *extra: str) -> Result:
    """Build the demo; its placement lock goes to `tmp_path`, never into the repository."""
    lock = tmp_path / "demo.lock.json"
    return run_cli("build", DEMO, "-o", out, "--root", REPO, "--lock", lock, *extra)


def _compiled(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {p: b for p, b in tree.items() if not p.startswith(".kurator/")}


def test_shards_union_equals_full_build(tmp_path: Path) -> None:
    full = tmp_path / "full"
    assert _build(tmp_path, full).exit_code == 0
    union: dict[str, bytes] = {}
    seen_clusters: list[set[str]] = []
    for index in (1, 2, 3):
        out = tmp_path / f"shard-{index}"
        result = _build(tmp_path, out, "--shard", f"{index}/3")
        assert result.exit_code == 0, result.output
        files = _compiled(tree_of(out))
        assert not union.keys() & files.keys()  # no file is written by two shards
        union.update(files)
        seen_clusters.append({p.split("/")[1] for p in files if p.startswith("clusters/")})
    assert union == _compiled(tree_of(full))
    assert all(seen_clusters)


def test_shards_share_one_output_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for index in (1, 2):
        result = _build(tmp_path, out, "--shard", f"{index}/2")
        assert result.exit_code == 0, result.output
    full = tmp_path / "full"
    _build(tmp_path, full)
    assert _compiled(tree_of(out)) == _compiled(tree_of(full))
    assert (out / ".kurator/state.shard-1-of-2.json").is_file()
    again = _build(tmp_path, out, "--shard", "2/2")
    assert "0 written, 0 removed" in again.stderr


def test_bad_shard_is_a_usage_error(tmp_path: Path) -> None:
    result = _build(tmp_path, tmp_path / "o", "--shard", "3/2")
    assert result.exit_code == 2
    assert "--shard takes I/N with 1 <= I <= N, not '3/2'" in result.stderr

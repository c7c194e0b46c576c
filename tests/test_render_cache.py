"""`render`'s cache: a hit prints exactly what a fresh render prints; any change of an input
byte, an option or the compiler misses; concurrent renders are safe; the size bound evicts;
a damaged entry is recomputed, never trusted. Hits and misses are told apart by counting
compilations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result

import kurator_compile.cli as cli
from kurator_compile.rendercache import RenderCache, Rendered

from .conftest import REPO, count_calls, run_cli
from .synthetic import cluster_name, write_fleet

CLUSTERS = 6


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    return write_fleet(tmp_path / "repo", clusters=CLUSTERS, apps=2, overlays=True)


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return count_calls(monkeypatch, cli, "_analysis")


def _render(fleet: Path, cluster: str, *extra: str) -> Result:
    lock = fleet.with_suffix(".test-lock.json")
    return run_cli("render", fleet, "--cluster", cluster, "--lock", lock, *extra)


def _entries(tmp_path: Path) -> list[Path]:
    root = Path(os.environ["KURATOR_COMPILE_CACHE_DIR"])
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "globs"]


def test_a_hit_prints_what_a_fresh_render_prints(fleet: Path, compiles: list[int]) -> None:
    first = _render(fleet, cluster_name(0))
    assert first.exit_code == 0, first.stderr
    assert compiles[0] == 1
    for index in range(CLUSTERS):
        cached = _render(fleet, cluster_name(index))
        fresh = _render(fleet, cluster_name(index), "--no-cache")
        assert cached.exit_code == fresh.exit_code == 0
        assert cached.stdout_bytes == fresh.stdout_bytes
        assert cached.stderr_bytes == fresh.stderr_bytes
    # one compilation filled the cache for every cluster; the others are the --no-cache runs
    assert compiles[0] == 1 + CLUSTERS


def test_warnings_are_replayed_on_a_hit(fleet: Path, compiles: list[int]) -> None:
    (fleet.parent.parent / "apps" / "app-00.yaml").write_text(
        (fleet.parent.parent / "apps" / "app-00.yaml").read_text()
        + "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: unplaced, namespace: apps}\n"
    )
    fresh = _render(fleet, cluster_name(1), "--no-cache")
    assert "warning" in fresh.stderr
    _render(fleet, cluster_name(0))
    before = compiles[0]
    cached = _render(fleet, cluster_name(1))
    assert compiles[0] == before
    assert cached.stderr_bytes == fresh.stderr_bytes


def test_each_clusters_own_warnings_are_stored_with_it(fleet: Path, compiles: list[int]) -> None:
    """The checks on a cluster's emitted objects (a PodDisruptionBudget that blocks drains)
    give each cluster its own warnings; a hit replays that cluster's, not the first one's."""
    (fleet.parent.parent / "apps" / "pdb.yaml").write_text(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\n"
        "metadata: {name: app-00, namespace: apps}\n"
        "spec: {maxUnavailable: 0, selector: {matchLabels: {app: app-00}}}\n"
    )
    fresh = _render(fleet, cluster_name(1), "--no-cache")
    assert f"on {cluster_name(1)}: maxUnavailable is 0" in fresh.stderr
    _render(fleet, cluster_name(0))
    before = compiles[0]
    cached = _render(fleet, cluster_name(1))
    assert compiles[0] == before
    assert cached.stderr_bytes == fresh.stderr_bytes


@pytest.mark.parametrize(
    "change",
    ["input byte", "strict", "kube version", "api versions", "allow empty", "version", "lock"],
)
def test_any_change_misses(
    fleet: Path, compiles: list[int], monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    assert _render(fleet, cluster_name(0)).exit_code == 0
    assert _render(fleet, cluster_name(1)).exit_code == 0
    assert compiles[0] == 1
    extra: tuple[str, ...] = ()
    if change == "input byte":
        app = fleet.parent.parent / "apps" / "app-01.yaml"
        app.write_bytes(app.read_bytes().replace(b"LOG_LEVEL: info", b"LOG_LEVEL: infO"))
    elif change == "strict":
        extra = ("--strict",)
    elif change == "kube version":
        extra = ("--kube-version", "1.29.4")
    elif change == "api versions":
        extra = ("--kube-api-versions", "v1,apps/v1")
    elif change == "allow empty":
        extra = ("--allow-empty",)
    elif change == "version":
        monkeypatch.setattr(cli, "__version__", "0.0.0-other")
    elif change == "lock":
        fleet.with_suffix(".test-lock.json").write_text("{}\n")  # a bad lock: a warning
    result = _render(fleet, cluster_name(1), *extra)
    assert result.exit_code == 0, result.stderr
    assert compiles[0] == 2
    if change == "input byte":
        assert "LOG_LEVEL: infO" in result.stdout


def test_a_damaged_entry_is_recomputed(fleet: Path, compiles: list[int], tmp_path: Path) -> None:
    fresh = _render(fleet, cluster_name(2), "--no-cache").stdout_bytes
    _render(fleet, cluster_name(0))
    for entry in _entries(tmp_path):
        data = bytearray(entry.read_bytes())
        data[-3] ^= 0x01  # one bit of the stream: its digest no longer matches
        entry.write_bytes(bytes(data))
    before = compiles[0]
    result = _render(fleet, cluster_name(2))
    assert compiles[0] == before + 1
    assert result.stdout_bytes == fresh


def test_a_truncated_entry_is_not_used(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    cache.store("k", {"a": Rendered("kind: A\n", ("w",))})
    (entry,) = list((tmp_path / "cache" / "k").iterdir())
    assert cache.load("k", "a") == Rendered("kind: A\n", ("w",))
    entry.write_bytes(entry.read_bytes()[:-4])
    assert cache.load("k", "a") is None
    entry.write_bytes(b"garbage")
    assert cache.load("k", "a") is None


def test_the_size_bound_evicts_the_least_recently_used(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache", limit=3000)
    big = "x" * 1000
    cache.store("old", {"a": Rendered(big, ())})
    cache.store("used", {"a": Rendered(big, ())})
    os.utime(tmp_path / "cache" / "old", ns=(1, 1))
    os.utime(tmp_path / "cache" / "used", ns=(2, 2))
    assert cache.load("used", "a") is not None  # used now: newest
    cache.store("new", {"a": Rendered(big, ())})
    assert cache.load("old", "a") is None
    assert cache.load("used", "a") is not None
    assert cache.load("new", "a") is not None


def test_concurrent_renders_agree_with_fresh_ones(fleet: Path, tmp_path: Path) -> None:
    lock = fleet.with_suffix(".test-lock.json")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    expected = {
        name: _render(fleet, name, "--no-cache").stdout_bytes
        for name in (cluster_name(i) for i in range(CLUSTERS))
    }
    argv = [sys.executable, "-m", "kurator_compile", "render", str(fleet), "--lock", str(lock)]
    processes = [
        (
            name,
            subprocess.Popen(
                [*argv, "--cluster", name], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            ),
        )
        for _ in range(2)
        for name in expected
    ]
    for name, process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert out == expected[name]
    leftovers = [p for p in _entries(tmp_path) if p.name.endswith(".tmp")]
    assert leftovers == []

"""kill -9 at random moments of a build never loses a file or leaves a partial one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from .conftest import tree_of
from .synthetic import write_fleet

TMP_SUFFIX = ".kurator-tmp"


def _build(fleet: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        # The new version drops objects on purpose.
        [
            sys.executable,
            "-m",
            "kurator_compile",
            "-q",
            "build",
            str(fleet),
            "-o",
            str(out),
            "--allow-removal",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _cluster_files(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {p: b for p, b in tree.items() if p.startswith("clusters/")}


def test_kill_during_build_never_loses_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    fleet = write_fleet(repo, clusters=60, apps=10)
    out = tmp_path / "out"
    assert _build(fleet, out).wait() == 0
    old = _cluster_files(tree_of(out))
    # The new version changes every Deployment and drops every ConfigMap.
    for app in sorted((repo / "apps").glob("*.yaml")):
        text = app.read_text().replace("replicas: 3", "replicas: 4")
        app.write_text(text.split("---\napiVersion: v1\nkind: ConfigMap")[0])
    expected_run = tmp_path / "expected"
    assert _build(fleet, expected_run).wait() == 0
    new = _cluster_files(tree_of(expected_run))
    rng = random.Random(20261127)
    kills = 0
    for _ in range(12):
        process = _build(fleet, out)
        time.sleep(rng.uniform(0.05, 1.2))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
        current = tree_of(out)
        for path, data in _cluster_files(current).items():
            if path.endswith(TMP_SUFFIX):
                continue  # a temporary name: never the real file, cleaned by the next run
            assert data in (old.get(path), new.get(path)), f"partial or foreign bytes in {path}"
        for path in old.keys() & new.keys():
            assert path in current, f"{path} was lost"
    assert kills > 0, "no build was interrupted; the timing window missed"
    assert _build(fleet, out).wait() == 0
    final = tree_of(out)
    assert _cluster_files(final) == new
    assert not [p for p in final if p.endswith(TMP_SUFFIX) or p.endswith("journal.json")]


def test_concurrent_builds_do_not_interleave(tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path / "repo", clusters=40, apps=5)
    out = tmp_path / "out"
    first, second = _build(fleet, out), _build(fleet, out)
    assert first.wait() == 0
    assert second.wait() == 0
    expected = tmp_path / "expected"
    assert _build(fleet, expected).wait() == 0
    assert _cluster_files(tree_of(out)) == _cluster_files(tree_of(expected))

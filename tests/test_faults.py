"""kill -9 at random moments of a build never loses a file or leaves a partial one."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kurator_compile import emit
from kurator_compile.emit import JOURNAL_FILE, compare_tree, write_tree

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


# Deterministic kills: a BaseException raised from the writer's own system calls stops the run
# where kill -9 would (no cleanup runs: the writer only catches OSError), at every step in turn.

OLD = {
    "clusters/alpha/configmap_default_a.yaml": b"a: 1\n",
    "clusters/alpha/configmap_default_b.yaml": b"b: 1\n",
    "clusters/beta/configmap_default_a.yaml": b"a: 1\n",
}
NEW = {
    "clusters/alpha/configmap_default_a.yaml": b"a: 2\n",  # changed
    "clusters/alpha/configmap_default_c.yaml": b"c: 1\n",  # new, in an existing folder
    "clusters/beta/configmap_default_a.yaml": b"a: 1\n",
    "clusters/beta/sub/configmap_default_d.yaml": b"d: 1\n" * 1000,  # new, in a new folder
}


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def _kill_at(monkeypatch: pytest.MonkeyPatch, name: str, step: int) -> list[int]:
    """Make `os.<name>` (as the writer calls it) die on its `step`-th call."""
    real = getattr(os, name)
    calls = [0]

    def dying(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] == step:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(emit.os, name, dying)
    return calls


def _leftovers(out: Path) -> list[str]:
    return sorted(p for p in tree_of(out) if p.endswith(TMP_SUFFIX) or "journal" in p)


@pytest.mark.parametrize("revert", [False, True], ids=["finish", "revert"])
@pytest.mark.parametrize(("call", "steps"), [("write", 6), ("replace", 5), ("unlink", 3)])
def test_killed_build_then_any_build_leaves_a_clean_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, revert: bool, call: str, steps: int
) -> None:
    """After a kill at any write, rename or removal, the next build (of the new tree or of the
    previous one) leaves exactly its tree: no temporaries, no journal; until then `check`
    reports the interrupted build."""
    for step in range(1, steps + 1):
        out = tmp_path / f"{call}-{step}"
        write_tree(out, OLD, allow_removal=True)
        with monkeypatch.context() as patch:
            calls = _kill_at(patch, call, step)
            with contextlib.suppress(Killed):
                write_tree(out, NEW, allow_removal=True)
        if calls[0] < step:
            continue  # this run made fewer calls: nothing to interrupt
        current = tree_of(out)
        for path, data in current.items():
            if path.startswith("clusters/") and not path.endswith(TMP_SUFFIX):
                assert data in (OLD.get(path), NEW.get(path)), f"partial bytes in {path}"
        target = OLD if revert else NEW
        clusters = {p: b for p, b in current.items() if p.startswith("clusters/")}
        dirty = clusters != target or (out / JOURNAL_FILE).exists()
        assert bool(compare_tree(out, target)) == dirty, "check calls the tree up to date"
        write_tree(out, target, allow_removal=True)
        assert _leftovers(out) == [], (step, _leftovers(out))
        clusters = {p: b for p, b in tree_of(out).items() if p.startswith("clusters/")}
        assert clusters == (OLD if revert else NEW), step
        assert not compare_tree(out, OLD if revert else NEW)


def test_new_files_appear_only_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill in the middle of writing a new file leaves no file under the final name."""
    out = tmp_path / "out"
    write_tree(out, OLD, allow_removal=True)
    real_write = os.write

    def short_then_die(fd: int, data: object) -> int:
        view = memoryview(data)  # type: ignore[arg-type]
        if len(view) > 2000:  # the big new file, not the journal
            real_write(fd, view[:100])
            raise Killed
        return real_write(fd, view)

    monkeypatch.setattr(emit.os, "write", short_then_die)
    with pytest.raises(Killed):
        write_tree(out, NEW, allow_removal=True)
    assert not (out / "clusters/beta/sub/configmap_default_d.yaml").exists()
    assert not (out / "clusters/alpha/configmap_default_c.yaml").exists()

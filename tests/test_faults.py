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
from kurator_compile.emit import JOURNAL_FILE, compare_tree, foreign_files, write_tree

from .conftest import tree_of
from .synthetic import write_fleet

TMP_SUFFIX = ".kurator-tmp"


def _temporary(path: str) -> bool:
    """A temporary file, or a file in a temporary folder: never a real file of the tree."""
    return any(part.endswith(TMP_SUFFIX) for part in path.split("/"))


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
            if _temporary(path):
                continue  # a temporary name: never the real file, cleaned by the next run
            assert data in (old.get(path), new.get(path)), f"partial or foreign bytes in {path}"
        for path in old.keys() & new.keys():
            assert path in current, f"{path} was lost"
    assert kills > 0, "no build was interrupted; the timing window missed"
    assert _build(fleet, out).wait() == 0
    final = tree_of(out)
    assert _cluster_files(final) == new
    assert not [p for p in final if _temporary(p) or p.endswith("journal.json")]
    assert not list(out.rglob(f"*{TMP_SUFFIX}"))


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
    """Temporary files and folders (empty ones too), and journals."""
    found = {p.relative_to(out).as_posix() for p in out.rglob(f"*{TMP_SUFFIX}")}
    return sorted(found | {p for p in tree_of(out) if _temporary(p) or "journal" in p})


@pytest.mark.parametrize("revert", [False, True], ids=["finish", "revert"])
@pytest.mark.parametrize(
    ("call", "steps"), [("write", 6), ("replace", 5), ("unlink", 3), ("mkdir", 3)]
)
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
            if path.startswith("clusters/") and not _temporary(path):
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


FRESH = {
    "argocd/app.yaml": b"app: 1\n",
    "clusters/alpha/configmap_default_a.yaml": b"a: 1\n",
    "clusters/alpha/configmap_default_b.yaml": b"b: 1\n",
    "clusters/beta/configmap_default_a.yaml": b"a: 1\n",
    "clusters/beta/sub/configmap_default_d.yaml": b"d: 1\n",
}


@pytest.mark.parametrize(("call", "steps"), [("write", 7), ("replace", 4), ("mkdir", 6)])
def test_killed_fresh_build_then_the_next_build_leaves_a_clean_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str, steps: int
) -> None:
    """A fresh build writes its new folders whole under temporary names and renames them once:
    killed at any step, it shows no file of the tree but complete ones, and the next build
    clears its temporary folders and leaves exactly the tree."""
    for step in range(1, steps + 1):
        out = tmp_path / f"{call}-{step}"
        with monkeypatch.context() as patch:
            calls = _kill_at(patch, call, step)
            with contextlib.suppress(Killed):
                write_tree(out, FRESH)
        if calls[0] < step:
            continue
        for path, data in tree_of(out).items():
            if not _temporary(path) and not path.startswith(".kurator/"):
                assert data == FRESH[path], f"partial bytes in {path}"
        # a new cluster folder not yet in place is no cluster's, nor foreign files in one
        assert foreign_files(out, FRESH) == []
        write_tree(out, FRESH)
        assert _leftovers(out) == [], (step, _leftovers(out))
        assert {p: b for p, b in tree_of(out).items() if not p.startswith(".kurator/")} == FRESH
        assert not compare_tree(out, FRESH)


def _count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    real = getattr(os, name)
    seen: list[str] = []

    def counting(*args: object, **kwargs: object) -> object:
        seen.append(str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(emit.os, name, counting)
    return seen


def test_a_new_folder_is_renamed_once_not_file_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    tree = {f"clusters/c{c}/configmap_default_{f}.yaml": b"x\n" for c in range(3) for f in range(4)}
    with monkeypatch.context() as patch:
        renames = _count_calls(patch, "replace")
        unlinks = _count_calls(patch, "unlink")
        write_tree(out, tree)
    assert [r for r in renames if "clusters" in r] == [f"{out}/.clusters{TMP_SUFFIX}"]
    assert not [u for u in unlinks if "clusters" in u]  # no leftover temporary to clear
    assert {p: b for p, b in tree_of(out).items() if p.startswith("clusters/")} == tree
    # a new cluster in an existing tree: its folder, once
    grown = {**tree, **{f"clusters/c9/configmap_default_{f}.yaml": b"y\n" for f in range(4)}}
    with monkeypatch.context() as patch:
        renames = _count_calls(patch, "replace")
        write_tree(out, grown)
    assert [r for r in renames if "clusters" in r] == [f"{out}/clusters/.c9{TMP_SUFFIX}"]
    assert {p: b for p, b in tree_of(out).items() if p.startswith("clusters/")} == grown
    # killed before that rename: the folder waits under its temporary name, which is no
    # cluster's and holds no foreign file; the next build puts it in place
    more = {**grown, **{f"clusters/c8/configmap_default_{f}.yaml": b"z\n" for f in range(4)}}
    with monkeypatch.context() as patch:
        _kill_at(patch, "replace", 2)  # the journal's, then the folder's
        with contextlib.suppress(Killed):
            write_tree(out, more)
    assert (out / f"clusters/.c8{TMP_SUFFIX}/configmap_default_0.yaml").exists()
    assert foreign_files(out, more) == []
    assert compare_tree(out, more).interrupted == JOURNAL_FILE
    write_tree(out, more)
    assert _leftovers(out) == []
    assert {p: b for p, b in tree_of(out).items() if p.startswith("clusters/")} == more


def test_a_temporary_folder_holding_foreign_files_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed run's temporary folder loses only the files that runs of ours meant to write;
    a file nobody listed stays, and the build writes that folder's files one by one instead."""
    out = tmp_path / "out"
    write_tree(out, OLD, allow_removal=True)
    with monkeypatch.context() as patch:
        _kill_at(patch, "replace", 2)  # the journal's, then the first of phase 2
        with contextlib.suppress(Killed):
            write_tree(out, NEW, allow_removal=True)
    leftover = out / f"clusters/beta/.sub{TMP_SUFFIX}"
    assert (leftover / "configmap_default_d.yaml").read_bytes() == NEW[
        "clusters/beta/sub/configmap_default_d.yaml"
    ]
    (leftover / "notes.txt").write_bytes(b"mine\n")
    write_tree(out, NEW, allow_removal=True)
    assert sorted(p.name for p in leftover.iterdir()) == ["notes.txt"]
    clusters = {p: b for p, b in tree_of(out).items() if p.startswith("clusters/")}
    assert {p: b for p, b in clusters.items() if not _temporary(p)} == NEW

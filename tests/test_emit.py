"""The output tree: atomic writes, no needless rewrites, pruning only what we wrote."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from kurator_compile import __version__, emit
from kurator_compile.emit import (
    JOURNAL_FILE,
    STATE_FILE,
    compare_tree,
    digest,
    is_safe_relpath,
    read_state,
    state_bytes,
    write_tree,
)
from kurator_compile.errors import CompileError

from .conftest import DEPLOYMENT, FLEET_HEADER, POLICY_ALL, run_cli, tree_of

NOBODY = 65534  # the unprivileged user and group of Debian and most Linux systems
TREE = {
    "clusters/alpha/configmap_default_a.yaml": b"a: 1\n",
    "clusters/alpha/configmap_default_b.yaml": b"b: 1\n",
    "clusters/beta/configmap_default_a.yaml": b"a: 1\n",
}


def test_first_write_and_state(tmp_path: Path) -> None:
    report = write_tree(tmp_path / "out", TREE)
    assert sorted(report.written) == sorted(TREE)
    files = tree_of(tmp_path / "out")
    assert {k: v for k, v in files.items() if k.startswith("clusters/")} == TREE
    state = json.loads(files[STATE_FILE])
    assert sorted(state["files"]) == sorted(TREE)
    assert JOURNAL_FILE not in files


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    before = {p: os.stat(out / p).st_mtime_ns for p in TREE}
    inode = {p: os.stat(out / p).st_ino for p in TREE}
    report = write_tree(out, TREE)
    assert report.written == []
    assert report.removed == []
    assert report.unchanged == len(TREE)
    assert {p: os.stat(out / p).st_mtime_ns for p in TREE} == before
    assert {p: os.stat(out / p).st_ino for p in TREE} == inode


def test_only_files_we_wrote_are_pruned(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    (out / "clusters/alpha/mine.yaml").write_bytes(b"hand-written\n")
    flux = out / "clusters/alpha/flux-system"
    flux.mkdir()
    (flux / "gotk-sync.yaml").write_bytes(b"flux\n")
    smaller = {k: v for k, v in TREE.items() if not k.endswith("_b.yaml")}
    report = write_tree(out, smaller, allow_removal=True)
    assert report.removed == ["clusters/alpha/configmap_default_b.yaml"]
    assert (out / "clusters/alpha/mine.yaml").read_bytes() == b"hand-written\n"
    assert (flux / "gotk-sync.yaml").read_bytes() == b"flux\n"


def test_cluster_removal_needs_the_flag(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    without_beta = {k: v for k, v in TREE.items() if "/beta/" not in k}
    with pytest.raises(CompileError, match=r"beta.*--allow-cluster-removal"):
        write_tree(out, without_beta)
    assert (out / "clusters/beta/configmap_default_a.yaml").exists()
    write_tree(out, without_beta, allow_cluster_removal=True)
    assert not (out / "clusters/beta").exists()


def test_refuses_foreign_non_empty_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "README").write_text("not ours")
    with pytest.raises(CompileError, match=r"holds no \.kurator/state\.json"):
        write_tree(out, TREE)
    assert sorted(p.name for p in out.iterdir()) == ["README"]


def test_flux_bootstrap_folders_alone_are_accepted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "clusters/alpha/flux-system").mkdir(parents=True)
    (out / "clusters/alpha/flux-system/gotk-components.yaml").write_text("x")
    write_tree(out, TREE)
    assert (out / "clusters/alpha/flux-system/gotk-components.yaml").read_text() == "x"


def test_does_not_overwrite_a_file_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    (out / "clusters/alpha/configmap_default_c.yaml").write_bytes(b"mine\n")
    with pytest.raises(CompileError, match="was not written by kurator-compile"):
        write_tree(out, {**TREE, "clusters/alpha/configmap_default_c.yaml": b"c: 1\n"})
    assert (out / "clusters/alpha/configmap_default_c.yaml").read_bytes() == b"mine\n"


@pytest.mark.parametrize(
    "path",
    [
        "../etc/passwd",
        "/etc/passwd",
        "clusters/../../x",
        "clusters/a/../../x",
        "clusters/alpha/flux-system/gotk-sync.yaml",
        "other/file.yaml",
        "clusters\\alpha\\x",
        "clusters",
        "",
    ],
)
def test_state_paths_are_untrusted(path: str) -> None:
    assert not is_safe_relpath(path)


UNTRUSTED_PARTS = ["clusters", "argocd", "flux", "other", "alpha", "flux-system", "", ".", ".."]


def test_a_state_file_keeps_exactly_the_paths_is_safe_relpath_accepts(tmp_path: Path) -> None:
    """Loading a state judges each folder once; the answer is `is_safe_relpath`'s for every
    path of up to four parts from these pieces (and names with a backslash or a NUL)."""
    import itertools

    parts = [*UNTRUSTED_PARTS, "x.yaml", "a\\b", "a\x00b", "/x"]
    paths = ["/".join(combo) for n in range(1, 5) for combo in itertools.product(parts, repeat=n)]
    paths += [f"/{path}" for path in paths[:200]] + [f"{path}/" for path in paths[:200]]
    files: dict[object, object] = dict.fromkeys(paths, "0" * 64)
    files[3] = "0" * 64
    files["clusters/alpha/x.yaml"] = 3
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"files": {str(k): v for k, v in files.items()}}))
    loaded = emit._load_state_file(state)
    assert loaded is not None
    expected = {p for p in paths if is_safe_relpath(p)} - {"clusters/alpha/x.yaml"}
    assert set(loaded.files) == expected
    assert len(expected) > 1000


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 200_000])
def test_the_committed_state_vouches_for_files_of_any_size(tmp_path: Path, size: int) -> None:
    """A fresh clone's check reads each file into one 64 KiB buffer; a longer file is read
    to its end, and a change in its last byte is seen."""
    out = tmp_path / "out"
    big = "clusters/alpha/configmap_default_big.yaml"
    data = (b"x" * size)[:-1] + b"\n" if size else b""
    write_tree(out, {**TREE, big: data}, inputs="inputs")
    verified = emit.verified_state(out, "inputs")
    assert verified is not None
    assert verified.listed_exactly
    assert set(verified.state.files) == {*TREE, big}
    assert emit.verified_state(out, "other inputs") is None
    if size:
        (out / big).write_bytes(data[:-1] + b"y")
        assert emit.verified_state(out, "inputs") is None
        (out / big).write_bytes(data + b"\n")
        assert emit.verified_state(out, "inputs") is None


def test_the_stat_cache_shares_lists_and_takes_a_folder_that_comes_again(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    tree = {
        **TREE,
        "clusters/gamma/a.yaml": b"a: 1\n",
        "clusters/gamma/sub/b.yaml": b"b\n",
        "clusters/gamma/z.yaml": b"z\n",
    }
    write_tree(out, tree, fingerprint="inputs")
    raw = json.loads((out / ".kurator/cache.json").read_text())
    assert [row[0] for row in raw["folders"]] == [
        "clusters/alpha",
        "clusters/beta",
        "clusters/gamma",
        "clusters/gamma/sub",
        "clusters/gamma",
    ]
    assert raw["names"][:2] == [
        ["configmap_default_a.yaml", "configmap_default_b.yaml"],
        ["configmap_default_a.yaml"],
    ]
    cache = emit.StatCache.load(out)
    assert set(cache.paths()) == set(tree)
    assert cache.up_to_date(out, "inputs")
    assert not cache.listed_exactly  # gamma's rows each list part of it: listed again
    (out / "clusters/gamma/z.yaml").write_bytes(b"y\n")
    assert not emit.StatCache.load(out).up_to_date(out, "inputs")


@pytest.mark.parametrize("copy", [b"a: 2\n", b"a: 1\n\n", b"a: 1", b"", b"a: 1\nb: 1\n"])
def test_a_changed_copy_of_a_verified_file_is_seen(tmp_path: Path, copy: bytes) -> None:
    """Two clusters' files with one recorded digest: the second is compared with the first's
    verified bytes instead of hashed, and any difference is still found."""
    out = tmp_path / "out"
    write_tree(out, TREE, inputs="inputs")
    assert emit.verified_state(out, "inputs") is not None
    (out / "clusters/beta/configmap_default_a.yaml").write_bytes(copy)
    assert emit.verified_state(out, "inputs") is None


@pytest.mark.parametrize(
    ("stray", "exact"),
    [
        ("clusters/alpha/notes.txt", False),
        ("clusters/gamma/x.yaml", False),
        ("clusters/alpha/flux-system/gotk-sync.yaml", False),
        ("argocd/notes.txt", True),  # only cluster folders are applied by Argo CD and Flux
    ],
)
def test_the_committed_state_counts_cluster_folder_entries(
    tmp_path: Path, stray: str, exact: bool
) -> None:
    out = tmp_path / "out"
    write_tree(out, {**TREE, "argocd/app.yaml": b"a\n"}, inputs="inputs")
    (out / stray).parent.mkdir(parents=True, exist_ok=True)
    (out / stray).write_text("x\n")
    verified = emit.verified_state(out, "inputs")
    assert verified is not None
    assert verified.listed_exactly is exact


def test_the_committed_state_refuses_a_file_that_is_not_regular(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE, inputs="inputs")
    path = out / "clusters/alpha/configmap_default_a.yaml"
    path.unlink()
    os.mkfifo(path)
    assert emit.verified_state(out, "inputs") is None
    path.unlink()
    path.symlink_to(out / "clusters/beta/configmap_default_a.yaml")
    assert emit.verified_state(out, "inputs") is None
    path.unlink()
    (out / "clusters/beta").rename(out / "elsewhere")
    (out / "clusters/beta").symlink_to(out / "elsewhere")
    path.write_bytes(TREE["clusters/alpha/configmap_default_a.yaml"])
    assert emit.verified_state(out, "inputs") is None


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "clusters/alpha/../../../x",
        "/tmp/x",
        "clusters//x.yaml",
        "clusters/alpha/./x.yaml",
        "clusters/alpha/",
        "argocd/..",
        "clusters/alpha/flux-system/x.yaml",
        "elsewhere/x.yaml",
    ],
)
def test_writer_refuses_paths_outside_its_folders(tmp_path: Path, path: str) -> None:
    """Whatever the caller passes, nothing lands outside OUT's folders and nothing is made."""
    out = tmp_path / "deep" / "out"
    with pytest.raises(CompileError) as raised:
        write_tree(out, {**TREE, path: b"x: 1\n"})
    assert str(raised.value) == (
        f"error: refusing to write 1 path(s) not strictly inside the output folders: {path!r}"
    )
    with pytest.raises(CompileError, match="not strictly inside"):
        compare_tree(out, {path: b"x: 1\n"})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == []


def test_tampered_state_cannot_delete_outside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    state = json.loads((out / STATE_FILE).read_text())
    state["files"]["../victim.txt"] = "0" * 64
    state["files"]["clusters/alpha/flux-system/x.yaml"] = "0" * 64
    (out / STATE_FILE).write_text(json.dumps(state))
    (out / "clusters/alpha/flux-system").mkdir()
    (out / "clusters/alpha/flux-system/x.yaml").write_text("flux")
    write_tree(out, TREE)
    assert victim.read_text() == "keep me"
    assert (out / "clusters/alpha/flux-system/x.yaml").read_text() == "flux"


def test_symlinks_inside_output_are_not_followed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "clusters/gamma").symlink_to(elsewhere)
    with pytest.raises(CompileError, match="is a symlink"):
        write_tree(out, {**TREE, "clusters/gamma/configmap_default_a.yaml": b"a\n"})
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(
    "link", [".kurator", ".kurator/state.json", ".kurator/journal.json", ".kurator/cache.json"]
)
def test_state_folder_and_files_are_never_followed(tmp_path: Path, link: str) -> None:
    """`OUT/.kurator` (or a file in it) as a symlink would put state and cache elsewhere."""
    out = tmp_path / "out"
    write_tree(out, TREE)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(out / ".kurator", elsewhere)
    before = tree_of(elsewhere)
    if link == ".kurator":
        shutil.rmtree(out / ".kurator")
        (out / ".kurator").symlink_to(elsewhere)
    else:
        (out / link).unlink(missing_ok=True)
        (out / link).symlink_to(elsewhere / Path(link).name)
    changed = {**TREE, "clusters/alpha/configmap_default_a.yaml": b"new\n"}
    if link == ".kurator/cache.json":
        write_tree(out, changed)  # a cache is only a hint: replaced, never followed
        assert not (out / link).is_symlink()
    else:
        with pytest.raises(CompileError) as raised:
            write_tree(out, changed)
        assert str(raised.value) == (
            f"error: {out / link} is a symlink; kurator-compile never writes through links"
        )
        assert (out / "clusters/alpha/configmap_default_a.yaml").read_bytes() == b"a: 1\n"
    assert tree_of(elsewhere) == before


def test_drift_is_not_read_through_a_linked_cluster_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(out / "clusters/beta", elsewhere)
    (out / "clusters/beta").symlink_to(elsewhere)
    drift = compare_tree(out, TREE)
    assert drift.added == ["clusters/beta/configmap_default_a.yaml"]
    assert drift.removed == []


def _read_only_output_fails_cleanly(out: Path) -> None:
    write_tree(out, TREE)
    (out / "clusters/alpha").chmod(0o555)
    try:
        with pytest.raises(CompileError, match="previous tree is intact"):
            write_tree(out, {**TREE, "clusters/alpha/configmap_default_a.yaml": b"new\n"})
    finally:
        (out / "clusters/alpha").chmod(0o755)
    assert (out / "clusters/alpha/configmap_default_a.yaml").read_bytes() == b"a: 1\n"


def test_read_only_output_fails_cleanly(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        _read_only_output_fails_cleanly(tmp_path / "out")
        return
    # root ignores file modes: a forked child (the interpreter already loaded) drops to an
    # unprivileged user and runs the same steps in a folder that user owns.
    work = Path(tempfile.mkdtemp(prefix="kurator-ro-"))
    try:
        os.chown(work, NOBODY, NOBODY)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            code = 1
            try:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                _read_only_output_fails_cleanly(work / "out")
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        shutil.rmtree(work)


def test_full_disk_keeps_old_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import kurator_compile.emit as emit

    out = tmp_path / "out"
    write_tree(out, TREE)
    before = tree_of(out)
    real_write = os.write
    calls = {"n": 0}

    def failing_write(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(emit.os, "write", failing_write)
    changed = {path: data + b"# changed\n" for path, data in TREE.items()}
    with pytest.raises(CompileError, match="no space left on device; the previous tree is intact"):
        write_tree(out, changed)
    monkeypatch.undo()
    assert tree_of(out) == before


def test_state_listing_a_file_never_written_does_not_delete_it(tmp_path: Path) -> None:
    """A stale path is removed only if its bytes are those recorded; others are reported."""
    out = tmp_path / "out"
    write_tree(out, TREE)
    hand = "clusters/alpha/configmap_default_hand.yaml"
    (out / hand).write_bytes(b"hand-written\n")
    state = json.loads((out / STATE_FILE).read_text())
    state["files"][hand] = digest(b"something else\n")
    (out / STATE_FILE).write_text(json.dumps(state))
    report = write_tree(out, TREE)
    assert report.removed == []
    assert report.kept == [hand]
    assert (out / hand).read_bytes() == b"hand-written\n"
    assert hand not in json.loads((out / STATE_FILE).read_text())["files"]


def test_kept_file_is_reported_by_build(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet(apps={"web.yaml": DEPLOYMENT})
    out = tmp_path / "out"
    assert run_cli("build", fleet, "-o", out).exit_code == 0
    state = json.loads((out / STATE_FILE).read_text())
    hand = "clusters/alpha/configmap_shop_hand.yaml"
    state["files"][hand] = digest(b"x\n")
    (out / STATE_FILE).write_text(json.dumps(state))
    (out / hand).write_bytes(b"mine\n")
    result = run_cli("build", fleet, "-o", out)
    assert result.exit_code == 0, result.output
    assert (
        f"warning: {out / hand} is no longer part of the tree, but its bytes are not those "
        "kurator-compile recorded: left in place"
    ) in result.stderr
    assert (out / hand).read_bytes() == b"mine\n"


def test_full_disk_while_writing_the_state_keeps_old_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new state is written before the first rename, so ENOSPC there changes nothing."""
    out = tmp_path / "out"
    write_tree(out, TREE)
    before = tree_of(out)
    real = emit._write_tmp_chunks

    def full(tmp: Path | str, chunks: Iterable[bytes]) -> str:
        if Path(tmp).name == ".state.json.kurator-tmp":
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
        return real(tmp, chunks)

    monkeypatch.setattr(emit, "_write_tmp_chunks", full)
    with pytest.raises(CompileError) as raised:
        write_tree(out, {**TREE, "clusters/alpha/configmap_default_a.yaml": b"new\n"})
    assert str(raised.value) == (
        f"error: cannot write {out}/.kurator/.state.json.kurator-tmp: no space left on device; "
        "the previous tree is intact"
    )
    assert {p: b for p, b in tree_of(out).items() if p != ".kurator/lock"} == {
        p: b for p, b in before.items() if p != ".kurator/lock"
    }


def test_failure_after_the_first_rename_says_what_the_tree_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    new = {**TREE, "clusters/alpha/configmap_default_a.yaml": b"new\n"}
    real = os.replace

    def failing(source: str, target: str) -> None:
        if str(target).endswith("state.json"):
            raise OSError(errno.EIO, "Input/output error", str(target))
        real(source, target)

    with monkeypatch.context() as patch:
        patch.setattr(emit.os, "replace", failing)
        with pytest.raises(CompileError) as raised:
            write_tree(out, new)
    assert str(raised.value) == (
        f"error: cannot finish writing {out}: {out}/.kurator/state.json: Input/output error. "
        f"The tree now mixes old and new files; {out}/.kurator/journal.json lists the new tree "
        "and the next build completes it"
    )
    assert compare_tree(out, new).interrupted == JOURNAL_FILE
    write_tree(out, new)
    assert not compare_tree(out, new)
    assert not (out / JOURNAL_FILE).exists()


def test_held_lock_is_waited_for_with_a_message_and_a_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    holder = os.open(out / ".kurator/lock", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another open file description: another build
    monkeypatch.setattr(emit, "LOCK_WAIT_SECONDS", 0.0)
    try:
        with pytest.raises(CompileError) as raised:
            write_tree(out, {**TREE, "clusters/alpha/configmap_default_a.yaml": b"new\n"})
    finally:
        os.close(holder)
    assert capsys.readouterr().err == (
        f"waiting for another build that holds {out}/.kurator/lock...\n"
    )
    assert str(raised.value) == (
        f"error: {out}/.kurator/lock is still held by another build after 0 s; "
        "let that build finish, then retry"
    )
    assert (out / "clusters/alpha/configmap_default_a.yaml").read_bytes() == b"a: 1\n"


@pytest.mark.parametrize("name", ["lock", "state.json", "journal.json", "cache.json"])
def test_fifos_in_the_state_folder_never_block(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    (out / ".kurator" / name).unlink(missing_ok=True)
    os.mkfifo(out / ".kurator" / name)
    changed = {**TREE, "clusters/alpha/configmap_default_a.yaml": b"new\n"}
    if name == "cache.json":
        write_tree(out, changed)  # only a hint: replaced by a regular file
        assert (out / ".kurator" / name).is_file()
        return
    with pytest.raises(CompileError) as raised:
        write_tree(out, changed)
    assert str(raised.value) == (
        f"error: {out}/.kurator/{name} is not a regular file"
        + ("" if name == "lock" else "; kurator-compile reads only its own")
    )


def test_fifo_in_place_of_an_output_file_is_not_read(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    target = out / "clusters/alpha/configmap_default_a.yaml"
    target.unlink()
    os.mkfifo(target)
    assert compare_tree(out, TREE).added == ["clusters/alpha/configmap_default_a.yaml"]
    write_tree(out, TREE)
    assert target.read_bytes() == b"a: 1\n"


def test_interrupted_run_is_completed_next_time(tmp_path: Path) -> None:
    """A journal left by a killed run marks its files as ours, so the next run can prune them."""
    out = tmp_path / "out"
    write_tree(out, TREE)
    extra = "clusters/alpha/configmap_default_z.yaml"
    (out / extra).write_bytes(b"z\n")
    journal = {"files": {**dict.fromkeys(TREE, ""), extra: digest(b"z\n")}}
    (out / JOURNAL_FILE).write_text(json.dumps(journal))
    state = read_state(out)
    assert state is not None
    assert extra in state.files
    write_tree(out, TREE)
    assert not (out / extra).exists()
    assert not (out / JOURNAL_FILE).exists()


def test_compare_tree_reports_drift(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, TREE)
    assert not compare_tree(out, TREE)
    changed = dict(TREE)
    changed["clusters/alpha/configmap_default_a.yaml"] = b"a: 2\n"
    del changed["clusters/alpha/configmap_default_b.yaml"]
    changed["clusters/beta/configmap_default_c.yaml"] = b"c\n"
    drift = compare_tree(out, changed)
    assert drift.changed == ["clusters/alpha/configmap_default_a.yaml"]
    assert drift.removed == ["clusters/alpha/configmap_default_b.yaml"]
    assert drift.added == ["clusters/beta/configmap_default_c.yaml"]


def test_check_command(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet()
    out = tmp_path / "rendered"
    assert run_cli("check", fleet, "-o", out).exit_code == 1
    assert run_cli("build", fleet, "-o", out).exit_code == 0
    snapshot = tree_of(out)
    clean = run_cli("check", fleet, "-o", out)
    assert clean.exit_code == 0, clean.output
    (tmp_path / "apps" / "web.yaml").write_text(DEPLOYMENT.replace("replicas: 2", "replicas: 3"))
    stale = run_cli("check", "--diff", fleet, "-o", out)
    assert stale.exit_code == 1
    assert "changed: " in stale.stdout
    assert "-  replicas: 2" in stale.stdout
    assert "+  replicas: 3" in stale.stdout
    assert tree_of(out) == snapshot


def test_build_twice_rewrites_nothing(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet()
    out = tmp_path / "rendered"
    run_cli("build", fleet, "-o", out)
    again = run_cli("build", fleet, "-o", out)
    assert "0 written, 0 removed" in again.stderr


def test_no_change_rebuild_parses_no_yaml(
    make_fleet: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = make_fleet()
    out = tmp_path / "rendered"
    run_cli("build", fleet, "-o", out)

    def no_parsing(*args: object) -> None:
        raise AssertionError("a no-change rebuild parsed YAML")

    monkeypatch.setattr("kurator_compile.yamldoc.load_stream", no_parsing)
    again = run_cli("build", fleet, "-o", out)
    assert again.exit_code == 0, again.output
    assert "is up to date: 0 written, 0 removed" in again.stderr


def test_a_touched_output_file_is_restored_by_the_next_build(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    fleet = make_fleet()
    out = tmp_path / "rendered"
    run_cli("build", fleet, "-o", out)
    built = tree_of(out)
    target = out / "clusters/alpha/deployment.apps_shop_web.yaml"
    original = target.read_bytes()
    target.write_bytes(original.replace(b"replicas: 2", b"replicas: 9"))  # same size
    repaired = run_cli("build", fleet, "-o", out)
    assert "1 written" in repaired.stderr, repaired.output
    (out / "clusters/beta/deployment.apps_shop_web.yaml").unlink()
    restored = run_cli("build", fleet, "-o", out)
    assert "1 written" in restored.stderr, restored.output
    assert tree_of(out) == built


def test_no_change_check_still_sees_every_input_change(
    make_fleet: Callable[..., Path], tmp_path: Path
) -> None:
    """The quick check reuses the last run's globs: a new file they match, a changed glob in
    the fleet file, and a glob that now matches nothing each force the full path."""
    fleet = make_fleet()
    out = tmp_path / "rendered"
    run_cli("build", fleet, "-o", out)
    (tmp_path / "apps" / "api.yaml").write_text(DEPLOYMENT.replace("name: web", "name: api"))
    added = run_cli("build", fleet, "-o", out)
    assert "up to date" not in added.stderr
    assert any("deployment.apps_shop_api.yaml" in p for p in tree_of(out)), added.output
    text = fleet.read_text()
    fleet.write_text(text.replace("apps/*.yaml", "apps/web.yaml"))
    narrowed = run_cli("build", fleet, "-o", out, "--allow-removal")
    assert "up to date" not in narrowed.stderr
    assert not any("deployment.apps_shop_api.yaml" in p for p in tree_of(out))
    fleet.write_text(text.replace("apps/*.yaml", "apps/gone-*.yaml"))
    broken = run_cli("build", fleet, "-o", out)
    assert broken.exit_code == 2
    assert "'apps/gone-*.yaml' matches no file" in broken.stderr


def test_kustomization_flag(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    assert run_cli("build", "--kustomization", make_fleet(), "-o", out).exit_code == 0
    text = (out / "clusters/alpha/kustomization.yaml").read_text()
    assert "deployment.apps_shop_web.yaml" in text
    plain = tmp_path / "plain"
    run_cli("build", make_fleet(), "-o", plain)
    assert not (plain / "clusters/alpha/kustomization.yaml").exists()


def test_render_prints_one_cluster(make_fleet: Callable[..., Path], tmp_path: Path) -> None:
    fleet = make_fleet()
    result = run_cli("render", fleet, "--cluster", "alpha")
    assert result.exit_code == 0, result.output
    assert "name: web" in result.stdout
    assert result.stderr == ""
    missing = run_cli("render", fleet, "--cluster", "gamma")
    assert missing.exit_code == 2
    assert "no cluster 'gamma'" in missing.stderr


def test_render_refuses_empty_stream(make_fleet: Callable[..., Path]) -> None:
    policy = POLICY_ALL + "  placement:\n    clusterAffinity:\n      clusterNames: [alpha]\n"
    fleet = make_fleet("---\n" + policy)
    result = run_cli("render", fleet, "--cluster", "beta")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "receives no objects" in result.stderr
    allowed = run_cli("render", fleet, "--cluster", "beta", "--allow-empty")
    assert allowed.exit_code == 0
    assert allowed.stdout == ""


def test_fleet_header_is_used_by_default(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "fleets").mkdir()
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "web.yaml").write_text(DEPLOYMENT)
    (tmp_path / "fleets" / "only.yaml").write_text(
        FLEET_HEADER.replace("apps/*.yaml", "../apps/*.yaml") + "---\n" + POLICY_ALL
    )
    result = run_cli("build", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rendered/clusters/alpha/deployment.apps_shop_web.yaml").exists()


def test_read_only_file_system_keeps_old_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root, permission bits do not stop writes; a read-only mount answers EROFS instead."""
    import errno

    import kurator_compile.emit as emit

    out = tmp_path / "out"
    write_tree(out, TREE)
    before = tree_of(out)
    real_open = os.open

    def read_only(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR) and "clusters" in str(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(emit.os, "open", read_only)
    changed = {**TREE, "clusters/alpha/configmap_default_new.yaml": b"new: 1\n"}
    changed["clusters/alpha/configmap_default_a.yaml"] = b"a: 2\n"
    with pytest.raises(CompileError, match="Read-only file system; the previous tree is intact"):
        write_tree(out, changed)
    monkeypatch.undo()
    assert tree_of(out) == before


@pytest.mark.parametrize(
    "digests",
    [
        {},
        {"clusters/a/x.yaml": "00"},
        {"clusters/b/ü.yaml": "ab", 'clusters/a/\\q".yaml': "cd", "argocd/app.yaml": "ef"},
    ],
)
def test_state_file_is_json_dumps_output(digests: dict[str, str]) -> None:
    body = {"generator": f"kurator-compile {__version__}", "files": dict(sorted(digests.items()))}
    expected = json.dumps(body, indent=1, sort_keys=True) + "\n"
    assert state_bytes(digests) == expected.encode()


OWN_STATE = state_bytes(
    {"clusters/a/x.yaml": "d1", "clusters/a/y.yaml": "d1", "clusters/b/z.yaml": "d2"},
    {"name": "shop", "file": "fleets/shop.yaml"},
    inputs="abc",
)


@pytest.mark.parametrize(
    "text",
    [
        OWN_STATE,
        state_bytes({}),
        state_bytes({"clusters/b/ü.yaml": "d2", 'clusters/a/\\q".yaml': "d1"}),
        state_bytes({f"clusters/c{i}/x.yaml": "d" for i in range(9000)}, layout="per-cluster"),
        # hand-edited: a path twice (the last wins), raw UTF-8, "files" twice, no comma,
        # a trailing comma, broken JSON after the files, invalid UTF-8 in an entry
        b'{\n "files": {\n  "clusters/a/x.yaml": "d1",\n  "clusters/a/x.yaml": "d2"\n },\n'
        b' "generator": "g"\n}\n',
        b'{\n "files": {\n  "clusters/a/\xc3\xbc.yaml": "d1"\n },\n "generator": "g"\n}\n',
        b'{\n "files": {\n  "clusters/a/x.yaml": "d1"\n },\n "files": {}\n}\n',
        b'{\n "files": {\n  "clusters/a/x.yaml": "d1"\n  "clusters/a/y.yaml": "d1"\n },\n}\n',
        b'{\n "files": {\n  "clusters/a/x.yaml": "d1",\n },\n "generator": "g"\n}\n',
        b'{\n "files": {\n  "clusters/a/x.yaml": "d1"\n },\n "generator": g\n}\n',
        b'{\n "files": {\n  "clusters/a/\xff.yaml": "d1"\n },\n "generator": "g"\n}\n',
    ],
)
def test_state_file_reader_reads_what_json_reads(tmp_path: Path, text: bytes) -> None:
    """The line-by-line reader of the state file's own layout gives json's answer, and any
    other layout is json's to read, errors included."""
    path = tmp_path / "state.json"
    path.write_bytes(text)
    expected: object
    try:
        expected = json.loads(text.decode("utf-8"))
    except ValueError as error:
        expected = (type(error), str(error))
    try:
        found: object = emit._read_state_json(path)
    except ValueError as error:
        found = (type(error), str(error))
    assert found == expected


def test_state_file_digests_are_shared_strings(tmp_path: Path) -> None:
    """600,000 files' digests would be 600,000 strings; equal ones are read as one."""
    out = tmp_path / "out"
    write_tree(out, {f"clusters/c{i}/configmap_default_a.yaml": b"a: 1\n" for i in range(50)})
    state = read_state(out)
    assert state is not None
    assert len(state.files) == 50
    assert len({id(value) for value in state.files.values()}) == 1


def test_state_file_of_its_own_layout_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(OWN_STATE)
    with path.open("rb") as handle:
        assert emit._read_state_lines(handle) == json.loads(OWN_STATE)


def test_stat_cache_lines_that_are_not_its_own_are_ignored(tmp_path: Path) -> None:
    """The stat cache is only a hint: a folder's mtimes edited into nonsense make the writer
    compare that folder's files by their bytes."""
    out = tmp_path / "out"
    write_tree(out, TREE)
    cache = json.loads((out / ".kurator/cache.json").read_text())
    alpha = next(row for row in cache["folders"] if row[0] == "clusters/alpha")
    alpha[3] = ["not an mtime"] * len(alpha[3])
    (out / ".kurator/cache.json").write_text(json.dumps(cache))
    changed = {**TREE, "clusters/alpha/configmap_default_a.yaml": b"a: 2\n"}
    report = write_tree(out, changed)
    assert report.written == ["clusters/alpha/configmap_default_a.yaml"]
    assert report.unchanged == 2


def test_a_fresh_builds_journal_is_its_new_state_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no killed run's journal to carry on, the journal lists what the new state lists:
    the state is encoded once, and the journal is a copy of it, in place before any file."""
    out = tmp_path / "out"
    seen: dict[str, bytes] = {}
    rename = emit._NewFolders.rename

    def spying(folders: emit._NewFolders) -> None:
        seen["journal"] = (out / ".kurator/journal.json").read_bytes()
        rename(folders)

    encoded: list[object] = []
    chunks = emit.state_chunks

    def counting(*args: Any, **kwargs: Any) -> Any:
        encoded.append(args)
        return chunks(*args, **kwargs)

    monkeypatch.setattr(emit._NewFolders, "rename", spying)
    monkeypatch.setattr(emit, "state_chunks", counting)
    write_tree(out, TREE, fingerprint="inputs")
    assert seen["journal"] == (out / ".kurator/state.json").read_bytes()
    assert len(encoded) == 1
    assert not (out / ".kurator/journal.json").exists()
    (out / ".kurator/journal.json").write_bytes(seen["journal"])  # as a killed run left it
    state = emit.read_state(out)
    assert state is not None
    assert set(state.journal) == set(TREE)

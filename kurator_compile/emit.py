"""The only writer: a file tree in memory -> OUT, atomically, pruning only what we wrote.

Protocol (kill -9 safe): lock `.kurator/lock`; check everything (symlinks, foreign files,
stale files whose bytes are still those we recorded); record the intended tree in
`.kurator/journal.json`; write every new or changed file, and the new state, to a temporary
name beside it; rename them all into place; remove the stale files; drop the journal. A
failure before the first rename leaves the old tree untouched; a kill or a failure after it
leaves a journal that the next run treats as ours and completes, removing any temporaries.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import sys
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

from . import __version__
from .errors import CompileError, Diagnostic, shorten
from .tree import CLUSTER_FILE, CLUSTERS_DIR, LAYOUTS, PER_OBJECT, FileTree
from .unchanged import outputs_unchanged, parse_stat_cache

STATE_DIR = ".kurator"
STATE_FILE = f"{STATE_DIR}/state.json"
CACHE_FILE = f"{STATE_DIR}/cache.json"  # local only (git-ignored): stat data, last inputs
JOURNAL_FILE = f"{STATE_DIR}/journal.json"
LOCK_FILE = f"{STATE_DIR}/lock"
LOCK_WAIT_SECONDS = 600.0  # how long a build waits for another one on the same OUT
TMP_SUFFIX = ".kurator-tmp"
# Top-level folders the tool may write into; anything else read from a state file is refused.
OWNED_TOP_DIRS = frozenset({CLUSTERS_DIR, "argocd", "flux"})
# `flux bootstrap` owns this folder inside a cluster path: never write, read or prune it.
FLUX_SYSTEM = "flux-system"
KUSTOMIZATION = "kustomization.yaml"  # `--kustomization`'s index, not an object


@dataclass(frozen=True)
class StateNames:
    """Where a build keeps its state; each `--shard I/N` of a fleet keeps its own."""

    state: str = STATE_FILE
    cache: str = CACHE_FILE
    journal: str = JOURNAL_FILE

    @classmethod
    def for_shard(cls, shard: tuple[int, int] | None) -> StateNames:
        if shard is None:
            return cls()
        tag = f"shard-{shard[0]}-of-{shard[1]}"
        return cls(
            f"{STATE_DIR}/state.{tag}.json",
            f"{STATE_DIR}/cache.{tag}.json",
            f"{STATE_DIR}/journal.{tag}.json",
        )


DEFAULT_NAMES = StateNames()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _error(message: str) -> CompileError:
    return CompileError([Diagnostic.error(message)])


def is_safe_relpath(path: str) -> bool:
    """A path read from a state file is untrusted, and one the writer is handed is checked as
    well whatever produced it: it must stay strictly inside OUT's owned folders."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return False
    parts = path.split("/")  # not PurePosixPath: it would hide `a//b`, `a/./b` and `a/`
    if any(part in ("", ".", "..") for part in parts) or len(parts) < 2:
        return False
    if parts[0] not in OWNED_TOP_DIRS:
        return False
    return not (parts[0] == CLUSTERS_DIR and len(parts) > 2 and parts[2] == FLUX_SYSTEM)


def _safe_entries(files: Mapping[object, object]) -> dict[str, str]:
    """The entries whose path `is_safe_relpath` accepts, each folder judged once (a state
    file lists 60,000 files in 1,000 folders): a path is safe when its folder is, as a path
    to a file in it, and its name is one plain component that is not `flux bootstrap`'s."""
    safe: dict[str, str] = {}
    folders: dict[str, bool] = {}
    for path, value in files.items():
        if not (isinstance(path, str) and isinstance(value, str)):
            continue
        directory, _, name = path.rpartition("/")
        folder_safe = folders.get(directory)
        if folder_safe is None:
            folder_safe = folders[directory] = is_safe_relpath(f"{directory}/file")
        if not folder_safe or name in ("", ".", "..") or "\\" in name or "\x00" in name:
            continue
        if (
            name == FLUX_SYSTEM
            and directory.count("/") == 1
            and directory.startswith(f"{CLUSTERS_DIR}/")
        ):
            continue
        safe[path] = value
    return safe


def check_tree_paths(tree: Mapping[str, object]) -> None:
    """Defence in depth: every compiled path is already built from validated names, but the
    writer refuses any that would land outside its folders (`..`, absolute, empty parts)."""
    bad = sorted(path for path in tree if not is_safe_relpath(path))
    if bad:
        shown = ", ".join(repr(path) for path in bad[:5])
        raise _error(
            f"refusing to write {len(bad)} path(s) not strictly inside the output folders: {shown}"
        )


@dataclass(frozen=True)
class State:
    files: Mapping[str, str] = field(default_factory=dict)  # path -> sha256 of its bytes
    version: str = ""
    owner: Mapping[str, str] | None = None  # the fleet that wrote it: name and file
    # An interrupted run's journal: the tree it meant to write, each file possibly in place.
    journal: Mapping[str, str] = field(default_factory=dict)
    layout: str = PER_OBJECT  # how the cluster folders hold their objects
    inputs: str = ""  # the inputs' digest sealed with `files` (see `sealed_inputs`)

    def wrote(self, path: str, data: bytes) -> bool:
        """Are these bytes what a run of ours recorded for `path`? Else someone else's."""
        value = digest(data)
        return value in (self.files.get(path), self.journal.get(path))


def _load_state_file(path: Path) -> State | None:
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise _error(f"{path} is not a regular file; kurator-compile reads only its own")
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise _error(f"cannot read {path}: {error}; remove it only if you know the tree") from None
    files = raw.get("files") if isinstance(raw, dict) else None
    if not isinstance(files, dict):
        raise _error(f"{path} is not a kurator-compile state file")
    safe = _safe_entries(files)
    owner = raw.get("fleet")
    if not (isinstance(owner, dict) and all(isinstance(v, str) for v in owner.values())):
        owner = None
    layout = raw.get("layout")
    layout = layout if layout in LAYOUTS else PER_OBJECT
    inputs = raw.get("inputs")
    return State(
        safe,
        str(raw.get("generator", "")),
        owner=owner,
        layout=layout,
        inputs=inputs if isinstance(inputs, str) else "",
    )


def read_state(out: Path, names: StateNames = DEFAULT_NAMES) -> State | None:
    """The files we own: the last state plus the journal of an interrupted run, if any."""
    _check_no_symlinks(out, names.state)
    _check_no_symlinks(out, names.journal)
    state = _load_state_file(out / names.state)
    journal = _load_state_file(out / names.journal)
    if journal is None:
        return state
    merged = dict(journal.files)
    merged.update(state.files if state else {})
    owner = state.owner if state and state.owner else journal.owner
    version = state.version if state else journal.version
    layout = state.layout if state else journal.layout
    return State(merged, version, owner=owner, journal=journal.files, layout=layout)


def recorded_state(out: Path, names: StateNames = DEFAULT_NAMES) -> State | None:
    """The state file the last finished build of OUT wrote, if any: its layout is what a
    build or `check` without `--layout` keeps (one object per file for a new OUT)."""
    _check_no_symlinks(out, names.state)
    return _load_state_file(out / names.state)


def sealed_inputs(inputs: str, files: Mapping[str, str]) -> str:
    """The digest of the inputs bound to the files recorded with them: a state whose list of
    files was edited (a merge conflict resolved by hand) no longer vouches for the output."""
    hasher = hashlib.sha256(f"{inputs}\0".encode())
    hasher.update("".join([f"{path}\0{files[path]}\n" for path in sorted(files)]).encode())
    return hasher.hexdigest()


def state_bytes(
    digests: Mapping[str, str],
    owner: Mapping[str, str] | None = None,
    layout: str = PER_OBJECT,
    inputs: str = "",
) -> bytes:
    """`json.dumps(body, indent=1, sort_keys=True)`, byte for byte, from json's C encoder:
    with `indent` json falls back to its pure-Python encoder, slow for 60,000 entries, but
    one entry per line is also what the separators give without it."""
    # a state file is about 150 bytes a file: with 600,000 files, each copy is 90 MB, so the
    # entries are encoded once and joined once (not sliced, formatted and encoded in turn)
    encoded = json.dumps(digests, sort_keys=True, separators=(",\n  ", ": ")).encode()
    generator = json.dumps(f"kurator-compile {__version__}")
    fleet = ""
    if owner:
        fleet = f'\n "fleet": {json.dumps(dict(owner), sort_keys=True)},'
    # only a layout other than the default is recorded: per-object trees' states stay as they were
    recorded = f',\n "layout": {json.dumps(layout)}' if layout != PER_OBJECT else ""
    sealed = f',\n "inputs": "{sealed_inputs(inputs, digests)}"' if inputs else ""
    tail = f',{fleet}\n "generator": {generator}{sealed}{recorded}\n}}\n'.encode()
    if len(encoded) == 2:
        return b'{\n "files": {}' + tail
    return b"".join((b'{\n "files": {\n  ', memoryview(encoded)[1:-1], b"\n }", tail))


def _linked_component(out: Path, relpath: str) -> Path | None:
    """The first component of `relpath` below OUT that is a symlink, if any."""
    current = out
    for part in PurePosixPath(relpath).parts:
        current = current / part
        if current.is_symlink():
            return current
    return None


def _check_no_symlinks(out: Path, relpath: str) -> None:
    """Refuse to write through a symlink inside OUT: it could point anywhere."""
    linked = _linked_component(out, relpath)
    if linked is not None:
        raise _error(f"{linked} is a symlink; kurator-compile never writes through links")


def _read_below(out: Path, relpath: str) -> bytes | None:
    """A file below OUT, or None when absent or reached through a symlink at any level."""
    if _linked_component(out, relpath) is not None:
        return None
    return _read_bytes(out / relpath)


def _read_bytes(path: Path) -> bytes | None:
    """A regular file's bytes; None for anything else (O_NONBLOCK: a FIFO must not block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return handle.read()


def _foreign_entries(out: Path) -> list[str]:
    """Entries in OUT that neither we nor `flux bootstrap` put there."""
    found = []
    for entry in sorted(out.iterdir()):
        if entry.name == STATE_DIR:
            continue
        if entry.name == CLUSTERS_DIR and entry.is_dir() and not entry.is_symlink():
            for cluster in sorted(entry.iterdir()):
                inner = [p.name for p in cluster.iterdir()] if cluster.is_dir() else [cluster.name]
                if any(name != FLUX_SYSTEM for name in inner):
                    found.append(f"{CLUSTERS_DIR}/{cluster.name}")
            continue
        found.append(entry.name)
    return found


def removed_objects(
    previous: Iterable[str], tree: Collection[str], placed: Collection[str] = ()
) -> dict[str, list[str]]:
    """Object files that the previous build wrote and that no remaining cluster gets any more,
    with the clusters that had them: whatever a build stops writing everywhere, Argo CD or
    Flux deletes everywhere. `placed` adds file names placed on clusters this run does not
    write (another shard's). Folders that vanish whole are `--allow-cluster-removal`'s."""
    prefix = f"{CLUSTERS_DIR}/"
    kept = set(placed)
    remaining = set()
    for path in tree:
        if path.startswith(prefix):
            _, cluster, name = path.split("/", 2)
            kept.add(name)
            remaining.add(cluster)
    gone: dict[str, list[str]] = {}
    for path in previous:
        if not path.startswith(prefix) or path in tree or path.count("/") != 2:
            continue
        _, cluster, name = path.split("/", 2)
        if cluster in remaining and name not in kept and name != KUSTOMIZATION:
            gone.setdefault(name, []).append(cluster)
    return {name: sorted(clusters) for name, clusters in sorted(gone.items())}


def removal_message(gone: Mapping[str, Sequence[str]]) -> str:
    """The refusal that names what would be deleted, and from where."""
    shown = [f"{name} (from {', '.join(clusters)})" for name, clusters in gone.items()]
    listed = shorten(shown, separator="; ")
    return (
        f"{len(gone)} object{'s' if len(gone) != 1 else ''} that the last build wrote would now "
        f"be placed on no cluster, and Argo CD or Flux would delete them: {listed}. Check "
        "their kind, apiVersion and policy; pass --allow-removal if they really left the fleet."
    )


def check_owner(out: Path, state: State, owner: Mapping[str, str] | None) -> None:
    """One output directory, one fleet: another fleet's build would prune the first fleet's
    ApplicationSet, Flux objects and folders."""
    if owner is None or state.owner is None or dict(state.owner) == dict(owner):
        return
    theirs = f"{state.owner.get('name')!r} ({state.owner.get('file')})"
    raise _error(
        f"{out} holds the output of fleet {theirs}, not of fleet {owner.get('name')!r} "
        f"({owner.get('file')}); building into it would delete that fleet's files. Give each "
        "fleet its own output directory (-o), or remove this one if the fleet replaces it."
    )


def foreign_files(out: Path, ours: Iterable[str]) -> list[str]:
    """Entries of the cluster folders in OUT that this tool did not write: Argo CD and Flux
    would apply them all the same. Never deleted; `check` fails on them, `build` warns."""
    clusters = out / CLUSTERS_DIR
    if not clusters.is_dir() or clusters.is_symlink():
        return []
    known = set(ours)
    found = []
    for cluster in sorted(os.listdir(clusters)):
        folder = clusters / cluster
        if not folder.is_dir() or folder.is_symlink():
            found.append(f"{CLUSTERS_DIR}/{cluster}")
            continue
        for name in sorted(os.listdir(folder)):
            path = f"{CLUSTERS_DIR}/{cluster}/{name}"
            if name == FLUX_SYSTEM or path in known or name.endswith(TMP_SUFFIX):
                continue
            found.append(path + ("/" if (folder / name).is_dir() else ""))
    return found


def clusters_of(paths: Mapping[str, object] | FileTree) -> set[str]:
    prefix = f"{CLUSTERS_DIR}/"
    return {p.split("/", 2)[1] for p in paths if p.startswith(prefix) and p.count("/") >= 2}


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Serialise builds on one OUT: a second one waits for the first instead of interleaving."""
    _check_no_symlinks(out, STATE_DIR)
    (out / STATE_DIR).mkdir(parents=True, exist_ok=True)
    _check_no_symlinks(out, STATE_DIR)  # made by someone else meanwhile
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _error(f"{out / LOCK_FILE} is not a regular file")
        _acquire(fd, out / LOCK_FILE)
        ignore = out / STATE_DIR / ".gitignore"
        if not ignore.exists() and not ignore.is_symlink():
            _atomic_write(ignore, b"lock\njournal*.json\ncache*.json\n")
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _acquire(fd: int, path: Path) -> None:
    """Take the lock, saying so when another build holds it, and giving up after
    LOCK_WAIT_SECONDS instead of waiting forever in silence."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    sys.stderr.write(f"waiting for another build that holds {path}...\n")
    sys.stderr.flush()
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise _error(
                    f"{path} is still held by another build after {LOCK_WAIT_SECONDS:g} s; "
                    "let that build finish, then retry"
                ) from None
            time.sleep(0.1)


@dataclass
class StatCache:
    """What the last build wrote, as size and mtime per file, plus a fingerprint of its inputs.

    Lets a rebuild skip reading files that nobody touched, and skip compiling altogether when
    neither the inputs nor the output changed. Never committed: stat data is per checkout.
    Kept per folder as its names, sizes and mtimes (JSON lists: the C parser makes them);
    clusters of one group hold the same names and sizes, so those lists are stored once and
    referred to by index. A no-change rebuild stats each folder's files relative to the open
    folder, and counts its entries to know that nobody added a file.
    """

    fingerprint: str = ""
    # (folder, names, sizes, mtimes): equal name and size lists are one list object
    folders: Sequence[tuple[str, tuple[str, ...], list[int], list[int]]] = ()
    state_digest: str = ""
    warnings: tuple[str, ...] = ()
    globs: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # the fleet's, for that run
    layout: str = ""  # the state file's, when it had `state_digest`
    # set by `up_to_date`: the cluster folders hold exactly the files listed, nothing else
    listed_exactly: bool = False

    @classmethod
    def load(cls, out: Path, names: StateNames = DEFAULT_NAMES) -> StatCache:
        try:
            data = _read_below(out, names.cache)
            if data is None:
                return cls()
            return cls(*parse_stat_cache(data))
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return cls()  # UnicodeDecodeError is a ValueError

    @cached_property
    def stats(self) -> dict[str, tuple[int, int]]:
        """Size and mtime by path, for a build that compares file by file."""
        found: dict[str, tuple[int, int]] = {}
        for directory, listed, sizes, mtimes in self.folders:
            for name, size, mtime in zip(listed, sizes, mtimes, strict=True):
                found[f"{directory}/{name}"] = (size, mtime)
        return found

    def paths(self) -> Iterator[str]:
        for directory, listed, _, _ in self.folders:
            for name in listed:
                yield f"{directory}/{name}"

    def matches(self, path: str, full: str) -> bool:
        known = self.stats.get(path)
        if known is None:
            return False
        try:
            info = os.lstat(full)
        except OSError:
            return False
        return (info.st_size, info.st_mtime_ns) == known

    @staticmethod
    def record(
        out: Path,
        tree: FileTree,
        fingerprint: str,
        warnings: Sequence[str],
        names: StateNames = DEFAULT_NAMES,
        globs: tuple[Sequence[str], Sequence[str]] | None = None,
        known: Mapping[str, tuple[int, int]] | None = None,
        layout: str = PER_OBJECT,
    ) -> None:
        """`known`: size and mtime of files the writer has just seen, so they need no lstat.
        `layout`: the one the state file records (a no-change run need not parse it)."""
        root = str(out)
        known = known or {}
        # One list of names (and of sizes) per distinct list, referred to by its index; a
        # folder's lists are replaced by the shared ones as soon as the next folder starts
        # (the tree comes in folder order; a folder that comes again, after a subfolder,
        # gets a second row): 600,000 name strings would be 40 MB.
        name_index: dict[tuple[str, ...], int] = {}
        size_index: dict[tuple[int, ...], int] = {}
        rows: list[list[object]] = []
        current, names_in, sizes, mtimes = "", list[str](), list[int](), list[int]()

        def finish_folder() -> None:
            if names_in:
                shared_names = name_index.setdefault(tuple(names_in), len(name_index))
                shared_sizes = size_index.setdefault(tuple(sizes), len(size_index))
                rows.append([current, shared_names, shared_sizes, mtimes])

        for path in tree:
            seen = known.get(path)
            if seen is None:
                info = os.lstat(f"{root}/{path}")
                seen = (info.st_size, info.st_mtime_ns)
            directory, _, name = path.rpartition("/")
            if directory != current:
                finish_folder()
                current, names_in, sizes, mtimes = directory, [], [], []
            names_in.append(name)
            sizes.append(seen[0])
            mtimes.append(seen[1])
        finish_folder()
        body = {
            "fingerprint": fingerprint,
            "state": digest(_read_bytes(out / names.state) or b""),
            "layout": layout,
            "names": list(name_index),
            "sizes": list(size_index),
            "folders": rows,
            "warnings": list(warnings),
            "globs": None if globs is None else [list(part) for part in globs],
        }
        _atomic_write(out / names.cache, json.dumps(body, separators=(",", ":")).encode())

    def up_to_date(self, out: Path, fingerprint: str, names: StateNames = DEFAULT_NAMES) -> bool:
        """True when the inputs are those of the last build and no output file was touched.
        Also learns whether the cluster folders hold only those files (`listed_exactly`)."""
        self.listed_exactly = False
        if not fingerprint or fingerprint != self.fingerprint or not self.folders:
            return False
        state = _read_below(out, names.state)
        if state is None or digest(state) != self.state_digest:
            return False
        if _read_bytes(out / names.journal) is not None:
            return False
        unchanged = outputs_unchanged(str(out), self.folders)
        self.listed_exactly = unchanged is True
        return unchanged is not None


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # no longer ours, but not the bytes we wrote
    unchanged: int = 0
    # Size and mtime of the files written or found unchanged by their stat, for the StatCache.
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}{TMP_SUFFIX}")
    _write_tmp(tmp, data)
    os.replace(tmp, path)


def _write_tmp(tmp: Path | str, data: bytes) -> tuple[int, int]:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # left by a killed run: the name is ours
    return _write_new(str(tmp), data)


def _os_error(error: OSError, out: Path) -> CompileError:
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        reason = "no space left on device"
    return _error(f"cannot write {error.filename or out}: {reason}; the previous tree is intact")


def _listing(directory: str, listed: dict[str, set[str]]) -> set[str]:
    names = listed.get(directory)
    if names is None:
        try:
            names = set(os.listdir(directory))
        except FileNotFoundError:
            names = set()
        listed[directory] = names
    return names


@dataclass
class Plan:
    new: list[str] = field(default_factory=list)  # no file there yet
    changed: list[str] = field(default_factory=list)  # replaced through a temporary name
    same: int = 0
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)  # same, by size and mtime


def plan_writes(
    out: Path, tree: FileTree, state: State, digests: Mapping[str, str], stats: StatCache
) -> Plan:
    """Compare the tree with OUT, reading a file only when size, mtime or digest disagree."""
    plan = Plan()
    root = str(out)
    listed: dict[str, set[str]] = {}
    checked_dirs: set[str] = set()
    for path, data in tree.items():
        directory, _, name = path.rpartition("/")
        if directory not in checked_dirs:
            _check_no_symlinks(out, directory)
            checked_dirs.add(directory)
        if name not in _listing(f"{root}/{directory}", listed):
            plan.new.append(path)
            continue
        full = f"{root}/{path}"
        if state.files.get(path) == digests[path] and stats.matches(path, full):
            plan.same += 1
            plan.stats[path] = stats.stats[path]
            continue
        if os.path.islink(full):
            raise _error(f"{full} is a symlink; kurator-compile never writes through links")
        current = _read_bytes(Path(full))
        if current == data:
            plan.same += 1
        elif path not in state.files:
            raise _error(
                f"{full} exists and was not written by kurator-compile; "
                "move it away or delete it yourself"
            )
        else:
            plan.changed.append(path)
    return plan


def write_tree(
    out: Path,
    tree: FileTree,
    *,
    allow_cluster_removal: bool = False,
    fingerprint: str = "",
    warnings: Sequence[str] = (),
    names: StateNames = DEFAULT_NAMES,
    globs: tuple[Sequence[str], Sequence[str]] | None = None,
    allow_removal: bool = False,
    placed: Collection[str] = (),
    owner: Mapping[str, str] | None = None,
    layout: str = PER_OBJECT,
    contents: Mapping[str, Sequence[str]] | None = None,
    inputs: str = "",
) -> WriteReport:
    """Make OUT hold `tree`; see the module docstring for what survives a crash. In the
    per-cluster layout, `contents` names the objects each cluster file holds. `inputs`: the
    portable digest of what it was compiled from, recorded in the state file."""
    if out.exists() and not out.is_dir():
        raise _error(f"{out} exists and is not a directory")
    check_tree_paths(tree)
    try:
        out.mkdir(parents=True, exist_ok=True)
        state = read_state(out, names)
        if state is None and names == DEFAULT_NAMES:
            foreign = _foreign_entries(out)
            if foreign:
                raise _error(
                    f"{out} is not empty and holds no {STATE_FILE}, so kurator-compile did not "
                    f"write it; refusing to mix trees (found: {', '.join(foreign[:5])}). "
                    "Use an empty or new output directory."
                )
        with locked(out):
            state = read_state(out, names) or State()
            check_owner(out, state, owner)
            previous = _load_state_file(out / names.state)  # what a finished build wrote
            gone = {}
            if not allow_removal and previous is not None:
                ours = _ours(out, previous, tree)
                if contents or any(map(_is_cluster_file, ours)):  # objects, not files
                    before = _object_paths(out, ours, previous, tree, contents or {})
                    gone = removed_objects(before, _new_object_paths(tree, contents or {}), placed)
                else:
                    gone = removed_objects(ours, tree, placed)
            if gone:
                raise _error(removal_message(gone))
            report = _write_locked(
                out, tree, state, allow_cluster_removal, names, owner, layout, inputs
            )
            try:
                StatCache.record(
                    out, tree, fingerprint, warnings, names, globs, report.stats, layout
                )
            except OSError:  # only a hint: without it the next build compares file by file
                with contextlib.suppress(OSError):
                    (out / names.cache).unlink()
            return report
    except OSError as error:
        raise _os_error(error, out) from None


def _is_cluster_file(path: str) -> bool:
    return (
        path.startswith(f"{CLUSTERS_DIR}/")
        and path.endswith(f"/{CLUSTER_FILE}")
        and path.count("/") == 2
    )


def _new_object_paths(tree: FileTree, contents: Mapping[str, Sequence[str]]) -> set[str]:
    """The tree as one path per object, whichever the layout: what the removal guard compares."""
    found = set()
    for path in tree:
        names = contents.get(path)
        if names is None:
            found.add(path)
            continue
        directory = path.rpartition("/")[0]
        found.update(f"{directory}/{name}" for name in names)
    return found


def _object_paths(
    out: Path,
    paths: Iterable[str],
    state: State,
    tree: FileTree,
    contents: Mapping[str, Sequence[str]],
) -> list[str]:
    """The last build's files as one path per object: a cluster file it wrote is read back
    (once per distinct content) unless the new tree holds the same bytes at that path."""
    from .render import split_stream

    found: list[str] = []
    known: dict[str, Sequence[str]] = {}  # recorded digest -> object file names
    for path in paths:
        if not _is_cluster_file(path):
            found.append(path)
            continue
        recorded = state.files[path]
        names = known.get(recorded)
        if names is None:
            data = tree.get(path)
            if data is not None and path in contents and digest(data) == recorded:
                names = contents[path]
            else:
                current = _read_below(out, path)
                names = []
                if current is not None and state.wrote(path, current):
                    with contextlib.suppress(CompileError, UnicodeDecodeError):
                        names = [name for name, _ in split_stream(current, path)]
            known[recorded] = names
        directory = path.rpartition("/")[0]
        found.extend(f"{directory}/{name}" for name in names)
    return found


def _digests(tree: FileTree) -> dict[str, str]:
    by_object: dict[int, str] = {}
    result = {}
    for path, data in tree.items():
        value = by_object.get(id(data))
        if value is None:
            value = by_object[id(data)] = digest(data)
        result[path] = value
    return result


def _write_new(path: str, data: bytes) -> tuple[int, int]:
    """Size and mtime of the new file, from its descriptor: cheaper than an lstat later."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        info = os.fstat(fd)
        return info.st_size, info.st_mtime_ns
    finally:
        os.close(fd)


def _write_locked(
    out: Path,
    tree: FileTree,
    state: State,
    allow_cluster_removal: bool,
    names: StateNames = DEFAULT_NAMES,
    owner: Mapping[str, str] | None = None,
    layout: str = PER_OBJECT,
    inputs: str = "",
) -> WriteReport:
    vanished = sorted(clusters_of(state.files) - clusters_of(tree))
    if vanished and not allow_cluster_removal:
        raise _error(
            "these clusters would lose their whole folder: "
            + ", ".join(vanished)
            + ". Argo CD or Flux would then delete every workload they run. "
            "Pass --allow-cluster-removal if they really left the fleet."
        )
    digests = _digests(tree)
    _remove_temporaries(out, [names.journal, names.state])
    if state.journal:  # a killed run: its temporaries are ours, whatever it was writing
        _remove_temporaries(out, [*state.files, *tree])
    plan = plan_writes(out, tree, state, digests, StatCache.load(out, names))
    stale, kept = _stale_files(out, tree, state)
    report = WriteReport(unchanged=plan.same, stats=plan.stats, kept=kept)
    new_state = state_bytes(digests, owner, layout, inputs)
    if not plan.new and not plan.changed and not stale:
        if _read_bytes(out / names.state) != new_state:
            _atomic_write(out / names.state, new_state)
        if state.journal:
            with contextlib.suppress(FileNotFoundError):
                (out / names.journal).unlink()
        return report
    # The journal lists what this run may leave behind: the new tree, and what a killed run's
    # journal listed that the new tree does not (its files may be in place already).
    journal = {p: d for p, d in state.journal.items() if p not in digests}
    journal.update(digests)
    _atomic_write(out / names.journal, state_bytes(journal))
    del journal
    root = str(out)
    pending = [*plan.new, *plan.changed]
    made_dirs: list[str] = []
    written = 0
    state_tmp = out / names.state
    state_tmp = state_tmp.with_name(f".{state_tmp.name}{TMP_SUFFIX}")
    try:
        # Phase 1: every new byte on disk, under a temporary name beside its target, the new
        # state included. Every check and every write that can fail for lack of space
        # happens here, before the first rename.
        present: set[str] = set()
        for path in pending:
            directory = f"{root}/{path.rpartition('/')[0]}"
            if directory not in present:
                if not os.path.isdir(directory):
                    os.makedirs(directory)
                    made_dirs.append(directory)
                present.add(directory)
            written += 1  # counted first: a failed write may leave its temporary
            # a rename keeps the mtime
            report.stats[path] = _write_tmp(_temporary(root, path), tree[path])
        _write_tmp(state_tmp, new_state)
    except OSError:
        leftovers = [_temporary(root, path) for path in pending[:written]]
        for leftover in [*leftovers, str(state_tmp)]:
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        for directory in sorted(made_dirs, reverse=True):
            _remove_empty_parents(out, Path(directory))
        with contextlib.suppress(OSError):
            if state.journal:
                _atomic_write(out / names.journal, state_bytes(state.journal))
            else:
                (out / names.journal).unlink()
        raise
    try:
        for path in pending:  # phase 2: renames, each atomic
            os.replace(_temporary(root, path), f"{root}/{path}")
        for path in stale:
            (out / path).unlink()
            report.removed.append(path)
            _remove_empty_parents(out, (out / path).parent)
        os.replace(state_tmp, out / names.state)
        (out / names.journal).unlink()
    except OSError as error:
        reason = error.strerror or str(error)
        raise _error(
            f"cannot finish writing {out}: {error.filename or out}: {reason}. The tree now "
            f"mixes old and new files; {out / names.journal} lists the new tree and the next "
            "build completes it"
        ) from None
    report.written = sorted([*plan.new, *plan.changed])
    return report


def _temporary(root: str, path: str) -> str:
    """The temporary name beside `path` (made again when needed: kept for 600,000 files,
    these names would take more memory than the files' contents)."""
    directory, _, name = path.rpartition("/")
    return f"{root}/{directory}/.{name}{TMP_SUFFIX}"


def _remove_temporaries(out: Path, paths: Sequence[str]) -> None:
    """Temporary files a killed run left beside the files it owned or meant to write."""
    for path in paths:
        directory, _, name = path.rpartition("/")
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(f"{out}/{directory}/.{name}{TMP_SUFFIX}")


def _ours(out: Path, state: State, tree: FileTree) -> list[str]:
    """The state's files, less the stale ones whose bytes are not what it recorded: those
    are kept, not removed, so dropping them removes nothing from a cluster."""
    stale, _ = _stale_files(out, tree, state)
    return [p for p in state.files if p in tree or p in stale]


def _stale_files(out: Path, tree: FileTree, state: State) -> tuple[list[str], list[str]]:
    """Files an earlier run wrote that the new tree drops: removable, or kept because their
    bytes are not what we recorded (someone else wrote them, or the state file lies)."""
    stale: list[str] = []
    kept: list[str] = []
    for path in sorted(p for p in state.files if p not in tree):
        _check_no_symlinks(out, path)
        current = _read_bytes(out / path)
        if current is None:
            continue
        (stale if state.wrote(path, current) else kept).append(path)
    return stale, kept


def _remove_empty_parents(out: Path, directory: Path) -> None:
    while directory != out and out in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


@dataclass
class Drift:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    interrupted: str = ""  # the journal of a build that did not finish, if one is left

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.interrupted)


def compare_tree(out: Path, tree: FileTree, names: StateNames = DEFAULT_NAMES) -> Drift:
    """What `build` would change in OUT, without writing anything."""
    check_tree_paths(tree)
    state = read_state(out, names) if out.is_dir() else None
    owned = state.files if state else {}
    drift = Drift()
    for path, data in tree.items():
        current = _read_below(out, path)
        if current is None:
            drift.added.append(path)
        elif current != data:
            drift.changed.append(path)
    drift.removed = sorted(
        p
        for p in owned
        if p not in tree and _linked_component(out, p) is None and (out / p).is_file()
    )
    if state is not None and state.journal:
        drift.interrupted = names.journal
    return drift


@dataclass(frozen=True)
class Verified:
    """A state file that vouches for OUT; `listed_exactly`: the cluster folders hold its
    files and nothing else (their entries were counted), so there is no stray file."""

    state: State
    listed_exactly: bool


def verified_state(
    out: Path, inputs: str, names: StateNames = DEFAULT_NAMES, state: State | None = None
) -> Verified | None:
    """The state file (`state`, when the caller has read it), when it records these inputs
    and every file it lists still holds the bytes recorded: OUT is then what a build would
    write, known without compiling (a fresh clone has no stat cache). None otherwise, and
    the caller compiles."""
    if not inputs or _read_bytes(out / names.journal) is not None:
        return None
    if state is None:
        if _linked_component(out, names.state) is not None:
            return None
        try:
            state = _load_state_file(out / names.state)
        except CompileError:
            return None
    if state is None or not state.files or state.inputs != sealed_inputs(inputs, state.files):
        return None
    by_folder: dict[str, dict[str, str]] = {}
    for path, recorded in state.files.items():
        directory, _, name = path.rpartition("/")
        by_folder.setdefault(directory, {})[name] = recorded
    exact = True
    with _Folders(out) as folders:
        try:
            for directory, files in by_folder.items():
                folder = folders.open(directory)
                with os.scandir(folder) as listing:
                    entries = {entry.name: entry for entry in listing}
                for name, recorded in files.items():
                    entry = entries.get(name)
                    if entry is None or not entry.is_file(follow_symlinks=False):
                        return None
                    if not folders.holds(name, folder, recorded):
                        return None
                if directory.startswith(f"{CLUSTERS_DIR}/") and directory.count("/") == 1:
                    exact = exact and len(entries) == len(files)
            clusters = [d for d in by_folder if d.startswith(f"{CLUSTERS_DIR}/")]
            if exact and clusters and all(d.count("/") == 1 for d in clusters):
                exact = len(os.listdir(folders.open(CLUSTERS_DIR))) == len(clusters)
            else:
                exact = False
        except OSError:
            return None
    return Verified(state, exact)


class _Folders:
    """Folders below OUT opened one component at a time without following links (each
    parent opened once), and one buffer that every file is read into."""

    KEPT_BYTES = 1 << 23  # bytes of verified files kept to compare their copies with

    def __init__(self, out: Path) -> None:
        self.out = out
        self.opened: dict[str, int] = {}
        self.buffer = bytearray(1 << 16)
        self.verified: dict[str, bytes] = {}  # digest -> bytes already found to have it
        self.kept = 0

    def __enter__(self) -> _Folders:
        return self

    def __exit__(self, *_: object) -> None:
        for fd in self.opened.values():
            os.close(fd)

    def open(self, directory: str) -> int:
        found = self.opened.get(directory)
        if found is not None:
            return found
        parent, _, name = directory.rpartition("/")
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
        if parent:
            fd = os.open(name, flags, dir_fd=self.open(parent))
        else:
            fd = os.open(self.out / name, flags)
        self.opened[directory] = fd
        return fd

    def holds(self, name: str, folder: int, recorded: str) -> bool:
        """Whether a file, read by its name in an open folder into the one buffer, has the
        recorded digest (60,000 files in a fresh clone's check: a bytes object or an fstat
        per file would cost more than the read). Clusters share most files: a copy of bytes
        already verified is compared with them, not hashed. A short read of a regular file
        is its end; any misread only makes the file differ."""
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        try:
            buffer = self.buffer
            size = os.readv(fd, [buffer])
            if size == len(buffer):
                with os.fdopen(os.dup(fd), "rb") as rest:
                    return digest(bytes(buffer) + rest.read()) == recorded
        finally:
            os.close(fd)
        known = self.verified.get(recorded)
        if known is not None:
            return len(known) == size and buffer.startswith(known)
        if hashlib.sha256(memoryview(buffer)[:size]).hexdigest() != recorded:
            return False
        if self.kept + size <= self.KEPT_BYTES:
            self.verified[recorded] = bytes(buffer[:size])
            self.kept += size
        return True


def read_existing(out: Path, path: str) -> bytes | None:
    return _read_below(out, path)

"""The only writer: a file tree in memory -> OUT, atomically, pruning only what we wrote.

Protocol (kill -9 safe): lock `.kurator/lock`; check everything (symlinks, foreign files,
stale files whose bytes are still those we recorded); record the intended tree in
`.kurator/journal.json`; write every new or changed file, and the new state, to a temporary
name beside it (a folder that does not exist yet: whole, under a temporary folder name beside
the topmost new one); rename them all into place; remove the stale files; drop the journal. A
failure before the first rename leaves the old tree untouched; a kill or a failure after it
leaves a journal that the next run treats as ours and completes, removing any temporaries.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import heapq
import itertools
import json
import operator
import os
import re
import shutil
import stat
import sys
import time
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from . import __version__
from .errors import CompileError, Diagnostic, shorten
from .tree import CLUSTER_FILE, CLUSTERS_DIR, LAYOUTS, PER_OBJECT, FileTree
from .unchanged import outputs_unchanged, parse_stat_cache, read_below

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


class _PathCheck:
    """`is_safe_relpath`, checked once per distinct folder and file name (clusters share their
    files' names): a path whose folder and name both pass is safe; any other is checked whole."""

    def __init__(self) -> None:
        self.folders: dict[str, bool] = {}
        self.names: dict[str, bool] = {}

    def __call__(self, path: str) -> bool:
        directory, _, name = path.rpartition("/")
        folder_ok = self.folders.get(directory)
        if folder_ok is None:
            folder_ok = self.folders[directory] = is_safe_relpath(f"{directory}/_")
        name_ok = self.names.get(name)
        if name_ok is None:  # as a cluster folder's file: the strictest place for a name
            name_ok = self.names[name] = is_safe_relpath(f"{CLUSTERS_DIR}/_/{name}")
        return (folder_ok and name_ok) or is_safe_relpath(path)


def check_tree_paths(tree: Mapping[str, object]) -> None:
    """Defence in depth: every compiled path is already built from validated names, but the
    writer refuses any that would land outside its folders (`..`, absolute, empty parts)."""
    safe = _PathCheck()
    bad = sorted(path for path in tree if not safe(path))
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
        raw = _read_state_json(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise _error(f"cannot read {path}: {error}; remove it only if you know the tree") from None
    files = raw.get("files") if isinstance(raw, dict) else None
    if not isinstance(files, dict):
        raise _error(f"{path} is not a kurator-compile state file")
    check = _PathCheck()
    safe = files
    if not all(isinstance(p, str) and isinstance(d, str) and check(p) for p, d in files.items()):
        safe = {
            p: d for p, d in files.items() if isinstance(p, str) and isinstance(d, str) and check(p)
        }
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


# One entry of the files a state file lists, as this tool writes them: nothing escaped.
_STATE_ENTRY = re.compile(rb'  "([^"\\\x00-\x1f]*)": "([^"\\\x00-\x1f]*)"(,?)\n')


def _read_state_json(path: Path) -> Any:
    """`json.loads` of a state file. The files' entries, when laid out as this tool writes
    them (one a line, nothing escaped), are read line by line, and equal digests are one
    string: for 600,000 files the text is 90 MB, and a whole-file parse holds it and a string
    per digest at once. Any other layout is json's to read."""
    with open(path, "rb") as handle:
        try:
            parsed = _read_state_lines(handle)
        except ValueError:  # UnicodeDecodeError too: json says what is wrong
            parsed = None
    if parsed is None:
        return json.loads(path.read_text("utf-8"))
    return parsed


def _read_state_lines(handle: BinaryIO) -> dict[str, Any] | None:
    if handle.readline() != b"{\n" or handle.readline() != b' "files": {\n':
        return None
    files: dict[str, str] = {}
    values: dict[str, str] = {}
    last = False
    line = handle.readline()
    while (match := _STATE_ENTRY.fullmatch(line)) is not None:
        if last:
            return None  # an entry after the one without a comma
        value = match[2].decode()
        files[match[1].decode()] = values.setdefault(value, value)
        last = not match[3]
        line = handle.readline()
    if not last or line != b" },\n":
        return None
    rest = json.loads("{" + handle.read().decode())
    if not isinstance(rest, dict) or "files" in rest:
        return None
    rest["files"] = files
    return rest


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


def _plain(text: str) -> bool:
    """Does json.dumps write this string as it is, between quotes?"""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _json_string(text: str) -> str:
    """`json.dumps(text)`, without its call for the plain strings that need no escaping."""
    return f'"{text}"' if _plain(text) else json.dumps(text)


STATE_CHUNK = 8192  # entries encoded and written at a time


def state_chunks(
    paths: Iterable[str],
    digest_of: Callable[[str], str],
    owner: Mapping[str, str] | None = None,
    layout: str = PER_OBJECT,
    inputs: str = "",
) -> Iterator[bytes]:
    """`json.dumps(body, indent=1, sort_keys=True)` of a state file, byte for byte, in pieces
    (`paths` in sorted order): with 600,000 files the whole text is 90 MB, so it is streamed
    to its file instead of built, and the inputs' seal is taken on the way. With `indent`,
    json falls back to its pure-Python encoder; one entry per line is all it does here.
    A batch of entries whose strings all need no escaping (the usual case) is checked and
    formatted at once."""
    sealer = hashlib.sha256(f"{inputs}\0".encode()) if inputs else None
    opened = False
    remaining = iter(paths)
    while batch := list(itertools.islice(remaining, STATE_CHUNK)):
        values = [digest_of(path) for path in batch]
        if sealer is not None:
            sealer.update(
                "".join(f"{p}\0{v}\n" for p, v in zip(batch, values, strict=True)).encode()
            )
        if _plain("".join(batch)) and _plain("".join(set(values))):
            lines = [f'"{p}": "{v}"' for p, v in zip(batch, values, strict=True)]
        else:
            lines = [
                f"{_json_string(p)}: {_json_string(v)}" for p, v in zip(batch, values, strict=True)
            ]
        yield (",\n  " if opened else '{\n "files": {\n  ').encode()
        yield ",\n  ".join(lines).encode()
        opened = True
    generator = json.dumps(f"kurator-compile {__version__}")
    fleet = ""
    if owner:
        fleet = f'\n "fleet": {json.dumps(dict(owner), sort_keys=True)},'
    # only a layout other than the default is recorded: per-object trees' states stay as they were
    recorded = f',\n "layout": {json.dumps(layout)}' if layout != PER_OBJECT else ""
    sealed = f',\n "inputs": "{sealer.hexdigest()}"' if sealer is not None else ""
    head = "\n }" if opened else '{\n "files": {}'
    yield f'{head},{fleet}\n "generator": {generator}{sealed}{recorded}\n}}\n'.encode()


def state_bytes(
    digests: Mapping[str, str],
    owner: Mapping[str, str] | None = None,
    layout: str = PER_OBJECT,
    inputs: str = "",
) -> bytes:
    """A state file's text, whole: for the small ones."""
    return b"".join(state_chunks(sorted(digests), digests.__getitem__, owner, layout, inputs))


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
    return read_below(str(out), relpath)


def _open_regular(path: Path) -> BinaryIO | None:
    """A regular file, open; None for anything else (O_NONBLOCK: a FIFO must not block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        return None
    return handle


def _read_bytes(path: Path) -> bytes | None:
    """A regular file's bytes; None for anything else."""
    handle = _open_regular(path)
    if handle is None:
        return None
    with handle:
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
    known = ours if isinstance(ours, Mapping | AbstractSet) else set(ours)  # not copied whole
    found = []
    for cluster in sorted(os.listdir(clusters)):
        if cluster.endswith(TMP_SUFFIX):
            continue  # a killed build's new folder, not yet in place: not a cluster's
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

    def paths(self) -> Iterator[str]:
        for directory, listed, _, _ in self.folders:
            for name in listed:
                yield f"{directory}/{name}"

    def folder_stats(self, directory: str) -> dict[str, tuple[int, int]]:
        """One folder's files: size and mtime by name, for a build that compares file by file
        (a folder comes in more than one row when a subfolder's files come between)."""
        found: dict[str, tuple[int, int]] = {}
        for listed, sizes, mtimes in self._rows.get(directory, ()):
            for name, size, mtime in zip(listed, sizes, mtimes, strict=True):
                found[name] = (size, mtime)
        return found

    @cached_property
    def _rows(self) -> dict[str, list[tuple[tuple[str, ...], list[int], list[int]]]]:
        rows: dict[str, list[tuple[tuple[str, ...], list[int], list[int]]]] = {}
        for directory, listed, sizes, mtimes in self.folders:
            rows.setdefault(directory, []).append((listed, sizes, mtimes))
        return rows

    def release(self) -> None:
        """Let go of the listings once read (600,000 mtimes at 10,000 clusters)."""
        self.folders = ()
        self.__dict__.pop("_rows", None)

    @staticmethod
    def record(
        out: Path,
        tree: FileTree,
        fingerprint: str,
        warnings: Sequence[str],
        names: StateNames = DEFAULT_NAMES,
        globs: tuple[Sequence[str], Sequence[str]] | None = None,
        known: FileStats | None = None,
        layout: str = PER_OBJECT,
        state_digest: str | None = None,
    ) -> None:
        """`known`: mtimes of files the writer has just written or found unchanged (by their
        position in the tree; their size is their bytes' length), so they need no lstat.
        `layout`: the one the state file records (a no-change run need not parse it);
        `state_digest`: that of the state file the writer left."""
        if state_digest is None:
            state_digest = digest(_read_bytes(out / names.state) or b"")
        # One list of names (and of sizes) per distinct list, referred to by its index; each
        # folder's row is written as soon as the next folder starts (the tree comes in folder
        # order; a folder that comes again, after a subfolder, gets a second row), so neither
        # 600,000 names nor their mtimes are held. Keys after "folders" are read alike.
        name_index: dict[tuple[str, ...], int] = {}
        size_index: dict[tuple[int, ...], int] = {}
        compact = (",", ":")
        head = {"fingerprint": fingerprint, "state": state_digest, "layout": layout}
        tail = {
            "warnings": list(warnings),
            "globs": None if globs is None else [list(part) for part in globs],
        }

        def rows() -> Iterator[str]:
            root = str(out)
            current, names_in, sizes, mtimes = "", list[str](), list[int](), list[int]()
            for index, (path, data) in enumerate(tree.items()):
                mtime = known.get(index) if known is not None else None
                if mtime is None:
                    info = os.lstat(f"{root}/{path}")
                    size, mtime = info.st_size, info.st_mtime_ns
                else:
                    size = len(data)
                directory, _, name = path.rpartition("/")
                if directory != current:
                    if names_in:
                        yield _stat_row(current, names_in, sizes, mtimes, name_index, size_index)
                    current, names_in, sizes, mtimes = directory, [], [], []
                names_in.append(name)
                sizes.append(size)
                mtimes.append(mtime)
            if names_in:
                yield _stat_row(current, names_in, sizes, mtimes, name_index, size_index)

        def chunks() -> Iterator[bytes]:
            yield (json.dumps(head, separators=compact)[:-1] + ',"folders":[').encode()
            batch: list[str] = []
            for row in rows():
                batch.append(row)
                if len(batch) == 256:
                    yield (",".join(batch) + ",").encode()
                    batch = []
            yield ",".join(batch).encode()
            shared = {"names": list(name_index), "sizes": list(size_index), **tail}
            yield ("]," + json.dumps(shared, separators=compact)[1:]).encode()

        _atomic_write_chunks(out / names.cache, chunks())

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


def _stat_row(
    directory: str,
    listed: list[str],
    sizes: list[int],
    mtimes: list[int],
    name_index: dict[tuple[str, ...], int],
    size_index: dict[tuple[int, ...], int],
) -> str:
    """One folder's row of the stat cache, its names and sizes by index into the shared lists."""
    shared_names = name_index.setdefault(tuple(listed), len(name_index))
    shared_sizes = size_index.setdefault(tuple(sizes), len(size_index))
    return json.dumps([directory, shared_names, shared_sizes, mtimes], separators=(",", ":"))


@dataclass
class FileStats:
    """The mtime of a tree's files by their position in it (-1: not known, then an lstat
    tells): an array instead of a path and a tuple per file (600,000 of them at 10,000
    clusters). The size of a file written or found unchanged is its bytes' length."""

    mtimes: array[int] = field(default_factory=lambda: array("q"))

    @classmethod
    def unknown(cls, count: int) -> FileStats:
        return cls(array("q", [-1]) * count)

    def get(self, index: int) -> int | None:
        mtime = self.mtimes[index]
        return None if mtime == -1 else mtime


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # no longer ours, but not the bytes we wrote
    unchanged: int = 0
    # Size and mtime of the files written or found unchanged by their stat, for the StatCache.
    stats: FileStats = field(default_factory=FileStats)
    state_digest: str | None = None  # of the state file as this run left it


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}{TMP_SUFFIX}")
    _write_tmp(tmp, data)
    os.replace(tmp, path)


def _atomic_write_chunks(path: Path, chunks: Iterable[bytes]) -> str:
    """Write a file from its pieces (never whole in memory) and return its digest."""
    tmp = path.with_name(f".{path.name}{TMP_SUFFIX}")
    value = _write_tmp_chunks(tmp, chunks)
    os.replace(tmp, path)
    return value


def _write_tmp(tmp: Path | str, data: bytes) -> int:
    try:
        return _write_new(str(tmp), data)
    except FileExistsError:  # left by a killed run: the name is ours
        os.unlink(tmp)
        return _write_new(str(tmp), data)


def _write_tmp_chunks(tmp: Path | str, chunks: Iterable[bytes]) -> str:
    """`_write_tmp` of a file given in pieces; returns its digest."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # left by a killed run: the name is ours
    hasher = hashlib.sha256()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        pending: list[bytes] = []
        size = 0
        for chunk in chunks:  # gathered to about a megabyte a write
            hasher.update(chunk)
            pending.append(chunk)
            size += len(chunk)
            if size >= 1 << 20:
                _write_all(fd, b"".join(pending))
                pending, size = [], 0
        _write_all(fd, b"".join(pending))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        os.close(fd)
    return hasher.hexdigest()


def _stream_digest(path: Path) -> str | None:
    """A regular file's digest, read in pieces; None for anything else or when absent."""
    handle = _open_regular(path)
    if handle is None:
        return None
    with handle:
        hasher = hashlib.sha256()
        while block := handle.read(1 << 20):
            hasher.update(block)
        return hasher.hexdigest()


def _os_error(error: OSError, out: Path) -> CompileError:
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        reason = "no space left on device"
    return _error(f"cannot write {error.filename or out}: {reason}; the previous tree is intact")


def _listing(directory: str) -> set[str]:
    try:
        return set(os.listdir(directory))
    except FileNotFoundError:
        return set()


@dataclass
class Plan:
    # positions in the tree: arrays, not lists of ints (600,000 of them for a fresh build)
    new: array[int] = field(default_factory=lambda: array("q"))  # no file there yet
    changed: array[int] = field(default_factory=lambda: array("q"))  # through a temporary
    same: int = 0
    stats: FileStats = field(default_factory=FileStats)  # same, by size and mtime


def plan_writes(
    out: Path,
    tree: FileTree,
    state: State,
    digest_of: Callable[[str], str],
    stats: StatCache,
    paths: Sequence[str] | None = None,
) -> Plan:
    """Compare the tree with OUT, reading a file only when size, mtime or digest disagree.
    Each folder is listed once, and its lines of the stat cache read when it is reached."""
    paths = list(tree) if paths is None else paths
    plan = Plan(stats=FileStats.unknown(len(paths)))
    root = str(out)
    checked_dirs: set[str] = set()
    current: str | None = None
    names: set[str] = set()
    known: dict[str, tuple[int, int]] | None = None
    for index, path in enumerate(paths):
        directory, _, name = path.rpartition("/")
        if directory != current:
            if directory not in checked_dirs:
                _check_no_symlinks(out, directory)
                checked_dirs.add(directory)
            current, names, known = directory, _listing(f"{root}/{directory}"), None
        if name not in names:
            plan.new.append(index)
            continue
        full = f"{root}/{path}"
        if known is None:
            known = stats.folder_stats(directory)
        seen = known.get(name)
        if seen is not None and state.files.get(path) == digest_of(path):
            with contextlib.suppress(OSError):
                info = os.lstat(full)
                if (info.st_size, info.st_mtime_ns) == seen:
                    plan.same += 1
                    plan.stats.mtimes[index] = seen[1]
                    continue
        if os.path.islink(full):
            raise _error(f"{full} is a symlink; kurator-compile never writes through links")
        current_bytes = _read_bytes(Path(full))
        if current_bytes == tree[path]:
            plan.same += 1
        elif path not in state.files:
            raise _error(
                f"{full} exists and was not written by kurator-compile; "
                "move it away or delete it yourself"
            )
        else:
            plan.changed.append(index)
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
        # no state and no journal: a tree this tool did not write (a state it cannot read is
        # refused below, with the lock held; parsing it here would only double the work)
        if names == DEFAULT_NAMES and not any(
            os.path.lexists(out / name) for name in (names.state, names.journal)
        ):
            foreign = _foreign_entries(out)
            if foreign:
                raise _error(
                    f"{out} is not empty and holds no {STATE_FILE}, so kurator-compile did not "
                    f"write it; refusing to mix trees (found: {', '.join(foreign[:5])}). "
                    "Use an empty or new output directory."
                )
        with locked(out):
            # the stat cache first: its load's peak (its text, 35 MB at 600,000 files) comes
            # before the state's files are held, not on top of them
            cache = StatCache.load(out, names)
            loaded = read_state(out, names)
            state = loaded or State()
            check_owner(out, state, owner)
            # what a finished build wrote: without a journal, the state just read
            previous = _load_state_file(out / names.state) if state.journal else loaded
            del loaded
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
                out, tree, state, allow_cluster_removal, names, owner, layout, inputs, cache
            )
            try:
                StatCache.record(
                    out,
                    tree,
                    fingerprint,
                    warnings,
                    names,
                    globs,
                    report.stats,
                    layout,
                    report.state_digest,
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


class _Digests:
    """A path's digest, taken once per distinct bytes object: the tree shares equal texts, so
    a dict of digests per path (600,000 at 10,000 clusters) would repeat a few thousand."""

    def __init__(self, tree: FileTree) -> None:
        self.tree = tree
        self.by_object: dict[int, str] = {}

    def __call__(self, path: str) -> str:
        data = self.tree[path]
        value = self.by_object.get(id(data))
        if value is None:
            value = self.by_object[id(data)] = digest(data)
        return value


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)  # all of it, but for a huge file or a full disk
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]


def _write_new(path: str, data: bytes, folder: int | None = None) -> int:
    """The new file's mtime, from its descriptor: cheaper than an lstat later (its size is
    the length of `data`).
    `folder`: an open folder that `path` is relative to."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = (
        os.open(path, flags, 0o644)
        if folder is None
        else os.open(path, flags, 0o644, dir_fd=folder)
    )
    try:
        _write_all(fd, data)
        return os.fstat(fd).st_mtime_ns
    finally:
        os.close(fd)


def _in_path_order(paths: Sequence[str]) -> bool:
    return all(map(operator.lt, paths, itertools.islice(paths, 1, None)))


def _write_locked(
    out: Path,
    tree: FileTree,
    state: State,
    allow_cluster_removal: bool,
    names: StateNames = DEFAULT_NAMES,
    owner: Mapping[str, str] | None = None,
    layout: str = PER_OBJECT,
    inputs: str = "",
    cache: StatCache | None = None,
) -> WriteReport:
    vanished = sorted(clusters_of(state.files) - clusters_of(tree))
    if vanished and not allow_cluster_removal:
        raise _error(
            "these clusters would lose their whole folder: "
            + ", ".join(vanished)
            + ". Argo CD or Flux would then delete every workload they run. "
            "Pass --allow-cluster-removal if they really left the fleet."
        )
    digest_of = _Digests(tree)
    paths = list(tree)
    ordered = paths if _in_path_order(paths) else sorted(paths)  # the state file's order
    _remove_temporaries(out, [names.journal, names.state])
    if state.journal:  # a killed run: its temporaries are ours, whatever it was writing
        _remove_leftovers(out, state, tree)
    cache = cache or StatCache.load(out, names)
    plan = plan_writes(out, tree, state, digest_of, cache, paths)
    cache.release()
    stale, kept = _stale_files(out, tree, state)
    report = WriteReport(unchanged=plan.same, stats=plan.stats, kept=kept)

    def new_state() -> Iterator[bytes]:
        return state_chunks(ordered, digest_of, owner, layout, inputs)

    if not plan.new and not plan.changed and not stale:
        hasher = hashlib.sha256()
        for chunk in new_state():  # 90 MB at 600,000 files: compared by digest, never whole
            hasher.update(chunk)
        report.state_digest = hasher.hexdigest()
        if _stream_digest(out / names.state) != report.state_digest:
            _atomic_write_chunks(out / names.state, new_state())
        if state.journal:
            with contextlib.suppress(FileNotFoundError):
                (out / names.journal).unlink()
        return report
    # The journal lists what this run may leave behind: the new tree, and what a killed run's
    # journal listed that the new tree does not (its files may be in place already).
    older = sorted(p for p in state.journal if p not in tree)

    def journal_digest(path: str) -> str:
        return digest_of(path) if path in tree else state.journal[path]

    state_tmp = out / names.state
    state_tmp = state_tmp.with_name(f".{state_tmp.name}{TMP_SUFFIX}")
    if older:
        _atomic_write_chunks(
            out / names.journal, state_chunks(heapq.merge(older, ordered), journal_digest)
        )
    else:
        # Then the journal lists what the new state lists: the state's temporary is written
        # first and copied in the kernel (a state file reads as a journal), not encoded twice.
        journal_tmp = out / names.journal
        journal_tmp = journal_tmp.with_name(f".{journal_tmp.name}{TMP_SUFFIX}")
        try:
            report.state_digest = _write_tmp_chunks(state_tmp, new_state())
            shutil.copyfile(state_tmp, journal_tmp, follow_symlinks=False)
            os.replace(journal_tmp, out / names.journal)
        except OSError:
            for written in (state_tmp, journal_tmp):
                with contextlib.suppress(OSError):
                    written.unlink()
            raise
    del older
    root = str(out)
    pending = (plan.new, plan.changed)
    folders = _NewFolders(root)
    beside = array("q")  # written to a temporary name beside their target
    made_dirs: list[str] = []
    try:
        # Phase 1: every new byte on disk, under a temporary name beside its target (a new
        # folder: under a temporary name beside the topmost new one), the new state included.
        # Every check and every write that can fail for lack of space happens here, before
        # the first rename.
        present: set[str] = set()
        current, folder = "", -1
        mtimes = report.stats.mtimes
        try:
            for index in itertools.chain(*pending):
                path = paths[index]
                directory, _, name = path.rpartition("/")
                if directory != current:
                    if folder >= 0:
                        os.close(folder)
                        folder = -1
                    current, folder = directory, folders.open(directory)
                    full = f"{root}/{directory}"
                    if folder < 0 and directory not in present and not os.path.isdir(full):
                        os.makedirs(full)
                        made_dirs.append(full)
                    present.add(directory)
                if folder >= 0:
                    # a rename keeps the mtime
                    mtimes[index] = _write_new(name, tree[path], folder)
                else:
                    beside.append(index)  # first: a failed write may leave its temporary
                    mtimes[index] = _write_tmp(_temporary(root, path), tree[path])
        finally:
            if folder >= 0:
                os.close(folder)
        if report.state_digest is None:  # not written with the journal
            report.state_digest = _write_tmp_chunks(state_tmp, new_state())
    except OSError:
        leftovers = [_temporary(root, paths[index]) for index in beside]
        for leftover in [*leftovers, str(state_tmp)]:
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        folders.remove()
        for directory in sorted(made_dirs, reverse=True):
            _remove_empty_parents(out, Path(directory))
        with contextlib.suppress(OSError):
            if state.journal:
                _atomic_write(out / names.journal, state_bytes(state.journal))
            else:
                (out / names.journal).unlink()
        raise
    try:
        folders.rename()  # phase 2: renames, each atomic
        for index in beside:
            path = paths[index]
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
    report.written = sorted(paths[index] for index in itertools.chain(*pending))
    return report


class _NewFolders:
    """A folder that does not exist yet is written whole under a temporary name beside the
    topmost new folder above it (`.NAME.kurator-tmp`), and that one is renamed into place
    with its contents: one rename instead of one per file, and the folder appears complete
    or not at all. A killed run's temporary folders are cleared by `_remove_leftovers`."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.tops: dict[str, str] = {}  # folder -> the topmost new folder above it, or ""
        self.made: dict[str, bool] = {}  # topmost new folder -> its temporary folder made?
        self.inner: set[str] = set()  # folders made inside the temporary ones

    def top(self, directory: str) -> str:
        known = self.tops.get(directory)
        if known is None:
            if os.path.lexists(f"{self.root}/{directory}"):
                known = ""
            else:
                parent = directory.rpartition("/")[0]
                known = (self.top(parent) or directory) if parent else directory
            self.tops[directory] = known
        return known

    def temporary(self, top: str) -> str:
        parent, _, name = top.rpartition("/")
        return (
            f"{self.root}/{parent}/.{name}{TMP_SUFFIX}"
            if parent
            else (f"{self.root}/.{name}{TMP_SUFFIX}")
        )

    def open(self, directory: str) -> int:
        """The open folder that takes `directory`'s new files, or -1: they go beside their
        targets (the folder exists, or a temporary folder of that name is in the way)."""
        top = self.top(directory)
        if not top:
            return -1
        made = self.made.get(top)
        if made is None:
            try:
                os.mkdir(self.temporary(top))
                made = True
            except FileExistsError:  # not cleared: not ours to remove
                made = False
            self.made[top] = made
        if not made:
            return -1
        inner = self.temporary(top) + directory[len(top) :]
        if inner not in self.inner and directory != top:
            os.makedirs(inner, exist_ok=True)
            self.inner.add(inner)
        return os.open(inner, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)

    def rename(self) -> None:
        for top, made in self.made.items():
            if made:
                os.replace(self.temporary(top), f"{self.root}/{top}")

    def remove(self) -> None:
        """After a failure in phase 1: the temporary folders this run made."""
        for top, made in self.made.items():
            if made:
                shutil.rmtree(self.temporary(top), ignore_errors=True)


def _temporary(root: str, path: str) -> str:
    """The temporary name beside `path` (made again when needed: kept for 600,000 files,
    these names would take more memory than the files' contents)."""
    directory, _, name = path.rpartition("/")
    return f"{root}/{directory}/.{name}{TMP_SUFFIX}"


def _remove_temporaries(out: Path, paths: Sequence[str]) -> None:
    """Temporary files a killed run left beside files of the state folder."""
    for path in paths:
        directory, _, name = path.rpartition("/")
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(f"{out}/{directory}/.{name}{TMP_SUFFIX}")


def _remove_leftovers(out: Path, state: State, tree: FileTree) -> None:
    """What a killed run left: a temporary file beside a file that it or an earlier run
    owned or meant to write, and a temporary folder in place of a folder of such files.
    Each folder on the way to those files is listed once; inside a temporary folder, only
    the files that the journal or the state lists are removed, then the folders left empty."""

    def owned(path: str) -> bool:
        return path in state.files or path in tree

    folders: set[str] = {""}
    for paths in (state.files, tree):
        for path in paths:
            directory = path.rpartition("/")[0]
            while directory not in folders:
                folders.add(directory)
                directory = directory.rpartition("/")[0]
    for folder in sorted(folders):
        try:
            fd = os.open(f"{out}/{folder}", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue  # absent, or not a folder: nothing of ours in it
        try:
            for entry in os.scandir(fd):
                name = entry.name
                if not (name.startswith(".") and name.endswith(TMP_SUFFIX)):
                    continue
                target = name[1 : -len(TMP_SUFFIX)]
                final = f"{folder}/{target}" if folder else target
                if final in folders and entry.is_dir(follow_symlinks=False):
                    _remove_temporary_folder(fd, name, final, owned)
                elif owned(final) and not entry.is_dir(follow_symlinks=False):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(name, dir_fd=fd)
        finally:
            os.close(fd)


def _remove_temporary_folder(
    parent: int, name: str, final: str, owned: Callable[[str], bool]
) -> None:
    """A killed run's temporary folder for `final`: the files in it that runs of ours meant
    to write, then the folder once empty. Anything else stays, and the folder with it."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    except OSError:
        return
    try:
        for entry in os.scandir(fd):
            path = f"{final}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                _remove_temporary_folder(fd, entry.name, path, owned)
            elif owned(path):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(name, dir_fd=parent)


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

"""An unchanged `build` or `check` decided with os, hashlib and json alone.

The console script asks here first: importing the modules that use dataclasses and pathlib
was a third of such a run at a hundred clusters. Only the plain case is decided here: globs
without `**` or `!`, inputs that are regular files inside the repository root and reached
through no symbolic link, the default state files. Anything else answers None and the caller
takes the longer way, so this never finds up to date what the CLI would not: the digests
and the stat cache's format are those of sources.py and emit.py, which use this module's
functions for them.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import json
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from hashlib import _Hash

    # (folder, names, sizes, mtimes): equal name and size lists are one object
    Folder = tuple[str, tuple[str, ...], list[int], list[int]]
    Globs = tuple[tuple[str, ...], tuple[str, ...]]  # the fleet's resources and overlays

CLUSTERS = "clusters/"  # tree.CLUSTERS_DIR's folders, the ones Argo CD and Flux apply
CACHE_FILE = ".kurator/cache.json"
STATE_FILE = ".kurator/state.json"
JOURNAL_FILE = ".kurator/journal.json"
LAYOUTS = ("per-object", "per-cluster")  # tree.LAYOUTS
OPTION_FIELDS = (  # options.Options, in order, with their defaults (a test compares them)
    ("strict", False),
    ("only_cluster", None),
    ("kustomization", False),
    ("allow_outside", False),
    ("root", None),
    ("shard", None),
    ("validate_output", True),
    ("loose", False),
    ("crd_schemas", ()),
    ("ignore_missing_schemas", False),
    ("reschedule", False),
    ("reschedule_objects", ()),
    ("layout", "per-object"),
)


class NotPlain(Exception):
    """Something only the full reader handles (or reports): the caller takes that way."""


def code_files() -> Iterator[tuple[str, str]]:
    """This package's own files, relative name and path, in a fixed order."""
    package = os.path.dirname(os.path.abspath(__file__))
    for folder, subfolders, files in os.walk(package):
        # bytecode caches hold no .py or .json file: not listed (every run takes this digest)
        subfolders[:] = sorted(name for name in subfolders if name != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".json")):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, package), path


def code_digest() -> str:
    """A digest of this package's own files: output depends on the compiler, not only inputs.

    Taken from each file's size and mtime, as Python validates its bytecode caches: an
    upgrade or an edit rewrites the file, and a no-change rebuild need not read them all.
    """
    hasher = hashlib.sha256()
    for relative, path in code_files():
        info = os.stat(path)
        hasher.update(f"{relative}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return hasher.hexdigest()


def inputs_hasher(code: str, options: str, root: str, texts: Sequence[tuple[str, str]]) -> _Hash:
    """The fingerprint's hash of the compiler, the options' repr, the root and every input
    (path and text, in the order the compiler reads them)."""
    hasher = hashlib.sha256()
    hasher.update(f"{code}\0{options}\0{root}\0".encode())
    for path, text in texts:
        hasher.update(f"{path}\0{len(text)}\0".encode())
        hasher.update(text.encode("utf-8"))
    return hasher


def find_root(fleet: str) -> str:
    """The repository root: the nearest ancestor with `.git`, else the working directory
    when it contains the fleet file, else the fleet file's directory."""
    fleet_dir = os.path.dirname(os.path.realpath(fleet))
    candidate = fleet_dir
    while True:
        if os.path.exists(os.path.join(candidate, ".git")):
            return candidate
        parent = os.path.dirname(candidate)
        if parent == candidate:
            break
        candidate = parent
    cwd = os.path.realpath(os.getcwd())
    if fleet_dir == cwd or fleet_dir.startswith(cwd.rstrip("/") + "/"):
        return cwd
    return fleet_dir


def rendered_dir(fleet: str, root: str | None) -> str:
    """Where output goes without `-o`: `rendered/` at the repository root, wherever the
    command runs from (relative when below the working directory)."""
    path = os.path.join(os.path.realpath(root or find_root(fleet)), "rendered")
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else path


def parse_stat_cache(
    data: bytes,
) -> tuple[str, list[Folder], str, tuple[str, ...], Globs | None, str]:
    """The stat cache's fingerprint, folders, state digest, warnings, globs and layout
    (emit.StatCache); ValueError, KeyError, TypeError, IndexError or AttributeError when it
    is not one."""
    raw = json.loads(data.decode("utf-8"))
    shared_names = [_strings(listed) for listed in raw["names"]]
    shared_sizes = [_list(listed) for listed in raw["sizes"]]
    folders = []
    for directory, name_index, size_index, mtimes in raw["folders"]:
        listed, sizes = shared_names[name_index], shared_sizes[size_index]
        if not isinstance(directory, str) or not len(listed) == len(sizes) == len(mtimes):
            raise TypeError("not a folder")
        folders.append((directory, listed, sizes, mtimes))
    globs = raw.get("globs")
    layout = raw.get("layout")
    return (
        str(raw["fingerprint"]),
        folders,
        str(raw["state"]),
        tuple(str(w) for w in raw.get("warnings", [])),
        None if globs is None else (_strings(globs[0]), _strings(globs[1])),
        layout if layout in LAYOUTS else "",
    )


def _strings(values: object) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise TypeError("not a list of strings")
    return tuple(values)


def _list(values: object) -> list[int]:
    """Sizes or mtimes: only compared with those of files, so any other item just differs."""
    if not isinstance(values, list):
        raise TypeError("not a list")
    return values


def outputs_unchanged(root: str, folders: Sequence[Folder]) -> bool | None:
    """None when a file of the stat cache is gone or has another size or mtime; else whether
    the cluster folders hold exactly those files (their entries are counted)."""
    exact = True
    cluster_folders = 0
    for directory, listed, sizes, mtimes in folders:
        in_clusters = directory.startswith(CLUSTERS) and directory.count("/") == 1
        counted = _listing_matches(f"{root}/{directory}", listed, sizes, mtimes, in_clusters)
        if counted is None:
            return None
        if in_clusters:
            cluster_folders += 1
            exact = exact and counted == len(listed)
    return exact and _entry_count(f"{root}/{CLUSTERS}") == cluster_folders


def _entry_count(directory: str) -> int:
    try:
        return len(os.listdir(directory))
    except OSError:
        return -1


def _listing_matches(
    directory: str, listed: tuple[str, ...], sizes: list[int], mtimes: list[int], count: bool
) -> int | None:
    """Whether every file of one folder still has its recorded size and mtime (None if not);
    with `count`, how many entries the folder holds (else 0)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        found = [os.lstat(name, dir_fd=fd) for name in listed]
        if [info.st_mtime_ns for info in found] != mtimes:
            return None
        if [info.st_size for info in found] != sizes:
            return None
        return len(os.listdir(fd)) if count else 0
    except OSError:
        return None
    finally:
        os.close(fd)


def options_repr(flags: set[str], layout: str) -> str:
    """`repr(Options(...))` for the flags a plain command line may carry."""
    asked = {
        "strict": "--strict" in flags,
        "kustomization": "--kustomization" in flags,
        "allow_outside": "--allow-outside" in flags,
        "validate_output": "--no-validate" not in flags,
        "loose": "--loose" in flags,
        "ignore_missing_schemas": "--ignore-missing-schemas" in flags,
        "layout": layout,
    }
    fields = ", ".join(f"{name}={asked.get(name, default)!r}" for name, default in OPTION_FIELDS)
    return f"Options({fields})"


def answer(
    flags: set[str], layout_asked: str | None, output: str | None, lock: str | None, fleet: str
) -> tuple[str, int, tuple[str, ...]] | None:
    """(OUT as shown, files, warnings) when OUT is as the last build left it from these very
    inputs, options and compiler and holds nothing else in its cluster folders; None when
    not (the CLI says why). NotPlain when this is not the plain case."""
    if output is not None and os.path.normpath(output) != output:
        raise NotPlain(output)  # the CLI shows OUT as pathlib spells it
    try:
        out = output if output is not None else rendered_dir(fleet, None)
        cache = read_below(out, CACHE_FILE)
        if cache is None or os.path.lexists(os.path.join(out, JOURNAL_FILE)):
            return None
        fingerprint, folders, state_digest, warnings, globs, layout = parse_stat_cache(cache)
        layout = layout_asked or layout
        if not folders or globs is None or not layout:
            return None
        root, texts = read_plain_inputs(fleet, globs, lock)
        options = options_repr(flags, layout)
        hasher = inputs_hasher(code_digest(), options, root, texts)
        if hasher.hexdigest() != fingerprint:
            return None
        state = read_below(out, STATE_FILE)
        if state is None or hashlib.sha256(state).hexdigest() != state_digest:
            return None
        if outputs_unchanged(out, folders) is not True:
            return None
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None
    return out, sum(len(listed) for _, listed, _, _ in folders), warnings


def read_below(out: str, relpath: str) -> bytes | None:
    """A regular file below OUT, reached through no symbolic link below OUT; else None."""
    try:
        folder = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        *parents, name = relpath.split("/")
        for part in parents:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            os.close(folder)
            folder = inner
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            with os.fdopen(os.dup(fd), "rb") as handle:
                return handle.read()
        finally:
            os.close(fd)
    except OSError:  # absent, a link on the way or at the end, not readable
        return None
    finally:
        os.close(folder)


def read_plain_inputs(
    fleet: str, globs: Globs, lock: str | None
) -> tuple[str, list[tuple[str, str]]]:
    """The root and every input (shown path, text) as sources.read_sources reads them with
    these globs, in the fingerprint's order: fleet, resources, overlays, templates, lock.
    NotPlain for anything it would treat otherwise or report."""
    root = os.path.realpath(find_root(fleet))
    if root == "/":
        raise NotPlain(root)
    fleet_path = os.path.realpath(fleet)
    base = os.path.dirname(fleet_path)
    texts = [(_shown(fleet_path, root), _text(fleet_path))]
    resources = _listed(globs[0], base, root, {fleet_path}, directories=False)
    overlays = _listed(globs[1], base, root, set(), directories=True)
    plain = [path for path in resources if not path.endswith(".yaml.j2")]
    templates = [path for path in resources if path.endswith(".yaml.j2")]
    texts.extend((_shown(path, root), _text(path)) for path in (*plain, *overlays, *templates))
    if lock is None:
        name = os.path.basename(fleet_path)
        for suffix in (".yaml", ".yml"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        lock_at = os.path.join(base, name + ".lock.json")
    elif os.path.normpath(lock) == lock:
        lock_at = lock if os.path.isabs(lock) else os.path.join(os.getcwd(), lock)
    else:
        raise NotPlain(lock)
    try:
        with open(lock_at, "rb") as handle:
            raw = handle.read()
    except OSError:
        return root, texts
    texts.append((_shown(lock_at, root), raw.decode("utf-8", "replace")))
    return root, texts


def _listed(
    patterns: Sequence[str], base: str, root: str, seen: set[str], directories: bool
) -> list[str]:
    """The files the globs match, each once, in order: one pattern's matches sorted."""
    found = []
    for pattern in patterns:
        for path in _matches(pattern, base, root, directories):
            if path not in seen:
                seen.add(path)
                found.append(path)
    return found


def _matches(pattern: str, base: str, root: str, directories: bool) -> list[str]:
    """One glob's files: a folder without links inside the root, then a last component (a
    glob, a file, or for overlays a folder standing for its YAML files)."""
    if pattern.startswith("!") or "**" in pattern:
        raise NotPlain(pattern)
    full = os.path.normpath(os.path.join(base, pattern))
    folder, _, head = full.rpartition("/")
    if glob.has_magic(folder) or not head or os.path.realpath(folder) != folder:
        raise NotPlain(pattern)
    if not (folder == root or folder.startswith(f"{root}/")):
        raise NotPlain(pattern)
    if glob.has_magic(head):
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        hidden_too = head.startswith(".")
        names = [
            e.name
            for e in entries
            if fnmatch.fnmatchcase(e.name, head) and (hidden_too or e.name[0] != ".")
        ]
        found = [_regular(os.path.join(folder, name)) for name in names]
    else:
        info = os.lstat(full)  # FileNotFoundError: `matches no file`, reported by the CLI
        if stat.S_ISDIR(info.st_mode) and directories:
            with os.scandir(full) as listing:
                names = sorted(e.name for e in listing if e.name.endswith((".yaml", ".yml")))
            found = [_regular(os.path.join(full, name)) for name in names]
        else:
            found = [_regular(full)]
    if not found:
        raise NotPlain(pattern)
    return found


def _regular(path: str) -> str:
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise NotPlain(path)
    return path


def _shown(path: str, root: str) -> str:
    """sources.display_path for a normalised absolute path."""
    if path.startswith(f"{root}/"):
        return path[len(root) + 1 :]
    return os.path.relpath(path, root)


def _text(path: str) -> str:
    """sources.read_text for a regular file it accepts; NotPlain for one it reports."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotPlain(path)
        raw = handle.read()
    if b"\x00" in raw:
        raise NotPlain(path)
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise NotPlain(path) from None

"""The only disk reader: the fleet file, the files its globs name, and its overlays."""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CompileError, Diagnostic, SourceLocation
from .unchanged import code_files, inputs_hasher
from .unchanged import find_root as find_root_of

if TYPE_CHECKING:
    from .yamldoc import Document

TEMPLATE_SUFFIX = ".yaml.j2"


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the root, POSIX separators; what diagnostics show
    text: str


@dataclass(frozen=True)
class Globs:
    """The fleet's `resources` and `overlays` patterns: with the fleet file's text unchanged,
    enough to find every input again without parsing YAML (a no-change rebuild's check)."""

    resources: tuple[str, ...]
    overlays: tuple[str, ...]


@dataclass(frozen=True)
class Sources:
    """Everything the compiler reads, read once, so every later stage is pure."""

    root: Path
    fleet: SourceFile
    resources: tuple[SourceFile, ...]
    overlays: tuple[SourceFile, ...]
    fleet_documents: tuple[Document, ...] = ()  # parsed once: the globs live in the first
    templates: tuple[SourceFile, ...] = ()  # *.yaml.j2 resources, rendered per cluster
    globs: Globs = field(default_factory=lambda: Globs((), ()))
    # The placement lock: where it lives, and its text (None when there is none yet).
    lock_path: Path | None = None
    lock: SourceFile | None = None


def code_content_digest() -> str:
    """A digest of this package's files by their bytes: the same in every installation of the
    same code (each install sets its own mtimes), as a committed state file needs."""
    hasher = hashlib.sha256()
    for relative, path in code_files():
        with open(path, "rb") as handle:
            data = handle.read()
        hasher.update(f"{relative}\0{len(data)}\0".encode())
        hasher.update(data)
    return hasher.hexdigest()


def fingerprint(sources: Sources, options: object, code: str) -> str:
    """Everything the output depends on: compiler code, options and every input file."""
    lock = (sources.lock,) if sources.lock is not None else ()
    read = (sources.fleet, *sources.resources, *sources.overlays, *sources.templates, *lock)
    texts = [(source.path, source.text) for source in read]
    hasher = inputs_hasher(code, repr(options), str(sources.root), texts)
    for directory in getattr(options, "crd_schemas", ()):
        _hash_folder(hasher, Path(directory))
    return hasher.hexdigest()


def _hash_folder(hasher: Any, directory: Path) -> None:
    """Every file of a `--crd-schemas` folder, by name and bytes: editing a schema must make
    the next build validate again, not report the tree up to date."""
    for folder, subfolders, files in os.walk(directory):
        subfolders.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                if not stat.S_ISREG(os.stat(path).st_mode):
                    continue  # a FIFO would block; the schema store refuses it anyway
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as error:
                data = f"unreadable: {error.strerror}".encode()
            relative = os.path.relpath(path, directory)
            hasher.update(f"{relative}\0{len(data)}\0".encode())
            hasher.update(data)


def find_root(fleet_path: Path) -> Path:
    """The repository root: the nearest ancestor with `.git`, else the working directory
    when it contains the fleet file, else the fleet file's directory."""
    return Path(find_root_of(str(fleet_path)))


def display_path(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return Path(os.path.relpath(path, root)).as_posix()


def _read_regular(path: Path, shown: str, where: SourceLocation) -> bytes:
    """The bytes of a regular file; a FIFO or device is refused before a read could block."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            raise CompileError(
                [Diagnostic.error(f"{shown} is not a regular file (a FIFO or device?)", where)]
            )
        return handle.read()


def read_text(path: Path, shown: str, origin: SourceLocation | None = None) -> str:
    where = origin or SourceLocation(shown, 1, 1)
    try:
        raw = _read_regular(path, shown, where)
    except IsADirectoryError:
        raise CompileError(
            [Diagnostic.error(f"{shown} is a directory, not a file", where)]
        ) from None
    except OSError as error:
        raise CompileError(
            [Diagnostic.error(f"cannot read {shown}: {error.strerror}", where)]
        ) from None
    if b"\x00" in raw:
        raise CompileError(
            [Diagnostic.error("this is a binary file, not YAML text", SourceLocation(shown, 1, 1))]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise CompileError(
            [
                Diagnostic.error(
                    "this file is not UTF-8 text (a binary file or another encoding?)",
                    SourceLocation(shown, line, column),
                )
            ]
        ) from None
    return text.removeprefix("\ufeff")


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class _SymlinkCycle(Exception):
    pass


class _Outside(Exception):
    """A glob about to walk outside the repository root: refused before it walks there."""


class _TooMuchWork(Exception):
    pass


# Directory steps one glob may take: symlink diamonds and repeated `**` multiply them.
MAX_GLOB_STEPS = 50_000


@dataclass
class _Walk:
    root: str | None  # the real repository root, or None when globs may leave it
    steps: int = 0

    def step(self, path: str, real: str) -> None:
        self.steps += 1
        if self.steps > MAX_GLOB_STEPS:
            raise _TooMuchWork(path)
        if self.root is not None:
            inside = real == self.root or real.startswith(self.root.rstrip(os.sep) + os.sep)
            above = self.root.startswith(real.rstrip(os.sep) + os.sep)  # on the way down
            if not inside and not above:
                raise _Outside(real)


def _walk(
    directory: str, parts: list[str], ancestors: frozenset[str], walk: _Walk, here: str
) -> Iterator[str]:
    """glob with `**`, following directory symlinks but never round a cycle, never outside
    the root unless allowed, and for at most MAX_GLOB_STEPS directory steps. `here` is the
    real path of `directory`: each step resolves one more name, not the whole path again."""
    if not parts:
        yield directory
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        yield from _walk(directory, rest, ancestors, walk, here)
        for entry in _entries(directory):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            real = os.path.realpath(os.path.join(here, entry.name))
            walk.step(entry.path, real)
            if real in ancestors:
                raise _SymlinkCycle(entry.path)
            yield from _walk(entry.path, parts, ancestors | {real}, walk, real)
    elif glob.has_magic(head):
        for entry in _entries(directory):
            if fnmatch.fnmatchcase(entry.name, head) and (
                head.startswith(".") or not entry.name.startswith(".")
            ):
                real = os.path.realpath(os.path.join(here, entry.name)) if rest else ""
                if rest:
                    walk.step(entry.path, real)
                yield from _walk(entry.path, rest, ancestors, walk, real)
    else:
        candidate = os.path.join(directory, head)
        if os.path.lexists(candidate):
            real = os.path.realpath(os.path.join(here, head)) if rest else ""
            if rest and glob.has_magic("/".join(rest)):
                walk.step(candidate, real)  # about to list it: inside the root, or refused now
            yield from _walk(candidate, rest, ancestors, walk, real)


def _entries(directory: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as found:
            return sorted(found, key=lambda e: e.name)
    except (NotADirectoryError, FileNotFoundError, PermissionError):
        return []


def _glob(full: Path, root: Path | None) -> list[str]:
    text = os.path.normpath(str(full))
    anchor, *parts = text.split(os.sep) if text.startswith(os.sep) else ["", *text.split(os.sep)]
    start = os.sep if text.startswith(os.sep) else "."
    del anchor
    ancestors = frozenset({os.path.realpath(start)})
    walk = _Walk(None if root is None else os.path.realpath(root))
    return sorted(set(_walk(start, parts, ancestors, walk, os.path.realpath(start))))


def _expand(
    pattern: str,
    base: Path,
    root: Path,
    origin: SourceLocation,
    allow_outside: bool,
    directories_as_yaml: bool,
) -> Iterator[Path]:
    """Paths matched by one glob, sorted; each resolved and checked against the root."""
    full = base / pattern
    try:
        matches = _glob(full, None if allow_outside else root)
    except _Outside as outside:
        raise CompileError([_outside_error(pattern, Path(str(outside)), root, origin)]) from None
    except _TooMuchWork:
        raise CompileError(
            [
                Diagnostic.error(
                    f"{pattern!r} takes more than {MAX_GLOB_STEPS} directory steps (repeated "
                    "'**' or symlinks that reach one folder by many paths?); narrow the glob",
                    origin,
                )
            ]
        ) from None
    except _SymlinkCycle as cycle:
        shown = display_path(Path(str(cycle)), root)
        raise CompileError(
            [
                Diagnostic.error(
                    f"{pattern!r} walks into a symlink cycle at {shown}; remove the symlink or "
                    "narrow the glob",
                    origin,
                )
            ]
        ) from None
    if not matches:
        raise CompileError([Diagnostic.error(f"{pattern!r} matches no file", origin)])
    for match in matches:
        path = Path(match)
        if path.is_dir():
            if not directories_as_yaml:
                continue
            inner = sorted(p for p in path.iterdir() if p.name.endswith((".yaml", ".yml")))
            candidates = [p for p in inner if not p.is_dir()]  # a FIFO is refused below
        else:
            candidates = [path]
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved.exists() and not stat.S_ISREG(resolved.stat().st_mode):
                raise CompileError(
                    [
                        Diagnostic.error(
                            f"{pattern!r} matches {display_path(candidate, root)}, which is not "
                            "a regular file (a pipe, socket or device cannot be read as YAML)",
                            origin,
                        )
                    ]
                )
            if not allow_outside and not _inside(resolved, root):
                raise CompileError([_outside_error(pattern, resolved, root, origin)])
            yield resolved


def _outside_error(pattern: str, resolved: Path, root: Path, origin: SourceLocation) -> Diagnostic:
    return Diagnostic.error(
        f"{pattern!r} reaches {display_path(resolved, root)}, outside the repository root "
        f"{root.name}/ (through '..' or a symlink); pass --allow-outside to permit it",
        origin,
    )


def _string_list(doc: Document, field: str) -> list[tuple[str, SourceLocation]]:
    spec = doc.data.get("spec") if isinstance(doc.data, dict) else None
    values: Any = spec.get(field) if isinstance(spec, dict) else None
    if not isinstance(values, list):
        return []
    return [
        (value, doc.locate(f"/spec/{field}/{index}"))
        for index, value in enumerate(values)
        if isinstance(value, str) and value
    ]


EXCLUDE = "!"


def _matches_parts(pattern: list[str], parts: list[str]) -> bool:
    """Whether path components match glob components, `**` standing for any number of them
    (a table over both lists: linear in their product, whatever the number of `**`)."""
    reach = [[False] * (len(parts) + 1) for _ in range(len(pattern) + 1)]
    reach[0][0] = True
    for i, head in enumerate(pattern):
        for j in range(len(parts) + 1):
            if not reach[i][j]:
                continue
            if head == "**":
                for k in range(j, len(parts) + 1):
                    reach[i + 1][k] = True
            elif j < len(parts) and fnmatch.fnmatchcase(parts[j], head):
                reach[i + 1][j + 1] = True
    return reach[len(pattern)][len(parts)]


def excludes(pattern: str, base: Path, path: Path) -> bool:
    """Whether a `!pattern` of the Fleet's resources or overlays leaves `path` out, read as a
    .gitignore (or Flux's .sourceignore) line: a pattern without `/`, or starting with
    `**/`, matches at any depth; any other is relative to the fleet file; a pattern that
    matches a folder leaves out everything below it."""
    text = pattern.removeprefix(EXCLUDE).rstrip("/")
    if "/" not in text or text.startswith("**/"):
        parts = ["**", *text.removeprefix("**/").split("/")]
    else:
        parts = os.path.normpath(os.path.join(base, text)).split(os.sep)
    target = str(path).split(os.sep)
    return _matches_parts(parts, target) or _matches_parts([*parts, "**"], target)


def _listed_files(
    patterns: list[tuple[str, SourceLocation]],
    base: Path,
    root: Path,
    allow_outside: bool,
    seen: set[Path],
    field: str = "resources",
) -> tuple[list[SourceFile], list[Diagnostic]]:
    """The files of the Fleet's `resources` (or `overlays`, where a folder stands for the YAML
    files in it): each glob's matches, less those a later `!pattern` leaves out (the last
    pattern that matches a file decides, as in .gitignore)."""
    directories_as_yaml = field == "overlays"
    included = [(p, o) for p, o in patterns if not p.startswith(EXCLUDE)]
    matched: dict[str, set[Path]] = {}
    order: list[tuple[Path, SourceLocation]] = []
    errors: list[Diagnostic] = []
    for pattern, origin in included:
        try:
            paths = list(_expand(pattern, base, root, origin, allow_outside, directories_as_yaml))
        except CompileError as error:
            errors.extend(error.diagnostics)
            continue
        matched[pattern] = set(paths)
        order.extend((path, origin) for path in paths)
    candidates = list(dict.fromkeys(path for path, _ in order))
    keep = dict.fromkeys(candidates, False)
    for pattern, origin in patterns:
        if not pattern.startswith(EXCLUDE):
            for path in matched.get(pattern, ()):
                keep[path] = True
            continue
        hits = [path for path in candidates if excludes(pattern, base, path)]
        if not hits and candidates:
            errors.append(
                Diagnostic.error(
                    f"{pattern!r} leaves out no file that the {field} globs match", origin
                )
            )
        for path in hits:
            keep[path] = False
    files: list[SourceFile] = []
    for path, origin in order:
        if keep[path] and path not in seen:
            seen.add(path)
            shown = display_path(path, root)
            try:
                files.append(SourceFile(shown, read_text(path, shown, origin)))
            except CompileError as error:
                errors.extend(error.diagnostics)
    return files, errors


def read_sources(
    fleet_path: Path,
    root: Path | None = None,
    allow_outside: bool = False,
    globs: Globs | None = None,
    lock_file: Path | None = None,
) -> Sources:
    """Read the fleet and everything it names; all problems are reported together.

    Given the `globs` of an earlier run, the fleet file is not parsed: the result serves only
    to fingerprint the inputs (it has no documents), and is right only if that fingerprint
    shows the fleet file unchanged since the run that recorded them.
    """
    root = (root or find_root(fleet_path)).resolve()
    fleet_path = fleet_path.resolve()
    shown = display_path(fleet_path, root)
    fleet = SourceFile(shown, read_text(fleet_path, shown))
    docs: tuple[Document, ...] = ()
    if globs is None:
        from .yamldoc import load_stream

        docs = tuple(load_stream(fleet.text, shown))  # parsed with the collector paused
        if not docs:
            raise CompileError(
                [Diagnostic.error("the fleet file holds no documents", SourceLocation(shown, 1, 1))]
            )
        found_resources = _string_list(docs[0], "resources")
        found_overlays = _string_list(docs[0], "overlays")
    else:
        top = SourceLocation(shown, 1, 1)
        found_resources = [(pattern, top) for pattern in globs.resources]
        found_overlays = [(pattern, top) for pattern in globs.overlays]
    base = fleet_path.parent
    seen = {fleet_path}
    resources, errors = _listed_files(found_resources, base, root, allow_outside, seen)
    overlays, overlay_errors = _listed_files(
        found_overlays, base, root, allow_outside, set(), "overlays"
    )
    if errors or overlay_errors:
        raise CompileError(errors + overlay_errors)
    plain = tuple(r for r in resources if not r.path.endswith(TEMPLATE_SUFFIX))
    templates = tuple(r for r in resources if r.path.endswith(TEMPLATE_SUFFIX))
    patterns = Globs(tuple(p for p, _ in found_resources), tuple(p for p, _ in found_overlays))
    lock_at, lock = _read_lock(fleet_path, root, lock_file)
    return Sources(root, fleet, plain, tuple(overlays), docs, templates, patterns, lock_at, lock)


def with_lock(sources: Sources, text: str) -> Sources:
    """`sources` as they will be once `build` has written this placement lock."""
    from dataclasses import replace

    assert sources.lock_path is not None
    shown = display_path(sources.lock_path, sources.root)
    return replace(sources, lock=SourceFile(shown, text))


def _read_lock(
    fleet_path: Path, root: Path, lock_file: Path | None
) -> tuple[Path, SourceFile | None]:
    """The placement lock next to the fleet file (or `lock_file`); a missing or unreadable
    one is None. Never an error: a bad lock only means scheduling afresh (lock.py)."""
    from .lock import lock_path

    path = (lock_file or lock_path(fleet_path)).absolute()
    try:
        raw = path.read_bytes()
    except OSError:
        return path, None
    return path, SourceFile(display_path(path, root), raw.decode("utf-8", "replace"))

"""`render`'s content-addressed cache: the first render of a revision compiles the fleet and
stores every cluster's stream; later renders of any cluster of that revision read theirs.

Keyed by the digest of every input file's bytes, the compiler (version and code) and the
options, so any change misses. Entries carry the digest of their own bytes and are ignored
(recomputed) when it does not match; they are written under a temporary name and renamed, so
concurrent renders never read half an entry; the folder is kept under a size bound by
evicting the least recently used revisions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ENV_DIR = "KURATOR_COMPILE_CACHE_DIR"
ENV_MAX_MB = "KURATOR_COMPILE_CACHE_MAX_MB"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
_MAGIC = b"kurator-compile render cache 1"
_GLOBS = "globs"  # fleet file digest -> the globs it names (finding inputs without parsing)


def default_dir() -> Path:
    """`$KURATOR_COMPILE_CACHE_DIR`, else `$XDG_CACHE_HOME/kurator-compile`, else
    `~/.cache/kurator-compile`."""
    explicit = os.environ.get(ENV_DIR)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kurator-compile"


def max_bytes() -> int:
    text = os.environ.get(ENV_MAX_MB, "")
    return int(text) * 1024 * 1024 if text.isdigit() else DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class Rendered:
    """One cluster's outcome of a successful render: the stream and the warnings printed."""

    stream: str
    warnings: tuple[str, ...]


def _name(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _pack(value: Rendered) -> bytes:
    body = json.dumps({"stream": value.stream, "warnings": list(value.warnings)}).encode()
    return _MAGIC + b" " + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def _unpack(data: bytes) -> Rendered | None:
    """None for anything but an intact entry: a torn, truncated or edited one is not used."""
    header, _, body = data.partition(b"\n")
    magic, _, expected = header.rpartition(b" ")
    if magic != _MAGIC or hashlib.sha256(body).hexdigest().encode() != expected:
        return None
    try:
        raw = json.loads(body)
        stream, warnings = raw["stream"], raw["warnings"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(stream, str) or not all(isinstance(w, str) for w in warnings):
        return None
    return Rendered(stream, tuple(warnings))


class RenderCache:
    def __init__(self, root: Path, limit: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.limit = limit

    def load(self, key: str, cluster: str) -> Rendered | None:
        entry = self.root / key / _name(cluster)
        try:
            with open(entry, "rb") as handle:
                found = _unpack(handle.read())
            if found is not None:
                os.utime(self.root / key)  # recently used: evicted last
            return found
        except OSError:
            return None

    def store(self, key: str, rendered: Mapping[str, Rendered]) -> None:
        """Every cluster's entry of one revision; a cache that cannot be written is skipped."""
        folder = self.root / key
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for cluster, value in rendered.items():
                _write_atomic(folder / _name(cluster), _pack(value))
            os.utime(folder)
            self.evict(keep=key)
        except OSError:
            return

    def globs(self, fleet_digest: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        try:
            raw = json.loads((self.root / _GLOBS / fleet_digest).read_text("utf-8"))
            resources, overlays = raw
            return tuple(map(str, resources)), tuple(map(str, overlays))
        except (OSError, ValueError, TypeError):
            return None

    def remember_globs(
        self, fleet_digest: str, resources: Sequence[str], overlays: Sequence[str]
    ) -> None:
        with contextlib.suppress(OSError):
            (self.root / _GLOBS).mkdir(parents=True, exist_ok=True)
            data = json.dumps([list(resources), list(overlays)]).encode()
            _write_atomic(self.root / _GLOBS / fleet_digest, data)

    def evict(self, keep: str = "") -> None:
        """Remove the least recently used revisions until the folder fits the bound."""
        revisions = []
        total = 0
        for entry in os.scandir(self.root):
            if entry.name == _GLOBS or not entry.is_dir(follow_symlinks=False):
                continue
            size = 0
            with contextlib.suppress(OSError):
                size = sum(f.stat().st_size for f in os.scandir(entry.path))
            total += size
            revisions.append((entry.stat().st_mtime_ns, entry.name, size))
        for _, name, size in sorted(revisions):
            if total <= self.limit:
                break
            if name == keep:
                continue
            shutil.rmtree(self.root / name, ignore_errors=True)
            total -= size


def _write_atomic(path: Path, data: bytes) -> None:
    """A temporary name unique to this process, then a rename: readers see all or nothing."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)

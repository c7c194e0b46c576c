"""The placement lock: every placed object's last result, kept next to the fleet file.

`build` writes `<fleet>.lock.json` (for `fleets/demo.yaml`, `fleets/demo.lock.json`; JSON so
that `fleets/*.yaml` still finds only fleets) and every command reads it as Karmada's
previous result (`ResourceBinding.spec.clusters`). One object per line, keys sorted: the
same placements give the same bytes, and a review diff shows one line per moved object.

Reading never fails a run: a lock that cannot be parsed, belongs to another fleet or has
entries edited by hand (each entry carries a digest of itself) is reported as warnings, with
positions, and the objects concerned are scheduled afresh.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CompileError, Diagnostic, SourceLocation

if TYPE_CHECKING:  # placement is imported when a lock is read or made, not to find one
    from .placement import ResourcePlacement
    from .placement.previous import Locked


def digest(value: object) -> str:
    from .placement.previous import digest as placement_digest

    return placement_digest(value)


__all__ = ["LOCK_SUFFIX", "lock_path", "read_lock", "render_lock", "write_lock"]

LOCK_SUFFIX = ".lock.json"
API_VERSION = "compile.kurator.dev/v1alpha1"
KIND = "PlacementLock"


def lock_path(fleet: Path) -> Path:
    """`fleets/demo.yaml` -> `fleets/demo.lock.json`."""
    name = fleet.name
    for suffix in (".yaml", ".yml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return fleet.with_name(name + LOCK_SUFFIX)


def _entry_digest(fields: Mapping[str, Any]) -> str:
    return digest({k: v for k, v in fields.items() if k != "digest"})


def _fields(
    locked: Locked, sets: dict[str, list[str]], keys: dict[tuple[str, ...], str]
) -> dict[str, Any]:
    """An entry; a result with the same count everywhere (copies: Duplicated objects and
    non-workloads, often on every cluster) names a shared cluster list in `sets` (its key
    worked out once per list: `keys`)."""
    counts = set(map(itemgetter(1), locked.clusters))  # thousands of clusters, for each object
    fields: dict[str, Any]
    if len(counts) == 1 and len(locked.clusters) > 1:
        names = tuple(map(itemgetter(0), locked.clusters))
        key = keys.get(names)
        if key is None:
            key = keys[names] = digest(list(names))
            sets[key] = list(names)
        fields = {"copies": key, "each": counts.pop()}
    else:
        fields = {"clusters": [[name, count] for name, count in locked.clusters]}
    fields["placement"] = locked.placement
    fields["replicas"] = locked.replicas
    if locked.term is not None:
        fields["term"] = locked.term
        fields["termDigest"] = locked.term_digest
    fields["digest"] = _entry_digest(fields)
    return fields


def render_lock(fleet_name: str, placements: Sequence[ResourcePlacement]) -> bytes:
    """The lock `build` writes for these placements (objects without a result are left out)."""
    entries = sorted((str(p.resource.key), p.locked) for p in placements if p.locked is not None)
    head = json.dumps({"apiVersion": API_VERSION, "fleet": fleet_name, "kind": KIND})
    lines = [head[:-1] + ', "objects": {']
    sets: dict[str, list[str]] = {}
    keys: dict[tuple[str, ...], str] = {}
    rendered: dict[int, str] = {}  # placements placed alike share their Locked value
    for number, (key, locked) in enumerate(entries):
        comma = "," if number < len(entries) - 1 else ""
        text = rendered.get(id(locked))
        if text is None:
            text = rendered[id(locked)] = json.dumps(_fields(locked, sets, keys), sort_keys=True)
        lines.append(f"  {json.dumps(key)}: {text}{comma}")
    lines.append('}, "clusterSets": {')
    for number, (key, names) in enumerate(sorted(sets.items())):
        comma = "," if number < len(sets) - 1 else ""
        lines.append(f"  {json.dumps(key)}: {json.dumps(names)}{comma}")
    lines.append("}}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _positions(text: str, shown: str) -> Any:
    """A locator for JSON pointers, from the YAML loader (JSON is YAML); only asked when
    something is wrong, so a good lock is read by the json module alone."""
    from .yamldoc import load_stream

    try:
        docs = load_stream(text, shown)
    except CompileError:
        return None
    return docs[0] if docs else None


class _Reader:
    def __init__(self, text: str, shown: str) -> None:
        self.text = text
        self.shown = shown
        self.document: Any = None
        self.warnings: list[Diagnostic] = []

    def warn(self, message: str, pointer: str = "") -> None:
        if self.document is None:
            self.document = _positions(self.text, self.shown) or False
        location = (
            self.document.locate(pointer)
            if self.document
            else SourceLocation(self.shown, 1, 1, pointer)
        )
        self.warnings.append(Diagnostic.warning(f"placement lock: {message}", location))

    def sets(self, raw: object) -> dict[str, tuple[str, ...]]:
        """The shared cluster lists; one edited by hand is left out (its users with it)."""
        found: dict[str, tuple[str, ...]] = {}
        for key, names in (raw if isinstance(raw, dict) else {}).items():
            if (
                isinstance(names, list)
                and all(isinstance(name, str) for name in names)
                and len(set(names)) == len(names)
                and digest(names) == key
            ):
                found[key] = tuple(names)
            else:
                pointer = "/clusterSets/" + key.replace("~", "~0").replace("/", "~1")
                self.warn(
                    f"cluster set {key} was edited by hand; its objects are scheduled afresh",
                    pointer,
                )
        return found

    def entry(
        self,
        key: str,
        raw: object,
        sets: Mapping[str, tuple[str, ...]],
        copies: dict[tuple[str, int], tuple[tuple[str, int], ...]],
    ) -> Locked | None:
        pointer = "/objects/" + key.replace("~", "~0").replace("/", "~1")
        again = "; it is scheduled afresh"
        if not isinstance(raw, dict):
            self.warn(f"entry for {key} is not an object{again}", pointer)
            return None
        pairs = self.pairs(key, raw, pointer, sets, copies)
        if pairs is None:
            return None
        replicas, placement = raw.get("replicas"), raw.get("placement")
        term, term_digest = raw.get("term"), raw.get("termDigest")
        if (
            type(replicas) is not int
            or not isinstance(placement, str)
            or not isinstance(term, str | None)
            or not isinstance(term_digest, str | None)
        ):
            self.warn(f"{key}: replicas, placement or term is missing or mistyped{again}", pointer)
            return None
        if raw.get("digest") != _entry_digest(raw):
            self.warn(f"{key} was edited by hand (its digest does not match){again}", pointer)
            return None
        from .placement.previous import Locked

        return Locked(pairs, replicas, placement, term, term_digest)

    def pairs(
        self,
        key: str,
        raw: dict[str, Any],
        pointer: str,
        sets: Mapping[str, tuple[str, ...]],
        copies: dict[tuple[str, int], tuple[tuple[str, int], ...]],
    ) -> tuple[tuple[str, int], ...] | None:
        """The entry's (cluster, replicas) pairs in stored order, shared between entries
        that name the same cluster set with the same count."""
        again = "; it is scheduled afresh"
        if "copies" in raw:
            each, names = raw.get("each"), sets.get(str(raw.get("copies")))
            if names is None or type(each) is not int or each < 0:
                self.warn(f"{key}: copies must name a cluster set, each a count{again}", pointer)
                return None
            found = copies.get((str(raw["copies"]), each))
            if found is None:
                found = copies[(str(raw["copies"]), each)] = tuple((n, each) for n in names)
            return found
        clusters = raw.get("clusters")
        pairs: list[tuple[str, int]] = []
        for pair in clusters if isinstance(clusters, list) else [None]:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not isinstance(pair[0], str)
                or type(pair[1]) is not int
                or pair[1] < 0
            ):
                self.warn(
                    f"{key}: clusters must be a list of [cluster, replicas] pairs{again}",
                    pointer + "/clusters",
                )
                return None
            pairs.append((pair[0], pair[1]))
        if len({name for name, _ in pairs}) != len(pairs):
            self.warn(f"{key} names a cluster twice{again}", pointer + "/clusters")
            return None
        return tuple(pairs)


def read_lock(
    text: str | None, shown: str, fleet_name: str
) -> tuple[dict[str, Locked], list[Diagnostic]]:
    """The entries of a lock file and warnings about it; any problem only drops entries."""
    if text is None:  # a first build: nothing was placed before
        return {}, []
    reader = _Reader(text, shown)
    try:
        data = json.loads(text)
    except ValueError as error:
        line, column = getattr(error, "lineno", 1), getattr(error, "colno", 1)
        message = getattr(error, "msg", str(error))
        found = Diagnostic.warning(
            f"placement lock: not valid JSON ({message}); every object is scheduled afresh",
            SourceLocation(shown, line, column),
        )
        return {}, [found]
    if (
        not isinstance(data, dict)
        or data.get("kind") != KIND
        or not isinstance(data.get("objects"), dict)
    ):
        reader.warn(f"not a {KIND} with an objects map; every object is scheduled afresh")
        return {}, reader.warnings
    for field, wanted, wrong in (
        ("apiVersion", API_VERSION, "apiVersion {!r} is not {}"),
        ("fleet", fleet_name, "written for fleet {!r}, not {!r}"),
    ):
        if data.get(field) != wanted:
            message = wrong.format(data.get(field), wanted)
            reader.warn(f"{message}; every object is scheduled afresh", f"/{field}")
            return {}, reader.warnings
    entries: dict[str, Locked] = {}
    sets = reader.sets(data.get("clusterSets"))
    copies: dict[tuple[str, int], tuple[tuple[str, int], ...]] = {}
    for key, raw in data["objects"].items():
        locked = reader.entry(key, raw, sets, copies)
        if locked is not None:
            entries[key] = locked
    return entries, reader.warnings


def write_lock(path: Path, data: bytes) -> bool:
    """Write the lock atomically (a temporary file renamed over it); untouched when its
    bytes are already these. Returns whether it was written."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    import tempfile  # only here: finding the lock is part of every no-change run

    fd, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True

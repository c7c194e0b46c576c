"""Diagnostics with source positions: the one error type every stage reports through."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# C0 and C1 controls, DEL, and the bidirectional overrides that reorder what a terminal shows.
_CODES = [*range(0x20), *range(0x7F, 0xA0), *range(0x2028, 0x202F), *range(0x2066, 0x206A)]
_CONTROLS = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CODES}
_CONTROLS_BUT_NEWLINE = {code: text for code, text in _CONTROLS.items() if code != 0x0A}


def printable(text: str, *, newlines: bool = False) -> str:
    """`text` safe for a terminal or a CI log: a file name or value with control characters
    (an escape sequence, a carriage return, a newline that would forge another error line)
    is shown escaped instead of interpreted. `newlines` keeps line breaks (a message's own)."""
    return text.translate(_CONTROLS_BUT_NEWLINE if newlines else _CONTROLS)


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    # A setup that is usual but not always meant (replicas that may share a node): `plan`
    # shows it; no command counts it as a warning, so --strict never fails on it.
    ADVICE = "advice"


@functools.total_ordering
class SourceLocation:
    """Where something came from: repo-relative file, 1-based line and column, JSON pointer.

    A location may be made before its line and column are known (`later`): they are looked up
    when first read, so that locating what a diagnostic might need costs nothing until one
    is reported. Immutable, compared and ordered as the tuple (file, line, column, pointer).
    """

    __slots__ = ("_column", "_find", "_line", "file", "pointer")

    file: str
    pointer: str
    _line: int
    _column: int
    _find: Callable[[str], tuple[int, int]] | None

    def __init__(self, file: str, line: int = 0, column: int = 0, pointer: str = "") -> None:
        _set = object.__setattr__
        _set(self, "file", file)
        _set(self, "pointer", pointer)
        _set(self, "_line", line)
        _set(self, "_column", column)
        _set(self, "_find", None)

    @classmethod
    def later(
        cls, file: str, pointer: str, find: Callable[[str], tuple[int, int]]
    ) -> SourceLocation:
        """A location whose line and column `find(pointer)` gives when first asked for."""
        location = cls(file, 0, 0, pointer)
        object.__setattr__(location, "_find", find)
        return location

    def _found(self) -> None:
        find = self._find
        if find is not None:
            line, column = find(self.pointer)
            object.__setattr__(self, "_line", line)
            object.__setattr__(self, "_column", column)
            object.__setattr__(self, "_find", None)

    @property
    def line(self) -> int:
        self._found()
        return self._line

    @property
    def column(self) -> int:
        self._found()
        return self._column

    def _key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.pointer)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceLocation):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: SourceLocation) -> bool:
        if not isinstance(other, SourceLocation):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SourceLocation is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"SourceLocation is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[SourceLocation], tuple[str, int, int, str]]:
        return (SourceLocation, self._key())

    def __repr__(self) -> str:
        return (
            f"SourceLocation(file={self.file!r}, line={self.line!r}, column={self.column!r}, "
            f"pointer={self.pointer!r})"
        )

    def child(self, pointer: str) -> SourceLocation:
        """The same place with a deeper pointer (used when no finer position is known)."""
        if self._find is not None:
            return SourceLocation.later(self.file, pointer, self._position)
        return SourceLocation(self.file, self.line, self.column, pointer)

    def _position(self, _pointer: str) -> tuple[int, int]:
        return (self.line, self.column)


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    message: str
    location: SourceLocation | None = None

    @classmethod
    def error(cls, message: str, location: SourceLocation | None = None) -> Diagnostic:
        return cls(Severity.ERROR, message, location)

    @classmethod
    def warning(cls, message: str, location: SourceLocation | None = None) -> Diagnostic:
        return cls(Severity.WARNING, message, location)

    @classmethod
    def advice(cls, message: str, location: SourceLocation | None = None) -> Diagnostic:
        return cls(Severity.ADVICE, message, location)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        if loc is None:
            return ("", 0, 0, "", self.message)
        return (loc.file, loc.line, loc.column, loc.pointer, self.message)

    def render(self) -> str:
        """`file:line:col: error: message (at /pointer)`, the shape compilers and editors parse."""
        loc = self.location
        text = f"{self.severity.value}: {printable(self.message, newlines=True)}"
        if loc is None:
            return text
        where = printable(str(loc.file))  # some callers pass a Path
        if loc.line:
            where += f":{loc.line}:{loc.column or 1}"
        suffix = f" (at {printable(str(loc.pointer))})" if loc.pointer else ""
        return f"{where}: {text}{suffix}"


class CompileError(Exception):
    """Bad input: carries every diagnostic of the run so they are reported together."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class UsageError(Exception):
    """Bad invocation that is not about file contents (exit 2, no position)."""


def raise_if_errors(diagnostics: Iterable[Diagnostic]) -> None:
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise CompileError(errors)


def promote_warnings(diagnostics: Iterable[Diagnostic], strict: bool) -> list[Diagnostic]:
    """Under --strict every warning is an error (advice stays advice); otherwise diagnostics
    pass through."""
    if not strict:
        return list(diagnostics)
    return [
        Diagnostic(Severity.ERROR, d.message, d.location) if d.severity is Severity.WARNING else d
        for d in diagnostics
    ]


def by_closeness(wanted: str, names: Iterable[str]) -> list[str]:
    """Names nearest `wanted` first (did-you-mean order), ties by name."""
    import difflib

    def distance(name: str) -> tuple[float, str]:
        return (-difflib.SequenceMatcher(None, wanted, name).ratio(), name)

    return sorted(names, key=distance)


def shorten(names: Sequence[str], limit: int = 10, separator: str = ", ") -> str:
    """A list for one line: the first `limit` names, then how many more (a 1,000-cluster
    fleet must not print 1,000 names)."""
    shown = separator.join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")

"""Go `time.Duration` text, as Go controllers read and rewrite it: Kurator's typed fields
(`metav1.Duration`) turn a user's `720h` into `720h0m0s`, robfig/cron's `@every` and Velero's
ttl parse it, and text Go cannot parse never gets there."""

from __future__ import annotations

import re

_NANOS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]*)", re.ASCII)
_MAX = 2**63 - 1


class DurationError(ValueError):
    pass


def parse_go_duration(text: str) -> int:
    """Nanoseconds, by the grammar of Go's `time.ParseDuration`."""
    body = text
    sign = 1
    if body[:1] in ("-", "+"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        raise DurationError(f"invalid duration {text!r}")
    total = 0
    position = 0
    while position < len(body):
        match = _PART.match(body, position)
        if match is None or match.end() == position:
            raise DurationError(f"invalid duration {text!r}")
        whole, fraction, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not fraction:
            raise DurationError(f"invalid duration {text!r}")
        if not unit:
            raise DurationError(f"missing unit in duration {text!r}")
        if unit not in _NANOS:
            raise DurationError(f"unknown unit {unit!r} in duration {text!r}")
        scale = _NANOS[unit]
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        if total > _MAX:
            raise DurationError(f"invalid duration {text!r}: out of range")
        position = match.end()
    return sign * total


def _decimal(value: int, digits: int) -> str:
    """`value / 10**digits` with the trailing zeros of the fraction dropped, as Go prints it."""
    whole, fraction = divmod(value, 10**digits)
    tail = str(fraction).rjust(digits, "0").rstrip("0") if digits else ""
    return f"{whole}.{tail}" if tail else str(whole)


def format_go_duration(nanos: int) -> str:
    """Go's `Duration.String()`: `720h0m0s`, `5m0s`, `1.5s`, `300ms`, `0s`."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    value = abs(nanos)
    if value < 1_000:
        return f"{sign}{value}ns"
    if value < 1_000_000:
        return f"{sign}{_decimal(value, 3)}\u00b5s"
    if value < 1_000_000_000:
        return f"{sign}{_decimal(value, 6)}ms"
    seconds, nano_rest = divmod(value, 1_000_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    text = _decimal(seconds * 1_000_000_000 + nano_rest, 9) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def normalize_go_duration(text: str) -> str:
    """The text a Go controller writes back after reading `text` as a `metav1.Duration`."""
    return format_go_duration(parse_go_duration(text))


def go_duration_or_none(value: object) -> str | None:
    """What a Go controller writes back for a duration field, or None when Go cannot read it."""
    if not isinstance(value, str):
        return None
    try:
        return normalize_go_duration(value)
    except DurationError:
        return None

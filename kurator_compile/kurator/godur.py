"""Go `time.Duration` text, as a Kubernetes `metav1.Duration` field round-trips it.

Kurator reads Flux durations into Go structs and writes them back, so `5m` in an Application
becomes `5m0s` in the Flux object it creates; an offline copy must normalise the same way.
"""

from __future__ import annotations

import re
from fractions import Fraction

_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_TERM = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> int | None:
    """Nanoseconds, or None when Go's `time.ParseDuration` would refuse the text."""
    body = text[1:] if text[:1] in "+-" else text
    negative = text.startswith("-")
    if body == "0":
        return 0
    if not body:
        return None
    total = Fraction(0)
    pos = 0
    while pos < len(body):
        match = _TERM.match(body, pos)
        if match is None or match.group(1) in ("", "."):
            return None
        total += Fraction(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    nanos = int(total)  # Go truncates fractions of a nanosecond
    return -nanos if negative else nanos


def _frac(value: int, digits: int) -> tuple[str, int]:
    """The `.ddd` tail of `value` scaled by 10**digits, trailing zeros dropped, and the rest."""
    tail = ""
    printing = False
    for _ in range(digits):
        digit = value % 10
        printing = printing or digit != 0
        if printing:
            tail = str(digit) + tail
        value //= 10
    return ("." + tail if tail else ""), value


def format_go_duration(nanos: int) -> str:
    """`time.Duration.String()`: 0s, 1.5ms, 3m0s, 1h0m0s."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    u = abs(nanos)
    if u < 1_000_000_000:
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            tail, whole = _frac(u, 3)
            return f"{sign}{whole}{tail}µs"
        tail, whole = _frac(u, 6)
        return f"{sign}{whole}{tail}ms"
    tail, seconds = _frac(u, 9)
    text = f"{seconds % 60}{tail}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        hours = minutes // 60
        if hours:
            text = f"{hours}h{text}"
    return sign + text


def normalise_go_duration(value: object) -> str | None:
    """The text Kurator writes back for a duration field, or None for an invalid one."""
    if not isinstance(value, str):
        return None
    nanos = parse_go_duration(value)
    return None if nanos is None else format_go_duration(nanos)

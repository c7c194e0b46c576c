"""Velero Schedule expressions, checked by the rules of the robfig/cron v3 parser Velero uses
(`cron.ParseStandard`): five fields or a descriptor, with an optional `TZ=`/`CRON_TZ=` prefix.

Velero marks a Schedule it cannot parse `FailedValidation` and never runs it, so a bad
expression is an error at compile time rather than a silent non-backup at run time.
`kurator_compile.stack.cron` is looser (it takes 7 for Sunday, which robfig refuses).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass

from ..fields import is_digits
from .duration import DurationError, parse_go_duration

# The names cron accepts for months and days of the week (robfig/cron and Vixie cron alike).
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

# (name, lowest, highest, names) per field, as robfig bounds them: day of week is 0-6 only.
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(MONTHS)}),
    ("day of week", 0, 6, {name: i for i, name in enumerate(DAYS)}),
)
_DESCRIPTORS = frozenset(
    ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
)


@dataclass(frozen=True)
class CronCheck:
    error: str = ""  # why Velero would refuse the expression; empty when it accepts it
    descriptor: bool = False  # `@daily`, `@every 1h`: Velero runs it, Kurator's requeue cannot


def _number(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not is_digits(text):
        raise ValueError(f"failed to parse int from {text!r}")
    return int(text)


def _range(expr: str, low: int, high: int, names: dict[str, int]) -> None:
    range_text, *steps = expr.split("/")
    bounds = range_text.split("-")
    if bounds[0] in ("*", "?"):
        start, end = low, high
    else:
        if len(bounds) > 2:
            raise ValueError(f"too many hyphens: {expr!r}")
        start = _number(bounds[0], names)
        end = _number(bounds[1], names) if len(bounds) == 2 else start
    if len(steps) > 1:
        raise ValueError(f"too many slashes: {expr!r}")
    if steps:
        step = _number(steps[0], {})
        if len(bounds) == 1:
            end = high  # `N/step` runs from N to the field's end
        if step == 0:
            raise ValueError(f"step of range should be a positive number: {expr!r}")
    if start < low:
        raise ValueError(f"beginning of range ({start}) below minimum ({low}): {expr!r}")
    if end > high:
        raise ValueError(f"end of range ({end}) above maximum ({high}): {expr!r}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr!r}")


def check_schedule(expression: str) -> CronCheck:
    spec = expression.strip()
    if not spec:
        return CronCheck("the schedule is empty")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        zone, _, rest = spec.partition(" ")
        name = zone.partition("=")[2]
        try:
            if name not in ("", "UTC", "Local"):  # Go's LoadLocation reads "" as UTC
                zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return CronCheck(f"unknown time zone {name!r}")
        spec = rest.strip()
    if spec.startswith("@"):
        if spec.startswith("@every "):
            try:
                parse_go_duration(spec.removeprefix("@every "))
            except DurationError as error:
                return CronCheck(f"failed to parse duration {spec!r}: {error}", True)
            return CronCheck(descriptor=True)
        if spec in _DESCRIPTORS:
            return CronCheck(descriptor=True)
        return CronCheck(f"unrecognized descriptor: {spec!r}", True)
    fields = spec.split()
    if len(fields) != len(_FIELDS):
        return CronCheck(
            f"expected exactly {len(_FIELDS)} fields (minute hour day-of-month month "
            f"day-of-week), found {len(fields)}: {spec!r}"
        )
    for text, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        try:
            for part in text.split(","):
                _range(part, low, high, names)
        except ValueError as error:
            return CronCheck(f"{name}: {error}")
    return CronCheck()

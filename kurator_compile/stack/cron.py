"""Standard five-field cron expressions (as Velero's robfig/cron parser reads them): validated,
and measured by the longest gap between two runs."""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass

from ..fields import is_digits
from ..kurator.cron import DAYS, MONTHS

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(MONTHS)}),
    ("day of week", 0, 7, {name: i for i, name in enumerate(DAYS)}),
)


class CronError(ValueError):
    pass


def _value(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    if not is_digits(text):
        raise CronError(f"{field}: {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field}: {value} is out of range {low}-{high}")
    return value


def _field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not is_digits(step_text) or int(step_text) == 0:
                raise CronError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start = _value(first, field, low, high, names)
            end = _value(last, field, low, high, names)
            if start > end:
                raise CronError(f"{field}: range {body!r} runs backwards")
        else:
            start = _value(body, field, low, high, names)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def runs_on(self, day: datetime.date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week  # cron's rule: either field may match
        return in_month and in_week

    def longest_gap_minutes(self) -> int:
        """The longest time between consecutive runs over eight years (so a schedule that only
        runs on leap days is seen twice)."""
        times = sorted(h * 60 + m for h in self.hours for m in self.minutes)
        inner = max((b - a for a, b in itertools.pairwise(times)), default=0)
        start = datetime.date(2024, 1, 1)
        longest, previous = inner, None
        for offset in range(8 * 366 + 1):
            day = start + datetime.timedelta(days=offset)
            if not self.runs_on(day):
                continue
            first = offset * 1440 + times[0]
            if previous is not None:
                longest = max(longest, first - previous)
            previous = offset * 1440 + times[-1]
        if previous is None:
            raise CronError("the schedule never runs (no such date)")
        return longest


def parse_cron(expression: str) -> Cron:
    text = MACROS.get(expression.strip(), expression.strip())
    parts = text.split()
    if len(parts) != 5:
        raise CronError(
            f"{expression!r} has {len(parts)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week) or a macro such as @daily"
        )
    fields = [_field(part, *spec) for part, spec in zip(parts, FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in fields[4])
    return Cron(
        fields[0],
        fields[1],
        fields[2],
        fields[3],
        weekdays,
        days_restricted=parts[2] not in ("*", "?"),
        weekdays_restricted=parts[4] not in ("*", "?"),
    )

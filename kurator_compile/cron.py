"""Cron schedules read as Velero reads them: robfig/cron v3's `ParseStandard`.

Velero parses `Schedule.spec.schedule` with `cron.ParseStandard`, and a schedule it cannot
parse is marked FailedValidation and never runs: no backup, no error anywhere a user looks. So
every rule here is robfig's (parser.go at bc59245): five fields or a descriptor (`@daily`,
`@every 90m`), an optional `TZ=`/`CRON_TZ=` prefix, day of week 0-6 only, numbers as Go's
`strconv.Atoi` reads them (ASCII digits), `N/step` running to the field's end, and the
day-of-month / day-of-week rule (a `*` or `?` in either, stepped by 1 or not at all, means
both must match; otherwise either may). Messages are robfig's own, naming the field.
"""

from __future__ import annotations

import datetime
import itertools
import re
import zoneinfo
from dataclasses import dataclass

from .duration import DurationError, parse_go_duration

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class Bounds:
    low: int
    high: int
    names: tuple[tuple[str, int], ...] = ()


MINUTE = Bounds(0, 59)
HOUR = Bounds(0, 23)
DAY_OF_MONTH = Bounds(1, 31)
MONTH = Bounds(1, 12, tuple((name, i + 1) for i, name in enumerate(MONTHS)))
DAY_OF_WEEK = Bounds(0, 6, tuple((name, i) for i, name in enumerate(DAYS)))
FIELDS = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)
FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")

# Descriptors as the five fields they stand for.
DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_EVERY = "@every "
_ATOI = re.compile(r"[+-]?[0-9]+")  # strconv.Atoi: an optional sign, then ASCII digits
_INT64 = 2**63 - 1


class CronError(ValueError):
    pass


@dataclass(frozen=True)
class Field:
    values: frozenset[int]
    star: bool  # robfig's starBit: `*` or `?`, unstepped or stepped by 1


@dataclass(frozen=True)
class Schedule:
    minutes: Field
    hours: Field
    days: Field
    months: Field
    weekdays: Field  # 0 = Sunday
    every_seconds: int | None = None  # `@every`: a constant delay instead of the fields
    zone: str = ""
    descriptor: bool = False  # written as `@...`

    def runs_on(self, day: datetime.date) -> bool:
        """robfig's dayMatches (with the month)."""
        if day.month not in self.months.values:
            return False
        in_month = day.day in self.days.values
        in_week = (day.isoweekday() % 7) in self.weekdays.values
        if self.days.star or self.weekdays.star:
            return in_month and in_week
        return in_month or in_week

    def longest_gap_minutes(self) -> int:
        """The longest time between consecutive runs, in whole minutes rounded up, over eight
        years (so a schedule that only runs on leap days is seen twice); wall-clock time, as
        if the zone had no daylight saving shifts."""
        if self.every_seconds is not None:
            return -(-self.every_seconds // 60)
        times = sorted(h * 60 + m for h in self.hours.values for m in self.minutes.values)
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


def _atoi(text: str) -> int:
    """mustParseInt: strconv.Atoi, then no negatives."""
    if not _ATOI.fullmatch(text):
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                        "invalid syntax")  # fmt: skip
    value = int(text)
    if abs(value) > _INT64:
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                        "value out of range")  # fmt: skip
    if value < 0:
        raise CronError(f"negative number ({value}) not allowed: {text}")
    return value


def _int_or_name(text: str, bounds: Bounds) -> int:
    for name, value in bounds.names:
        if text.lower() == name:
            return value
    return _atoi(text)


def parse_range(expr: str, bounds: Bounds) -> Field:
    """robfig's getRange: `*`, `?`, `N`, `N-M`, each optionally `/step`."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = bounds.low, bounds.high, True
    else:
        start = _int_or_name(low_and_high[0], bounds)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], bounds)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1])
        if len(low_and_high) == 1:
            end = bounds.high  # `N/step` means `N-max/step`
        if step > 1:
            star = False
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < bounds.low:
        raise CronError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise CronError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return Field(frozenset(range(start, end + 1, step)), star)


def parse_field(text: str, bounds: Bounds) -> Field:
    """robfig's getField: comma-separated ranges, OR-ed (the star bit too)."""
    ranges = [parse_range(part, bounds) for part in text.split(",")]
    return Field(frozenset().union(*(r.values for r in ranges)), any(r.star for r in ranges))


def parse_standard(spec: str) -> Schedule:
    """`cron.ParseStandard(spec)`, or CronError with robfig's message."""
    if not spec:
        raise CronError("empty spec string")
    zone = ""
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        if space < 0:  # robfig slices past the end here and panics; Velero never runs it
            raise CronError(f"no schedule after the time zone: {spec}")
        zone = spec[spec.index("=") + 1 : space]
        if zone not in ("", "UTC", "Local"):  # Go's LoadLocation reads "" as UTC
            try:
                zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise CronError(f"provided bad location {zone}: unknown time zone {zone}") from None
        spec = spec[space:].strip()
    if spec.startswith("@"):
        if spec in DESCRIPTORS:
            return _fields(DESCRIPTORS[spec], zone, descriptor=True)
        if spec.startswith(_EVERY):
            try:
                nanos = parse_go_duration(spec[len(_EVERY) :])
            except DurationError as error:
                raise CronError(f"failed to parse duration {spec}: {error}") from None
            seconds = max(nanos, 10**9) // 10**9  # Every(): at least 1s, whole seconds
            empty = Field(frozenset(), False)
            return Schedule(empty, empty, empty, empty, empty, seconds, zone, descriptor=True)
        raise CronError(f"unrecognized descriptor: {spec}")
    return _fields(spec, zone, descriptor=False)


def _fields(spec: str, zone: str, descriptor: bool) -> Schedule:
    fields = spec.split()
    if len(fields) != len(FIELDS):
        raise CronError(
            f"expected exactly {len(FIELDS)} fields, found {len(fields)}: [{' '.join(fields)}]"
        )
    parsed = []
    for text, bounds, name in zip(fields, FIELDS, FIELD_NAMES, strict=True):
        try:
            parsed.append(parse_field(text, bounds))
        except CronError as error:
            raise CronError(f"{name}: {error}") from None  # robfig's words, and which field
    minutes, hours, days, months, weekdays = parsed
    return Schedule(minutes, hours, days, months, weekdays, None, zone, descriptor)

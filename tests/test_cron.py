"""Cron as Velero reads it, pinned with robfig/cron v3's own test tables.

Source: github.com/robfig/cron at bc59245fe10efaed9d51b56900192527ed733435 (MIT), the parser
Velero calls through `cron.ParseStandard`: `parser_test.go` (TestRange, TestField,
TestStandardSpecSchedule, TestParseScheduleErrors for the five-field parser) and
`spec_test.go` (TestActivation). Each expected answer below is the one those tests assert.
"""

from __future__ import annotations

import datetime
import re

import pytest

from kurator_compile.cron import Bounds, CronError, parse_field, parse_range, parse_standard

# TestRange: (expr, min, max, values, star, error fragment)
RANGES = [
    ("5", 0, 7, {5}, False, ""),
    ("0", 0, 7, {0}, False, ""),
    ("7", 0, 7, {7}, False, ""),
    ("5-5", 0, 7, {5}, False, ""),
    ("5-6", 0, 7, {5, 6}, False, ""),
    ("5-7", 0, 7, {5, 6, 7}, False, ""),
    ("5-6/2", 0, 7, {5}, False, ""),
    ("5-7/2", 0, 7, {5, 7}, False, ""),
    ("5-7/1", 0, 7, {5, 6, 7}, False, ""),
    ("*", 1, 3, {1, 2, 3}, True, ""),
    ("*/2", 1, 3, {1, 3}, False, ""),
    ("5--5", 0, 0, set(), False, "too many hyphens"),
    ("jan-x", 0, 0, set(), False, "failed to parse int from"),
    ("2-x", 1, 5, set(), False, "failed to parse int from"),
    ("*/-12", 0, 0, set(), False, "negative number"),
    ("*//2", 0, 0, set(), False, "too many slashes"),
    ("1", 3, 5, set(), False, "below minimum"),
    ("6", 3, 5, set(), False, "above maximum"),
    ("5-3", 3, 5, set(), False, "beyond end of range"),
    ("*/0", 0, 0, set(), False, "should be a positive number"),
]


@pytest.mark.parametrize(("expr", "low", "high", "values", "star", "error"), RANGES)
def test_range(expr: str, low: int, high: int, values: set[int], star: bool, error: str) -> None:
    if error:
        with pytest.raises(CronError, match=error):
            parse_range(expr, Bounds(low, high))
        return
    field = parse_range(expr, Bounds(low, high))
    assert (set(field.values), field.star) == (values, star)


@pytest.mark.parametrize(
    ("expr", "low", "high", "values"),
    [("5", 1, 7, {5}), ("5,6", 1, 7, {5, 6}), ("5,6,7", 1, 7, {5, 6, 7}),
     ("1,5-7/2,3", 1, 7, {1, 5, 7, 3})],
)  # fmt: skip
def test_field(expr: str, low: int, high: int, values: set[int]) -> None:
    assert set(parse_field(expr, Bounds(low, high)).values) == values


@pytest.mark.parametrize(
    ("expr", "error"),
    [
        ("5 * * * *", ""),
        ("@every 5m", ""),
        ("5 j * * *", "failed to parse int from"),
        ("* * * *", "expected exactly 5 fields"),
        ("@every Xm", "failed to parse duration"),
        ("@unrecognized", "unrecognized descriptor"),
        ("", "empty spec string"),
    ],
)
def test_standard_spec_schedule(expr: str, error: str) -> None:
    if error:
        with pytest.raises(CronError, match=error):
            parse_standard(expr)
    else:
        parse_standard(expr)


# TestActivation: (time, spec, active). Go's layout "Mon Jan 2 15:04 2006".
ACTIVATION = [
    ("Mon Jul 9 15:00 2012", "0/15 * * * *", True),
    ("Mon Jul 9 15:45 2012", "0/15 * * * *", True),
    ("Mon Jul 9 15:40 2012", "0/15 * * * *", False),
    ("Mon Jul 9 15:05 2012", "5/15 * * * *", True),
    ("Mon Jul 9 15:20 2012", "5/15 * * * *", True),
    ("Mon Jul 9 15:50 2012", "5/15 * * * *", True),
    ("Sun Jul 15 15:00 2012", "0/15 * * Jul *", True),
    ("Sun Jul 15 15:00 2012", "0/15 * * Jun *", False),
    ("Sun Jul 15 08:30 2012", "30 08 ? Jul Sun", True),
    ("Sun Jul 15 08:30 2012", "30 08 15 Jul ?", True),
    ("Mon Jul 16 08:30 2012", "30 08 ? Jul Sun", False),
    ("Mon Jul 16 08:30 2012", "30 08 15 Jul ?", False),
    ("Mon Jul 9 15:00 2012", "@hourly", True),
    ("Mon Jul 9 15:04 2012", "@hourly", False),
    ("Mon Jul 9 15:00 2012", "@daily", False),
    ("Mon Jul 9 00:00 2012", "@daily", True),
    ("Mon Jul 9 00:00 2012", "@weekly", False),
    ("Sun Jul 8 00:00 2012", "@weekly", True),
    ("Sun Jul 8 01:00 2012", "@weekly", False),
    ("Sun Jul 8 00:00 2012", "@monthly", False),
    ("Sun Jul 1 00:00 2012", "@monthly", True),
    ("Sun Jul 15 00:00 2012", "* * 1,15 * Sun", True),
    ("Fri Jun 15 00:00 2012", "* * 1,15 * Sun", True),
    ("Wed Aug 1 00:00 2012", "* * 1,15 * Sun", True),
    ("Sun Jul 15 00:00 2012", "* * */10 * Sun", True),
    ("Sun Jul 15 00:00 2012", "* * * * Mon", False),
    ("Mon Jul 9 00:00 2012", "* * 1,15 * *", False),
    ("Sun Jul 15 00:00 2012", "* * 1,15 * *", True),
    ("Sun Jul 15 00:00 2012", "* * */2 * Sun", True),
]


@pytest.mark.parametrize(("when", "spec", "active"), ACTIVATION)
def test_activation(when: str, spec: str, active: bool) -> None:
    moment = datetime.datetime.strptime(when, "%a %b %d %H:%M %Y")
    schedule = parse_standard(spec)
    runs = (
        schedule.runs_on(moment.date())
        and moment.hour in schedule.hours.values
        and moment.minute in schedule.minutes.values
    )
    assert runs is active


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("0 2 * * 7", "end of range (7) above maximum (6): 7"),  # 7 is not Sunday in robfig
        ("0 2 * * ²", "failed to parse int from ²"),  # Go's Atoi takes ASCII digits only
        ("0 2 * * \u0665", "failed to parse int from \u0665"),  # ARABIC-INDIC DIGIT FIVE
        ("TZ=Mars/Olympus 0 2 * * *", "provided bad location Mars/Olympus"),
        ("TZ=UTC", "no schedule after the time zone"),
        ("@every 1x", "failed to parse duration @every 1x"),
        ("1,,2 * * * *", "failed to parse int from"),
    ],
)
def test_what_velero_refuses(spec: str, error: str) -> None:
    with pytest.raises(CronError, match=re.escape(error)):
        parse_standard(spec)


@pytest.mark.parametrize(
    "spec",
    ["CRON_TZ=Asia/Shanghai 0 2 * * *", "TZ=UTC 0 2 * * *", "@every 24h", "@midnight",
     "0 2 ? * MON-fri", "*-5 * * * *", "+5 * * * *"],
)  # fmt: skip
def test_what_velero_accepts(spec: str) -> None:
    parse_standard(spec)

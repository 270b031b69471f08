"""Working days and working hours on China's official calendar.

Order of authority for a date: an admin's CalendarDay row, then the `chinesecalendar`
package (statutory holidays and 调休 make-up days), then the plain rule (Mon–Fri work)
for years the package does not cover yet.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache

import chinese_calendar
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger("sizhi.workdays")

# Long enough for any official time limit (60 days + 30 extension ≈ 130 calendar days) with room.
MAX_SCAN_DAYS = 3660


@lru_cache(maxsize=64)
def _overrides_for_year(year: int) -> dict[dt.date, bool]:
    from sizhi.workdays.models import CalendarDay

    return dict(
        CalendarDay.objects.filter(date__year=year).values_list("date", "is_workday")  # type: ignore[arg-type]
    )


def forget_overrides() -> None:
    """Called after an admin changes a day; each process re-reads on next use."""
    _overrides_for_year.cache_clear()


def year_is_official(year: int) -> bool:
    """True when the package carries the State Council schedule for `year`."""
    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=16384)
def _official(day: dt.date) -> bool:
    # Cached: the package scans its whole holiday table on every call, and evaluation asks for the
    # same few hundred days millions of times. A pure function of the date and the package.
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def is_workday(day: dt.date) -> bool:
    override = _overrides_for_year(day.year).get(day)
    if override is not None:
        return override
    return _official(day)


def next_workday(day: dt.date) -> dt.date:
    for _ in range(MAX_SCAN_DAYS):
        day += dt.timedelta(days=1)
        if is_workday(day):
            return day
    raise ValueError("no working day within ten years")


def _local(moment: dt.datetime) -> dt.datetime:
    return timezone.localtime(moment) if timezone.is_aware(moment) else timezone.make_aware(moment)


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """The end (23:59:59 local) of the `days`-th working day after the day of `start`.

    "N 个工作日内办结": counting starts the next day, whatever time the case arrived.
    """
    if days < 0:
        raise ValueError("days must be ≥ 0")
    local = _local(start)
    day = local.date()
    for _ in range(days):
        day = next_workday(day)
    end = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=local.tzinfo)
    return end if days else local


def office_hours() -> list[tuple[dt.time, dt.time]]:
    """Parsed SIZHI_OFFICE_HOURS, e.g. "08:30-12:00,14:30-18:00"."""
    return list(_parse_hours(settings.SIZHI_OFFICE_HOURS))


@lru_cache(maxsize=8)
def _parse_hours(spec: str) -> tuple[tuple[dt.time, dt.time], ...]:
    # By the setting's text, so a changed setting (tests override it) is parsed afresh.
    spans = []
    for part in spec.split(","):
        begin, end = part.strip().split("-")
        spans.append((dt.time.fromisoformat(begin.strip()), dt.time.fromisoformat(end.strip())))
    return tuple(sorted(spans))


def _day_spans(day: dt.date, tz: dt.tzinfo) -> list[tuple[dt.datetime, dt.datetime]]:
    if not is_workday(day):
        return []
    return [(dt.datetime.combine(day, a, tzinfo=tz), dt.datetime.combine(day, b, tzinfo=tz)) for a, b in office_hours()]


def add_working_hours(start: dt.datetime, hours: float) -> dt.datetime:
    """The moment when `hours` of office time have passed since `start` ("N 个工作小时内签收")."""
    if hours < 0:
        raise ValueError("hours must be ≥ 0")
    local = _local(start)
    remaining = dt.timedelta(hours=hours)
    day = local.date()
    for _ in range(MAX_SCAN_DAYS):
        for begin, end in _day_spans(day, local.tzinfo):  # type: ignore[arg-type]
            if end <= local:
                continue
            begin = max(begin, local)
            if end - begin >= remaining:
                return begin + remaining
            remaining -= end - begin
        day += dt.timedelta(days=1)
    raise ValueError("deadline beyond ten years")


def working_seconds_between(start: dt.datetime, end: dt.datetime) -> float:
    """Office time between two moments; the measure for "share of the allowed time used"."""
    if end <= start:
        return 0.0
    a, b = _local(start), _local(end)
    total = 0.0
    day = a.date()
    while day <= b.date():
        for begin, finish in _day_spans(day, a.tzinfo):  # type: ignore[arg-type]
            lo, hi = max(begin, a), min(finish, b)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return total

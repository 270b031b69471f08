"""Properties of working-day arithmetic over 2025 and 2026, the years whose official schedule
(holidays and 调休 make-up days) the calendar package carries."""

import datetime as dt
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sizhi.workdays import calendar

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db

moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2026, 10, 31), timezones=st.just(SH)
)


@settings(max_examples=150, deadline=None)
@given(start=moments, days=st.integers(min_value=1, max_value=30))
def test_deadline_lands_on_a_working_day_after_exactly_n_working_days(start: dt.datetime, days: int) -> None:
    due = calendar.add_working_days(start, days)
    assert due.timetz().replace(tzinfo=None) == dt.time(23, 59, 59)
    assert chinese_calendar.is_workday(due.date())
    between = chinese_calendar.get_workdays(start.date() + dt.timedelta(days=1), due.date())
    assert len(between) == days


@settings(max_examples=150, deadline=None)
@given(start=moments, a=st.integers(min_value=0, max_value=15), b=st.integers(min_value=0, max_value=15))
def test_adding_working_days_composes(start: dt.datetime, a: int, b: int) -> None:
    once = calendar.add_working_days(start, a + b)
    twice = calendar.add_working_days(calendar.add_working_days(start, a), b)
    assert once.date() == twice.date()


@settings(max_examples=150, deadline=None)
@given(start=moments, hours=st.floats(min_value=0.5, max_value=80, allow_nan=False))
def test_working_hours_round_trip_through_the_elapsed_measure(start: dt.datetime, hours: float) -> None:
    end = calendar.add_working_hours(start, hours)
    assert end >= start
    assert calendar.working_seconds_between(start, end) == pytest.approx(hours * 3600, abs=1e-3)
    # The end is always inside office hours on a working day.
    assert chinese_calendar.is_workday(end.date())


@settings(max_examples=100, deadline=None)
@given(day=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2026, 12, 31)))
def test_every_day_agrees_with_the_official_schedule(day: dt.date) -> None:
    assert calendar.is_workday(day) == chinese_calendar.is_workday(day)

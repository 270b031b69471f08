import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from sizhi.workdays import calendar
from sizhi.workdays.services import calendar_day_clear, calendar_day_set

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


def test_national_day_week_is_not_working_time() -> None:
    assert not calendar.is_workday(dt.date(2026, 10, 1))
    assert not calendar.is_workday(dt.date(2026, 10, 7))


def test_weekend_make_up_day_is_a_working_day() -> None:
    # Saturday 2026-10-10 is the 调休 working day after the National Day week.
    assert dt.date(2026, 10, 10).weekday() == 5
    assert calendar.is_workday(dt.date(2026, 10, 10))


def test_working_days_skip_the_holiday_week_and_count_the_make_up_day() -> None:
    # Submitted Wednesday 30 Sept: the 1st working day is Thursday 8 Oct, the 3rd is Saturday 10 Oct.
    deadline = calendar.add_working_days(at(2026, 9, 30), 3)
    assert deadline == dt.datetime(2026, 10, 10, 23, 59, 59, tzinfo=SH)


def test_working_days_are_counted_from_the_next_day() -> None:
    assert calendar.add_working_days(at(2026, 11, 27, 23, 50), 1).date() == dt.date(2026, 11, 30)


def test_zero_days_is_the_start_itself() -> None:
    start = at(2026, 11, 27)
    assert calendar.add_working_days(start, 0) == start


def test_working_hours_stop_at_lunch_and_over_the_weekend() -> None:
    # Office 08:30-12:00, 14:30-18:00. Friday 11:00 + 4 h: 1 h before lunch, 3 h in the afternoon → 17:30.
    assert calendar.add_working_hours(at(2026, 11, 27, 11, 0), 4) == at(2026, 11, 27, 17, 30)
    # Friday 17:00 + 2 h: 1 h on Friday, the rest on Monday morning.
    assert calendar.add_working_hours(at(2026, 11, 27, 17, 0), 2) == at(2026, 11, 30, 9, 30)


def test_working_seconds_between_ignore_nights_and_holidays() -> None:
    assert calendar.working_seconds_between(at(2026, 9, 30, 17, 0), at(2026, 10, 8, 9, 30)) == 2 * 3600
    assert calendar.working_seconds_between(at(2026, 10, 8), at(2026, 10, 1)) == 0


def test_admin_correction_wins_over_the_package_and_the_weekday_rule() -> None:
    # 2027 is not in the package yet: the plain rule applies until an admin enters the schedule.
    new_year = dt.date(2027, 1, 1)
    assert not calendar.year_is_official(2027)
    assert calendar.is_workday(new_year)  # a Friday by the plain rule
    calendar_day_set(date=new_year, is_workday=False, name="元旦", actor=None)
    calendar.forget_overrides()  # on_commit does this in production; tests run inside a transaction
    assert not calendar.is_workday(new_year)
    calendar_day_clear(date=new_year)
    calendar.forget_overrides()
    assert calendar.is_workday(new_year)


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        calendar.add_working_days(at(2026, 11, 27), -1)
    with pytest.raises(ValueError):
        calendar.add_working_hours(at(2026, 11, 27), -1)

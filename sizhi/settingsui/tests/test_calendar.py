"""Working calendar (工作日历): whether a year's official schedule is known, admin corrections
through workdays.services (which deadlines then follow), and the month grid."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.conftest import World
from sizhi.workdays import calendar as workcal
from sizhi.workdays.models import CalendarDay
from sizhi.workdays.services import calendar_day_set


def test_the_year_page_says_whether_the_official_schedule_is_known(world: World, admin: Client) -> None:
    known = admin.get(reverse("settingsui:calendar"), {"year": 2026}).content.decode()
    assert 'data-testid="calendar-official"' in known
    unknown = admin.get(reverse("settingsui:calendar"), {"year": 2099}).content.decode()
    assert 'data-testid="calendar-unofficial"' in unknown


def test_a_correction_changes_is_workday(world: World, admin: Client, django_capture_on_commit_callbacks) -> None:
    day = dt.date(2099, 10, 1)  # a Thursday in a year the package does not know
    assert workcal.is_workday(day)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            reverse("settingsui:calendar_set"), {"date": "2099-10-01", "kind": "rest", "name": "国庆节"}
        )
    assert response.status_code == 302 and response["Location"].endswith("?year=2099")
    assert not workcal.is_workday(day)
    saved = CalendarDay.objects.get(date=day)
    assert (saved.is_workday, saved.name, saved.created_by) == (False, "国庆节", world.user("system_admin"))
    html = admin.get(response["Location"]).content.decode()
    assert 'data-date="2099-10-01"' in html and "国庆节" in html

    saturday = dt.date(2099, 9, 26)
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(reverse("settingsui:calendar_set"), {"date": "2099-09-26", "kind": "work", "name": "国庆调休上班"})
    assert workcal.is_workday(saturday)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("settingsui:calendar_clear"), {"date": "2099-10-01"})
    assert response.status_code == 302
    assert workcal.is_workday(day) and not CalendarDay.objects.filter(date=day).exists()


def test_correcting_a_day_again_replaces_it(world: World, admin: Client) -> None:
    admin.post(reverse("settingsui:calendar_set"), {"date": "2099-05-01", "kind": "rest", "name": "劳动节"})
    admin.post(reverse("settingsui:calendar_set"), {"date": "2099-05-01", "kind": "work", "name": ""})
    assert list(CalendarDay.objects.values_list("date", "is_workday", "name")) == [(dt.date(2099, 5, 1), True, "")]
    html = admin.get(reverse("settingsui:calendar"), {"year": "2099", "date": "2099-05-01"}).content.decode()
    assert 'value="2099-05-01"' in html
    assert 'value="work" data-testid="day-kind" id="day_kind_0" required checked' in html


@pytest.mark.parametrize("data", [
    {"date": "2099-02-30", "kind": "rest"}, {"date": "not a date", "kind": "rest"},
    {"date": "1899-01-01", "kind": "rest"},
    {"date": "2099-01-01", "kind": "holiday"}, {"date": "2099-01-01", "kind": "rest", "name": "长" * 51},
    {"date": "2099-01-01\x00", "kind": "rest"}, {"date": "", "kind": ""}, {"date": "9" * 5000, "kind": "rest"},
])
def test_bad_days_are_explained(world: World, admin: Client, data: dict[str, str]) -> None:
    response = admin.post(reverse("settingsui:calendar_set"), data)
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert not CalendarDay.objects.exists()


def test_bad_years_and_months_do_not_fail(world: World, admin: Client) -> None:
    for year in ("abc", "99999999999999999999", "1800", "\x00"):
        response = admin.get(reverse("settingsui:calendar"), {"year": year})
        assert response.status_code == 400 and 'data-testid="year-error"' in response.content.decode()
    assert admin.get(reverse("settingsui:calendar"), {"date": "garbage"}).status_code == 200
    for y, m in ((2026, 13), (2026, 0), (1999, 1), (99999999999, 1)):
        assert admin.get(f"/console/settings/calendar/{y}/{m}/").status_code == 404
    response = admin.post(reverse("settingsui:calendar_clear"), {"date": "nope"}, follow=True)
    assert "日期无效" in response.content.decode()


def test_the_month_grid_marks_rest_and_make_up_days(world: World, admin: Client) -> None:
    # October 2026 is in the official schedule: 1–7 National Day, Saturday 10 October worked instead.
    calendar_day_set(date=dt.date(2026, 10, 20), is_workday=False, name="测试调整", actor=None)
    workcal.forget_overrides()
    html = admin.get(reverse("settingsui:calendar_month", args=[2026, 10])).content.decode()

    def kind(date: str) -> str:
        return html.split(f'data-date="{date}" data-kind="')[1].split('"')[0]

    assert kind("2026-10-01") == "holiday"
    assert kind("2026-10-04") == "rest"
    assert kind("2026-10-12") == "work"
    assert kind("2026-10-20") == "holiday"
    assert 'data-date="2026-10-20" data-kind="holiday" data-corrected="1"' in html and "测试调整" in html
    assert "国庆节" in html
    assert kind("2026-10-10") == "makeup"  # a Saturday worked to make up for the holiday
    assert html.count('data-testid="day"') % 7 == 0

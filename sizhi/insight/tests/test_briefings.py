"""Briefings (研判报告): their figures against direct queries, the downloads, the command and the
pages' scope."""

from __future__ import annotations

import datetime as dt
import io
from itertools import count
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from sizhi.cases.evaluation import Period
from sizhi.cases.models import Case, SupervisionOrder
from sizhi.cases.workflow import CaseStatus, Channel, Satisfaction, WarningLevel
from sizhi.conftest import World
from sizhi.insight import briefings
from sizhi.insight.briefings import BriefingError, period_for
from sizhi.insight.models import Alert, AlertKind, Briefing, BriefingPeriod

_serial = count(1)


def yesterday() -> dt.date:
    return timezone.localdate() - dt.timedelta(days=1)


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def make_case(world: World, *, region: Any = None, **fields: Any) -> Case:
    n = next(_serial)
    region = region or world.village_a1
    fields.setdefault("title", f"简报案件 {n}")
    fields.setdefault("description", "描述")
    fields.setdefault("category", world.category)
    return Case.objects.create(
        number=f"BR{n:06d}", tracking_code=f"briefing-tracking-{n:06d}", region=region, region_code=region.code,
        **fields,
    )


@pytest.fixture
def history(world: World) -> dict[str, Case]:
    """Yesterday in 洛阳, by hand: what town A's and the city's daily briefings must count."""
    day = yesterday()
    before = day - dt.timedelta(days=5)
    c: dict[str, Case] = {}
    # Reported yesterday in town A: two still open, one closed the same day and rated 满意.
    c["new_open"] = make_case(world, created_at=at(day, 9), status=CaseStatus.HANDLING,
                              due_at=at(day + dt.timedelta(days=3)))
    c["new_open2"] = make_case(world, region=world.village_a2, created_at=at(day, 11), status=CaseStatus.REPORTED)
    c["new_closed"] = make_case(world, created_at=at(day, 8), status=CaseStatus.CLOSED, closed_at=at(day, 17),
                                satisfaction=Satisfaction.SATISFIED, rated_at=at(day, 18))
    # Reported earlier: one overdue and supervised, one closed yesterday and rated 不满意, one
    # rejected before yesterday (finished: not open), one closed today (still open at the end).
    c["overdue"] = make_case(world, created_at=at(before), status=CaseStatus.HANDLING, due_at=at(day, 12),
                             warning=WarningLevel.RED, assigned_unit=world.district_a_dept)
    c["closed_old"] = make_case(world, created_at=at(before), status=CaseStatus.CLOSED, closed_at=at(day, 15),
                                satisfaction=Satisfaction.UNSATISFIED, rated_at=at(day, 16))
    c["rejected"] = make_case(world, created_at=at(before), status=CaseStatus.REJECTED, rejection_kind="invalid",
                              closed_at=at(before, 12))
    c["closed_today"] = make_case(world, created_at=at(before), status=CaseStatus.CLOSED,
                                  closed_at=timezone.now())
    # Never counted as new: a letter to the secretary (not at all, even overdue), a case from the
    # day before yesterday (open at the end, though).
    c["letter"] = make_case(world, created_at=at(day, 10), channel=Channel.MAILBOX, status=CaseStatus.HANDLING,
                            due_at=at(day, 11), title="书记信箱来信")
    c["older"] = make_case(world, created_at=at(day - dt.timedelta(days=1), 23, 59), status=CaseStatus.REPORTED)
    # In town B: in the city's briefing, not town A's.
    c["town_b"] = make_case(world, region=world.village_b1, created_at=at(day, 10), status=CaseStatus.REPORTED)
    SupervisionOrder.objects.create(
        case=c["overdue"], unit=world.district_a_dept, issued_by=world.user("city_dispatcher"),
        issuer_level="city", reason="请加快处置", respond_by=day, created_at=at(day, 9),
    )
    Alert.objects.create(kind=AlertKind.RISK, severity="high", reason="命中高风险词：‘塌方’（安全隐患）",
                         region_code=c["new_open"].region_code, case=c["new_open"], created_at=at(day, 9, 5))
    Alert.objects.create(kind=AlertKind.RISK, severity="high", reason="town B", region_code=c["town_b"].region_code,
                         case=c["town_b"], created_at=at(day, 10, 5))
    return c


def test_periods() -> None:
    daily = period_for(BriefingPeriod.DAILY, dt.date(2026, 3, 4))
    assert (daily.start, daily.end) == (dt.date(2026, 3, 4), dt.date(2026, 3, 5))
    weekly = period_for(BriefingPeriod.WEEKLY, dt.date(2026, 3, 4))  # a Wednesday
    assert (weekly.start, weekly.end) == (dt.date(2026, 3, 2), dt.date(2026, 3, 9))
    last_week = period_for(BriefingPeriod.WEEKLY)
    assert last_week.start.weekday() == 0 and last_week.end <= timezone.localdate()
    assert period_for(BriefingPeriod.DAILY).start == yesterday()


def test_a_towns_daily_briefing_matches_the_direct_queries(world: World, history: dict[str, Case]) -> None:
    period = period_for(BriefingPeriod.DAILY)
    briefing = briefings.generate(world.town_a, BriefingPeriod.DAILY, period)
    data = briefing.data
    assert (briefing.region, briefing.start, briefing.end) == (world.town_a, period.start, period.end)
    assert data["figures"] == {
        "new": 3, "closed": 2, "open": 5, "overdue": 1, "rated": 2, "satisfied": 1, "satisfaction_rate": 0.5,
    }
    # The same figures, straight from the database.
    in_town = Case.objects.filter(region_code__startswith=world.town_a.prefix).exclude(channel=Channel.MAILBOX)
    start, end = period.start_at, period.end_at
    assert data["figures"]["new"] == in_town.filter(created_at__gte=start, created_at__lt=end).count()
    assert data["figures"]["closed"] == in_town.filter(
        status=CaseStatus.CLOSED, closed_at__gte=start, closed_at__lt=end).count()
    open_ids = {
        c.pk for c in in_town.filter(created_at__lt=end) if c.closed_at is None or c.closed_at >= end
    }
    assert open_ids == {history[k].pk for k in ("new_open", "new_open2", "overdue", "closed_today", "older")}
    assert data["figures"]["open"] == len(open_ids)
    assert [row["id"] for row in data["overdue_cases"]] == [history["overdue"].pk]
    assert data["overdue_cases"][0]["unit"] == world.district_a_dept.name
    assert [row["id"] for row in data["supervised_cases"]] == [history["overdue"].pk]
    assert data["supervised_cases"][0]["answered"] is False
    assert data["alerts"]["total"] == 1 and data["alerts"]["by_kind"]["risk"] == 1
    assert data["alerts"]["items"][0]["case"]["id"] == history["new_open"].pk
    assert data["categories"] == [{"category_id": world.category.parent_id, "name": "道路桥梁", "count": 3}]
    assert data["daily"] == [{"date": period.start.isoformat(), "new": 3, "closed": 2}]
    assert data["period"] == {"kind": "daily", "start": period.start.isoformat(), "end": period.end.isoformat(),
                              "last": period.start.isoformat()}
    # The letter is nowhere in the briefing.
    assert "书记信箱来信" not in str(data) and str(history["letter"].number) not in str(data)


def test_the_citys_briefing_adds_the_other_town(world: World, history: dict[str, Case]) -> None:
    period = period_for(BriefingPeriod.DAILY)
    data = briefings.generate(world.city, BriefingPeriod.DAILY, period).data
    assert data["figures"]["new"] == 4 and data["figures"]["open"] == 6
    assert data["alerts"]["total"] == 2
    assert {r["name"] for r in data["ranking"]["regions"]} == {"老城区", "西工区"}


def test_regenerating_replaces_the_briefing(world: World, history: dict[str, Case]) -> None:
    period = period_for(BriefingPeriod.DAILY)
    first = briefings.generate(world.town_a, BriefingPeriod.DAILY, period)
    make_case(world, created_at=at(period.start, 20))
    second = briefings.generate(world.town_a, BriefingPeriod.DAILY, period)
    assert first.pk == second.pk and second.data["figures"]["new"] == 4
    assert Briefing.objects.count() == 1


def test_a_period_not_over_yet_is_refused(world: World) -> None:
    today = Period(timezone.localdate(), timezone.localdate() + dt.timedelta(days=1))
    with pytest.raises(BriefingError):
        briefings.generate(world.town_a, BriefingPeriod.DAILY, today)
    with pytest.raises(BriefingError):
        briefings.generate_all(BriefingPeriod.WEEKLY, timezone.localdate())
    with pytest.raises(BriefingError):
        briefings.generate(world.village_a1, BriefingPeriod.DAILY, period_for(BriefingPeriod.DAILY))


def test_hot_issues_group_the_periods_reports(world: World) -> None:
    day = yesterday()
    for hour, text in enumerate(["金业路社区路灯不亮", "金业路社区路灯坏了不亮", "金业路社区的路灯晚上不亮"], start=8):
        make_case(world, created_at=at(day, hour), title=text, description=text + "，晚上出行不便", reporter=None,
                  status=CaseStatus.REPORTED)
    make_case(world, created_at=at(day, 15), title="邻居装修噪音扰民", description="周末一早就开始装修",
              status=CaseStatus.REPORTED)
    data = briefings.generate(world.town_a, BriefingPeriod.DAILY, period_for(BriefingPeriod.DAILY)).data
    assert len(data["hot_issues"]) == 1
    issue = data["hot_issues"][0]
    assert issue["size"] == 3 and issue["rank"] == 1 and "路灯" in issue["label"]
    assert len(issue["cases"]) == 3


def test_the_pdf_and_the_workbook(world: World, history: dict[str, Case]) -> None:
    history["overdue"].title = "=HYPERLINK(\"http://x\")<b>粗体</b>"
    history["overdue"].save(update_fields=["title"])
    briefing = briefings.generate(world.town_a, BriefingPeriod.DAILY, period_for(BriefingPeriod.DAILY))
    pdf = briefings.briefing_pdf(briefing)
    assert pdf.startswith(b"%PDF") and b"STSong-Light" in pdf
    wb = load_workbook(io.BytesIO(briefings.briefing_workbook(briefing)))
    assert wb.sheetnames[0] == "概况"
    assert {"超期案件", "督办案件", "单位排名", "本期预警"} <= set(wb.sheetnames)
    figures = {row[0]: row[1] for row in wb["概况"].iter_rows(min_row=3, values_only=True)}
    assert figures["新增案件"] == 3 and figures["满意率"] == 0.5
    overdue = list(wb["超期案件"].iter_rows(min_row=2, values_only=True))
    # A title a spreadsheet would run as a formula is written as text.
    assert overdue[0][1].startswith("'=HYPERLINK")


def test_the_command_generates_every_region(world: World, history: dict[str, Case]) -> None:
    out = io.StringIO()
    call_command("briefings", "generate", "--period", "daily", "--no-progress", stdout=out)
    # The city, two districts and two towns of the test world; no villages.
    assert Briefing.objects.filter(period="daily").count() == 5
    assert "已生成 5 份日报（" in out.getvalue()
    monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday() + 7)
    call_command("briefings", "generate", "--period", "weekly", "--date", monday.isoformat(),
                 "--region", world.town_b.code, "--no-progress", stdout=io.StringIO())
    weekly = Briefing.objects.get(period="weekly")
    assert weekly.region == world.town_b and weekly.start == monday and len(weekly.data["daily"]) == 7
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("briefings", "generate", "--period", "daily", "--region", "999999999999", "--no-progress")
    with pytest.raises(CommandError):
        call_command("briefings", "generate", "--period", "daily", "--date", "2026-13-40", "--no-progress")


def test_the_workers_jobs_write_the_briefings(world: World) -> None:
    from sizhi.insight.tasks_alerts import briefings_daily, briefings_weekly

    briefings_daily.call_local()
    briefings_weekly.call_local()
    assert Briefing.objects.filter(period="daily").count() == 5
    assert Briefing.objects.filter(period="weekly").count() == 5


# --- pages ---------------------------------------------------------------------------------------


@pytest.fixture
def both_towns(world: World, history: dict[str, Case]) -> dict[str, Briefing]:
    period = period_for(BriefingPeriod.DAILY)
    return {
        "a": briefings.generate(world.town_a, BriefingPeriod.DAILY, period),
        "b": briefings.generate(world.town_b, BriefingPeriod.DAILY, period),
        "city": briefings.generate(world.city, BriefingPeriod.DAILY, period),
    }


def test_the_list_shows_only_regions_in_the_viewers_scope(
    world: World, client: Client, both_towns: dict[str, Briefing]
) -> None:
    def listed(name: str) -> set[int]:
        c = Client()
        c.force_login(world.user(name))
        html = c.get(reverse("alerts:briefings")).content.decode()
        return {b.pk for b in both_towns.values() if f'data-testid="briefing-row" data-pk="{b.pk}"' in html}

    assert listed("town_dispatcher") == {both_towns["a"].pk}
    assert listed("town_dispatcher_b") == {both_towns["b"].pk}
    assert listed("leader") == {b.pk for b in both_towns.values()}
    client.force_login(world.user("town_dispatcher_b"))
    for name in ("alerts:briefing", "alerts:briefing_pdf", "alerts:briefing_xlsx"):
        assert client.get(reverse(name, args=[both_towns["a"].pk])).status_code == 404


def test_the_detail_page_and_downloads(world: World, client: Client, both_towns: dict[str, Briefing]) -> None:
    client.force_login(world.user("town_dispatcher"))
    briefing = both_towns["a"]
    response = client.get(reverse("alerts:briefing", args=[briefing.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/vendor/echarts/dist/echarts.min.js" in html
    assert 'id="category-chart"' in html and 'id="score-chart"' in html
    assert "西关街道 日报" in html and "50.0%" in html
    assert reverse("cases:detail", args=[briefing.data["overdue_cases"][0]["id"]]) in html
    pdf = client.get(reverse("alerts:briefing_pdf", args=[briefing.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    xlsx = client.get(reverse("alerts:briefing_xlsx", args=[briefing.pk]))
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[0] == "概况"
    listing = client.get(reverse("alerts:briefings"), {"period": "weekly"}).content.decode()
    assert 'data-testid="briefing-row"' not in listing

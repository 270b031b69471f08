"""Dashboard selectors (insight.dashboards): each figure equals the direct ORM count over the
viewer's scope, lists exactly its own cases, never counts another town's cases nor a
secretary-mailbox case, and buckets days, weeks and months in Asia/Shanghai."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from django.db.models import Q, QuerySet
from django.utils import timezone

from sizhi.cases import evaluation
from sizhi.cases.models import Case, CaseEvent, Category
from sizhi.cases.workflow import OPEN_STATUSES, CaseAction, CaseStatus, Channel, Satisfaction, WarningLevel
from sizhi.conftest import World, inside
from sizhi.insight import dashboards
from sizhi.insight.dashboards import CaseFilter, Figure
from sizhi.regions.models import Grid, Region
from sizhi.units.models import HandlingUnit, UnitKind

S = CaseStatus
_serial = itertools.count(1)


def local(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_default_timezone())


def make_case(
    world: World,
    *,
    status: str = S.HANDLING,
    region: Region | None = None,
    grid: Grid | None = None,
    channel: str = Channel.APP,
    category: Category | None = None,
    created: dt.datetime | None = None,
    closed: dt.datetime | None = None,
    warning: str = WarningLevel.NONE,
    rated: tuple[str, dt.datetime] | None = None,
    unit: HandlingUnit | None = None,
    located: bool = True,
) -> Case:
    """A case with exactly the fields the dashboard reads, written directly: the dashboard reads
    fields, so the services' own rules are not what is under test here."""
    n = next(_serial)
    if region is None:
        region = grid.village if grid is not None else world.village_a1
    lat, lng = inside(grid) if grid is not None and located else (None, None)
    return Case.objects.create(
        number=f"DB{n:06d}", tracking_code=f"dash-tracking-{n:06d}", title=f"看板案件 {n}", description="看板",
        region=region, region_code=region.code, grid=grid, channel=channel, status=status,
        category=category, created_at=created or timezone.now(), closed_at=closed, warning=warning,
        satisfaction=rated[0] if rated else "", rated_at=rated[1] if rated else None, assigned_unit=unit,
        lat=lat, lng=lng, rejection_kind="invalid" if status == S.REJECTED else "",
    )


@dataclass
class Cases:
    today: dt.date
    all: list[Case]
    mailbox: list[Case]
    town_b: list[Case]


def populate(world: World) -> Cases:
    """Cases in several statuses and places, on several days, through several channels."""
    today = dashboards.today()
    yesterday = today - dt.timedelta(days=1)
    ten_days = today - dt.timedelta(days=10)
    long_ago = today - dt.timedelta(days=70)
    roads = world.category  # a sub-category: counted for its parent
    assert roads.parent_id is not None
    other = Category.objects.filter(parent__isnull=True).exclude(pk=roads.parent_id).first()
    assert other is not None
    made = [
        make_case(world, status=S.REPORTED, grid=world.grid_a1, created=local(today, 9), category=roads),
        make_case(world, status=S.HANDLING, grid=world.grid_a1, created=local(today, 11), channel=Channel.HOTLINE,
                  warning=WarningLevel.RED, category=roads),
        make_case(world, status=S.DISPATCHED, grid=world.grid_a1b, created=local(yesterday, 15),
                  warning=WarningLevel.YELLOW, category=other),
        make_case(world, status=S.SUSPENDED, grid=world.grid_a2, created=local(ten_days), warning=WarningLevel.RED,
                  channel=Channel.PATROL),
        make_case(world, status=S.CLOSED, grid=world.grid_a2, created=local(ten_days), closed=local(today, 8),
                  rated=(Satisfaction.SATISFIED, local(today, 9)), category=roads),
        make_case(world, status=S.CLOSED, grid=world.grid_a1, created=local(yesterday), closed=local(yesterday, 18),
                  rated=(Satisfaction.UNSATISFIED, local(yesterday, 19)), warning=WarningLevel.RED),
        make_case(world, status=S.CLOSED, grid=world.grid_a1, created=local(long_ago), closed=local(long_ago, 12),
                  rated=(Satisfaction.BASICALLY, local(ten_days))),
        make_case(world, status=S.REJECTED, grid=world.grid_a1b, created=local(today, 7), category=other),
        # Placed at the town or district itself, not in a village (the "本级" rows), one with no grid.
        make_case(world, status=S.REGISTERED, region=world.town_a, created=local(yesterday), located=False),
        make_case(world, status=S.VERIFYING, region=world.district_a, created=local(today, 6), category=roads,
                  channel=Channel.SENSOR),
    ]
    # Town B: one case of its own, and one assigned to town A's centre (town A sees it through its unit).
    town_b = [
        make_case(world, status=S.HANDLING, grid=world.grid_b1, created=local(today, 10), warning=WarningLevel.RED,
                  category=roads),
        make_case(world, status=S.HANDLING, grid=world.grid_b1, created=local(yesterday, 10),
                  unit=world.town_a_centre, channel=Channel.HOTLINE),
    ]
    # Secretary-mailbox letters in every figure's way: never counted, listed or mapped.
    mailbox = [
        make_case(world, status=S.HANDLING, grid=world.grid_a1, channel=Channel.MAILBOX, created=local(today, 8),
                  warning=WarningLevel.RED, category=roads),
        make_case(world, status=S.CLOSED, grid=world.grid_a2, channel=Channel.MAILBOX, created=local(today, 8),
                  closed=local(today, 12), rated=(Satisfaction.SATISFIED, local(today, 13))),
        make_case(world, status=S.REPORTED, grid=world.grid_b1, channel=Channel.MAILBOX, created=local(today, 9)),
    ]
    return Cases(today, made + town_b, mailbox, town_b)


@pytest.fixture
def data(world: World) -> Cases:
    return populate(world)


# The scope each viewer has, written out by hand (the regions and units of conftest's world).
def direct(world: World, name: str) -> QuerySet[Case]:
    scopes = {
        "town_dispatcher": Q(region_code__startswith=world.town_a.prefix) | Q(assigned_unit=world.town_a_centre),
        "town_dispatcher_b": Q(region_code__startswith=world.town_b.prefix) | Q(assigned_unit=world.town_b_centre),
        "district_dispatcher": Q(region_code__startswith=world.district_a.prefix)
        | Q(assigned_unit=world.district_a_centre),
        "city_dispatcher": Q(region_code__startswith=world.city.prefix),
        "leader": Q(region_code__startswith=world.city.prefix),
        "grid_worker": Q(grid=world.grid_a1) | Q(assigned_unit=world.village_a1_committee),
        "village_cadre": Q(region_code__startswith=world.village_a1.prefix)
        | Q(assigned_unit=world.village_a1_committee),
    }
    return Case.objects.filter(scopes[name]).exclude(channel=Channel.MAILBOX)


def midnight(day: dt.date) -> dt.datetime:
    return local(day, 0)


VIEWERS = ["town_dispatcher", "town_dispatcher_b", "district_dispatcher", "city_dispatcher", "leader",
           "grid_worker", "village_cadre"]


# --- the figures equal the direct count ------------------------------------------------------------


@pytest.mark.parametrize("name", VIEWERS)
def test_key_figures_equal_direct_orm_counts(world: World, data: Cases, name: str) -> None:
    user = world.user(name)
    win = dashboards.window("day")
    k = dashboards.kpis(user, win)
    qs = direct(world, name)
    t0, t1 = midnight(data.today), midnight(data.today + dt.timedelta(days=1))
    p0 = midnight(win.first)
    opened = qs.filter(status__in=list(OPEN_STATUSES))
    rated = qs.filter(rated_at__gte=p0, rated_at__lt=t1).exclude(satisfaction="")
    assert k.today_new.value == qs.filter(created_at__gte=t0, created_at__lt=t1).count()
    assert k.open.value == opened.count()
    assert k.overdue.value == opened.filter(warning=WarningLevel.RED).count()
    assert k.closed_today.value == qs.filter(status=S.CLOSED, closed_at__gte=t0, closed_at__lt=t1).count()
    assert k.period_new.value == qs.filter(created_at__gte=p0, created_at__lt=t1).count()
    assert k.satisfaction.denominator.value == rated.count()
    assert k.satisfaction.numerator.value == rated.filter(satisfaction__in=["satisfied", "basically"]).count()


def test_the_town_dispatchers_figures_by_hand(world: World, data: Cases) -> None:
    """The same figures as plain numbers, so that a shared mistake in both the selector and the
    direct query above cannot hide."""
    k = dashboards.kpis(world.user("town_dispatcher"), dashboards.window("day"))
    # Today: reported 9:00, handling 11:00, rejected 7:00 (the district case is not town A's).
    assert k.today_new.value == 3
    # reported, handling, dispatched, suspended, registered (town), town B's case assigned to town A.
    assert k.open.value == 6
    assert k.overdue.value == 2  # handling and suspended; the closed red one is not open
    assert k.closed_today.value == 1
    # Rated in the last 30 days: satisfied, unsatisfied, basically.
    assert (k.satisfaction.numerator.value, k.satisfaction.denominator.value) == (2, 3)
    assert k.satisfaction.value == pytest.approx(2 / 3)


def figures_of(board: dashboards.Dashboard) -> list[Figure]:
    out: list[Figure] = [*board.kpis.figures(), board.kpis.satisfaction.numerator, board.kpis.satisfaction.denominator]
    for point in board.trend:
        out += [point.created, point.closed]
    for row in [*board.categories, *board.channels, *board.regions.rows]:
        out += [row.total, row.open, row.overdue]
    return out + board.statuses


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
@pytest.mark.parametrize("name", VIEWERS)
def test_every_figure_lists_exactly_the_cases_it_counts(world: World, data: Cases, name: str,
                                                         granularity: Any) -> None:
    user = world.user(name)
    board = dashboards.dashboard(user, granularity, with_ranking=False)
    for figure in figures_of(board):
        listed = dashboards.drill_cases(user, figure.filter)
        assert listed.count() == figure.value, (figure.key, figure.label, figure.filter)
        # Through the query string too, as the links carry it.
        again = CaseFilter.from_params(figure.filter.params())
        assert again == figure.filter


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_breakdowns_add_up_to_the_cases_reported_in_the_period(world: World, data: Cases, granularity: Any) -> None:
    user = world.user("district_dispatcher")
    board = dashboards.dashboard(user, granularity, with_ranking=False)
    total = board.kpis.period_new.value
    assert total == sum(p.created.value for p in board.trend)
    for rows in (board.categories, board.channels, board.regions.rows):
        assert sum(r.total.value for r in rows) == total
        assert sum(r.open.value for r in rows) == direct(world, "district_dispatcher").filter(
            created_at__gte=board.window.start_at, created_at__lt=board.window.end_at,
            status__in=list(OPEN_STATUSES),
        ).count()


# --- scope and the mailbox ---------------------------------------------------------------------------


def test_town_b_dispatcher_never_counts_town_a_cases(world: World, data: Cases) -> None:
    user = world.user("town_dispatcher_b")
    board = dashboards.dashboard(user, "month", with_ranking=False)
    # Town B's two cases (one assigned to town A's centre lies in town B all the same).
    assert board.kpis.period_new.value == 2
    assert board.kpis.open.value == 2
    assert board.kpis.overdue.value == 1
    listed = set(dashboards.drill_cases(user, CaseFilter()).values_list("region_code", flat=True))
    assert listed == {world.village_b1.code}
    labels = {r.label for r in board.regions.rows}
    assert labels == {world.village_b1.name}
    # Asking for town A's cases by name gets nothing.
    assert dashboards.drill_cases(user, CaseFilter(region=world.town_a.prefix)).count() == 0
    assert dashboards.latest_cases(user) and all(c.region_code.startswith(world.town_b.prefix)
                                                 for c in dashboards.latest_cases(user))


def test_a_case_assigned_to_the_viewers_unit_elsewhere_has_its_own_row(world: World, data: Cases) -> None:
    user = world.user("town_dispatcher")
    regions = dashboards.by_region(dashboards.window_counts(user, dashboards.window("month")))
    assert regions.parent == world.town_a and regions.level == "village"
    rows = {r.key: r for r in regions.rows}
    assert rows["outside"].total.value == 1
    assert list(dashboards.drill_cases(user, rows["outside"].total.filter)) == [data.town_b[1]]
    assert rows[world.town_a.code].label == "西关街道本级"
    assert rows[world.village_a1.prefix].label == "金业路社区"


def test_mailbox_cases_are_never_counted_listed_or_mapped(world: World) -> None:
    today = dashboards.today()
    for status in (S.REPORTED, S.HANDLING, S.CLOSED):
        make_case(world, status=status, grid=world.grid_a1, channel=Channel.MAILBOX, created=local(today, 8),
                  warning=WarningLevel.RED, closed=local(today, 9) if status == S.CLOSED else None,
                  rated=(Satisfaction.SATISFIED, local(today, 10)) if status == S.CLOSED else None)
    for name in ("town_dispatcher", "city_dispatcher", "grid_worker", "leader"):
        user = world.user(name)
        board = dashboards.dashboard(user, "day")
        assert all(f.value == 0 for f in figures_of(board)), name
        assert board.categories == [] and board.channels == []
        assert all(r.total.value == 0 for r in board.regions.rows)
        assert dashboards.latest_cases(user) == []
        assert dashboards.drill_cases(user, CaseFilter()).count() == 0
        # The mailbox is not a channel one can ask for: the parameter is dropped…
        assert CaseFilter.from_params({"channel": "mailbox"}).channel == ""
        # …and a filter built by hand still lists nothing.
        assert dashboards.drill_cases(user, CaseFilter(channel=Channel.MAILBOX)).count() == 0
        grids, _ = dashboards.grids_with_counts(user, (112.0, 34.0, 113.0, 35.0), limit=100)
        assert all(g.open == 0 and g.overdue == 0 for g in grids)
        points = dashboards.map_points(user, (112.0, 34.0, 113.0, 35.0), "open", dashboards.window("day"), limit=100)
        assert points.total == 0 and points.points == []


def test_administrators_and_citizens_see_no_figures(world: World, data: Cases) -> None:
    for name in ("system_admin", "audit_admin", "citizen"):
        user = world.user(name)
        assert dashboards.scoped_cases(user).count() == 0
        board = dashboards.dashboard(user, "day")
        assert all(f.value == 0 for f in figures_of(board))
        assert board.ranking is not None and board.ranking.units == 0
        assert dashboards.grids_with_counts(user, (112.0, 34.0, 113.0, 35.0), limit=100) == ([], False)
        assert dashboards.scope_bounds(user) is None


# --- periods and time zones --------------------------------------------------------------------------


def test_days_are_counted_in_asia_shanghai(world: World) -> None:
    today = dashboards.today()
    zone = dt.UTC
    start = midnight(today)
    # 23:30 yesterday and 00:30 today in Shanghai are 15:30 and 16:30 UTC of one UTC day.
    make_case(world, grid=world.grid_a1, created=(start - dt.timedelta(minutes=30)).astimezone(zone))
    make_case(world, grid=world.grid_a1, created=(start + dt.timedelta(minutes=30)).astimezone(zone))
    user = world.user("town_dispatcher")
    points = dashboards.trend(user, dashboards.window_counts(user, dashboards.window("day")))
    assert [p.created.value for p in points[-2:]] == [1, 1]
    assert dashboards.kpis(user, dashboards.window("day")).today_new.value == 1


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    wednesday = dt.date(2026, 11, 25)
    week = dashboards.window("week", on=wednesday)
    assert len(week.buckets) == 12
    assert all(start.weekday() == 0 for start, _end in week.buckets)
    assert week.buckets[-1] == (dt.date(2026, 11, 23), wednesday)
    assert week.buckets[-2] == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    month = dashboards.window("month", on=wednesday)
    assert month.buckets[0] == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert month.buckets[-1] == (dt.date(2026, 11, 1), wednesday)
    assert month.first == dt.date(2025, 12, 1) and month.last == wednesday
    day = dashboards.window("day", on=dt.date(2026, 3, 1))
    assert day.first == dt.date(2026, 1, 31) and len(day.buckets) == 30


@pytest.mark.parametrize("granularity", ["week", "month"])
def test_weekly_and_monthly_trends_put_each_case_in_its_bucket(world: World, granularity: Any) -> None:
    win = dashboards.window(granularity)
    expected = []
    for start, end in win.buckets[-3:]:
        make_case(world, grid=world.grid_a1, created=local(start, 0, 5))
        make_case(world, grid=world.grid_a1, created=local(end, 23, 55))
        expected.append(2)
    user = world.user("town_dispatcher")
    points = dashboards.trend(user, dashboards.window_counts(user, win))
    assert [p.created.value for p in points[-3:]] == expected
    assert sum(p.created.value for p in points) == 6


# --- breakdowns --------------------------------------------------------------------------------------


def test_categories_count_sub_categories_for_their_parent(world: World, data: Cases) -> None:
    user = world.user("district_dispatcher")
    rows = {r.key: r for r in dashboards.by_category(dashboards.window_counts(user, dashboards.window("day")))}
    roads_parent = world.category.parent
    assert roads_parent is not None
    since = midnight(dashboards.window("day").first)
    expected = direct(world, "district_dispatcher").filter(
        Q(category=roads_parent) | Q(category__parent=roads_parent), created_at__gte=since
    ).count()
    assert rows[str(roads_parent.pk)].total.value == expected
    assert rows[str(roads_parent.pk)].label == roads_parent.name
    assert rows["none"].label == "未分类"


def test_regions_follow_the_viewers_level(world: World, data: Cases) -> None:
    win = dashboards.window("month")
    city = dashboards.by_region(dashboards.window_counts(world.user("city_dispatcher"), win))
    assert city.level == "district"
    assert {r.label for r in city.rows} == {"老城区", "西工区"}
    district = dashboards.by_region(dashboards.window_counts(world.user("district_dispatcher"), win))
    assert {r.label for r in district.rows} == {"西关街道", "老城区本级"}
    village = dashboards.by_region(dashboards.window_counts(world.user("village_cadre"), win))
    assert village.level == "grid"
    assert {r.label for r in village.rows} == {"001网格", "002网格"}


def test_a_child_region_without_cases_is_a_row_of_zeros(world: World) -> None:
    make_case(world, grid=world.grid_a1, created=local(dashboards.today(), 9))
    rows = dashboards.by_region(dashboards.window_counts(world.user("city_dispatcher"), dashboards.window("day"))).rows
    assert [(r.label, r.total.value) for r in rows] == [("老城区", 1), ("西工区", 0)]
    assert dashboards.drill_cases(world.user("city_dispatcher"), rows[1].total.filter).count() == 0
    grids = dashboards.by_region(dashboards.window_counts(world.user("village_cadre"), dashboards.window("day"))).rows
    assert [(r.label, r.total.value) for r in grids] == [("001网格", 1), ("002网格", 0)]


def test_open_cases_by_status(world: World, data: Cases) -> None:
    statuses = {f.key: f.value for f in dashboards.by_status(world.user("town_dispatcher"))}
    assert set(statuses) == {s.value for s in OPEN_STATUSES}
    assert statuses["handling"] == 2 and statuses["reported"] == 1 and statuses["verifying"] == 0


# --- the ranking comes from cases.evaluation -------------------------------------------------------


def dispatched_and_signed(world: World, unit: HandlingUnit, day: dt.date, *, in_time: bool) -> None:
    """One dispatch to `unit`, signed for within its 2-hour limit or not (响应率 100 % or 0 %)."""
    case = make_case(world, grid=world.grid_a1, created=local(day, 8))
    at = local(day, 9)
    CaseEvent.objects.create(case=case, unit=unit, action=CaseAction.DISPATCH, to_status=S.DISPATCHED,
                             created_at=at, data={"sign_due_at": (at + dt.timedelta(hours=2)).isoformat(),
                                                  "due_at": (at + dt.timedelta(days=5)).isoformat()})
    CaseEvent.objects.create(case=case, unit=unit, action=CaseAction.SIGN_FOR, to_status=S.HANDLING,
                             created_at=at + dt.timedelta(hours=1 if in_time else 5))


def test_ranking_is_the_evaluation_of_the_viewers_units(world: World, data: Cases) -> None:
    win = dashboards.window("day")
    committee, dept = world.village_a1_committee, world.district_a_dept
    dispatched_and_signed(world, committee, win.last, in_time=True)
    dispatched_and_signed(world, dept, win.last, in_time=False)
    dispatched_and_signed(world, world.town_b_centre, win.last, in_time=True)
    user = world.user("district_dispatcher")
    ranking = dashboards.ranking(user, win)
    expected = evaluation.evaluate(evaluation.units_for_user(user, world.district_a), win.period)
    scored = [(r.pk, r.score.total) for r in expected.units if r.rank is not None]
    assert [(r.pk, r.score.total) for r in ranking.best] == scored == [(committee.pk, 100.0), (dept.pk, 0.0)]
    # Like the monthly circular, a unit already among the best is not listed again among the worst.
    assert ranking.worst == []
    # Town B's centre is not in 老城区's ranking.
    assert ranking.units == 4


def test_the_worst_are_the_lowest_scores_not_among_the_best(world: World) -> None:
    win = dashboards.window("week")
    units = [
        HandlingUnit.objects.create(name=f"老城区第{i:02d}部门", kind=UnitKind.DEPARTMENT, region=world.district_a)
        for i in range(12)
    ]
    for i, unit in enumerate(units):
        dispatched_and_signed(world, unit, win.last, in_time=i < 6)
    ranking = dashboards.ranking(world.user("district_dispatcher"), win)
    assert [r.name for r in ranking.best] == [u.name for u in units[:5]]
    assert [r.name for r in ranking.worst] == [u.name for u in reversed(units[6:])][:5]
    assert all(r.score.total == 0 for r in ranking.worst)


# --- map ---------------------------------------------------------------------------------------------

EVERYWHERE = (112.0, 34.0, 113.0, 35.0)


def test_grids_carry_their_open_and_overdue_counts_in_scope_only(world: World, data: Cases) -> None:
    rows, truncated = dashboards.grids_with_counts(world.user("town_dispatcher"), EVERYWHERE, limit=100)
    assert not truncated
    by_grid = {r.grid.pk: (r.open, r.overdue) for r in rows}
    assert set(by_grid) == {world.grid_a1.pk, world.grid_a1b.pk, world.grid_a2.pk}
    qs = direct(world, "town_dispatcher").filter(status__in=list(OPEN_STATUSES))
    for grid in (world.grid_a1, world.grid_a1b, world.grid_a2):
        assert by_grid[grid.pk] == (
            qs.filter(grid=grid).count(), qs.filter(grid=grid, warning=WarningLevel.RED).count()
        )
    b_rows, _ = dashboards.grids_with_counts(world.user("town_dispatcher_b"), EVERYWHERE, limit=100)
    assert [r.grid.pk for r in b_rows] == [world.grid_b1.pk]
    worker, _ = dashboards.grids_with_counts(world.user("grid_worker"), EVERYWHERE, limit=100)
    assert [r.grid.pk for r in worker] == [world.grid_a1.pk]
    capped, more = dashboards.grids_with_counts(world.user("city_dispatcher"), EVERYWHERE, limit=2)
    assert len(capped) == 2 and more


def test_points_are_sent_one_by_one_or_counted_per_cell(world: World, data: Cases) -> None:
    user = world.user("city_dispatcher")
    win = dashboards.window("day")
    expected = direct(world, "city_dispatcher").filter(status__in=list(OPEN_STATUSES), lat__isnull=False).count()
    one_by_one = dashboards.map_points(user, EVERYWHERE, "open", win, limit=100)
    assert one_by_one.mode == "points" and one_by_one.total == expected == len(one_by_one.points)
    cells = dashboards.map_points(user, EVERYWHERE, "open", win, limit=2)
    assert cells.mode == "cells" and cells.total == expected
    assert sum(c[2] for c in cells.cells) == expected
    assert sum(c[3] for c in cells.cells) == direct(world, "city_dispatcher").filter(
        status__in=list(OPEN_STATUSES), lat__isnull=False, warning=WarningLevel.RED).count()
    period = dashboards.map_points(user, EVERYWHERE, "period", win, limit=100)
    assert period.total == direct(world, "city_dispatcher").filter(
        created_at__gte=win.start_at, lat__isnull=False).count()
    assert dashboards.drill_cases(user, period.filter).filter(lat__isnull=False).count() == period.total
    nowhere = dashboards.map_points(user, (0.0, 0.0, 1.0, 1.0), "open", win, limit=100)
    assert nowhere.total == 0


def test_scope_bounds_cover_the_viewers_grids(world: World) -> None:
    assert dashboards.scope_bounds(world.user("town_dispatcher_b")) == pytest.approx((112.50, 34.70, 112.51, 34.71))
    assert dashboards.scope_bounds(world.user("town_dispatcher")) == pytest.approx((112.40, 34.60, 112.43, 34.61))


# --- the filter's query string ---------------------------------------------------------------------


def test_filters_drop_what_they_do_not_understand() -> None:
    junk = {
        "state": "closed", "status": "nope", "warning": "purple", "category": "-3", "channel": "mailbox",
        "region": "41'03", "outside": "4103,x", "grid": "0", "created_from": "2026-02-30", "created_to": "0001-01-01",
        "rated": "yes",
    }
    f = CaseFilter.from_params(junk)
    assert f == CaseFilter(outside=("4103",))
    full = CaseFilter(
        state="open", status="handling", warning="red", category=5, channel="hotline", region="410302",
        outside=("410302", "410303"), grid=7, created_from=dt.date(2026, 1, 1), created_to=dt.date(2026, 1, 31),
        closed_from=dt.date(2026, 1, 2), closed_to=dt.date(2026, 1, 3), rated_from=dt.date(2026, 1, 4),
        rated_to=dt.date(2026, 1, 5), satisfied=True, rated=True,
    )
    assert CaseFilter.from_params(full.params()) == full
    assert CaseFilter.from_params({"category": "none", "grid": "none"}) == CaseFilter(uncategorized=True, no_grid=True)

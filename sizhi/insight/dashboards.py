"""Dashboard reads (数据看板): key figures, trends, breakdowns, map layers and the evaluation ranking
of one viewer's scope.

Two rules hold for every figure here:
- it starts from the viewer's scope (cases.permissions.case_scope_q), so a dashboard can never
  count what the case list would not show;
- secretary-mailbox cases (Channel.MAILBOX) are excluded explicitly: a letter to the party
  secretary is confidential, and even its existence must not surface in a count or on a map.

Every figure carries the `CaseFilter` that lists its cases; `drill_cases` applies exactly that
filter to the same scoped, mailbox-free rows, so the list a number links to always holds that
number of cases (the tests check it figure by figure). Each block is one grouped query: nothing
here runs a query per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from django.contrib.auth.models import AnonymousUser
from django.db.models import (
    Avg,
    CharField,
    Count,
    DateField,
    F,
    FloatField,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models import Case as SqlCase
from django.db.models.functions import Cast, Coalesce, Floor, Substr, TruncDate, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sizhi.accounts.models import ADMIN_ROLES, Membership, User
from sizhi.accounts.selectors import active_memberships
from sizhi.cases import evaluation
from sizhi.cases.models import Assignment, Case, Category
from sizhi.cases.permissions import case_scope_q
from sizhi.cases.selectors import case_list_for_user
from sizhi.cases.workflow import ACTIVE_ASSIGNMENT, OPEN_STATUSES, CaseStatus, Channel, Satisfaction, WarningLevel
from sizhi.insight import rollups
from sizhi.insight.models import CaseRollup
from sizhi.regions.models import LEVEL_PREFIX_LENGTH, Grid, Region, RegionLevel
from sizhi.regions.selectors import region_scope_q

AnyUser = User | AnonymousUser | None
Granularity = Literal["day", "week", "month"]
GRANULARITIES: tuple[Granularity, ...] = ("day", "week", "month")

OPEN = sorted(str(s) for s in OPEN_STATUSES)
SATISFIED = [Satisfaction.SATISFIED.value, Satisfaction.BASICALLY.value]
# How many buckets each trend shows: a month of days, a quarter of weeks, a year of months.
BUCKETS: dict[str, int] = {"day": 30, "week": 12, "month": 12}
CHILD_LEVEL = {
    RegionLevel.CITY: RegionLevel.DISTRICT,
    RegionLevel.DISTRICT: RegionLevel.TOWN,
    RegionLevel.TOWN: RegionLevel.VILLAGE,
}
RANKING_SIZE = 5
TICKER_SIZE = 12


def platform_zone() -> dt.tzinfo:
    # The platform's zone (Asia/Shanghai), not the request's active one: a day on the dashboard
    # is the same calendar day for every viewer and for cases.evaluation.
    return timezone.get_default_timezone()


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=platform_zone())


def today() -> dt.date:
    return timezone.localtime(timezone.now(), platform_zone()).date()


# --- scope -------------------------------------------------------------------------------------


def scoped_cases(user: AnyUser) -> QuerySet[Case]:
    """The viewer's cases as every dashboard figure counts them: in scope, never the mailbox."""
    scope = case_scope_q(user)
    if scope is None:
        return Case.objects.none()
    return Case.objects.filter(scope).exclude(channel=Channel.MAILBOX)


def _staff_memberships(user: AnyUser) -> list[Membership]:
    return [m for m in active_memberships(user) if m.role not in ADMIN_ROLES]


def scope_region(user: AnyUser) -> Region | None:
    """The region whose children the region breakdown compares: the viewer's scope when one of
    their scopes holds all the others (cases.evaluation.default_region), else None."""
    return evaluation.default_region(user)


def grids_in_scope_q(user: AnyUser) -> Q | None:
    """Grids a viewer's memberships cover: a grid worker's own grid, or every grid under a scope."""
    parts: list[Q] = []
    for m in _staff_memberships(user):
        if m.grid_id is not None:
            parts.append(Q(pk=m.grid_id))
        elif m.scope is not None:
            parts.append(region_scope_q(m.scope, "region_code"))
    if not parts:
        return None
    combined = parts[0]
    for q in parts[1:]:
        combined |= q
    return combined


# --- drill-down filter -------------------------------------------------------------------------


def _digits(value: str, *, max_length: int = 12) -> str:
    text = value.strip()
    return text if text.isascii() and text.isdigit() and len(text) <= max_length else ""


def _date(value: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        return None
    # Outside these years a midnight may not be representable (and nothing is recorded there).
    return day if 2000 <= day.year <= 2100 else None


def _positive(value: str) -> int | None:
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    number = int(text)
    return number if number > 0 else None


@dataclass(frozen=True)
class CaseFilter:
    """Which of the viewer's (mailbox-free) cases a figure counts, as plain values that travel in
    a query string. `category` is a top-level category and includes its sub-categories;
    `region` is a region-code prefix; `outside` lists prefixes the cases lie outside of (the
    "elsewhere" row of the region breakdown); dates are local days, both ends included."""

    state: Literal["", "open"] = ""
    status: str = ""
    warning: str = ""
    category: int | None = None
    uncategorized: bool = False
    channel: str = ""
    region: str = ""
    outside: tuple[str, ...] = ()
    grid: int | None = None
    no_grid: bool = False
    created_from: dt.date | None = None
    created_to: dt.date | None = None
    closed_from: dt.date | None = None
    closed_to: dt.date | None = None
    rated_from: dt.date | None = None
    rated_to: dt.date | None = None
    satisfied: bool = False
    rated: bool = False

    def params(self) -> dict[str, str]:
        """The query-string form; only what is set, in a stable order."""
        out: dict[str, str] = {}
        for key, value in (
            ("state", self.state), ("status", self.status), ("warning", self.warning),
            ("category", "none" if self.uncategorized else self.category), ("channel", self.channel),
            ("region", self.region), ("outside", ",".join(self.outside)),
            ("grid", "none" if self.no_grid else self.grid),
            ("created_from", self.created_from), ("created_to", self.created_to),
            ("closed_from", self.closed_from), ("closed_to", self.closed_to),
            ("rated_from", self.rated_from), ("rated_to", self.rated_to),
            ("rated", "1" if self.rated else ""), ("satisfied", "1" if self.satisfied else ""),
        ):
            if value not in (None, ""):
                out[key] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return out

    @classmethod
    def from_params(cls, data: Mapping[str, Any]) -> CaseFilter:
        """Parse a query string leniently: an unknown or malformed value is dropped, never an
        error, like the console's case list (cases.forms.CaseListFilterForm)."""

        def text(key: str) -> str:
            value = data.get(key, "")
            return value[:200] if isinstance(value, str) else ""

        category = text("category")
        grid = text("grid")
        outside = tuple(p for p in (_digits(x) for x in text("outside").split(",")[:20]) if p)
        return cls(
            state="open" if text("state") == "open" else "",
            status=text("status") if text("status") in CaseStatus.values else "",
            warning=text("warning") if text("warning") in WarningLevel.values else "",
            category=_positive(category),
            uncategorized=category == "none",
            # The mailbox is never listed here, so it is not a channel one can ask for either.
            channel=text("channel") if text("channel") in Channel.values and text("channel") != Channel.MAILBOX else "",
            region=_digits(text("region")),
            outside=outside,
            grid=_positive(grid),
            no_grid=grid == "none",
            created_from=_date(text("created_from")), created_to=_date(text("created_to")),
            closed_from=_date(text("closed_from")), closed_to=_date(text("closed_to")),
            rated_from=_date(text("rated_from")), rated_to=_date(text("rated_to")),
            rated=text("rated") == "1", satisfied=text("satisfied") == "1",
        )

    @property
    def is_empty(self) -> bool:
        return not self.params()

    def extra_q(self) -> Q:
        """The conditions case_list_for_user has no keyword for."""
        q = Q()
        if self.state == "open":
            q &= Q(status__in=OPEN)
        if self.uncategorized:
            q &= Q(category__isnull=True)
        if self.channel:
            q &= Q(channel=self.channel)
        if self.region:
            q &= Q(region_code__startswith=self.region)
        for prefix in self.outside:
            q &= ~Q(region_code__startswith=prefix)
        if self.grid is not None:
            q &= Q(grid_id=self.grid)
        elif self.no_grid:
            q &= Q(grid__isnull=True)
        q &= _day_range_q("closed_at", self.closed_from, self.closed_to)
        q &= _day_range_q("rated_at", self.rated_from, self.rated_to)
        if self.rated or self.satisfied:
            q &= Q(satisfaction__in=SATISFIED if self.satisfied else Satisfaction.values)
        return q


def _day_range_q(field_name: str, first: dt.date | None, last: dt.date | None) -> Q:
    """Local days [first, last] as bounds on the timestamp, which an index can answer."""
    q = Q()
    if first is not None:
        q &= Q(**{f"{field_name}__gte": _midnight(first)})
    if last is not None:
        q &= Q(**{f"{field_name}__lt": _midnight(last + dt.timedelta(days=1))})
    return q


def drill_cases(user: AnyUser, f: CaseFilter, *, ordering: str = "newest") -> QuerySet[Case]:
    """The cases behind a figure: case_list_for_user (scope, status, warning, category, report
    dates), then the dashboard's own conditions, never a mailbox case."""
    category: Category | None = None
    if f.category is not None:
        category = Category.objects.filter(pk=f.category).first()
        if category is None:
            return Case.objects.none()
    qs = case_list_for_user(
        user, status=f.status or None, warning=f.warning or None, category=category,
        created_from=f.created_from, created_to=f.created_to, ordering=ordering,
    )
    return qs.exclude(channel=Channel.MAILBOX).filter(f.extra_q())


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The dashboard's period: `count` buckets of one granularity ending with the current one.
    Rates, breakdowns and the ranking cover [first, last]; the trend has one point per bucket."""

    granularity: Granularity
    first: dt.date
    last: dt.date
    buckets: tuple[tuple[dt.date, dt.date], ...]

    @property
    def start_at(self) -> dt.datetime:
        return _midnight(self.first)

    @property
    def end_at(self) -> dt.datetime:
        return _midnight(self.last + dt.timedelta(days=1))

    @property
    def period(self) -> evaluation.Period:
        return evaluation.Period.days(self.first, self.last)

    def label(self) -> str:
        labels = {
            "day": _("近 %(n)d 天（按日）"), "week": _("近 %(n)d 周（按周）"), "month": _("近 %(n)d 个月（按月）"),
        }
        return labels[self.granularity] % {"n": len(self.buckets)}


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def window(granularity: Granularity, *, on: dt.date | None = None) -> Window:
    day = on or today()
    n = BUCKETS[granularity]
    starts: list[dt.date]
    if granularity == "day":
        starts = [day - dt.timedelta(days=i) for i in range(n - 1, -1, -1)]
        ends = starts
    elif granularity == "week":
        monday = day - dt.timedelta(days=day.weekday())
        starts = [monday - dt.timedelta(weeks=i) for i in range(n - 1, -1, -1)]
        ends = [s + dt.timedelta(days=6) for s in starts]
    else:
        first_of_month = day.replace(day=1)
        starts = [_add_months(first_of_month, -i) for i in range(n - 1, -1, -1)]
        ends = [_add_months(s, 1) - dt.timedelta(days=1) for s in starts]
    # The current bucket ends today: nothing after today has happened yet.
    ends = [*ends[:-1], day]
    return Window(granularity, starts[0], day, tuple(zip(starts, ends, strict=True)))


def parse_granularity(value: object) -> Granularity:
    for g in GRANULARITIES:
        if value == g:
            return g
    return "day"



# --- roll-ups ------------------------------------------------------------------------------------
#
# The city-, district- and town-level figures are sums over insight.rollups (CaseRollup), kept
# exact in the transaction of every case write, instead of scans of a year of cases. A viewer's
# scope is then (a) the region prefixes of their memberships, which the roll-ups answer, and (b)
# the cases their units hold or assist with outside those prefixes, few, read as rows and counted
# here with the very rules the roll-ups are built with (rollups.contributions). Grid workers and
# village-level viewers (whose figures split by grid) keep the direct queries: their scope is a
# few thousand cases at most.


@dataclass(frozen=True)
class RollupScope:
    prefixes: tuple[str, ...]      # outermost scope prefixes (none inside another)
    depth: int                     # roll-up depth that expresses them all (6 or 9)
    # In scope through a unit only (held, or assisted with): outside every prefix, never the mailbox.
    # Two plain queries, not one OR: with the subquery in an OR the planner reads every case.
    extra: tuple[QuerySet[Case], ...]


def _depth(prefix: str) -> int:
    return next(d for d in rollups.DEPTHS[rollups.AREA] if d >= len(prefix))


# Off only to time the direct queries against the roll-ups (bench/dashboards.py).
USE_ROLLUPS = True


def rollup_scope(user: AnyUser) -> RollupScope | None:
    """The viewer's scope as roll-up prefixes plus the rest, or None when the roll-ups cannot
    express it. Mirrors cases.permissions.membership_scope_q (the tests hold both to one count)."""
    if not USE_ROLLUPS:
        return None
    prefixes: set[str] = set()
    units: set[int] = set()
    any_membership = False
    for m in active_memberships(user):
        if m.role in ADMIN_ROLES:
            continue
        any_membership = True
        if m.grid_id is not None:
            return None
        if m.scope is not None:
            prefixes.add(m.scope.prefix)
        if m.unit_id is not None:
            units.add(m.unit_id)
    if not any_membership or not prefixes:
        return None
    outer = tuple(sorted(p for p in prefixes if not any(p != o and p.startswith(o) for o in prefixes)))
    depth = max(_depth(p) for p in outer)
    if depth not in rollups.DEPTHS[rollups.CREATED]:
        return None
    extra: tuple[QuerySet[Case], ...] = ()
    if units:
        inside = Q()
        for p in outer:
            inside |= Q(region_code__startswith=p)
        rest = Case.objects.exclude(channel=Channel.MAILBOX).exclude(inside)
        assisting = Assignment.objects.filter(unit_id__in=sorted(units), status__in=list(ACTIVE_ASSIGNMENT))
        extra = (rest.filter(assigned_unit_id__in=sorted(units)), rest.filter(pk__in=assisting.values("case_id")))
    return RollupScope(outer, depth, extra)


def _areas_q(prefixes: Iterable[str], depth: int) -> Q:
    """Roll-up rows at `depth` under any of the prefixes, as ranges an index answers (codes are digits)."""
    q = Q(pk__in=[])
    for p in prefixes:
        q |= Q(area__gte=p.ljust(depth, "0")[:depth], area__lte=p.ljust(depth, "9")[:depth])
    return Q(depth=depth) & q


def bucket_of(granularity: Granularity, day: dt.date) -> dt.date:
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


@dataclass
class Reading:
    """Everything but the window's breakdowns for one viewer, window and day, from one grouped
    query over the roll-ups and one read of the cases outside them."""

    scope: RollupScope
    day: dt.date
    window: Window
    kpis: dict[str, int]
    closed: dict[dt.date, int]          # closed per bucket of the window
    open_by_status: dict[str, int]
    extra: list[rollups.State]


def reading(user: AnyUser, win: Window, *, on: dt.date | None = None) -> Reading | None:
    rs = rollup_scope(user)
    if rs is None:
        return None
    day = on or today()
    lo, hi = min(day, win.first), max(day, win.last)
    rows = (
        CaseRollup.objects.filter(_areas_q(rs.prefixes, rs.depth))
        .filter(Q(kind=rollups.OPEN) | Q(kind__in=[rollups.AREA, rollups.CLOSED, rollups.RATED], grain=rollups.DAY,
                                           day__gte=lo, day__lte=hi))
        .values("kind", "day", "status").annotate(sn=Sum("n"), sr=Sum("n_red"), ss=Sum("n_satisfied")).order_by()
    )
    figures = dict.fromkeys(("today_new", "open", "overdue", "closed_today", "period_new", "rated", "satisfied"), 0)
    closed: dict[dt.date, int] = {}
    by_status: dict[str, int] = {}

    def count(kind: str, when: dt.date | None, status: str, n: int, red: int, good: int) -> None:
        if kind == rollups.OPEN:
            figures["open"] += n
            figures["overdue"] += red
            by_status[status] = by_status.get(status, 0) + n
        elif when is None:
            return
        elif kind == rollups.AREA:
            figures["today_new"] += n if when == day else 0
            figures["period_new"] += n if win.first <= when <= win.last else 0
        elif kind == rollups.CLOSED:
            figures["closed_today"] += n if when == day else 0
            if win.first <= when <= win.last:
                b = bucket_of(win.granularity, when)
                closed[b] = closed.get(b, 0) + n
        elif kind == rollups.RATED and win.first <= when <= win.last:
            figures["rated"] += n
            figures["satisfied"] += good

    for row in rows:
        count(row["kind"], row["day"], row["status"], row["sn"] or 0, row["sr"] or 0, row["ss"] or 0)
    # The cases outside the prefixes: only those any figure could count.
    since = min(_midnight(day), win.start_at)
    relevant = Q(status__in=OPEN) | Q(created_at__gte=since) | Q(closed_at__gte=since) | Q(rated_at__gte=since)
    extra: list[rollups.State] = []
    if rs.extra:
        parts = [qs.filter(relevant).values_list(*rollups.FIELDS, "pk").order_by() for qs in rs.extra]
        extra = [rollups.State(*row[:-1]) for row in parts[0].union(*parts[1:])]  # UNION: each case once
    for state in extra:
        for (kind, grain, depth, _area, when, _cat, _channel, status), (n, _o, red, good) in (
            rollups.contributions(state).items()
        ):
            if depth == 6 and grain in (rollups.DAY, rollups.NONE) and kind != rollups.CREATED:
                count(kind, None if kind == rollups.OPEN else when, status, n, red, good)
    return Reading(rs, day, win, figures, closed, by_status, extra)


# --- figures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One number on the page and the filter that lists its cases."""

    key: str
    label: str
    value: int
    filter: CaseFilter


@dataclass(frozen=True)
class Rate:
    key: str
    label: str
    numerator: Figure
    denominator: Figure

    @property
    def value(self) -> float | None:
        return evaluation.ratio(self.numerator.value, self.denominator.value)


@dataclass
class Kpis:
    today_new: Figure
    open: Figure
    overdue: Figure
    closed_today: Figure
    period_new: Figure
    satisfaction: Rate

    def figures(self) -> list[Figure]:
        return [self.today_new, self.open, self.overdue, self.closed_today, self.period_new]


def kpis(user: AnyUser, win: Window, *, on: dt.date | None = None, read: Reading | None = None) -> Kpis:
    """Today's new cases, open cases, red-card overdue among them, closed today, new in the
    period, and the satisfaction rate over the period: from the roll-ups (`read`, or a reading of
    its own), or else one query."""
    day = on or today()
    if read is None or read.day != day or read.window != win:
        read = reading(user, win, on=day)
    counts = read.kpis if read is not None else _kpi_counts(user, win, day)
    rated_filter = CaseFilter(rated_from=win.first, rated_to=win.last, rated=True)
    return _kpis(counts, win, day, rated_filter)


def _kpi_counts(user: AnyUser, win: Window, day: dt.date) -> dict[str, int]:
    t0, t1 = _midnight(day), _midnight(day + dt.timedelta(days=1))
    p0, p1 = win.start_at, win.end_at
    is_open = Q(status__in=OPEN)
    conditions = {
        "today_new": Q(created_at__gte=t0, created_at__lt=t1),
        "open": is_open,
        "overdue": is_open & Q(warning=WarningLevel.RED),
        "closed_today": Q(status=CaseStatus.CLOSED, closed_at__gte=t0, closed_at__lt=t1),
        "period_new": Q(created_at__gte=p0, created_at__lt=p1),
        "rated": Q(rated_at__gte=p0, rated_at__lt=p1, satisfaction__in=Satisfaction.values),
        "satisfied": Q(rated_at__gte=p0, rated_at__lt=p1, satisfaction__in=SATISFIED),
    }
    # Every counted row meets one of these: the database may answer from the status and
    # created_at indexes instead of reading every case the viewer ever had.
    relevant = is_open | Q(created_at__gte=min(t0, p0)) | Q(closed_at__gte=t0) | Q(rated_at__gte=p0)
    return scoped_cases(user).filter(relevant).aggregate(
        **{key: Count("pk", filter=cond) for key, cond in conditions.items()}
    )


def _kpis(counts: Mapping[str, int], win: Window, day: dt.date, rated_filter: CaseFilter) -> Kpis:
    return Kpis(
        today_new=Figure("today_new", _("今日新增"), counts["today_new"], CaseFilter(created_from=day, created_to=day)),
        open=Figure("open", _("未办结"), counts["open"], CaseFilter(state="open")),
        overdue=Figure("overdue", _("红牌超期"), counts["overdue"], CaseFilter(state="open", warning=WarningLevel.RED)),
        closed_today=Figure(
            "closed_today", _("今日办结"), counts["closed_today"],
            CaseFilter(status=CaseStatus.CLOSED, closed_from=day, closed_to=day),
        ),
        period_new=Figure(
            "period_new", _("本期上报"), counts["period_new"], CaseFilter(created_from=win.first, created_to=win.last)
        ),
        satisfaction=Rate(
            "satisfaction", _("满意率"),
            Figure("satisfied", _("满意及基本满意"), counts["satisfied"], replace(rated_filter, satisfied=True)),
            Figure("rated", _("评价数"), counts["rated"], rated_filter),
        ),
    )


# --- buckets -----------------------------------------------------------------------------------


@dataclass
class TrendPoint:
    start: dt.date
    end: dt.date
    label: str
    created: Figure
    closed: Figure


def _trunc(granularity: Granularity, field_name: str) -> Any:
    """The bucket a timestamp falls in, truncated in Asia/Shanghai (weeks start on Monday)."""
    zone = platform_zone()
    if granularity == "day":
        return TruncDate(field_name, tzinfo=zone)
    if granularity == "week":
        return TruncWeek(field_name, tzinfo=zone)
    return TruncMonth(field_name, tzinfo=zone)


def _as_day(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value, platform_zone()).date() if timezone.is_aware(value) else value.date()
    return value if isinstance(value, dt.date) else None


def _bucket_label(granularity: Granularity, start: dt.date) -> str:
    if granularity == "day":
        return f"{start:%m-%d}"
    if granularity == "week":
        return _("%(date)s 周") % {"date": f"{start:%m-%d}"}
    return f"{start:%Y-%m}"


# --- the cases reported in the window, counted once ------------------------------------------------


@dataclass(frozen=True)
class AreaPlan:
    """How the region breakdown splits the viewer's cases: `expression` gives each case its area
    key. The children of the scope region by the child level's prefix of region_code (Substr),
    the grids of a village, or, when no scope holds all the others, the outermost scope regions."""

    parent: Region | None
    level: str
    expression: Any
    prefix_length: int = 0
    scopes: tuple[Region, ...] = ()


def area_plan(user: AnyUser) -> AreaPlan:
    parent = scope_region(user)
    if parent is None:
        every = {m.scope.prefix: m.scope for m in _staff_memberships(user) if m.scope is not None}
        # A scope inside another is counted in the outer one's row, so that each row's list is exact.
        outer = tuple(r for p, r in sorted(every.items()) if not any(p != o and p.startswith(o) for o in every))
        whens = [When(region_code__startswith=r.prefix, then=Value(r.prefix)) for r in outer]
        expression = SqlCase(*whens, default=Value("")) if whens else Value("")
        return AreaPlan(None, "scope", expression, scopes=outer)
    if parent.level == RegionLevel.VILLAGE:
        return AreaPlan(parent, "grid", Cast("grid_id", CharField()))
    child_level = CHILD_LEVEL[RegionLevel(parent.level)]
    n = LEVEL_PREFIX_LENGTH[child_level]
    return AreaPlan(parent, str(child_level), Substr("region_code", 1, n), prefix_length=n)


Tally = dict[str, int]


def _add(into: dict[Any, Tally], key: Any, row: Mapping[str, Any]) -> None:
    tally = into.setdefault(key, {"total": 0, "open": 0, "overdue": 0})
    for name in ("total", "open", "overdue"):
        tally[name] += row[name]


@dataclass
class WindowCounts:
    """The cases reported in the window, counted by (bucket, top-level category, channel, area)
    in one grouped scan. The reported trend and the three breakdowns are sums over these rows,
    so the window's cases are read once rather than once per chart."""

    window: Window
    plan: AreaPlan
    by_bucket: dict[dt.date, Tally] = field(default_factory=dict)
    by_category: dict[int | None, Tally] = field(default_factory=dict)
    by_channel: dict[str, Tally] = field(default_factory=dict)
    by_area: dict[str, Tally] = field(default_factory=dict)
    # Names of the top-level categories, when the counting already read them.
    category_names: dict[int, str] | None = None


def window_counts(user: AnyUser, win: Window, *, read: Reading | None = None) -> WindowCounts:
    plan = area_plan(user)
    if plan.level != "grid":
        if read is None or read.window != win:
            read = reading(user, win)
        if read is not None:
            return _window_counts_rolled(read, plan)
    rows = (
        scoped_cases(user)
        .filter(created_at__gte=win.start_at, created_at__lt=win.end_at)
        .annotate(
            bucket=_trunc(win.granularity, "created_at"),
            top=Coalesce("category__parent_id", "category_id"),
            area=plan.expression,
        )
        .values("bucket", "top", "channel", "area")
        .annotate(**_counts())
        .order_by()
    )
    counts = WindowCounts(win, plan)
    for row in rows:
        _add(counts.by_bucket, _as_day(row["bucket"]), row)
        _add(counts.by_category, row["top"], row)
        _add(counts.by_channel, row["channel"], row)
        _add(counts.by_area, row["area"] or "", row)
    return counts


def _window_counts_rolled(read: Reading, plan: AreaPlan) -> WindowCounts:
    """The window's counts from two grouped reads of the roll-ups (by bucket, category and
    channel at the scope's depth; by area at the breakdown's depth) in one UNION, plus the cases
    outside the prefixes."""
    win, rs = read.window, read.scope
    grain = rollups.MONTH if win.granularity == "month" else rollups.DAY
    in_window = Q(grain=grain, day__gte=win.first, day__lte=win.last)
    bucket: Any = TruncWeek("day", output_field=DateField()) if win.granularity == "week" else F("day")
    sums = {"t": Sum("n"), "o": Sum("n_open"), "r": Sum("n_red")}
    by_kind = (
        CaseRollup.objects.filter(_areas_q(rs.prefixes, rs.depth), in_window, kind=rollups.CREATED).order_by()
        .annotate(b=bucket, k=F("category"), ch=F("channel"), ar=Value("", output_field=CharField()))
        .values("b", "k", "ch", "ar").annotate(**sums)
    )
    area_depth = plan.prefix_length if plan.parent is not None else rs.depth
    area_prefixes = (plan.parent.prefix,) if plan.parent is not None else rs.prefixes
    by_area = (
        CaseRollup.objects.filter(_areas_q(area_prefixes, area_depth), in_window, kind=rollups.AREA).order_by()
        .annotate(b=Value(None, output_field=DateField()), k=Value(0, output_field=IntegerField()),
                  ch=Value("", output_field=CharField()), ar=F("area"))
        .values("b", "k", "ch", "ar").annotate(**sums)
    )
    categories = {pk: (parent, name) for pk, parent, name in Category.objects.values_list("pk", "parent_id", "name")}

    def top(leaf: int | None) -> int | None:
        if not leaf:
            return None
        parent = categories.get(leaf, (None, ""))[0]
        return parent if parent is not None else leaf

    def area_key(code: str) -> str:
        if plan.parent is not None:
            return code[:area_depth]
        return next((p for p in rs.prefixes if code.startswith(p)), "")

    per_kind: dict[tuple[dt.date, int | None, str], Tally] = {}
    per_area: dict[str, Tally] = {}
    for row in by_kind.union(by_area, all=True):
        tally = {"total": row["t"] or 0, "open": row["o"] or 0, "overdue": row["r"] or 0}
        if row["b"] is None:
            _add(per_area, area_key(row["ar"]), tally)
        else:
            _add(per_kind, (_as_day(row["b"]), top(row["k"]), row["ch"]), tally)  # type: ignore[arg-type]
    for state in read.extra:
        created = rollups.local_day(state.created_at)
        if not win.first <= created <= win.last:
            continue
        is_open = state.status in OPEN
        tally = {"total": 1, "open": int(is_open), "overdue": int(is_open and state.warning == WarningLevel.RED)}
        _add(per_kind, (bucket_of(win.granularity, created), top(state.category_id), state.channel), tally)
        code = state.region_code or ""
        # Outside every prefix: the scope plan's "elsewhere" key, or its own code's part.
        _add(per_area, code[:area_depth] if plan.parent is not None else "", tally)
    counts = WindowCounts(win, plan)
    for (b, k, ch), tally in per_kind.items():
        if tally["total"] > 0:
            _add(counts.by_bucket, b, tally)
            _add(counts.by_category, k, tally)
            _add(counts.by_channel, ch, tally)
    counts.by_area = {key: tally for key, tally in per_area.items() if tally["total"] > 0}
    counts.category_names = {pk: name for pk, (_parent, name) in categories.items()}
    return counts


def _counts() -> dict[str, Any]:
    is_open = Q(status__in=OPEN)
    return {
        "total": Count("pk"),
        "open": Count("pk", filter=is_open),
        "overdue": Count("pk", filter=is_open & Q(warning=WarningLevel.RED)),
    }


# --- trend -------------------------------------------------------------------------------------


def trend(user: AnyUser, counts: WindowCounts, *, read: Reading | None = None) -> list[TrendPoint]:
    """Cases reported (from the window's counts) and cases closed (the roll-ups, or one grouped
    query) per day, week (from Monday) or month."""
    win = counts.window
    if read is None or read.window != win:
        read = reading(user, win)
    closed: dict[dt.date | None, int] = {}
    if read is not None:
        closed.update(read.closed.items())
    else:
        closed_rows = (
            scoped_cases(user)
            .filter(status=CaseStatus.CLOSED, closed_at__gte=win.start_at, closed_at__lt=win.end_at)
            .annotate(bucket=_trunc(win.granularity, "closed_at"))
            .values("bucket").annotate(n=Count("pk")).order_by()
        )
        for row in closed_rows:
            day = _as_day(row["bucket"])
            closed[day] = closed.get(day, 0) + row["n"]
    points = []
    for start, end in win.buckets:
        points.append(TrendPoint(
            start, end, _bucket_label(win.granularity, start),
            Figure(
                "created", _("上报"), counts.by_bucket.get(start, {}).get("total", 0),
                CaseFilter(created_from=start, created_to=end),
            ),
            Figure(
                "closed", _("办结"), closed.get(start, 0),
                CaseFilter(status=CaseStatus.CLOSED, closed_from=start, closed_to=end),
            ),
        ))
    return points


# --- breakdowns --------------------------------------------------------------------------------


@dataclass
class BreakdownRow:
    """One bar: cases reported in the period, those of them still open, and the red-card ones."""

    key: str
    label: str
    total: Figure
    open: Figure
    overdue: Figure


def _row(key: str, label: str, values: Mapping[str, int], f: CaseFilter) -> BreakdownRow:
    return BreakdownRow(
        key, label,
        Figure("total", _("上报"), values.get("total", 0), f),
        Figure("open", _("未办结"), values.get("open", 0), replace(f, state="open")),
        Figure("overdue", _("红牌超期"), values.get("overdue", 0), replace(f, state="open", warning=WarningLevel.RED)),
    )


def _period_filter(win: Window, **kwargs: Any) -> CaseFilter:
    return CaseFilter(created_from=win.first, created_to=win.last, **kwargs)


def _sorted(rows: list[BreakdownRow]) -> list[BreakdownRow]:
    return sorted(rows, key=lambda r: (-r.total.value, r.key))


def by_category(counts: WindowCounts) -> list[BreakdownRow]:
    """By top-level category (a sub-category counts for its parent); one query for the names."""
    win = counts.window
    names = counts.category_names if counts.category_names is not None else dict(
        Category.objects.filter(pk__in=[k for k in counts.by_category if k]).values_list("pk", "name")
    )
    out = []
    for top, tally in counts.by_category.items():
        if top is None:
            out.append(_row("none", _("未分类"), tally, _period_filter(win, uncategorized=True)))
        else:
            out.append(_row(str(top), names.get(top, str(top)), tally, _period_filter(win, category=top)))
    return _sorted(out)


def by_channel(counts: WindowCounts) -> list[BreakdownRow]:
    labels = dict(Channel.choices)
    return _sorted([
        _row(channel, str(labels.get(channel, channel)), tally, _period_filter(counts.window, channel=channel))
        for channel, tally in counts.by_channel.items()
    ])


@dataclass
class RegionBreakdown:
    """`level` is what the rows are: the children of `parent` (districts, towns, villages), or the
    grids of a village ("grid"), or the viewer's several scope regions ("scope")."""

    parent: Region | None
    level: str
    rows: list[BreakdownRow] = field(default_factory=list)


OUTSIDE_LABEL = gettext_lazy("管辖范围外（本单位承办）")


def by_region(counts: WindowCounts) -> RegionBreakdown:
    """By area (see AreaPlan), one query for the names. Cases at the scope region's own level,
    and cases outside it that the viewer sees through their unit's assignments, get rows of
    their own, so that the rows add up to the cases reported in the window."""
    plan = counts.plan
    if plan.level == "grid":
        return _grid_rows(counts)
    if plan.parent is None:
        return _scope_rows(counts)
    parent, win = plan.parent, counts.window
    children = {r.prefix: r for r in Region.objects.filter(parent=parent, level=plan.level)}
    own = parent.code[: plan.prefix_length]
    out: list[BreakdownRow] = []
    outside: dict[Any, Tally] = {}
    for part, tally in counts.by_area.items():
        if part in children:
            out.append(_row(part, children[part].name, tally, _period_filter(win, region=part)))
        elif part == own:
            out.append(_row(part, _("%(name)s本级") % {"name": parent.name}, tally, _period_filter(win, region=part)))
        elif part.startswith(parent.prefix):
            # A code under the region with no child region of that prefix (not imported yet).
            out.append(_row(part, part, tally, _period_filter(win, region=part)))
        else:
            _add(outside, "outside", tally)
    # Children without a case in the window are rows too: a quiet town is worth seeing.
    out += [_row(p, r.name, {}, _period_filter(win, region=p)) for p, r in children.items() if p not in counts.by_area]
    out = _sorted(out)
    if outside:
        elsewhere = _period_filter(win, outside=(parent.prefix,))
        out.append(_row("outside", str(OUTSIDE_LABEL), outside["outside"], elsewhere))
    return RegionBreakdown(parent, plan.level, out)


def _grid_rows(counts: WindowCounts) -> RegionBreakdown:
    win, village = counts.window, counts.plan.parent
    ids = [int(k) for k in counts.by_area if k]
    # The village's own grids, with or without cases, and any other grid a case of the window lies in.
    names = dict(Grid.objects.filter(Q(pk__in=ids) | Q(village=village)).values_list("pk", "name"))
    out = []
    for pk, name in names.items():
        label = _("%(name)s网格") % {"name": name}
        out.append(_row(str(pk), label, counts.by_area.get(str(pk), {}), _period_filter(win, grid=pk)))
    if "" in counts.by_area:
        out.append(_row("none", _("未落网格"), counts.by_area[""], _period_filter(win, no_grid=True)))
    return RegionBreakdown(village, "grid", _sorted(out))


def _scope_rows(counts: WindowCounts) -> RegionBreakdown:
    win, scopes = counts.window, {r.prefix: r for r in counts.plan.scopes}
    out = [
        _row(key, scopes[key].name, tally, _period_filter(win, region=key))
        for key, tally in counts.by_area.items() if key in scopes
    ]
    out = _sorted(out)
    rest = counts.by_area.get("")
    if rest is not None:
        out.append(_row("outside", str(OUTSIDE_LABEL), rest, _period_filter(win, outside=tuple(sorted(scopes)))))
    return RegionBreakdown(None, "scope", out)


def by_status(user: AnyUser, *, read: Reading | None = None) -> list[Figure]:
    """Open cases by status, in the order of the life cycle; from the roll-ups, or one grouped query."""
    if read is None:
        read = reading(user, window("day"))
    if read is not None:
        counts = read.open_by_status
    else:
        counts = dict(
            scoped_cases(user).filter(status__in=OPEN).values("status").annotate(n=Count("pk"))
            .values_list("status", "n")
        )
    return [
        Figure(s.value, str(s.label), counts.get(s.value, 0), CaseFilter(status=s.value))
        for s in CaseStatus if s in OPEN_STATUSES
    ]


# --- ranking (联动考评) ---------------------------------------------------------------------------


@dataclass
class Ranking:
    period: evaluation.Period
    region: Region | None
    best: list[evaluation.Ranked]
    worst: list[evaluation.Ranked]
    units: int


def ranking(user: AnyUser, win: Window, *, size: int = RANKING_SIZE) -> Ranking:
    """The best and the worst `size` units of the viewer's scope by 联动考评 score over the
    window, straight from cases.evaluation (its figures and its scheme), split like its circular."""
    region = scope_region(user)
    # Only what the ranking shows, as plain rows: a city has thousands of units.
    units = evaluation.unit_refs(evaluation.units_for_user(user, region))
    result = evaluation.evaluate(units, win.period)
    ranked = [r for r in result.units if r.rank is not None]
    best = ranked[:size]
    worst = [r for r in reversed(ranked) if r not in best][:size]
    return Ranking(win.period, region, best, worst, len(units))


# --- latest cases (the big screen's ticker) ------------------------------------------------------


def latest_cases(user: AnyUser, *, limit: int = TICKER_SIZE) -> list[Case]:
    return list(
        scoped_cases(user).select_related("region", "category").only(
            "pk", "number", "title", "status", "warning", "created_at", "channel",
            "region__name", "category__name",
        ).order_by("-created_at", "-id")[:limit]
    )


# --- the whole dashboard -------------------------------------------------------------------------


@dataclass
class Dashboard:
    window: Window
    kpis: Kpis
    trend: list[TrendPoint]
    categories: list[BreakdownRow]
    channels: list[BreakdownRow]
    regions: RegionBreakdown
    statuses: list[Figure]
    ranking: Ranking | None


def dashboard(user: AnyUser, granularity: Granularity, *, with_ranking: bool = True) -> Dashboard:
    win = window(granularity)
    read = reading(user, win)  # None: the viewer's figures come from direct queries
    counts = window_counts(user, win, read=read)
    return Dashboard(
        window=win,
        kpis=kpis(user, win, read=read),
        trend=trend(user, counts, read=read),
        categories=by_category(counts),
        channels=by_channel(counts),
        regions=by_region(counts),
        statuses=by_status(user, read=read),
        ranking=ranking(user, win) if with_ranking else None,
    )


# --- map -----------------------------------------------------------------------------------------

BBox = tuple[float, float, float, float]


@dataclass
class GridCounts:
    grid: Grid
    open: int
    overdue: int


def grids_with_counts(user: AnyUser, bbox: BBox, *, limit: int) -> tuple[list[GridCounts], bool]:
    """The viewer's grids meeting the box (at most `limit`, and whether more exist), each with
    its open and red-card overdue case counts: two queries."""
    in_scope = grids_in_scope_q(user)
    if in_scope is None:
        return [], False
    min_lng, min_lat, max_lng, max_lat = bbox
    grids = list(
        Grid.objects.filter(in_scope)
        .filter(max_lng__gte=min_lng, min_lng__lte=max_lng, max_lat__gte=min_lat, min_lat__lte=max_lat)
        .select_related("village").only("pk", "code", "name", "boundary", "village__name")
        .order_by("code")[: limit + 1]
    )
    truncated = len(grids) > limit
    grids = grids[:limit]
    counts = {
        r["grid_id"]: r
        for r in scoped_cases(user).filter(grid_id__in=[g.pk for g in grids], status__in=OPEN)
        .values("grid_id").annotate(open=Count("pk"), overdue=Count("pk", filter=Q(warning=WarningLevel.RED)))
        .order_by()
    } if grids else {}
    return [
        GridCounts(g, counts.get(g.pk, {}).get("open", 0), counts.get(g.pk, {}).get("overdue", 0)) for g in grids
    ], truncated


def scope_bounds(user: AnyUser) -> BBox | None:
    """The box around the viewer's grids, where the map opens; one query."""
    in_scope = grids_in_scope_q(user)
    if in_scope is None:
        return None
    box = Grid.objects.filter(in_scope).aggregate(
        a=Min("min_lng"), b=Min("min_lat"), c=Max("max_lng"), d=Max("max_lat")
    )
    if any(box[k] is None for k in "abcd"):
        return None
    return box["a"], box["b"], box["c"], box["d"]


MapLayer = Literal["open", "period"]


@dataclass
class MapPoints:
    """Either the cases themselves (few enough to send) or, past `limit`, counts on a grid of
    cells over the box, so that a city-wide view stays one small answer; `filter` lists them."""

    mode: Literal["points", "cells"]
    total: int
    points: list[dict[str, Any]]
    cells: list[tuple[float, float, int, int]]
    filter: CaseFilter


# Cells across the box when there are too many cases to send one by one.
CELLS_ACROSS = 20


def map_points(user: AnyUser, bbox: BBox, layer: MapLayer, win: Window, *, limit: int) -> MapPoints:
    """Located cases in the box: open ones, or those reported in the window. Two queries."""
    min_lng, min_lat, max_lng, max_lat = bbox
    f = CaseFilter(state="open") if layer == "open" else _period_filter(win)
    qs = scoped_cases(user).filter(
        lat__isnull=False, lng__isnull=False, lat__gte=min_lat, lat__lte=max_lat, lng__gte=min_lng, lng__lte=max_lng,
    )
    qs = qs.filter(status__in=OPEN) if layer == "open" else qs.filter(created_at__gte=win.start_at,
                                                                       created_at__lt=win.end_at)
    total = qs.count()
    if total <= limit:
        rows = qs.values_list("pk", "number", "title", "lat", "lng", "status", "warning").order_by("-created_at")
        points = [
            {"id": pk, "number": number, "title": title, "lat": lat, "lng": lng, "status": status,
             "status_label": str(CaseStatus(status).label) if status in CaseStatus.values else status,
             "warning": warning}
            for pk, number, title, lat, lng, status, warning in rows
        ]
        return MapPoints("points", total, points, [], f)
    size = max((max_lng - min_lng), (max_lat - min_lat)) / CELLS_ACROSS or 1e-6
    cells = (
        qs.annotate(
            cx=Cast(Floor((F("lng") - min_lng) / size), IntegerField()),
            cy=Cast(Floor((F("lat") - min_lat) / size), IntegerField()),
        )
        .values("cx", "cy")
        .annotate(
            n=Count("pk"), red=Count("pk", filter=Q(warning=WarningLevel.RED)),
            lat=Avg("lat", output_field=FloatField()), lng=Avg("lng", output_field=FloatField()),
        )
        .order_by()
    )
    return MapPoints(
        "cells", total, [], [(round(c["lat"], 6), round(c["lng"], 6), c["n"], c["red"]) for c in cells], f
    )


def describe(f: CaseFilter, *, categories: Iterable[Category] = (), regions: Iterable[Region] = (),
             grids: Iterable[Grid] = ()) -> list[str]:
    """The filter in words, for the heading of its case list."""
    parts: list[str] = []
    if f.state == "open":
        parts.append(_("未办结"))
    if f.status in CaseStatus.values:
        parts.append(str(CaseStatus(f.status).label))
    if f.warning in WarningLevel.values:
        parts.append(str(WarningLevel(f.warning).label))
    names = {c.pk: c.name for c in categories}
    if f.category is not None:
        parts.append(_("类别：%(name)s") % {"name": names.get(f.category, f.category)})
    if f.uncategorized:
        parts.append(_("未分类"))
    if f.channel in Channel.values:
        parts.append(_("来源：%(name)s") % {"name": Channel(f.channel).label})
    region_names = {r.prefix: r.name for r in regions}
    if f.region:
        parts.append(_("区域：%(name)s") % {"name": region_names.get(f.region, f.region)})
    if f.outside:
        parts.append(str(OUTSIDE_LABEL))
    grid_names = {g.pk: str(g) for g in grids}
    if f.grid is not None:
        parts.append(_("网格：%(name)s") % {"name": grid_names.get(f.grid, f.grid)})
    if f.no_grid:
        parts.append(_("未落网格"))
    for first, last, text in (
        (f.created_from, f.created_to, _("上报")), (f.closed_from, f.closed_to, _("办结")),
        (f.rated_from, f.rated_to, _("评价")),
    ):
        if first or last:
            parts.append(_("%(what)s日期：%(first)s 至 %(last)s") % {
                "what": text, "first": first or "…", "last": last or "…",
            })
    if f.satisfied:
        parts.append(_("满意及基本满意"))
    elif f.rated:
        parts.append(_("已评价"))
    return parts

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
from django.db.models import Avg, CharField, Count, F, FloatField, IntegerField, Max, Min, Q, QuerySet, Value, When
from django.db.models import Case as SqlCase
from django.db.models.functions import Cast, Coalesce, Floor, Substr, TruncDate, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sizhi.accounts.models import ADMIN_ROLES, Membership, User
from sizhi.accounts.selectors import active_memberships
from sizhi.cases import evaluation
from sizhi.cases.models import Case, Category
from sizhi.cases.permissions import case_scope_q
from sizhi.cases.selectors import case_list_for_user
from sizhi.cases.workflow import OPEN_STATUSES, CaseStatus, Channel, Satisfaction, WarningLevel
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


def kpis(user: AnyUser, win: Window, *, on: dt.date | None = None) -> Kpis:
    """Today's new cases, open cases, red-card overdue among them, closed today, new in the
    period, and the satisfaction rate over the period: one query."""
    day = on or today()
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
    counts = scoped_cases(user).filter(relevant).aggregate(
        **{key: Count("pk", filter=cond) for key, cond in conditions.items()}
    )
    rated_filter = CaseFilter(rated_from=win.first, rated_to=win.last, rated=True)
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


def window_counts(user: AnyUser, win: Window) -> WindowCounts:
    plan = area_plan(user)
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


def _counts() -> dict[str, Any]:
    is_open = Q(status__in=OPEN)
    return {
        "total": Count("pk"),
        "open": Count("pk", filter=is_open),
        "overdue": Count("pk", filter=is_open & Q(warning=WarningLevel.RED)),
    }


# --- trend -------------------------------------------------------------------------------------


def trend(user: AnyUser, counts: WindowCounts) -> list[TrendPoint]:
    """Cases reported (from the window's counts) and cases closed (one grouped query) per day,
    week (from Monday) or month."""
    win = counts.window
    closed_rows = (
        scoped_cases(user)
        .filter(status=CaseStatus.CLOSED, closed_at__gte=win.start_at, closed_at__lt=win.end_at)
        .annotate(bucket=_trunc(win.granularity, "closed_at"))
        .values("bucket").annotate(n=Count("pk")).order_by()
    )
    closed: dict[dt.date | None, int] = {}
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
    names = dict(Category.objects.filter(pk__in=[k for k in counts.by_category if k]).values_list("pk", "name"))
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


def by_status(user: AnyUser) -> list[Figure]:
    """Open cases by status, in the order of the life cycle; one grouped query."""
    counts = dict(
        scoped_cases(user).filter(status__in=OPEN).values("status").annotate(n=Count("pk")).values_list("status", "n")
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
    units = list(evaluation.units_for_user(user, region))
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
    counts = window_counts(user, win)
    return Dashboard(
        window=win,
        kpis=kpis(user, win),
        trend=trend(user, counts),
        categories=by_category(counts),
        channels=by_channel(counts),
        regions=by_region(counts),
        statuses=by_status(user),
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

"""Briefings (研判报告): a daily and a weekly account of each region (the city, every district
and every town), written by the worker into a Briefing row whose `data` holds everything the
page, the PDF and the spreadsheet show.

What a briefing holds (all of the region's cases except secretary-mailbox letters, which are
never counted here):
  figures     new          cases reported in the period
              closed       cases closed (结案) in the period and still closed
              open         cases reported before the period end and not finished by then
                           (finished: closed, rejected or merged, by closed_at)
              overdue      …of those, past their deadline (due_at) at the period end, except
                           suspended ones (缓办: the clock stands still)
              rated, satisfied, satisfaction_rate   ratings given in the period; 满意 + 基本满意
  categories  new cases by top-level category
  daily       new and closed cases per day of the period
  hot_issues  sizhi.insight.hotspots over the period's new cases (issues of two or more reports)
  alerts      the period's alerts (sizhi.insight.alerts): counts by kind, the latest 20
  overdue_cases      the 20 longest overdue of the open cases at the period end
  supervised_cases   the 20 cases with supervision orders issued in the period or still open at
                     its end, earliest answer date first
  ranking     cases.evaluation for the period: the units of the region and its sub-regions

A period is a local calendar day, or a week from Monday to Sunday (cases.evaluation.Period).
Regenerating a briefing replaces it; generating one before its period has ended is refused.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.cases import evaluation
from sizhi.cases.evaluation import Period, Ranked
from sizhi.cases.models import Case, Category, SupervisionOrder, SupervisionStatus
from sizhi.cases.workflow import CaseStatus, Channel, Satisfaction
from sizhi.insight import hotspots
from sizhi.insight.alerts import AnyUser, scope_prefixes, top_level_categories
from sizhi.insight.models import Alert, AlertKind, AlertSeverity, Briefing, BriefingPeriod
from sizhi.regions.models import Region, RegionLevel
from sizhi.units.models import HandlingUnit

DATA_VERSION = 1
TOP = 20
HOT_ISSUES: dict[str, int] = {BriefingPeriod.DAILY: 5, BriefingPeriod.WEEKLY: 10}
# The hot-issue detector is quadratic at worst; a period with more reports reads the latest ones.
HOT_ISSUE_CASES = 3000
BRIEFING_LEVELS = (RegionLevel.CITY, RegionLevel.DISTRICT, RegionLevel.TOWN)
SATISFIED = (Satisfaction.SATISFIED, Satisfaction.BASICALLY)


class BriefingError(ValueError):
    """A request for a briefing that cannot be made (a period not over yet, an unknown region)."""


# --- periods -------------------------------------------------------------------------------------


def describe(kind: str, period: Period) -> str:
    """2026-03-04 for a day, 2026-03-02 – 2026-03-08 for a week."""
    return period.start.isoformat() if kind == BriefingPeriod.DAILY else str(period)


def period_for(kind: str, day: dt.date | None = None) -> Period:
    """The day `day` (default: yesterday), or the Monday-to-Sunday week holding it (default: last
    week)."""
    today = timezone.localdate()
    if kind == BriefingPeriod.DAILY:
        first = day or today - dt.timedelta(days=1)
        return Period(first, first + dt.timedelta(days=1))
    if kind == BriefingPeriod.WEEKLY:
        some_day = day or today - dt.timedelta(days=7)
        monday = some_day - dt.timedelta(days=some_day.weekday())
        return Period(monday, monday + dt.timedelta(days=7))
    raise BriefingError(f"unknown period kind: {kind}")


def briefing_regions(region_code: str | None = None) -> QuerySet[Region]:
    """The city, its districts and its towns; or the one region named by its code."""
    qs = Region.objects.filter(level__in=list(BRIEFING_LEVELS)).order_by("code")
    if region_code:
        qs = qs.filter(code=region_code)
        if not qs.exists():
            raise BriefingError(f"no city, district or town has the code {region_code}")
    return qs


# --- composing -----------------------------------------------------------------------------------


def region_cases(region: Region) -> QuerySet[Case]:
    """The region's cases, letters to the secretary's mailbox left out."""
    return Case.objects.filter(region_code__startswith=region.prefix).exclude(channel=Channel.MAILBOX)


def _in(period: Period, field: str) -> Q:
    return Q(**{f"{field}__gte": period.start_at, f"{field}__lt": period.end_at})


def overdue_at_end(region: Region, period: Period) -> QuerySet[Case]:
    """Open at the period end and past the deadline by then; a suspended case's clock stands
    still (its deadline moves when it resumes), so it is not counted."""
    return open_at_end(region, period).filter(due_at__lt=period.end_at).exclude(status=CaseStatus.SUSPENDED)


def open_at_end(region: Region, period: Period) -> QuerySet[Case]:
    """Reported before the period end and not finished (closed, rejected, merged) by then."""
    return region_cases(region).filter(created_at__lt=period.end_at).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gte=period.end_at)
    )


def key_figures(region: Region, period: Period) -> dict[str, Any]:
    cases = region_cases(region)
    opened = open_at_end(region, period)
    rated = cases.filter(_in(period, "rated_at"))
    n_rated = rated.count()
    n_satisfied = rated.filter(satisfaction__in=list(SATISFIED)).count()
    return {
        "new": cases.filter(_in(period, "created_at")).count(),
        "closed": cases.filter(_in(period, "closed_at"), status=CaseStatus.CLOSED).count(),
        "open": opened.count(),
        "overdue": overdue_at_end(region, period).count(),
        "rated": n_rated,
        "satisfied": n_satisfied,
        "satisfaction_rate": round(n_satisfied / n_rated, 4) if n_rated else None,
    }


def _categories(new_cases: QuerySet[Case]) -> list[dict[str, Any]]:
    roots = top_level_categories()
    counts: Counter[int | None] = Counter(
        roots.get(cid) if cid is not None else None for cid in new_cases.values_list("category_id", flat=True)
    )
    names = dict(Category.objects.filter(pk__in=[k for k in counts if k is not None]).values_list("id", "name"))
    rows = [
        {"category_id": k, "name": names.get(k, "") if k is not None else "", "count": n}
        for k, n in counts.items()
    ]
    return sorted(rows, key=lambda r: (-r["count"], r["category_id"] is None, r["name"]))


def _daily(region: Region, period: Period) -> list[dict[str, Any]]:
    cases = region_cases(region)
    new: Counter[dt.date] = Counter(
        timezone.localtime(at).date() for at in cases.filter(_in(period, "created_at")).values_list(
            "created_at", flat=True
        )
    )
    closed: Counter[dt.date] = Counter(
        timezone.localtime(at).date() for at in cases.filter(
            _in(period, "closed_at"), status=CaseStatus.CLOSED
        ).values_list("closed_at", flat=True) if at is not None
    )
    days = []
    day = period.start
    while day < period.end:
        days.append({"date": day.isoformat(), "new": new[day], "closed": closed[day]})
        day += dt.timedelta(days=1)
    return days


def _case_ref(case: Case) -> dict[str, Any]:
    return {"id": case.pk, "number": case.number, "title": case.title}


def _hot_issues(region: Region, new_cases: QuerySet[Case], top: int) -> list[dict[str, Any]]:
    rows = list(
        new_cases.order_by("-created_at", "-id").values_list(
            "id", "number", "title", "description", "created_at", "reporter_id", "lat", "lng"
        )[:HOT_ISSUE_CASES]
    )
    if len(rows) < 2:
        return []
    messages = [
        hotspots.Message(
            id=str(pk), title=title, detail=description, time=timezone.localtime(created_at),
            user=str(reporter_id or f"#{pk}"), lat=lat, lng=lng,
        )
        for pk, _number, title, description, created_at, reporter_id, lat, lng in rows
    ]
    by_id = {str(pk): (pk, number, title) for pk, number, title, *_rest in rows}
    gazetteer = Region.objects.filter(code__startswith=region.prefix).values_list("name", flat=True)
    issues = [i for i in hotspots.detect_hot_issues(messages, gazetteer=list(gazetteer)) if i.size >= 2][:top]
    return [
        {
            "rank": position, "label": issue.label, "place": issue.place, "heat": issue.heat,
            "size": issue.size, "reporters": issue.reporters,
            "first": issue.first_time.isoformat(), "last": issue.last_time.isoformat(),
            "cases": [
                {"id": by_id[i][0], "number": by_id[i][1], "title": by_id[i][2]} for i in issue.ids[:5]
            ],
        }
        for position, issue in enumerate(issues, start=1)
    ]


def _alerts(region: Region, period: Period) -> dict[str, Any]:
    qs = Alert.objects.filter(_in(period, "created_at"), region_code__startswith=region.prefix)
    by_kind = Counter(qs.values_list("kind", flat=True))
    items = [
        {
            "id": a.pk, "kind": a.kind, "severity": a.severity, "reason": a.reason,
            "created_at": a.created_at.isoformat(), "acknowledged": a.acknowledged_at is not None,
            "case": _case_ref(a.case) if a.case is not None else None,
        }
        for a in qs.select_related("case").order_by("-created_at", "-id")[:TOP]
    ]
    return {
        "total": sum(by_kind.values()),
        "by_kind": {kind: by_kind.get(kind, 0) for kind in AlertKind.values},
        "items": items,
    }


def _overdue_cases(region: Region, period: Period) -> list[dict[str, Any]]:
    rows = (
        overdue_at_end(region, period).select_related("region", "assigned_unit").order_by("due_at", "id")[:TOP]
    )
    return [
        {
            **_case_ref(c), "region": c.region.name, "unit": c.assigned_unit.name if c.assigned_unit else "",
            "status": c.status, "due_at": c.due_at.isoformat() if c.due_at else None,
            "days_overdue": (period.end_at - c.due_at).days if c.due_at else None,
        }
        for c in rows
    ]


def _supervised_cases(region: Region, period: Period) -> list[dict[str, Any]]:
    orders = (
        SupervisionOrder.objects.filter(case__region_code__startswith=region.prefix)
        .exclude(case__channel=Channel.MAILBOX)
        .filter(
            _in(period, "created_at")
            | (Q(created_at__lt=period.end_at)
               & (Q(status=SupervisionStatus.OPEN) | Q(responded_at__gte=period.end_at)))
        )
        .select_related("case", "unit")
        .order_by("respond_by", "id")[:TOP]
    )
    rows = []
    for o in orders:
        assert o.case is not None
        answered = o.responded_at is not None and o.responded_at < period.end_at
        rows.append({
            **_case_ref(o.case), "unit": o.unit.name, "reason": o.reason, "respond_by": o.respond_by.isoformat(),
            "answered": answered, "late": not answered and o.respond_by < period.end,
        })
    return rows


def _ranked(row: Ranked) -> dict[str, Any]:
    f = row.figures

    def rate(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {
        "rank": row.rank, "name": row.name, "place": row.place, "score": row.score.total,
        "response_rate": rate(f.response_rate), "on_time_rate": rate(f.on_time_rate),
        "satisfaction_rate": rate(f.satisfaction_rate), "dispatched": f["dispatched"], "closed": f["closed"],
        "overdue": f["overdue"], "returns": f["returns"],
    }


def _ranking(region: Region, period: Period) -> dict[str, Any]:
    units = HandlingUnit.objects.filter(region_code__startswith=region.prefix).select_related("region")
    children = Region.objects.filter(parent=region, level__in=list(BRIEFING_LEVELS)).order_by("code")
    ev = evaluation.evaluate(units, period, regions=children)
    return {
        "scheme": ev.scheme.name,
        "units": [_ranked(r) for r in ev.units if r.rank is not None][:TOP],
        "regions": [_ranked(r) for r in ev.regions],
    }


def compose(region: Region, kind: str, period: Period, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The briefing's content, as JSON-ready data."""
    now = now or timezone.now()
    new_cases = region_cases(region).filter(_in(period, "created_at"))
    return {
        "version": DATA_VERSION,
        "region": {"code": region.code, "name": region.name, "level": region.level},
        "period": {
            "kind": kind, "start": period.start.isoformat(), "end": period.end.isoformat(),
            "last": period.last.isoformat(),
        },
        "generated_at": now.isoformat(),
        "figures": key_figures(region, period),
        "categories": _categories(new_cases),
        "daily": _daily(region, period),
        "hot_issues": _hot_issues(region, new_cases, HOT_ISSUES.get(kind, 10)),
        "alerts": _alerts(region, period),
        "overdue_cases": _overdue_cases(region, period),
        "supervised_cases": _supervised_cases(region, period),
        "ranking": _ranking(region, period),
    }


def generate(region: Region, kind: str, period: Period, *, now: dt.datetime | None = None) -> Briefing:
    """Write (or rewrite) the region's briefing for the period."""
    now = now or timezone.now()
    if period.end_at > now:
        raise BriefingError(f"the period {period} is not over yet")
    if region.level not in BRIEFING_LEVELS:
        raise BriefingError(f"briefings are made for the city, districts and towns, not {region.level}")
    data = compose(region, kind, period, now=now)
    with transaction.atomic():
        briefing, _created = Briefing.objects.update_or_create(
            region=region, period=kind, start=period.start,
            defaults={"region_code": region.code, "end": period.end, "generated_at": now, "data": data},
        )
    return briefing


def generate_all(
    kind: str,
    day: dt.date | None = None,
    *,
    region_code: str | None = None,
    progress: Callable[[Region], None] | None = None,
    regions: Iterable[Region] | None = None,
) -> list[Briefing]:
    """Every region's briefing (or the one region's) for the day or week holding `day`."""
    period = period_for(kind, day)
    now = timezone.now()
    if period.end_at > now:
        raise BriefingError(f"the period {period} is not over yet")
    made = []
    for region in regions if regions is not None else briefing_regions(region_code):
        made.append(generate(region, kind, period, now=now))
        if progress is not None:
            progress(region)
    return made


# --- reading -------------------------------------------------------------------------------------


def briefings_for_user(user: AnyUser) -> QuerySet[Briefing]:
    """Briefings of regions inside one of the user's scopes; none for admins and citizens. A
    town's staff do not read the district's briefing: it counts the other towns' cases."""
    parts: Q | None = None
    for prefix in scope_prefixes(user):
        q = Q(region_code__startswith=prefix)
        parts = q if parts is None else parts | q
    if parts is None:
        return Briefing.objects.none()
    return Briefing.objects.filter(parts).select_related("region")


def regions_for_user(user: AnyUser) -> QuerySet[Region]:
    """The regions whose briefings the user reads (for the list's filter)."""
    parts: Q | None = None
    for prefix in scope_prefixes(user):
        q = Q(code__startswith=prefix)
        parts = q if parts is None else parts | q
    if parts is None:
        return Region.objects.none()
    return Region.objects.filter(parts, level__in=list(BRIEFING_LEVELS)).order_by("code")


# --- presentation: one set of tables for the page, the PDF and the spreadsheet -------------------


class Pct(float):
    """A ratio shown as a percentage (0.853 → 85.3%)."""


Value = str | int | float | None


@dataclass
class Table:
    key: str
    title: str
    columns: list[str]
    rows: list[list[Value]] = field(default_factory=list)
    # The case each row is about (linked from the first column on the page), or None.
    case_ids: list[int | None] = field(default_factory=list)
    empty: str = ""


def show(value: Value) -> str:
    """A cell as text: '—' for nothing, percentages with one decimal."""
    if value is None or value == "":
        return "—"
    if isinstance(value, Pct):
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _pct(value: object) -> Pct | None:
    return Pct(float(value)) if isinstance(value, int | float) else None


def _moment(value: object) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(moment) else value


def _label(choices: type[models.TextChoices], value: object) -> str:
    """The choice's label, or the stored value itself when it is not (or no longer) a choice."""
    labels = dict(choices.choices)
    return str(labels[value]) if isinstance(value, str) and value in labels else str(value or "")


def title_of(briefing: Briefing) -> str:
    period = briefing.data.get("period", {})
    name = briefing.data.get("region", {}).get("name") or briefing.region.name
    if briefing.period == BriefingPeriod.DAILY:
        when = period.get("start", briefing.start.isoformat())
    else:
        when = f"{period.get('start', briefing.start.isoformat())} – {period.get('last', '')}"
    return _("%(region)s %(kind)s（%(when)s）") % {
        "region": name, "kind": _label(BriefingPeriod, briefing.period), "when": when,
    }


def figure_rows(briefing: Briefing) -> list[tuple[str, Value]]:
    f = briefing.data.get("figures", {})
    return [
        (_("新增案件"), f.get("new")),
        (_("结案"), f.get("closed")),
        (_("期末在办"), f.get("open")),
        (_("期末超期"), f.get("overdue")),
        (_("评价数"), f.get("rated")),
        (_("满意率"), _pct(f.get("satisfaction_rate"))),
    ]


def tables(briefing: Briefing) -> list[Table]:
    data = briefing.data
    out: list[Table] = []

    categories = Table("categories", _("新增案件类别分布"), [_("类别"), _("件数")], empty=_("本期没有新增案件。"))
    for row in data.get("categories", []):
        categories.rows.append([row.get("name") or _("未分类"), row.get("count")])
        categories.case_ids.append(None)
    out.append(categories)

    if briefing.period == BriefingPeriod.WEEKLY:
        daily = Table("daily", _("每日新增与结案"), [_("日期"), _("新增"), _("结案")])
        for row in data.get("daily", []):
            daily.rows.append([row.get("date"), row.get("new"), row.get("closed")])
            daily.case_ids.append(None)
        out.append(daily)

    hot = Table(
        "hot_issues", _("热点问题"),
        [_("排名"), _("问题"), _("地点"), _("热度"), _("件数"), _("反映人数"), _("首次反映"), _("最近反映"),
         _("相关案件")],
        empty=_("本期没有两件以上反映同一问题的情况。"),
    )
    for issue in data.get("hot_issues", []):
        numbers = "、".join(c.get("number", "") for c in issue.get("cases", []))
        hot.rows.append([
            issue.get("rank"), issue.get("label"), issue.get("place"), issue.get("heat"), issue.get("size"),
            issue.get("reporters"), _moment(issue.get("first")), _moment(issue.get("last")), numbers,
        ])
        hot.case_ids.append(None)
    out.append(hot)

    alerts = data.get("alerts", {})
    summary = "；".join(
        f"{_label(AlertKind, kind)} {count}" for kind, count in alerts.get("by_kind", {}).items() if count
    )
    alert_table = Table(
        "alerts", _("本期预警") + (f"（{summary}）" if summary else ""),
        [_("案件编号"), _("预警时间"), _("类型"), _("等级"), _("预警原因"), _("确认")],
        empty=_("本期没有预警。"),
    )
    for item in alerts.get("items", []):
        case = item.get("case") or {}
        alert_table.rows.append([
            case.get("number") or "", _moment(item.get("created_at")), _label(AlertKind, item.get("kind")),
            _label(AlertSeverity, item.get("severity")), item.get("reason"),
            _("已确认") if item.get("acknowledged") else _("待确认"),
        ])
        alert_table.case_ids.append(case.get("id"))
    out.append(alert_table)

    overdue = Table(
        "overdue_cases", _("超期案件（前 %(n)d 件）") % {"n": TOP},
        [_("案件编号"), _("标题"), _("所属区划"), _("承办单位"), _("当前状态"), _("办结时限"), _("超期天数")],
        empty=_("期末没有超期案件。"),
    )
    for row in data.get("overdue_cases", []):
        overdue.rows.append([
            row.get("number"), row.get("title"), row.get("region"), row.get("unit"),
            _label(CaseStatus, row.get("status")), _moment(row.get("due_at")), row.get("days_overdue"),
        ])
        overdue.case_ids.append(row.get("id"))
    out.append(overdue)

    supervised = Table(
        "supervised_cases", _("督办案件（前 %(n)d 件）") % {"n": TOP},
        [_("案件编号"), _("标题"), _("被督办单位"), _("督办事由"), _("回复期限"), _("回复情况")],
        empty=_("本期没有督办案件。"),
    )
    for row in data.get("supervised_cases", []):
        state = _("已回复") if row.get("answered") else (_("逾期未回复") if row.get("late") else _("待回复"))
        supervised.rows.append([
            row.get("number"), row.get("title"), row.get("unit"), row.get("reason"), row.get("respond_by"), state,
        ])
        supervised.case_ids.append(row.get("id"))
    out.append(supervised)

    ranking = data.get("ranking", {})
    columns = [_("排名"), _("名称"), _("所在区划"), _("得分"), _("响应率"), _("按期结案率"), _("满意率"),
               _("派遣数"), _("结案数"), _("红牌超期次数")]
    for key, title, rows in (
        ("unit_ranking", _("单位排名（前 %(n)d 名）") % {"n": TOP}, ranking.get("units", [])),
        ("region_ranking", _("区域排名"), ranking.get("regions", [])),
    ):
        if key == "region_ranking" and not rows:
            continue
        table = Table(key, title, list(columns), empty=_("本期没有可计分的承办单位。"))
        for r in rows:
            table.rows.append([
                r.get("rank"), r.get("name"), r.get("place"), r.get("score"), _pct(r.get("response_rate")),
                _pct(r.get("on_time_rate")), _pct(r.get("satisfaction_rate")), r.get("dispatched"),
                r.get("closed"), r.get("overdue"),
            ])
            table.case_ids.append(None)
        out.append(table)
    return out


def chart_data(briefing: Briefing) -> dict[str, Any]:
    """What the page's two charts draw: new cases by category, and the units' scores."""
    data = briefing.data
    categories = data.get("categories", [])
    units = [u for u in data.get("ranking", {}).get("units", []) if u.get("score") is not None]
    return {
        "categories": {
            "label": _("新增件数"),
            "names": [c.get("name") or _("未分类") for c in categories],
            "counts": [c.get("count", 0) for c in categories],
        },
        "scores": {
            "label": _("得分"),
            "names": [u.get("name", "") for u in units],
            "scores": [u.get("score") for u in units],
        },
    }


# --- downloads -----------------------------------------------------------------------------------

PDF_FONT = "STSong-Light"


def _pdf_font() -> str:
    """Register the CID font that ships inside reportlab: Chinese text needs no font file."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    return PDF_FONT


def _column_widths(table: Table, width: float) -> list[float]:
    """Widths in proportion to what the columns hold (a rank needs less room than a reason)."""
    weights = []
    for c, label in enumerate(table.columns):
        longest = max([len(label) * 2, *(len(show(row[c])) for row in table.rows[:TOP])])
        weights.append(min(max(longest, 6), 48))
    total = sum(weights)
    return [width * w / total for w in weights]


def briefing_pdf(briefing: Briefing) -> bytes:
    """The briefing as an A4 landscape PDF: title, key figures and every table."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    font = _pdf_font()
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    cell = ParagraphStyle("cell", parent=base, fontSize=8, leading=10)
    head = ParagraphStyle("head", parent=cell, textColor=colors.white)
    h1 = ParagraphStyle("h1", parent=base, fontSize=16, leading=22, spaceAfter=4)
    h2 = ParagraphStyle("h2", parent=base, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4)

    def para(text: Value, style: ParagraphStyle = cell) -> Paragraph:
        # Paragraph reads markup: every text, a citizen's case title included, is escaped first.
        return Paragraph(escape(show(text)), style)

    grid = TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b8c2cc")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f5fa8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f3f6f9")]),
    ])
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
        bottomMargin=12 * mm, title=title_of(briefing), author=_("四治"),
    )
    width = doc.width
    story: list[Any] = [
        Paragraph(escape(title_of(briefing)), h1),
        Paragraph(escape(_("生成时间：%(at)s。不含书记信箱来信。") % {
            "at": timezone.localtime(briefing.generated_at).strftime("%Y-%m-%d %H:%M"),
        }), base),
        Paragraph(escape(_("关键指标")), h2),
    ]
    figures = figure_rows(briefing)
    story.append(PdfTable(
        [[para(label, head) for label, _v in figures], [para(value) for _l, value in figures]],
        colWidths=[width / len(figures)] * len(figures), style=grid,
    ))
    for table in tables(briefing):
        story.append(Paragraph(escape(table.title), h2))
        if not table.rows:
            story.append(Paragraph(escape(table.empty or _("无")), base))
            continue
        story.append(PdfTable(
            [[para(c, head) for c in table.columns], *[[para(v) for v in row] for row in table.rows]],
            colWidths=_column_widths(table, width), style=grid, repeatRows=1,
        ))
    story.append(Spacer(1, 6 * mm))
    doc.build(story)
    return out.getvalue()


def briefing_workbook(briefing: Briefing) -> bytes:
    """The briefing as a spreadsheet: 概况 (key figures) and one sheet per table. Texts go through
    cases.exports' writer, so a case title can never run as a formula."""
    from openpyxl import Workbook

    from sizhi.cases.exports import PERCENT, _bytes, _header, _put

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _("概况")
    _header(ws, [_("指标"), _("数值")])
    _put(ws, 2, 1, title_of(briefing))
    for r, (label, value) in enumerate(figure_rows(briefing), start=3):
        _put(ws, r, 1, label)
        _put(ws, r, 2, value, PERCENT if isinstance(value, Pct) else None)
    used: set[str] = {ws.title}
    for table in tables(briefing):
        name = table.title.split("（")[0][:31] or table.key
        while name in used:
            name = f"{name[:28]}_{len(used)}"
        used.add(name)
        sheet = wb.create_sheet(name)
        _header(sheet, table.columns)
        for r, row in enumerate(table.rows, start=2):
            for c, value in enumerate(row, start=1):
                _put(sheet, r, c, float(value) if isinstance(value, Pct) else value,
                     PERCENT if isinstance(value, Pct) else None)
    return _bytes(wb)

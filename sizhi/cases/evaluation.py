"""联动考评: each handling unit's rates and score for a period, read from the case events alone.

Every figure comes from CaseEvent rows (and the unit's SupervisionOrder rows), never from the
current fields of a case, so editing a case afterwards cannot move a score, and a period's
figures are the same whenever they are computed. A period is [start, end) in local dates
(Asia/Shanghai). One query reads the events of all units in scope, another their supervision
orders; the rest is Python.

The unit's part in a case is a *tenure*: from a DISPATCH to the unit until the unit returns or
escalates the case, the case is closed or reopened, or it is dispatched again. Its deadlines
are the dispatch's `sign_due_at` and `due_at`, the latter moved by approved extensions and by
the time the case was suspended, as linkage.case_extend_decide and case_resume move the
assignment's own deadline.

Figures (each links to its cases):
  dispatched        DISPATCH events to the unit in the period
  responded         …of those, signed by the unit by the dispatch's sign_due_at
  signed_24h        …signed within 24 hours                       (24小时签收率 baseline)
  closed_7d         …closed within 7 days of the dispatch         (7日办结率 baseline)
  due               cases whose latest deadline for the unit falls in the period (应结案数);
                    a case the unit handed back before its deadline is no longer its to close
  suspended         …of those, suspended at the period end        (缓办数)
  closed            …of those, closed before the period end       (结案数)
  closed_on_time    …of those, closed by the deadline             (按期结案数)
  handled           cases the unit handled (HANDLE) in the period
  resolved          …of those, closed before the period end
  rated, satisfied  RATE events in the period; 满意 or 基本满意
  handles, verify_fails   HANDLE and VERIFY_FAIL events in the period (返工率)
  returns, overdue  RETURN and WARN_RED events in the period (约谈 thresholds)
  shirks            a case the unit returned that was later dispatched back to it: the return
                    was judged unfounded (无故推诿); counted when the case comes back
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import ADMIN_ROLES, User
from sizhi.accounts.selectors import active_memberships
from sizhi.cases.models import Case, CaseEvent, EvaluationScheme, SupervisionOrder
from sizhi.cases.selectors import case_list_for_user
from sizhi.cases.supervision import supervision_orders_for_user
from sizhi.cases.workflow import CaseAction, Satisfaction
from sizhi.regions.models import Region, RegionLevel
from sizhi.units.models import HandlingUnit
from sizhi.workdays.calendar import add_working_days, add_working_hours, working_seconds_between

AnyUser = User | AnonymousUser | None
A = CaseAction
logger = logging.getLogger("sizhi.evaluation")

# How far before the period a dispatch is read: its deadline, moved by extensions and
# suspensions, may fall in the period (60 working days plus one 60-day extension is about
# 170 calendar days). A deadline further than this from its dispatch is not seen.
LOOKBACK = dt.timedelta(days=183)
# How far after the period a sign-for or closure is read, to settle the response and the
# 7-day baseline of dispatches made near the period end. Nothing else is read past the end.
LOOKAHEAD = dt.timedelta(days=31)
SIGN_WITHIN = dt.timedelta(hours=24)
CLOSE_WITHIN = dt.timedelta(days=7)

ACTIONS = [
    A.DISPATCH, A.SIGN_FOR, A.HANDLE, A.VERIFY_FAIL, A.CLOSE, A.RATE, A.RETURN, A.ESCALATE, A.REOPEN,
    A.EXTEND_APPROVE, A.SUSPEND, A.RESUME, A.WARN_RED,
]
# Read past the period end: sign-fors and closures settle the baselines; the others only mark
# where a tenure ended, so that a later tenure's sign-for is not credited to an earlier one.
LATE_ACTIONS = [A.SIGN_FOR, A.CLOSE, A.DISPATCH, A.RETURN, A.ESCALATE, A.REOPEN]
SATISFIED = frozenset({Satisfaction.SATISFIED, Satisfaction.BASICALLY})

# Figures whose cases a page can list (command:figure_cases), and those made of supervision orders.
CASE_METRICS = (
    "dispatched", "responded", "signed_24h", "closed_7d", "due", "suspended", "closed", "closed_on_time",
    "handled", "resolved", "rated", "satisfied", "handles", "verify_fails", "returns", "overdue", "shirks",
)
ORDER_METRICS = ("supervision_received", "supervision_late", "supervision_open_overdue")
METRICS = CASE_METRICS + ORDER_METRICS
_KNOWN = frozenset(METRICS)


def _label(metric: str) -> str:
    labels = {
        "dispatched": _("派遣数"), "responded": _("按时签收数"), "signed_24h": _("24小时内签收数"),
        "closed_7d": _("7日内办结数"), "due": _("应结案数"), "suspended": _("缓办数"), "closed": _("结案数"),
        "closed_on_time": _("按期结案数"), "handled": _("处置案件数"), "resolved": _("处置后结案数"),
        "rated": _("评价数"), "satisfied": _("满意数"), "handles": _("处置次数"),
        "verify_fails": _("核查不通过次数"), "returns": _("退回次数"), "overdue": _("红牌超期次数"),
        "shirks": _("推诿次数"), "supervision_received": _("收到督办"),
        "supervision_late": _("督办逾期回复"), "supervision_open_overdue": _("督办逾期未回复"),
    }
    return str(labels[metric])


def metric_label(metric: str) -> str:
    return _label(metric) if metric in METRICS else metric


# --- period ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Local calendar days [start, end)."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a period ends after it starts")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = dt.date(year, month, 1)
        return cls(first, dt.date(year + month // 12, month % 12 + 1, 1))

    @classmethod
    def days(cls, first: dt.date, last: dt.date) -> Period:
        """From `first` to `last`, both included."""
        return cls(first, last + dt.timedelta(days=1))

    @classmethod
    def this_month(cls) -> Period:
        today = timezone.localdate()
        return cls.month(today.year, today.month)

    @property
    def last(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def is_month(self) -> bool:
        return self.start.day == 1 and self == Period.month(self.start.year, self.start.month)

    @property
    def start_at(self) -> dt.datetime:
        return _midnight(self.start)

    @property
    def end_at(self) -> dt.datetime:
        return _midnight(self.end)

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, dt.datetime) and self.start_at <= moment < self.end_at

    def __str__(self) -> str:
        if self.is_month:
            return f"{self.start:%Y-%m}"
        return f"{self.start:%Y-%m-%d} – {self.last:%Y-%m-%d}"

    def query(self) -> dict[str, str]:
        """The GET parameters that name this period on the command pages."""
        if self.is_month:
            return {"month": f"{self.start:%Y-%m}"}
        return {"start": self.start.isoformat(), "end": self.last.isoformat()}


def _midnight(day: dt.date) -> dt.datetime:
    # The platform's zone, not the request's active one: a period means the same days for everyone.
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_default_timezone())


# --- figures -----------------------------------------------------------------------------------


def ratio(numerator: int, denominator: int) -> float | None:
    """None, shown as "—", when there is nothing to divide by."""
    return None if denominator <= 0 else numerator / denominator


@dataclass
class Figures:
    """Counts of one unit (or, summed, of a region) in one period, with the cases behind each."""

    counts: Counter[str] = field(default_factory=Counter)
    cases: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    orders: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    handle_seconds: float = 0.0
    handle_samples: int = 0
    # 核查不通过 on one case: the first two cost verify_fail_each, the third on return_from_third_each.
    verify_fails_early: int = 0
    verify_fails_late: int = 0
    # 弄虚作假 is not recorded in the case history yet, so it is always 0 (see the report's proposal).
    falsified: int = 0

    def event(self, metric: str, case_id: int) -> None:
        self.counts[metric] += 1
        self.cases[metric].add(case_id)

    def case(self, metric: str, case_id: int) -> None:
        if case_id not in self.cases[metric]:
            self.counts[metric] += 1
            self.cases[metric].add(case_id)

    def order(self, metric: str, order_id: int, case_id: int | None) -> None:
        if order_id not in self.orders[metric]:
            self.counts[metric] += 1
            self.orders[metric].add(order_id)
            if case_id is not None:
                self.cases[metric].add(case_id)

    def __getitem__(self, metric: str) -> int:
        # Unknown names raise, so that a template's `figures.response_rate` reaches the property
        # instead of reading a count of 0.
        if metric not in _KNOWN:
            raise KeyError(metric)
        return self.counts[metric]

    def add(self, other: Figures) -> None:
        """Sum another unit's figures into these (a region is the sum of its units)."""
        self.counts.update(other.counts)
        for metric, ids in other.cases.items():
            self.cases[metric] |= ids
        for metric, ids in other.orders.items():
            self.orders[metric] |= ids
        self.handle_seconds += other.handle_seconds
        self.handle_samples += other.handle_samples
        self.verify_fails_early += other.verify_fails_early
        self.verify_fails_late += other.verify_fails_late
        self.falsified += other.falsified

    # 响应率
    @property
    def response_rate(self) -> float | None:
        return ratio(self["responded"], self["dispatched"])

    @property
    def sign_24h_rate(self) -> float | None:
        return ratio(self["signed_24h"], self["dispatched"])

    @property
    def close_7d_rate(self) -> float | None:
        return ratio(self["closed_7d"], self["dispatched"])

    @property
    def countable_due(self) -> int:
        """应结案数 − 缓办数, the denominator of both closure rates."""
        return self["due"] - self["suspended"]

    # 按期结案率 = 按期结案数 ÷ (应结案数 − 缓办数)
    @property
    def on_time_rate(self) -> float | None:
        return ratio(self["closed_on_time"], self.countable_due)

    # 结案率 = 结案数 ÷ (应结案数 − 缓办数)
    @property
    def close_rate(self) -> float | None:
        return ratio(self["closed"], self.countable_due)

    # 解决率: of the cases handled in the period, those closed
    @property
    def resolution_rate(self) -> float | None:
        return ratio(self["resolved"], self["handled"])

    # 满意率 = (满意 + 基本满意) ÷ 评价数
    @property
    def satisfaction_rate(self) -> float | None:
        return ratio(self["satisfied"], self["rated"])

    # 返工率 = 核查不通过 ÷ 处置
    @property
    def rework_rate(self) -> float | None:
        return ratio(self["verify_fails"], self["handles"])

    @property
    def avg_handle_hours(self) -> float | None:
        """Mean working hours from dispatch to the unit's first handling."""
        return None if not self.handle_samples else self.handle_seconds / self.handle_samples / 3600


# --- score -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    response: float | None
    resolution: float | None
    satisfaction: float | None
    deductions: float
    total: float | None


def default_scheme() -> EvaluationScheme:
    return EvaluationScheme(name=str(_("默认方案")))


def active_scheme() -> EvaluationScheme:
    """The active scheme; the defaults when there is none, or when the active one's JSON is
    malformed (a scheme edited by hand must not take the ranking pages down)."""
    scheme = EvaluationScheme.objects.filter(is_active=True).first()
    if scheme is None:
        return default_scheme()
    try:
        scheme.clean()
    except ValidationError:
        logger.warning("evaluation scheme %s is malformed; using the defaults", scheme.pk)
        return default_scheme()
    return scheme


@dataclass(frozen=True)
class _Rules:
    """A scheme's numbers, read once per evaluation rather than once per unit."""

    weights: dict[str, float]
    deductions: dict[str, float]
    threshold: float
    per_point: float

    @classmethod
    def of(cls, scheme: EvaluationScheme) -> _Rules:
        return cls(
            {k: scheme.weight(k) for k in ("response", "resolution", "satisfaction")},
            {k: scheme.deduction(k) for k in ("verify_fail_each", "return_from_third_each", "falsify_each",
                                              "shirk_each")},
            float(scheme.full_marks_threshold), float(scheme.points_per_point_below),
        )


def score(figures: Figures, scheme: EvaluationScheme) -> Score:
    """Σ weight × rate over the three rates, the resolution part by the 按期结案率 rule (full
    marks at or above the threshold, minus points per percentage point below, not below 0),
    minus the deductions, not below 0.

    A rate with nothing to measure (None) leaves its part out and the others are scaled up to
    the full weight, so a unit with no ratings is neither rewarded nor punished for it. With no
    rate at all there is no score.
    """
    return _score(figures, _Rules.of(scheme))


def _score(figures: Figures, rules: _Rules) -> Score:
    parts: dict[str, float | None] = {}
    for key, rate in (
        ("response", figures.response_rate),
        ("resolution", figures.on_time_rate),
        ("satisfaction", figures.satisfaction_rate),
    ):
        weight = rules.weights[key]
        if rate is None:
            parts[key] = None
        elif key == "resolution":
            below = max(0.0, rules.threshold - rate * 100)
            parts[key] = max(0.0, weight - below * rules.per_point)
        else:
            parts[key] = weight * rate
    cut = rules.deductions
    deductions = (
        figures.verify_fails_early * cut["verify_fail_each"]
        + figures.verify_fails_late * cut["return_from_third_each"]
        + figures.falsified * cut["falsify_each"]
        + figures["shirks"] * cut["shirk_each"]
    )
    full = sum(rules.weights[k] for k in parts)
    counted = sum(rules.weights[k] for k, v in parts.items() if v is not None)
    total: float | None = None
    if counted > 0:
        base = sum(v for v in parts.values() if v is not None) * full / counted
        total = round(max(0.0, base - deductions), 2)
    return Score(
        response=parts["response"], resolution=parts["resolution"], satisfaction=parts["satisfaction"],
        deductions=round(deductions, 2), total=total,
    )


# --- reading the history -----------------------------------------------------------------------


@dataclass
class _Tenure:
    dispatched_at: dt.datetime
    sign_due: dt.datetime | None
    due: dt.datetime | None
    signed_at: dt.datetime | None = None
    first_handle: dt.datetime | None = None
    handled_in_period: bool = False
    closed_at: dt.datetime | None = None
    left_at: dt.datetime | None = None  # returned or escalated, within the period or before
    suspended: bool = False
    ended: bool = False


def _moment(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


EventRow = tuple[int, int, int, str, dt.datetime, dict[str, Any]]


def _events(unit_ids: Sequence[int], period: Period) -> list[EventRow]:
    """The one grouped read: the units' events from LOOKBACK before the period to its end, and
    the LATE_ACTIONS up to LOOKAHEAD after it, over the (unit, action, created_at) index."""
    if not unit_ids:
        return []
    window = Q(created_at__lt=period.end_at) | Q(action__in=LATE_ACTIONS, created_at__lt=period.end_at + LOOKAHEAD)
    return list(
        CaseEvent.objects.filter(
            window, unit_id__in=list(unit_ids), action__in=ACTIONS, created_at__gte=period.start_at - LOOKBACK
        )
        .order_by("case_id", "created_at", "id")
        .values_list("id", "case_id", "unit_id", "action", "created_at", "data")
    )


def _walk(figures: Figures, case_id: int, events: Iterable[EventRow], period: Period) -> None:
    """One case's events concerning one unit, oldest first, into that unit's figures."""
    end = period.end_at
    tenures: list[_Tenure] = []
    current: _Tenure | None = None
    fails_on_case = 0
    returned = False  # the unit returned this case and it has not been dispatched back to it since
    for _pk, _case, _unit, action, at, raw in events:
        data = raw if isinstance(raw, dict) else {}
        in_period = at in period
        late = at >= end
        if action == A.DISPATCH:
            if current is not None:
                current.ended = True
            if late:
                current = None
                continue
            current = _Tenure(at, _moment(data.get("sign_due_at")), _moment(data.get("due_at")))
            tenures.append(current)
            if returned and in_period:
                figures.event("shirks", case_id)
            returned = False
            continue
        if in_period:
            if action == A.HANDLE:
                figures.event("handles", case_id)
            elif action == A.RETURN:
                figures.event("returns", case_id)
            elif action == A.WARN_RED:
                figures.event("overdue", case_id)
            elif action == A.RATE:
                figures.event("rated", case_id)
                if data.get("satisfaction") in SATISFIED:
                    figures.event("satisfied", case_id)
        if action == A.VERIFY_FAIL:
            fails_on_case += 1
            if in_period:
                figures.event("verify_fails", case_id)
                if fails_on_case >= 3:
                    figures.verify_fails_late += 1
                else:
                    figures.verify_fails_early += 1
        if action == A.RETURN and not late:
            returned = True
        if current is None or current.ended:
            continue
        _advance(current, action, at, data, in_period=in_period, late=late)

    for tenure in tenures:
        _count_tenure(figures, case_id, tenure, period)
    if tenures:
        _count_deadline(figures, case_id, tenures[-1], period)


def _advance(t: _Tenure, action: str, at: dt.datetime, data: dict[str, Any], *, in_period: bool, late: bool) -> None:
    if action == A.SIGN_FOR:
        t.signed_at = t.signed_at or at
    elif action == A.HANDLE:
        t.first_handle = t.first_handle or at
        t.handled_in_period = t.handled_in_period or in_period
    elif action == A.CLOSE:
        t.closed_at = at
        t.ended = True
    elif action in (A.RETURN, A.ESCALATE):
        t.left_at = None if late else at
        t.ended = True
    elif action == A.REOPEN:
        t.ended = True
    elif action == A.SUSPEND:
        t.suspended = True
    elif action == A.RESUME:
        t.suspended = False
        hours = _number(data.get("suspended_hours"))
        moved = _moment(data.get("unit_due_at"))
        if moved is not None:
            t.due = moved
        elif t.due is not None and hours:
            t.due = add_working_hours(t.due, hours)
    elif action == A.EXTEND_APPROVE:
        # The event does not record the new deadline yet; linkage moves the lead's deadline by
        # the approved working days, and so does this, unless the event says it outright.
        days = _number(data.get("days"))
        moved = _moment(data.get("unit_due_at"))
        if moved is not None:
            t.due = moved
        elif t.due is not None and days:
            t.due = add_working_days(t.due, int(days))


def _count_tenure(figures: Figures, case_id: int, t: _Tenure, period: Period) -> None:
    if t.dispatched_at in period:
        figures.event("dispatched", case_id)
        if t.signed_at is not None:
            if t.sign_due is not None and t.signed_at <= t.sign_due:
                figures.event("responded", case_id)
            if t.signed_at - t.dispatched_at <= SIGN_WITHIN:
                figures.event("signed_24h", case_id)
        if t.closed_at is not None and t.closed_at - t.dispatched_at <= CLOSE_WITHIN:
            figures.event("closed_7d", case_id)
    if t.first_handle is not None and t.first_handle in period:
        figures.handle_seconds += working_seconds_between(t.dispatched_at, t.first_handle)
        figures.handle_samples += 1
    if t.handled_in_period:
        figures.case("handled", case_id)
        if t.closed_at is not None and t.closed_at < period.end_at:
            figures.case("resolved", case_id)


def _count_deadline(figures: Figures, case_id: int, t: _Tenure, period: Period) -> None:
    """应结案 and what became of it, for the unit's latest tenure on the case."""
    if t.due is None or t.due not in period:
        return
    if t.left_at is not None and t.left_at <= t.due:
        return  # handed back in time: no longer the unit's case to close
    figures.case("due", case_id)
    if t.closed_at is not None and t.closed_at < period.end_at:
        figures.case("closed", case_id)
        if t.closed_at <= t.due:
            figures.case("closed_on_time", case_id)
    elif t.suspended:
        figures.case("suspended", case_id)


def _supervision(figures_by_unit: dict[int, Figures], period: Period) -> None:
    """Orders received in the period, answered in it after their date, and still unanswered past
    their date at the period end (or now, for a period not over yet)."""
    cutoff = min(period.end_at, timezone.now())
    cutoff_day = timezone.localtime(cutoff).date()
    unanswered = Q(responded_at__isnull=True) | Q(responded_at__gte=cutoff)
    orders = SupervisionOrder.objects.all()
    if len(figures_by_unit) <= 1000:  # a city's thousands of ids cost more to send than its few orders
        orders = orders.filter(unit_id__in=list(figures_by_unit))
    rows = orders.filter(
        Q(created_at__gte=period.start_at, created_at__lt=period.end_at)
        | Q(responded_at__gte=period.start_at, responded_at__lt=period.end_at)
        | (Q(created_at__lt=cutoff, respond_by__lt=cutoff_day) & unanswered)
    ).values_list("id", "unit_id", "case_id", "created_at", "respond_by", "responded_at")
    for pk, unit_id, case_id, created_at, respond_by, responded_at in rows:
        figures = figures_by_unit.get(unit_id)
        if figures is None:
            continue
        if created_at in period:
            figures.order("supervision_received", pk, case_id)
        if responded_at in period and timezone.localtime(responded_at).date() > respond_by:
            figures.order("supervision_late", pk, case_id)
        if created_at < cutoff and respond_by < cutoff_day and (responded_at is None or responded_at >= cutoff):
            figures.order("supervision_open_overdue", pk, case_id)


def unit_figures(unit_ids: Sequence[int], period: Period) -> dict[int, Figures]:
    """Each unit's figures for the period: two queries whatever the number of units."""
    figures = {pk: Figures() for pk in unit_ids}
    groups: dict[tuple[int, int], list[EventRow]] = defaultdict(list)
    for row in _events(list(figures), period):
        groups[(row[1], row[2])].append(row)
    for (case_id, unit_id), events in groups.items():
        _walk(figures[unit_id], case_id, events, period)
    if figures:
        _supervision(figures, period)
    return figures


# --- ranking -----------------------------------------------------------------------------------


@dataclass
class Ranked:
    kind: Literal["unit", "region"]
    pk: int
    name: str
    place: str
    figures: Figures
    score: Score
    rank: int | None = None


def rank(rows: list[Ranked]) -> list[Ranked]:
    """Highest score first; equal scores share a rank (1, 2, 2, 4); no score, no rank, last."""
    rows.sort(key=lambda r: (r.score.total is None, -(r.score.total or 0.0), r.name, r.pk))
    previous: float | None = None
    for position, row in enumerate(rows, start=1):
        if row.score.total is None:
            row.rank = None
            continue
        row.rank = rows[position - 2].rank if position > 1 and row.score.total == previous else position
        previous = row.score.total
    return rows


@dataclass
class Evaluation:
    period: Period
    scheme: EvaluationScheme
    units: list[Ranked]
    regions: list[Ranked]

    @property
    def total(self) -> Figures:
        whole = Figures()
        for row in self.units:
            whole.add(row.figures)
        return whole

    def unit(self, pk: int) -> Ranked | None:
        return next((r for r in self.units if r.pk == pk), None)

    def region(self, pk: int) -> Ranked | None:
        return next((r for r in self.regions if r.pk == pk), None)

    def summons(self, *, overdue: int | None = None, returns: int | None = None) -> list[Ranked]:
        """约谈名单: units whose red-card overdue events or returns reach the thresholds."""
        return summons_list(self.units, overdue=overdue, returns=returns)


def summons_list(rows: Iterable[Ranked], *, overdue: int | None = None, returns: int | None = None) -> list[Ranked]:
    # A threshold below 1 would summon every unit, busy or not.
    over = max(1, settings.SIZHI_SUMMONS_OVERDUE if overdue is None else overdue)
    back = max(1, settings.SIZHI_SUMMONS_RETURNS if returns is None else returns)
    chosen = [r for r in rows if r.figures["overdue"] >= over or r.figures["returns"] >= back]
    return sorted(chosen, key=lambda r: (-r.figures["overdue"], -r.figures["returns"], r.name))


@dataclass(frozen=True)
class UnitRef:
    """What a ranking needs of a unit, read without building model instances (a city has thousands)."""

    pk: int
    name: str
    region_code: str
    place: str


def unit_refs(units: QuerySet[HandlingUnit]) -> list[UnitRef]:
    return [UnitRef(*row) for row in units.values_list("pk", "name", "region_code", "region__name")]


def evaluate(
    units: Iterable[HandlingUnit | UnitRef],
    period: Period,
    *,
    regions: Iterable[Region] = (),
    scheme: EvaluationScheme | None = None,
    walk: bool = False,
) -> Evaluation:
    """Figures, scores and ranks of `units`, and of `regions` as the sums of their units among them.

    The counts come from the roll-up (cases.evaluation_rollup), equal to the event walk's and read
    in one grouped query whatever the number of units and events; `walk=True` walks the events
    instead, which also fills Figures.cases (the drill-down, and the reference the roll-up is
    checked against)."""
    from sizhi.cases import evaluation_rollup  # it builds on this module

    scheme = scheme or active_scheme()
    unit_list = list(units)
    read = unit_figures if walk else evaluation_rollup.rollup_figures
    figures = read([u.pk for u in unit_list], period)
    rules = _Rules.of(scheme)
    unit_rows = [
        Ranked("unit", u.pk, u.name, u.place if isinstance(u, UnitRef) else u.region.name, figures[u.pk],
               _score(figures[u.pk], rules))
        for u in unit_list
    ]
    region_rows = []
    for region in regions:
        summed = Figures()
        for u in unit_list:
            if u.region_code.startswith(region.prefix):
                summed.add(figures[u.pk])
        region_rows.append(Ranked("region", region.pk, region.name, region.get_level_display(), summed,
                                  _score(summed, rules)))
    return Evaluation(period, scheme, rank(unit_rows), rank(region_rows))


# --- scope -------------------------------------------------------------------------------------


def _scope_prefixes(user: AnyUser) -> list[str]:
    return [m.scope.prefix for m in active_memberships(user) if m.role not in ADMIN_ROLES and m.scope is not None]


def units_for_user(user: AnyUser, region: Region | None = None) -> QuerySet[HandlingUnit]:
    """Units located within the user's scopes (inactive ones too: they may have history), and
    within `region` when given; nothing for administrators and citizens."""
    prefixes = _scope_prefixes(user)
    if not prefixes:
        return HandlingUnit.objects.none()
    in_scope = Q()
    for prefix in prefixes:
        in_scope |= Q(region_code__startswith=prefix)
    qs = HandlingUnit.objects.filter(in_scope)
    if region is not None:
        qs = qs.filter(region_code__startswith=region.prefix)
    return qs.select_related("region").order_by("region_code", "kind", "name")


def regions_for_user(user: AnyUser) -> QuerySet[Region]:
    """Regions a viewer may evaluate: their scope regions and the districts and towns inside them."""
    memberships = [m for m in active_memberships(user) if m.role not in ADMIN_ROLES and m.scope is not None]
    if not memberships:
        return Region.objects.none()
    wanted = Q(pk__in=[m.scope_id for m in memberships])
    for m in memberships:
        assert m.scope is not None
        wanted |= Q(prefix__startswith=m.scope.prefix, level__in=[RegionLevel.CITY, RegionLevel.DISTRICT,
                                                                  RegionLevel.TOWN])
    return Region.objects.filter(wanted).order_by("code")


def default_region(user: AnyUser) -> Region | None:
    """The viewer's scope region when one of their scopes contains all the others; otherwise
    None, meaning all their scopes together."""
    scopes = [m.scope for m in active_memberships(user) if m.role not in ADMIN_ROLES and m.scope is not None]
    for candidate in sorted(scopes, key=lambda s: len(s.prefix)):
        if all(s.code.startswith(candidate.prefix) for s in scopes):
            return candidate
    return None


def child_regions(region: Region | None, user: AnyUser) -> QuerySet[Region]:
    """The regions one level below `region` (or the viewer's scope regions) to rank side by side."""
    if region is None:
        memberships = [m for m in active_memberships(user) if m.role not in ADMIN_ROLES and m.scope is not None]
        return Region.objects.filter(pk__in=[m.scope_id for m in memberships]).order_by("code")
    return Region.objects.filter(parent=region).order_by("code")


# --- monthly circular (通报) -----------------------------------------------------------------------


@dataclass
class Circular:
    evaluation: Evaluation
    region: Region | None
    best: list[Ranked]
    worst: list[Ranked]
    summons: list[Ranked]
    overdue_cases: list[Case]
    supervision_orders: list[SupervisionOrder]

    @property
    def period(self) -> Period:
        return self.evaluation.period


def circular(user: AnyUser, period: Period, region: Region | None = None, *, top: int = 5) -> Circular:
    """通报 of a period for the viewer's scope (or `region` within it): key figures, the best and
    the worst units, the summons list, the cases that went red-card overdue in the period and the
    supervision orders issued in it. Cases and orders are read through the scoped selectors."""
    units = list(units_for_user(user, region))
    ev = evaluate(units, period, regions=child_regions(region, user))
    ranked = [r for r in ev.units if r.rank is not None]
    best = ranked[:top]
    worst = [r for r in reversed(ranked) if r not in best][:top]
    from sizhi.cases import evaluation_rollup

    # The roll-up has the counts only: the red-card cases are read from their events.
    overdue_ids = evaluation_rollup.overdue_case_ids([u.pk for u in units], period)
    overdue = (
        list(case_list_for_user(user).filter(pk__in=overdue_ids).order_by("created_at", "id")) if overdue_ids else []
    )
    orders = list(
        supervision_orders_for_user(user, open_only=False)
        .filter(unit_id__in=[u.pk for u in units], created_at__gte=period.start_at, created_at__lt=period.end_at)
        .order_by("created_at", "id")
    )
    return Circular(ev, region, best, worst, ev.summons(), overdue, orders)

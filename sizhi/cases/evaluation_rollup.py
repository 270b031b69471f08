"""联动考评 roll-up: the counts of cases.evaluation for many units from a small table, exactly.

cases.evaluation walks every event of the units in scope (LOOKBACK before the period to its end,
sign-fors and closures up to LOOKAHEAD after it) each time a ranking is shown; on a city that is
millions of rows read and walked in Python. This module keeps, per unit and local day, how many
countable things fall on that day (EvaluationRollup), so that a period's figures are one grouped
range scan. The event walk stays the reference and serves the drill-down (Figures.cases).

Exactness. A period's figures depend on the period not only through "this day is in it": the
walk reads a window (LOOKBACK, LOOKAHEAD), takes a unit's deadline and suspension as they stood
at the period end, counts a case once however many tenures it has, and so on. Each counted thing
therefore carries the few dates its period conditions need (columns a … e), and the query applies
those conditions with the period's start S, end E (both local days, [S, E)), the window start
W = S − 183 days and the read-ahead end L = E + 31 days. All of them reduce to comparisons of
local days because periods are whole local days and Asia/Shanghai has no daylight saving.
NO_DAY (0001-01-01) in a date means "holds for every period containing `day`" (or "none", where
that comes to the same); a date is normalised to it whenever the condition cannot fail, so that
nearly everything a unit does on a day lands in one row, all five dates NO_DAY. ALWAYS
(9999-12-31) is the "never true" of a "< W" condition.

  column        day            counted when (besides S <= day < E; "x >= W" reads "x >= W or x is NO_DAY")
  dispatched    dispatch       —
  responded     dispatch       signed by sign_due and the sign-for read: a (sign day) < L
  signed_24h    dispatch       —                      closed_7d  dispatch  —
  shirks        dispatch       a (the unit's return since its last dispatch) >= W
  handle        first handling a (dispatch day) >= W; handle_seconds: the working time in between
  handles, returns, overdue, rated, satisfied        the event's day
  verify_early  a 核查 failure with fewer than two before it: always early (the first two)
  verify_fails  a 核查 failure with two or more before it: late (3rd and later) when a (the 2nd
                               earlier) >= W, else early
  handled       a handling day a (its tenure's dispatch) >= W, and the previous handling day of
                               the case b < S or its tenure's dispatch c < W: the case's first
                               handling day in the period, so each case counts once
  resolved      a handling day of a closed tenure: a (dispatch) >= W, b (previous handling day of
                               the tenure) < S, c (closure day) < E, and the case's previous
                               closed handled tenure (its last handling day d, dispatch e) is not
                               counted: d < S or e < W
  due_open, due_suspended, due_on_time, due_late
                deadline       the unit's latest tenure before E, a (its dispatch) >= W, in this
                               state at E: b <= E and (c >= E or c is NO_DAY); a case handed back
                               in time is not stored

Kept exact in the same transaction as every CaseEvent write: the post_save receiver in
cases.models calls record(), which re-walks the (case, unit) history (a handful of events) with
and without the new events and adds the difference; the deadline sweep's bulk red cards add
their counts directly. Anything that writes or moves events behind the ORM (the demo loader's
back-dating, the generator's COPY) calls rebuild() afterwards, as does
`sizhi insight rebuild-evaluation`, whose --check compares with the walk.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, F, JSONField, Q, Sum, Value, When
from django.utils import timezone

from sizhi.cases.evaluation import (
    ACTIONS,
    CLOSE_WITHIN,
    LOOKAHEAD,
    LOOKBACK,
    SATISFIED,
    SIGN_WITHIN,
    Figures,
    Period,
    _advance,
    _moment,
    _supervision,
    _Tenure,
    unit_figures,
)
from sizhi.cases.models import CaseEvent, EvaluationRollup
from sizhi.cases.workflow import CaseAction
from sizhi.units.models import HandlingUnit
from sizhi.workdays.calendar import working_seconds_between

A = CaseAction
NO_DAY = dt.date(1, 1, 1)
ALWAYS = dt.date(9999, 12, 31)
BACK = dt.timedelta(days=LOOKBACK.days)
AHEAD = dt.timedelta(days=LOOKAHEAD.days)
ACTION_SET = frozenset(str(a) for a in ACTIONS)
# Their counts depend on nothing but the event itself: added without re-walking the case.
COUNT_ONLY = frozenset({str(A.WARN_RED), str(A.RATE)})
DUE_METRICS = ("due_open", "due_suspended", "due_on_time", "due_late")
# The count columns of EvaluationRollup, in the order of a Counts value; handle_seconds comes last.
METRICS = (
    "dispatched", "responded", "signed_24h", "closed_7d", "shirks", "handle", "handles", "returns", "overdue",
    "rated", "satisfied", "verify_early", "verify_fails", "handled", "resolved", *DUE_METRICS,
)
SLOT = {m: i for i, m in enumerate(METRICS)}
SECONDS = len(METRICS)

Key = tuple[int, dt.date, dt.date, dt.date, dt.date, dt.date, dt.date]  # unit, day, a … e
Counts = dict[Key, list[float]]  # one count per METRICS, then handle_seconds
Event = tuple[int, str, dt.datetime, Any]  # id, action, created_at, data


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(timezone.get_default_timezone()).date()  # the events' times are aware


def _within(earlier: dt.date, day: dt.date) -> dt.date:
    """`earlier` for an ">= W" condition, or NO_DAY when it holds for every period containing
    `day` (W <= day − 183 <= earlier)."""
    return NO_DAY if earlier >= day - BACK else earlier


def _below(earlier: dt.date, than: dt.date) -> dt.date:
    """`earlier` for a "< W" condition that matters only when `than` is in the period, or ALWAYS
    when it cannot hold then (earlier >= than − 183 >= W)."""
    return ALWAYS if earlier >= than - BACK else earlier


# --- one (case, unit) history into counts ---------------------------------------------------------------


@dataclass
class _Run:
    """One tenure as the walk builds it, with what the roll-up needs besides."""

    tenure: _Tenure
    returned: dt.datetime | None  # the unit's return since its previous dispatch (无故推诿 when it comes back)
    handles: list[dt.datetime] = field(default_factory=list)
    # (moment, due, suspended, closed_at, left_at) after the dispatch and after each event of the tenure
    states: list[tuple[dt.datetime, dt.datetime | None, bool, dt.datetime | None, dt.datetime | None]] = field(
        default_factory=list
    )

    def snapshot(self, at: dt.datetime) -> None:
        t = self.tenure
        self.states.append((at, t.due, t.suspended, t.closed_at, t.left_at))


def contributions(unit_id: int, events: Iterable[Event]) -> Counts:
    """What one (case, unit) history, oldest event first, adds to the roll-up. The tenures are
    built by cases.evaluation's own `_advance`, over the whole history."""
    out: Counts = {}

    def add(metric: str, day: dt.date, a: dt.date = NO_DAY, b: dt.date = NO_DAY, c: dt.date = NO_DAY,
            d: dt.date = NO_DAY, e: dt.date = NO_DAY, seconds: float = 0.0) -> None:
        key = (unit_id, day, a, b, c, d, e)
        row = out.get(key)
        if row is None:
            row = out[key] = [0] * SECONDS + [0.0]
        row[SLOT[metric]] += 1
        row[SECONDS] += seconds

    runs: list[_Run] = []
    current: _Run | None = None
    returned: dt.datetime | None = None
    fails: list[dt.date] = []
    for _pk, action, at, raw in events:
        data = raw if isinstance(raw, dict) else {}
        day = local_day(at)
        if action == A.DISPATCH:
            if current is not None:
                current.tenure.ended = True
            current = _Run(_Tenure(at, _moment(data.get("sign_due_at")), _moment(data.get("due_at"))), returned)
            current.snapshot(at)
            runs.append(current)
            returned = None
            continue
        if action == A.HANDLE:
            add("handles", day)
        elif action == A.RETURN:
            add("returns", day)
            returned = at
        elif action == A.WARN_RED:
            add("overdue", day)
        elif action == A.RATE:
            add("rated", day)
            if data.get("satisfaction") in SATISFIED:
                add("satisfied", day)
        elif action == A.VERIFY_FAIL:
            if len(fails) >= 2:
                add("verify_fails", day, _within(fails[-2], day))
            else:
                add("verify_early", day)
            fails.append(day)
        if current is None or current.tenure.ended:
            continue
        if action == A.HANDLE:
            current.handles.append(at)
        _advance(current.tenure, action, at, data, in_period=False, late=False)
        current.snapshot(at)

    for i, run in enumerate(runs):
        _count_run(add, run, runs[i + 1].tenure.dispatched_at if i + 1 < len(runs) else None)
    _count_handled(add, runs)
    return out


Add = Callable[..., None]


def _count_run(add: Add, run: _Run, next_dispatch: dt.datetime | None) -> None:
    t = run.tenure
    dd = local_day(t.dispatched_at)
    add("dispatched", dd)
    if t.signed_at is not None:
        if t.sign_due is not None and t.signed_at <= t.sign_due:
            signed = local_day(t.signed_at)
            # Read by the walk when signed before E + 31 days; always so within 30 days of dispatch.
            add("responded", dd, NO_DAY if signed <= dd + dt.timedelta(days=30) else signed)
        if t.signed_at - t.dispatched_at <= SIGN_WITHIN:
            add("signed_24h", dd)
    if t.closed_at is not None and t.closed_at - t.dispatched_at <= CLOSE_WITHIN:
        add("closed_7d", dd)
    if run.returned is not None:
        add("shirks", dd, _within(local_day(run.returned), dd))
    if t.first_handle is not None:
        first = local_day(t.first_handle)
        add("handle", first, _within(dd, first), seconds=working_seconds_between(t.dispatched_at, t.first_handle))
    _count_deadline_states(add, run, dd, next_dispatch)


def _count_deadline_states(add: Add, run: _Run, dd: dt.date, next_dispatch: dt.datetime | None) -> None:
    """The tenure is the unit's latest for the period ends E in (dispatch, next dispatch]; within
    that, each state holds for E in (its event, the next event]. Equal neighbours are merged."""
    last = local_day(next_dispatch) if next_dispatch is not None else ALWAYS
    pending: list[Any] = []

    def emit() -> None:
        (metric, due_day), lo, hi = pending
        add(metric, due_day, _within(dd, due_day), NO_DAY if lo <= due_day + dt.timedelta(days=1) else lo,
            NO_DAY if hi == ALWAYS else hi)

    for k, (at, due, suspended, closed_at, left_at) in enumerate(run.states):
        lo = local_day(at) + dt.timedelta(days=1)
        hi = min(last, local_day(run.states[k + 1][0])) if k + 1 < len(run.states) else last
        if due is None or lo > hi:
            continue
        if left_at is not None and left_at <= due:
            continue  # handed back in time: no longer the unit's case to close
        if closed_at is not None:
            metric = "due_on_time" if closed_at <= due else "due_late"
        else:
            metric = "due_suspended" if suspended else "due_open"
        due_day = local_day(due)
        lo = max(lo, due_day + dt.timedelta(days=1))  # E > due_day anyway
        if lo > hi:
            continue
        key = (metric, due_day)
        if pending and pending[0] == key and pending[1] <= lo <= pending[2] + dt.timedelta(days=1):
            pending[2] = max(pending[2], hi)
            continue
        if pending:
            emit()
        pending = [key, lo, hi]
    if pending:
        emit()


def _count_handled(add: Add, runs: Sequence[_Run]) -> None:
    """处置案件数 and 处置后结案数 count a case once in a period however many days and tenures
    it was handled on: each is counted at its first qualifying day (see the module's table)."""
    previous: tuple[dt.date, dt.date] | None = None  # (handling day, its tenure's dispatch day)
    closed_before: tuple[dt.date, dt.date] | None = None  # latest closed handled tenure: (last handling day, dispatch)
    for run in runs:
        dd = local_day(run.tenure.dispatched_at)
        days = sorted({local_day(h) for h in run.handles})
        for day in days:
            if previous == (day, dd):
                continue
            if previous is None:
                add("handled", day, _within(dd, day))
            else:
                add("handled", day, _within(dd, day), previous[0], _below(previous[1], previous[0]))
            previous = (day, dd)
        closed_at = run.tenure.closed_at
        if closed_at is None or not days:
            continue
        closed = local_day(closed_at)
        before_day, before_dispatch = NO_DAY, NO_DAY
        if closed_before is not None:
            before_day, before_dispatch = closed_before[0], _below(closed_before[1], closed_before[0])
        for k, day in enumerate(days):
            add("resolved", day, _within(dd, day), days[k - 1] if k else NO_DAY, NO_DAY if closed <= day else closed,
                before_day, before_dispatch)
        closed_before = (days[-1], dd)


# --- the period's figures from the roll-up --------------------------------------------------------------


def _conditions(period: Period) -> dict[str, tuple[str, Q]]:
    """Output name → (column, condition)."""
    s, e = period.start, period.end
    w, late = s - BACK, e + AHEAD

    def since(column: str) -> Q:  # ">= W", NO_DAY standing for "always"
        return Q(**{f"{column}__gte": w}) | Q(**{column: NO_DAY})

    plain = {m: (m, Q()) for m in (
        "dispatched", "signed_24h", "closed_7d", "handles", "returns", "overdue", "rated", "satisfied",
        "verify_early", "verify_fails",
    )}
    deadline = since("a") & Q(b__lte=e) & (Q(c__gte=e) | Q(c=NO_DAY))
    return {
        **plain,
        "responded": ("responded", Q(a__lt=late)),
        "shirks": ("shirks", since("a")),
        "verify_late": ("verify_fails", since("a")),
        "handle": ("handle", since("a")),
        "handle_seconds": ("handle_seconds", since("a")),
        "handled": ("handled", since("a") & (Q(b__lt=s) | Q(c__lt=w))),
        "resolved": ("resolved", since("a") & Q(b__lt=s, c__lt=e) & (Q(d__lt=s) | Q(e__lt=w))),
        **{m: (m, deadline) for m in DUE_METRICS},
    }


# Above this many units (a city's 3,500) the period's rows of every unit are read over the day
# index and the others dropped: cheaper than a query carrying thousands of ids.
MANY_UNITS = 1000


def rollup_figures(unit_ids: Sequence[int], period: Period) -> dict[int, Figures]:
    """Each unit's counts for the period (no case ids: the walk, unit_figures, lists those):
    one grouped range scan of the roll-up, and the supervision orders as the walk reads them."""
    figures = {pk: Figures() for pk in unit_ids}
    if not figures:
        return figures
    # A condition that always holds is left out: a plain SUM, no FILTER to evaluate per row.
    # Named apart from the columns they sum (an annotation may not shadow a field).
    sums = {
        f"sum_{name}": Sum(column, filter=condition, default=0) if condition else Sum(column, default=0)
        for name, (column, condition) in _conditions(period).items()
    }
    rows = EvaluationRollup.objects.filter(day__gte=period.start, day__lt=period.end)
    if len(figures) <= MANY_UNITS:
        rows = rows.filter(unit_id__in=list(figures))
    # Compiled by the ORM, run on the cursor: the sums are plain numbers, and Django's per-value
    # converters would cost more than the query on a city's thousands of rows.
    sql, params = rows.values("unit_id").annotate(**sums).order_by().query.sql_with_params()
    names = [name.removeprefix("sum_") for name in sums]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        read = cursor.fetchall()
    for unit_id, *values in read:
        f = figures.get(unit_id)
        if f is None:
            continue  # a unit outside the scope, read because the scope is a whole city
        row = dict(zip(names, values, strict=True))
        verify = int(row["verify_early"]) + int(row["verify_fails"])
        for name, value in (
            ("dispatched", row["dispatched"]), ("responded", row["responded"]), ("signed_24h", row["signed_24h"]),
            ("closed_7d", row["closed_7d"]), ("handles", row["handles"]), ("returns", row["returns"]),
            ("overdue", row["overdue"]), ("rated", row["rated"]), ("satisfied", row["satisfied"]),
            ("verify_fails", verify), ("shirks", row["shirks"]), ("handled", row["handled"]),
            ("resolved", row["resolved"]),
            ("due", sum(int(row[m]) for m in DUE_METRICS)),
            ("closed", int(row["due_on_time"]) + int(row["due_late"])), ("closed_on_time", row["due_on_time"]),
            ("suspended", row["due_suspended"]),
        ):
            if value:
                f.counts[name] = int(value)
        f.verify_fails_late = int(row["verify_late"])
        f.verify_fails_early = verify - f.verify_fails_late
        f.handle_samples = int(row["handle"])
        f.handle_seconds = float(row["handle_seconds"]) if f.handle_samples else 0.0
    _supervision(figures, period)
    return figures


def overdue_case_ids(unit_ids: Sequence[int], period: Period) -> set[int]:
    """The cases behind the units' red cards in the period (the circular lists them)."""
    if not unit_ids:
        return set()
    return set(
        CaseEvent.objects.filter(
            unit_id__in=list(unit_ids), action=A.WARN_RED, created_at__gte=period.start_at,
            created_at__lt=period.end_at,
        ).values_list("case_id", flat=True).distinct()
    )


# --- keeping it exact -------------------------------------------------------------------------------------


def _pair_events(case_id: int, unit_id: int) -> list[Event]:
    return list(
        CaseEvent.objects.filter(case_id=case_id, unit_id=unit_id, action__in=list(ACTION_SET))
        .order_by("created_at", "id").values_list("id", "action", "created_at", "data")
    )


def _merge(total: Counts, part: Counts, sign: int = 1) -> None:
    for key, values in part.items():
        row = total.get(key)
        if row is None:
            total[key] = [sign * v for v in values]
        else:
            for i, v in enumerate(values):
                row[i] += sign * v


def record(events: Iterable[CaseEvent]) -> None:
    """Add what newly written events change, in the caller's transaction. A red card or a rating
    only adds its own count; any other event re-walks its (case, unit) history with and without
    the new events and adds the difference."""
    delta: Counts = {}
    pairs: dict[tuple[int, int], set[int]] = defaultdict(set)
    for event in events:
        if event.unit_id is None or event.action not in ACTION_SET:
            continue
        if event.action in COUNT_ONLY:
            _merge(delta, contributions(event.unit_id, [(event.pk, event.action, event.created_at, event.data)]))
        else:
            pairs[(event.case_id, event.unit_id)].add(event.pk)
    for (case_id, unit_id), new in pairs.items():
        history = _pair_events(case_id, unit_id)
        _merge(delta, contributions(unit_id, history))
        _merge(delta, contributions(unit_id, [row for row in history if row[0] not in new]), -1)
    add_counts(delta)


KEY = ("unit_id", "day", "a", "b", "c", "d", "e")
COLUMNS = (*KEY, *METRICS, "handle_seconds")


def _params(key: Key, values: list[float]) -> list[Any]:
    adapt = connection.ops.adapt_datefield_value
    unit, *days = key
    return [unit, *(adapt(d) for d in days), *(int(v) for v in values[:SECONDS]), float(values[SECONDS])]


def add_counts(delta: Counts, *, batch: int = 200) -> None:
    """Add the counts to the roll-up rows, creating missing ones: INSERT … ON CONFLICT in key
    order (two transactions touching the same rows take their locks in the same order)."""
    rows = sorted((k, v) for k, v in delta.items() if any(v))
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(EvaluationRollup._meta.db_table)
    columns = ", ".join(quote(c) for c in COLUMNS)
    key = ", ".join(quote(c) for c in KEY)
    update = ", ".join(f"{quote(c)} = {table}.{quote(c)} + EXCLUDED.{quote(c)}" for c in COLUMNS[len(KEY):])
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            params: list[Any] = []
            for k, values in chunk:
                params += _params(k, values)
            values_sql = ", ".join(["(" + ", ".join(["%s"] * len(COLUMNS)) + ")"] * len(chunk))
            # Names come from the model's own metadata, values are parameters.
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values_sql} "  # noqa: S608
                f"ON CONFLICT ({key}) DO UPDATE SET {update}",
                params,
            )


# --- rebuilding from the events ---------------------------------------------------------------------------


# Only these actions' data is read by the walk: the others' JSON is not fetched and parsed.
DATA_READ = Case(
    When(action__in=[A.DISPATCH, A.RESUME, A.EXTEND_APPROVE, A.RATE], then=F("data")),
    default=Value(None), output_field=JSONField(),
)


def _unit_groups(size: int) -> list[list[int]]:
    # Every event's unit is a HandlingUnit (PROTECT): no scan of the events to find them.
    units = list(HandlingUnit.objects.order_by("pk").values_list("pk", flat=True))
    return [units[i:i + size] for i in range(0, len(units), size)]


def stream_counts(
    where: Q | None = None, *, group: int = 20, progress: bool = False, weight: Callable[[int], int] | None = None
) -> Iterator[Counts]:
    """The roll-up of the events matching `where`, one group of units at a time (each group's
    counts are complete): the events of a group are read in (unit, case, time) order through a
    server-side cursor and each (case, unit) history is walked once. `weight(case_id)` is how
    many cases the history stands for (a benchmark's copies of cases without events); 1 if not given."""
    from tqdm import tqdm

    groups = _unit_groups(group)
    bar = tqdm(total=len(groups), unit="组", desc="考评汇总", disable=not progress)
    try:
        for units in groups:
            rows = (
                CaseEvent.objects.filter(where or Q(), unit_id__in=units, action__in=list(ACTION_SET))
                .annotate(read=DATA_READ)
                .order_by("unit_id", "case_id", "created_at", "id")
                .values_list("unit_id", "case_id", "id", "action", "created_at", "read")
                .iterator(chunk_size=20_000)
            )
            counts: Counts = {}
            pair: tuple[int, int] | None = None
            history: list[Event] = []
            for unit_id, case_id, pk, action, at, data in rows:
                if (unit_id, case_id) != pair:
                    if pair is not None:
                        _merge(counts, contributions(pair[0], history), weight(pair[1]) if weight else 1)
                    pair, history = (unit_id, case_id), []
                history.append((pk, action, at, data))
            if pair is not None:
                _merge(counts, contributions(pair[0], history), weight(pair[1]) if weight else 1)
            bar.update(1)
            yield counts
    finally:
        bar.close()


def _write(counts: Counts) -> None:
    """New rows (the table holds none of these keys yet): COPY on PostgreSQL, bulk INSERT elsewhere."""
    rows = [_params(k, v) for k, v in counts.items() if any(v)]
    if not rows:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            quote = connection.ops.quote_name
            raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no copy()
            names = ", ".join(quote(c) for c in COLUMNS)
            with raw.copy(f"COPY {quote(EvaluationRollup._meta.db_table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    EvaluationRollup.objects.bulk_create(
        [EvaluationRollup(**dict(zip(COLUMNS, row, strict=True))) for row in rows], batch_size=500
    )


def rebuild(*, progress: bool = False, weight: Callable[[int], int] | None = None) -> int:
    """Throw the roll-up away and count it again from the events; the number of rows. `weight`:
    see stream_counts."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {connection.ops.quote_name(EvaluationRollup._meta.db_table)}")
        else:
            EvaluationRollup.objects.all().delete()
        for counts in stream_counts(progress=progress, weight=weight):
            _write(counts)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(EvaluationRollup._meta.db_table)}")
    return EvaluationRollup.objects.count()


# --- checking against the walk ----------------------------------------------------------------------------

FIELDS = ("verify_fails_early", "verify_fails_late", "handle_samples")


def differences(unit_ids: Sequence[int], period: Period) -> list[str]:
    """Where the roll-up's figures differ from the event walk's, one line each."""
    walked = unit_figures(unit_ids, period)
    rolled = rollup_figures(unit_ids, period)
    problems = []
    for pk in unit_ids:
        w, r = walked[pk], rolled[pk]
        want = {k: v for k, v in w.counts.items() if v} | {f: getattr(w, f) for f in FIELDS}
        have = {k: v for k, v in r.counts.items() if v} | {f: getattr(r, f) for f in FIELDS}
        if want != have or abs(w.handle_seconds - r.handle_seconds) > 1e-6 * max(1.0, w.handle_seconds):
            changed = sorted(k for k in want.keys() | have.keys() if want.get(k, 0) != have.get(k, 0))
            detail = ", ".join(f"{k} {want.get(k, 0)}≠{have.get(k, 0)}" for k in changed) or "handle_seconds"
            problems.append(f"{period} unit {pk}: {detail}")
    return problems

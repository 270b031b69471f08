"""Roll-ups for the dashboards: running counts of cases (models.CaseRollup) that the city- and
town-level dashboards sum instead of scanning every case of a year.

They stay exact because every write that changes a counted field also writes its difference in
the same transaction:
- a case created or saved through the ORM: the post_save / post_delete receivers below (the
  report services and every fixture create cases this way);
- a case moved by cases.transitions.transition() (every workflow action, merging included):
  `locked_state` before its UPDATE and `record` after it;
- the deadline sweep's warning change (cases.deadlines): `states` before and after.
Anything that writes cases behind the ORM's back (the demo loader's back-dating, the generator's
COPY) calls `rebuild_rollups()` afterwards, as does `sizhi insight rebuild-rollups`.

A case counts with its state as a tuple of the counted fields (State). Its contribution is a set
of (key, values) rows; a change writes after − before, merged by key, in key order (so two
transactions lock shared rows in the same order), as one INSERT … ON CONFLICT DO UPDATE.
Secretary-mailbox cases contribute nothing, exactly as the dashboards exclude them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Count, F, IntegerField, Model, Q, QuerySet, Sum, Value
from django.db.models.expressions import Expression
from django.db.models.functions import Coalesce, Substr, TruncDate, TruncMonth
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from sizhi.cases.models import Case
from sizhi.cases.workflow import OPEN_STATUSES, CaseStatus, Channel, Satisfaction, WarningLevel
from sizhi.insight.models import CaseRollup

# Kinds (see CaseRollup) and the depths (prefix lengths of region_code) each is kept at.
CREATED, AREA, CLOSED, RATED, OPEN = "c", "a", "x", "r", "s"
DAY, MONTH, NONE = "d", "m", "-"
DEPTHS: dict[str, tuple[int, ...]] = {CREATED: (6, 9), AREA: (6, 9, 12), CLOSED: (6, 9), RATED: (6, 9), OPEN: (6, 9)}
# The day of the "now" rows (kind s), which have no day of their own.
NO_DAY = dt.date(2000, 1, 1)
OPEN_VALUES = frozenset(str(s) for s in OPEN_STATUSES)
SATISFIED = frozenset({Satisfaction.SATISFIED.value, Satisfaction.BASICALLY.value})
RATINGS = frozenset(Satisfaction.values)

FIELDS = ("created_at", "region_code", "category_id", "channel", "status", "warning", "closed_at", "rated_at",
          "satisfaction")


class State(NamedTuple):
    created_at: dt.datetime
    region_code: str
    category_id: int | None
    channel: str
    status: str
    warning: str
    closed_at: dt.datetime | None
    rated_at: dt.datetime | None
    satisfaction: str


Key = tuple[str, str, int, str, dt.date, int, str, str]  # kind, grain, depth, area, day, category, channel, status
Values = tuple[int, int, int, int]  # n, n_open, n_red, n_satisfied


def zone() -> dt.tzinfo:
    return timezone.get_default_timezone()


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment, zone()).date() if timezone.is_aware(moment) else moment.date()


def state_of(case: Case) -> State:
    return State(*(getattr(case, name) for name in FIELDS))


def contributions(state: State | None) -> dict[Key, Values]:
    """The rows one case in this state adds to."""
    out: dict[Key, Values] = {}
    if state is None or state.channel == Channel.MAILBOX or state.created_at is None:
        return out
    code = state.region_code or ""
    is_open = state.status in OPEN_VALUES
    red = int(is_open and state.warning == WarningLevel.RED)
    opened = int(is_open)
    day = local_day(state.created_at)
    month = day.replace(day=1)
    category = state.category_id or 0
    for depth in DEPTHS[CREATED]:
        for grain, when in ((DAY, day), (MONTH, month)):
            out[(CREATED, grain, depth, code[:depth], when, category, state.channel, "")] = (1, opened, red, 0)
    for depth in DEPTHS[AREA]:
        for grain, when in ((DAY, day), (MONTH, month)):
            out[(AREA, grain, depth, code[:depth], when, 0, "", "")] = (1, opened, red, 0)
    if state.status == CaseStatus.CLOSED and state.closed_at is not None:
        closed = local_day(state.closed_at)
        for depth in DEPTHS[CLOSED]:
            out[(CLOSED, DAY, depth, code[:depth], closed, 0, "", "")] = (1, 0, 0, 0)
    if state.rated_at is not None and state.satisfaction in RATINGS:
        rated = local_day(state.rated_at)
        good = int(state.satisfaction in SATISFIED)
        for depth in DEPTHS[RATED]:
            out[(RATED, DAY, depth, code[:depth], rated, 0, "", "")] = (1, 0, 0, good)
    if is_open:
        for depth in DEPTHS[OPEN]:
            out[(OPEN, NONE, depth, code[:depth], NO_DAY, 0, "", state.status)] = (1, 0, red, 0)
    return out


def difference(pairs: Iterable[tuple[State | None, State | None]]) -> dict[Key, Values]:
    total: dict[Key, list[int]] = {}
    for before, after in pairs:
        if before == after:
            continue
        for sign, state in ((-1, before), (1, after)):
            for key, values in contributions(state).items():
                row = total.setdefault(key, [0, 0, 0, 0])
                for i, v in enumerate(values):
                    row[i] += sign * v
    return {k: (v[0], v[1], v[2], v[3]) for k, v in total.items() if any(v)}


COLUMNS = ("kind", "grain", "depth", "area", "day", "category", "channel", "status", "n", "n_open", "n_red",
           "n_satisfied")


DEFAULTS: dict[str, Any] = {"category": 0, "channel": "", "status": "", "n": 0, "n_open": 0, "n_red": 0,
                            "n_satisfied": 0}


def record(before: State | None, after: State | None) -> None:
    record_many([(before, after)])


def record_many(pairs: Iterable[tuple[State | None, State | None]]) -> None:
    """Add after − before of each case to the roll-ups, in this transaction: one statement."""
    delta = difference(pairs)
    if not delta:
        return
    table = connection.ops.quote_name(CaseRollup._meta.db_table)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in COLUMNS)
    key = ", ".join(quote(c) for c in COLUMNS[:8])
    update = ", ".join(f"{quote(c)} = {table}.{quote(c)} + EXCLUDED.{quote(c)}" for c in COLUMNS[8:])
    rows = sorted(delta.items())
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(COLUMNS)) + ")"] * len(rows))
    params: list[Any] = []
    for (kind, grain, depth, area, day, category, channel, status), values in rows:
        params += [kind, grain, depth, area, connection.ops.adapt_datefield_value(day), category, channel, status,
                   *values]
    with connection.cursor() as cursor:
        # Names come from the model's own metadata, values are parameters.
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {placeholders} "  # noqa: S608
            f"ON CONFLICT ({key}) DO UPDATE SET {update}",
            params,
        )


def _locking(qs: QuerySet[Case]) -> QuerySet[Case]:
    # Inside a transaction the rows are locked until it ends, so nothing (the deadline sweep, which
    # skips locked rows) changes them between this read and the write that follows it.
    return qs.select_for_update() if connection.in_atomic_block else qs


def locked_state(pk: int) -> State | None:
    rows = list(_locking(Case.objects.filter(pk=pk).order_by()).values_list(*FIELDS)[:1])
    return State(*rows[0]) if rows else None


def states(pks: Sequence[int]) -> dict[int, State]:
    rows = _locking(Case.objects.filter(pk__in=list(pks))).values_list("pk", *FIELDS)
    return {row[0]: State(*row[1:]) for row in rows}


def changed(before: State, changes: dict[str, Any], status: str) -> State | None:
    """`before` with a transition's field changes applied; None when a change is not a plain value
    (an expression), in which case the caller reads the row again."""
    values = before._asdict()
    for name, value in changes.items():
        attname = getattr(Case._meta.get_field(name), "attname", name)
        if attname not in values:
            continue
        if isinstance(value, Expression):
            return None
        values[attname] = value.pk if isinstance(value, Model) else value
    values["status"] = status
    return State(**values)


# --- ORM writes: created, saved, deleted --------------------------------------------------------------


@receiver(pre_save, sender=Case, dispatch_uid="insight.rollups.pre_save")
def _before_save(sender: type[Case], instance: Case, raw: bool = False, **kwargs: Any) -> None:
    instance._rollup_before = None if instance._state.adding or instance.pk is None else locked_state(instance.pk)  # type: ignore[attr-defined]


@receiver(post_save, sender=Case, dispatch_uid="insight.rollups.post_save")
def _after_save(sender: type[Case], instance: Case, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    before: State | None = None if created else getattr(instance, "_rollup_before", None)
    after = state_of(instance)
    if before is not None and update_fields is not None:
        # Only these fields were written: the rest of the row is what it was.
        written = {getattr(Case._meta.get_field(f), "attname", f) for f in update_fields}
        after = State(*(getattr(instance, name) if name in written else getattr(before, name) for name in FIELDS))
    record(before, after)


@receiver(post_delete, sender=Case, dispatch_uid="insight.rollups.post_delete")
def _after_delete(sender: type[Case], instance: Case, **kwargs: Any) -> None:
    record(state_of(instance), None)


# --- rebuild ---------------------------------------------------------------------------------------------


def _cases() -> QuerySet[Case]:
    return Case.objects.exclude(channel=Channel.MAILBOX).order_by()


def _counts() -> dict[str, Any]:
    is_open = Q(status__in=sorted(OPEN_VALUES))
    return {
        "n": Count("pk"),
        "n_open": Count("pk", filter=is_open),
        "n_red": Count("pk", filter=is_open & Q(warning=WarningLevel.RED)),
    }


def rebuild_rollups() -> dict[str, int]:
    """Throw the roll-ups away and count them again from the cases: one grouped scan per kind at
    the finest depth, the coarser depths and the months summed from those rows."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Grouping millions of cases spills to disk at the default 4 MB.
                cursor.execute("SET LOCAL work_mem = '256MB'")
        CaseRollup.objects.all().delete()
        _rebuild()
        counts = dict(
            CaseRollup.objects.values_list("kind").annotate(rows=Count("pk")).values_list("kind", "rows")
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(CaseRollup._meta.db_table)}")
    return counts


def _grouped(kind: str, depth: int, day_field: str | None, names: Sequence[str], qs: QuerySet[Case],
             values: dict[str, Any]) -> None:
    day = TruncDate(day_field, tzinfo=zone()) if day_field else Value(NO_DAY)
    rows = (
        qs.annotate(a=Substr("region_code", 1, depth), d=day, cat=Coalesce("category_id", Value(0),
                                                                            output_field=IntegerField()))
        .values("a", "d", *names).annotate(**values).values("a", "d", *names, *values)
    )
    constants = {"kind": kind, "grain": DAY if day_field else NONE, "depth": depth}
    target = {"a": "area", "d": "day", "cat": "category"}
    _insert_renamed(rows, constants, ["a", "d", *names, *values], target)


def _insert_renamed(select: QuerySet[Any], constants: dict[str, Any], picked: Sequence[str],
                    target: dict[str, str]) -> None:
    sql, params = select.query.sql_with_params()
    # The model's defaults are not the table's: every column not selected gets its value here.
    named = {*constants, *(target.get(p, p) for p in picked)}
    constants = {**constants, **{c: DEFAULTS[c] for c in COLUMNS if c not in named}}
    quote = connection.ops.quote_name
    table = quote(CaseRollup._meta.db_table)
    fixed = ", ".join(["%s"] * len(constants))
    columns = ", ".join(quote(c) for c in [*constants, *(target.get(p, p) for p in picked)])
    chosen = ", ".join(f"g.{quote(p)}" for p in picked)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {fixed}, {chosen} FROM ({sql}) g",  # noqa: S608
            [*constants.values(), *params],
        )


def _sum_up(kind: str, grain: str, source_grain: str, source_depth: int, depth: int,
            names: Sequence[str]) -> None:
    """Rows of (grain, depth) summed from those of (source_grain, source_depth)."""
    source = CaseRollup.objects.filter(kind=kind, grain=source_grain, depth=source_depth).order_by()
    day: Any = TruncMonth("day") if grain == MONTH and source_grain == DAY else F("day")
    rows = (
        source.annotate(a=Substr("area", 1, depth), d=day)
        .values("a", "d", *names)
        .annotate(sn=Sum("n"), so=Sum("n_open"), sr=Sum("n_red"), ss=Sum("n_satisfied"))
        .values("a", "d", *names, "sn", "so", "sr", "ss")
    )
    _insert_renamed(rows, {"kind": kind, "grain": grain, "depth": depth},
                    ["a", "d", *names, "sn", "so", "sr", "ss"],
                    {"a": "area", "d": "day", "sn": "n", "so": "n_open", "sr": "n_red", "ss": "n_satisfied"})


def _rebuild() -> None:
    counts = _counts()
    cases = _cases()
    # c: reported, by category and channel, at the town depth; the district depth and the months
    # are sums of those rows.
    _grouped(CREATED, 9, "created_at", ["cat", "channel"], cases, counts)
    _sum_up(CREATED, DAY, DAY, 9, 6, ["category", "channel"])
    _sum_up(CREATED, MONTH, DAY, 9, 9, ["category", "channel"])
    _sum_up(CREATED, MONTH, MONTH, 9, 6, ["category", "channel"])
    # a: reported, by area only, down to the village.
    _grouped(AREA, 12, "created_at", [], cases, counts)
    for depth in (9, 6):
        _sum_up(AREA, DAY, DAY, 12, depth, [])
    for depth in (12, 9, 6):
        _sum_up(AREA, MONTH, DAY, depth, depth, [])
    # x: closed; r: rated; s: open now by status.
    _grouped(CLOSED, 9, "closed_at", [], cases.filter(status=CaseStatus.CLOSED, closed_at__isnull=False),
             {"n": Count("pk")})
    _sum_up(CLOSED, DAY, DAY, 9, 6, [])
    _grouped(RATED, 9, "rated_at", [], cases.filter(rated_at__isnull=False, satisfaction__in=sorted(RATINGS)),
             {"n": Count("pk"), "n_satisfied": Count("pk", filter=Q(satisfaction__in=sorted(SATISFIED)))})
    _sum_up(RATED, DAY, DAY, 9, 6, [])
    is_open = cases.filter(status__in=sorted(OPEN_VALUES))
    _grouped(OPEN, 9, None, ["status"], is_open,
             {"n": Count("pk"), "n_red": Count("pk", filter=Q(warning=WarningLevel.RED))})
    _sum_up(OPEN, NONE, NONE, 9, 6, ["status"])


def check_rollups() -> list[str]:
    """Differences between the roll-ups and a rebuild from the cases (empty when exact): for tests
    and `sizhi insight rebuild-rollups --check`. Runs in a transaction it rolls back."""
    problems: list[str] = []

    def snapshot() -> dict[tuple[Any, ...], tuple[int, int, int, int]]:
        out: dict[tuple[Any, ...], tuple[int, int, int, int]] = {}
        for row in CaseRollup.objects.values_list(*COLUMNS):
            if any(row[8:]):
                out[tuple(row[:8])] = tuple(row[8:])  # type: ignore[assignment]
        return out

    kept = snapshot()
    with transaction.atomic():
        sid = transaction.savepoint()
        CaseRollup.objects.all().delete()
        _rebuild()
        fresh = snapshot()
        transaction.savepoint_rollback(sid)
    for key in sorted(set(kept) | set(fresh), key=str):
        if kept.get(key) != fresh.get(key):
            problems.append(f"{key}: kept {kept.get(key)} counted {fresh.get(key)}")
    return problems

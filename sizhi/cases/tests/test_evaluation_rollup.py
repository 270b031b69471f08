"""The 联动考评 roll-up against the event walk: random case histories written through the real
services (and the deadline sweep) at frozen, moving times, compared over many periods; a later
event moves the rolled-up figures exactly; a rebuild and its check; the pages use it."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from io import StringIO
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from sizhi.cases import deadlines, evaluation, evaluation_rollup, linkage, services
from sizhi.cases.errors import CaseError
from sizhi.cases.evaluation import Period
from sizhi.cases.models import Case, CaseEvent, EvaluationRollup, ExtensionRequest
from sizhi.cases.workflow import CaseAction, CaseStatus, Satisfaction
from sizhi.conftest import World, inside
from sizhi.units.models import HandlingUnit

S = CaseStatus
A = CaseAction
ZONE = timezone.get_default_timezone()


class Clock:
    """The services' `timezone.now()`, moved forward by the test."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def forward(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@contextmanager
def clock_at(start: dt.datetime) -> Iterator[Clock]:
    clock = Clock(start)
    with mock.patch("django.utils.timezone.now", side_effect=clock):
        yield clock


def report(world: World) -> Case:
    lat, lng = inside(world.grid_a1)
    return services.report_submit(reporter=world.user("citizen"), description="金业路路口井盖缺失，夜间很危险",
                                  lat=lat, lng=lng)


def moves(world: World, case: Case, rng: random.Random) -> list[Callable[[], Any]]:
    """What the people concerned might do to the case now; most fail their checks, which is fine."""
    u = world.user
    units = [world.village_a1_committee, world.district_a_dept]
    dispatchers = [u("town_dispatcher"), u("district_dispatcher"), u("city_dispatcher")]
    handlers = [u("village_cadre"), u("department_handler")]
    status = case.status
    options: list[Callable[[], Any]] = []
    if status == S.REPORTED:
        options.append(partial(services.case_accept, case=case, actor=u("town_dispatcher")))
    elif status == S.ACCEPTED:
        options.append(partial(services.case_register, case=case, actor=u("town_dispatcher"), category=world.category))
    elif status == S.REGISTERED:
        options += [partial(services.case_dispatch, case=case, actor=d, unit=x) for d in dispatchers for x in units]
    if status in (S.DISPATCHED, S.HANDLING):
        for h in handlers:
            options += [
                partial(services.case_return, case=case, actor=h, reason="不属于本单位职责"),
                partial(linkage.case_escalate, case=case, actor=h, reason="超出本级权限"),
                partial(extend, case, h, dispatchers, rng),
            ]
    if status == S.DISPATCHED:
        options += [partial(services.case_sign_for, case=case, actor=h) for h in handlers] * 3
    elif status == S.HANDLING:
        options += [partial(services.case_handle, case=case, actor=h, result="已处置") for h in handlers] * 3
        options += [partial(linkage.case_suspend, case=case, actor=d, reason="等待施工") for d in dispatchers]
    elif status == S.SUSPENDED:
        options += [partial(linkage.case_resume, case=case, actor=d) for d in dispatchers]
    elif status == S.VERIFYING:
        options += [
            partial(services.case_verify, case=case, actor=u("grid_worker"), passed=True),
            partial(services.case_verify, case=case, actor=u("grid_worker"), passed=False, reason="未处置到位"),
        ]
    elif status == S.VERIFIED:
        options += [partial(services.case_close, case=case, actor=d) for d in dispatchers]
    elif status == S.CLOSED:
        if not case.satisfaction:
            options += [
                partial(services.case_rate, case=case, actor=u("citizen"), satisfaction=s)
                for s in (Satisfaction.SATISFIED, Satisfaction.BASICALLY, Satisfaction.UNSATISFIED)
            ]
        options.append(partial(services.case_reopen, case=case, actor=u("citizen"), reason="问题没有解决"))
    rng.shuffle(options)
    return options


def extend(case: Case, handler: Any, dispatchers: list[Any], rng: random.Random) -> None:
    request = linkage.case_extend_request(case=case, actor=handler, days=rng.choice([1, 3, 20]), reason="材料未到")
    for d in dispatchers:
        try:
            linkage.case_extend_decide(request=request, actor=d, approve=rng.random() < 0.8)
            return
        except CaseError:
            continue


def step(world: World, case: Case, rng: random.Random) -> bool:
    for move in moves(world, case, rng):
        try:
            move()
        except CaseError:
            case.refresh_from_db()
            continue
        case.refresh_from_db()
        return True
    return False


def random_histories(world: World, seed: int, *, cases: int = 10, steps: int = 16) -> None:
    """Cases reported from January 2025 on, each moved `steps` times with gaps from minutes to
    half a year, the sweep run between moves so red cards land as the worker would write them."""
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 6, 9, tzinfo=ZONE)
    with clock_at(start) as clock:
        for _ in range(cases):
            clock.now = start + dt.timedelta(days=rng.uniform(0, 150))
            case = report(world)
            for _ in range(steps):
                gap = rng.choice([0.2, 2, 5, 20, 30, 60, 100, 200, 400, 1500, 4500])
                clock.forward(hours=gap * rng.uniform(0.5, 1.5))
                if rng.random() < 0.5:
                    deadlines.sweep_warnings(now=clock.now)
                if not step(world, case, rng):
                    break


PERIODS = [
    *(Period.month(2025, m) for m in range(1, 13)),
    Period.days(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
    Period.days(dt.date(2025, 2, 10), dt.date(2025, 2, 16)),
    Period.days(dt.date(2025, 3, 3), dt.date(2025, 3, 3)),
    Period.days(dt.date(2025, 4, 15), dt.date(2025, 6, 20)),
    Period.days(dt.date(2025, 7, 1), dt.date(2025, 9, 30)),
    Period.days(dt.date(2025, 9, 29), dt.date(2025, 10, 8)),
]


def all_units() -> list[int]:
    return list(HandlingUnit.objects.order_by("pk").values_list("pk", flat=True))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_histories_through_the_services_roll_up_exactly_as_the_walk_counts(world: World, seed: int) -> None:
    random_histories(world, seed)
    units = all_units()
    totals: dict[str, int] = {}
    for period in PERIODS:
        assert evaluation_rollup.differences(units, period) == []
        for f in evaluation.unit_figures(units, period).values():
            for k, v in f.counts.items():
                totals[k] = totals.get(k, 0) + v
    # The histories do reach every kind of figure, or the comparison above proves little.
    seen = {k for k, v in totals.items() if v}
    assert {"dispatched", "responded", "due", "closed", "handled", "handles", "returns", "rated"} <= seen
    actions = set(CaseEvent.objects.values_list("action", flat=True))
    assert {A.DISPATCH, A.SIGN_FOR, A.HANDLE, A.CLOSE, A.RETURN, A.WARN_RED} <= actions


def rollup_rows() -> list[tuple[Any, ...]]:
    """The table's rows that count something (a live row may sit at zero), seconds rounded."""
    rows = EvaluationRollup.objects.values_list(*evaluation_rollup.COLUMNS)
    width = len(evaluation_rollup.KEY) + len(evaluation_rollup.METRICS)
    return sorted((*r[:width], round(r[width], 3)) for r in rows if any(r[len(evaluation_rollup.KEY):]))


def test_the_rollup_after_a_rebuild_is_the_same_and_the_check_passes(world: World) -> None:
    random_histories(world, 4, cases=6)
    live = rollup_rows()
    assert live
    evaluation_rollup.rebuild()
    assert rollup_rows() == live
    out = StringIO()
    call_command("insight", "rebuild-evaluation", "--check", "--start", "2025-01-01", "--end", "2025-12-31",
                 stdout=out)
    assert "一致" in out.getvalue()


def test_a_later_event_moves_the_rolled_up_figures_exactly(world: World) -> None:
    """A case due in March, dispatched in March: open at the end of March; a closure in April
    and an extension approved before it move March's and April's figures as the walk does."""
    unit = world.village_a1_committee
    march, april = Period.month(2025, 3), Period.month(2025, 4)
    with clock_at(dt.datetime(2025, 3, 24, 9, tzinfo=ZONE)) as clock:
        case = report(world)
        services.case_accept(case=case, actor=world.user("town_dispatcher"))
        services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)
        services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=unit)
        clock.forward(hours=1)
        services.case_sign_for(case=case, actor=world.user("village_cadre"))
        before = evaluation.evaluate([unit], march).units[0].figures
        assert (before["dispatched"], before["responded"], before["due"], before["closed"]) == (1, 1, 1, 0)

        clock.now = dt.datetime(2025, 3, 28, 10, tzinfo=ZONE)  # before the deadline (Fri 28th end of day)
        request = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=3, reason="材料未到")
        linkage.case_extend_decide(request=ExtensionRequest.objects.get(pk=request.pk),
                                   actor=world.user("town_dispatcher"), approve=True)
        moved = evaluation.evaluate([unit], march).units[0].figures
        assert moved["due"] == 0  # the deadline left March
        assert evaluation.evaluate([unit], april).units[0].figures["due"] == 1

        clock.now = dt.datetime(2025, 4, 1, 15, tzinfo=ZONE)
        case.refresh_from_db()
        services.case_handle(case=case, actor=world.user("village_cadre"), result="已处置")
        services.case_verify(case=case, actor=world.user("grid_worker"), passed=True)
        services.case_close(case=case, actor=world.user("town_dispatcher"))
    after = evaluation.evaluate([unit], april).units[0].figures
    assert (after["due"], after["closed"], after["closed_on_time"], after["handled"], after["resolved"]) == (
        1, 1, 1, 1, 1)
    # Closed 8 days after its March dispatch: not within 7 days, whichever way it is read.
    assert evaluation.evaluate([unit], march).units[0].figures["closed_7d"] == 0
    for period in (march, april):
        assert evaluation_rollup.differences([unit.pk], period) == []


def test_red_cards_from_the_sweep_are_counted_without_a_walk(world: World) -> None:
    unit = world.village_a1_committee
    with clock_at(dt.datetime(2025, 5, 5, 9, tzinfo=ZONE)) as clock:
        case = report(world)
        services.case_accept(case=case, actor=world.user("town_dispatcher"))
        services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)
        services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=unit)
        clock.forward(days=30)
        assert deadlines.sweep_warnings(now=clock.now).red == 1
    may = Period.month(2025, 6)  # 4 June: the red card's day
    figures = evaluation.evaluate([unit], may).units[0].figures
    assert figures["overdue"] == 1
    assert evaluation_rollup.differences([unit.pk], may) == []


def test_backdated_events_need_a_rebuild_and_the_check_says_so(world: World) -> None:
    random_histories(world, 5, cases=3)
    moved = CaseEvent.objects.filter(action=A.DISPATCH).order_by("pk").first()
    assert moved is not None
    CaseEvent.objects.filter(pk=moved.pk).update(created_at=moved.created_at - dt.timedelta(days=40))
    periods = ["--start", "2025-01-01", "--end", "2025-12-31"]
    with pytest.raises(CommandError):
        call_command("insight", "rebuild-evaluation", "--check", *periods, stdout=StringIO(), stderr=StringIO())
    call_command("insight", "rebuild-evaluation", stdout=StringIO())
    call_command("insight", "rebuild-evaluation", "--check", *periods, stdout=StringIO())


def test_evaluate_reads_the_rollup_and_the_walk_only_when_asked(world: World) -> None:
    random_histories(world, 6, cases=4)
    units = list(HandlingUnit.objects.select_related("region"))
    period = Period.days(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    with mock.patch.object(evaluation, "_events", side_effect=AssertionError("the walk read events")):
        fast = evaluation.evaluate(units, period, scheme=evaluation.default_scheme())
    slow = evaluation.evaluate(units, period, scheme=evaluation.default_scheme(), walk=True)
    assert [(r.pk, r.rank, r.score) for r in fast.units] == [(r.pk, r.rank, r.score) for r in slow.units]
    assert [(r.pk, r.score) for r in fast.regions] == [(r.pk, r.score) for r in slow.regions]
    assert fast.total.cases == {} and slow.total.cases


def test_the_edges_of_the_walks_window_are_kept(world: World) -> None:
    """Histories the services rarely make: a deadline, a return and a third 核查 failure more
    than LOOKBACK before the period, a case resolved twice in one period, a sign-for more than
    LOOKAHEAD after it. Written as events (each goes through the roll-up's receiver)."""
    from sizhi.cases.tests.test_evaluation import at, dispatch, end_of, ev, new_case

    u = world.village_a1_committee
    far = new_case(world)  # dispatched in January, due in September: the walk does not see it then
    dispatch(far, u, at(6, month=1), sign_due=at(6, 15, month=1), due=end_of(15, month=9))
    ev(far, u, A.SIGN_FOR, at(6, 10, month=1))
    ev(far, u, A.SUSPEND, at(7, 10, month=1))
    back = new_case(world)  # returned in January, dispatched back in September: not seen as shirking
    dispatch(back, u, at(6, month=1), sign_due=at(6, 15, month=1), due=end_of(10, month=1))
    ev(back, u, A.RETURN, at(8, 10, month=1))
    dispatch(back, u, at(10, month=9), sign_due=at(10, 15, month=9), due=end_of(17, month=9))
    ev(back, u, A.SIGN_FOR, at(10, 10, month=9))
    fails = new_case(world)  # two 核查 failures in January, three in September: the window sees three
    dispatch(fails, u, at(6, month=1), sign_due=at(6, 15, month=1), due=end_of(10, month=10))
    for day, month in ((7, 1), (8, 1), (9, 9), (10, 9), (11, 9)):
        ev(fails, u, A.HANDLE, at(day, month=month))
        ev(fails, u, A.VERIFY_FAIL, at(day, 15, month=month))
    twice = new_case(world)  # handled and closed, reopened, handled and closed again in March
    for first in (3, 10):
        dispatch(twice, u, at(first), sign_due=at(first, 15), due=end_of(first + 4))
        ev(twice, u, A.SIGN_FOR, at(first, 10))
        ev(twice, u, A.HANDLE, at(first + 1))
        ev(twice, u, A.CLOSE, at(first + 2))
        ev(twice, u, A.REOPEN, at(first + 3))
    slow = new_case(world)  # signed 40 days after a dispatch on 31 March, by a sign-due further still
    dispatch(slow, u, at(31), sign_due=at(30, month=5), due=end_of(30, month=6))
    ev(slow, u, A.SIGN_FOR, at(10, month=5))

    periods = [*PERIODS, Period.days(dt.date(2025, 9, 1), dt.date(2025, 9, 12)), Period.days(at(31).date(),
                                                                                              at(31).date())]
    for period in periods:
        assert evaluation_rollup.differences([u.pk], period) == []
    september = evaluation.unit_figures([u.pk], Period.month(2025, 9))[u.pk]
    # Due: only the returned case's September deadline; no shirking; failures 1 and 2 of the window early.
    assert (september["due"], september["shirks"]) == (1, 0)
    assert (september.verify_fails_early, september.verify_fails_late) == (2, 1)
    march = evaluation.unit_figures([u.pk], Period.month(2025, 3))[u.pk]
    assert (march["handled"], march["resolved"], march["responded"]) == (1, 1, 2)
    assert evaluation.unit_figures([u.pk], Period.days(dt.date(2025, 3, 31), dt.date(2025, 3, 31)))[u.pk][
        "responded"] == 0


def test_the_generators_cases_roll_up_as_the_walk_counts_them(db: None) -> None:
    """`sizhi demo generate` writes events by COPY, behind the receiver: its rebuild counts them."""
    from sizhi.demo import generate

    generate.generate(scale=600, seed=11, days=120, batch=300)
    assert EvaluationRollup.objects.filter(dispatched__gt=0).exists()
    units = all_units()
    today = timezone.localdate()
    periods = [Period.days(today - dt.timedelta(days=d), today) for d in (0, 6, 29, 119)]
    periods += [Period.days(today - dt.timedelta(days=60), today - dt.timedelta(days=31))]
    for period in periods:
        assert evaluation_rollup.differences(units, period) == []

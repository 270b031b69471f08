"""联动考评 against hand-computed histories: every event is written out with its time, the expected
figures and score are worked out in the comments, and nothing but the events decides them."""

from __future__ import annotations

import datetime as dt
from itertools import count
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sizhi.cases import evaluation, services
from sizhi.cases.evaluation import Figures, Period
from sizhi.cases.models import Case, CaseEvent, EvaluationScheme, SupervisionOrder, SupervisionStatus
from sizhi.cases.tests.test_services_transitions import advance, reported
from sizhi.cases.workflow import CaseAction, CaseStatus, Satisfaction
from sizhi.conftest import World
from sizhi.units.models import HandlingUnit

A = CaseAction
MARCH = Period.month(2025, 3)  # no public holiday in March 2025: Mon–Fri are working days
_serial = count(1)


def at(day: int, hour: int = 9, minute: int = 0, *, month: int = 3) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=timezone.get_default_timezone())


def end_of(day: int, *, month: int = 3) -> dt.datetime:
    return at(day, 23, 59, month=month).replace(second=59)


def new_case(world: World) -> Case:
    n = next(_serial)
    return Case.objects.create(
        number=f"EV{n:06d}", tracking_code=f"ev-tracking-{n:06d}", title=f"考评案件 {n}", description="考评",
        region=world.village_a1, region_code=world.village_a1.code, status=CaseStatus.HANDLING,
    )


def ev(case: Case, unit: HandlingUnit, action: str, when: dt.datetime, /, **data: Any) -> CaseEvent:
    return CaseEvent.objects.create(
        case=case, unit=unit, action=action, to_status=case.status, created_at=when, data=data, is_public=False
    )


def dispatch(case: Case, unit: HandlingUnit, when: dt.datetime, *, sign_due: dt.datetime, due: dt.datetime) -> None:
    ev(case, unit, A.DISPATCH, when, unit=unit.pk, sign_due_at=sign_due.isoformat(), due_at=due.isoformat())


def unit_history(world: World) -> dict[str, Case]:
    """金业路社区居委会 (U) in March 2025, case by case."""
    u = world.village_a1_committee
    c = {name: new_case(world) for name in ("c1", "c2", "c3", "c4", "c5", "c6", "c7")}

    # c1: signed in time, handled, closed on time, rated 满意.
    dispatch(c["c1"], u, at(3, 9), sign_due=at(3, 15), due=end_of(10))
    ev(c["c1"], u, A.SIGN_FOR, at(3, 10))
    ev(c["c1"], u, A.HANDLE, at(3, 16))
    ev(c["c1"], u, A.CLOSE, at(4, 10))
    ev(c["c1"], u, A.RATE, at(5, 10), satisfaction=Satisfaction.SATISFIED)

    # c2: signed in time; 核查 fails three times; red card on the 12th; closed late; rated 基本满意.
    dispatch(c["c2"], u, at(4, 9), sign_due=at(4, 15), due=end_of(11))
    ev(c["c2"], u, A.SIGN_FOR, at(4, 9, 30))
    ev(c["c2"], u, A.HANDLE, at(5, 10))
    ev(c["c2"], u, A.VERIFY_FAIL, at(5, 15))
    ev(c["c2"], u, A.HANDLE, at(6, 10))
    ev(c["c2"], u, A.VERIFY_FAIL, at(6, 15))
    ev(c["c2"], u, A.HANDLE, at(7, 10))
    ev(c["c2"], u, A.VERIFY_FAIL, at(7, 15))
    ev(c["c2"], u, A.HANDLE, at(10, 10))
    ev(c["c2"], u, A.WARN_RED, at(12, 0, 5))
    ev(c["c2"], u, A.CLOSE, at(12, 10))
    ev(c["c2"], u, A.RATE, at(13, 10), satisfaction=Satisfaction.BASICALLY)

    # c3: signed late (16:00 against 13:00, still within 24 h), then suspended and never resumed.
    dispatch(c["c3"], u, at(5, 9), sign_due=at(5, 13), due=end_of(12))
    ev(c["c3"], u, A.SIGN_FOR, at(5, 16))
    ev(c["c3"], u, A.SUSPEND, at(6, 10))

    # c4: due Thu 13th, extended by 2 working days (→ Mon 17th 23:59:59), closed on the 17th: on time.
    dispatch(c["c4"], u, at(6, 9), sign_due=at(6, 15), due=end_of(13))
    ev(c["c4"], u, A.SIGN_FOR, at(6, 11))
    ev(c["c4"], u, A.EXTEND_APPROVE, at(12, 10), days=2, request=1)
    ev(c["c4"], u, A.HANDLE, at(17, 9))
    ev(c["c4"], u, A.CLOSE, at(17, 11))
    ev(c["c4"], u, A.RATE, at(18, 10), satisfaction=Satisfaction.UNSATISFIED)

    # c5: dispatched and closed in February, due 3 March: due in March, closed on time before it began.
    dispatch(c["c5"], u, at(24, 9, month=2), sign_due=at(24, 15, month=2), due=end_of(3))
    ev(c["c5"], u, A.SIGN_FOR, at(24, 10, month=2))
    ev(c["c5"], u, A.HANDLE, at(26, 10, month=2))
    ev(c["c5"], u, A.CLOSE, at(27, 10, month=2))

    # c6: returned on 3 March, before its deadline (4 March): no longer U's to close.
    dispatch(c["c6"], u, at(25, 9, month=2), sign_due=at(25, 15, month=2), due=end_of(4))
    ev(c["c6"], u, A.SIGN_FOR, at(25, 10, month=2))
    ev(c["c6"], u, A.RETURN, at(3, 10))

    # c7: returned on 6 March, after its deadline (5 March): still due, and not closed.
    dispatch(c["c7"], u, at(26, 9, month=2), sign_due=at(26, 15, month=2), due=end_of(5))
    ev(c["c7"], u, A.SIGN_FOR, at(26, 10, month=2))
    ev(c["c7"], u, A.RETURN, at(6, 10))
    return c


def ids(cases: dict[str, Case], *names: str) -> set[int]:
    return {cases[n].pk for n in names}


def test_the_figures_of_a_unit_match_the_hand_computed_history(world: World) -> None:
    c = unit_history(world)
    f = evaluation.unit_figures([world.village_a1_committee.pk], MARCH)[world.village_a1_committee.pk]

    # 响应率: dispatches in March c1 c2 c3 c4 = 4; signed by sign_due_at c1 c2 c4 = 3 → 3/4.
    assert (f["dispatched"], f["responded"]) == (4, 3)
    assert f.response_rate == 0.75
    assert f.cases["responded"] == ids(c, "c1", "c2", "c4")
    # 24小时签收率: all four signed within 24 h (c3 after 7 h) → 4/4.
    assert f.sign_24h_rate == 1.0
    # 7日办结率: only c1 closed within 7 days of its dispatch (c2 after 8 days, c4 after 11) → 1/4.
    assert f.close_7d_rate == 0.25

    # 应结案: deadlines in March c1 (10th) c2 (11th) c3 (12th) c4 (17th, extended) c5 (3rd) c7 (5th) = 6;
    # c6 was returned before its deadline.
    assert f.cases["due"] == ids(c, "c1", "c2", "c3", "c4", "c5", "c7")
    assert f["due"] == 6
    assert f.cases["suspended"] == ids(c, "c3")                      # 缓办数 1
    assert f.cases["closed"] == ids(c, "c1", "c2", "c4", "c5")       # 结案数 4
    assert f.cases["closed_on_time"] == ids(c, "c1", "c4", "c5")     # 按期结案数 3 (c2 closed a day late)
    # 按期结案率 = 3 ÷ (6 − 1) = 0.6; 结案率 = 4 ÷ (6 − 1) = 0.8.
    assert f.on_time_rate == pytest.approx(0.6)
    assert f.close_rate == pytest.approx(0.8)

    # 解决率: cases handled in March c1 c2 c4, all three closed by the end → 3/3.
    assert f.cases["handled"] == ids(c, "c1", "c2", "c4")
    assert f.resolution_rate == 1.0
    # 满意率: rated c1 满意, c2 基本满意, c4 不满意 → 2/3.
    assert (f["rated"], f["satisfied"]) == (3, 2)
    assert f.satisfaction_rate == pytest.approx(2 / 3)
    # 返工率: HANDLE events in March c1 ×1, c2 ×4, c4 ×1 = 6; VERIFY_FAIL 3 → 3/6.
    assert (f["handles"], f["verify_fails"]) == (6, 3)
    assert f.rework_rate == 0.5
    # The first two fails of c2 cost 0.2 each, the third 0.5.
    assert (f.verify_fails_early, f.verify_fails_late) == (2, 1)

    # Working hours from dispatch to first handling (office hours 08:30–12:00, 14:30–18:00):
    #   c1 Mon 3rd 09:00 → 16:00             = 3 + 1.5            =  4.5
    #   c2 Tue 4th 09:00 → Wed 5th 10:00     = 3 + 3.5 + 1.5      =  8
    #   c4 Thu 6th 09:00 → Mon 17th 09:00    = 6.5 + 7 + 5×7 + 0.5 = 49
    # mean (4.5 + 8 + 49) / 3 = 20.5
    assert f.avg_handle_hours == pytest.approx(20.5)

    assert f.cases["returns"] == ids(c, "c6", "c7") and f["returns"] == 2
    assert f.cases["overdue"] == ids(c, "c2") and f["overdue"] == 1
    assert f["shirks"] == 0


def test_the_score_follows_the_default_scheme(world: World) -> None:
    unit_history(world)
    scheme = evaluation.default_scheme()
    f = evaluation.unit_figures([world.village_a1_committee.pk], MARCH)[world.village_a1_committee.pk]
    s = evaluation.score(f, scheme)

    assert s.response == pytest.approx(22.5)                # 30 × 0.75
    assert s.resolution == pytest.approx(25.0)              # 按期结案率 60 % < 70 %: 35 − (70 − 60) × 1
    assert s.satisfaction == pytest.approx(35 * 2 / 3)      # 35 × 2/3 = 23.333…
    assert s.deductions == pytest.approx(0.9)               # 2 × 0.2 + 1 × 0.5
    assert s.total == pytest.approx(69.93)                  # 22.5 + 25 + 23.333 − 0.9 = 69.933 → 69.93


def test_a_configured_scheme_changes_the_score(world: World) -> None:
    unit_history(world)
    scheme = EvaluationScheme.objects.create(
        name="金华口径", is_active=True, weights={"response": 20, "resolution": 50, "satisfaction": 30},
        deductions={"verify_fail_each": 1, "return_from_third_each": 2}, full_marks_threshold=60,
    )
    assert evaluation.active_scheme() == scheme
    ev_ = evaluation.evaluate([world.village_a1_committee], MARCH)
    # 20 × 0.75 + 50 (60 % reaches the line) + 30 × 2/3 − (2 × 1 + 1 × 2) = 15 + 50 + 20 − 4 = 81
    assert ev_.units[0].score.total == pytest.approx(81.0)


def test_ranking_orders_units_by_score_and_regions_sum_their_units(world: World) -> None:
    unit_history(world)
    dept = world.district_a_dept
    case = new_case(world)
    # 老城区城市管理局: one dispatch signed in time, closed on time, rated 满意 → 30 + 35 + 35 = 100.
    dispatch(case, dept, at(10, 9), sign_due=at(10, 15), due=end_of(14))
    ev(case, dept, A.SIGN_FOR, at(10, 10))
    ev(case, dept, A.HANDLE, at(11, 10))
    ev(case, dept, A.CLOSE, at(11, 15))
    ev(case, dept, A.RATE, at(12, 9), satisfaction=Satisfaction.SATISFIED)
    idle = world.town_a_centre  # nothing happened: no score, no rank

    result = evaluation.evaluate(
        [world.village_a1_committee, dept, idle], MARCH, regions=[world.town_a, world.district_a],
        scheme=evaluation.default_scheme(),
    )

    assert [(r.name, r.rank, r.score.total) for r in result.units] == [
        ("老城区城市管理局", 1, 100.0),
        ("金业路社区居委会", 2, pytest.approx(69.93)),
        ("西关街道综治中心", None, None),
    ]
    town, district = result.region(world.town_a.pk), result.region(world.district_a.pk)
    assert town is not None and district is not None
    assert [r.name for r in result.regions] == ["老城区", "西关街道"]  # ranked like units
    # 西关街道 holds the committee and the town centre; 老城区 holds all three units.
    assert (town.name, town.figures["dispatched"]) == ("西关街道", 4)
    assert district.figures["dispatched"] == 5 and district.figures["due"] == 7
    # District: 响应率 4/5; 按期结案率 4/(7−1); 满意率 3/4; deductions 0.9:
    # 30 × 0.8 + (35 − (70 − 66.67)) + 35 × 0.75 − 0.9 = 24 + 31.667 + 26.25 − 0.9 = 81.02
    assert district.score.total == pytest.approx(81.02)


def test_editing_a_case_afterwards_does_not_change_its_figures(world: World) -> None:
    c = unit_history(world)
    before = evaluation.evaluate([world.village_a1_committee], MARCH, scheme=evaluation.default_scheme())

    Case.objects.filter(pk__in=[x.pk for x in c.values()]).update(
        due_at=at(1), closed_at=None, satisfaction=Satisfaction.UNSATISFIED, status=CaseStatus.REPORTED,
        assigned_unit=world.district_a_dept, return_count=9, dispatched_at=at(28),
    )

    after = evaluation.evaluate([world.village_a1_committee], MARCH, scheme=evaluation.default_scheme())
    assert after.units[0].score == before.units[0].score
    assert after.units[0].figures.counts == before.units[0].figures.counts


def test_nothing_to_divide_by_gives_none_never_an_error(world: World) -> None:
    empty = Figures()
    assert empty.response_rate is None and empty.on_time_rate is None and empty.close_rate is None
    assert empty.resolution_rate is None and empty.satisfaction_rate is None and empty.rework_rate is None
    assert empty.avg_handle_hours is None and empty.sign_24h_rate is None and empty.close_7d_rate is None
    assert evaluation.score(empty, evaluation.default_scheme()).total is None

    # Every case due is suspended: 应结案 − 缓办 = 0, so both closure rates are None, and the score
    # rests on the response alone, scaled to the full 100: 30 × 1 × 100 / 30.
    case = new_case(world)
    u = world.village_a1_committee
    dispatch(case, u, at(3, 9), sign_due=at(3, 15), due=end_of(10))
    ev(case, u, A.SIGN_FOR, at(3, 10))
    ev(case, u, A.SUSPEND, at(4, 10))
    f = evaluation.unit_figures([u.pk], MARCH)[u.pk]
    assert (f["due"], f["suspended"]) == (1, 1)
    assert f.on_time_rate is None and f.close_rate is None
    assert evaluation.score(f, evaluation.default_scheme()).total == 100.0


def test_a_resume_moves_the_deadline_by_the_suspended_working_hours(world: World) -> None:
    case = new_case(world)
    u = world.village_a1_committee
    # Due Fri 28 March 23:59:59; suspended 4 working hours: due Mon 31 March 15:00
    # (08:30–12:00 is 3.5 h, then 14:30 + 0.5 h), still in March.
    dispatch(case, u, at(24, 9), sign_due=at(24, 15), due=end_of(28))
    ev(case, u, A.SIGN_FOR, at(24, 10))
    ev(case, u, A.SUSPEND, at(25, 9))
    ev(case, u, A.RESUME, at(25, 13), suspended_hours=4.0)
    ev(case, u, A.HANDLE, at(31, 9))
    ev(case, u, A.CLOSE, at(31, 14, 59))
    f = evaluation.unit_figures([u.pk], MARCH)[u.pk]
    assert (f["due"], f["closed"], f["closed_on_time"], f["suspended"]) == (1, 1, 1, 0)


def test_a_return_that_comes_back_to_the_same_unit_counts_as_shirking(world: World) -> None:
    case = new_case(world)
    u = world.village_a1_committee
    dispatch(case, u, at(3, 9), sign_due=at(3, 15), due=end_of(10))
    ev(case, u, A.RETURN, at(3, 11))
    dispatch(case, u, at(4, 9), sign_due=at(4, 15), due=end_of(11))  # the centre rules it is U's after all
    ev(case, u, A.SIGN_FOR, at(4, 10))
    f = evaluation.unit_figures([u.pk], MARCH)[u.pk]
    assert (f["returns"], f["shirks"], f["dispatched"], f["responded"]) == (1, 1, 2, 1)
    s = evaluation.score(f, evaluation.default_scheme())
    # 响应率 1/2 only (no due case closed yet in March: c is due the 11th and open → 按期 0/1 = 0 %):
    # 30 × 0.5 + max(0, 35 − 70) + no rating; scaled over 65: (15 + 0) × 100/65 = 23.08; − 1 shirk
    assert s.total == pytest.approx(22.08)


def test_a_sign_for_after_the_period_end_settles_the_response(world: World) -> None:
    case = new_case(world)
    u = world.village_a1_committee
    # Dispatched Mon 31 March 17:00, sign-for due Tue 1 April 11:00, signed 1 April 10:00.
    dispatch(case, u, at(31, 17), sign_due=at(1, 11, month=4), due=end_of(7, month=4))
    ev(case, u, A.SIGN_FOR, at(1, 10, month=4))
    f = evaluation.unit_figures([u.pk], MARCH)[u.pk]
    assert (f["dispatched"], f["responded"], f["signed_24h"]) == (1, 1, 1)
    assert f["due"] == 0  # its deadline is in April


def test_supervision_orders_received_late_and_open(world: World) -> None:
    u = world.village_a1_committee
    issuer = world.user("town_dispatcher")
    answered_late = SupervisionOrder.objects.create(
        unit=u, issued_by=issuer, issuer_level="town", reason="督办", respond_by=dt.date(2025, 3, 12),
        status=SupervisionStatus.ANSWERED, response="已办", responded_at=at(14, 10), created_at=at(10),
    )
    still_open = SupervisionOrder.objects.create(
        unit=u, issued_by=issuer, issuer_level="town", reason="督办", respond_by=dt.date(2025, 3, 25),
        created_at=at(20),
    )
    SupervisionOrder.objects.create(  # answered in time: counts only as received
        unit=u, issued_by=issuer, issuer_level="town", reason="督办", respond_by=dt.date(2025, 3, 28),
        status=SupervisionStatus.ANSWERED, response="已办", responded_at=at(27, 10), created_at=at(26),
    )
    f = evaluation.unit_figures([u.pk], MARCH)[u.pk]
    assert f["supervision_received"] == 3
    assert f.orders["supervision_late"] == {answered_late.pk}
    assert f.orders["supervision_open_overdue"] == {still_open.pk}


def test_summons_list_follows_the_thresholds(world: World, settings: Any) -> None:
    unit_history(world)  # U: 2 returns, 1 red card
    result = evaluation.evaluate([world.village_a1_committee, world.district_a_dept], MARCH)
    assert result.summons() == []  # defaults 5 and 5

    settings.SIZHI_SUMMONS_RETURNS = 2
    assert [r.name for r in result.summons()] == ["金业路社区居委会"]
    settings.SIZHI_SUMMONS_RETURNS = 3
    assert result.summons() == []
    assert [r.name for r in result.summons(overdue=1)] == ["金业路社区居委会"]
    # A threshold below 1 is taken as 1: a unit with no overdue case and no return is never summoned.
    assert [r.name for r in result.summons(overdue=0, returns=0)] == ["金业路社区居委会"]


def test_figures_are_read_in_a_fixed_number_of_queries(world: World) -> None:
    unit_history(world)
    units = list(HandlingUnit.objects.select_related("region"))
    evaluation.active_scheme()
    with CaptureQueriesContext(connection) as few:
        evaluation.evaluate(units[:1], MARCH, scheme=evaluation.default_scheme())
    for _ in range(5):
        unit_history(world)
    with CaptureQueriesContext(connection) as many:
        evaluation.evaluate(units, MARCH, scheme=evaluation.default_scheme())
    # Events and supervision orders, plus at most one calendar-override read per year touched.
    assert len(many) <= len(few) + 1 <= 5


def test_figures_through_the_real_services_land_on_the_unit(world: World) -> None:
    """The services write CaseEvent.unit as evaluation expects it: dispatch, sign-for, handling,
    closure and rating all count for the unit the case was dispatched to."""
    case = advance(world, reported(world), CaseStatus.CLOSED)
    services.case_rate(case=case, actor=world.user("citizen"), satisfaction=Satisfaction.SATISFIED)
    f = evaluation.unit_figures([world.village_a1_committee.pk], Period.this_month())[world.village_a1_committee.pk]
    # The month may have turned between dispatch and now only in a run straddling midnight.
    assert (f["dispatched"], f["signed_24h"], f["handles"], f["rated"], f["satisfied"]) == (1, 1, 1, 1, 1)
    assert f.cases["handled"] == f.cases["resolved"] == {case.pk}


def test_period_parsing_and_bounds() -> None:
    p = Period.month(2025, 12)
    assert (p.start, p.end, str(p), p.query()) == (dt.date(2025, 12, 1), dt.date(2026, 1, 1), "2025-12",
                                                  {"month": "2025-12"})
    q = Period.days(dt.date(2025, 3, 3), dt.date(2025, 3, 9))
    assert q.query() == {"start": "2025-03-03", "end": "2025-03-09"} and not q.is_month
    assert at(9, 23, 59) in q and at(10, 0) not in q
    assert q.start_at.utcoffset() == dt.timedelta(hours=8)
    with pytest.raises(ValueError):
        Period(dt.date(2025, 3, 3), dt.date(2025, 3, 3))


def test_at_most_one_scheme_is_active_and_a_malformed_one_is_not_used(db: None) -> None:
    EvaluationScheme.objects.create(name="甲", is_active=True)
    EvaluationScheme.objects.create(name="乙")
    with pytest.raises(IntegrityError), transaction.atomic():
        EvaluationScheme.objects.create(name="丙", is_active=True)

    bad = EvaluationScheme(name="丁", weights={"response": "thirty"}, deductions={"bribe_each": 5})
    with pytest.raises(ValidationError) as exc:
        bad.full_clean()
    assert set(exc.value.message_dict) == {"weights", "deductions"}
    with pytest.raises(ValidationError):
        EvaluationScheme(name="戊", weights={"response": 0, "resolution": 0, "satisfaction": 0}).full_clean()
    EvaluationScheme(name="己", deductions={"shirk_each": 2}).full_clean()  # a subset of deductions is fine

    EvaluationScheme.objects.filter(name="甲").update(weights={"response": "thirty"})
    assert evaluation.active_scheme().pk is None  # the defaults, not a crash

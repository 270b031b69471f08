"""What the case services refuse: every (status, action) pair the transition table does not
allow, and the guards on reasons, verification, closure, rating and reopening. Each refusal
carries its stable code and leaves the case, its events and the outbox exactly as they were."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from sizhi.cases import linkage, services
from sizhi.cases.errors import CaseError, CasePermissionDenied, TransitionNotAllowed
from sizhi.cases.models import Case, CaseEvent, ExtensionRequest
from sizhi.cases.workflow import (
    OBJECT_ACTIONS,
    SYSTEM_ACTIONS,
    TRANSITIONS,
    CaseAction,
    CaseStatus,
    RejectionKind,
    Satisfaction,
)
from sizhi.conftest import World, inside
from sizhi.notify.models import Notification
from sizhi.units.models import HandlingUnit, UnitKind

A = CaseAction
S = CaseStatus
WITH_UNIT = {S.DISPATCHED, S.HANDLING, S.VERIFYING, S.VERIFIED, S.CLOSED}
WITH_HANDLER = {S.HANDLING, S.VERIFYING, S.VERIFIED, S.CLOSED}


def make_case(world: World, status: str, **fields: object) -> Case:
    """A case of grid A1-1 reported by 张三, put straight into `status` with the fields that
    status implies (unit, handler, closure) and, from VERIFYING on, a handling event."""
    code = secrets.token_urlsafe(16)
    lat, lng = inside(world.grid_a1)
    now = timezone.now()
    values: dict[str, object] = {
        "number": f"T{code[:20]}", "tracking_code": code, "title": "井盖缺失", "description": "金业路井盖缺失",
        "status": status, "reporter": world.user("citizen"), "lat": lat, "lng": lng, "grid": world.grid_a1,
        "region": world.village_a1, "region_code": world.village_a1.code, "category": world.category,
        "assigned_unit": world.village_a1_committee if status in WITH_UNIT else None,
        "handler": world.user("village_cadre") if status in WITH_HANDLER else None,
        "rejection_kind": RejectionKind.INVALID if status == S.REJECTED else "",
        "closed_at": now if status in {S.CLOSED, S.REJECTED} else None,
    }
    values.update(fields)
    case = Case.objects.create(**values)
    if status in {S.VERIFYING, S.VERIFIED, S.CLOSED}:
        CaseEvent.objects.create(
            case=case, action=A.HANDLE, from_status=S.HANDLING, to_status=S.VERIFYING, actor=case.handler,
            reason="已处置",
        )
    return case


@contextmanager
def unchanged(case: Case) -> Iterator[None]:
    """Asserts that the block changes neither the case row, nor its events, nor the outbox."""
    row = Case.objects.values().get(pk=case.pk)
    events = CaseEvent.objects.filter(case=case).count()
    notes = Notification.objects.count()
    yield
    assert Case.objects.values().get(pk=case.pk) == row
    assert CaseEvent.objects.filter(case=case).count() == events
    assert Notification.objects.count() == notes


# Each action with arguments that would be accepted if the status allowed it, by an actor who
# is permitted to take it on the case make_case builds.
def call(world: World, case: Case, action: str, actor: str | None = None) -> CaseEvent | ExtensionRequest:
    u = world.user
    calls: dict[str, tuple[str, Callable[..., CaseEvent | ExtensionRequest], dict[str, object]]] = {
        A.ACCEPT: ("town_dispatcher", services.case_accept, {}),
        A.REJECT: ("town_dispatcher", services.case_reject, {"kind": RejectionKind.INVALID, "reason": "不属实"}),
        A.REGISTER: ("town_dispatcher", services.case_register, {"category": world.category}),
        A.DISPATCH: ("town_dispatcher", services.case_dispatch, {"unit": world.village_a1_committee}),
        A.SIGN_FOR: ("village_cadre", services.case_sign_for, {}),
        A.RETURN: ("village_cadre", services.case_return, {"reason": "不属于我单位"}),
        A.HANDLE: ("village_cadre", services.case_handle, {"result": "已处置"}),
        A.VERIFY_PASS: ("grid_worker", services.case_verify, {"passed": True}),
        A.VERIFY_FAIL: ("grid_worker", services.case_verify, {"passed": False, "reason": "未修好"}),
        A.CLOSE: ("town_dispatcher", services.case_close, {}),
        A.ESCALATE: ("village_cadre", linkage.case_escalate, {"reason": "超出本级权限"}),
        A.DELEGATE: ("district_dispatcher", linkage.case_delegate, {"level": "town", "reason": "请街道办理"}),
        A.EXTEND_REQUEST: ("village_cadre", linkage.case_extend_request, {"days": 3, "reason": "等待材料"}),
        A.SUSPEND: ("town_dispatcher", linkage.case_suspend, {"reason": "等待司法鉴定"}),
        A.RESUME: ("town_dispatcher", linkage.case_resume, {}),
        A.RATE: ("citizen", services.case_rate, {"satisfaction": Satisfaction.SATISFIED}),
        A.REOPEN: ("citizen", services.case_reopen, {"reason": "没有解决"}),
    }
    default_actor, service, kwargs = calls[action]
    name = actor or default_actor
    return service(case=case, actor=u(name), **kwargs)


# Actions a person starts on the case itself; the sweep's warnings and the actions taken on a
# sub-task or an extension request are refused the same way in test_linkage.py.
CASE_ACTIONS = [a for a in TRANSITIONS if a != A.SUBMIT and a not in SYSTEM_ACTIONS | OBJECT_ACTIONS]
FORBIDDEN = [
    (status, action)
    for status in CaseStatus.values
    for action in CASE_ACTIONS
    if status not in TRANSITIONS[action].sources
]


def test_forbidden_pairs_cover_everything_the_table_does_not_allow() -> None:
    allowed = sum(len(TRANSITIONS[a].sources) for a in CASE_ACTIONS)
    assert len(FORBIDDEN) + allowed == len(CaseStatus.values) * len(CASE_ACTIONS)
    assert (S.CLOSED, A.REOPEN) not in FORBIDDEN
    assert (S.REJECTED, A.REOPEN) in FORBIDDEN


@pytest.mark.parametrize(("status", "action"), FORBIDDEN)
def test_action_not_in_the_transition_table_is_refused(world: World, status: str, action: str) -> None:
    # given a case in a status the action does not start from
    case = make_case(world, status)

    # when someone who could otherwise take the action tries it
    with unchanged(case), pytest.raises(TransitionNotAllowed) as exc:
        call(world, case, action)

    # then it is refused with the action's own code, as a conflict, and nothing moved
    assert exc.value.code == f"case_{action}_not_allowed"
    assert exc.value.http_status == 409
    assert (exc.value.action, exc.value.status) == (action, status)


# --- who may not act ---------------------------------------------------------------------------

SOURCE: dict[str, CaseStatus] = {
    A.ACCEPT: S.REPORTED, A.REJECT: S.REPORTED, A.REGISTER: S.ACCEPTED, A.DISPATCH: S.REGISTERED,
    A.SIGN_FOR: S.DISPATCHED, A.RETURN: S.HANDLING, A.HANDLE: S.HANDLING, A.VERIFY_PASS: S.VERIFYING,
    A.VERIFY_FAIL: S.VERIFYING, A.CLOSE: S.VERIFIED, A.RATE: S.CLOSED, A.REOPEN: S.CLOSED,
}
# action: people who must be refused on a case of grid A1-1 assigned to 金业路社区居委会
REFUSED = {
    A.ACCEPT: ["town_dispatcher_b", "grid_worker", "village_cadre", "leader", "citizen", "system_admin"],
    A.REJECT: ["town_dispatcher_b", "department_handler", "leader", "citizen"],
    A.REGISTER: ["town_dispatcher_b", "village_cadre", "leader"],
    A.DISPATCH: ["town_dispatcher_b", "party_secretary", "leader"],
    A.SIGN_FOR: ["department_handler", "grid_worker_b", "town_dispatcher_b", "leader", "citizen"],
    A.RETURN: ["department_handler", "town_dispatcher_b", "leader"],
    A.HANDLE: ["department_handler", "town_dispatcher_b", "leader", "citizen"],
    A.VERIFY_PASS: ["village_cadre", "party_secretary", "grid_worker_b", "town_dispatcher_b", "leader"],
    A.VERIFY_FAIL: ["village_cadre", "department_handler", "leader"],
    A.CLOSE: ["town_dispatcher_b", "grid_worker", "village_cadre", "leader"],
    A.RATE: ["citizen2", "town_dispatcher", "leader"],
    A.REOPEN: ["citizen2", "town_dispatcher", "leader"],
}


@pytest.mark.parametrize(("action", "actor"), [(a, who) for a, people in REFUSED.items() for who in people])
def test_action_by_someone_without_the_right_is_refused(world: World, action: str, actor: str) -> None:
    case = make_case(world, SOURCE[action])
    if action == A.REOPEN:
        Case.objects.filter(pk=case.pk).update(satisfaction=Satisfaction.UNSATISFIED, rated_at=timezone.now())
        case.refresh_from_db()

    with unchanged(case), pytest.raises(CasePermissionDenied) as exc:
        call(world, case, action, actor=actor)

    assert exc.value.http_status == 403


def test_inactive_membership_gives_no_rights(world: World) -> None:
    dispatcher = world.user("town_dispatcher")
    dispatcher.memberships.update(is_active=False)
    case = make_case(world, S.REPORTED)

    with unchanged(case), pytest.raises(CasePermissionDenied):
        services.case_accept(case=case, actor=dispatcher)


def test_deactivated_account_gives_no_rights(world: World) -> None:
    dispatcher = world.user("town_dispatcher")
    dispatcher.is_active = False
    dispatcher.save()
    case = make_case(world, S.REPORTED)

    with unchanged(case), pytest.raises(CasePermissionDenied):
        services.case_accept(case=case, actor=dispatcher)


# --- reasons -----------------------------------------------------------------------------------

BLANK = ["", "   ", "\u200b\u200b", "\x00\x00", "\u202e", "\ud800"]


@pytest.mark.parametrize("reason", BLANK)
@pytest.mark.parametrize("action", [A.RETURN, A.VERIFY_FAIL, A.REJECT])
def test_reason_is_required(world: World, action: str, reason: str) -> None:
    case = make_case(world, SOURCE[action])
    u = world.user

    with unchanged(case), pytest.raises(CaseError) as exc:
        if action == A.RETURN:
            services.case_return(case=case, actor=u("village_cadre"), reason=reason)
        elif action == A.VERIFY_FAIL:
            services.case_verify(case=case, actor=u("grid_worker"), passed=False, reason=reason)
        else:
            services.case_reject(case=case, actor=u("town_dispatcher"), kind=RejectionKind.INVALID, reason=reason)

    assert exc.value.code == "reason_required"
    assert exc.value.field == "reason"


@pytest.mark.parametrize("reason", BLANK)
def test_handling_result_is_required(world: World, reason: str) -> None:
    case = make_case(world, S.HANDLING)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_handle(case=case, actor=world.user("village_cadre"), result=reason)

    assert exc.value.code == "reason_required"


def test_reopen_reason_is_required(world: World) -> None:
    case = make_case(world, S.CLOSED, satisfaction=Satisfaction.UNSATISFIED, rated_at=timezone.now())

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_reopen(case=case, actor=world.user("citizen"), reason=" \u200b ")

    assert exc.value.code == "reason_required"


def test_reason_over_2000_characters_is_refused(world: World) -> None:
    case = make_case(world, S.HANDLING)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_return(case=case, actor=world.user("village_cadre"), reason="理" * 2001)

    assert exc.value.code == "reason_too_long"


def test_verify_pass_needs_no_reason(world: World) -> None:
    case = make_case(world, S.VERIFYING)

    services.case_verify(case=case, actor=world.user("grid_worker"), passed=True, reason="")

    case.refresh_from_db()
    assert case.status == S.VERIFIED


# --- reject ------------------------------------------------------------------------------------


def test_reject_with_an_unknown_kind_is_refused(world: World) -> None:
    case = make_case(world, S.REPORTED)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_reject(case=case, actor=world.user("town_dispatcher"), kind="spam", reason="广告")

    assert exc.value.code == "rejection_kind_invalid"


def test_reject_as_duplicate_needs_the_earlier_case(world: World) -> None:
    case = make_case(world, S.REPORTED)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_reject(
            case=case, actor=world.user("town_dispatcher"), kind=RejectionKind.DUPLICATE, reason="重复"
        )

    assert exc.value.code == "duplicate_of_required"


def test_case_cannot_be_a_duplicate_of_itself(world: World) -> None:
    case = make_case(world, S.REPORTED)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_reject(
            case=case, actor=world.user("town_dispatcher"), kind=RejectionKind.DUPLICATE, reason="重复",
            duplicate_of=case,
        )

    assert exc.value.code == "duplicate_of_self"


@pytest.mark.parametrize("kind", [RejectionKind.INVALID, RejectionKind.NOT_OUR_BUSINESS])
def test_only_a_duplicate_rejection_links_another_case(world: World, kind: str) -> None:
    earlier = make_case(world, S.HANDLING)
    case = make_case(world, S.REPORTED)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_reject(
            case=case, actor=world.user("town_dispatcher"), kind=kind, reason="不属实", duplicate_of=earlier
        )

    assert exc.value.code == "duplicate_of_unexpected"


# --- register and dispatch ---------------------------------------------------------------------


def test_register_without_a_category_is_refused(world: World) -> None:
    case = make_case(world, S.ACCEPTED, category=None)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_register(case=case, actor=world.user("town_dispatcher"))

    assert exc.value.code == "category_required"


def test_register_with_an_inactive_category_is_refused(world: World) -> None:
    case = make_case(world, S.ACCEPTED, category=None)
    world.category.is_active = False
    world.category.save()

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)

    assert exc.value.code == "category_inactive"


def test_dispatch_rejects_unit_outside_scope(world: World) -> None:
    # the other town's centre is neither in 西关街道's scope nor contains the case
    case = make_case(world, S.REGISTERED)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.town_b_centre)

    assert exc.value.code == "dispatch_unit_out_of_scope"
    assert exc.value.field == "unit"


def test_dispatch_rejects_a_unit_above_the_dispatchers_level(world: World) -> None:
    # the district department contains the case, but a town dispatcher cannot command it
    case = make_case(world, S.REGISTERED)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.district_a_dept)

    assert exc.value.code == "dispatch_unit_out_of_scope"


def test_dispatch_rejects_a_unit_whose_area_does_not_contain_the_case(world: World) -> None:
    # 周公庙社区居委会 is in the dispatcher's town, but the case is in 金业路社区
    neighbour = HandlingUnit.objects.create(
        name="周公庙社区居委会", kind=UnitKind.VILLAGE_COMMITTEE, region=world.village_a2
    )
    case = make_case(world, S.REGISTERED)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=neighbour)

    assert exc.value.code == "dispatch_unit_out_of_scope"


def test_dispatch_rejects_an_inactive_unit(world: World) -> None:
    world.village_a1_committee.is_active = False
    world.village_a1_committee.save()
    case = make_case(world, S.REGISTERED)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)

    assert exc.value.code == "dispatch_unit_out_of_scope"


# --- verify and close --------------------------------------------------------------------------


@pytest.mark.parametrize("passed", [True, False])
def test_handler_cannot_verify_own_work_as_grid_worker(world: World, passed: bool) -> None:
    # given the grid worker of A1-1 handled the case for the village committee
    case = make_case(world, S.VERIFYING, handler=world.user("grid_worker"))

    # when they try to verify it themselves
    with unchanged(case), pytest.raises(CasePermissionDenied):
        services.case_verify(case=case, actor=world.user("grid_worker"), passed=passed, reason="自查")


def test_handler_cannot_verify_own_work_as_dispatcher(world: World) -> None:
    # given the town dispatcher's own centre was dispatched the case and the dispatcher handled it
    case = make_case(world, S.VERIFYING, assigned_unit=world.town_a_centre, handler=world.user("town_dispatcher"))

    with unchanged(case), pytest.raises(CasePermissionDenied):
        services.case_verify(case=case, actor=world.user("town_dispatcher"), passed=True)

    # while another dispatcher in scope may
    services.case_verify(case=case, actor=world.user("district_dispatcher"), passed=True)
    case.refresh_from_db()
    assert case.status == S.VERIFIED


def test_close_without_a_handling_record_is_refused(world: World) -> None:
    # given a case that reached 待结案 without any handling event (e.g. a bad data import)
    case = make_case(world, S.VERIFIED)
    CaseEvent.objects.filter(case=case, action=A.HANDLE).delete()

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_close(case=case, actor=world.user("town_dispatcher"))

    assert exc.value.code == "case_close_without_handling"


# --- rate --------------------------------------------------------------------------------------


def test_rating_twice_is_refused(world: World) -> None:
    case = make_case(world, S.CLOSED)
    services.case_rate(case=case, actor=world.user("citizen"), satisfaction=Satisfaction.SATISFIED)

    with unchanged(case), pytest.raises(TransitionNotAllowed) as exc:
        services.case_rate(case=case, actor=world.user("citizen"), satisfaction=Satisfaction.UNSATISFIED)

    assert exc.value.code == "case_rate_not_allowed"


def test_rating_twice_is_refused_even_from_a_freshly_loaded_case(world: World) -> None:
    case = make_case(world, S.CLOSED)
    services.case_rate(case=case, actor=world.user("citizen"), satisfaction=Satisfaction.SATISFIED)
    again = Case.objects.get(pk=case.pk)

    with unchanged(again), pytest.raises(TransitionNotAllowed):
        services.case_rate(case=again, actor=world.user("citizen"), satisfaction=Satisfaction.UNSATISFIED)


@pytest.mark.parametrize("actor", ["citizen2", "town_dispatcher", "grid_worker", None])
def test_rating_by_someone_other_than_the_reporter_is_refused(world: World, actor: str | None) -> None:
    case = make_case(world, S.CLOSED)

    with unchanged(case), pytest.raises(CasePermissionDenied):
        services.case_rate(
            case=case, actor=world.user(actor) if actor else None, satisfaction=Satisfaction.UNSATISFIED
        )


def test_rating_with_an_unknown_satisfaction_is_refused(world: World) -> None:
    case = make_case(world, S.CLOSED)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_rate(case=case, actor=world.user("citizen"), satisfaction="great")

    assert exc.value.code == "satisfaction_invalid"


WRONG_CODES = [
    "",
    "x",
    "A" * 22,
    "查询码查询码查询码查询码查询码查询码查询码查询",  # non-ASCII, same length as a real code
    "abc\x00def",
    "🚧" * 22,
]


@pytest.mark.parametrize("code", WRONG_CODES)
def test_rating_with_a_wrong_tracking_code_is_refused(world: World, code: str) -> None:
    case = make_case(world, S.CLOSED, reporter=None, is_anonymous=True)

    with unchanged(case), pytest.raises(CasePermissionDenied):
        services.case_rate(case=case, actor=None, satisfaction=Satisfaction.UNSATISFIED, tracking_code=code)


def test_rating_with_another_cases_tracking_code_is_refused(world: World) -> None:
    case = make_case(world, S.CLOSED, reporter=None, is_anonymous=True)
    other = make_case(world, S.CLOSED, reporter=None, is_anonymous=True)

    with unchanged(case), pytest.raises(CasePermissionDenied):
        services.case_rate(
            case=case, actor=None, satisfaction=Satisfaction.UNSATISFIED, tracking_code=other.tracking_code
        )


@pytest.mark.parametrize("code", WRONG_CODES)
def test_reopen_with_a_wrong_tracking_code_is_refused(world: World, code: str) -> None:
    case = make_case(
        world, S.CLOSED, reporter=None, is_anonymous=True, satisfaction=Satisfaction.UNSATISFIED,
        rated_at=timezone.now(),
    )

    with unchanged(case), pytest.raises(CasePermissionDenied):
        services.case_reopen(case=case, actor=None, reason="没解决", tracking_code=code)


# --- reopen ------------------------------------------------------------------------------------


def test_reopen_after_the_window_is_refused(world: World, settings) -> None:
    # given a case rated 不满意 but closed longer ago than the reopen window
    closed_at = timezone.now() - timedelta(days=settings.SIZHI_REOPEN_DAYS, minutes=1)
    case = make_case(
        world, S.CLOSED, closed_at=closed_at, satisfaction=Satisfaction.UNSATISFIED, rated_at=timezone.now()
    )
    assert not services.can_reopen_now(case)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_reopen(case=case, actor=world.user("citizen"), reason="又坏了")

    assert exc.value.code == "case_reopen_not_allowed"


@pytest.mark.parametrize("satisfaction", ["", Satisfaction.SATISFIED, Satisfaction.BASICALLY])
def test_reopen_is_only_for_a_case_rated_unsatisfied(world: World, satisfaction: str) -> None:
    case = make_case(
        world, S.CLOSED, satisfaction=satisfaction, rated_at=timezone.now() if satisfaction else None
    )
    assert not services.can_reopen_now(case)

    with unchanged(case), pytest.raises(CaseError) as exc:
        services.case_reopen(case=case, actor=world.user("citizen"), reason="又坏了")

    assert exc.value.code == "case_reopen_not_allowed"


def test_rejected_report_cannot_be_reopened(world: World) -> None:
    case = make_case(world, S.REJECTED, satisfaction=Satisfaction.UNSATISFIED)
    assert not services.can_reopen_now(case)

    with unchanged(case), pytest.raises(TransitionNotAllowed) as exc:
        services.case_reopen(case=case, actor=world.user("citizen"), reason="不服")

    assert exc.value.code == "case_reopen_not_allowed"

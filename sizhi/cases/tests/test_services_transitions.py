"""Every allowed transition through its service: the new status, the CaseEvent written in the
same transaction, the fields that move with it, and the messages queued in the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict, Unpack
from unittest import mock

import pytest
from django.utils import timezone

from sizhi.cases import services
from sizhi.cases.models import Attachment, AttachmentKind, Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus, RejectionKind, Satisfaction
from sizhi.conftest import World, inside, make_photo
from sizhi.notify.models import Notification
from sizhi.regions.models import Grid

A = CaseAction
S = CaseStatus
UNIT_MEMBERS = {"grid_worker", "village_cadre", "party_secretary"}  # of 金业路社区居委会


class ReportOptions(TypedDict, total=False):
    """The keyword arguments of `reported`, passed on by `case_in` and `rated`."""

    reporter: str | None
    anonymous: bool
    grid: Grid | None


def reported(world: World, *, reporter: str | None = "citizen", anonymous: bool = False, grid=None) -> Case:
    lat, lng = inside(grid or world.grid_a1)
    case = services.report_submit(
        reporter=world.user(reporter) if reporter else None, description="金业路路口井盖缺失，夜间很危险",
        lat=lat, lng=lng, is_anonymous=anonymous,
    )
    Notification.objects.all().delete()  # each test looks only at what its own action queues
    return case


# The ordinary path of a case in grid A1-1, one step per status, each by the person whose job it is.
def _step(world: World, case: Case) -> None:
    u = world.user
    if case.status == S.REPORTED:
        services.case_accept(case=case, actor=u("town_dispatcher"))
    elif case.status == S.ACCEPTED:
        services.case_register(case=case, actor=u("town_dispatcher"), category=world.category)
    elif case.status == S.REGISTERED:
        services.case_dispatch(case=case, actor=u("town_dispatcher"), unit=world.village_a1_committee)
    elif case.status == S.DISPATCHED:
        services.case_sign_for(case=case, actor=u("village_cadre"))
    elif case.status == S.HANDLING:
        services.case_handle(case=case, actor=u("village_cadre"), result="已补装井盖")
    elif case.status == S.VERIFYING:
        services.case_verify(case=case, actor=u("grid_worker"), passed=True)
    elif case.status == S.VERIFIED:
        services.case_close(case=case, actor=u("town_dispatcher"))
    else:
        raise AssertionError(f"no ordinary step from {case.status}")


def advance(world: World, case: Case, to: str) -> Case:
    while case.status != to:
        _step(world, case)
    Notification.objects.all().delete()  # each test looks only at what its own action queues
    return case


def case_in(world: World, status: str, **kwargs: Unpack[ReportOptions]) -> Case:
    return advance(world, reported(world, **kwargs), status)


def rated(world: World, satisfaction: str, **kwargs: Unpack[ReportOptions]) -> Case:
    case = case_in(world, S.CLOSED, **kwargs)
    services.case_rate(case=case, actor=case.reporter, satisfaction=satisfaction,
                       tracking_code=None if case.reporter else case.tracking_code)
    Notification.objects.all().delete()
    return case


def notified() -> set[tuple[str, str]]:
    return set(Notification.objects.values_list("recipient__username", "channel"))


# Each action from its source status, by an actor allowed to take it.
def perform(world: World, case: Case, action: str) -> CaseEvent:
    u = world.user
    match action:
        case A.ACCEPT:
            return services.case_accept(case=case, actor=u("town_dispatcher"), reason="情况属实")
        case A.REJECT:
            return services.case_reject(
                case=case, actor=u("town_dispatcher"), kind=RejectionKind.INVALID, reason="照片与描述不符"
            )
        case A.REGISTER:
            return services.case_register(case=case, actor=u("town_dispatcher"), category=world.category)
        case A.DISPATCH:
            return services.case_dispatch(case=case, actor=u("town_dispatcher"), unit=world.village_a1_committee)
        case A.SIGN_FOR:
            return services.case_sign_for(case=case, actor=u("village_cadre"))
        case A.RETURN:
            return services.case_return(case=case, actor=u("village_cadre"), reason="不属于社区职责")
        case A.HANDLE:
            return services.case_handle(case=case, actor=u("village_cadre"), result="已补装井盖")
        case A.VERIFY_PASS:
            return services.case_verify(case=case, actor=u("grid_worker"), passed=True, reason="现场已修复")
        case A.VERIFY_FAIL:
            return services.case_verify(case=case, actor=u("grid_worker"), passed=False, reason="井盖尺寸不符")
        case A.CLOSE:
            return services.case_close(case=case, actor=u("town_dispatcher"))
        case A.RATE:
            return services.case_rate(case=case, actor=u("citizen"), satisfaction=Satisfaction.UNSATISFIED)
        case A.REOPEN:
            return services.case_reopen(case=case, actor=u("citizen"), reason="井盖又松动了")
    raise AssertionError(action)


def prepared(world: World, action: str) -> Case:
    if action == A.REOPEN:
        return rated(world, Satisfaction.UNSATISFIED)
    sources: dict[str, CaseStatus] = {
        A.ACCEPT: S.REPORTED, A.REJECT: S.REPORTED, A.REGISTER: S.ACCEPTED, A.DISPATCH: S.REGISTERED,
        A.SIGN_FOR: S.DISPATCHED, A.RETURN: S.DISPATCHED, A.HANDLE: S.HANDLING, A.VERIFY_PASS: S.VERIFYING,
        A.VERIFY_FAIL: S.VERIFYING, A.CLOSE: S.VERIFIED, A.RATE: S.CLOSED,
    }
    return case_in(world, sources[action])


# action: (from, to, actor, reason written on the event)
EXPECTED_EVENT: dict[str, tuple[CaseStatus, CaseStatus, str, str]] = {
    A.ACCEPT: (S.REPORTED, S.ACCEPTED, "town_dispatcher", "情况属实"),
    A.REJECT: (S.REPORTED, S.REJECTED, "town_dispatcher", "照片与描述不符"),
    A.REGISTER: (S.ACCEPTED, S.REGISTERED, "town_dispatcher", ""),
    A.DISPATCH: (S.REGISTERED, S.DISPATCHED, "town_dispatcher", ""),
    A.SIGN_FOR: (S.DISPATCHED, S.HANDLING, "village_cadre", ""),
    A.RETURN: (S.DISPATCHED, S.REGISTERED, "village_cadre", "不属于社区职责"),
    A.HANDLE: (S.HANDLING, S.VERIFYING, "village_cadre", "已补装井盖"),
    A.VERIFY_PASS: (S.VERIFYING, S.VERIFIED, "grid_worker", "现场已修复"),
    A.VERIFY_FAIL: (S.VERIFYING, S.HANDLING, "grid_worker", "井盖尺寸不符"),
    A.CLOSE: (S.VERIFIED, S.CLOSED, "town_dispatcher", ""),
    A.RATE: (S.CLOSED, S.CLOSED, "citizen", ""),
    A.REOPEN: (S.CLOSED, S.REGISTERED, "citizen", "井盖又松动了"),
}

# action: the (recipient, channel) rows it queues in the outbox; the reporter is 张三 (has a phone).
EXPECTED_NOTIFIED: dict[str, set[tuple[str, str]]] = {
    A.ACCEPT: {("citizen", "inbox"), ("citizen", "sms")},
    A.REJECT: {("citizen", "inbox"), ("citizen", "sms")},
    A.REGISTER: set(),
    A.DISPATCH: {(name, "inbox") for name in UNIT_MEMBERS},
    A.SIGN_FOR: set(),
    A.RETURN: {("town_dispatcher", "inbox")},  # the dispatcher must route it again
    A.HANDLE: set(),
    A.VERIFY_PASS: set(),
    A.VERIFY_FAIL: {(name, "inbox") for name in UNIT_MEMBERS},
    A.CLOSE: {("citizen", "inbox"), ("citizen", "sms")},
    A.RATE: set(),
    A.REOPEN: {("town_dispatcher", "inbox")},
}

ACTIONS = list(EXPECTED_EVENT)


@pytest.mark.parametrize("action", ACTIONS)
def test_transition_moves_status_and_writes_one_event(world: World, action: str) -> None:
    # given a case in the source status of the action
    case = prepared(world, action)
    version, events = case.version, case.events.count()
    from_status, to_status, actor, reason = EXPECTED_EVENT[action]
    assert case.status == from_status

    # when the right person takes the action
    event = perform(world, case, action)

    # then the case moved, its version went up by one, and one event says who did what and why
    case.refresh_from_db()
    assert case.status == to_status
    assert case.version == version + 1
    assert case.events.count() == events + 1
    event.refresh_from_db()
    assert case.events.last() == event
    assert (event.action, event.from_status, event.to_status) == (action, from_status, to_status)
    assert event.actor == world.user(actor)
    assert event.reason == reason
    # written with the same clock reading as the case update: one transaction, one moment
    assert event.created_at == case.updated_at


@pytest.mark.parametrize("action", ACTIONS)
def test_transition_queues_the_expected_notifications(world: World, action: str) -> None:
    case = prepared(world, action)

    perform(world, case, action)

    assert notified() == EXPECTED_NOTIFIED[action]
    # Inbox messages are delivered by being stored; every other channel waits for the worker.
    assert set(Notification.objects.filter(channel="inbox").values_list("status", flat=True)) <= {"sent"}
    assert set(Notification.objects.exclude(channel="inbox").values_list("status", flat=True)) <= {"pending"}


@pytest.mark.parametrize("action", ACTIONS)
def test_transition_leaves_nothing_behind_when_the_event_cannot_be_written(world: World, action: str) -> None:
    # given a case ready for the action, and an event insert that fails after the UPDATE ran
    case = prepared(world, action)
    before = Case.objects.values().get(pk=case.pk)
    events, notes, files = CaseEvent.objects.count(), Notification.objects.count(), Attachment.objects.count()

    with (
        mock.patch.object(CaseEvent.objects, "create", side_effect=RuntimeError("lost connection")),
        pytest.raises(RuntimeError),
    ):
        perform(world, case, action)

    # then the case row, its events, the outbox and the photos are exactly as before
    assert Case.objects.values().get(pk=case.pk) == before
    assert CaseEvent.objects.count() == events
    assert Notification.objects.count() == notes
    assert Attachment.objects.count() == files


def test_rollback_leaves_the_loaded_case_usable(world: World) -> None:
    case = prepared(world, A.ACCEPT)
    with mock.patch.object(CaseEvent.objects, "create", side_effect=RuntimeError), pytest.raises(RuntimeError):
        perform(world, case, A.ACCEPT)

    # the in-memory object was not advanced, so a retry works without reloading
    assert case.status == S.REPORTED
    perform(world, case, A.ACCEPT)
    case.refresh_from_db()
    assert case.status == S.ACCEPTED


# --- accept and reject -------------------------------------------------------------------------


def test_accept_records_the_dispatchers_unit(world: World) -> None:
    case = prepared(world, A.ACCEPT)

    event = perform(world, case, A.ACCEPT)

    assert event.actor_unit == world.town_a_centre


def test_accept_of_an_anonymous_report_notifies_nobody(world: World) -> None:
    case = reported(world, anonymous=True)

    services.case_accept(case=case, actor=world.user("town_dispatcher"))

    assert Notification.objects.count() == 0


@pytest.mark.parametrize("kind", [RejectionKind.INVALID, RejectionKind.NOT_OUR_BUSINESS])
def test_reject_closes_the_report_with_its_kind_and_reason(world: World, kind: str) -> None:
    case = reported(world)

    event = services.case_reject(case=case, actor=world.user("town_dispatcher"), kind=kind, reason="  不属实\u200b ")

    case.refresh_from_db()
    assert case.status == S.REJECTED
    assert case.rejection_kind == kind
    assert case.duplicate_of is None
    assert case.closed_at is not None and abs(case.closed_at - case.updated_at) < timedelta(seconds=1)
    assert event.reason == "不属实"
    assert event.data == {"kind": kind, "duplicate_of": None}
    # the reporter reads the reason in the message
    assert set(Notification.objects.values_list("body", flat=True)) == {"不属实"}


def test_reject_as_duplicate_links_the_earlier_case(world: World) -> None:
    # given an earlier case about the same manhole and a second report of it
    earlier = reported(world, reporter="citizen2")
    later = reported(world)

    # when the dispatcher rejects the second as a duplicate
    event = services.case_reject(
        case=later, actor=world.user("town_dispatcher"), kind=RejectionKind.DUPLICATE,
        reason="已有相同反映，正在办理", duplicate_of=earlier,
    )

    # then it points at the earlier case, which is untouched
    later.refresh_from_db()
    assert later.status == S.REJECTED
    assert later.rejection_kind == RejectionKind.DUPLICATE
    assert later.duplicate_of == earlier
    assert list(earlier.duplicates.all()) == [later]
    assert event.data == {"kind": RejectionKind.DUPLICATE, "duplicate_of": earlier.number}
    earlier.refresh_from_db()
    assert earlier.status == S.REPORTED


# --- register and dispatch ---------------------------------------------------------------------


def test_register_sets_the_category(world: World) -> None:
    case = case_in(world, S.ACCEPTED)
    assert case.category is None

    event = services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)

    case.refresh_from_db()
    assert case.category == world.category
    assert event.data == {"category": world.category.code}


def test_register_keeps_the_category_the_reporter_chose(world: World) -> None:
    lat, lng = inside(world.grid_a1)
    case = services.report_submit(
        reporter=world.user("citizen"), description="路面塌陷一米见方", lat=lat, lng=lng, category=world.category
    )
    services.case_accept(case=case, actor=world.user("town_dispatcher"))

    services.case_register(case=case, actor=world.user("town_dispatcher"))

    case.refresh_from_db()
    assert case.category == world.category


def test_dispatch_assigns_the_unit_and_starts_the_clock(world: World) -> None:
    case = case_in(world, S.REGISTERED)
    before = timezone.now()

    event = services.case_dispatch(
        case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee, reason="请社区处理"
    )

    case.refresh_from_db()
    assert case.assigned_unit == world.village_a1_committee
    assert case.handler is None
    assert case.dispatched_at is not None and case.dispatched_at >= before
    assert event.reason == "请社区处理"
    assert (event.data["unit"], event.data["unit_name"]) == (
        world.village_a1_committee.pk, world.village_a1_committee.name
    )
    assert event.data["assists"] == []
    assert case.due_at is not None and case.due_at == datetime.fromisoformat(event.data["due_at"])


def test_district_dispatcher_may_dispatch_to_a_district_department(world: World) -> None:
    case = case_in(world, S.REGISTERED)

    services.case_dispatch(case=case, actor=world.user("district_dispatcher"), unit=world.district_a_dept)

    case.refresh_from_db()
    assert case.assigned_unit == world.district_a_dept
    assert notified() == {("department_handler", "inbox")}


# --- the unit's work ---------------------------------------------------------------------------


def test_sign_for_makes_the_signer_the_handler(world: World) -> None:
    case = case_in(world, S.DISPATCHED)

    services.case_sign_for(case=case, actor=world.user("party_secretary"))

    case.refresh_from_db()
    assert case.status == S.HANDLING
    assert case.handler == world.user("party_secretary")


@pytest.mark.parametrize("source", [S.DISPATCHED, S.HANDLING])
def test_return_sends_the_case_back_to_dispatch_without_a_unit(world: World, source: str) -> None:
    case = case_in(world, source)

    event = services.case_return(case=case, actor=world.user("village_cadre"), reason="属于城管职责")

    case.refresh_from_db()
    assert case.status == S.REGISTERED
    assert case.assigned_unit is None
    assert case.handler is None
    assert event.from_status == source
    assert event.data == {
        "unit": world.village_a1_committee.pk, "unit_name": world.village_a1_committee.name, "ruling": False
    }


def test_returned_case_can_be_dispatched_again(world: World) -> None:
    case = case_in(world, S.DISPATCHED)
    services.case_return(case=case, actor=world.user("village_cadre"), reason="属于城管职责")

    services.case_dispatch(case=case, actor=world.user("district_dispatcher"), unit=world.district_a_dept)

    case.refresh_from_db()
    assert case.status == S.DISPATCHED
    assert case.assigned_unit == world.district_a_dept


def test_handle_stores_the_result_and_photos_on_the_handle_event(world: World) -> None:
    # given a case the village cadre is handling
    case = case_in(world, S.HANDLING)

    # when they record the result with two photos
    event = services.case_handle(
        case=case, actor=world.user("village_cadre"), result="已补装井盖\x00并设置警示",
        photos=[make_photo(), make_photo(size=(80, 60))],
    )

    # then the case waits for verification and the photos hang on that event
    case.refresh_from_db()
    assert case.status == S.VERIFYING
    assert case.handler == world.user("village_cadre")
    assert event.reason == "已补装井盖并设置警示"
    photos = list(Attachment.objects.filter(case=case))
    assert len(photos) == 2
    assert {p.kind for p in photos} == {AttachmentKind.HANDLING}
    assert {p.event_id for p in photos} == {event.pk}


def test_unit_member_who_did_not_sign_may_record_the_handling(world: World) -> None:
    case = case_in(world, S.HANDLING)  # signed by the village cadre

    services.case_handle(case=case, actor=world.user("party_secretary"), result="书记带队修复")

    case.refresh_from_db()
    assert case.handler == world.user("party_secretary")


# --- verify and close --------------------------------------------------------------------------


def test_verify_pass_by_a_dispatcher_in_scope(world: World) -> None:
    case = case_in(world, S.VERIFYING)

    services.case_verify(case=case, actor=world.user("district_dispatcher"), passed=True)

    case.refresh_from_db()
    assert case.status == S.VERIFIED


def test_verify_fail_sends_the_case_back_to_the_same_handler_with_the_reason(world: World) -> None:
    # given handling was recorded by the village cadre
    case = case_in(world, S.VERIFYING)

    # when the grid worker finds the fix inadequate
    event = services.case_verify(case=case, actor=world.user("grid_worker"), passed=False, reason="井盖尺寸不符")

    # then the unit works on it again, with the reason on record and in their inbox
    case.refresh_from_db()
    assert case.status == S.HANDLING
    assert case.assigned_unit == world.village_a1_committee
    assert case.handler == world.user("village_cadre")
    assert event.action == A.VERIFY_FAIL
    assert event.reason == "井盖尺寸不符"
    assert {r for r, _ in notified()} == UNIT_MEMBERS


def test_case_failed_at_verification_is_handled_again_and_closes(world: World) -> None:
    case = case_in(world, S.VERIFYING)
    services.case_verify(case=case, actor=world.user("grid_worker"), passed=False, reason="未修好")

    advance(world, case, S.CLOSED)

    assert case.events.filter(action=A.HANDLE).count() == 2
    assert list(case.events.values_list("action", flat=True)) == [
        A.SUBMIT, A.ACCEPT, A.REGISTER, A.DISPATCH, A.SIGN_FOR, A.HANDLE, A.VERIFY_FAIL, A.HANDLE,
        A.VERIFY_PASS, A.CLOSE,
    ]


def test_close_stamps_the_closing_time(world: World) -> None:
    case = case_in(world, S.VERIFIED)

    services.case_close(case=case, actor=world.user("city_dispatcher"), reason="办结")

    case.refresh_from_db()
    assert case.status == S.CLOSED
    assert case.closed_at is not None and abs(case.closed_at - case.updated_at) < timedelta(seconds=1)


# --- rate and reopen ---------------------------------------------------------------------------


@pytest.mark.parametrize("satisfaction", Satisfaction.values)
def test_reporter_rates_a_closed_case(world: World, satisfaction: str) -> None:
    case = case_in(world, S.CLOSED)

    event = services.case_rate(
        case=case, actor=world.user("citizen"), satisfaction=satisfaction, comment="  处理及时\u202e "
    )

    case.refresh_from_db()
    assert case.status == S.CLOSED
    assert case.satisfaction == satisfaction
    assert case.rating_comment == "处理及时"
    assert case.rated_at is not None
    assert event.data == {"satisfaction": satisfaction}


def test_long_rating_comment_is_cut_to_1000_characters(world: World) -> None:
    case = case_in(world, S.CLOSED)

    services.case_rate(case=case, actor=world.user("citizen"), satisfaction=Satisfaction.SATISFIED, comment="好" * 5000)

    case.refresh_from_db()
    assert case.rating_comment == "好" * 1000


def test_anonymous_reporter_rates_with_the_tracking_code(world: World) -> None:
    case = case_in(world, S.CLOSED, anonymous=True)

    event = services.case_rate(
        case=case, actor=None, satisfaction=Satisfaction.BASICALLY, tracking_code=case.tracking_code
    )

    case.refresh_from_db()
    assert case.satisfaction == Satisfaction.BASICALLY
    assert event.actor is None


def test_reopen_within_the_window_after_unsatisfied_sends_the_case_back_to_dispatch(world: World) -> None:
    # given a closed case rated 不满意 a moment ago
    case = rated(world, Satisfaction.UNSATISFIED)
    assert services.can_reopen_now(case)

    # when the reporter asks for it to be handled again
    event = services.case_reopen(case=case, actor=world.user("citizen"), reason="井盖又松动了")

    # then it waits for dispatch, with unit, handler, closure and rating cleared
    case.refresh_from_db()
    assert case.status == S.REGISTERED
    assert (case.assigned_unit, case.handler, case.closed_at, case.rated_at) == (None, None, None, None)
    assert (case.satisfaction, case.rating_comment) == ("", "")
    assert event.reason == "井盖又松动了"
    # the earlier rating stays on its own event
    assert case.events.get(action=A.RATE).data == {"satisfaction": Satisfaction.UNSATISFIED}
    assert notified() == {("town_dispatcher", "inbox")}


def test_reopen_on_the_last_day_of_the_window_is_allowed(world: World, settings) -> None:
    case = rated(world, Satisfaction.UNSATISFIED)
    closed_at = timezone.now() - timedelta(days=settings.SIZHI_REOPEN_DAYS) + timedelta(minutes=1)
    Case.objects.filter(pk=case.pk).update(closed_at=closed_at)
    case.refresh_from_db()

    services.case_reopen(case=case, actor=world.user("citizen"), reason="仍未解决")

    case.refresh_from_db()
    assert case.status == S.REGISTERED


def test_anonymous_reporter_reopens_with_the_tracking_code(world: World) -> None:
    case = rated(world, Satisfaction.UNSATISFIED, anonymous=True)

    services.case_reopen(case=case, actor=None, reason="仍未解决", tracking_code=case.tracking_code)

    case.refresh_from_db()
    assert case.status == S.REGISTERED


def test_reopened_case_goes_round_again_and_is_rated_afresh(world: World) -> None:
    case = rated(world, Satisfaction.UNSATISFIED)
    services.case_reopen(case=case, actor=world.user("citizen"), reason="仍未解决")

    advance(world, case, S.CLOSED)
    services.case_rate(case=case, actor=world.user("citizen"), satisfaction=Satisfaction.SATISFIED)

    case.refresh_from_db()
    assert case.satisfaction == Satisfaction.SATISFIED
    assert case.events.filter(action=A.RATE).count() == 2
    assert case.events.filter(action=A.CLOSE).count() == 2

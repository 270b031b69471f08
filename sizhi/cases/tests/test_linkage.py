"""一网统管 linkage through the services: lead and assisting units with their own clocks, the
responsibility matrix, escalation and delegation, returns up to a ruling, extensions and
suspensions. Times are frozen where the working-day arithmetic matters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from sizhi.cases import linkage, services
from sizhi.cases.errors import CaseError, CasePermissionDenied, TransitionNotAllowed
from sizhi.cases.models import Assignment, Case, ExtensionRequest
from sizhi.cases.tests.test_services_transitions import advance, reported
from sizhi.cases.workflow import AssignmentRole, AssignmentStatus, CaseAction, CaseStatus
from sizhi.conftest import World
from sizhi.notify.models import Notification
from sizhi.regions.models import RegionLevel
from sizhi.units.models import UnitKind
from sizhi.units.services import rule_save
from sizhi.workdays.calendar import add_working_days

SH = ZoneInfo("Asia/Shanghai")
S = CaseStatus


@contextmanager
def frozen(moment: dt.datetime) -> Iterator[None]:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def at(day: int, hour: int = 10, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=SH)


def registered(world: World) -> Case:
    return advance(world, reported(world), S.REGISTERED)


def test_dispatch_with_assists_gives_each_unit_its_own_clock(world: World) -> None:
    case = registered(world)
    with frozen(at(27)):  # Friday 10:00
        services.case_dispatch(
            case=case, actor=world.user("district_dispatcher"), unit=world.village_a1_committee,
            assist_units=[world.district_a_dept, world.village_a1_committee],
        )
    lead, assist = case.assignments.order_by("role")  # "assist" < "lead"
    lead, assist = (assist, lead) if lead.role == AssignmentRole.ASSIST else (lead, assist)
    assert (lead.unit, lead.role, lead.status) == (world.village_a1_committee, "lead", "pending")
    assert (assist.unit, assist.role) == (world.district_a_dept, "assist")  # the lead is not its own assist
    # Default limits: sign within 4 working hours, handle within 5 working days.
    assert lead.sign_due_at == dt.datetime(2026, 11, 27, 16, 30, tzinfo=SH)  # 10:00-12:00, then 14:30-16:30
    assert case.due_at == add_working_days(at(27), 5) == dt.datetime(2026, 12, 4, 23, 59, 59, tzinfo=SH)
    assert case.yellow_at is not None and at(27) < case.yellow_at < case.due_at


def test_lead_cannot_finish_while_an_assist_is_open(world: World) -> None:
    case = registered(world)
    services.case_dispatch(
        case=case, actor=world.user("district_dispatcher"), unit=world.village_a1_committee,
        assist_units=[world.district_a_dept],
    )
    services.case_sign_for(case=case, actor=world.user("village_cadre"))
    with pytest.raises(CaseError) as exc:
        services.case_handle(case=case, actor=world.user("village_cadre"), result="已修复")
    assert exc.value.code == "assists_pending" and "老城区城市管理局" in str(exc.value.message)

    assist = case.assignments.get(role=AssignmentRole.ASSIST)
    with pytest.raises(CasePermissionDenied):
        linkage.assist_finish(assignment=assist, actor=world.user("village_cadre"), result="不是我们的")
    event = linkage.assist_finish(assignment=assist, actor=world.user("department_handler"), result="已配合清理")
    assert event.action == CaseAction.ASSIST_FINISH and event.to_status == S.HANDLING
    assert Assignment.objects.get(pk=assist.pk).status == AssignmentStatus.DONE

    case.refresh_from_db()
    services.case_handle(case=case, actor=world.user("village_cadre"), result="已修复")
    assert case.assignments.get(role=AssignmentRole.LEAD).status == AssignmentStatus.DONE


def test_dispatcher_may_waive_an_assist(world: World) -> None:
    case = registered(world)
    services.case_dispatch(
        case=case, actor=world.user("district_dispatcher"), unit=world.village_a1_committee,
        assist_units=[world.district_a_dept],
    )
    assist = case.assignments.get(role=AssignmentRole.ASSIST)
    with pytest.raises(CasePermissionDenied):
        linkage.assist_waive(assignment=assist, actor=world.user("village_cadre"), reason="不需要")
    with pytest.raises(CaseError) as exc:
        linkage.assist_waive(assignment=assist, actor=world.user("town_dispatcher"), reason=" ")
    assert exc.value.code == "reason_required"
    linkage.assist_waive(assignment=assist, actor=world.user("town_dispatcher"), reason="社区已能独立处置")
    assert Assignment.objects.get(pk=assist.pk).status == AssignmentStatus.WAIVED
    with pytest.raises(CaseError) as exc:
        linkage.assist_waive(assignment=Assignment.objects.get(pk=assist.pk), actor=world.user("town_dispatcher"),
                             reason="再次")
    assert exc.value.code == "assignment_not_active"


def test_a_bounced_case_keeps_its_original_clock(world: World) -> None:
    case = registered(world)
    with frozen(at(23)):  # Monday
        services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    original = case.due_at
    with frozen(at(25)):
        services.case_return(case=case, actor=world.user("village_cadre"), reason="应由城管处理")
    with frozen(at(26)):
        services.case_dispatch(case=case, actor=world.user("district_dispatcher"), unit=world.district_a_dept)
    case.refresh_from_db()
    assert case.due_at == original
    first, second = case.assignments.order_by("assigned_at")
    assert first.status == AssignmentStatus.RETURNED
    assert second.due_at > first.due_at  # the new unit's own clock starts at its dispatch


def test_returns_reach_the_district_command_centre_for_a_ruling(world: World, settings) -> None:
    settings.SIZHI_RETURNS_BEFORE_RULING = 2
    case = registered(world)
    for unit, member in [(world.village_a1_committee, "village_cadre"), (world.district_a_dept, "department_handler")]:
        services.case_dispatch(case=case, actor=world.user("district_dispatcher"), unit=unit)
        Notification.objects.all().delete()
        event = services.case_return(case=case, actor=world.user(member), reason="不属于本单位职责")
    case.refresh_from_db()
    assert (case.return_count, case.needs_ruling, case.level) == (2, True, RegionLevel.DISTRICT)
    assert event.data["ruling"] is True
    told = set(Notification.objects.values_list("recipient__username", flat=True))
    assert told == {"district_dispatcher"}


def test_escalation_moves_the_case_up_and_the_matrix_takes_it_there(world: World) -> None:
    case = registered(world)
    services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    services.case_sign_for(case=case, actor=world.user("village_cadre"))
    rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")

    event = linkage.case_escalate(case=case, actor=world.user("village_cadre"), reason="需要大型机械，超出村级能力")

    case.refresh_from_db()
    assert event.data == {"from_level": RegionLevel.TOWN, "to_level": RegionLevel.DISTRICT}
    assert case.level == RegionLevel.DISTRICT
    assert case.status == S.DISPATCHED and case.assigned_unit == world.district_a_dept
    assert case.assignments.get(unit=world.village_a1_committee).status == AssignmentStatus.ESCALATED
    auto = case.events.get(action=CaseAction.DISPATCH, actor__isnull=True)
    assert auto.data["rule_level"] == RegionLevel.DISTRICT


def test_escalation_needs_a_reason_and_stops_at_the_city(world: World) -> None:
    case = registered(world)
    with pytest.raises(CaseError) as exc:
        linkage.case_escalate(case=case, actor=world.user("town_dispatcher"), reason="")
    assert exc.value.code == "reason_required"
    Case.objects.filter(pk=case.pk).update(level=RegionLevel.CITY)
    case.refresh_from_db()
    with pytest.raises(CaseError) as exc:
        linkage.case_escalate(case=case, actor=world.user("city_dispatcher"), reason="再上报")
    assert exc.value.code == "case_escalate_top_level"


def test_only_the_managing_level_escalates_a_registered_case(world: World) -> None:
    case = registered(world)  # managed by the town
    with pytest.raises(CasePermissionDenied):
        linkage.case_escalate(case=case, actor=world.user("district_dispatcher"), reason="越级")
    linkage.case_escalate(case=case, actor=world.user("town_dispatcher"), reason="涉及多个街道")
    assert case.level == RegionLevel.DISTRICT and case.status == S.REGISTERED


def test_registration_dispatches_by_the_matrix_at_the_lowest_level(world: World) -> None:
    rule_save(category=world.category, level=RegionLevel.VILLAGE, lead_unit_kind=UnitKind.VILLAGE_COMMITTEE,
              assist_unit_names=[])
    rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    case = advance(world, reported(world), S.ACCEPTED)
    services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)
    case.refresh_from_db()
    assert case.status == S.DISPATCHED and case.assigned_unit == world.village_a1_committee
    assert case.events.filter(action=CaseAction.DISPATCH, actor__isnull=True).count() == 1


def test_without_a_rule_the_case_waits_for_the_dispatcher(world: World) -> None:
    case = advance(world, reported(world), S.ACCEPTED)
    services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)
    assert case.status == S.REGISTERED and case.assigned_unit is None


def test_delegation_goes_down_but_not_below_the_intake_level(world: World) -> None:
    case = registered(world)
    linkage.case_escalate(case=case, actor=world.user("town_dispatcher"), reason="涉及多个街道")
    with pytest.raises(CaseError) as exc:
        linkage.case_delegate(case=case, actor=world.user("district_dispatcher"), level=RegionLevel.VILLAGE,
                              reason="请村里办")
    assert exc.value.code == "case_delegate_level"
    linkage.case_delegate(case=case, actor=world.user("district_dispatcher"), level=RegionLevel.TOWN,
                          reason="请街道牵头办理")
    assert case.level == RegionLevel.TOWN and case.status == S.REGISTERED


def test_extension_approved_moves_the_deadline_by_working_days(world: World) -> None:
    case = registered(world)
    services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    services.case_sign_for(case=case, actor=world.user("village_cadre"))
    before = case.due_at
    request = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=3, reason="等待配件")
    with pytest.raises(CaseError) as exc:
        linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=2, reason="再申请")
    assert exc.value.code == "extension_pending"
    with pytest.raises(CasePermissionDenied):
        linkage.case_extend_decide(request=request, actor=world.user("village_cadre"), approve=True)
    case.refresh_from_db()
    linkage.case_extend_decide(request=request, actor=world.user("town_dispatcher"), approve=True, note="同意")
    case.refresh_from_db()
    assert before is not None and case.due_at == add_working_days(before, 3)
    assert ExtensionRequest.objects.get(pk=request.pk).status == "approved"
    with pytest.raises(CaseError) as exc:
        linkage.case_extend_decide(request=request, actor=world.user("town_dispatcher"), approve=False)
    assert exc.value.code == "extension_already_decided"


def test_extension_days_are_bounded(world: World) -> None:
    case = registered(world)
    services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    for days in (0, 61, "3"):
        with pytest.raises(CaseError) as exc:
            linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=days, reason="x")  # type: ignore[arg-type]
        assert exc.value.code == "extension_days_invalid"


def test_suspension_stops_the_clock(world: World) -> None:
    case = registered(world)
    with frozen(at(23)):  # Monday 10:00
        services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
        services.case_sign_for(case=case, actor=world.user("village_cadre"))
    due = case.due_at
    with frozen(at(24, 9)):  # Tuesday 09:00
        linkage.case_suspend(case=case, actor=world.user("town_dispatcher"), reason="等待司法鉴定结果")
    assert case.status == S.SUSPENDED
    with pytest.raises(TransitionNotAllowed):
        services.case_handle(case=case, actor=world.user("village_cadre"), result="x")
    with frozen(at(25, 9)):  # Wednesday 09:00: one working day (7 office hours) later
        event = linkage.case_resume(case=case, actor=world.user("town_dispatcher"))
    assert case.status == S.HANDLING and case.suspended_at is None
    assert event.data["suspended_hours"] == 7.0
    assert due is not None and case.due_at is not None and case.due_at > due

"""一网统管 linkage: dispatch to a lead unit and assisting units with their own clocks, the
responsibility matrix's automatic dispatch, escalation up and delegation down the levels,
returns and the command centre's ruling, extensions and suspensions.

Every function that changes a case goes through transitions.transition, so each hop is one
CaseEvent written in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import User
from sizhi.cases import deadlines, permissions
from sizhi.cases.errors import CaseError, CasePermissionDenied, TransitionNotAllowed
from sizhi.cases.models import Assignment, Case, CaseEvent, ExtensionRequest, ExtensionStatus
from sizhi.cases.text import clean_text
from sizhi.cases.transitions import (
    managing_level,
    notify_dispatchers,
    require,
    require_reason,
    tell_unit,
    transition,
)
from sizhi.cases.workflow import (
    ACTIVE_ASSIGNMENT,
    TRANSITIONS,
    AssignmentRole,
    AssignmentStatus,
    CaseAction,
    CaseStatus,
    WarningLevel,
)
from sizhi.regions.models import RegionLevel
from sizhi.units import matrix
from sizhi.units.models import HandlingUnit
from sizhi.workdays.calendar import add_working_days, add_working_hours, working_seconds_between

LEVEL_ORDER = matrix.LEVELS_UPWARD  # village, town, district, city


def _lead(case: Case) -> Assignment | None:
    return case.assignments.filter(role=AssignmentRole.LEAD, status__in=list(ACTIVE_ASSIGNMENT)).first()


def _close_active(case: Case, status: str, at: dt.datetime) -> None:
    case.assignments.filter(status__in=list(ACTIVE_ASSIGNMENT)).update(status=status, finished_at=at)


def _close_pending_extensions(case: Case, note: str) -> None:
    """A request belongs to the unit that made it: when the case leaves that unit it lapses."""
    case.extension_requests.filter(status=ExtensionStatus.PENDING).update(
        status=ExtensionStatus.REJECTED, decided_at=timezone.now(), decision_note=note
    )


def dispatch(
    *,
    case: Case,
    actor: User | None,
    lead: HandlingUnit,
    assists: Sequence[HandlingUnit] = (),
    reason: str = "",
    priority: str | None = None,
    data: dict[str, object] | None = None,
) -> CaseEvent:
    """Give the case to `lead` with `assists`. Each assignment gets its own sign-for and handling
    clock; the case's own deadline is set by the first dispatch only."""
    now = timezone.now()
    priority = priority or case.priority
    limits = deadlines.limits_for(case.category, priority)
    sign_due = deadlines.sign_deadline(now, limits)
    unit_due = deadlines.handle_deadline(now, limits)
    changes: dict[str, object] = {
        "assigned_unit": lead, "handler": None, "dispatched_at": now, "priority": priority, "needs_ruling": False,
    }
    if case.due_at is None:
        changes["due_at"] = unit_due
        changes["yellow_at"] = deadlines.yellow_moment(now, unit_due)
    assist_list = [u for u in dict.fromkeys(assists) if u.pk != lead.pk]
    event = transition(
        case=case, action=CaseAction.DISPATCH, actor=actor, reason=reason, changes=changes,
        data={
            "unit": lead.pk, "unit_name": lead.name,
            "assists": [u.pk for u in assist_list], "assist_names": [u.name for u in assist_list],
            "sign_due_at": sign_due.isoformat(), "due_at": unit_due.isoformat(), **(data or {}),
        },
    )
    _close_active(case, AssignmentStatus.WITHDRAWN, now)
    _close_pending_extensions(case, _("案件已重新派遣"))
    Assignment.objects.bulk_create(
        [
            Assignment(
                case=case, unit=unit, role=role, assigned_by=actor, assigned_at=now,
                sign_due_at=sign_due, due_at=unit_due,
            )
            for unit, role in [(lead, AssignmentRole.LEAD)] + [(u, AssignmentRole.ASSIST) for u in assist_list]
        ]
    )
    tell_unit(lead, case, _("新派遣案件（主办）：%(number)s") % {"number": case.number})
    for unit in assist_list:
        tell_unit(unit, case, _("新派遣案件（协办）：%(number)s") % {"number": case.number})
    return event


def dispatch_by_matrix(*, case: Case) -> CaseEvent | None:
    """Apply the responsibility matrix to a registered case; without a matching rule the case
    stays with the dispatcher of its level."""
    if case.status != CaseStatus.REGISTERED or case.category is None:
        return None
    escalated = LEVEL_ORDER.index(case.level) > LEVEL_ORDER.index(_initial_level(case))
    found = matrix.resolve(case.category, case.region, from_level=case.level if escalated else None)
    if found is None:
        return None
    return dispatch(
        case=case, actor=None, lead=found.lead, assists=found.assists,
        reason=_("按权责清单自动派遣"), data={"rule": found.rule.pk, "rule_level": found.level},
    )


def _initial_level(case: Case) -> str:
    return RegionLevel.TOWN if case.region.level == RegionLevel.VILLAGE else case.region.level


def lead_signed(*, case: Case, at: dt.datetime) -> None:
    case.assignments.filter(role=AssignmentRole.LEAD, status=AssignmentStatus.PENDING).update(
        status=AssignmentStatus.SIGNED, signed_at=at
    )


def require_assists_finished(case: Case) -> None:
    pending = case.assignments.filter(role=AssignmentRole.ASSIST, status__in=list(ACTIVE_ASSIGNMENT))
    names = [a.unit.name for a in pending.select_related("unit")]
    if names:
        raise CaseError(
            _("协办单位尚未完成：%(units)s。请等待其完成，或由调度员免除协办。") % {"units": "、".join(names)},
            code="assists_pending",
        )


def lead_finished(*, case: Case, result: str, at: dt.datetime) -> None:
    case.assignments.filter(role=AssignmentRole.LEAD, status=AssignmentStatus.SIGNED).update(
        status=AssignmentStatus.DONE, finished_at=at, result=result
    )


def lead_reworks(*, case: Case) -> None:
    """A failed 核查 sends the work back to the lead unit that did it, on the same clock."""
    done = case.assignments.filter(role=AssignmentRole.LEAD, status=AssignmentStatus.DONE).order_by("-id").first()
    if done is not None:
        Assignment.objects.filter(pk=done.pk).update(status=AssignmentStatus.SIGNED, finished_at=None)


def give_back(*, case: Case, actor: User, reason: str) -> CaseEvent:
    """退回: the unit hands a misrouted case back to the dispatcher. After
    SIZHI_RETURNS_BEFORE_RULING returns the command centre of the district rules on it."""
    unit = case.assigned_unit
    returns = case.return_count + 1
    ruling = returns >= settings.SIZHI_RETURNS_BEFORE_RULING
    level = case.level
    if ruling and LEVEL_ORDER.index(level) < LEVEL_ORDER.index(RegionLevel.DISTRICT):
        level = RegionLevel.DISTRICT
    event = transition(
        case=case, action=CaseAction.RETURN, actor=actor, reason=reason,
        changes={
            "assigned_unit": None, "handler": None, "return_count": returns, "needs_ruling": ruling, "level": level,
        },
        data={"unit": unit.pk if unit else None, "unit_name": unit.name if unit else "", "ruling": ruling},
    )
    _close_active(case, AssignmentStatus.RETURNED, event.created_at)
    _close_pending_extensions(case, _("案件已退回"))
    notify_dispatchers(
        case,
        _("案件需裁定派遣：%(number)s") % {"number": case.number} if ruling
        else _("案件被退回：%(number)s") % {"number": case.number},
    )
    return event


# --- actions started by people -----------------------------------------------------------------


@transaction.atomic
def case_escalate(*, case: Case, actor: User, reason: str) -> CaseEvent:
    """上报: beyond this level's authority. The case goes up one level, where the matrix or that
    level's dispatcher takes it; its clock keeps running."""
    require(actor, case, CaseAction.ESCALATE)
    text = require_reason(reason, _("上报上级必须说明理由。"))
    above = matrix.levels_above(case.level)
    if not above:
        raise CaseError(_("已是最高层级，无法继续上报。"), code="case_escalate_top_level")
    target = managing_level(case.region_code, above[0])
    event = transition(
        case=case, action=CaseAction.ESCALATE, actor=actor, reason=text,
        changes={"level": target, "assigned_unit": None, "handler": None, "needs_ruling": False},
        data={"from_level": case.level, "to_level": target},
    )
    _close_pending_extensions(case, _("案件已上报上级"))
    _close_active(case, AssignmentStatus.ESCALATED, event.created_at)
    if dispatch_by_matrix(case=case) is None:
        notify_dispatchers(case, _("下级上报案件：%(number)s") % {"number": case.number})
    return event


@transaction.atomic
def case_delegate(*, case: Case, actor: User, level: str, reason: str = "") -> CaseEvent:
    """下派: a higher level hands a case down to a lower level for dispatch there."""
    require(actor, case, CaseAction.DELEGATE)
    lowest = _initial_level(case)
    if level not in LEVEL_ORDER or not (
        LEVEL_ORDER.index(lowest) <= LEVEL_ORDER.index(level) < LEVEL_ORDER.index(case.level)
    ):
        raise CaseError(
            _("只能下派到本级以下、且不低于案发地所在层级的层级。"), code="case_delegate_level", field="level"
        )
    event = transition(
        case=case, action=CaseAction.DELEGATE, actor=actor, reason=require_reason(reason, _("请说明下派要求。")),
        changes={"level": level, "needs_ruling": False}, data={"from_level": case.level, "to_level": level},
    )
    if dispatch_by_matrix(case=case) is None:
        notify_dispatchers(case, _("上级下派案件：%(number)s") % {"number": case.number})
    return event


def _assignment_action(assignment: Assignment, action: str) -> Case:
    case = assignment.case
    if case.status not in TRANSITIONS[action].sources:
        raise TransitionNotAllowed(action, case.status)
    if assignment.role != AssignmentRole.ASSIST or assignment.status not in ACTIVE_ASSIGNMENT:
        raise CaseError(_("该协办任务已结束。"), code="assignment_not_active")
    return case


@transaction.atomic
def assist_finish(*, assignment: Assignment, actor: User, result: str) -> CaseEvent:
    case = _assignment_action(assignment, CaseAction.ASSIST_FINISH)
    if not permissions.can_work_on_assignment(actor, assignment):
        raise CasePermissionDenied(_("只有协办单位的人员可以办结协办任务。"))
    text = require_reason(result, _("请填写协办情况。"))
    event = transition(
        case=case, action=CaseAction.ASSIST_FINISH, actor=actor, reason=text,
        data={"assignment": assignment.pk, "unit": assignment.unit_id, "unit_name": assignment.unit.name},
    )
    moved = Assignment.objects.filter(pk=assignment.pk, status__in=list(ACTIVE_ASSIGNMENT)).update(
        status=AssignmentStatus.DONE, finished_at=event.created_at, result=text,
        signed_at=assignment.signed_at or event.created_at,
    )
    if moved != 1:
        raise CaseError(_("该协办任务已结束。"), code="assignment_not_active")
    return event


@transaction.atomic
def assist_waive(*, assignment: Assignment, actor: User, reason: str) -> CaseEvent:
    case = _assignment_action(assignment, CaseAction.ASSIST_WAIVE)
    if not permissions.can_decide_for(actor, case):
        raise CasePermissionDenied(_("只有调度员可以免除协办。"))
    text = require_reason(reason, _("请说明免除协办的理由。"))
    event = transition(
        case=case, action=CaseAction.ASSIST_WAIVE, actor=actor, reason=text,
        data={"assignment": assignment.pk, "unit": assignment.unit_id, "unit_name": assignment.unit.name},
    )
    Assignment.objects.filter(pk=assignment.pk).update(status=AssignmentStatus.WAIVED, finished_at=event.created_at)
    return event


@transaction.atomic
def case_extend_request(*, case: Case, actor: User, days: int, reason: str) -> ExtensionRequest:
    require(actor, case, CaseAction.EXTEND_REQUEST)
    text = require_reason(reason, _("申请延期必须说明理由。"))
    if not isinstance(days, int) or not 1 <= days <= 60:
        raise CaseError(_("延期天数应为 1 到 60 个工作日。"), code="extension_days_invalid", field="days")
    if case.extension_requests.filter(status=ExtensionStatus.PENDING).exists():
        raise CaseError(_("已有待审批的延期申请。"), code="extension_pending")
    transition(case=case, action=CaseAction.EXTEND_REQUEST, actor=actor, reason=text, data={"days": days},
               is_public=False)
    request = ExtensionRequest.objects.create(case=case, requested_by=actor, days=days, reason=text)
    notify_dispatchers(case, _("延期申请待审批：%(number)s") % {"number": case.number})
    return request


@transaction.atomic
def case_extend_decide(*, request: ExtensionRequest, actor: User, approve: bool, note: str = "") -> CaseEvent:
    """The dispatcher approves (the deadline moves by the requested working days) or refuses."""
    case = request.case
    action = CaseAction.EXTEND_APPROVE if approve else CaseAction.EXTEND_REJECT
    if case.status not in TRANSITIONS[action].sources:
        raise TransitionNotAllowed(action, case.status)
    if not permissions.can_decide_for(actor, case):
        raise CasePermissionDenied(_("只有调度员可以审批延期。"))
    decided = ExtensionRequest.objects.filter(pk=request.pk, status=ExtensionStatus.PENDING).update(
        status=ExtensionStatus.APPROVED if approve else ExtensionStatus.REJECTED,
        decided_by=actor, decided_at=timezone.now(), decision_note=clean_text(note)[:2000],
    )
    if decided != 1:
        raise CaseError(_("该延期申请已处理。"), code="extension_already_decided")
    changes: dict[str, object] = {}
    if approve and case.due_at is not None:
        due = add_working_days(case.due_at, request.days)
        start = case.dispatched_at or case.created_at
        yellow = deadlines.yellow_moment(start, due)
        changes = {"due_at": due, "yellow_at": yellow, "warning": deadlines.warning_for(timezone.now(), yellow, due)}
    data: dict[str, object] = {"days": request.days, "request": request.pk}
    if approve:
        lead = _lead(case)
        if lead is not None:
            unit_due = add_working_days(lead.due_at, request.days)
            Assignment.objects.filter(pk=lead.pk).update(due_at=unit_due)
            data["unit_due_at"] = unit_due.isoformat()
        if "due_at" in changes:
            data["due_at"] = changes["due_at"].isoformat()  # type: ignore[attr-defined]
    return transition(
        case=case, action=action, actor=actor, reason=clean_text(note)[:2000], changes=changes, data=data,
        is_public=False,
    )


@transaction.atomic
def case_suspend(*, case: Case, actor: User, reason: str) -> CaseEvent:
    """缓办: the dispatcher approves stopping the clock, with a reason."""
    require(actor, case, CaseAction.SUSPEND)
    text = require_reason(reason, _("缓办必须说明理由。"))
    return transition(case=case, action=CaseAction.SUSPEND, actor=actor, reason=text,
                      changes={"suspended_at": timezone.now()})


@transaction.atomic
def case_resume(*, case: Case, actor: User, reason: str = "") -> CaseEvent:
    """The clock starts again; every deadline moves by the working time the case was suspended."""
    require(actor, case, CaseAction.RESUME)
    now = timezone.now()
    hours = working_seconds_between(case.suspended_at, now) / 3600 if case.suspended_at else 0.0
    changes: dict[str, object] = {"suspended_at": None}
    if case.due_at is not None:
        changes["due_at"] = add_working_hours(case.due_at, hours)
        changes["yellow_at"] = add_working_hours(case.yellow_at, hours) if case.yellow_at else None
        changes["warning"] = (
            case.warning if case.warning == WarningLevel.RED
            else deadlines.warning_for(now, changes["yellow_at"], changes["due_at"])  # type: ignore[arg-type]
        )
    for assignment in case.assignments.filter(status__in=list(ACTIVE_ASSIGNMENT)):
        Assignment.objects.filter(pk=assignment.pk).update(due_at=add_working_hours(assignment.due_at, hours))
    return transition(
        case=case, action=CaseAction.RESUME, actor=actor, reason=clean_text(reason)[:2000], changes=changes,
        data={
            "suspended_hours": round(hours, 2),
            "due_at": changes["due_at"].isoformat() if changes.get("due_at") else None,  # type: ignore[attr-defined]
        },
    )

"""Who may see and do what with a case: plain functions, one per action.

Scope rule: a membership sees the cases whose region lies in its scope subtree, or of its
single grid for grid workers, plus the cases assigned to its own unit. Leaders see and do
nothing else; the three administrator roles see no case at all (三权分立).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.utils import timezone

from sizhi.accounts.models import ADMIN_ROLES, DISPATCHER_ROLES, HANDLER_ROLES, Membership, Role, User
from sizhi.accounts.selectors import active_memberships
from sizhi.cases.models import Assignment, Case
from sizhi.cases.workflow import ACTIVE_ASSIGNMENT, CaseAction, CaseStatus, Satisfaction, allowed_actions
from sizhi.units.matrix import LEVELS_UPWARD
from sizhi.units.models import HandlingUnit

AnyUser = User | AnonymousUser | None


def _covers(m: Membership, case: Case) -> bool:
    if m.role in ADMIN_ROLES:
        return False
    if m.grid_id is not None:
        in_scope = case.grid_id == m.grid_id
    else:
        in_scope = m.scope is not None and case.region_code.startswith(m.scope.prefix)
    if in_scope or m.unit_id is None:
        return in_scope
    if case.assigned_unit_id == m.unit_id:
        return True
    # An assisting unit must see the case it helps with, wherever its members' scope lies.
    return case.assignments.filter(unit_id=m.unit_id, status__in=list(ACTIVE_ASSIGNMENT)).exists()


def membership_scope_q(m: Membership) -> Q | None:
    if m.role in ADMIN_ROLES:
        return None
    if m.grid_id is not None:
        q = Q(grid_id=m.grid_id)
    elif m.scope is not None:
        q = Q(region_code__startswith=m.scope.prefix)
    else:
        q = Q(pk__in=[])
    if m.unit_id is not None:
        q |= Q(assigned_unit_id=m.unit_id)
        # A subquery rather than a join, so lists need no DISTINCT.
        assisting = Assignment.objects.filter(unit_id=m.unit_id, status__in=list(ACTIVE_ASSIGNMENT))
        q |= Q(pk__in=assisting.values("case_id"))
    return q


def case_scope_q(user: AnyUser) -> Q | None:
    """The filter every staff list, count and search applies; None means "nothing"."""
    parts = [q for m in active_memberships(user) if (q := membership_scope_q(m)) is not None]
    if not parts:
        return None
    combined = parts[0]
    for q in parts[1:]:
        combined |= q
    return combined


def can_view_case(user: AnyUser, case: Case) -> bool:
    if user is not None and user.is_authenticated and case.reporter_id == user.pk:
        return True
    return any(_covers(m, case) for m in active_memberships(user))


def _at_or_above(m: Membership, case: Case) -> bool:
    """A centre at the case's managing level or above: after an escalation the lower centre no
    longer decides for the case."""
    return m.scope is not None and LEVELS_UPWARD.index(m.scope.level) >= LEVELS_UPWARD.index(case.level)


def _dispatcher_covers(user: AnyUser, case: Case) -> bool:
    return any(
        m.role in DISPATCHER_ROLES and _at_or_above(m, case) and _covers(m, case) for m in active_memberships(user)
    )


def can_accept(user: AnyUser, case: Case) -> bool:
    return _dispatcher_covers(user, case)


can_reject = can_accept
can_register = can_accept
can_dispatch = can_accept
can_close = can_accept


def can_dispatch_to(user: AnyUser, case: Case, unit: HandlingUnit) -> bool:
    """The unit must be in the dispatcher's scope and its region must contain the case."""
    if not unit.is_active or not case.region_code.startswith(unit.region.prefix):
        return False
    return any(
        m.role in DISPATCHER_ROLES and m.scope is not None and unit.region_code.startswith(m.scope.prefix)
        for m in active_memberships(user)
    )


def _member_of_assigned_unit(user: AnyUser, case: Case) -> bool:
    if case.assigned_unit_id is None:
        return False
    return any(
        m.unit_id == case.assigned_unit_id and (m.role in HANDLER_ROLES or m.role in DISPATCHER_ROLES)
        for m in active_memberships(user)
    )


can_sign_for = _member_of_assigned_unit
can_return = _member_of_assigned_unit


can_handle = _member_of_assigned_unit


def can_verify(user: AnyUser, case: Case) -> bool:
    """A dispatcher in scope, or the grid worker of the case's grid, but never the handler."""
    if user is None or not user.is_authenticated or case.handler_id == user.pk:
        return False
    for m in active_memberships(user):
        if m.role in DISPATCHER_ROLES and _covers(m, case):
            return True
        if m.role == Role.GRID_WORKER and m.grid_id is not None and m.grid_id == case.grid_id:
            return True
    return False


def can_rate(user: AnyUser, case: Case) -> bool:
    return user is not None and user.is_authenticated and case.reporter_id == user.pk


can_reopen = can_rate


def _reopen_window_open(case: Case) -> bool:
    deadline = case.closed_at + timedelta(days=settings.SIZHI_REOPEN_DAYS) if case.closed_at else None
    return case.satisfaction == Satisfaction.UNSATISFIED and deadline is not None and timezone.now() <= deadline


# Conditions on the case itself, beyond its status, that the services check too.
STATE_GUARDS = {
    CaseAction.RATE: lambda case: case.rated_at is None,
    CaseAction.REOPEN: _reopen_window_open,
}



def _dispatcher_at_case_level(user: AnyUser, case: Case) -> bool:
    """A dispatcher of the centre that manages the case now (its scope level is the case's level)."""
    return any(
        m.role in DISPATCHER_ROLES and m.scope is not None and m.scope.level == case.level and _covers(m, case)
        for m in active_memberships(user)
    )


def can_decide_for(user: AnyUser, case: Case) -> bool:
    """Extensions, suspensions and waivers are decided by a dispatcher whose scope holds the case."""
    return _dispatcher_covers(user, case)


def can_escalate(user: AnyUser, case: Case) -> bool:
    if case.status == CaseStatus.REGISTERED:
        return _dispatcher_at_case_level(user, case)
    return _member_of_assigned_unit(user, case)


def can_delegate(user: AnyUser, case: Case) -> bool:
    return _dispatcher_at_case_level(user, case)


can_extend_request = _member_of_assigned_unit
can_suspend = can_decide_for
can_resume = can_decide_for


def can_work_on_assignment(user: AnyUser, assignment: Assignment) -> bool:
    return any(
        m.unit_id == assignment.unit_id and (m.role in HANDLER_ROLES or m.role in DISPATCHER_ROLES)
        for m in active_memberships(user)
    )


ACTION_CHECKS = {
    CaseAction.ACCEPT: can_accept,
    CaseAction.REJECT: can_reject,
    CaseAction.REGISTER: can_register,
    CaseAction.DISPATCH: can_dispatch,
    CaseAction.SIGN_FOR: can_sign_for,
    CaseAction.RETURN: can_return,
    CaseAction.HANDLE: can_handle,
    CaseAction.VERIFY_PASS: can_verify,
    CaseAction.VERIFY_FAIL: can_verify,
    CaseAction.CLOSE: can_close,
    CaseAction.RATE: can_rate,
    CaseAction.REOPEN: can_reopen,
    CaseAction.ESCALATE: can_escalate,
    CaseAction.MERGE: can_accept,
    CaseAction.DELEGATE: can_delegate,
    CaseAction.EXTEND_REQUEST: can_extend_request,
    CaseAction.SUSPEND: can_suspend,
    CaseAction.RESUME: can_resume,
}


def available_actions(user: AnyUser, case: Case) -> list[str]:
    """What this user may start on this case now: the one answer the workbench, the citizen
    pages and the API all give."""
    return [
        a for a in allowed_actions(case.status)
        if can_perform(user, case, a) and STATE_GUARDS.get(a, lambda _case: True)(case)  # type: ignore[call-overload]
    ]


def can_perform(user: AnyUser, case: Case, action: str) -> bool:
    check = ACTION_CHECKS.get(action)  # type: ignore[call-overload]
    return bool(check and check(user, case))

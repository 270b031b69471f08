"""Who may see residents' personal data, and who may see it unmasked.

Residents belong to the grass roots: grid workers (their own grid), village cadres, party
secretaries and the dispatchers of the town, district and city centres (their scope subtree).
Department handlers and leaders do not keep the register; the three administrator roles never
see personal data in full (三权分立), whatever other role an account might wrongly carry.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q

from sizhi.accounts.models import ADMIN_ROLES, Membership, Role, User
from sizhi.accounts.selectors import active_memberships, user_roles
from sizhi.cases.models import Case
from sizhi.cases.permissions import can_view_case
from sizhi.regions.models import Resident
from sizhi.regions.selectors import code_range

AnyUser = User | AnonymousUser | None

RESIDENT_ROLES = frozenset(
    {
        Role.GRID_WORKER, Role.VILLAGE_CADRE, Role.PARTY_SECRETARY,
        Role.TOWN_DISPATCHER, Role.DISTRICT_DISPATCHER, Role.CITY_DISPATCHER,
    }
)
# Reading a case's reporter in full: whoever works the case, never a leader (read-only) or admin.
CASE_UNMASK_EXCLUDED = ADMIN_ROLES | {Role.LEADER}


def _is_admin(user: AnyUser) -> bool:
    return bool(user_roles(user) & ADMIN_ROLES)


def _resident_memberships(user: AnyUser) -> list[Membership]:
    if _is_admin(user):
        return []
    return [m for m in active_memberships(user) if m.role in RESIDENT_ROLES]


def may_use_register(user: AnyUser) -> bool:
    """Whether the resident pages are for this user at all (otherwise the 403 page)."""
    return bool(_resident_memberships(user))


def _scope_q(user: AnyUser, via: str) -> Q | None:
    parts: list[Q] = []
    for m in _resident_memberships(user):
        if m.grid_id is not None:
            parts.append(Q(**{f"{via}grid_id": m.grid_id}))
        elif m.scope is not None:
            low, high = code_range(m.scope.prefix)
            parts.append(Q(**{f"{via}grid__region_code__gte": low, f"{via}grid__region_code__lte": high}))
    if not parts:
        return None
    combined = parts[0]
    for q in parts[1:]:
        combined |= q
    return combined


def resident_scope_q(user: AnyUser) -> Q | None:
    """Residents the user may find and read; None means none at all."""
    return _scope_q(user, "household__")


def household_scope_q(user: AnyUser) -> Q | None:
    """Households the user may register residents in; None means none."""
    return _scope_q(user, "")


def _covers_grid(m: Membership, grid_id: int, region_code: str) -> bool:
    if m.grid_id is not None:
        return m.grid_id == grid_id
    return m.scope is not None and region_code.startswith(m.scope.prefix)


def can_view_resident(user: AnyUser, resident: Resident) -> bool:
    grid = resident.household.grid
    return any(_covers_grid(m, grid.pk, grid.region_code) for m in _resident_memberships(user))


def can_manage_household(user: AnyUser, grid_id: int, region_code: str) -> bool:
    """Register or change residents of a household in this grid."""
    return any(_covers_grid(m, grid_id, region_code) for m in _resident_memberships(user))


def can_unmask_resident(user: AnyUser, resident: Resident) -> bool:
    return can_view_resident(user, resident)


def can_unmask_case_reporter(user: AnyUser, case: Case) -> bool:
    """Staff working the case may call the reporter back; the reporter must have an account
    with a phone and not have reported anonymously."""
    if case.is_anonymous or case.reporter is None or not case.reporter.phone:
        return False
    if user is None or not user.is_authenticated or _is_admin(user):
        return False
    if not any(m.role not in CASE_UNMASK_EXCLUDED for m in active_memberships(user)):
        return False
    return case.reporter_id != user.pk and can_view_case(user, case)

"""The permission policy as one table a reviewer can read: every role of the test world, every
action, on a case inside their scope and on one outside it. `permissions.can_perform` and the
selectors (`case_get_for_user` for a detail page, `case_list_for_user` for lists and counts)
must both agree with it.

Policy (cases.permissions):
- dispatchers (town/district/city) accept, reject, register, dispatch, verify and close in their
  region subtree;
- members of the assigned unit (handler roles, or dispatchers of that unit) sign for, return and
  handle;
- verification is by a dispatcher in scope or the grid worker of the case's grid, never the handler;
- the reporter rates and reopens (and sees the case, but not in staff lists);
- a leader reads only; the three administrator roles see no case at all (三权分立);
- a grid worker sees only their grid's cases, plus those assigned to their unit.
"""

from __future__ import annotations

import secrets

import pytest
from django.contrib.auth.models import AnonymousUser

from sizhi.accounts.models import User
from sizhi.cases import permissions, selectors
from sizhi.cases.models import Case
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World, inside
from sizhi.regions.models import Region, RegionLevel
from sizhi.units.models import HandlingUnit, UnitKind

VIEW, LIST = "view", "list"  # case_get_for_user / case_list_for_user
ACTIONS = [
    "accept", "reject", "register", "dispatch", "sign_for", "return", "handle",
    "verify_pass", "verify_fail", "close", "rate", "reopen",
]
# A dispatcher on a case in their area that was dispatched to their own centre.
DISPATCHER = {
    VIEW, LIST, "accept", "reject", "register", "dispatch", "close", "verify_pass", "verify_fail",
    "sign_for", "return", "handle",
}
UNIT_MEMBER = {VIEW, LIST, "sign_for", "return", "handle"}
REPORTER = {VIEW, "rate", "reopen"}

# role: (case inside their scope, case outside it), each as (place, assigned unit, reporter).
# Places: grids A1-1, A1-2 (金业路社区), A2-1 (周公庙社区, same town), B1-1 (another district);
# 郑州 is a case of another city altogether.
CASES = {
    "grid_worker":         (("A1-1", "village_a1_committee", None), ("A1-2", "district_a_dept", None)),
    "grid_worker_b":       (("B1-1", "town_b_centre", None), ("A1-1", "village_a1_committee", None)),
    "village_cadre":       (("A1-2", "village_a1_committee", None), ("A2-1", "town_a_centre", None)),
    "party_secretary":     (("A1-2", "village_a1_committee", None), ("A2-1", "town_a_centre", None)),
    "town_dispatcher":     (("A2-1", "town_a_centre", None), ("B1-1", "town_b_centre", None)),
    "town_dispatcher_b":   (("B1-1", "town_b_centre", None), ("A1-1", "village_a1_committee", None)),
    "department_handler":  (("A1-1", "district_a_dept", None), ("B1-1", "town_b_centre", None)),
    "district_dispatcher": (("A2-1", "district_a_centre", None), ("B1-1", "town_b_centre", None)),
    "city_dispatcher":     (("B1-1", "city_centre", None), ("郑州", "zhengzhou_centre", None)),
    "leader":              (("A1-1", "village_a1_committee", None), ("郑州", "zhengzhou_centre", None)),
    "system_admin":        (("A1-1", "village_a1_committee", None), ("郑州", "zhengzhou_centre", None)),
    "security_admin":      (("A1-1", "village_a1_committee", None), ("郑州", "zhengzhou_centre", None)),
    "audit_admin":         (("A1-1", "village_a1_committee", None), ("郑州", "zhengzhou_centre", None)),
    "citizen":             (("A1-1", "village_a1_committee", "citizen"), ("A1-1", "village_a1_committee", "citizen2")),
    "citizen2":            (("B1-1", "town_b_centre", "citizen2"), ("B1-1", "town_b_centre", "citizen")),
}

# role: (what they may do on the inside case, what they may do on the outside case)
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "grid_worker":         (UNIT_MEMBER | {"verify_pass", "verify_fail"}, set()),
    "grid_worker_b":       ({VIEW, LIST, "verify_pass", "verify_fail"}, set()),
    "village_cadre":       (UNIT_MEMBER, set()),
    "party_secretary":     (UNIT_MEMBER, set()),
    "town_dispatcher":     (DISPATCHER, set()),
    "town_dispatcher_b":   (DISPATCHER, set()),
    "department_handler":  (UNIT_MEMBER, set()),
    "district_dispatcher": (DISPATCHER, set()),
    "city_dispatcher":     (DISPATCHER, set()),
    "leader":              ({VIEW, LIST}, set()),
    "system_admin":        (set(), set()),
    "security_admin":      (set(), set()),
    "audit_admin":         (set(), set()),
    "citizen":             (REPORTER, set()),
    "citizen2":            (REPORTER, set()),
}


def test_matrix_covers_every_role_of_the_world(world: World) -> None:
    assert set(CASES) == set(EXPECTED) == set(world.users)


def other_city(world: World) -> tuple[Region, HandlingUnit]:
    zhengzhou = Region.objects.create(code="410100000000", prefix="4101", name="郑州市", level=RegionLevel.CITY)
    centre = HandlingUnit.objects.create(name="郑州市指挥中心", kind=UnitKind.COMMAND_CENTRE, region=zhengzhou)
    return zhengzhou, centre


def make_case(world: World, place: str, unit: str | None, reporter: str | None, **fields: object) -> Case:
    grids = {"A1-1": world.grid_a1, "A1-2": world.grid_a1b, "A2-1": world.grid_a2, "B1-1": world.grid_b1}
    if place in grids:
        grid = grids[place]
        region = grid.village
        lat, lng = inside(grid)
    else:
        grid, lat, lng = None, None, None
        region = Region.objects.get(code="410100000000")
    units = {"zhengzhou_centre": lambda: HandlingUnit.objects.get(name="郑州市指挥中心")}
    assigned = (units[unit]() if unit in units else getattr(world, unit)) if unit else None
    code = secrets.token_urlsafe(16)
    values: dict[str, object] = {
        "number": f"T{code[:20]}", "tracking_code": code, "title": f"{place} 的案件", "description": "测试案件",
        "status": CaseStatus.HANDLING, "reporter": world.user(reporter) if reporter else None,
        "is_anonymous": reporter is None, "grid": grid, "lat": lat, "lng": lng, "region": region,
        "region_code": region.code, "assigned_unit": assigned,
    }
    values.update(fields)
    return Case.objects.create(**values)


def allowed(user, case: Case) -> set[str]:
    got = {action for action in ACTIONS if permissions.can_perform(user, case, action)}
    if selectors.case_get_for_user(user, case.pk) is not None:
        got.add(VIEW)
    if selectors.case_list_for_user(user).filter(pk=case.pk).exists():
        got.add(LIST)
    return got


@pytest.mark.parametrize("side", ["inside", "outside"])
@pytest.mark.parametrize("role", list(EXPECTED))
def test_permission_matrix(world: World, role: str, side: str) -> None:
    # given one case inside the role's scope and one outside it
    other_city(world)
    inside_case = make_case(world, *CASES[role][0])
    outside_case = make_case(world, *CASES[role][1])
    case = inside_case if side == "inside" else outside_case

    # when we ask what this person may do with it
    got = allowed(world.user(role), case)

    # then it is exactly what the table says
    expected = EXPECTED[role][0 if side == "inside" else 1]
    assert got == expected, f"{role} on the {side} case: extra {got - expected}, missing {expected - got}"


# --- the corners of the policy the table does not show -----------------------------------------


def test_grid_worker_sees_a_case_of_another_grid_assigned_to_their_unit(world: World) -> None:
    # 金业路社区居委会 was sent a case in 周公庙社区; its grid worker (of A1-1) works on it
    case = make_case(world, "A2-1", "village_a1_committee", None)

    assert allowed(world.user("grid_worker"), case) == UNIT_MEMBER


def test_grid_worker_does_not_see_the_other_grid_of_their_own_village(world: World) -> None:
    case = make_case(world, "A1-2", None, None, status=CaseStatus.REPORTED)

    assert allowed(world.user("grid_worker"), case) == set()
    assert allowed(world.user("village_cadre"), case) == {VIEW, LIST}


def test_unit_member_sees_but_cannot_work_a_case_of_another_unit_in_their_area(world: World) -> None:
    case = make_case(world, "A1-1", "district_a_dept", None)

    assert allowed(world.user("village_cadre"), case) == {VIEW, LIST}
    assert allowed(world.user("department_handler"), case) == UNIT_MEMBER


def test_dispatcher_of_a_higher_level_acts_below_but_works_only_their_own_units_cases(world: World) -> None:
    case = make_case(world, "A1-1", "village_a1_committee", None)

    assert allowed(world.user("city_dispatcher"), case) == DISPATCHER - {"sign_for", "return", "handle"}
    assert allowed(world.user("district_dispatcher"), case) == DISPATCHER - {"sign_for", "return", "handle"}


def test_handler_of_the_case_cannot_verify_it(world: World) -> None:
    for handler in ("grid_worker", "town_dispatcher"):
        case = make_case(world, "A1-1", "town_a_centre", None, handler=world.user(handler))

        got = allowed(world.user(handler), case)

        assert "verify_pass" not in got and "verify_fail" not in got
        # someone else in scope still can
        assert "verify_pass" in allowed(world.user("district_dispatcher"), case)


def test_reporter_who_is_also_staff_still_rates_only_their_own_report(world: World) -> None:
    case = make_case(world, "B1-1", None, "town_dispatcher", status=CaseStatus.CLOSED)

    assert permissions.can_rate(world.user("town_dispatcher"), case)
    assert not permissions.can_rate(world.user("town_dispatcher_b"), case)


def test_address_only_case_at_the_city_is_seen_only_city_wide(world: World) -> None:
    case = make_case(world, "A1-1", None, None, grid=None, region=world.city, region_code=world.city.code)

    seen = {role for role in EXPECTED if selectors.case_get_for_user(world.user(role), case.pk) is not None}

    assert seen == {"city_dispatcher", "leader"}


@pytest.mark.parametrize("user", [None, AnonymousUser()])
def test_signed_out_visitor_may_do_nothing(world: World, user) -> None:
    case = make_case(world, "A1-1", "village_a1_committee", None)

    assert allowed(user, case) == set()
    assert permissions.case_scope_q(user) is None


def test_unknown_action_is_never_allowed(world: World) -> None:
    case = make_case(world, "A1-1", "village_a1_committee", None)

    assert not permissions.can_perform(world.user("city_dispatcher"), case, "delete")
    assert not permissions.can_perform(world.user("city_dispatcher"), case, "submit")


def test_inactive_user_or_membership_sees_nothing(world: World) -> None:
    case = make_case(world, "A1-1", "village_a1_committee", None)
    dispatcher = world.user("town_dispatcher")
    cadre = world.user("village_cadre")
    dispatcher.is_active = False
    dispatcher.save()
    cadre.memberships.update(is_active=False)

    assert allowed(User.objects.get(pk=dispatcher.pk), case) == set()
    assert allowed(User.objects.get(pk=cadre.pk), case) == set()


def test_admin_role_combined_with_nothing_has_no_scope(world: World) -> None:
    for role in ("system_admin", "security_admin", "audit_admin"):
        assert permissions.case_scope_q(world.user(role)) is None
        assert selectors.case_list_for_user(world.user(role)).count() == 0


# --- where a dispatcher may send a case ---------------------------------------------------------

UNITS = ["village_a1_committee", "town_a_centre", "district_a_dept", "district_a_centre", "city_centre",
         "town_b_centre"]
# dispatcher: the units they may send a case of grid A1-1 to (the unit must be in their scope
# and its area must contain the case)
DISPATCH_TO = {
    "town_dispatcher":     {"village_a1_committee", "town_a_centre"},
    "district_dispatcher": {"village_a1_committee", "town_a_centre", "district_a_dept", "district_a_centre"},
    "city_dispatcher":     {"village_a1_committee", "town_a_centre", "district_a_dept", "district_a_centre",
                            "city_centre"},
    "town_dispatcher_b":   set(),
    "village_cadre":       set(),
    "department_handler":  set(),
    "leader":              set(),
    "system_admin":        set(),
}


@pytest.mark.parametrize("role", list(DISPATCH_TO))
def test_dispatch_targets(world: World, role: str) -> None:
    case = make_case(world, "A1-1", None, None, status=CaseStatus.REGISTERED)

    got = {name for name in UNITS if permissions.can_dispatch_to(world.user(role), case, getattr(world, name))}

    assert got == DISPATCH_TO[role]


def test_address_only_case_can_be_sent_only_to_city_level_units(world: World) -> None:
    case = make_case(world, "A1-1", None, None, grid=None, region=world.city, region_code=world.city.code)

    got = {name for name in UNITS if permissions.can_dispatch_to(world.user("city_dispatcher"), case,
                                                                  getattr(world, name))}

    assert got == {"city_centre"}

"""Reads of cases: lists, counts and search scoped exactly like detail pages, work queues per
role, lookups by tracking code, the reporter's own cases and the timeline."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sizhi.accounts.selectors import active_memberships
from sizhi.cases import selectors
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus
from sizhi.conftest import World, inside
from sizhi.regions.models import RegionLevel

S = CaseStatus


def make_case(world: World, place: str, *, status: str = S.REPORTED, unit: str | None = None,
              reporter: str | None = None, minutes_ago: int = 0, **fields: object) -> Case:
    """A case put straight into the database. Places: grids A1-1, A1-2, A2-1, B1-1, or "city"
    for an address-only report that the city has not placed yet."""
    grids = {"A1-1": world.grid_a1, "A1-2": world.grid_a1b, "A2-1": world.grid_a2, "B1-1": world.grid_b1}
    grid = grids.get(place)
    region = grid.village if grid else world.city
    lat, lng = inside(grid) if grid else (None, None)
    code = secrets.token_urlsafe(16)
    values: dict[str, object] = {
        "number": f"T{code[:20]}", "tracking_code": code, "title": f"{place} 井盖缺失", "description": "测试案件",
        "status": status, "reporter": world.user(reporter) if reporter else None, "grid": grid, "lat": lat,
        "lng": lng, "region": region, "region_code": region.code,
        "assigned_unit": getattr(world, unit) if unit else None,
        "created_at": timezone.now() - timedelta(minutes=minutes_ago),
        "rejection_kind": "invalid" if status == S.REJECTED else "",
    }
    values.update(fields)
    return Case.objects.create(**values)


def ids(qs) -> set[int]:
    return {c.pk for c in qs}


# --- scoped lists and counts -------------------------------------------------------------------


@pytest.fixture
def spread(world: World) -> dict[str, Case]:
    """Six cases across the world."""
    return {
        "a1": make_case(world, "A1-1"),
        "a1_dept": make_case(world, "A1-1", unit="district_a_dept", status=S.DISPATCHED),
        "a1b": make_case(world, "A1-2"),
        "a2_village": make_case(world, "A2-1", unit="village_a1_committee", status=S.HANDLING),
        "b1": make_case(world, "B1-1", unit="town_b_centre", status=S.DISPATCHED),
        "city": make_case(world, "city", address="老城区某街道"),
    }


STAFF_A = {"a1", "a1_dept", "a1b", "a2_village"}
# role: the cases their list (and every count built on it) contains
LISTED = {
    "grid_worker": {"a1", "a1_dept", "a2_village"},  # own grid + what was sent to their unit
    "grid_worker_b": {"b1"},
    "village_cadre": STAFF_A,
    "party_secretary": STAFF_A,
    "town_dispatcher": STAFF_A,
    "town_dispatcher_b": {"b1"},
    "department_handler": STAFF_A,
    "district_dispatcher": STAFF_A,
    "city_dispatcher": STAFF_A | {"b1", "city"},
    "leader": STAFF_A | {"b1", "city"},
    "system_admin": set(),
    "security_admin": set(),
    "audit_admin": set(),
    "citizen": set(),  # citizens use cases_of_reporter, never the staff list
    "citizen2": set(),
}


@pytest.mark.parametrize("role", list(LISTED))
def test_list_and_count_are_scoped_to_the_role(world: World, spread: dict[str, Case], role: str) -> None:
    qs = selectors.case_list_for_user(world.user(role))

    assert ids(qs) == {spread[name].pk for name in LISTED[role]}
    assert qs.count() == len(LISTED[role])


def test_town_dispatcher_list_never_contains_another_towns_case(world: World, spread: dict[str, Case]) -> None:
    for status in [None, *S.values]:
        for search in [None, "井盖", spread["b1"].number, "B1-1"]:
            qs = selectors.case_list_for_user(world.user("town_dispatcher"), status=status, search=search)
            assert spread["b1"].pk not in ids(qs), (status, search)


def test_status_filter(world: World, spread: dict[str, Case]) -> None:
    qs = selectors.case_list_for_user(world.user("town_dispatcher"), status=S.DISPATCHED)

    assert ids(qs) == {spread["a1_dept"].pk}


@pytest.mark.parametrize("status", ["", "bogus", "reported' OR 1=1 --"])
def test_unknown_status_filter_is_ignored(world: World, spread: dict[str, Case], status: str) -> None:
    qs = selectors.case_list_for_user(world.user("town_dispatcher"), status=status)

    assert ids(qs) == {spread[name].pk for name in STAFF_A}


def test_list_is_empty_for_a_signed_out_visitor(world: World, spread: dict[str, Case]) -> None:
    assert selectors.case_list_for_user(None).count() == 0
    assert selectors.case_list_for_user(AnonymousUser()).count() == 0


# --- search ------------------------------------------------------------------------------------


def test_search_by_number_ignores_case(world: World, spread: dict[str, Case]) -> None:
    target = spread["a1b"]

    qs = selectors.case_list_for_user(world.user("town_dispatcher"), search=f"  {target.number.lower()} ")

    assert ids(qs) == {target.pk}


def test_search_by_title_and_address(world: World, spread: dict[str, Case]) -> None:
    dispatcher = world.user("city_dispatcher")

    assert ids(selectors.case_list_for_user(dispatcher, search="A2-1")) == {spread["a2_village"].pk}
    assert ids(selectors.case_list_for_user(dispatcher, search="某街道")) == {spread["city"].pk}


def test_search_by_another_towns_number_finds_nothing(world: World, spread: dict[str, Case]) -> None:
    qs = selectors.case_list_for_user(world.user("town_dispatcher"), search=spread["b1"].number)

    assert qs.count() == 0


@pytest.mark.parametrize("term", ["%", "_", "%%%%", "\\"])
def test_search_wildcards_are_literal(world: World, spread: dict[str, Case], term: str) -> None:
    assert selectors.case_list_for_user(world.user("city_dispatcher"), search=term).count() == 0


@pytest.mark.parametrize("term", ["井\x00盖", "\ud800井盖", "井\u200b盖", "\u202e井盖"])
def test_search_with_control_or_invisible_characters_is_cleaned_not_an_error(
    world: World, spread: dict[str, Case], term: str
) -> None:
    # a NUL makes PostgreSQL refuse the query and a lone surrogate cannot be encoded at all
    qs = selectors.case_list_for_user(world.user("town_dispatcher"), search=term)

    assert ids(qs) == {spread[name].pk for name in STAFF_A}


def test_blank_search_is_no_filter(world: World, spread: dict[str, Case]) -> None:
    assert selectors.case_list_for_user(world.user("town_dispatcher"), search=" \u200b ").count() == 4


def test_overlong_search_is_cut_not_refused(world: World, spread: dict[str, Case]) -> None:
    assert selectors.case_list_for_user(world.user("town_dispatcher"), search="井" * 10_000).count() == 0


# --- ordering ----------------------------------------------------------------------------------


@pytest.fixture
def timed(world: World) -> list[Case]:
    """Three cases of town A, oldest first."""
    return [
        make_case(world, "A1-1", minutes_ago=30, number="LY20260101000000003"),
        make_case(world, "A1-2", minutes_ago=20, number="LY20260101000000001"),
        make_case(world, "A2-1", minutes_ago=10, number="LY20260101000000002"),
    ]


def listed(world: World, ordering: str) -> list[int]:
    return [c.pk for c in selectors.case_list_for_user(world.user("town_dispatcher"), ordering=ordering)]


def test_default_ordering_is_newest_first(world: World, timed: list[Case]) -> None:
    assert listed(world, "newest") == [c.pk for c in reversed(timed)]


def test_allowed_orderings(world: World, timed: list[Case]) -> None:
    assert listed(world, "oldest") == [c.pk for c in timed]
    assert listed(world, "number") == [timed[1].pk, timed[2].pk, timed[0].pk]
    Case.objects.filter(pk=timed[0].pk).update(updated_at=timezone.now() + timedelta(minutes=1))
    assert listed(world, "updated")[0] == timed[0].pk


@pytest.mark.parametrize(
    "ordering", ["pg_sleep(5)", "-created_at; SELECT pg_sleep(5)", "title", "reporter__password", "-id", "", "NEWEST"]
)
def test_ordering_outside_the_allow_list_falls_back_to_newest(world: World, timed: list[Case], ordering: str) -> None:
    qs = selectors.case_list_for_user(world.user("town_dispatcher"), ordering=ordering)

    assert [c.pk for c in qs] == [c.pk for c in reversed(timed)]
    assert "pg_sleep" not in str(qs.query)
    assert qs.query.order_by == ("-created_at", "-id")


# --- queues ------------------------------------------------------------------------------------


@pytest.fixture
def queue_cases(world: World) -> dict[str, Case]:
    unit = "village_a1_committee"
    made = {
        "reported": make_case(world, "A1-1", status=S.REPORTED),
        "accepted": make_case(world, "A1-1", status=S.ACCEPTED),
        "registered": make_case(world, "A1-1", status=S.REGISTERED),
        "dispatched": make_case(world, "A1-1", status=S.DISPATCHED, unit=unit),
        "handling": make_case(world, "A1-1", status=S.HANDLING, unit=unit),
        "verifying": make_case(world, "A1-1", status=S.VERIFYING, unit=unit),
        "verified": make_case(world, "A1-1", status=S.VERIFIED, unit=unit),
        "closed": make_case(world, "A1-1", status=S.CLOSED, unit=unit),
        "rejected": make_case(world, "A1-1", status=S.REJECTED),
        "to_town_centre": make_case(world, "A1-1", status=S.DISPATCHED, unit="town_a_centre"),
        "other_grid_verifying": make_case(world, "A1-2", status=S.VERIFYING, unit=unit),
        "town_b_reported": make_case(world, "B1-1", status=S.REPORTED),
        # Managed one level up: escalated by the town, and an address-only report the city places.
        "escalated_to_district": make_case(world, "A1-1", status=S.REGISTERED, level=RegionLevel.DISTRICT),
        "city_reported": make_case(world, "city", status=S.REPORTED, level=RegionLevel.CITY),
    }
    return made


INTAKE_A = {"reported", "accepted", "registered", "verifying", "verified", "other_grid_verifying"}
# role: what waits for their action. A dispatcher's intake is what their centre manages now
# (case.level == scope level): the town's cases are not in the district's or the city's queue.
QUEUED = {
    "town_dispatcher": INTAKE_A | {"to_town_centre"},  # + what was sent to their own centre
    "district_dispatcher": {"escalated_to_district"},
    "city_dispatcher": {"city_reported"},
    "town_dispatcher_b": {"town_b_reported"},
    "village_cadre": {"dispatched", "handling"},
    "party_secretary": {"dispatched", "handling"},
    "grid_worker": {"dispatched", "handling", "verifying"},  # unit work + verification in their grid
    "grid_worker_b": set(),
    "department_handler": set(),
    "leader": set(),
    "system_admin": set(),
    "security_admin": set(),
    "audit_admin": set(),
    "citizen": set(),
    "citizen2": set(),
}


@pytest.mark.parametrize("role", list(QUEUED))
def test_queue_holds_what_waits_for_the_role(world: World, queue_cases: dict[str, Case], role: str) -> None:
    got = ids(selectors.case_queue_for_user(world.user(role)))

    assert got == {queue_cases[name].pk for name in QUEUED[role]}


def test_queue_is_oldest_first(world: World) -> None:
    newer = make_case(world, "A1-1", minutes_ago=1)
    older = make_case(world, "A1-1", minutes_ago=60)

    assert [c.pk for c in selectors.case_queue_for_user(world.user("town_dispatcher"))] == [older.pk, newer.pk]


def test_queue_is_empty_for_a_signed_out_visitor(world: World, queue_cases: dict[str, Case]) -> None:
    assert selectors.case_queue_for_user(None).count() == 0
    assert selectors.case_queue_for_user(AnonymousUser()).count() == 0


# --- detail, tracking code, the reporter's own cases ------------------------------------------


def test_case_get_for_user_answers_none_outside_scope_or_for_unknown_ids(world: World) -> None:
    case = make_case(world, "B1-1")

    assert selectors.case_get_for_user(world.user("town_dispatcher_b"), case.pk) == case
    assert selectors.case_get_for_user(world.user("town_dispatcher"), case.pk) is None
    assert selectors.case_get_for_user(world.user("town_dispatcher_b"), case.pk + 1000) is None
    assert selectors.case_get_for_user(world.user("city_dispatcher"), 2**62) is None


def test_tracking_code_finds_the_case(world: World) -> None:
    case = make_case(world, "A1-1")

    assert selectors.case_by_tracking_code(case.tracking_code) == case
    assert selectors.case_by_tracking_code(f"  {case.tracking_code}\n") == case


@pytest.mark.parametrize(
    "code",
    [
        None, "", "abc", "A" * 15, "A" * 33, "A" * 22, "%" * 22, "_" * 22 + "%",
        "abcdefgh\x00ijklmnopqrst", "查询码查询码查询码查询码查询码查询码", "abcdefghij klmnopqrst",
        "abcdefghijklmnop'--", "../../../../etc/passwd",
    ],
)
def test_short_or_garbage_tracking_code_finds_nothing(world: World, code: str | None) -> None:
    make_case(world, "A1-1", tracking_code="A" * 21 + "B")

    assert selectors.case_by_tracking_code(code) is None  # type: ignore[arg-type]


def test_tracking_code_lookup_is_exact(world: World) -> None:
    case = make_case(world, "A1-1", tracking_code="abcdefghijklmnopqrstuv")

    assert selectors.case_by_tracking_code("abcdefghijklmnopqrstuv") == case
    assert selectors.case_by_tracking_code("abcdefghijklmnopqrstu") is None
    assert selectors.case_by_tracking_code("ABCDEFGHIJKLMNOPQRSTUV") is None


def test_cases_of_reporter_are_only_their_own(world: World) -> None:
    mine = make_case(world, "A1-1", reporter="citizen")
    make_case(world, "A1-1", reporter="citizen2")
    make_case(world, "A1-1", is_anonymous=True)

    assert ids(selectors.cases_of_reporter(world.user("citizen"))) == {mine.pk}
    assert selectors.cases_of_reporter(None).count() == 0
    assert selectors.cases_of_reporter(AnonymousUser()).count() == 0


def test_timeline_in_order_and_public_only_hides_internal_events(world: World) -> None:
    case = make_case(world, "A1-1", status=S.ACCEPTED)
    now = timezone.now()
    submit = CaseEvent.objects.create(case=case, action=CaseAction.SUBMIT, to_status=S.REPORTED,
                                      created_at=now - timedelta(minutes=5))
    internal = CaseEvent.objects.create(case=case, action=CaseAction.ACCEPT, from_status=S.REPORTED,
                                        to_status=S.ACCEPTED, is_public=False, created_at=now)

    assert list(selectors.case_timeline(case, public_only=False)) == [submit, internal]
    assert list(selectors.case_timeline(case, public_only=True)) == [submit]


# --- query counts ------------------------------------------------------------------------------


def _queries_to_render_list(user) -> int:
    with CaptureQueriesContext(connection) as ctx:
        rows = [
            (case.category, case.region.name, case.grid, case.assigned_unit)
            for case in selectors.case_list_for_user(user)
        ]
    assert rows
    return len(ctx.captured_queries)


def test_list_query_count_does_not_grow_with_the_number_of_cases(world: World) -> None:
    dispatcher = world.user("town_dispatcher")
    active_memberships(dispatcher)  # loaded once per request; not what this test counts
    make_case(world, "A1-1", category=world.category, unit="village_a1_committee")
    few = _queries_to_render_list(dispatcher)

    for _ in range(8):
        make_case(world, "A2-1", category=world.category, unit="town_a_centre")
    many = _queries_to_render_list(dispatcher)

    assert many == few == 1

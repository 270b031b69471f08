"""Two people acting on the same case at the same moment: exactly one wins, the other gets
CaseConflict (HTTP 409) and changes nothing. The deterministic tests give both actors the same
loaded version; the threaded ones race two real connections (PostgreSQL only: SQLite serialises
writers with a database lock, so it cannot show the interleaving)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import TypedDict, Unpack
from unittest import mock

import pytest
from django.db import connection

from sizhi.accounts.models import User
from sizhi.accounts.selectors import active_memberships
from sizhi.cases import services
from sizhi.cases.errors import CaseConflict
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import CaseAction, CaseStatus, RejectionKind, Satisfaction
from sizhi.conftest import World, inside
from sizhi.notify.models import Notification
from sizhi.regions import spatial

S = CaseStatus


class ReportOptions(TypedDict, total=False):
    """The keyword arguments of `services.report_submit` the tests vary."""

    reporter: User | None
    idempotency_key: str | None


def reported(world: World, **kwargs: Unpack[ReportOptions]) -> Case:
    lat, lng = inside(world.grid_a1)
    kwargs.setdefault("reporter", world.user("citizen"))
    return services.report_submit(description="金业路路口井盖缺失，夜间很危险", lat=lat, lng=lng, **kwargs)


def registered(world: World) -> Case:
    case = reported(world)
    services.case_accept(case=case, actor=world.user("town_dispatcher"))
    services.case_register(case=case, actor=world.user("town_dispatcher"), category=world.category)
    return case


def two_copies(case: Case) -> tuple[Case, Case]:
    return Case.objects.get(pk=case.pk), Case.objects.get(pk=case.pk)


# --- the same loaded version, one after the other ----------------------------------------------


def test_second_of_two_accepts_from_the_same_version_gets_a_conflict(world: World) -> None:
    # given two dispatchers who opened the same report
    case = reported(world)
    mine, theirs = two_copies(case)

    # when both accept it
    services.case_accept(case=mine, actor=world.user("town_dispatcher"))
    with pytest.raises(CaseConflict) as exc:
        services.case_accept(case=theirs, actor=world.user("district_dispatcher"))

    # then one acceptance stands and the other is told to reload
    assert exc.value.http_status == 409
    assert exc.value.code == "case_conflict"
    case.refresh_from_db()
    assert (case.status, case.version) == (S.ACCEPTED, 1)
    assert case.events.filter(action=CaseAction.ACCEPT).get().actor == world.user("town_dispatcher")


def test_reject_from_a_stale_copy_after_accept_gets_a_conflict(world: World) -> None:
    case = reported(world)
    mine, theirs = two_copies(case)
    services.case_accept(case=mine, actor=world.user("town_dispatcher"))
    notes = Notification.objects.count()

    with pytest.raises(CaseConflict):
        services.case_reject(
            case=theirs, actor=world.user("district_dispatcher"), kind=RejectionKind.INVALID, reason="不属实"
        )

    case.refresh_from_db()
    assert case.status == S.ACCEPTED
    assert case.rejection_kind == ""
    assert not case.events.filter(action=CaseAction.REJECT).exists()
    assert Notification.objects.count() == notes  # the loser's message to the reporter is not queued


def test_two_dispatches_to_different_units_from_the_same_version(world: World) -> None:
    case = registered(world)
    mine, theirs = two_copies(case)

    services.case_dispatch(case=mine, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    with pytest.raises(CaseConflict):
        services.case_dispatch(case=theirs, actor=world.user("district_dispatcher"), unit=world.district_a_dept)

    case.refresh_from_db()
    assert case.assigned_unit == world.village_a1_committee
    assert case.events.filter(action=CaseAction.DISPATCH).count() == 1
    assert not Notification.objects.filter(recipient=world.user("department_handler")).exists()


def test_two_unit_members_signing_for_the_same_case(world: World) -> None:
    case = registered(world)
    services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    mine, theirs = two_copies(case)

    services.case_sign_for(case=mine, actor=world.user("village_cadre"))
    with pytest.raises(CaseConflict):
        services.case_sign_for(case=theirs, actor=world.user("party_secretary"))

    case.refresh_from_db()
    assert case.handler == world.user("village_cadre")


def test_two_ratings_from_the_same_version(world: World) -> None:
    case = registered(world)
    Case.objects.filter(pk=case.pk).update(status=S.CLOSED)
    mine, theirs = two_copies(case)

    services.case_rate(case=mine, actor=world.user("citizen"), satisfaction=Satisfaction.SATISFIED)
    with pytest.raises(CaseConflict):
        services.case_rate(case=theirs, actor=world.user("citizen"), satisfaction=Satisfaction.UNSATISFIED)

    case.refresh_from_db()
    assert case.satisfaction == Satisfaction.SATISFIED


def test_version_alone_decides_even_when_the_status_matches(world: World) -> None:
    # someone dispatched and the unit returned it: back in 待派遣, but a newer version
    case = registered(world)
    stale = Case.objects.get(pk=case.pk)
    services.case_dispatch(case=case, actor=world.user("town_dispatcher"), unit=world.village_a1_committee)
    services.case_return(case=case, actor=world.user("village_cadre"), reason="不归我们管")
    assert Case.objects.get(pk=case.pk).status == stale.status

    with pytest.raises(CaseConflict):
        services.case_dispatch(case=stale, actor=world.user("district_dispatcher"), unit=world.district_a_dept)


def test_submit_race_on_the_same_idempotency_key_returns_the_winners_case(world: World) -> None:
    # given another request with the same key committed first (a retry, or a copy that raced)
    first = reported(world, idempotency_key="k-race")
    real_lookup = services._case_for_idempotency_key
    calls: list[object] = []

    def counting_lookup(*args: object) -> Case | None:
        calls.append(args)
        return real_lookup(*args)  # type: ignore[arg-type]

    # when ours reaches the INSERT, which hits the unique key
    with mock.patch.object(services, "_case_for_idempotency_key", side_effect=counting_lookup):
        again = reported(world, idempotency_key="k-race")

    # then we answer with the case that won, looked up once, and nothing else was written
    assert len(calls) == 1
    assert again.pk == first.pk
    assert Case.objects.count() == 1
    assert CaseEvent.objects.count() == 1


# --- real threads on PostgreSQL ----------------------------------------------------------------

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises writers; the race needs row locks"
)


def race(*calls: Callable[[], object]) -> list[str]:
    """Run the calls in parallel threads released together; report "ok" or "conflict" each."""
    barrier = threading.Barrier(len(calls))
    results: list[str] = []

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            call()
            results.append("ok")
        except CaseConflict:
            results.append("conflict")
        except Exception as exc:  # any other outcome is a failure the assertion will show
            results.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(results)


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_accepts_exactly_one_wins(world: World) -> None:
    town, district = world.user("town_dispatcher"), world.user("district_dispatcher")
    active_memberships(town), active_memberships(district)
    for _ in range(5):
        case = reported(world)
        mine, theirs = two_copies(case)

        results = race(
            partial(services.case_accept, case=mine, actor=town),
            partial(services.case_reject, case=theirs, actor=district, kind=RejectionKind.INVALID, reason="无效"),
        )

        assert results == ["conflict", "ok"]
        case.refresh_from_db()
        assert case.version == 1
        assert case.events.exclude(action=CaseAction.SUBMIT).count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_dispatches_exactly_one_wins(world: World) -> None:
    town, district = world.user("town_dispatcher"), world.user("district_dispatcher")
    active_memberships(town), active_memberships(district)
    for _ in range(5):
        case = registered(world)
        mine, theirs = two_copies(case)

        results = race(
            partial(services.case_dispatch, case=mine, actor=town, unit=world.village_a1_committee),
            partial(services.case_dispatch, case=theirs, actor=district, unit=world.district_a_dept),
        )

        assert results == ["conflict", "ok"]
        case.refresh_from_db()
        assert case.events.filter(action=CaseAction.DISPATCH).count() == 1
        winner = case.events.get(action=CaseAction.DISPATCH).data["unit"]
        assert case.assigned_unit_id == winner


@postgres_only
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_submits_with_the_same_key_make_one_case(world: World) -> None:
    citizen = world.user("citizen")
    # Built here first: while one thread rebuilds the process-wide index, the others answer from
    # the previous one, which belongs to an earlier test's grids.
    spatial.grid_index()
    made: list[int] = []
    lock = threading.Lock()

    def submit(key: str) -> None:
        case = reported(world, reporter=citizen, idempotency_key=key)
        with lock:
            made.append(case.pk)

    for round_ in range(5):
        key = f"k-parallel-{round_}"
        results = race(*(lambda k=key: submit(k) for _ in range(4)))

        assert results == ["ok"] * 4
        assert Case.objects.filter(idempotency_key=key).count() == 1
    assert len(set(made)) == 5

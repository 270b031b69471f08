"""Parallel requests over the API on PostgreSQL (SQLite serialises writers, so it cannot show the
interleaving): five copies of one report with one Idempotency-Key make one case and five equal
answers; two copies of one acceptance get the same 200; two dispatchers accepting the same case
at once get one 200 and one 409."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from sizhi.api.models import IdempotencyRecord
from sizhi.api.tests.conftest import ApiClient, reported, token_for
from sizhi.cases.models import Case, CaseEvent
from sizhi.conftest import World, inside

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def race(*calls: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # shown by the assertions
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_five_parallel_copies_of_one_report_make_one_case(world: World) -> None:
    token = token_for(world.user("citizen"))
    lat, lng = inside(world.grid_a1)
    headers = {"Idempotency-Key": str(uuid.uuid4())}

    def send() -> Any:
        client = ApiClient(Client(), token=token)
        return client.post(
            "/reports", {"description": "金业路路口井盖缺失，夜间很危险", "lat": lat, "lng": lng}, form=True,
            headers=headers,
        )

    answers = race(*[send] * 5)
    assert [getattr(a, "status_code", a) for a in answers] == [201] * 5, [getattr(a, "content", a) for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert Case.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_two_dispatchers_accept_at_once_one_wins(world: World) -> None:
    town = token_for(world.user("town_dispatcher"))
    district = token_for(world.user("district_dispatcher"))
    for _ in range(3):
        case = reported(world)

        def accept(token: str, case_id: int = case.pk) -> Any:
            return ApiClient(Client(), token=token).post(f"/cases/{case_id}/accept", {})

        answers = race(lambda: accept(town), lambda: accept(district))
        assert sorted(getattr(a, "status_code", a) for a in answers) == [200, 409]
        # The loser read either the old version (case_conflict) or, after the winner's commit,
        # the new status (case_accept_not_allowed): both 409, and one acceptance written.
        loser = next(a for a in answers if a.status_code == 409)
        assert loser.json()["error"]["code"] in {"case_conflict", "case_accept_not_allowed"}
        assert CaseEvent.objects.filter(case=case, action="accept").count() == 1


def test_two_copies_of_one_acceptance_both_get_the_first_answer(world: World) -> None:
    """The copy that loses fails on the moved case, or on the idempotency record's unique index;
    either way it answers with the winner's stored 200, and one acceptance is written."""
    town = token_for(world.user("town_dispatcher"))
    for _ in range(3):
        case = reported(world)
        headers = {"Idempotency-Key": str(uuid.uuid4())}

        def accept(case_id: int = case.pk, headers: dict[str, str] = headers) -> Any:
            return ApiClient(Client(), token=town).post(f"/cases/{case_id}/accept", {}, headers=headers)

        answers = race(accept, accept)
        assert [getattr(a, "status_code", a) for a in answers] == [200, 200]
        assert answers[0].json() == answers[1].json()
        assert CaseEvent.objects.filter(case=case, action="accept").count() == 1
        assert IdempotencyRecord.objects.filter(key=headers["Idempotency-Key"]).count() == 1


def test_two_dispatchers_decide_one_extension_at_once(world: World) -> None:
    """One decision is written; the other is refused (the request was decided, or the case moved
    under it), and the deadline moves once at most."""
    from sizhi.api.tests.conftest import handling
    from sizhi.cases import linkage
    from sizhi.cases.models import ExtensionRequest

    town = token_for(world.user("town_dispatcher"))
    district = token_for(world.user("district_dispatcher"))
    case = handling(world)
    extension = linkage.case_extend_request(case=case, actor=world.user("village_cadre"), days=3, reason="等待配件")
    path = f"/cases/{case.pk}/extensions/{extension.pk}/decide"

    def decide(token: str, approve: bool) -> Any:
        return ApiClient(Client(), token=token).post(path, {"approve": approve})

    answers = race(lambda: decide(town, True), lambda: decide(district, False))
    statuses = sorted(getattr(a, "status_code", a) for a in answers)
    assert statuses[0] == 200 and statuses[1] in {400, 409}, answers
    loser = next(a for a in answers if a.status_code != 200)
    assert loser.json()["error"]["code"] in {"extension_already_decided", "case_conflict"}
    assert CaseEvent.objects.filter(case=case, action__in=["extend_approve", "extend_reject"]).count() == 1
    assert ExtensionRequest.objects.get(pk=extension.pk).status in {"approved", "rejected"}

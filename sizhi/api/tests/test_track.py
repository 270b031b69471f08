"""Rating and reopening by tracking code: anonymous or signed in, limited per address (429
`rate_limited`), the reporter named only on their own named report."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from sizhi.accounts import throttle
from sizhi.api.tests.conftest import ApiClient, case_in, error_code, reported
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World

pytestmark = pytest.mark.django_db
S = CaseStatus


def closed_anonymous(world: World) -> Case:
    return case_in(world, S.CLOSED, reporter=None, anonymous=True)


def test_anonymous_reporter_rates_and_reopens_by_code(world: World, as_user) -> None:
    case = closed_anonymous(world)
    client = as_user(None)
    response = client.post(f"/track/{case.tracking_code}/rate", {"satisfaction": "unsatisfied", "comment": "没修好"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["event"]["action"] == "rate" and body["event"]["actor"] is None
    assert body["case"]["number"] == case.number and body["case"]["satisfaction"] == "unsatisfied"
    assert "tracking_code" not in body["case"]
    response = client.post(f"/track/{case.tracking_code}/reopen", {"reason": "井盖还是松的"})
    assert response.status_code == 200, response.content
    assert response.json()["case"]["status"] == "registered"
    assert [e.actor_id for e in CaseEvent.objects.filter(case=case, action__in=["rate", "reopen"])] == [None, None]


def test_named_reporter_by_code_acts_under_their_name_others_without(world: World, as_user) -> None:
    mine = case_in(world, S.CLOSED)
    satisfied = {"satisfaction": "satisfied"}
    assert as_user("citizen").post(f"/track/{mine.tracking_code}/rate", satisfied).status_code == 200
    assert CaseEvent.objects.get(case=mine, action="rate").actor == world.user("citizen")
    other = case_in(world, S.CLOSED)
    assert as_user("citizen2").post(f"/track/{other.tracking_code}/rate", satisfied).status_code == 200
    assert CaseEvent.objects.get(case=other, action="rate").actor is None


@pytest.mark.parametrize("code", ["x" * 22, "short", "%00" * 8, "a" * 64, "𠮷" * 16])
def test_unknown_or_malformed_code_is_404(world: World, as_user, code: str) -> None:
    closed_anonymous(world)
    response = as_user(None).post(f"/track/{code}/rate", {"satisfaction": "satisfied"})
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_track_refusals(world: World, as_user) -> None:
    case = closed_anonymous(world)
    client = as_user(None)
    path = f"/track/{case.tracking_code}"
    response = as_user("audit_admin").post(f"{path}/rate", {"satisfaction": "satisfied"})
    assert response.status_code == 403 and error_code(response) == "forbidden"
    response = client.post(f"{path}/rate", {"satisfaction": "great"})
    assert response.status_code == 400 and error_code(response) == "validation_error"
    assert client.post(f"{path}/reopen", {}).status_code == 400
    # Reopening needs an unsatisfied rating first.
    response = client.post(f"{path}/reopen", {"reason": "再看看"})
    assert response.status_code == 400 and error_code(response) == "case_reopen_not_allowed"
    assert client.post(f"{path}/rate", {"satisfaction": "unsatisfied"}).status_code == 200
    response = client.post(f"{path}/reopen", {"reason": " "})
    assert response.status_code == 400 and error_code(response) == "reason_required"
    # Rated once: a second rating is refused by status (409).
    response = client.post(f"{path}/rate", {"satisfaction": "satisfied"})
    assert response.status_code == 409 and error_code(response) == "case_rate_not_allowed"


def test_rating_an_open_case_is_409(world: World, as_user) -> None:
    case = reported(world, reporter=None, anonymous=True)
    response = as_user(None).post(f"/track/{case.tracking_code}/rate", {"satisfaction": "satisfied"})
    assert response.status_code == 409 and error_code(response) == "case_rate_not_allowed"
    response = as_user(None).post(f"/track/{case.tracking_code}/reopen", {"reason": "x"})
    assert response.status_code == 409 and error_code(response) == "case_reopen_not_allowed"


def test_bad_token_is_401_even_here(world: World) -> None:
    case = closed_anonymous(world)
    client = ApiClient(Client(), token="sz_" + "C" * 43)
    assert client.post(f"/track/{case.tracking_code}/rate", {"satisfaction": "satisfied"}).status_code == 401


def _limit(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    from sizhi.api.endpoints import track

    monkeypatch.setattr(track, "TRACK_ACTIONS_PER_ADDRESS", throttle.Limit("api-track-address", count, 600))


def test_requests_by_code_are_limited_per_address(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _limit(monkeypatch, 3)
    case = closed_anonymous(world)
    client = ApiClient(Client(REMOTE_ADDR="203.0.113.7"))
    # Misses and hits count alike.
    for _ in range(2):
        assert client.post("/track/" + "z" * 22 + "/rate", {"satisfaction": "satisfied"}).status_code == 404
    assert client.post(f"/track/{case.tracking_code}/rate", {"satisfaction": "unsatisfied"}).status_code == 200
    response = client.post(f"/track/{case.tracking_code}/reopen", {"reason": "没修好"})
    assert response.status_code == 429
    assert error_code(response) == "rate_limited" and response["Retry-After"] == "600"
    assert Case.objects.get(pk=case.pk).status == S.CLOSED
    # Another address has its own budget.
    other = ApiClient(Client(REMOTE_ADDR="198.51.100.9"))
    assert other.post(f"/track/{case.tracking_code}/reopen", {"reason": "没修好"}).status_code == 200


def test_an_address_over_its_limit_learns_nothing_about_codes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _limit(monkeypatch, 1)
    case = closed_anonymous(world)
    client = ApiClient(Client(REMOTE_ADDR="203.0.113.8"))
    client.post("/track/" + "z" * 22 + "/rate", {"satisfaction": "satisfied"})
    answers: list[Any] = [
        client.post(f"/track/{code}/rate", {"satisfaction": "satisfied"}) for code in (case.tracking_code, "y" * 22)
    ]
    assert [a.status_code for a in answers] == [429, 429]
    assert answers[0].json() == answers[1].json()

"""督办 and 回访 over the API: the orders a user receives and issues, issuing, answering, and
recording a call-back. 404 for what the caller cannot see, 403 for who may not act, 400 for bad
input, 409 when the case is in no state for it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db.models import F
from django.utils import timezone

from sizhi.api.tests.conftest import case_in, error_code, reported
from sizhi.cases import supervision
from sizhi.cases.models import CallBack, Case, CaseEvent, SupervisionOrder
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World

pytestmark = pytest.mark.django_db
S = CaseStatus


def tomorrow() -> str:
    return (timezone.localdate() + dt.timedelta(days=1)).isoformat()


def _order(world: World, case: Case | None = None) -> SupervisionOrder:
    case = case or case_in(world, S.DISPATCHED)
    return supervision.supervision_issue(
        actor=world.user("town_dispatcher"), unit=world.village_a1_committee, case=case,
        reason="群众多次反映，请加快处置", respond_by=timezone.localdate() + dt.timedelta(days=1),
    )


# --- the list ------------------------------------------------------------------------------------


def test_orders_received_and_issued(world: World, as_user) -> None:
    order = _order(world)
    general = supervision.supervision_issue(
        actor=world.user("leader"), unit=world.district_a_dept, reason="本月超期较多，请说明原因",
        respond_by=timezone.localdate(),
    )
    received = as_user("village_cadre").get("/supervision").json()
    assert [o["id"] for o in received["results"]] == [order.pk]
    row = received["results"][0]
    assert order.case is not None
    assert row["case"] == {"id": order.case.pk, "number": order.case.number}
    assert row["unit"]["id"] == world.village_a1_committee.pk and row["status"] == "open"
    assert row["issuer_level"] == "town" and row["issued_by"] == "town_dispatcher"
    issued = {o["id"] for o in as_user("town_dispatcher").get("/supervision").json()["results"]}
    assert issued == {order.pk}
    city = as_user("leader").get("/supervision").json()["results"]
    assert {o["id"] for o in city} == {order.pk, general.pk}
    assert next(o for o in city if o["id"] == general.pk)["case"] is None
    assert as_user("town_dispatcher_b").get("/supervision").json()["count"] == 0


def test_the_list_filters_by_status(world: World, as_user) -> None:
    order = _order(world)
    client = as_user("village_cadre")
    assert client.get("/supervision?status=answered").json()["count"] == 0
    supervision.supervision_respond(order=order, actor=world.user("village_cadre"), response="已安排今日修复")
    assert client.get("/supervision?status=open").json()["count"] == 0
    answered = client.get("/supervision?status=answered").json()["results"]
    assert [o["response"] for o in answered] == ["已安排今日修复"]
    assert client.get("/supervision").json()["count"] == 1


@pytest.mark.parametrize(("user", "query", "status"), [
    ("citizen", "", 403), ("audit_admin", "", 403), (None, "", 401), ("village_cadre", "?status=late", 400),
    ("village_cadre", "?page_size=101", 400),
])
def test_list_refusals(world: World, as_user, user: str | None, query: str, status: int) -> None:
    assert as_user(user).get(f"/supervision{query}").status_code == status


# --- issuing -------------------------------------------------------------------------------------


def test_issue_an_order_about_a_case(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    response = as_user("town_dispatcher").post(
        "/supervision",
        {"unit": world.village_a1_committee.pk, "case": case.pk, "reason": "请加快处置", "respond_by": tomorrow()},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["case"]["number"] == case.number and body["status"] == "open" and body["respond_by"] == tomorrow()
    assert case.events.filter(action="supervise").count() == 1


def test_issue_an_order_about_a_units_work(world: World, as_user) -> None:
    response = as_user("leader").post(
        "/supervision", {"unit": world.district_a_dept.pk, "reason": "本月超期较多", "respond_by": tomorrow()}
    )
    assert response.status_code == 201, response.content
    assert response.json()["case"] is None and response.json()["issuer_level"] == "city"


def _issue(as_user: Any, user: str, **body: Any) -> Any:
    return as_user(user).post("/supervision", {"reason": "请加快处置", "respond_by": tomorrow(), **body})


def test_issue_refusals(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    unit = world.village_a1_committee.pk
    hidden = reported(world, grid=world.grid_b1)
    # A case out of scope answers like a missing one.
    out = _issue(as_user, "town_dispatcher", unit=unit, case=hidden.pk)
    missing = _issue(as_user, "town_dispatcher", unit=unit, case=987654)
    assert out.status_code == missing.status_code == 400 and out.json() == missing.json()
    assert error_code(out) == "case_not_found" and set(out.json()["error"]["fields"]) == {"case"}
    response = _issue(as_user, "village_cadre", unit=unit, case=case.pk)
    assert response.status_code == 403 and error_code(response) == "case_permission_denied"
    response = _issue(as_user, "district_dispatcher", unit=world.district_a_dept.pk)  # a peer, not a lower level
    assert response.status_code == 403
    assert _issue(as_user, "audit_admin", unit=unit).status_code == 403
    cases: list[tuple[dict[str, Any], str]] = [
        ({"unit": 987654}, "unit_not_found"),
        ({"unit": world.district_a_dept.pk, "case": case.pk}, "supervision_wrong_unit"),
        ({"unit": unit, "respond_by": "2020-01-01"}, "supervision_date_past"),
        ({"unit": unit, "respond_by": "2026-02-30"}, "validation_error"),
        ({"unit": unit, "reason": "  "}, "reason_required"),
        ({"unit": str(unit)}, "validation_error"),
        ({"unit": unit, "case": True}, "validation_error"),
    ]
    for body, code in cases:
        response = _issue(as_user, "town_dispatcher", **body)
        assert response.status_code == 400, body
        assert error_code(response) == code, body
    assert as_user("town_dispatcher").post("/supervision", {"unit": unit}).status_code == 400
    assert not SupervisionOrder.objects.exists()


def test_issue_about_a_finished_case_is_409(world: World, as_user) -> None:
    closed = case_in(world, S.CLOSED)
    response = _issue(as_user, "town_dispatcher", unit=world.village_a1_committee.pk, case=closed.pk)
    assert response.status_code == 409 and error_code(response) == "case_supervise_not_allowed"


# --- answering -----------------------------------------------------------------------------------


def test_the_unit_answers(world: World, as_user) -> None:
    order = _order(world)
    response = as_user("village_cadre").post(f"/supervision/{order.pk}/respond", {"response": "已安排今日修复"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "answered" and body["response"] == "已安排今日修复" and body["responded_at"]
    assert CaseEvent.objects.get(case=order.case, action="supervision_reply").data["late"] is False


def test_answer_refusals(world: World, as_user) -> None:
    order = _order(world)
    path = f"/supervision/{order.pk}/respond"
    assert as_user("town_dispatcher_b").post(path, {"response": "收到"}).status_code == 404
    assert as_user("village_cadre").post("/supervision/987654/respond", {"response": "收到"}).status_code == 404
    assert as_user("citizen").post(path, {"response": "收到"}).status_code == 404
    response = as_user("town_dispatcher").post(path, {"response": "我来回复"})  # the issuer sees it, may not answer
    assert response.status_code == 403 and error_code(response) == "case_permission_denied"
    response = as_user("village_cadre").post(path, {})
    assert response.status_code == 400 and error_code(response) == "validation_error"
    response = as_user("village_cadre").post(path, {"response": "\u200b"})
    assert response.status_code == 400 and error_code(response) == "reason_required"
    assert as_user("village_cadre").post(path, {"response": "已安排"}).status_code == 200
    response = as_user("village_cadre").post(path, {"response": "再次"})
    assert response.status_code == 400 and error_code(response) == "supervision_already_answered"


def test_answer_about_a_case_in_no_state_for_it_is_409_and_changes_nothing(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    order = _order(world, case)
    Case.objects.filter(pk=case.pk).update(status=S.MERGED)
    response = as_user("village_cadre").post(f"/supervision/{order.pk}/respond", {"response": "已安排"})
    assert response.status_code == 409 and error_code(response) == "case_supervision_reply_not_allowed"
    assert SupervisionOrder.objects.get(pk=order.pk).status == "open"


# --- call-backs ----------------------------------------------------------------------------------


@pytest.fixture
def callback(world: World, settings: Any) -> CallBack:
    settings.SIZHI_CALLBACK_PERCENT = 100
    return CallBack.objects.get(case=case_in(world, S.CLOSED))


def test_record_a_call_back(world: World, as_user, callback: CallBack) -> None:
    detail = as_user("town_dispatcher").get(f"/cases/{callback.case_id}").json()
    assert detail["callback"]["id"] == callback.pk and detail["callback"]["status"] == "pending"
    response = as_user("town_dispatcher").post(
        f"/callbacks/{callback.pk}", {"reached": True, "satisfaction": "basically", "note": "希望加装护栏"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["reached"], body["satisfaction"]) == ("done", True, "basically")
    assert body["case"]["id"] == callback.case_id
    assert CaseEvent.objects.filter(case_id=callback.case_id, action="callback").count() == 1
    # The reporter's view of the case never shows it.
    assert as_user("citizen").get(f"/cases/{callback.case_id}").json()["callback"] is None


def test_not_reached_needs_no_satisfaction(world: World, as_user, callback: CallBack) -> None:
    response = as_user("town_dispatcher").post(f"/callbacks/{callback.pk}", {"reached": False})
    assert response.status_code == 200
    assert response.json()["reached"] is False and response.json()["satisfaction"] is None


def test_call_back_refusals(world: World, as_user, callback: CallBack) -> None:
    path = f"/callbacks/{callback.pk}"
    for user in ("town_dispatcher_b", "citizen"):  # the reporter is not staff: the call-back is not theirs
        assert as_user(user).post(path, {"reached": False}).status_code == 404
    assert as_user("town_dispatcher").post("/callbacks/987654", {"reached": False}).status_code == 404
    assert as_user("audit_admin").post(path, {"reached": False}).status_code == 403
    response = as_user("village_cadre").post(path, {"reached": True, "satisfaction": "satisfied"})
    assert response.status_code == 403 and error_code(response) == "case_permission_denied"
    for body, code in [
        ({"reached": True}, "satisfaction_invalid"),
        ({"reached": "yes"}, "validation_error"),
        ({"reached": True, "satisfaction": "happy"}, "validation_error"),
        ({}, "validation_error"),
    ]:
        response = as_user("town_dispatcher").post(path, body)
        assert response.status_code == 400 and error_code(response) == code, body
    assert as_user("town_dispatcher").post(path, {"reached": False}).status_code == 200
    response = as_user("town_dispatcher").post(path, {"reached": False})
    assert response.status_code == 400 and error_code(response) == "callback_already_done"


def test_call_back_racing_another_change_of_the_case_is_409(
    world: World, as_user, callback: CallBack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reporter rates the case between our read and our write: the conditional update lets
    the rating win; the call-back is refused with case_conflict and nothing of it is kept."""
    from sizhi.api.endpoints import supervision as endpoints

    record = endpoints.followup.callback_record

    def someone_else_first(**kwargs: Any) -> Any:
        Case.objects.filter(pk=kwargs["callback"].case_id).update(version=F("version") + 1)
        return record(**kwargs)

    monkeypatch.setattr(endpoints.followup, "callback_record", someone_else_first)
    response = as_user("town_dispatcher").post(f"/callbacks/{callback.pk}", {"reached": False})
    assert response.status_code == 409 and error_code(response) == "case_conflict"
    assert CallBack.objects.get(pk=callback.pk).status == "pending"

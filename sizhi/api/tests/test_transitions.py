"""Every life-cycle action as its own POST: the service's status change and event, its coded
refusals returned as they are (409 wrong status, 403 not allowed, 400 bad input), 404 out of
scope and 403 for administrators."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sizhi.api.tests.conftest import case_in, reported
from sizhi.cases.models import Case, CaseEvent
from sizhi.cases.workflow import CaseStatus
from sizhi.conftest import World, make_photo

pytestmark = pytest.mark.django_db
S = CaseStatus


def test_the_whole_life_cycle_over_the_api(world: World, as_user) -> None:
    citizen = as_user("citizen")
    dispatcher = as_user("town_dispatcher")
    cadre = as_user("village_cadre")
    grid_worker = as_user("grid_worker")
    case = reported(world)

    def act(client, action: str, body: dict | None = None, *, form: bool = False) -> dict:
        response = client.post(f"/cases/{case.pk}/{action}", body, form=form)
        assert response.status_code == 200, response.content
        return response.json()

    assert act(dispatcher, "accept", {"reason": "情况属实"})["case"]["status"] == "accepted"
    assert act(dispatcher, "register", {"category": world.category.pk})["case"]["status"] == "registered"
    body = act(dispatcher, "dispatch", {"unit": world.village_a1_committee.pk, "reason": "请尽快处置"})
    assert body["case"]["status"] == "dispatched"
    assert body["case"]["assigned_unit"]["id"] == world.village_a1_committee.pk
    assert act(cadre, "sign-for")["case"]["status"] == "handling"
    body = act(cadre, "handle", {"result": "已补装井盖", "photos": [make_photo()]}, form=True)
    assert body["case"]["status"] == "verifying"
    assert len(body["event"]["photos"]) == 1
    assert act(grid_worker, "verify", {"passed": True})["case"]["status"] == "verified"
    assert act(dispatcher, "close", {"reason": "已办结"})["case"]["status"] == "closed"
    body = act(citizen, "rate", {"satisfaction": "unsatisfied", "comment": "井盖又松了"})
    assert body["case"]["satisfaction"] == "unsatisfied"
    assert body["event"]["actor"] is None  # the public view never names staff, nor needs the reporter
    body = act(citizen, "reopen", {"reason": "井盖还是松的"})
    assert body["case"]["status"] == "registered"

    actions = list(CaseEvent.objects.filter(case=case).values_list("action", flat=True))
    assert actions == [
        "submit", "accept", "register", "dispatch", "sign_for", "handle", "verify_pass", "close", "rate", "reopen",
    ]


def test_reject_as_duplicate_by_case_number(world: World, as_user) -> None:
    first = reported(world)
    second = reported(world)
    body = as_user("town_dispatcher").post(
        f"/cases/{second.pk}/reject", {"kind": "duplicate", "reason": "已有相同上报", "duplicate_of": first.number}
    ).json()
    assert body["case"]["status"] == "rejected"
    second.refresh_from_db()
    assert second.duplicate_of_id == first.pk


def test_reject_duplicate_of_a_case_out_of_scope_is_refused_like_a_missing_one(world: World, as_user) -> None:
    hidden = reported(world, grid=world.grid_b1)
    case = reported(world)
    client = as_user("town_dispatcher")
    body = {"kind": "duplicate", "reason": "重复", "duplicate_of": hidden.number}
    response = client.post(f"/cases/{case.pk}/reject", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "duplicate_of_not_found"
    missing = client.post(f"/cases/{case.pk}/reject", {**body, "duplicate_of": "LY000"}).json()
    assert missing["error"]["code"] == response.json()["error"]["code"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "invalid", "reason": "  "}, "reason_required"),
        ({"kind": "duplicate", "reason": "重复"}, "duplicate_of_required"),
        ({"kind": "nonsense", "reason": "x"}, "validation_error"),
        ({"reason": "x"}, "validation_error"),
    ],
)
def test_reject_refusals_carry_the_service_code(world: World, as_user, body: dict, code: str) -> None:
    case = reported(world)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/reject", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert Case.objects.get(pk=case.pk).status == S.REPORTED


def test_reason_required_error_names_the_field(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    response = as_user("village_cadre").post(f"/cases/{case.pk}/return", {"reason": "\u200b \x00"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "reason_required"
    assert set(error["fields"]) == {"reason"}


def test_return_by_the_unit(world: World, as_user) -> None:
    case = case_in(world, S.DISPATCHED)
    body = as_user("village_cadre").post(f"/cases/{case.pk}/return", {"reason": "不属于本社区"}).json()
    assert body["event"]["action"] == "return"
    assert body["case"]["status"] == "registered"


def test_return_that_takes_the_case_out_of_sight_answers_with_null_case(world: World, as_user) -> None:
    from sizhi.accounts.models import Membership, Role, User
    from sizhi.api.tests.conftest import ApiClient, token_for
    from sizhi.cases import services

    # A member of the district department whose own scope is elsewhere sees the case only while
    # it is assigned to the department.
    outsider = User.objects.create_user(username="outsider", password="x-Passw0rd-long")
    Membership.objects.create(user=outsider, role=Role.DEPARTMENT_HANDLER, unit=world.district_a_dept,
                              scope=world.district_b)
    case = case_in(world, S.REGISTERED)
    services.case_dispatch(case=case, actor=world.user("district_dispatcher"), unit=world.district_a_dept)
    from django.test import Client

    client = ApiClient(Client(), token=token_for(outsider))
    assert client.post(f"/cases/{case.pk}/sign-for").status_code == 200
    body = client.post(f"/cases/{case.pk}/return", {"reason": "非本部门职责"}).json()
    assert body["event"]["action"] == "return"
    assert body["case"] is None
    assert client.get(f"/cases/{case.pk}").status_code == 404


def test_register_keeps_the_reported_category_when_none_given(world: World, as_user) -> None:
    case = case_in(world, S.ACCEPTED)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/register", {})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "category_required"


def test_register_with_unknown_category(world: World, as_user) -> None:
    case = case_in(world, S.ACCEPTED)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/register", {"category": 987654})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "category_not_found"


def test_dispatch_to_an_unknown_unit(world: World, as_user) -> None:
    case = case_in(world, S.REGISTERED)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/dispatch", {"unit": 987654})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unit_not_found"


def test_dispatch_to_a_unit_out_of_scope(world: World, as_user) -> None:
    case = case_in(world, S.REGISTERED)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/dispatch", {"unit": world.town_b_centre.pk})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "dispatch_unit_out_of_scope"
    assert "unit" in error["fields"]


def test_verify_fail_sends_back_to_handling(world: World, as_user) -> None:
    case = case_in(world, S.VERIFYING)
    client = as_user("grid_worker")
    assert client.post(f"/cases/{case.pk}/verify", {"passed": False}).json()["error"]["code"] == "reason_required"
    body = client.post(f"/cases/{case.pk}/verify", {"passed": False, "reason": "井盖未固定"}).json()
    assert body["case"]["status"] == "handling"
    assert body["event"]["action"] == "verify_fail"


def test_handler_may_not_verify_own_work(world: World, as_user) -> None:
    case = case_in(world, S.VERIFYING)
    response = as_user("village_cadre").post(f"/cases/{case.pk}/verify", {"passed": True})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "case_permission_denied"


def test_handle_refuses_a_bad_photo_and_changes_nothing(world: World, as_user) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = case_in(world, S.HANDLING)
    html = SimpleUploadedFile("x.jpg", b"<html><script>alert(1)</script></html>", content_type="image/jpeg")
    response = as_user("village_cadre").post(
        f"/cases/{case.pk}/handle", {"result": "已处理", "photos": [html]}, form=True
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "photo_unreadable"
    assert Case.objects.get(pk=case.pk).status == S.HANDLING


# --- status and permission refusals --------------------------------------------------------------

def body_for(world: World, action: str) -> dict | None:
    body = ACTIONS[action]
    if body is not None and body.get("unit") == "UNIT":
        return {**body, "unit": world.village_a1_committee.pk}
    return body


ACTIONS = {
    "accept": {},
    "reject": {"kind": "invalid", "reason": "无效"},
    "register": {},
    "dispatch": {"unit": "UNIT"},  # replaced by a real unit id: ids differ between databases
    "sign-for": None,
    "return": {"reason": "退回"},
    "verify": {"passed": True},
    "close": {},
    "rate": {"satisfaction": "satisfied"},
    "reopen": {"reason": "没解决"},
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_action_from_the_wrong_status_is_409(world: World, as_user, action: str) -> None:
    # A rejected case allows no further action at all.
    case = reported(world)
    from sizhi.cases import services

    services.case_reject(case=case, actor=world.user("town_dispatcher"), kind="invalid", reason="无效信息")
    client = as_user("town_dispatcher") if action not in {"rate", "reopen"} else as_user("citizen")
    response = client.post(f"/cases/{case.pk}/{action}", body_for(world, action))
    assert response.status_code == 409, response.content
    code = response.json()["error"]["code"]
    assert code.startswith("case_") and code.endswith("_not_allowed")


def test_handle_from_the_wrong_status_is_409(world: World, as_user) -> None:
    case = reported(world)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/handle", {"result": "x"}, form=True)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "case_handle_not_allowed"


def test_action_without_the_role_is_403(world: World, as_user) -> None:
    case = reported(world)
    response = as_user("grid_worker").post(f"/cases/{case.pk}/accept", {})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "case_permission_denied"
    assert Case.objects.get(pk=case.pk).status == S.REPORTED


def test_leader_reads_but_cannot_act(world: World, as_user) -> None:
    case = reported(world)
    client = as_user("leader")
    assert client.get(f"/cases/{case.pk}").status_code == 200
    assert client.post(f"/cases/{case.pk}/accept", {}).status_code == 403


def test_reporter_cannot_take_staff_actions(world: World, as_user) -> None:
    case = reported(world)
    response = as_user("citizen").post(f"/cases/{case.pk}/accept", {})
    assert response.status_code == 403


def test_only_the_reporter_rates(world: World, as_user) -> None:
    case = case_in(world, S.CLOSED)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/rate", {"satisfaction": "satisfied"})
    assert response.status_code == 403


def test_reopen_needs_an_unsatisfied_rating_in_time(world: World, as_user) -> None:
    case = case_in(world, S.CLOSED)
    client = as_user("citizen")
    client.post(f"/cases/{case.pk}/rate", {"satisfaction": "satisfied"})
    response = client.post(f"/cases/{case.pk}/reopen", {"reason": "再看看"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "case_reopen_not_allowed"


def test_reopen_too_late(world: World, as_user) -> None:
    case = case_in(world, S.CLOSED)
    client = as_user("citizen")
    client.post(f"/cases/{case.pk}/rate", {"satisfaction": "unsatisfied"})
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - timedelta(days=30))
    assert client.post(f"/cases/{case.pk}/reopen", {"reason": "没解决"}).status_code == 400


@pytest.mark.parametrize("action", list(ACTIONS))
def test_action_out_of_scope_is_404(world: World, as_user, action: str) -> None:
    case = reported(world)
    response = as_user("town_dispatcher_b").post(f"/cases/{case.pk}/{action}", body_for(world, action))
    assert response.status_code == 404
    assert Case.objects.get(pk=case.pk).status == S.REPORTED


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ["system_admin", "security_admin", "audit_admin"])
def test_action_by_an_administrator_is_403(world: World, as_user, action: str, role: str) -> None:
    case = reported(world)
    response = as_user(role).post(f"/cases/{case.pk}/{action}", body_for(world, action))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_action_needs_authentication(world: World, as_user) -> None:
    case = reported(world)
    assert as_user(None).post(f"/cases/{case.pk}/accept", {}).status_code == 401


def test_stale_version_loses_with_409(world: World, as_user, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two dispatchers at the same instant: the conditional update lets one win; the loser is a
    409 case_conflict. Simulated by another actor moving the row between the read and the update."""
    from django.db.models import F

    from sizhi.api.endpoints import cases as endpoints

    case = reported(world)
    read = endpoints.case_or_404

    def read_then_someone_else_acts(user, case_id):  # type: ignore[no-untyped-def]
        found = read(user, case_id)
        Case.objects.filter(pk=found.pk).update(version=F("version") + 1)
        return found

    monkeypatch.setattr(endpoints, "case_or_404", read_then_someone_else_acts)
    response = as_user("town_dispatcher").post(f"/cases/{case.pk}/accept", {})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "case_conflict"
    assert Case.objects.get(pk=case.pk).status == S.REPORTED
